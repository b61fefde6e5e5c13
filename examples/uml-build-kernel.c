/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uml-build-kernel - build a User Mode Linux kernel from a source tree or
 * tarball with a preset and config fragments; prints the kernel's path.
 */
#include <errno.h>
#include <inttypes.h>
#include <popt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "tool.h"

int main(int argc, const char **argv)
{
	char *source = NULL, *build_dir = NULL, *cache_dir = NULL, *preset = NULL;
	char *fragment = NULL, *set = NULL;
	int jobs = 0, quiet = 0, allow_dropped = 0, strict = 0, show_preset = 0, rc;
	struct uml_kernel_build *kb = NULL;
	struct uml_ctx *ctx = NULL;
	struct bar bar = { 0 };
	enum { OPT_FRAGMENT = 1, OPT_SET };
	struct poptOption options[] = {
		{ "source", 's', POPT_ARG_STRING, &source, 0,
		  "Linux source tree or tarball (default /usr/src/linux-source-6.12.tar.xz)", "PATH" },
		{ "build-dir", 'o', POPT_ARG_STRING, &build_dir, 0,
		  "out-of-tree build directory (default: below the cache dir)", "DIR" },
		{ "cache-dir", 0, POPT_ARG_STRING, &cache_dir, 0,
		  "where tarballs are unpacked (default ~/.cache/libuml)", "DIR" },
		{ "preset", 'p', POPT_ARG_STRING, &preset, 0,
		  "base configuration: defconfig, tinyconfig or fast (default fast)", "NAME" },
		{ "fragment", 'f', POPT_ARG_STRING, &fragment, OPT_FRAGMENT,
		  "config fragment file, applied in order (repeatable)", "FILE" },
		{ "set", 0, POPT_ARG_STRING, &set, OPT_SET,
		  "one option, e.g. CONFIG_KUNIT=y (repeatable)", "CONFIG_X=V" },
		{ "jobs", 'j', POPT_ARG_INT, &jobs, 0, "parallel make jobs (default: CPUs)", "N" },
		{ "allow-dropped", 0, POPT_ARG_NONE, &allow_dropped, 0,
		  "build even when requested options did not make it into .config", NULL },
		{ "strict", 0, POPT_ARG_NONE, &strict, 0,
		  "fail when fragments set one option to different values", NULL },
		{ "show-preset", 0, POPT_ARG_NONE, &show_preset, 0,
		  "print the preset's config fragment and exit", NULL },
		{ "quiet", 'q', POPT_ARG_NONE, &quiet, 0, "no progress bar", NULL },
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	poptContext pc = poptGetContext("uml-build-kernel", argc, argv, options, 0);
	char **fragments = NULL, **sets = NULL;
	size_t n_fragments = 0, n_sets = 0;

	while ((rc = poptGetNextOpt(pc)) > 0) {
		char ***list = rc == OPT_FRAGMENT ? &fragments : &sets;
		size_t *n = rc == OPT_FRAGMENT ? &n_fragments : &n_sets;
		char *val = rc == OPT_FRAGMENT ? fragment : set;
		char **grown = realloc(*list, (*n + 1) * sizeof(**list));

		if (!grown) {
			free(val);
			rc = EXIT_FAIL;
			goto out;
		}
		*list = grown;
		(*list)[(*n)++] = val;
	}
	if (rc < -1) {
		usage_bad_option(pc, rc);
		rc = EXIT_USAGE;
		goto out;
	}
	if (poptPeekArg(pc)) {
		usage_error(pc, "unexpected argument");
		rc = EXIT_USAGE;
		goto out;
	}
	if (jobs < 0) {
		usage_error(pc, "--jobs must not be negative");
		rc = EXIT_USAGE;
		goto out;
	}
	if (show_preset) {
		const char *text = uml_kernel_build_get_preset_text(preset ? preset : "fast");

		if (!text) {
			fprintf(stderr, "uml-build-kernel: '%s' is not a shipped preset fragment\n",
				preset ? preset : "fast");
			rc = EXIT_USAGE;
			goto out;
		}
		fputs(text, stdout);
		rc = 0;
		goto out;
	}

	rc = EXIT_FAIL;
	if (uml_ctx_new(&ctx) < 0 || uml_kernel_build_new(ctx, &kb) < 0)
		goto out;
	if (uml_kernel_build_set_source(kb, source ? source : "/usr/src/linux-source-6.12.tar.xz") < 0 ||
	    (build_dir && uml_kernel_build_set_build_dir(kb, build_dir) < 0) ||
	    (cache_dir && uml_kernel_build_set_cache_dir(kb, cache_dir) < 0) ||
	    (preset && uml_kernel_build_set_preset(kb, preset) < 0) ||
	    uml_kernel_build_set_jobs(kb, (unsigned)jobs) < 0 ||
	    uml_kernel_build_set_flags(kb, (allow_dropped ? UML_KERNEL_BUILD_ALLOW_DROPPED : 0) |
				       (strict ? UML_KERNEL_BUILD_FAIL_ON_CONFLICT : 0)) < 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < n_fragments; i++)
		if (uml_kernel_build_add_fragment_file(kb, fragments[i]) < 0) {
			rc = EXIT_USAGE;
			goto out;
		}
	for (size_t i = 0; i < n_sets; i++)
		if (uml_kernel_build_add_option(kb, sets[i]) < 0) {
			rc = EXIT_USAGE;
			goto out;
		}

	bar_start(&bar, ctx, quiet);
	rc = uml_kernel_build_run(kb, NULL);
	bar_end(&bar);
	if (rc < 0) {
		/* the library logged the message already */
		if (uml_kernel_build_get_log_path(kb) && rc != -ENOPKG && rc != -ENOENT)
			fprintf(stderr, "uml-build-kernel: build log: %s\n",
				uml_kernel_build_get_log_path(kb));
		rc = EXIT_FAIL;
		goto out;
	}
	if (!quiet && uml_kernel_build_was_up_to_date(kb))
		fprintf(stderr, "uml-build-kernel: up to date\n");
	printf("%s\n", uml_kernel_build_get_kernel_path(kb));
	rc = 0;
out:
	uml_kernel_build_unref(kb);
	uml_ctx_unref(ctx);
	/* popt hands out copies; the last --fragment and --set are in the lists */
	for (size_t i = 0; i < n_fragments; i++)
		free(fragments[i]);
	for (size_t i = 0; i < n_sets; i++)
		free(sets[i]);
	free(fragments);
	free(sets);
	free(source);
	free(build_dir);
	free(cache_dir);
	free(preset);
	poptFreeContext(pc);
	return rc;
}

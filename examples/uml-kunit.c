/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uml-kunit - a drop-in for kunit.py (tools/testing/kunit) on libuml: the
 * same subcommands and option names, results printed the same way, but the
 * tests run sharded across parallel guests, a crash costs one suite, and
 * there are JUnit output and reruns of failed tests.
 *
 * Exit codes: 0 all tests passed (skips allowed); 1 a test failed, crashed
 * or timed out, or no KTAP was found; 2 usage; 3 configuration or build
 * failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <popt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "tool.h"

enum {
	EXIT_CONFIG = 3,
};

/* ---- printing as kunit_printer.py and kunit_parser.py do ---------------------- */

static bool color;

static void stamp(FILE *f)
{
	time_t now = time(NULL);
	struct tm tm;
	char buf[16];

	localtime_r(&now, &tm);
	strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	fprintf(f, "[%s] ", buf);
}

static const char *red(void) { return color ? "\033[1;31m" : ""; }
static const char *yellow(void) { return color ? "\033[1;33m" : ""; }
static const char *green(void) { return color ? "\033[1;32m" : ""; }
static const char *reset(void) { return color ? "\033[0;0m" : ""; }

/* format_test_divider(): message centred in 60 columns of '='. */
static void divider(const char *msg, size_t visible_len)
{
	size_t l1 = 3, l2 = 3;
	long diff = 60 - (long)visible_len - 2;

	if (diff > 0) {
		l1 = (size_t)diff / 2;
		l2 = (size_t)diff - l1;
	}
	stamp(stdout);
	printf("%.*s %s %.*s\n", (int)l1, "==============================", msg, (int)l2,
	       "==============================");
}

static size_t utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* print_log(): the lines dedented as textwrap.dedent() does, in yellow. */
static void print_log(const struct uml_ktap_test *t)
{
	size_t n = uml_ktap_test_get_n_log(t), margin = 0;
	const char *first = NULL;

	for (size_t i = 0; i < n; i++) {
		const char *l = uml_ktap_test_get_log(t, i);
		size_t ws = strspn(l, " \t"), j = 0;

		if (!l[ws])
			continue;
		if (!first) {
			first = l;
			margin = ws;
			continue;
		}
		while (j < margin && j < ws && l[j] == first[j])
			j++;
		margin = j;
	}
	for (size_t i = 0; i < n; i++) {
		const char *l = uml_ktap_test_get_log(t, i);
		bool blank = !l[strspn(l, " \t")];

		/* '\n'.join() then splitlines(): a blank last line vanishes */
		if (blank && i + 1 == n)
			break;
		stamp(stdout);
		printf("%s%s%s\n", yellow(), blank ? "" : l + margin, reset());
	}
}

static const char *result_word(enum uml_ktap_status s, const char **col)
{
	switch (s) {
	case UML_KTAP_PASS:
		*col = green();
		return "[PASSED] ";
	case UML_KTAP_SKIP:
		*col = yellow();
		return "[SKIPPED] ";
	case UML_KTAP_NO_TESTS:
		*col = yellow();
		return "[NO TESTS RUN] ";
	case UML_KTAP_CRASHED:
		*col = red();
		return "[CRASHED] ";
	default:
		*col = red();
		return "[FAILED] ";
	}
}

/* print_test_result() */
static void print_result(const struct uml_ktap_test *t)
{
	enum uml_ktap_status s = uml_ktap_test_get_status(t);
	const char *col, *word = result_word(s, &col);
	const char *reason = uml_ktap_test_get_reason(t);

	if (s == UML_KTAP_FAIL || s == UML_KTAP_CRASHED)
		print_log(t);
	stamp(stdout);
	printf("%s%s%s%s", col, word, reset(), uml_ktap_test_get_name(t));
	if (reason)
		printf(" (%s)", reason);
	printf("\n");
}

/* print_test_header() */
static void print_header(const struct uml_ktap_test *t)
{
	const char *name = uml_ktap_test_get_name(t);
	int64_t n = uml_ktap_test_get_expected(t);
	char msg[1024];

	if (n > 0)
		snprintf(msg, sizeof(msg), "%s%s(%" PRId64 " subtest%s)", name, *name ? " " : "", n,
			 n == 1 ? "" : "s");
	else
		snprintf(msg, sizeof(msg), "%s%s", name, *name ? " " : "");
	divider(msg, utf8_len(msg));
}

/* print_test_footer() */
static void print_footer(const struct uml_ktap_test *t)
{
	enum uml_ktap_status s = uml_ktap_test_get_status(t);
	const char *col, *word = result_word(s, &col);
	char msg[1024];

	if (s == UML_KTAP_FAIL || s == UML_KTAP_CRASHED)
		print_log(t);
	snprintf(msg, sizeof(msg), "%s%s%s%s", col, word, reset(), uml_ktap_test_get_name(t));
	divider(msg, utf8_len(msg) - strlen(col) - strlen(reset()));
}

/* A finished test and everything below it; suites always with their header. */
static void print_tree(const struct uml_ktap_test *t, bool suite)
{
	size_t n = uml_ktap_test_get_n_subtests(t);

	if (!suite && !n && uml_ktap_test_get_status(t) != UML_KTAP_NO_TESTS) {
		print_result(t);
		return;
	}
	print_header(t);
	for (size_t i = 0; i < n; i++)
		print_tree(uml_ktap_test_get_subtest(t, i), false);
	print_footer(t);
}

/* print_summary_line() and, for long failing runs, the failures. */
static void print_summary(const struct uml_ktap_test *root)
{
	static const char *const names[] = { "passed", "failed", "crashed", "skipped", "errors" };
	enum uml_ktap_status s = uml_ktap_test_get_status(root);
	const char *col = s == UML_KTAP_PASS ? green() :
			  s == UML_KTAP_SKIP || s == UML_KTAP_NO_TESTS ? yellow() : red();
	uint64_t total = 0;
	const char *sep = "";

	for (int c = 0; c < 4; c++)
		total += uml_ktap_test_get_count(root, (enum uml_ktap_count)c);
	stamp(stdout);
	printf("%sTesting complete. Ran %" PRIu64 " tests: ", col, total);
	for (int c = 0; c < 5; c++) {
		uint64_t v = uml_ktap_test_get_count(root, (enum uml_ktap_count)c);

		if (v) {
			printf("%s%s: %" PRIu64, sep, names[c], v);
			sep = ", ";
		}
	}
	printf("%s\n", reset());
}

/* ---- parse -------------------------------------------------------------------- */

struct parse_view {
	int raw;				/* 0, 1 = kunit, 2 = all */
	const struct uml_ktap_test *open[64];	/* tests whose header was printed */
	unsigned n_open;
};

static void on_ktap(void *userdata, const struct uml_ktap_event *ev)
{
	struct parse_view *v = userdata;

	if (v->raw) {
		if (v->raw == 1 && ev->type == UML_KTAP_EVENT_LINE)
			printf("%s\n", ev->text);
		return;
	}
	switch (ev->type) {
	case UML_KTAP_EVENT_SUITE_START:
		print_header(ev->test);
		if (v->n_open < 64)
			v->open[v->n_open++] = ev->test;
		break;
	case UML_KTAP_EVENT_TEST_END:
		if (v->n_open && v->open[v->n_open - 1] == ev->test) {
			v->n_open--;
			print_footer(ev->test);
		} else {
			print_result(ev->test);
		}
		break;
	case UML_KTAP_EVENT_ERROR:
		/* parse_test() prints the log of a test without subtests before this error */
		if (strcmp(ev->text, "0 tests run!") == 0)
			print_log(ev->test);
		stamp(stdout);
		printf("%s[ERROR]%s Test: %s: %s\n", red(), reset(),
		       uml_ktap_test_get_name(ev->test), ev->text);
		break;
	default:
		break;
	}
}

/* Writes text to path ("stdout": standard output) through a temporary file. */
static int write_out(const char *path, const char *text)
{
	char *tmp;
	FILE *f;
	int ok;

	if (strcmp(path, "stdout") == 0) {
		fputs(text, stdout);
		putchar('\n');
		return 0;
	}
	if (asprintf(&tmp, "%s.tmp-%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "uml-kunit: cannot write '%s': %m\n", path);
		free(tmp);
		return -errno;
	}
	ok = fputs(text, f) >= 0;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, path) < 0) {
		fprintf(stderr, "uml-kunit: cannot write '%s': %m\n", path);
		unlink(tmp);
		free(tmp);
		return -EIO;
	}
	free(tmp);
	return 0;
}

/* --json and --junit of a finished tree; -1 when a file could not be written. */
static int write_reports(struct uml_ktap *ktap, const char *json, const char *junit,
			 const char *arch, const char *defconfig, const char *build_dir)
{
	char *text = NULL, *abs;
	int r = 0;

	if (json) {
		if (uml_ktap_get_json(ktap, arch, defconfig, build_dir, &text) < 0 ||
		    write_out(json, text) < 0)
			r = -1;
		else if (strcmp(json, "stdout") != 0 && (abs = realpath(json, NULL))) {
			stamp(stdout);
			printf("Test results stored in %s\n", abs);
			free(abs);
		}
		free(text);
	}
	if (junit) {
		text = NULL;
		if (uml_ktap_get_junit(ktap, NULL, &text) < 0 || write_out(junit, text) < 0)
			r = -1;
		free(text);
	}
	return r;
}

static bool passed(enum uml_ktap_status s)
{
	return s == UML_KTAP_PASS || s == UML_KTAP_SKIP;
}

static int cmd_parse(const char *file, int raw, const char *json, const char *junit)
{
	struct parse_view view = { .raw = raw };
	struct uml_ctx *ctx = NULL;
	struct uml_ktap *ktap = NULL;
	char buf[65536];
	ssize_t n;
	int fd = 0, rc = EXIT_FAIL;

	if (file && (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "uml-kunit: cannot read '%s': %m\n", file);
		return EXIT_USAGE;
	}
	if (uml_ctx_new(&ctx) < 0 || uml_ktap_new(ctx, &ktap) < 0)
		goto out;
	uml_ktap_set_event_fn(ktap, on_ktap, &view);
	if (!raw) {
		stamp(stdout);
		printf("============================================================\n");
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "uml-kunit: cannot read '%s': %m\n", file ? file : "stdin");
			goto out;
		}
		if (raw == 2)
			fwrite(buf, 1, (size_t)n, stdout);
		if (uml_ktap_feed(ktap, buf, (size_t)n) < 0)
			goto out;
	}
	if (uml_ktap_finish(ktap) < 0)
		goto out;
	if (raw) {
		/* kunit.py reports unparsed output as one passing test */
		rc = 0;
		goto out;
	}
	stamp(stdout);
	printf("============================================================\n");
	print_summary(uml_ktap_get_root(ktap));
	rc = passed(uml_ktap_get_status(ktap)) ? 0 : EXIT_FAIL;
	if (write_reports(ktap, json, junit, NULL, NULL, NULL) < 0)
		rc = EXIT_FAIL;
out:
	if (fd > 0)
		close(fd);
	uml_ktap_unref(ktap);
	uml_ctx_unref(ctx);
	fflush(stdout);
	return rc;
}

/* ---- config, build, exec, run, list ------------------------------------------------ */

struct opts {
	char *raw_output;
	char *json;
	char *junit;
	char *build_dir;
	char *source;
	char *cache_dir;
	char *arch;
	char *filter;
	char *filter_action;
	char *run_isolated;
	char *rerun_failed;
	char *str;			/* the value of a repeatable option */
	int alltests;
	int jobs;
	int timeout;
	double shard_timeout;
	int parallel;
	int list_tests;
	int list_tests_attr;
	int quiet;
	struct { char **v; size_t n; } kunitconfig, kconfig_add, kernel_args, make_options;
};

enum { OPT_KUNITCONFIG = 1, OPT_KCONFIG_ADD, OPT_KERNEL_ARGS, OPT_MAKE_OPTIONS, OPT_UNSUPPORTED };

static int push(char ***v, size_t *n, char *s)
{
	char **g = realloc(*v, (*n + 1) * sizeof(**v));

	if (!g) {
		free(s);
		return -ENOMEM;
	}
	*v = g;
	g[(*n)++] = s;
	return 0;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static double secs_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static bool is_tree(const char *dir)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/arch/um/Kconfig", dir);
	return access(p, F_OK) == 0;
}

/* The runner with the build options of the command line. */
static int setup(struct uml_kunit *k, struct opts *o)
{
	const char *source = o->source;
	char cwd[4096];

	/* kunit.py runs in the tree it belongs to; uml-kunit in the one it is started in */
	if (!source && getcwd(cwd, sizeof(cwd)) && is_tree(cwd))
		source = cwd;
	if ((source && uml_kunit_set_source(k, source) < 0) ||
	    (o->cache_dir && uml_kunit_set_cache_dir(k, o->cache_dir) < 0) ||
	    uml_kunit_set_jobs(k, (unsigned)o->jobs) < 0 ||
	    uml_kunit_set_flags(k, o->alltests ? UML_KUNIT_ALLTESTS : 0) < 0)
		return EXIT_USAGE;
	if (o->build_dir) {
		if (uml_kunit_set_build_dir(k, o->build_dir) < 0)
			return EXIT_USAGE;
	} else if (source && is_tree(source)) {
		char *dir;
		int r = asprintf(&dir, "%s/.kunit", source) < 0 ? -ENOMEM : uml_kunit_set_build_dir(k, dir);

		if (r != -ENOMEM)
			free(dir);
		if (r < 0)
			return EXIT_USAGE;
	}
	for (size_t i = 0; i < o->kunitconfig.n; i++)
		if (uml_kunit_add_kunitconfig(k, o->kunitconfig.v[i]) < 0)
			return EXIT_USAGE;
	for (size_t i = 0; i < o->kconfig_add.n; i++)
		if (uml_kunit_add_kconfig(k, o->kconfig_add.v[i]) < 0)
			return EXIT_USAGE;
	return 0;
}

/* Options of exec and run. */
static int setup_exec(struct uml_kunit *k, struct opts *o, const char *glob, struct uml_ctx *ctx)
{
	char *arg;

	if ((glob && *glob && uml_kunit_set_filter_glob(k, glob) < 0) ||
	    (o->filter && *o->filter && uml_kunit_set_filter(k, o->filter) < 0) ||
	    uml_kunit_set_timeout(k, (int64_t)o->timeout * 1000) < 0 ||
	    uml_kunit_set_shard_timeout(k, (int64_t)(o->shard_timeout * 1000)) < 0 ||
	    uml_kunit_set_parallel(k, (unsigned)o->parallel) < 0)
		return EXIT_USAGE;
	if (o->filter_action) {
		if (strcmp(o->filter_action, "skip") != 0) {
			fprintf(stderr, "uml-kunit: --filter_action takes 'skip'\n");
			return EXIT_USAGE;
		}
		if (uml_kunit_add_kernel_arg(k, "kunit.filter_action=skip") < 0)
			return EXIT_USAGE;
	}
	for (size_t i = 0; i < o->kernel_args.n; i++) {
		/* kunit.py passes each --kernel_args word on */
		char *copy = strdup(o->kernel_args.v[i]), *save = NULL;

		for (arg = strtok_r(copy, " \t", &save); arg; arg = strtok_r(NULL, " \t", &save))
			if (uml_kunit_add_kernel_arg(k, arg) < 0) {
				free(copy);
				return EXIT_USAGE;
			}
		free(copy);
	}
	if (o->rerun_failed) {
		struct uml_ktap *prev = NULL;
		char *text = NULL;
		size_t len = 0;
		FILE *f = fopen(o->rerun_failed, "r");
		int r = -1;

		if (!f) {
			fprintf(stderr, "uml-kunit: cannot read '%s': %m\n", o->rerun_failed);
			return EXIT_USAGE;
		}
		if (getdelim(&text, &len, '\0', f) >= 0 && uml_ktap_new(ctx, &prev) == 0)
			r = uml_ktap_load_json(prev, text);
		fclose(f);
		free(text);
		if (r < 0) {
			fprintf(stderr, "uml-kunit: %s: %s\n", o->rerun_failed,
				prev && uml_ktap_last_error(prev) ? uml_ktap_last_error(prev) :
				"not a results file");
			uml_ktap_unref(prev);
			return EXIT_USAGE;
		}
		uml_kunit_set_rerun(k, prev);
		uml_ktap_unref(prev);
	}
	return 0;
}

/* The kernel exec runs: BUILD_DIR/linux, as kunit.py exec does. */
static int find_kernel(struct uml_kunit *k, struct uml_ctx *ctx, struct opts *o)
{
	struct uml_kernel *kernel = NULL;
	char path[4096];
	const char *dir = NULL;

	if (o->build_dir && !o->kunitconfig.n && !o->kconfig_add.n && !o->alltests)
		dir = o->build_dir;
	else if (uml_kunit_config(k) == 0)
		dir = uml_kunit_get_build_dir(k);
	else if (o->build_dir)
		dir = o->build_dir;
	if (!dir) {
		fprintf(stderr, "uml-kunit: no build dir to run a kernel from (%s)\n",
			uml_kunit_last_error(k) ? uml_kunit_last_error(k) : "run 'uml-kunit build'");
		return EXIT_CONFIG;
	}
	snprintf(path, sizeof(path), "%s/linux", dir);
	if (uml_kernel_new_from_path(ctx, path, &kernel) < 0) {
		fprintf(stderr, "uml-kunit: no kernel in '%s' (run 'uml-kunit build' first): %s\n", dir,
			uml_ctx_last_error(ctx));
		return EXIT_CONFIG;
	}
	uml_kunit_set_kernel(k, kernel);
	uml_kernel_unref(kernel);
	return 0;
}

static int print_list(struct uml_kunit *k, bool attrs)
{
	const char *const *tests;
	size_t n;

	if (uml_kunit_list(k, &tests, &n) < 0)
		return EXIT_FAIL;
	if (attrs) {
		/* the raw listing of the guest, as kunit.py --list_tests_attr prints it */
		fprintf(stderr, "uml-kunit: --list_tests_attr prints the names only\n");
	}
	for (size_t i = 0; i < n; i++)
		printf("%s\n", tests[i]);
	return 0;
}

static void print_raw(struct uml_kunit *k, int raw)
{
	for (size_t i = 0; i < uml_kunit_get_n_shards(k); i++) {
		size_t len;
		const char *out = uml_kunit_get_shard_output(k, i, &len);

		if (raw == 2) {
			fwrite(out, 1, len, stdout);
			continue;
		}
		/* the KTAP lines: what the parser extracts */
		struct uml_ctx *ctx = NULL;
		struct uml_ktap *t = NULL;
		struct parse_view v = { .raw = 1 };

		if (uml_ctx_new(&ctx) == 0 && uml_ktap_new(ctx, &t) == 0) {
			uml_ktap_set_event_fn(t, on_ktap, &v);
			uml_ktap_feed(t, out, len);
			uml_ktap_finish(t);
		}
		uml_ktap_unref(t);
		uml_ctx_unref(ctx);
	}
}

static int exec_tests(struct uml_kunit *k, struct opts *o, int raw, const char *build_dir,
		      double *elapsed)
{
	struct timespec t0;
	struct uml_ktap *res;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	stamp(stdout);
	printf("Starting KUnit Kernels (%d at once)...\n", o->parallel ? o->parallel :
	       (int)sysconf(_SC_NPROCESSORS_ONLN));
	fflush(stdout);
	r = uml_kunit_run(k);
	*elapsed = secs_since(&t0);
	/* a kernel that printed no KTAP (no list) is a failed run; no kernel is a setup error */
	if (r < 0)
		return r == -ECANCELED || r == -EIO ? EXIT_FAIL : EXIT_CONFIG;
	if (raw) {
		print_raw(k, raw);
		return 0;
	}
	res = uml_kunit_get_result(k);
	stamp(stdout);
	printf("============================================================\n");
	for (size_t i = 0; i < uml_ktap_test_get_n_subtests(uml_ktap_get_root(res)); i++)
		print_tree(uml_ktap_test_get_subtest(uml_ktap_get_root(res), i), true);
	stamp(stdout);
	printf("============================================================\n");
	print_summary(uml_ktap_get_root(res));
	r = passed(uml_ktap_get_status(res)) ? 0 : EXIT_FAIL;
	if (write_reports(res, o->json, o->junit, "um", "kunit_defconfig", build_dir) < 0)
		r = EXIT_FAIL;
	return r;
}

static int cmd_kernel(const char *sub, struct opts *o, const char *glob, int raw)
{
	bool do_config = strcmp(sub, "run") == 0 || strcmp(sub, "config") == 0 ||
			 strcmp(sub, "build") == 0;
	bool do_build = strcmp(sub, "run") == 0 || strcmp(sub, "build") == 0;
	bool do_exec = strcmp(sub, "run") == 0 || strcmp(sub, "exec") == 0 ||
		       strcmp(sub, "list") == 0;
	struct uml_ctx *ctx = NULL;
	struct uml_kunit *k = NULL;
	struct bar bar = { 0 };
	struct timespec t0;
	double t_config = 0, t_build = 0, t_exec = 0;
	int rc = EXIT_FAIL, r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (uml_ctx_new(&ctx) < 0 || uml_kunit_new(ctx, &k) < 0)
		goto out;
	rc = setup(k, o);
	if (rc)
		goto out;
	if (do_exec && (rc = setup_exec(k, o, glob, ctx)))
		goto out;
	bar_start(&bar, ctx, o->quiet);
	if (do_config) {
		/* build configures too: one up-to-date check, not two */
		stamp(stdout);
		printf("Configuring KUnit Kernel ...\n");
		fflush(stdout);
		r = do_build ? 0 : uml_kunit_config(k);
		t_config = secs_since(&t0);
		bar_end(&bar);
		if (r < 0) {
			rc = EXIT_CONFIG;
			goto out;
		}
	}
	if (do_build) {
		stamp(stdout);
		printf("Building KUnit Kernel ...\n");
		fflush(stdout);
		r = uml_kunit_build(k);
		t_build = secs_since(&t0) - t_config;
		bar_end(&bar);
		if (r < 0) {
			rc = EXIT_CONFIG;
			goto out;
		}
	} else if (do_exec && (rc = find_kernel(k, ctx, o))) {
		goto out;
	}
	if (strcmp(sub, "list") == 0 || o->list_tests || o->list_tests_attr) {
		rc = print_list(k, o->list_tests_attr);
		goto out;
	}
	rc = 0;
	if (do_exec)
		rc = exec_tests(k, o, raw, uml_kunit_get_build_dir(k) ? uml_kunit_get_build_dir(k) :
				o->build_dir, &t_exec);
	bar_end(&bar);
	stamp(stdout);
	if (strcmp(sub, "run") == 0)
		printf("Elapsed time: %.3fs total, %.3fs configuring, %.3fs building, %.3fs running\n\n",
		       secs_since(&t0), t_config, t_build, t_exec);
	else
		printf("Elapsed time: %.3fs\n\n", secs_since(&t0));
out:
	bar_end(&bar);
	fflush(stdout);
	uml_kunit_unref(k);
	uml_ctx_unref(ctx);
	return rc;
}

/* ---- the command line ------------------------------------------------------------ */

/*
 * kunit.py's spellings: "--json" and "--raw_output" alone mean
 * "--json=stdout" and "--raw_output=kunit" (a following word is the
 * positional argument, never their value), and option names may be written
 * with dashes instead of underscores.
 */
static const char **massage_argv(int argc, const char **argv)
{
	const char **out = calloc((size_t)argc + 1, sizeof(*out));

	if (!out)
		return NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			for (; i < argc; i++)
				out[i] = strdup(argv[i]);
			break;
		}
		if (strcmp(a, "--json") == 0)
			a = "--json=stdout";
		else if (strcmp(a, "--raw_output") == 0 || strcmp(a, "--raw-output") == 0)
			a = "--raw_output=kunit";
		out[i] = strdup(a);
		if (out[i] && strncmp(a, "--", 2) == 0)
			for (char *p = (char *)out[i] + 2; *p && *p != '='; p++)
				if (*p == '-')
					*p = '_';
	}
	return out;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: uml-kunit {run|build|config|exec|parse|list} [OPTION...] [ARG]\n"
		   "Try 'uml-kunit SUBCOMMAND --help' for the options of a subcommand.\n");
}

int main(int argc, const char **argv)
{
	struct opts o = { .timeout = 300 };
	const char *sub = argc > 1 ? argv[1] : NULL;
	const char **args = NULL;
	poptContext pc = NULL;
	int rc, raw = 0;
	bool parse, config, build, exec;
	struct poptOption common_opts[] = {
		{ "build_dir", 0, POPT_ARG_STRING, &o.build_dir, 0,
		  "the build directory (default: .kunit in a source tree, else below the cache)", "DIR" },
		{ "kunitconfig", 0, POPT_ARG_STRING, &o.str, OPT_KUNITCONFIG,
		  "a kunitconfig fragment or a directory with a .kunitconfig (repeatable)", "PATH" },
		{ "kconfig_add", 0, POPT_ARG_STRING, &o.str, OPT_KCONFIG_ADD,
		  "one more option, e.g. CONFIG_KASAN=y (repeatable)", "CONFIG_X=Y" },
		{ "alltests", 0, POPT_ARG_NONE, &o.alltests, 0,
		  "all KUnit tests (tools/testing/kunit/configs/all_tests.config)", NULL },
		{ "arch", 0, POPT_ARG_STRING, &o.arch, 0, "um (the only one)", "ARCH" },
		{ "make_options", 0, POPT_ARG_STRING, &o.str, OPT_MAKE_OPTIONS,
		  "X=Y make option (not supported)", "X=Y" },
		{ "cross_compile", 0, POPT_ARG_STRING, &o.str, OPT_UNSUPPORTED, "not supported", "PREFIX" },
		{ "qemu_config", 0, POPT_ARG_STRING, &o.str, OPT_UNSUPPORTED, "not supported", "FILE" },
		{ "qemu_args", 0, POPT_ARG_STRING, &o.str, OPT_UNSUPPORTED, "not supported", "ARGS" },
		{ "source", 0, POPT_ARG_STRING, &o.source, 0,
		  "the Linux source tree or tarball (default: the current directory if it is a tree, "
		  "else /usr/src/linux-source-6.12.tar.xz)", "TARBALL|TREE" },
		{ "cache_dir", 0, POPT_ARG_STRING, &o.cache_dir, 0,
		  "where tarballs are unpacked and test lists kept (default ~/.cache/libuml)", "DIR" },
		{ "quiet", 'q', POPT_ARG_NONE, &o.quiet, 0, "no progress bar", NULL },
		POPT_TABLEEND
	};
	struct poptOption build_opts[] = {
		{ "jobs", 'j', POPT_ARG_INT, &o.jobs, 0, "make -j (default: CPUs)", "N" },
		POPT_TABLEEND
	};
	struct poptOption exec_opts[] = {
		{ "timeout", 0, POPT_ARG_INT, &o.timeout, 0,
		  "seconds for the whole run (default 300)", "SECONDS" },
		{ "filter", 0, POPT_ARG_STRING, &o.filter, 0,
		  "filter tests by attributes, e.g. speed>slow", "FILTER" },
		{ "filter_action", 0, POPT_ARG_STRING, &o.filter_action, 0,
		  "skip: filtered tests are skipped, not left out", "skip" },
		{ "kernel_args", 0, POPT_ARG_STRING, &o.str, OPT_KERNEL_ARGS,
		  "kernel arguments (repeatable)", "ARGS" },
		{ "run_isolated", 0, POPT_ARG_STRING, &o.run_isolated, 0,
		  "accepted for kunit.py's sake: crashes are isolated anyway", "suite|test" },
		{ "list_tests", 0, POPT_ARG_NONE, &o.list_tests, 0, "list the tests and exit", NULL },
		{ "list_tests_attr", 0, POPT_ARG_NONE, &o.list_tests_attr, 0,
		  "list the tests and exit", NULL },
		{ "parallel", 0, POPT_ARG_INT, &o.parallel, 0,
		  "guests at once (default: CPUs)", "N" },
		{ "shard_timeout", 0, POPT_ARG_DOUBLE, &o.shard_timeout, 0,
		  "seconds one guest may run; its running test then counts as timed out", "S" },
		{ "rerun_failed", 0, POPT_ARG_STRING, &o.rerun_failed, 0,
		  "run only the tests that failed or crashed in an earlier --json file", "RESULTS.json" },
		POPT_TABLEEND
	};
	struct poptOption parse_opts[] = {
		{ "raw_output", 0, POPT_ARG_STRING, &o.raw_output, 0,
		  "print the output instead of parsing it: kunit (the KTAP lines) or all", "kunit|all" },
		{ "json", 0, POPT_ARG_STRING, &o.json, 0,
		  "write the results as JSON (kunit.py's KernelCI shape) to FILE, or stdout with "
		  "a bare --json", "FILE" },
		{ "junit", 0, POPT_ARG_STRING, &o.junit, 0, "write the results as JUnit XML", "FILE" },
		POPT_TABLEEND
	};
	struct poptOption none[] = { POPT_TABLEEND };
	struct poptOption table[] = {
		{ NULL, 0, POPT_ARG_INCLUDE_TABLE, common_opts, 0, "Configuration:", NULL },
		{ NULL, 0, POPT_ARG_INCLUDE_TABLE, build_opts, 0, "Build:", NULL },
		{ NULL, 0, POPT_ARG_INCLUDE_TABLE, exec_opts, 0, "Running:", NULL },
		{ NULL, 0, POPT_ARG_INCLUDE_TABLE, parse_opts, 0, "Output:", NULL },
		POPT_AUTOHELP
		POPT_TABLEEND
	};

	color = isatty(STDOUT_FILENO);
	if (!sub || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		usage(sub ? stdout : stderr);
		return sub ? 0 : EXIT_USAGE;
	}
	parse = strcmp(sub, "parse") == 0;
	config = strcmp(sub, "config") == 0;
	build = strcmp(sub, "build") == 0;
	exec = strcmp(sub, "exec") == 0 || strcmp(sub, "run") == 0 || strcmp(sub, "list") == 0;
	if (!parse && !config && !build && !exec) {
		fprintf(stderr, "uml-kunit: unknown subcommand '%s'\n", sub);
		usage(stderr);
		return EXIT_USAGE;
	}
	/* each subcommand takes kunit.py's option groups for it */
	table[0].arg = parse ? none : common_opts;
	table[1].arg = build || strcmp(sub, "run") == 0 ? build_opts : none;
	table[2].arg = exec ? exec_opts : none;
	table[3].arg = parse || (exec && strcmp(sub, "list") != 0) ? parse_opts : none;
	args = massage_argv(argc - 1, argv + 1);
	if (!args)
		return EXIT_FAIL;
	{
		char name[64];

		snprintf(name, sizeof(name), "uml-kunit %s", sub);
		pc = poptGetContext(name, argc - 1, args, table, 0);
	}
	poptSetOtherOptionHelp(pc, parse ? "[OPTION...] [input_file]" :
				   exec ? "[OPTION...] [filter_glob]" : "[OPTION...]");
	while ((rc = poptGetNextOpt(pc)) > 0) {
		char *v = o.str;

		o.str = NULL;
		switch (rc) {
		case OPT_KUNITCONFIG:
			rc = push(&o.kunitconfig.v, &o.kunitconfig.n, v);
			break;
		case OPT_KCONFIG_ADD:
			rc = push(&o.kconfig_add.v, &o.kconfig_add.n, v);
			break;
		case OPT_KERNEL_ARGS:
			rc = push(&o.kernel_args.v, &o.kernel_args.n, v);
			break;
		case OPT_MAKE_OPTIONS:
			rc = push(&o.make_options.v, &o.make_options.n, v);
			break;
		default:
			free(v);
			usage_error(pc, "uml-kunit runs UML kernels only: QEMU and cross builds are kunit.py's");
			rc = EXIT_USAGE;
			goto out;
		}
		if (rc < 0) {
			rc = EXIT_FAIL;
			goto out;
		}
	}
	if (rc < -1) {
		usage_bad_option(pc, rc);
		rc = EXIT_USAGE;
		goto out;
	}
	if (o.raw_output) {
		if (strcmp(o.raw_output, "kunit") == 0)
			raw = 1;
		else if (strcmp(o.raw_output, "all") == 0)
			raw = 2;
		else {
			usage_error(pc, "--raw_output takes 'kunit' or 'all'");
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if ((o.arch && strcmp(o.arch, "um") != 0) || o.make_options.n) {
		usage_error(pc, o.make_options.n ? "--make_options is not supported" :
			    "uml-kunit runs UML kernels only (--arch=um)");
		rc = EXIT_USAGE;
		goto out;
	}
	if (o.jobs < 0 || o.timeout < 0 || o.shard_timeout < 0 || o.parallel < 0 ||
	    (o.run_isolated && strcmp(o.run_isolated, "suite") && strcmp(o.run_isolated, "test"))) {
		usage_error(pc, "a negative number, or --run_isolated other than suite or test");
		rc = EXIT_USAGE;
		goto out;
	}
	{
		const char *arg = poptGetArg(pc);

		if (poptPeekArg(pc) || (arg && !parse && !exec)) {
			usage_error(pc, "unexpected argument");
			rc = EXIT_USAGE;
			goto out;
		}
		rc = parse ? cmd_parse(arg, raw, o.json, o.junit) : cmd_kernel(sub, &o, arg, raw);
	}
out:
	poptFreeContext(pc);
	for (int i = 0; args && i < argc - 1; i++)
		free((char *)args[i]);
	free(args);
	free_list(o.kunitconfig.v, o.kunitconfig.n);
	free_list(o.kconfig_add.v, o.kconfig_add.n);
	free_list(o.kernel_args.v, o.kernel_args.n);
	free_list(o.make_options.v, o.make_options.n);
	free(o.raw_output);
	free(o.json);
	free(o.junit);
	free(o.build_dir);
	free(o.source);
	free(o.cache_dir);
	free(o.arch);
	free(o.filter);
	free(o.filter_action);
	free(o.run_isolated);
	free(o.rerun_failed);
	return rc;
}

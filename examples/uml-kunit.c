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

/* A finished suite and everything below it. */
static void print_tree(const struct uml_ktap_test *t)
{
	size_t n = uml_ktap_test_get_n_subtests(t);

	if (!n && uml_ktap_test_get_expected(t) < 0 &&
	    uml_ktap_test_get_status(t) != UML_KTAP_NO_TESTS) {
		print_result(t);
		return;
	}
	print_header(t);
	for (size_t i = 0; i < n; i++)
		print_tree(uml_ktap_test_get_subtest(t, i));
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

/* ---- the command line ------------------------------------------------------------ */

struct opts {
	char *raw_output;
	char *json;
	char *junit;
};

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
	struct opts o = { 0 };
	const char *sub = argc > 1 ? argv[1] : NULL;
	const char **args = NULL;
	poptContext pc = NULL;
	int rc;
	struct poptOption parse_opts[] = {
		{ "raw_output", 0, POPT_ARG_STRING, &o.raw_output, 0,
		  "print the output instead of parsing it: kunit (the KTAP lines) or all", "kunit|all" },
		{ "json", 0, POPT_ARG_STRING, &o.json, 0,
		  "write the results as JSON (kunit.py's KernelCI shape) to FILE, or stdout with "
		  "a bare --json", "FILE" },
		{ "junit", 0, POPT_ARG_STRING, &o.junit, 0, "write the results as JUnit XML", "FILE" },
		POPT_TABLEEND
	};
	struct poptOption parse_table[] = {
		{ NULL, 0, POPT_ARG_INCLUDE_TABLE, parse_opts, 0, "Output:", NULL },
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	int raw = 0;

	color = isatty(STDOUT_FILENO);
	if (!sub || strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		usage(sub ? stdout : stderr);
		return sub ? 0 : EXIT_USAGE;
	}
	args = massage_argv(argc - 1, argv + 1);
	if (!args)
		return EXIT_FAIL;
	if (strcmp(sub, "parse") == 0) {
		pc = poptGetContext("uml-kunit parse", argc - 1, args, parse_table, 0);
		poptSetOtherOptionHelp(pc, "[OPTION...] [input_file]");
	} else {
		fprintf(stderr, "uml-kunit: unknown subcommand '%s'\n", sub);
		usage(stderr);
		rc = EXIT_USAGE;
		goto out;
	}
	while ((rc = poptGetNextOpt(pc)) > 0)
		;
	if (rc < -1) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s: %s", poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			 poptStrerror(rc));
		usage_error(pc, msg);
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
	{
		const char *file = poptGetArg(pc);

		if (poptPeekArg(pc)) {
			usage_error(pc, "more than one input file");
			rc = EXIT_USAGE;
			goto out;
		}
		rc = cmd_parse(file, raw, o.json, o.junit);
	}
out:
	poptFreeContext(pc);
	for (int i = 0; args && i < argc - 1; i++)
		free((char *)args[i]);
	free(args);
	free(o.raw_output);
	free(o.json);
	free(o.junit);
	return rc;
}

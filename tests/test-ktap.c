/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The KTAP parser against kunit.py: every log of tools/testing/kunit/
 * test_data (taken from Debian's linux-source-6.12 tarball at test time)
 * gives the verdicts kunit_tool_test.py asserts, and the same JSON and the
 * same printed results as `kunit.py parse` run on it here.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhelp.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define UML_KUNIT TEST_BUILDDIR "/examples/uml-kunit"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	/* up to the first NUL, or all of it; an empty file leaves buf unterminated */
	if (getdelim(&buf, &n, '\0', f) < 0) {
		ck_assert(feof(f));
		free(buf);
		buf = strdup("");
	}
	*len = strlen(buf);
	fclose(f);
	return buf;
}

static char *data_path(const char *name)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/test_data/%s", th_kunit_tools(), name), 0);
	return p;
}

/* Parses a file fed in chunks of `chunk` bytes (0: all at once). */
static struct uml_ktap *parse_file(struct uml_ctx *ctx, const char *name, size_t chunk)
{
	char *path = data_path(name);
	struct uml_ktap *k;
	size_t len;
	char *text = slurp(path, &len);

	free(path);

	ck_assert_int_eq(uml_ktap_new(ctx, &k), 0);
	for (size_t off = 0; off < len; ) {
		size_t n = chunk && len - off > chunk ? chunk : len - off;

		ck_assert_int_eq(uml_ktap_feed(k, text + off, n), 0);
		off += n;
	}
	ck_assert_int_eq(uml_ktap_finish(k), 0);
	free(text);
	return k;
}

static uint64_t cnt(const struct uml_ktap_test *t, enum uml_ktap_count c)
{
	return uml_ktap_test_get_count(t, c);
}

static const struct uml_ktap_test *sub(const struct uml_ktap_test *t, size_t i)
{
	const struct uml_ktap_test *s = uml_ktap_test_get_subtest(t, i);

	ck_assert_ptr_nonnull(s);
	return s;
}

static bool log_has(const struct uml_ktap_test *t, const char *needle)
{
	for (size_t i = 0; i < uml_ktap_test_get_n_log(t); i++)
		if (strstr(uml_ktap_test_get_log(t, i), needle))
			return true;
	return false;
}

/* What kunit_tool_test.py asserts for each log, chunk sizes 1, 7 and whole. */
START_TEST(kunit_tool_test_verdicts)
{
	struct uml_ctx *ctx;
	static const size_t chunks[] = { 0, 1, 7 };

	if (!th_kunit_tools())
		return;
	ctx = th_ctx();
	for (size_t c = 0; c < 3; c++) {
		size_t ch = chunks[c];
		struct uml_ktap *k;
		const struct uml_ktap_test *r;

#define PARSE(name) (k = parse_file(ctx, name, ch), r = uml_ktap_get_root(k))
		PARSE("test_is_test_passed-all_passed.log");
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_PASS);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_ERRORS), 0);
		uml_ktap_unref(k);

		PARSE("test_is_test_passed-all_passed_nested.log");
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_PASS);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_ERRORS), 0);
		uml_ktap_unref(k);

		PARSE("test_is_test_passed-kselftest.log");
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_PASS);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_ERRORS), 0);
		uml_ktap_unref(k);

		PARSE("test_is_test_passed-failure.log");
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_FAIL);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_ERRORS), 0);
		ck_assert_str_eq(uml_ktap_test_get_name(sub(sub(r, 1), 0)), "example_simple_test");
		ck_assert_int_eq(uml_ktap_test_get_status(sub(sub(r, 1), 0)), UML_KTAP_FAIL);
		uml_ktap_unref(k);

		PARSE("test_is_test_passed-no_tests_run_no_header.log");
		ck_assert_uint_eq(uml_ktap_test_get_n_subtests(r), 0);
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_NO_KTAP);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_ERRORS), 1);
		uml_ktap_unref(k);

		PARSE("test_is_test_passed-missing_plan.log");
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_PASSED), 10);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_FAILED) + cnt(r, UML_KTAP_COUNT_CRASHED) +
				  cnt(r, UML_KTAP_COUNT_SKIPPED) + cnt(r, UML_KTAP_COUNT_ERRORS), 0);
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_PASS);
		uml_ktap_unref(k);

		PARSE("test_is_test_passed-no_tests_run_with_header.log");
		ck_assert_uint_eq(uml_ktap_test_get_n_subtests(r), 0);
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_NO_TESTS);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_ERRORS), 1);
		uml_ktap_unref(k);

		PARSE("test_is_test_passed-no_tests_no_plan.log");
		ck_assert_uint_eq(uml_ktap_test_get_n_subtests(sub(sub(r, 0), 0)), 0);
		ck_assert_int_eq(uml_ktap_test_get_status(sub(sub(r, 0), 0)), UML_KTAP_NO_TESTS);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_PASSED), 1);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_ERRORS), 1);
		uml_ktap_unref(k);

		PARSE("test_insufficient_memory.log");
		ck_assert_uint_eq(uml_ktap_test_get_n_subtests(r), 0);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_ERRORS), 1);
		ck_assert_str_eq(uml_ktap_test_get_name(r), "<missing>");
		uml_ktap_unref(k);

		PARSE("test_skip_tests.log");
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_PASS);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_PASSED), 4);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_SKIPPED), 1);
		ck_assert_str_eq(uml_ktap_test_get_name(sub(sub(r, 1), 1)), "example_skip_test");
		ck_assert_int_eq(uml_ktap_test_get_status(sub(sub(r, 1), 1)), UML_KTAP_SKIP);
		uml_ktap_unref(k);

		PARSE("test_skip_all_tests.log");
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_SKIP);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_SKIPPED), 5);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_PASSED), 0);
		uml_ktap_unref(k);

		PARSE("test_strip_hyphen.log");
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_PASS);
		ck_assert_str_eq(uml_ktap_test_get_name(sub(r, 0)), "sysctl_test");
		ck_assert_str_eq(uml_ktap_test_get_name(sub(r, 1)), "example");
		uml_ktap_unref(k);

		static const char *const resource_logs[] = {
			"test_config_printk_time.log", "test_multiple_prefixes.log",
			"test_interrupted_tap_output.log", "test_pound_sign.log",
			"test_pound_no_prefix.log",
		};
		for (size_t i = 0; i < ARRAY_SIZE(resource_logs); i++) {
			PARSE(resource_logs[i]);
			ck_assert_msg(uml_ktap_get_status(k) == UML_KTAP_PASS, "%s", resource_logs[i]);
			ck_assert_str_eq(uml_ktap_test_get_name(sub(r, 0)), "kunit-resource-test");
			ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_ERRORS), 0);
			uml_ktap_unref(k);
		}

		PARSE("test_kernel_panic_interrupt.log");
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_CRASHED);
		ck_assert_str_eq(uml_ktap_test_get_name(sub(r, 0)), "kunit-resource-test");
		ck_assert_uint_ge(cnt(r, UML_KTAP_COUNT_ERRORS), 1);
		ck_assert_str_eq(uml_ktap_test_get_name(sub(sub(r, 2), 1)), "");
		ck_assert_int_eq(uml_ktap_test_get_status(sub(sub(r, 2), 1)), UML_KTAP_CRASHED);
		uml_ktap_unref(k);

		PARSE("test_parse_ktap_output.log");
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_PASSED), 3);
		ck_assert_str_eq(uml_ktap_test_get_name(sub(r, 0)), "suite");
		ck_assert_str_eq(uml_ktap_test_get_name(sub(sub(r, 0), 0)), "case_1");
		ck_assert_str_eq(uml_ktap_test_get_name(sub(sub(r, 0), 1)), "case_2");
		uml_ktap_unref(k);

		PARSE("test_parse_subtest_header.log");
		ck_assert_str_eq(uml_ktap_test_get_name(sub(r, 0)), "suite");
		ck_assert_int_eq(uml_ktap_test_get_expected(sub(r, 0)), 1);
		uml_ktap_unref(k);

		PARSE("test_parse_attributes.log");
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_PASSED), 1);
		ck_assert_uint_eq(cnt(r, UML_KTAP_COUNT_ERRORS), 0);
		ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_PASS);
		ck_assert(log_has(sub(r, 0), "# module: example"));
		ck_assert(log_has(sub(sub(r, 0), 0), "# test.speed: slow"));
		uml_ktap_unref(k);
#undef PARSE
	}
	uml_ctx_unref(ctx);
}
END_TEST

/* Every log: JSON and printed results equal kunit.py's, by library and by CLI. */
START_TEST(json_and_output_equal_kunit_py)
{
	const char *tools = th_kunit_tools();
	const char *tmp = th_tmpdir();
	struct uml_ctx *ctx;
	struct dirent *de;
	char dir[800];
	DIR *d;
	int n = 0;

	if (!tools)
		return;
	ctx = th_ctx();
	snprintf(dir, sizeof(dir), "%s/test_data", tools);
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		const char *name = de->d_name;
		size_t len = strlen(name);
		struct uml_ktap *k;
		char *json, path[1200];
		int py, c;

		if (len < 5 || strcmp(name + len - 4, ".log") != 0)
			continue;
		n++;
		/* the library, fed 3 bytes at a time */
		k = parse_file(ctx, name, 3);
		ck_assert_int_eq(uml_ktap_get_json(k, NULL, NULL, NULL, &json), 0);
		snprintf(path, sizeof(path), "%s/%s.lib.json", tmp, name);
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(json, f);
		fclose(f);
		free(json);
		uml_ktap_unref(k);

		py = th_system("cd '%s' && /usr/bin/python3 '%s/kunit.py' parse --json='%s/%s.py.json' "
			       "'%s/%s' > '%s/%s.py.out' 2>&1", tmp, tools, tmp, name, dir, name, tmp,
			       name);
		c = th_system("'%s' parse --json='%s/%s.c.json' '%s/%s' > '%s/%s.c.out' 2>&1",
			      UML_KUNIT, tmp, name, dir, name, tmp, name);
		ck_assert_msg(py == 0 || py == 1, "kunit.py parse %s: exit %d", name, py);
		/* kunit.py parse fails all-skipped runs; uml-kunit lets skips pass */
		ck_assert_msg(c == py || (c == 0 && strstr(name, "skip_all")), "%s: exit %d, kunit.py %d",
			      name, c, py);
		snprintf(path, sizeof(path), "%s/%s.py.json", tmp, name);
		{
			char lib[1200], cli[1200];

			snprintf(lib, sizeof(lib), "%s/%s.lib.json", tmp, name);
			snprintf(cli, sizeof(cli), "%s/%s.c.json", tmp, name);
			ck_assert_msg(th_json_equal(path, lib), "%s: library JSON differs from kunit.py's",
				      name);
			ck_assert_msg(th_json_equal(path, cli), "%s: uml-kunit JSON differs from kunit.py's",
				      name);
		}
		/* the printed results, without the clock and the file name line */
		ck_assert_msg(th_system("cd '%s' && for w in py c; do sed 's/^\\[..:..:..\\] //' %s.$w.out | "
					"grep -v 'Test results stored' > %s.$w.cmp; done; "
					"diff %s.py.cmp %s.c.cmp >&2", tmp, name, name, name, name) == 0,
			      "%s: uml-kunit printed other results than kunit.py", name);
	}
	closedir(d);
	ck_assert_int_ge(n, 20);
	uml_ctx_unref(ctx);
}
END_TEST

/* --raw_output=kunit prints the KTAP lines as kunit.py extracts them. */
START_TEST(raw_output_extracts_like_kunit_py)
{
	const char *tools = th_kunit_tools();
	static const char *const want[] = {
		"TAP version 14", "# Subtest: kunit-resource-test", "1..5",
		"ok 1 - kunit_resource_test_init_resources", "foo bar 	#",
		"ok 1 - kunit-resource-test", "foo bar 	# non-kunit output",
		"# Subtest: kunit-try-catch-test", "ok 2 - kunit-try-catch-test",
		"ok 3 - string-stream-test",
	};
	char out[600];
	size_t len;
	char *text;

	if (!tools)
		return;
	snprintf(out, sizeof(out), "%s/raw.out", th_tmpdir());
	ck_assert_int_eq(th_system("'%s' parse --raw_output '%s/test_data/test_pound_sign.log' > '%s'",
				   UML_KUNIT, tools, out), 0);
	text = slurp(out, &len);
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		ck_assert_msg(strstr(text, want[i]), "'%s' not extracted:\n%s", want[i], th_tail(text));
	ck_assert_ptr_null(strstr(text, "[    0."));
	free(text);
	/* and kunit.py agrees line for line */
	ck_assert_int_eq(th_system("cd '%s' && /usr/bin/python3 '%s/kunit.py' parse --raw_output "
				   "'%s/test_data/test_pound_sign.log' | diff - '%s' >&2", th_tmpdir(),
				   tools, tools, out), 0);
}
END_TEST

/* Feeding byte by byte, in odd pieces or at once gives the same JSON. */
START_TEST(streaming_is_chunk_independent)
{
	static const char *const logs[] = {
		"test_kernel_panic_interrupt.log", "test_is_test_passed-all_passed_nested.log",
		"test_interrupted_tap_output.log", "test_parse_attributes.log",
	};
	struct uml_ctx *ctx;

	if (!th_kunit_tools())
		return;
	ctx = th_ctx();
	for (size_t i = 0; i < ARRAY_SIZE(logs); i++) {
		struct uml_ktap *whole = parse_file(ctx, logs[i], 0);
		char *a, *b;

		ck_assert_int_eq(uml_ktap_get_json(whole, "um", NULL, NULL, &a), 0);
		for (size_t ch = 1; ch < 12; ch += 5) {
			struct uml_ktap *k = parse_file(ctx, logs[i], ch);

			ck_assert_int_eq(uml_ktap_get_json(k, "um", NULL, NULL, &b), 0);
			ck_assert_msg(strcmp(a, b) == 0, "%s differs in chunks of %zu", logs[i], ch);
			free(b);
			uml_ktap_unref(k);
		}
		free(a);
		uml_ktap_unref(whole);
	}
	uml_ctx_unref(ctx);
}
END_TEST

static struct uml_ktap *parse_text(struct uml_ctx *ctx, const char *text)
{
	struct uml_ktap *k;

	ck_assert_int_eq(uml_ktap_new(ctx, &k), 0);
	ck_assert_int_eq(uml_ktap_feed(k, text, strlen(text)), 0);
	ck_assert_int_eq(uml_ktap_finish(k), 0);
	return k;
}

/* Hostile input: bounded memory and time, exact counts. */
START_TEST(hostile_input_is_bounded)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_ktap *k;
	char *big;
	const char *json;

	/* a plan of 10^12 subtests that never come: counted, not materialised */
	k = parse_text(ctx, "KTAP version 1\n1..1\n  KTAP version 1\n  # Subtest: s\n"
			    "  1..1000000000000\nok 1 s\n");
	ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_CRASHED);
	ck_assert_uint_eq(cnt(uml_ktap_get_root(k), UML_KTAP_COUNT_CRASHED), 1000000000000ull);
	ck_assert_int_eq(uml_ktap_get_truncated(k), 1);
	uml_ktap_unref(k);

	/* a plan line where a subtest belongs, without a plan: kunit.py spins forever */
	k = parse_text(ctx, "KTAP version 1\nok 1 a\n1..5\nok 2 b\n");
	ck_assert_uint_eq(uml_ktap_test_get_n_subtests(uml_ktap_get_root(k)), 2);
	ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_PASS);
	uml_ktap_unref(k);

	/* a 1 MiB line, invalid UTF-8 and NULs: cut, escaped, valid JSON */
	big = malloc(1 << 20);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 1 << 20);
	ck_assert_int_eq(uml_ktap_new(ctx, &k), 0);
	ck_assert_int_eq(uml_ktap_feed(k, "KTAP version 1\n1..1\nok 1 ", 25), 0);
	ck_assert_int_eq(uml_ktap_feed(k, big, 1 << 20), 0);
	ck_assert_int_eq(uml_ktap_feed(k, "\n", 1), 0);
	ck_assert_int_eq(uml_ktap_feed(k, "# \xff\xfe\0\x01 \xc3\xa9\r\n", 11), 0);
	ck_assert_int_eq(uml_ktap_finish(k), 0);
	ck_assert_int_eq(uml_ktap_feed(k, "x", 1), -EBUSY);
	json = uml_ktap_test_get_name(sub(uml_ktap_get_root(k), 0));
	ck_assert_uint_lt(strlen(json), 65536 + 1);
	ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_PASS);
	free(big);
	uml_ktap_unref(k);

	/* no KTAP at all */
	k = parse_text(ctx, "Linux version 6.12\nKernel panic - not syncing: boom\n");
	ck_assert_int_eq(uml_ktap_get_status(k), UML_KTAP_NO_KTAP);
	uml_ktap_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

struct seen {
	unsigned starts, ends, lines, errors;
	char order[256];
};

static void on_event(void *ud, const struct uml_ktap_event *ev)
{
	struct seen *s = ud;
	size_t n = strlen(s->order);

	switch (ev->type) {
	case UML_KTAP_EVENT_LINE:
		s->lines++;
		return;
	case UML_KTAP_EVENT_SUITE_START:
		s->starts++;
		break;
	case UML_KTAP_EVENT_TEST_END:
		s->ends++;
		break;
	case UML_KTAP_EVENT_ERROR:
		s->errors++;
		break;
	}
	if (n + 2 < sizeof(s->order)) {
		s->order[n] = "LSEX"[ev->type];
		s->order[n + 1] = '0' + (char)ev->depth;
	}
}

/* Events come as lines arrive; a suite is reported before the next one starts. */
START_TEST(events_as_lines_arrive)
{
	struct uml_ctx *ctx = th_ctx();
	struct seen s = { 0 };
	struct uml_ktap *k;
	const char *p1 = "[    1.000000] KTAP version 1\n[    1.000000] 1..2\n"
			 "[    1.000000]     # Subtest: a\n[    1.000000]     1..1\n"
			 "[    1.500000]     ok 1 x\n";
	const char *p2 = "[    1.600000] ok 1 a\n[    1.600000]     # Subtest: b\n";

	ck_assert_int_eq(uml_ktap_new(ctx, &k), 0);
	uml_ktap_set_event_fn(k, on_event, &s);
	ck_assert_int_eq(uml_ktap_feed(k, p1, strlen(p1)), 0);
	ck_assert_str_eq(s.order, "S1E2");
	ck_assert_int_eq(uml_ktap_feed(k, p2, strlen(p2)), 0);
	ck_assert_str_eq(s.order, "S1E2E1");
	ck_assert_int_eq(uml_ktap_set_flags(k, UML_KTAP_LIVE), -EBUSY);
	ck_assert_int_eq(uml_ktap_finish(k), 0);
	/* b has no plan and no result: missing result line, no tests run */
	ck_assert_uint_eq(s.errors, 2);
	ck_assert_uint_eq(s.lines, 7);
	/* durations from the printk timestamps */
	ck_assert_int_eq(uml_ktap_test_get_duration_us(sub(sub(uml_ktap_get_root(k), 0), 0)), 500000);
	ck_assert_int_eq(uml_ktap_test_get_duration_us(sub(uml_ktap_get_root(k), 0)), 600000);
	uml_ktap_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

/* JSON read back, and JUnit that an XML parser reads with the same counts. */
START_TEST(json_round_trip_and_junit)
{
	struct uml_ctx *ctx;
	struct uml_ktap *k, *back;
	char *json, *json2, *junit, path[600];
	FILE *f;

	if (!th_kunit_tools())
		return;
	ctx = th_ctx();
	k = parse_file(ctx, "test_kernel_panic_interrupt.log", 0);
	ck_assert_int_eq(uml_ktap_get_json(k, "um", "kunit_defconfig", "/b", &json), 0);
	ck_assert_int_eq(uml_ktap_new(ctx, &back), 0);
	ck_assert_int_eq(uml_ktap_load_json(back, "{\"name\": 3"), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(uml_ktap_last_error(back), "offset"));
	ck_assert_ptr_null(uml_ktap_get_root(back));
	ck_assert_int_eq(uml_ktap_load_json(back, json), 0);
	ck_assert_int_eq(uml_ktap_load_json(back, json), -EBUSY);
	ck_assert_int_eq(uml_ktap_get_json(back, "um", "kunit_defconfig", "/b", &json2), 0);
	ck_assert_str_eq(json, json2);
	ck_assert_int_eq(uml_ktap_get_status(back), uml_ktap_get_status(k));
	free(json2);
	uml_ktap_unref(back);

	ck_assert_int_eq(uml_ktap_get_junit(k, NULL, &junit), 0);
	snprintf(path, sizeof(path), "%s/r.xml", th_tmpdir());
	f = fopen(path, "w");
	fputs(junit, f);
	fclose(f);
	/* the counts of <testsuites> add up to the cases, and to the tree's */
	ck_assert_int_eq(th_system("/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E\n"
				   "r = E.parse(sys.argv[1]).getroot()\n"
				   "cs = r.findall(\".//testcase\")\n"
				   "assert int(r.get(\"tests\")) == len(cs) == %d, r.get(\"tests\")\n"
				   "assert int(r.get(\"errors\")) == len([c for c in cs if c.find(\"error\") is not None]) == %d\n"
				   "assert int(r.get(\"failures\")) == len([c for c in cs if c.find(\"failure\") is not None]) == %d\n"
				   "assert sum(int(s.get(\"tests\")) for s in r.findall(\"testsuite\")) == len(cs)\n' '%s'",
				   (int)(cnt(uml_ktap_get_root(k), UML_KTAP_COUNT_PASSED) +
					 cnt(uml_ktap_get_root(k), UML_KTAP_COUNT_FAILED) +
					 cnt(uml_ktap_get_root(k), UML_KTAP_COUNT_CRASHED) +
					 cnt(uml_ktap_get_root(k), UML_KTAP_COUNT_SKIPPED)),
				   (int)cnt(uml_ktap_get_root(k), UML_KTAP_COUNT_CRASHED),
				   (int)cnt(uml_ktap_get_root(k), UML_KTAP_COUNT_FAILED), path), 0);
	free(junit);
	free(json);
	uml_ktap_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

/* The parse subcommand's exit codes and messages for bad input. */
START_TEST(parse_exit_codes)
{
	const char *tmp = th_tmpdir();
	const char *tools = th_kunit_tools();

	if (!tools)
		return;
	/* no KTAP: 1 and kunit.py's message */
	ck_assert_int_eq(th_system("'%s' parse '%s/test_data/test_insufficient_memory.log' > '%s/o' 2>&1",
				   UML_KUNIT, tools, tmp), 1);
	ck_assert_int_eq(th_system("grep -q 'Could not find any KTAP output' '%s/o'", tmp), 0);
	/* a log cut in the middle of a suite: crashed, 1 */
	ck_assert_int_eq(th_system("head -n 12 '%s/test_data/test_is_test_passed-all_passed.log' | "
				   "'%s' parse --json > '%s/o' 2>&1", tools, UML_KUNIT, tmp), 1);
	ck_assert_int_eq(th_system("grep -q '\"status\": \"ERROR\"' '%s/o' && grep -q CRASHED '%s/o'",
				   tmp, tmp), 0);
	/* an unreadable file or a bad option: usage, 2 */
	ck_assert_int_eq(th_system("'%s' parse /nonexistent/log > '%s/o' 2>&1", UML_KUNIT, tmp), 2);
	ck_assert_int_eq(th_system("grep -q '/nonexistent/log' '%s/o'", tmp), 0);
	ck_assert_int_eq(th_system("'%s' parse --raw_output=some x > /dev/null 2>&1", UML_KUNIT), 2);
	ck_assert_int_eq(th_system("'%s' frobnicate > /dev/null 2>&1", UML_KUNIT), 2);
	/* --json=FILE writes the file, --junit too; nothing partial when it cannot */
	ck_assert_int_eq(th_system("'%s' parse --json='%s/j.json' --junit='%s/j.xml' "
				   "'%s/test_data/test_is_test_passed-all_passed.log' > /dev/null",
				   UML_KUNIT, tmp, tmp, tools), 0);
	ck_assert_int_eq(th_system("test -s '%s/j.json' && test -s '%s/j.xml'", tmp, tmp), 0);
	ck_assert_int_eq(th_system("'%s' parse --json='%s/nodir/j.json' "
				   "'%s/test_data/test_is_test_passed-all_passed.log' > /dev/null 2>&1",
				   UML_KUNIT, tmp, tools), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ktap");
	TCase *tc = tcase_create("parser");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, kunit_tool_test_verdicts);
	tcase_add_test(tc, json_and_output_equal_kunit_py);
	tcase_add_test(tc, raw_output_extracts_like_kunit_py);
	tcase_add_test(tc, streaming_is_chunk_independent);
	tcase_add_test(tc, hostile_input_is_bounded);
	tcase_add_test(tc, events_as_lines_arrive);
	tcase_add_test(tc, json_round_trip_and_junit);
	tcase_add_test(tc, parse_exit_codes);
	suite_add_tcase(s, tc);
	return th_run(s);
}

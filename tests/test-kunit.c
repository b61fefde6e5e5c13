/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KUnit runs on kernels the library builds from Debian's linux-source-6.12
 * tarball, compared with kunit.py on the same kernels:
 *  - kunit.py's default config (built once into the test cache as
 *    CACHE/kunit-default and shared with bench-kunit);
 *  - a copy of the tree (hard links, CACHE/kunit-selftest-src-HASH) with
 *    the suites of tests/kunit/libuml-selftest.c: one fails, one crashes the
 *    kernel, one hangs on demand (built into CACHE/kunit-selftest).
 * The first run on a machine builds both kernels (minutes each on 2
 * cores); UML_TEST_NO_KERNEL_BUILD=1 skips the tests that need them, and so
 * does UML_TEST_SKIP_PLAIN_ONLY (KUnit kernel runs are for the plain CI stage).
 * Bad input needs only the unpacked tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhelp.h"

#define TARBALL "/usr/src/linux-source-6.12.tar.xz"
#define UML_KUNIT TEST_BUILDDIR "/examples/uml-kunit"
#define SELFTEST TEST_SRCDIR "/tests/kunit"

static bool no_build(const char *what)
{
	if (getenv("UML_TEST_NO_KERNEL_BUILD") || getenv("UML_TEST_SKIP_PLAIN_ONLY")) {
		fprintf(stderr, "SKIP %s: UML_TEST_NO_KERNEL_BUILD or UML_TEST_SKIP_PLAIN_ONLY is set\n",
			what);
		return true;
	}
	if (access(TARBALL, R_OK) != 0) {
		fprintf(stderr, "SKIP %s: %s is missing\n", what, TARBALL);
		return true;
	}
	return false;
}

static struct uml_kunit *new_kunit(struct uml_ctx *ctx, const char *source, const char *build_dir)
{
	struct uml_kunit *k;

	ck_assert_int_eq(uml_kunit_new(ctx, &k), 0);
	ck_assert_int_eq(uml_kunit_set_source(k, source), 0);
	ck_assert_int_eq(uml_kunit_set_cache_dir(k, th_cache_dir()), 0);
	if (build_dir)
		ck_assert_int_eq(uml_kunit_set_build_dir(k, build_dir), 0);
	ck_assert_int_eq(uml_kunit_set_jobs(k, 2), 0);
	return k;
}

static void build(struct uml_kunit *k)
{
	int r = uml_kunit_build(k);

	ck_assert_msg(r == 0, "KUnit kernel build failed (%d): %s", r, uml_kunit_last_error(k));
}

/* kunit.py's default config, built by the library; its build dir. */
static const char *default_kernel(struct uml_ctx *ctx)
{
	static char dir[600];
	struct uml_kunit *k;

	snprintf(dir, sizeof(dir), "%s/kunit-default", th_cache_dir());
	k = new_kunit(ctx, TARBALL, dir);
	build(k);
	uml_kunit_unref(k);
	return dir;
}

/* The tree with libuml's KUnit suites: a hard-linked copy, changed files replaced. */
static const char *selftest_tree(struct uml_ctx *ctx)
{
	static char dst[700];
	struct uml_kernel_build *kb;
	const char *tree;
	uint64_t h = 1469598103934665603ull;
	static const char *const files[] = { "libuml-selftest.c", "Kconfig.append",
					     "Makefile.append" };

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char p[600];
		int c;
		FILE *f;

		snprintf(p, sizeof(p), "%s/%s", SELFTEST, files[i]);
		f = fopen(p, "r");
		ck_assert_msg(f != NULL, "%s", p);
		while ((c = fgetc(f)) != EOF)
			h = (h ^ (unsigned)c) * 1099511628211ull;
		fclose(f);
	}
	snprintf(dst, sizeof(dst), "%s/kunit-selftest-src-%016llx", th_cache_dir(),
		 (unsigned long long)h);
	if (access(dst, F_OK) == 0)
		return dst;
	ck_assert_int_eq(uml_kernel_build_new(ctx, &kb), 0);
	ck_assert_int_eq(uml_kernel_build_set_source(kb, TARBALL), 0);
	ck_assert_int_eq(uml_kernel_build_set_cache_dir(kb, th_cache_dir()), 0);
	ck_assert_int_eq(uml_kernel_build_get_source_tree(kb, &tree), 0);
	/* new files are new inodes: the shared tree stays as it is */
	ck_assert_int_eq(th_system("set -e; t='%s.tmp-%d'; rm -rf \"$t\"; cp -al '%s' \"$t\"; "
				   "cp '%s/libuml-selftest.c' \"$t/lib/kunit/\"; "
				   "for f in Kconfig Makefile; do cat \"$t/lib/kunit/$f\" '%s'/$f.append "
				   "> \"$t/lib/kunit/$f.new\"; mv \"$t/lib/kunit/$f.new\" \"$t/lib/kunit/$f\"; done; "
				   "mv -T \"$t\" '%s' || rm -rf \"$t\"", dst, (int)getpid(), tree, SELFTEST,
				   SELFTEST, dst), 0);
	uml_kernel_build_unref(kb);
	return dst;
}

static const char *selftest_kernel(struct uml_ctx *ctx)
{
	static char dir[600];
	const char *tree = selftest_tree(ctx);
	struct uml_kunit *k;

	snprintf(dir, sizeof(dir), "%s/kunit-selftest", th_cache_dir());
	k = new_kunit(ctx, tree, dir);
	ck_assert_int_eq(uml_kunit_add_kunitconfig(k, SELFTEST "/kunitconfig"), 0);
	build(k);
	uml_kunit_unref(k);
	return dir;
}

static struct uml_kunit *runner(struct uml_ctx *ctx, const char *build_dir)
{
	struct uml_kernel *kernel;
	struct uml_kunit *k;
	char path[700];

	snprintf(path, sizeof(path), "%s/linux", build_dir);
	ck_assert_int_eq(uml_kernel_new_from_path(ctx, path, &kernel), 0);
	ck_assert_int_eq(uml_kunit_new(ctx, &k), 0);
	ck_assert_int_eq(uml_kunit_set_cache_dir(k, th_tmpdir()), 0);
	ck_assert_int_eq(uml_kunit_set_kernel(k, kernel), 0);
	uml_kernel_unref(kernel);
	return k;
}

static const struct uml_ktap_test *find(const struct uml_ktap_test *t, const char *name)
{
	for (size_t i = 0; i < uml_ktap_test_get_n_subtests(t); i++)
		if (strcmp(uml_ktap_test_get_name(uml_ktap_test_get_subtest(t, i)), name) == 0)
			return uml_ktap_test_get_subtest(t, i);
	ck_abort_msg("no test '%s' below '%s'", name, uml_ktap_test_get_name(t));
	return NULL;
}

static enum uml_ktap_status status_of(struct uml_ktap *res, const char *suite, const char *test)
{
	return uml_ktap_test_get_status(find(find(uml_ktap_get_root(res), suite), test));
}

static void write_json(struct uml_ktap *res, const char *path)
{
	char *json;
	FILE *f;

	ck_assert_int_eq(uml_ktap_get_json(res, "um", "kunit_defconfig", NULL, &json), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(json, f);
	fclose(f);
	free(json);
}

/* kunit.py exec on a kernel (through a build dir holding a link to it). */
static int kunit_py_exec(const char *kernel_dir, const char *json, const char *extra)
{
	const char *tools = th_kunit_tools();
	const char *tmp = th_tmpdir();

	ck_assert_ptr_nonnull(tools);
	return th_system("set -e; d='%s/py-%d'; rm -rf \"$d\"; mkdir \"$d\"; ln -s '%s/linux' \"$d/linux\"; "
			 "cd \"$d\"; /usr/bin/python3 '%s/kunit.py' exec --build_dir=\"$d\" --json='%s' %s "
			 "> \"$d/out\" 2>&1 || { tail -5 \"$d/out\" >&2; exit 1; }", tmp, (int)getpid(),
			 kernel_dir, tools, json, extra ? extra : "");
}

/* ---- bad input: no kernel build needed, only the unpacked tree ---------------- */

START_TEST(bad_kunitconfigs)
{
	const char *tmp = th_tmpdir();
	struct uml_ctx *ctx;
	struct uml_kunit *k;
	char bad[600], other[600], dir[600];
	FILE *f;

	if (no_build("bad_kunitconfigs"))
		return;
	ctx = th_ctx();
	snprintf(bad, sizeof(bad), "%s/bad.kunitconfig", tmp);
	snprintf(other, sizeof(other), "%s/other.kunitconfig", tmp);
	snprintf(dir, sizeof(dir), "%s/bad-build", tmp);
	f = fopen(bad, "w");
	fputs("CONFIG_KUNIT=y\nCONFIG_LIBUML_NO_SUCH_OPTION=y\n", f);
	fclose(f);
	f = fopen(other, "w");
	fputs("CONFIG_KUNIT=n\n", f);
	fclose(f);

	/* an option that does not exist: named, nothing built */
	k = new_kunit(ctx, TARBALL, dir);
	ck_assert_int_eq(uml_kunit_add_kunitconfig(k, bad), 0);
	ck_assert_int_eq(uml_kunit_config(k), -ENOTSUP);
	ck_assert_ptr_nonnull(strstr(uml_kunit_last_error(k), "CONFIG_LIBUML_NO_SUCH_OPTION"));
	uml_kunit_unref(k);

	/* a missing file and two files that disagree */
	k = new_kunit(ctx, TARBALL, dir);
	ck_assert_int_eq(uml_kunit_add_kunitconfig(k, "/nonexistent/kunitconfig"), 0);
	ck_assert_int_eq(uml_kunit_config(k), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_kunit_last_error(k), "/nonexistent/kunitconfig"));
	uml_kunit_unref(k);
	k = new_kunit(ctx, TARBALL, dir);
	ck_assert_int_eq(uml_kunit_add_kunitconfig(k, bad), 0);
	ck_assert_int_eq(uml_kunit_add_kunitconfig(k, other), 0);
	ck_assert_int_eq(uml_kunit_config(k), -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_kunit_last_error(k), "CONFIG_KUNIT"));
	ck_assert_int_eq(uml_kunit_add_kconfig(k, "KUNIT=y"), -EINVAL);
	ck_assert_int_eq(uml_kunit_set_filter_glob(k, "a b"), -EINVAL);
	ck_assert_int_eq(uml_kunit_set_timeout(k, -1), -ERANGE);
	/* no kernel yet */
	{
		const char *const *names;
		size_t n;

		ck_assert_int_eq(uml_kunit_list(k, &names, &n), -ENOENT);
		ck_assert_int_eq(uml_kunit_run(k), -ENOENT);
	}
	uml_kunit_unref(k);

	/* the CLI: configuration errors exit 3, usage errors 2 */
	ck_assert_int_eq(th_system("'%s' config --source=%s --build_dir='%s' --kunitconfig='%s' "
				   "--cache_dir='%s' > '%s/o' 2>&1", UML_KUNIT, TARBALL, dir, bad,
				   th_cache_dir(), tmp), 3);
	ck_assert_int_eq(th_system("grep -q CONFIG_LIBUML_NO_SUCH_OPTION '%s/o'", tmp), 0);
	ck_assert_int_eq(th_system("'%s' build --source=%s --build_dir='%s' --kunitconfig=/nonexistent "
				   "--cache_dir='%s' > '%s/o' 2>&1", UML_KUNIT, TARBALL, dir,
				   th_cache_dir(), tmp), 3);
	ck_assert_int_eq(th_system("grep -q /nonexistent '%s/o'", tmp), 0);
	ck_assert_int_eq(th_system("'%s' exec --build_dir='%s/empty' > /dev/null 2>&1", UML_KUNIT,
				   tmp), 3);
	ck_assert_int_eq(th_system("'%s' run --arch=x86_64 > /dev/null 2>&1", UML_KUNIT), 2);
	ck_assert_int_eq(th_system("'%s' exec --timeout=-1 > /dev/null 2>&1", UML_KUNIT), 2);
	ck_assert_int_eq(th_system("'%s' exec --raw-output=some > /dev/null 2>&1", UML_KUNIT), 2);
	ck_assert_int_eq(th_system("'%s' build --rerun_failed=x > /dev/null 2>&1", UML_KUNIT), 2);
	uml_ctx_unref(ctx);
}
END_TEST

/* ---- kunit.py's default config ------------------------------------------------- */

START_TEST(default_config_like_kunit_py)
{
	const char *tmp = th_tmpdir();
	char ours[600], theirs[600], junit[600];
	struct uml_ctx *ctx;
	struct uml_kunit *k;
	struct uml_ktap *res;
	const char *dir;

	if (no_build("default_config_like_kunit_py") || !th_kunit_tools())
		return;
	ctx = th_ctx();
	dir = default_kernel(ctx);

	/* the library: every test, in parallel guests */
	k = runner(ctx, dir);
	ck_assert_int_eq(uml_kunit_set_parallel(k, 2), 0);
	ck_assert_int_eq(uml_kunit_run(k), 0);
	res = uml_kunit_get_result(k);
	ck_assert_ptr_nonnull(res);
	ck_assert_uint_ge(uml_kunit_get_n_shards(k), 2);
	snprintf(ours, sizeof(ours), "%s/default-ours.json", tmp);
	snprintf(theirs, sizeof(theirs), "%s/default-kunit-py.json", tmp);
	write_json(res, ours);
	ck_assert_int_eq(kunit_py_exec(dir, theirs, NULL), 0);
	ck_assert_msg(th_json_equal(ours, theirs), "verdicts differ from kunit.py's: %s vs %s", ours,
		      theirs);
	ck_assert_int_eq(uml_ktap_get_status(res), UML_KTAP_PASS);
	/* the shards' globs select every test exactly once among all the kernel's */
	{
		size_t shards = uml_kunit_get_n_shards(k), sum = 0, all;
		const char *const *names;
		char **globs = calloc(shards, sizeof(*globs));

		for (size_t i = 0; i < shards; i++)
			globs[i] = strdup(uml_kunit_get_shard_glob(k, i));
		ck_assert_int_eq(uml_kunit_list(k, &names, &all), 0);
		for (size_t i = 0; i < shards; i++) {
			size_t n;

			ck_assert_int_eq(uml_kunit_set_filter_glob(k, globs[i]), 0);
			ck_assert_int_eq(uml_kunit_list(k, &names, &n), 0);
			ck_assert_msg(n > 0, "shard %s selects nothing", globs[i]);
			sum += n;
			free(globs[i]);
		}
		free(globs);
		ck_assert_uint_eq(sum, all);
		ck_assert_uint_gt(all, 300);
	}
	uml_kunit_unref(k);

	/* the CLI on the same kernel: exit 0, JSON and JUnit that agree */
	snprintf(ours, sizeof(ours), "%s/default-cli.json", tmp);
	snprintf(junit, sizeof(junit), "%s/default-cli.xml", tmp);
	ck_assert_int_eq(th_system("'%s' exec --build_dir='%s' --cache_dir='%s' --json='%s' --junit='%s' "
				   "> '%s/cli.out' 2>&1", UML_KUNIT, dir, tmp, ours, junit, tmp), 0);
	ck_assert(th_json_equal(ours, theirs));
	ck_assert_int_eq(th_system("grep -q 'Testing complete. Ran 385 tests' '%s/cli.out'", tmp), 0);
	ck_assert_int_eq(th_system("xmllint --noout '%s' 2>/dev/null || /usr/bin/python3 -c "
				   "'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' '%s'",
				   junit, junit), 0);
	ck_assert_int_eq(th_system("/usr/bin/python3 -c 'import sys, json, xml.etree.ElementTree as E\n"
				   "r = E.parse(sys.argv[1]).getroot()\n"
				   "def leaves(g): return [c for c in g[\"test_cases\"]] + [x for s in g[\"sub_groups\"] for x in leaves(s)]\n"
				   "j = leaves(json.load(open(sys.argv[2])))\n"
				   "assert int(r.get(\"tests\")) == len(r.findall(\".//testcase\")) == len(j), (r.get(\"tests\"), len(j))\n"
				   "assert int(r.get(\"skipped\")) == len([c for c in j if c[\"status\"] == \"SKIP\"])\n"
				   "assert int(r.get(\"failures\")) == int(r.get(\"errors\")) == 0\n' '%s' '%s'",
				   junit, ours), 0);
	uml_ctx_unref(ctx);
}
END_TEST

/* ---- a failing, a crashing and a hanging suite ---------------------------------- */

START_TEST(crash_costs_one_test)
{
	const char *tmp = th_tmpdir();
	char ours[600], junit[600];
	struct uml_ctx *ctx;
	struct uml_kunit *k;
	struct uml_ktap *res;
	const char *dir, *reason;
	const struct uml_ktap_test *crash;

	if (no_build("crash_costs_one_test") || !th_kunit_tools())
		return;
	ctx = th_ctx();
	dir = selftest_kernel(ctx);

	/* one guest at a time: the crash takes a shard with other suites down */
	k = runner(ctx, dir);
	ck_assert_int_eq(uml_kunit_set_parallel(k, 1), 0);
	ck_assert_int_eq(uml_kunit_run(k), 0);
	res = uml_kunit_get_result(k);
	ck_assert_int_eq(uml_ktap_get_status(res), UML_KTAP_CRASHED);
	ck_assert_int_eq(status_of(res, "libuml_fail", "libuml_pass"), UML_KTAP_PASS);
	ck_assert_int_eq(status_of(res, "libuml_fail", "libuml_fail"), UML_KTAP_FAIL);
	ck_assert_int_eq(status_of(res, "libuml_crash", "libuml_before"), UML_KTAP_PASS);
	ck_assert_int_eq(status_of(res, "libuml_crash", "libuml_crash"), UML_KTAP_CRASHED);
	ck_assert_int_eq(status_of(res, "libuml_crash", "libuml_after"), UML_KTAP_PASS);
	ck_assert_int_eq(status_of(res, "libuml_hang", "libuml_hang_test"), UML_KTAP_SKIP);
	ck_assert_int_eq(status_of(res, "libuml_zafter", "libuml_pass"), UML_KTAP_PASS);
	crash = find(find(uml_ktap_get_root(res), "libuml_crash"), "libuml_crash");
	reason = uml_ktap_test_get_reason(crash);
	ck_assert_msg(reason && strstr(reason, "panic"), "reason: %s", reason ? reason : "(none)");
	/* only the crash is lost: every other test has its verdict */
	ck_assert_uint_eq(uml_ktap_test_get_count(uml_ktap_get_root(res), UML_KTAP_COUNT_CRASHED), 1);
	ck_assert_uint_eq(uml_ktap_test_get_count(uml_ktap_get_root(res), UML_KTAP_COUNT_FAILED), 1);

	/* kunit.py, one boot per suite, agrees on every suite; in the crashing one it
	 * agrees up to the crash and loses the rest */
	snprintf(ours, sizeof(ours), "%s/self-ours.json", tmp);
	write_json(res, ours);
	ck_assert_int_eq(th_system("set -e; d='%s/py-self'; rm -rf \"$d\"; mkdir \"$d\"; "
				   "ln -s '%s/linux' \"$d/linux\"; /usr/bin/python3 '%s/kunit-py-by-suite.py' "
				   "'%s/kunit.py' \"$d\" '%s' libuml_crash >&2", tmp, dir, SELFTEST,
				   th_kunit_tools(), ours), 0);
	uml_kunit_unref(k);

	/* the CLI: exit 1, JUnit with the failure and the error; then rerun the failed */
	snprintf(ours, sizeof(ours), "%s/self-cli.json", tmp);
	snprintf(junit, sizeof(junit), "%s/self-cli.xml", tmp);
	ck_assert_int_eq(th_system("'%s' exec --build_dir='%s' --cache_dir='%s' --json='%s' --junit='%s' "
				   "> '%s/self.out' 2>&1", UML_KUNIT, dir, tmp, ours, junit, tmp), 1);
	ck_assert_int_eq(th_system("/usr/bin/python3 -c 'import sys, xml.etree.ElementTree as E\n"
				   "r = E.parse(sys.argv[1]).getroot()\n"
				   "cs = r.findall(\".//testcase\")\n"
				   "assert int(r.get(\"tests\")) == len(cs)\n"
				   "assert int(r.get(\"failures\")) == 1 == len([c for c in cs if c.find(\"failure\") is not None])\n"
				   "assert int(r.get(\"errors\")) == 1 == len([c for c in cs if c.find(\"error\") is not None])\n"
				   "e = [c for c in cs if c.find(\"error\") is not None][0]\n"
				   "assert e.get(\"classname\") == \"libuml_crash\" and e.get(\"name\") == \"libuml_crash\"\n"
				   "assert \"panic\" in e.find(\"error\").get(\"message\")\n' '%s'", junit), 0);
	ck_assert_int_eq(th_system("'%s' exec --build_dir='%s' --cache_dir='%s' --rerun_failed='%s' "
				   "--json='%s/rerun.json' > '%s/rerun.out' 2>&1", UML_KUNIT, dir, tmp, ours,
				   tmp, tmp), 1);
	ck_assert_int_eq(th_system("grep -q 'Ran 2 tests: failed: 1, crashed: 1' '%s/rerun.out'", tmp), 0);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(shard_timeout_finds_the_hang)
{
	struct uml_ctx *ctx;
	struct uml_kunit *k;
	struct uml_ktap *res;
	const char *dir, *reason;
	const char *const *names;
	size_t n;

	if (no_build("shard_timeout_finds_the_hang"))
		return;
	ctx = th_ctx();
	dir = selftest_kernel(ctx);
	k = runner(ctx, dir);
	ck_assert_int_eq(uml_kunit_set_filter_glob(k, "libuml_[hz]*"), 0);
	ck_assert_int_eq(uml_kunit_list(k, &names, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(names[1], "libuml_hang.libuml_hang_test");
	ck_assert_int_eq(uml_kunit_add_kernel_arg(k, "libuml_hang=1"), 0);
	ck_assert_int_eq(uml_kunit_set_shard_timeout(k, 4000), 0);
	ck_assert_int_eq(uml_kunit_set_parallel(k, 1), 0);
	ck_assert_int_eq(uml_kunit_run(k), 0);
	res = uml_kunit_get_result(k);
	ck_assert_int_eq(status_of(res, "libuml_hang", "libuml_before"), UML_KTAP_PASS);
	ck_assert_int_eq(status_of(res, "libuml_hang", "libuml_hang_test"), UML_KTAP_CRASHED);
	ck_assert_int_eq(status_of(res, "libuml_hang", "libuml_after"), UML_KTAP_PASS);
	ck_assert_int_eq(status_of(res, "libuml_zafter", "libuml_pass"), UML_KTAP_PASS);
	reason = uml_ktap_test_get_reason(find(find(uml_ktap_get_root(res), "libuml_hang"),
					       "libuml_hang_test"));
	ck_assert_msg(reason && strstr(reason, "timed out"), "reason: %s", reason ? reason : "(none)");
	ck_assert_int_eq(th_count_processes(dir), 0);
	uml_kunit_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kunit");
	TCase *bad = tcase_create("bad-input");
	TCase *runs = tcase_create("runs");

	tcase_set_timeout(bad, 900);
	tcase_add_test(bad, bad_kunitconfigs);
	suite_add_tcase(s, bad);
	/* the first run builds two kernels */
	tcase_set_timeout(runs, 7200);
	tcase_add_test(runs, default_config_like_kunit_py);
	tcase_add_test(runs, crash_costs_one_test);
	tcase_add_test(runs, shard_timeout_finds_the_hang);
	suite_add_tcase(s, runs);
	return th_run(s);
}

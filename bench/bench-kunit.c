/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KUnit: uml-kunit against kunit.py on the same pre-built kernel (kunit.py's
 * default config, as tests/test-kunit builds it into the test cache).
 *
 *   bench-kunit [-n RUNS] [-d BUILD_DIR] [-k KUNIT_PY] [-c CRASH_BUILD_DIR] [-R]
 *
 * Rows (wall time, medians of RUNS, baselines measured in the same run):
 *   - kunit.py exec (its run alone) vs uml-kunit run with a warm build
 *     (configuration checked, kernel up to date, test list cached): target
 *     ratio <= 0.6;
 *   - where uml-kunit's time goes: the up-to-date check, the listing boot
 *     (uncached), the run alone, the number of guests, the guest-seconds
 *     and the slowest guest;
 *   - with -c, a kernel with a crashing test (CACHE/kunit-selftest):
 *     tests with a verdict, uml-kunit vs kunit.py;
 *   - with -R, warm `kunit.py run` (it runs make again) vs warm uml-kunit run.
 * Runs from the build dir (it calls examples/uml-kunit).
 */
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "stats.h"

#define CACHE "/var/cache/libuml-test"
#define TARBALL "/usr/src/linux-source-6.12.tar.xz"

static void row(const char *metric, double value, double baseline, const char *unit,
		const char *target)
{
	char v[32], bl[32], ratio[16] = "";

	snprintf(v, sizeof(v), "%.2f %s", value, unit);
	snprintf(bl, sizeof(bl), baseline > 0 ? "%.2f %s" : "-", baseline, unit);
	if (baseline > 0)
		snprintf(ratio, sizeof(ratio), "%.3f", value / baseline);
	printf("%-44s | %10s | %10s | %6s | %s\n", metric, v, bl, ratio, target);
	fflush(stdout);
}

/* Runs a shell command with output to log; wall seconds, exit status in *st. */
static double timed(const char *log, int *st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static double timed(const char *log, int *st, const char *fmt, ...)
{
	char *cmd, *full;
	va_list ap;
	double t0;
	int s;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		exit(1);
	va_end(ap);
	if (asprintf(&full, "%s > '%s' 2>&1", cmd, log) < 0)
		exit(1);
	t0 = bench_now_s();
	s = system(full);
	t0 = bench_now_s() - t0;
	if (st)
		*st = WIFEXITED(s) ? WEXITSTATUS(s) : 128;
	free(cmd);
	free(full);
	return t0;
}

/* Number of test cases in a kunit.py JSON results file. */
static int json_cases(const char *path)
{
	char cmd[1024];
	int n = -1;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c 'import json,sys\n"
		 "def n(g): return sum(1 for c in g[\"test_cases\"] if c[\"status\"] != \"ERROR\") + sum(n(s) for s in g[\"sub_groups\"])\n"
		 "print(n(json.load(open(sys.argv[1]))))' '%s' 2>/dev/null", path);
	p = popen(cmd, "r");
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

static const char *find_kunit_py(void)
{
	static char path[4096];
	glob_t g;

	if (glob(CACHE "/kunit-tools-*/linux/tools/testing/kunit/kunit.py", 0, NULL, &g) == 0 ||
	    glob(CACHE "/sources/linux-source-6.12-*/tools/testing/kunit/kunit.py", 0, NULL, &g) == 0) {
		snprintf(path, sizeof(path), "%s", g.gl_pathv[0]);
		globfree(&g);
		return path;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *dir = CACHE "/kunit-default", *kunit_py = NULL, *crash_dir = NULL;
	const char *build = getenv("UML_TEST_BUILDDIR") ? getenv("UML_TEST_BUILDDIR") : ".";
	char tmpl[] = "/tmp/bench-kunit-XXXXXX", uk[4096], log[4200], json[4200], cache[4200];
	double py_exec[16], uk_run[16], uk_exec[16];
	int runs = 3, opt, st, with_run = 0;
	char *tmp;

	while ((opt = getopt(argc, argv, "n:d:k:c:R")) != -1) {
		switch (opt) {
		case 'n':
			runs = atoi(optarg);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'k':
			kunit_py = optarg;
			break;
		case 'c':
			crash_dir = optarg;
			break;
		case 'R':
			with_run = 1;
			break;
		default:
			fprintf(stderr, "usage: bench-kunit [-n RUNS] [-d BUILD_DIR] [-k KUNIT_PY] "
					"[-c CRASH_BUILD_DIR] [-R]\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 16)
		runs = 3;
	if (!kunit_py && !(kunit_py = find_kunit_py())) {
		fprintf(stderr, "bench-kunit: no kunit.py (run tests/test-ktap once, or give -k)\n");
		return 1;
	}
	/* the program itself, not libtool's wrapper script (which costs a second here) */
	snprintf(uk, sizeof(uk), "%s/examples/.libs/uml-kunit", build);
	if (access(uk, X_OK) == 0) {
		char libs[4200];

		snprintf(libs, sizeof(libs), "%s/libuml/.libs", build);
		setenv("LD_LIBRARY_PATH", libs, 1);
	} else {
		snprintf(uk, sizeof(uk), "%s/examples/uml-kunit", build);
	}
	snprintf(log, sizeof(log), "%s/linux", dir);
	if (access(log, X_OK) != 0 || access(uk, X_OK) != 0) {
		fprintf(stderr, "bench-kunit: need %s (tests/test-kunit builds it) and %s\n", log, uk);
		return 1;
	}
	tmp = mkdtemp(tmpl);
	if (!tmp)
		return 1;
	snprintf(cache, sizeof(cache), "%s/cache", tmp);

	/* warm up both: page cache, uml-kunit's test list and durations */
	snprintf(log, sizeof(log), "%s/warm.log", tmp);
	timed(log, NULL, "cd '%s' && /usr/bin/python3 '%s' exec --build_dir='%s'", tmp, kunit_py, dir);
	timed(log, NULL, "'%s' exec --build_dir='%s' --cache_dir='%s'", uk, dir, cache);
	for (int i = 0; i < runs; i++) {
		snprintf(log, sizeof(log), "%s/py-exec.log", tmp);
		py_exec[i] = timed(log, &st, "cd '%s' && /usr/bin/python3 '%s' exec --build_dir='%s'",
				   tmp, kunit_py, dir);
		snprintf(log, sizeof(log), "%s/uk-run.log", tmp);
		uk_run[i] = timed(log, &st, "'%s' run -q --source=%s --build_dir='%s' --cache_dir='%s' "
				  "--jobs=2", uk, TARBALL, dir, CACHE);
		if (st != 0)
			fprintf(stderr, "bench-kunit: uml-kunit run exited %d (see %s)\n", st, log);
		snprintf(log, sizeof(log), "%s/uk-exec.log", tmp);
		uk_exec[i] = timed(log, &st, "'%s' exec --build_dir='%s' --cache_dir='%s'", uk, dir,
				   CACHE);
	}
	printf("%-44s | %10s | %10s | %6s | %s\n", "metric", "libuml", "baseline", "ratio", "target");
	row("uml-kunit run (warm) vs kunit.py exec", bench_median(uk_run, runs),
	    bench_median(py_exec, runs), "s", "<= 0.6");
	row("uml-kunit exec vs kunit.py exec", bench_median(uk_exec, runs),
	    bench_median(py_exec, runs), "s", "");

	/* where the time goes, through the library */
	{
		struct uml_ctx *ctx;
		struct uml_kunit *k;
		struct uml_kernel *kernel;
		const char *const *names;
		size_t n, shards;
		double t0, t_list, t_run, t_run1, t_cfg;
		char path[4200];

		snprintf(path, sizeof(path), "%s/linux", dir);
		if (uml_ctx_new(&ctx) < 0 || uml_kernel_new_from_path(ctx, path, &kernel) < 0)
			return 1;
		/* the warm run's first part: the build found up to date */
		uml_kunit_new(ctx, &k);
		uml_kunit_set_source(k, TARBALL);
		uml_kunit_set_cache_dir(k, CACHE);
		uml_kunit_set_build_dir(k, dir);
		t0 = bench_now_s();
		if (uml_kunit_build(k) < 0)
			fprintf(stderr, "bench-kunit: %s\n", uml_kunit_last_error(k));
		t_cfg = bench_now_s() - t0;
		uml_kunit_unref(k);
		row("  up-to-date check (config + make stamps)", t_cfg, 0, "s", "");

		snprintf(path, sizeof(path), "%s/cold", tmp);
		uml_kunit_new(ctx, &k);
		uml_kunit_set_cache_dir(k, path);
		uml_kunit_set_kernel(k, kernel);
		t0 = bench_now_s();
		uml_kunit_list(k, &names, &n);
		t_list = bench_now_s() - t0;
		row("  listing boot (uncached; cached: 0)", t_list, 0, "s", "");
		uml_kunit_set_cache_dir(k, cache);
		uml_kunit_set_kernel(k, kernel);
		t0 = bench_now_s();
		uml_kunit_run(k);
		t_run = bench_now_s() - t0;
		shards = uml_kunit_get_n_shards(k);
		row("  the run alone (2 guests at once)", t_run, 0, "s", "");
		{
			const struct uml_ktap_test *root = uml_ktap_get_root(uml_kunit_get_result(k));
			double sum = 0, max = 0;

			for (size_t i = 0; i < uml_ktap_test_get_n_subtests(root); i++) {
				const struct uml_ktap_test *s = uml_ktap_test_get_subtest(root, i);

				for (size_t j = 0; j < uml_ktap_test_get_n_subtests(s); j++) {
					int64_t d = uml_ktap_test_get_duration_us(uml_ktap_test_get_subtest(s, j));

					if (d > 0) {
						sum += d / 1e6;
						if (d / 1e6 > max)
							max = d / 1e6;
					}
				}
			}
			printf("%-44s | %10zu | %10s | %6s | %s\n", "  guests booted", shards, "1", "", "");
			row("  test time in guests (sum of tests)", sum, 0, "s", "");
			row("  slowest single test", max, 0, "s", "");
			row("  guest overhead per guest (run*2 - sum)/n",
			    shards ? (t_run * 2 - sum) / (double)shards : 0, 0, "s", "");
		}
		uml_kunit_set_parallel(k, 1);
		t0 = bench_now_s();
		uml_kunit_run(k);
		t_run1 = bench_now_s() - t0;
		row("  the run alone, 1 guest at a time", t_run1, bench_median(py_exec, runs), "s", "");
		uml_kunit_unref(k);
		uml_kernel_unref(kernel);
		uml_ctx_unref(ctx);
	}

	if (crash_dir) {
		int ours, theirs;
		double a, b;

		snprintf(json, sizeof(json), "%s/crash-uk.json", tmp);
		snprintf(log, sizeof(log), "%s/crash-uk.log", tmp);
		a = timed(log, NULL, "'%s' exec --build_dir='%s' --cache_dir='%s' --json='%s'", uk,
			  crash_dir, cache, json);
		ours = json_cases(json);
		snprintf(json, sizeof(json), "%s/crash-py.json", tmp);
		snprintf(log, sizeof(log), "%s/crash-py.log", tmp);
		b = timed(log, NULL, "cd '%s' && /usr/bin/python3 '%s' exec --build_dir='%s' --json='%s'",
			  tmp, kunit_py, crash_dir, json);
		theirs = json_cases(json);
		printf("%-44s | %10d | %10d | %6s | %s\n", "crashing kernel: tests with a verdict", ours,
		       theirs, "", "all but the crash");
		row("crashing kernel: wall time", a, b, "s", "");
	}
	if (with_run) {
		/* kunit.py run needs the whole tree: the one the library unpacked */
		glob_t g;
		double a, b;

		if (glob(CACHE "/sources/linux-source-6.12-*/tools/testing/kunit/kunit.py", 0, NULL, &g)) {
			fprintf(stderr, "bench-kunit: no unpacked tree in %s/sources for -R\n", CACHE);
			return 1;
		}
		snprintf(log, sizeof(log), "%s/run-py.log", tmp);
		b = timed(log, NULL, "/usr/bin/python3 '%s' run --build_dir='%s' --jobs=2", g.gl_pathv[0],
			  dir);
		globfree(&g);
		snprintf(log, sizeof(log), "%s/run-uk.log", tmp);
		a = timed(log, NULL, "'%s' run -q --source=%s --build_dir='%s' --cache_dir='%s' --jobs=2",
			  uk, TARBALL, dir, CACHE);
		row("warm uml-kunit run vs warm kunit.py run", a, b, "s", "");
	}
	bench_rm_rf(tmp);
	return 0;
}

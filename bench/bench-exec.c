/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The exec channel.  Prints one table: metric | libuml | baseline | ratio | target.
 *
 *  - round trip of `true` in a booted busybox guest (median of RUNS), against
 *    what the guest itself needs to start and reap one process (a shell
 *    loop of /bin/true inside the guest, per iteration) and a channel round
 *    trip that starts no process (copying a small file out);
 *  - boot + one exec + halt, end to end, against the one-shot mode
 *    (uml_instance_set_run_command()) running the same command.
 *
 *   bench-exec [RUNS] [KERNEL]      (default 1000 round trips, the default kernel)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "stats.h"

#define E2E_RUNS 10
#define LOOP_N 200
#define now_ms bench_now_ms

/* Sorts v; returns the value at quantile q. */
static double quantile(double *v, int n, double q)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return v[(int)(q * (n - 1) + 0.5)];
}

static void die(struct uml_instance *vm, const char *what)
{
	fprintf(stderr, "bench-exec: %s: %s\n", what, vm ? uml_instance_last_error(vm) : "");
	exit(1);
}

static struct uml_instance *boot(struct uml_kernel *k, struct uml_rootfs *img, const char *run)
{
	struct uml_instance *vm;

	if (uml_instance_new(k, &vm) < 0 || uml_instance_set_rootfs(vm, img) < 0)
		die(NULL, "instance");
	if (run ? uml_instance_set_run_command(vm, run) < 0 : uml_instance_enable_exec(vm) < 0)
		die(vm, "configure");
	if (uml_instance_boot(vm) < 0)
		die(vm, "boot");
	return vm;
}

static void exec_ok(struct uml_instance *vm, const char *const *argv)
{
	struct uml_exec *e = NULL;

	if (uml_instance_exec(vm, argv, NULL, 0, 60000, &e) < 0)
		die(vm, "exec");
	if (uml_exec_get_status(e) != 0)
		die(vm, "command failed");
	uml_exec_unref(e);
}

int main(int argc, char **argv)
{
	static const char *const t[] = { "true", NULL };
	char loop[128];
	const char *const shloop[] = { "sh", "-c", loop, NULL };
	int runs = argc > 1 ? atoi(argv[1]) : 1000;
	char dir[] = "/tmp/bench-exec-XXXXXX", out[160];
	struct uml_ctx *ctx;
	struct uml_kernel *k;
	struct uml_rootfs *img;
	struct uml_instance *vm;
	double *rt, *get, e2e[E2E_RUNS], oneshot[E2E_RUNS], t0, spawn_ms;

	if (runs < 1 || !mkdtemp(dir))
		return 1;
	snprintf(out, sizeof(out), "%s/hostname", dir);
	snprintf(loop, sizeof(loop), "i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done",
		 LOOP_N);
	bench_busybox_setup(dir, argc > 2 ? argv[2] : NULL, &ctx, &k, &img);
	rt = calloc((size_t)runs, sizeof(double));
	get = calloc((size_t)runs, sizeof(double));

	/* round trips in one booted guest */
	vm = boot(k, img, NULL);
	if (uml_instance_wait_ready(vm, 60000) < 0)
		die(vm, "ready");
	for (int i = 0; i < 20; i++)	/* warm the page cache */
		exec_ok(vm, t);
	for (int i = 0; i < runs; i++) {
		t0 = now_ms();
		exec_ok(vm, t);
		rt[i] = now_ms() - t0;
		t0 = now_ms();
		if (uml_instance_copy_out(vm, "/etc/hostname", out) < 0)
			die(vm, "copy out");
		get[i] = now_ms() - t0;
	}
	t0 = now_ms();
	exec_ok(vm, shloop);
	spawn_ms = (now_ms() - t0) / LOOP_N;
	uml_instance_halt(vm, -1);
	uml_instance_unref(vm);

	/* boot + one command + halt: exec channel against the one-shot mode */
	for (int i = 0; i < E2E_RUNS; i++) {
		t0 = now_ms();
		vm = boot(k, img, NULL);
		exec_ok(vm, t);
		uml_instance_halt(vm, -1);
		e2e[i] = now_ms() - t0;
		uml_instance_unref(vm);

		t0 = now_ms();
		vm = boot(k, img, "true");
		uml_instance_wait(vm, 60000);
		oneshot[i] = now_ms() - t0;
		{
			int st = -1;

			if (uml_instance_get_run_status(vm, &st) < 0 || st != 0)
				die(vm, "one-shot run");
		}
		uml_instance_unref(vm);
	}

	{
		double m = bench_median(rt, runs), g = bench_median(get, runs);
		double e = bench_median(e2e, E2E_RUNS), o = bench_median(oneshot, E2E_RUNS);

		printf("%-48s | %10s | %10s | %7s | %s\n", "metric (median)", "libuml", "baseline",
		       "ratio", "target");
		printf("%-48s | %7.2f ms | %7.2f ms | %7.3f | <= 5 ms %s\n",
		       "exec `true` round trip", m, spawn_ms, m / spawn_ms,
		       m <= 5 ? "(met)" : "(not met)");
		printf("%-48s | %7.2f ms | %10s | %7s |\n", "  p10", quantile(rt, runs, 0.1), "", "");
		printf("%-48s | %7.2f ms | %10s | %7s |\n", "  p90", quantile(rt, runs, 0.9), "", "");
		printf("%-48s | %7.2f ms | %7.2f ms | %7.3f |\n",
		       "channel round trip, no process (copy out 4 B)", g, spawn_ms, g / spawn_ms);
		printf("%-48s | %7.1f ms | %7.1f ms | %7.3f |\n", "boot + exec `true` + halt", e, o,
		       e / o);
		printf("baselines: exec round trips against the guest's own cost of one /bin/true "
		       "(a shell loop of %d inside it); boot+exec+halt against the one-shot mode "
		       "(uml_instance_set_run_command)\n", LOOP_N);
	}
	printf("(%d round trips, %d end-to-end runs each, kernel %s)\n", runs, E2E_RUNS,
	       uml_kernel_get_path(k));
	uml_rootfs_unref(img);
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
	free(rt);
	free(get);
	return bench_rm_rf(dir) == 0 ? 0 : 1;
}

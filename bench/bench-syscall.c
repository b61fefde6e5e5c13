/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The guest-syscall path: the ptrace() interposer libuml loads into the
 * kernel process (libuml/hostcompat-preload.c) against the same source
 * built with -DHOSTCOMPAT_WIDEN_ONLY (what libuml 0.1 loaded: it only
 * widens the XSAVE write), and against no interposer at all where the host
 * boots without one.  Each guest runs `dd bs=1` (two syscalls per byte)
 * through the exec channel; the guests are booted once and the runs
 * interleave, so drift on the machine hits every side alike.  Both wall
 * time and the host CPU time of the kernel's process tree are measured:
 * the CPU figure is the steadier one on a shared machine.
 *
 *   bench-syscall [-n SYSCALLS] [-r RUNS] [-k KERNEL]   (40000, 7, default kernel)
 *
 * Run from the build dir (or set UML_TEST_BUILDDIR): the widen-only
 * interposer is bench/uml-hostcompat-widen-only.so there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "stats.h"

enum side { IMPROVED, WIDEN_ONLY, NONE, N_SIDES };

static const char *const side_name[N_SIDES] = {
	"improved interposer", "widen-only interposer (0.1)", "no interposer"
};

/* CPU ms of a process and the children it reaped; -1 if unknown */
static double cpu_ms(pid_t pid)
{
	char path[64], buf[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return bench_stat_cpu_ms(buf);
}

static struct uml_instance *boot(struct uml_ctx *ctx, struct uml_kernel *k,
				 struct uml_rootfs *base, const char *dir, enum side s,
				 const char *widen_only)
{
	struct uml_rootfs *cow;
	struct uml_instance *vm;
	char path[4096];

	snprintf(path, sizeof(path), "%s/side-%d.cow", dir, (int)s);
	if (uml_rootfs_new_cow(base, path, UML_ROOTFS_CREATE_OVERWRITE, &cow) < 0) {
		fprintf(stderr, "overlay: %s\n", uml_rootfs_last_error(base));
		exit(1);
	}
	/* libuml hands its own interposer over when forced; the old one goes in LD_PRELOAD */
	uml_ctx_set_hostcompat(ctx, s == IMPROVED ? UML_HOSTCOMPAT_FORCE : UML_HOSTCOMPAT_OFF);
	if (s == WIDEN_ONLY)
		setenv("LD_PRELOAD", widen_only, 1);
	else
		unsetenv("LD_PRELOAD");
	if (uml_instance_new(k, &vm) < 0 || uml_instance_set_rootfs(vm, cow) < 0 ||
	    uml_instance_set_memory(vm, 64 << 20) < 0 || uml_instance_enable_exec(vm) < 0 ||
	    uml_instance_boot(vm) < 0 || uml_instance_wait_ready(vm, 120000) < 0) {
		fprintf(stderr, "boot (%s): %s\n", side_name[s], uml_instance_last_error(vm));
		exit(1);
	}
	unsetenv("LD_PRELOAD");
	uml_rootfs_unref(cow);
	return vm;
}

/* Runs dd in the guest; its wall time in ms, the kernel tree's CPU in ms. */
static void run_dd(struct uml_instance *vm, int syscalls, double *wall, double *cpu)
{
	char count[64];
	const char *argv[] = { "dd", "if=/dev/zero", "of=/dev/null", "bs=1", count, NULL };
	struct uml_exec *e;
	pid_t pid = uml_instance_get_pid(vm);
	double t0, c0;

	snprintf(count, sizeof(count), "count=%d", syscalls / 2);
	c0 = cpu_ms(pid);
	t0 = bench_now_ms();
	if (uml_instance_exec(vm, argv, NULL, 0, 0, &e) < 0 || uml_exec_get_status(e) != 0) {
		fprintf(stderr, "dd in the guest failed: %s\n", uml_instance_last_error(vm));
		exit(1);
	}
	*wall = bench_now_ms() - t0;
	*cpu = cpu_ms(pid) - c0;
	uml_exec_unref(e);
}

static void row(const char *metric, double a, double b, const char *unit, const char *target)
{
	printf("%-52s | %8.1f %s | %8.1f %s | %6.3f | %s\n", metric, a, unit, b, unit, a / b,
	       target);
}

int main(int argc, char **argv)
{
	const char *kernel = NULL, *builddir = getenv("UML_TEST_BUILDDIR");
	int syscalls = 40000, runs = 7, opt;
	char dir[] = "/tmp/bench-syscall-XXXXXX", widen_only[4096];
	struct uml_instance *vm[N_SIDES] = { 0 };
	double *wall[N_SIDES], *cpu[N_SIDES], mw[N_SIDES], mc[N_SIDES];
	struct uml_ctx *ctx;
	struct uml_kernel *k;
	struct uml_rootfs *img;
	int sides;

	while ((opt = getopt(argc, argv, "n:r:k:")) != -1) {
		switch (opt) {
		case 'n': syscalls = atoi(optarg); break;
		case 'r': runs = atoi(optarg); break;
		case 'k': kernel = optarg; break;
		default:
			fprintf(stderr, "usage: bench-syscall [-n SYSCALLS] [-r RUNS] [-k KERNEL]\n");
			return 2;
		}
	}
	if (syscalls < 2 || runs < 1 || !mkdtemp(dir))
		return 1;
	snprintf(widen_only, sizeof(widen_only), "%s/bench/uml-hostcompat-widen-only.so",
		 builddir ? builddir : ".");
	if (access(widen_only, R_OK) < 0) {
		fprintf(stderr, "%s: %s (run from the build dir)\n", widen_only, strerror(errno));
		return 1;
	}
	bench_busybox_setup(dir, kernel, &ctx, &k, &img);
	/* where the host needs the fix, a kernel without it dies at PID 1 */
	sides = uml_ctx_host_needs_compat(ctx) ? NONE : N_SIDES;
	for (int s = 0; s < sides; s++) {
		vm[s] = boot(ctx, k, img, dir, (enum side)s, widen_only);
		wall[s] = calloc((size_t)runs, sizeof(double));
		cpu[s] = calloc((size_t)runs, sizeof(double));
	}
	for (int i = 0; i < runs; i++)
		for (int j = 0; j < sides; j++) {
			int s = (i + j) % sides;	/* rotate who goes first */

			run_dd(vm[s], syscalls, &wall[s][i], &cpu[s][i]);
		}
	for (int s = 0; s < sides; s++) {
		mw[s] = bench_median(wall[s], runs);
		mc[s] = bench_median(cpu[s], runs);
	}
	char m[128];

	printf("%-52s | %11s | %11s | %6s | %s\n", "metric", "libuml", "baseline", "ratio",
	       "target");
	snprintf(m, sizeof(m), "%d guest syscalls (dd bs=1), wall, median", syscalls);
	row(m, mw[IMPROVED], mw[WIDEN_ONLY], "ms", "<= 0.85 (baseline: widen-only)");
	snprintf(m, sizeof(m), "%d guest syscalls, host CPU, median", syscalls);
	row(m, mc[IMPROVED], mc[WIDEN_ONLY], "ms", "<= 0.85 (baseline: widen-only)");
	row("  per syscall, wall", mw[IMPROVED] * 1000 / syscalls,
	    mw[WIDEN_ONLY] * 1000 / syscalls, "us", "");
	if (sides == N_SIDES) {
		row("  wall, against no interposer", mw[IMPROVED], mw[NONE], "ms",
		    "(host without AMX: none needed)");
		row("  host CPU, against no interposer", mc[IMPROVED], mc[NONE], "ms", "");
	}
	printf("(%d runs each, interleaved; kernel %s; host %s AMX, so the interposer %s)\n",
	       runs, uml_kernel_get_path(k), uml_ctx_host_needs_compat(ctx) ? "with" : "without",
	       uml_ctx_host_needs_compat(ctx) ? "widens" : "was forced on and has nothing to widen");
	for (int s = 0; s < sides; s++) {
		uml_instance_kill(vm[s]);
		uml_instance_unref(vm[s]);
		free(wall[s]);
		free(cpu[s]);
	}
	uml_rootfs_unref(img);
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
	return bench_rm_rf(dir) == 0 ? 0 : 1;
}

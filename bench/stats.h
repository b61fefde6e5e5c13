/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Timing, medians and the scratch setup shared by the benchmark programs. */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uml/libuml.h>

/* CLOCK_MONOTONIC in milliseconds */
static inline double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CLOCK_MONOTONIC in seconds */
static inline double bench_now_s(void)
{
	return bench_now_ms() / 1e3;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Sorts v and returns its median. */
static inline double bench_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * What most programs boot: a context whose runtime dir is DIR/run, the
 * kernel at kernel_path (NULL: the default kernel) and a busybox guest in
 * DIR/busybox.img.  Exits with the library's message when any is missing.
 */
static inline void bench_busybox_setup(const char *dir, const char *kernel_path,
				       struct uml_ctx **ctx, struct uml_kernel **k,
				       struct uml_rootfs **img)
{
	char rundir[4096], image[4096];

	snprintf(rundir, sizeof(rundir), "%s/run", dir);
	snprintf(image, sizeof(image), "%s/busybox.img", dir);
	if (uml_ctx_new(ctx) < 0)
		exit(1);
	if (uml_ctx_set_runtime_dir(*ctx, rundir) < 0 ||
	    (kernel_path ? uml_kernel_new_from_path(*ctx, kernel_path, k)
			 : uml_kernel_new_default(*ctx, k)) < 0 ||
	    uml_rootfs_new(*ctx, image, img) < 0 || uml_rootfs_create_busybox(*img, NULL, 0) < 0) {
		fprintf(stderr, "setup: %s\n", uml_ctx_last_error(*ctx));
		exit(1);
	}
}

/*
 * utime+stime+cutime+cstime in ms from the text of a /proc/PID/stat (its
 * own CPU and that of the children it reaped); -1 if it does not parse.
 */
static inline double bench_stat_cpu_ms(const char *stat)
{
	/* the command may hold spaces and parentheses: fields start after the last ')' */
	const char *p = strrchr(stat, ')');
	unsigned long ut, st;
	long cut, cst;

	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld",
			 &ut, &st, &cut, &cst) != 4)
		return -1;
	return ((double)ut + st + cut + cst) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* Removes a scratch dir of the program's (made by mkdtemp); 0 when gone. */
static inline int bench_rm_rf(const char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel builds and what they buy: cold builds of the fast preset and of
 * defconfig from Debian's linux-source tarball, no-op rebuilds, and
 * boot-to-ready of the same busybox guest on the fast kernel (with and
 * without lpj=) and on Debian's stock /usr/bin/linux.uml.  Prints one table.
 *
 *   bench-kernel-build [-n BOOTS] [-j JOBS] [-s SOURCE] [-D]
 *     -D  skip the defconfig build (~3.5 min on 2 cores)
 *
 * Everything is built in a fresh directory below $TMPDIR (default /var/tmp),
 * removed at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uml/libuml.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void row(const char *metric, const char *value, const char *note)
{
	printf("| %-44s | %-26s | %-40s |\n", metric, value, note);
}

static void row_ms(const char *metric, double ms, const char *note)
{
	char v[64];

	if (ms >= 10000)
		snprintf(v, sizeof(v), "%.1f s (%d:%02d)", ms / 1000, (int)(ms / 60000),
			 (int)(ms / 1000) % 60);
	else
		snprintf(v, sizeof(v), "%.0f ms", ms);
	row(metric, v, note);
}

static int unpacked;

static int on_progress(void *userdata, const struct uml_progress *p)
{
	if (strcmp(p->phase, "unpack") == 0)
		unpacked = 1;
	return 0;
}

/* Builds one preset; returns the wall time in ms, the kernel in *ret. */
static double build(struct uml_ctx *ctx, const char *source, const char *cache, const char *dir,
		    const char *preset, unsigned jobs, int *up_to_date, struct uml_kernel **ret)
{
	struct uml_kernel_build *kb;
	double t0, t;

	if (uml_kernel_build_new(ctx, &kb) < 0 || uml_kernel_build_set_source(kb, source) < 0 ||
	    uml_kernel_build_set_cache_dir(kb, cache) < 0 ||
	    uml_kernel_build_set_build_dir(kb, dir) < 0 ||
	    uml_kernel_build_set_preset(kb, preset) < 0 || uml_kernel_build_set_jobs(kb, jobs) < 0)
		exit(1);
	t0 = now_ms();
	if (uml_kernel_build_run(kb, ret) < 0) {
		fprintf(stderr, "%s build failed: %s\n", preset, uml_kernel_build_last_error(kb));
		exit(1);
	}
	t = now_ms() - t0;
	*up_to_date = uml_kernel_build_was_up_to_date(kb);
	uml_kernel_build_unref(kb);
	return t;
}

/* Boot-to-ready of one guest; the console log goes to *log if asked. */
static double boot(struct uml_kernel *k, struct uml_rootfs *img, const char *arg, char **log)
{
	struct uml_instance *vm;
	double t0, t;

	if (uml_instance_new(k, &vm) < 0 || uml_instance_set_rootfs(vm, img) < 0 ||
	    (arg && uml_instance_append_arg(vm, arg) < 0))
		exit(1);
	t0 = now_ms();
	if (uml_instance_boot(vm) < 0 || uml_instance_wait_ready(vm, 60000) < 0) {
		fprintf(stderr, "boot of %s failed: %s\n%s\n", uml_kernel_get_path(k),
			uml_instance_last_error(vm), uml_instance_get_console_log(vm, NULL));
		exit(1);
	}
	t = now_ms() - t0;
	if (log)
		*log = strdup(uml_instance_get_console_log(vm, NULL));
	uml_instance_kill(vm);
	uml_instance_unref(vm);
	return t;
}

struct series {
	const char *name;
	struct uml_kernel *k;
	const char *arg;
	double *t;
};

int main(int argc, char **argv)
{
	const char *source = "/usr/src/linux-source-6.12.tar.xz";
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	char work[512], cache[600], fastdir[600], defdir[600], image[600], run[600], lpj[64] = "";
	int boots = 20, skip_defconfig = 0, utd, opt;
	unsigned jobs = 2;
	struct uml_ctx *ctx;
	struct uml_kernel *fast = NULL, *def = NULL, *stock = NULL;
	struct uml_rootfs *img;
	struct series s[4];
	size_t n_series = 0;
	char *log = NULL, *p, note[128];
	double t;

	while ((opt = getopt(argc, argv, "n:j:s:D")) != -1) {
		switch (opt) {
		case 'n': boots = atoi(optarg); break;
		case 'j': jobs = (unsigned)atoi(optarg); break;
		case 's': source = optarg; break;
		case 'D': skip_defconfig = 1; break;
		default:
			fprintf(stderr, "usage: %s [-n BOOTS] [-j JOBS] [-s SOURCE] [-D]\n", argv[0]);
			return 2;
		}
	}
	if (boots < 1)
		return 2;
	snprintf(work, sizeof(work), "%s/bench-kernel-build-XXXXXX", tmp);
	if (!mkdtemp(work))
		return 1;
	snprintf(cache, sizeof(cache), "%s/cache", work);
	snprintf(fastdir, sizeof(fastdir), "%s/fast", work);
	snprintf(defdir, sizeof(defdir), "%s/defconfig", work);
	snprintf(image, sizeof(image), "%s/busybox.img", work);
	snprintf(run, sizeof(run), "%s/run", work);
	if (uml_ctx_new(&ctx) < 0 || uml_ctx_set_runtime_dir(ctx, run) < 0)
		return 1;
	uml_ctx_set_progress_fn(ctx, on_progress, NULL);

	printf("| %-44s | %-26s | %-40s |\n", "metric", "value", "notes");
	printf("|%.46s|%.28s|%.42s|\n", "----------------------------------------------",
	       "----------------------------", "------------------------------------------");
	fflush(stdout);

	t = build(ctx, source, cache, fastdir, "fast", jobs, &utd, &fast);
	snprintf(note, sizeof(note), "-j%u, includes unpacking the tarball", jobs);
	row_ms("cold build, fast preset", t, note);
	fflush(stdout);
	t = build(ctx, source, cache, fastdir, "fast", jobs, &utd, &fast);
	row_ms("no-op rebuild, fast preset", t, utd ? "no make run" : "make ran (unexpected)");
	fflush(stdout);
	if (!skip_defconfig) {
		struct uml_kernel *k;

		t = build(ctx, source, cache, defdir, "defconfig", jobs, &utd, &def);
		snprintf(note, sizeof(note), "-j%u, tarball already unpacked", jobs);
		row_ms("cold build, defconfig", t, note);
		fflush(stdout);
		t = build(ctx, source, cache, defdir, "defconfig", jobs, &utd, &k);
		row_ms("no-op rebuild, defconfig", t, utd ? "no make run" : "make ran (unexpected)");
		uml_kernel_unref(k);
		fflush(stdout);
	}

	if (uml_rootfs_new(ctx, image, &img) < 0 || uml_rootfs_create_busybox(img, NULL, 0) < 0) {
		fprintf(stderr, "busybox image: %s\n", uml_ctx_last_error(ctx));
		return 1;
	}
	/* the kernel prints its calibrated loops per jiffy: lpj= skips that */
	boot(fast, img, NULL, &log);
	p = log ? strstr(log, "(lpj=") : NULL;
	if (p)
		snprintf(lpj, sizeof(lpj), "lpj=%lu", strtoul(p + 5, NULL, 10));
	free(log);
	s[n_series++] = (struct series){ .name = "boot-to-ready, fast kernel", .k = fast };
	if (lpj[0])
		s[n_series++] = (struct series){ .name = "boot-to-ready, fast kernel + lpj=", .k = fast, .arg = lpj };
	if (uml_kernel_new_from_path(ctx, "/usr/bin/linux.uml", &stock) == 0) {
		s[n_series++] = (struct series){ .name = "boot-to-ready, Debian linux.uml", .k = stock };
		if (lpj[0])
			s[n_series++] = (struct series){
				.name = "boot-to-ready, Debian linux.uml + lpj=", .k = stock, .arg = lpj };
	}
	for (size_t i = 0; i < n_series; i++)
		s[i].t = calloc((size_t)boots, sizeof(double));
	/* interleave so drift on the machine hits all alike */
	for (int r = 0; r < boots; r++)
		for (size_t i = 0; i < n_series; i++)
			s[i].t[r] = boot(s[i].k, img, s[i].arg, NULL);
	for (size_t i = 0; i < n_series; i++) {
		char v[64];

		qsort(s[i].t, (size_t)boots, sizeof(double), cmp_double);
		snprintf(v, sizeof(v), "%.1f ms median", s[i].t[boots / 2]);
		snprintf(note, sizeof(note), "min %.1f, max %.1f, n=%d%s%s", s[i].t[0],
			 s[i].t[boots - 1], boots, s[i].arg ? ", " : "", s[i].arg ? s[i].arg : "");
		row(s[i].name, v, note);
		free(s[i].t);
	}

	uml_rootfs_unref(img);
	uml_kernel_unref(fast);
	uml_kernel_unref(def);
	uml_kernel_unref(stock);
	uml_ctx_unref(ctx);
	snprintf(run, sizeof(run), "rm -rf '%s'", work);
	return system(run) == 0 ? 0 : 1;
}

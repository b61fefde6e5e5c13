/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel builds and what they buy: cold builds of the fast preset and of
 * defconfig from Debian's linux-source tarball, no-op rebuilds, and
 * boot-to-ready of the same busybox guest on the fast kernel and on
 * Debian's stock /usr/bin/linux.uml, each also with lpj=0 (the delay-loop
 * calibration libuml skips by passing lpj=).  Prints one table.
 *
 *   bench-kernel-build [-n BOOTS] [-j JOBS] [-s SOURCE] [-D] [-c CACHE]
 *     -D  skip the defconfig build (~3.5 min on 2 cores)
 *     -c  reuse CACHE (its fast/ and defconfig/ build dirs) and report
 *         only rebuilds and boots, e.g. the test cache /var/cache/libuml-test
 *
 * Without -c everything is built in a fresh directory below $TMPDIR
 * (default /var/tmp), removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "stats.h"

/* One row of the table every benchmark of the project prints. */
static void row(const char *metric, double value, double baseline, const char *unit,
		const char *target)
{
	char v[32], bl[32], ratio[16] = "";
	double scale = strcmp(unit, "s") == 0 ? 1000 : 1;

	snprintf(v, sizeof(v), scale > 1 ? "%.2f %s" : "%.1f %s", value / scale, unit);
	snprintf(bl, sizeof(bl), baseline > 0 ? "%.1f %s" : "-", baseline / scale, unit);
	if (baseline > 0)
		snprintf(ratio, sizeof(ratio), "%.3f", value / baseline);
	printf("%-44s | %10s | %10s | %6s | %s\n", metric, v, bl, ratio, target);
}

/* when the last build left the "unpack" phase, to time the unpack alone */
static double unpack_end;

static int on_progress(void *userdata, const struct uml_progress *p)
{
	if (strcmp(p->phase, "unpack") != 0 && unpack_end == 0)
		unpack_end = bench_now_ms();
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
	unpack_end = 0;
	t0 = bench_now_ms();
	if (uml_kernel_build_run(kb, ret) < 0) {
		fprintf(stderr, "%s build failed: %s\n", preset, uml_kernel_build_last_error(kb));
		exit(1);
	}
	t = bench_now_ms() - t0;
	unpack_end = unpack_end ? unpack_end - t0 : 0;
	*up_to_date = uml_kernel_build_was_up_to_date(kb);
	uml_kernel_build_unref(kb);
	return t;
}

/*
 * Helpers of the guest killed just before may still hold the image's lock
 * for a moment; wait for it outside the timed part.
 */
static void wait_disk_free(const char *path)
{
	for (int i = 0; i < 500; i++) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = open(path, O_RDWR | O_CLOEXEC);
		int r = fd >= 0 ? fcntl(fd, F_SETLK, &fl) : -1;

		if (fd >= 0)
			close(fd);
		if (r == 0)
			return;
		usleep(10000);
	}
}

/* Boot-to-ready of one guest; the console log goes to *log if asked. */
static double boot(struct uml_kernel *k, struct uml_rootfs *img, const char *arg, char **log)
{
	struct uml_instance *vm;
	double t0, t;

	if (uml_instance_new(k, &vm) < 0 || uml_instance_set_rootfs(vm, img) < 0 ||
	    (arg && uml_instance_append_arg(vm, arg) < 0))
		exit(1);
	wait_disk_free(uml_rootfs_get_path(img));
	t0 = bench_now_ms();
	if (uml_instance_boot(vm) < 0 || uml_instance_wait_ready(vm, 60000) < 0) {
		fprintf(stderr, "boot of %s failed: %s\n%s\n", uml_kernel_get_path(k),
			uml_instance_last_error(vm), uml_instance_get_console_log(vm, NULL));
		exit(1);
	}
	t = bench_now_ms() - t0;
	if (log)
		*log = strdup(uml_instance_get_console_log(vm, NULL));
	uml_instance_kill(vm);
	uml_instance_unref(vm);
	return t;
}

/* the fresh work dir, removed however the program ends */
static char work[512];

static void remove_work(void)
{
	if (work[0] && bench_rm_rf(work) != 0)
		fprintf(stderr, "could not remove %s\n", work);
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
	char cache[600], fastdir[700], defdir[700], image[600], run[600], lpj[64] = "";
	const char *reuse = NULL;
	int boots = 20, skip_defconfig = 0, utd, opt;
	unsigned jobs = 2;
	struct uml_ctx *ctx;
	struct uml_kernel *fast = NULL, *stock = NULL, *k;
	double fast_cold, fast_noop, def_cold = 0, def_noop = 0, unpack;
	int fast_noop_ok, def_noop_ok = 0;
	struct uml_rootfs *img;
	struct series s[4];
	size_t n_series = 0;
	char *log = NULL, *p, note[128];

	while ((opt = getopt(argc, argv, "n:j:s:Dc:")) != -1) {
		switch (opt) {
		case 'n': boots = atoi(optarg); break;
		case 'j': jobs = (unsigned)atoi(optarg); break;
		case 's': source = optarg; break;
		case 'D': skip_defconfig = 1; break;
		case 'c': reuse = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-n BOOTS] [-j JOBS] [-s SOURCE] [-D] [-c CACHE]\n",
				argv[0]);
			return 2;
		}
	}
	if (boots < 1)
		return 2;
	snprintf(work, sizeof(work), "%s/bench-kernel-build-XXXXXX", tmp);
	if (!mkdtemp(work))
		return 1;
	atexit(remove_work);
	snprintf(cache, sizeof(cache), "%s", reuse ? reuse : work);
	snprintf(fastdir, sizeof(fastdir), "%s/fast", cache);
	snprintf(defdir, sizeof(defdir), "%s/defconfig", cache);
	snprintf(image, sizeof(image), "%s/busybox.img", work);
	snprintf(run, sizeof(run), "%s/run", work);
	if (uml_ctx_new(&ctx) < 0 || uml_ctx_set_runtime_dir(ctx, run) < 0)
		return 1;
	uml_ctx_set_progress_fn(ctx, on_progress, NULL);

	fprintf(stderr, "building the fast preset%s...\n", reuse ? "" : " (cold)");
	fast_cold = build(ctx, source, cache, fastdir, "fast", jobs, &utd, &fast);
	unpack = unpack_end;
	fast_noop = build(ctx, source, cache, fastdir, "fast", jobs, &utd, &k);
	fast_noop_ok = utd;
	uml_kernel_unref(k);
	if (!skip_defconfig) {
		fprintf(stderr, "building defconfig (cold)...\n");
		def_cold = build(ctx, source, cache, defdir, "defconfig", jobs, &utd, &k);
		uml_kernel_unref(k);
		def_noop = build(ctx, source, cache, defdir, "defconfig", jobs, &utd, &k);
		def_noop_ok = utd;
		uml_kernel_unref(k);
	}

	fprintf(stderr, "booting...\n");
	if (uml_rootfs_new(ctx, image, &img) < 0 || uml_rootfs_create_busybox(img, NULL, 0) < 0) {
		fprintf(stderr, "busybox image: %s\n", uml_ctx_last_error(ctx));
		return 1;
	}
	/*
	 * libuml passes lpj= for the host by itself, which skips the delay-loop
	 * calibration; "lpj=0" from the caller brings the calibration back.
	 */
	boot(fast, img, NULL, &log);
	p = log ? strstr(log, "(lpj=") : NULL;
	if (p)
		snprintf(lpj, sizeof(lpj), "lpj=%lu", strtoul(p + 5, NULL, 10));
	free(log);
	s[n_series++] = (struct series){ .name = "fast", .k = fast };
	s[n_series++] = (struct series){ .name = "fast, calibrating", .k = fast, .arg = "lpj=0" };
	if (uml_kernel_new_from_path(ctx, "/usr/bin/linux.uml", &stock) == 0) {
		s[n_series++] = (struct series){ .name = "stock", .k = stock };
		s[n_series++] = (struct series){ .name = "stock, calibrating", .k = stock,
						  .arg = "lpj=0" };
	}
	for (size_t i = 0; i < n_series; i++)
		s[i].t = calloc((size_t)boots, sizeof(double));
	/* interleave so drift on the machine hits all alike */
	for (int r = 0; r < boots; r++)
		for (size_t i = 0; i < n_series; i++)
			s[i].t[r] = boot(s[i].k, img, s[i].arg, NULL);
	for (size_t i = 0; i < n_series; i++)
		qsort(s[i].t, (size_t)boots, sizeof(double), bench_cmp_double);
#define MEDIAN(i) (s[i].t[boots / 2])

	printf("%-44s | %10s | %10s | %6s | %s\n", "metric", "libuml", "baseline", "ratio", "target");
	snprintf(note, sizeof(note), "baseline: defconfig, -j%u", jobs);
	if (!reuse) {
		row("cold build, fast preset (incl. unpack)", fast_cold, def_cold, "s", note);
		row("  of which: unpack the tarball", unpack, 0, "s", "once per tarball");
	}
	row("no-op rebuild, fast preset", fast_noop, reuse ? 0 : fast_cold, "s",
	    fast_noop_ok ? "<= 2 s; no make run" : "<= 2 s; MAKE RAN");
	if (!skip_defconfig) {
		if (!reuse)
			row("cold build, defconfig", def_cold, 0, "s", "tarball already unpacked");
		row("no-op rebuild, defconfig", def_noop, reuse ? 0 : def_cold, "s",
		    def_noop_ok ? "<= 2 s; no make run" : "<= 2 s; MAKE RAN");
	}
	snprintf(note, sizeof(note), "<= 20 ms; baseline: Debian linux.uml%s",
		 stock ? "" : " (missing)");
	row("boot-to-ready, fast kernel (median)", MEDIAN(0), stock ? MEDIAN(2) : 0, "ms", note);
	row("  min", s[0].t[0], stock ? s[2].t[0] : 0, "ms", "");
	row("boot-to-ready, fast kernel, lpj=0 (median)", MEDIAN(1), MEDIAN(0), "ms",
	    "calibrating delay loop; baseline: with lpj=");
	if (stock)
		row("boot-to-ready, Debian linux.uml, lpj=0", MEDIAN(3), MEDIAN(2), "ms",
		    "calibrating; baseline: with lpj=");
	printf("(busybox guest from uml_rootfs_create_busybox(), %d boots each, interleaved; "
	       "libuml passed %s; kernel %s)\n", boots, lpj[0] ? lpj : "no lpj",
	       uml_kernel_get_path(fast));
	for (size_t i = 0; i < n_series; i++)
		free(s[i].t);

	uml_rootfs_unref(img);
	uml_kernel_unref(fast);
	uml_kernel_unref(stock);
	uml_ctx_unref(ctx);
	return 0;
}

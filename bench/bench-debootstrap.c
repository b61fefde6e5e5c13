/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-debootstrap: a Debian guest (bookworm minbase + systemd-sysv)
 * built through libuml with a cold cache (download, install, image), then
 * with the warm cache (a copy of the recipe's installed image and the
 * configuration), against a plain
 * `debootstrap --variant=minbase --include=systemd-sysv bookworm DIR`
 * run by hand (the baseline: no image, no cache).
 *
 * usage: bench-debootstrap [-s SUITE] [-B]
 *   -s SUITE  the suite (default bookworm)
 *   -B        skip the plain debootstrap baseline
 *
 * Needs root and the mirror apt uses.  Works in a directory below $TMPDIR
 * (or /var/tmp) that is removed at the end.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uml/libuml.h"

#include "stats.h"

/* One libuml build into work/NAME.img with the cache in work/cache; seconds or < 0. */
static double build(struct uml_ctx *ctx, const char *work, const char *name, const char *suite,
		    int *cached)
{
	struct uml_rootfs *rootfs;
	char img[512], cache[512];
	double t0, t;

	snprintf(img, sizeof(img), "%s/%s.img", work, name);
	snprintf(cache, sizeof(cache), "%s/cache", work);
	if (uml_rootfs_new(ctx, img, &rootfs) < 0)
		return -1;
	uml_rootfs_set_cache_dir(rootfs, cache);
	uml_rootfs_set_variant(rootfs, "minbase");
	uml_rootfs_add_package(rootfs, "systemd-sysv");
	uml_rootfs_set_hostname(rootfs, "bench");
	t0 = bench_now_s();
	if (uml_rootfs_create_debootstrap(rootfs, suite, 0) < 0) {
		fprintf(stderr, "libuml: %s\n", uml_rootfs_last_error(rootfs));
		uml_rootfs_unref(rootfs);
		return -1;
	}
	t = bench_now_s() - t0;
	*cached = uml_rootfs_debootstrap_was_cached(rootfs);
	uml_rootfs_unref(rootfs);
	unlink(img);
	return t;
}

/* Plain debootstrap into work/plain; seconds or < 0. */
static double plain(const char *work, const char *suite, const char *mirror)
{
	char dir[600];
	double t0 = bench_now_s();
	pid_t pid;
	int status;

	snprintf(dir, sizeof(dir), "%s/plain", work);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout))
			_exit(127);
		execl("/usr/sbin/debootstrap", "debootstrap", "--variant=minbase",
		      "--include=systemd-sysv", suite, dir, mirror, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return bench_now_s() - t0;
}

int main(int argc, char **argv)
{
	const char *suite = "bookworm", *tmp = getenv("TMPDIR");
	struct uml_ctx *ctx;
	struct uml_rootfs *probe;
	char work[512], cmd[600], mirror[512];
	double cold, warm, base = -1;
	int opt, no_base = 0, cold_cached = -1, warm_cached = -1;

	while ((opt = getopt(argc, argv, "s:B")) != -1) {
		if (opt == 's')
			suite = optarg;
		else if (opt == 'B')
			no_base = 1;
		else
			return 2;
	}
	if (geteuid() != 0) {
		printf("skipped: debootstrap needs root\n");
		return 0;
	}
	snprintf(work, sizeof(work), "%s/bench-debootstrap-XXXXXX", tmp && *tmp ? tmp : "/var/tmp");
	if (!mkdtemp(work) || uml_ctx_new(&ctx) < 0)
		return 1;
	snprintf(cmd, sizeof(cmd), "%s/probe.img", work);
	if (uml_rootfs_new(ctx, cmd, &probe) < 0)
		return 1;
	snprintf(mirror, sizeof(mirror), "%s", uml_rootfs_get_mirror(probe));
	uml_rootfs_unref(probe);

	cold = build(ctx, work, "cold", suite, &cold_cached);
	warm = cold >= 0 ? build(ctx, work, "warm", suite, &warm_cached) : -1;
	if (!no_base && warm >= 0)
		base = plain(work, suite, mirror);
	if (bench_rm_rf(work) != 0)
		fprintf(stderr, "could not remove %s\n", work);
	uml_ctx_unref(ctx);
	if (cold < 0 || warm < 0) {
		printf("failed (see the message above)\n");
		return 1;
	}

	printf("%s minbase + systemd-sysv from %s; one run each (network-bound)\n", suite, mirror);
	printf("%-32s | %9s | %9s | %5s | %s\n", "metric", "libuml", "baseline", "ratio", "target");
	if (base > 0) {
		printf("%-32s | %8.1fs | %8.1fs | %5.2f | ~1 (baseline: plain debootstrap, no image)\n",
		       "cold: download+install+image", cold, base, cold / base);
		printf("%-32s | %8.1fs | %8.1fs | %5.3f | << 1 (no download, no dpkg)\n",
		       "warm: cached image+configure", warm, base, warm / base);
	} else {
		printf("%-32s | %8.1fs | %9s | %5s | -\n", "cold: download+install+image", cold, "-",
		       "-");
		printf("%-32s | %8.1fs | %9s | %5s | -\n", "warm: cached image+configure", warm, "-",
		       "-");
	}
	printf("%-32s | %9.3f | %9s | %5s | < 1\n", "warm / cold", warm / cold, "-", "-");
	printf("%-32s | %9s | %9s | %5s | no, yes\n", "cache used (cold, warm)",
	       cold_cached ? "yes" : "no", warm_cached ? "yes" : "no", "-");
	return 0;
}

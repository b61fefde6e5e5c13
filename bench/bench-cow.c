/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * COW overlays: libuml versus uml-utilities on the same files.  Creating an
 * overlay (uml_rootfs_new_cow() against uml_mkcow) and merging one into a
 * new image (uml_rootfs_cow_merge() against uml_moo).  The backing file is
 * half data, half hole; the overlay holds one 256 KiB run of written
 * sectors every 4 MiB, written the way the kernel writes them.  Prints one
 * table: metric | libuml | baseline | ratio | target.
 *
 *   bench-cow [RUNS] [SIZE_MIB]      (default 5 runs, 1024 MiB)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "stats.h"

#define RUN_EVERY	(4u << 20)
#define RUN_LEN		(256u << 10)

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* Runs argv, returns the wall time in ms. */
static double run_timed(char *const argv[])
{
	double t0 = bench_now_ms();
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "%s failed\n", argv[0]);
		exit(1);
	}
	return bench_now_ms() - t0;
}

static void make_backing(const char *path, uint64_t size)
{
	char *buf = malloc(1 << 20);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (!buf || fd < 0)
		die(path);
	for (uint64_t off = 0; off < size / 2; off += 1 << 20) {
		for (size_t i = 0; i < (1 << 20); i += 8)
			memcpy(buf + i, &(uint64_t){ off + i }, 8);
		if (pwrite(fd, buf, 1 << 20, (off_t)off) != 1 << 20)
			die("pwrite");
	}
	if (ftruncate(fd, (off_t)size) < 0)
		die("ftruncate");
	close(fd);
	free(buf);
}

/* Fills the overlay as the kernel would: data at its place, then the bits. */
static uint64_t write_overlay(const char *cow, uint64_t size)
{
	uint64_t bitmap_len = (size + 4095) / 4096;
	uint64_t data_off = (8192 + bitmap_len + 4095) / 4096 * 4096, written = 0;
	unsigned char *bitmap = calloc(1, bitmap_len);
	char *buf = malloc(RUN_LEN);
	int fd = open(cow, O_RDWR);

	if (!bitmap || !buf || fd < 0)
		die(cow);
	memset(buf, 0x5a, RUN_LEN);
	for (uint64_t off = RUN_EVERY / 2; off + RUN_LEN <= size; off += RUN_EVERY) {
		if (pwrite(fd, buf, RUN_LEN, (off_t)(data_off + off)) != RUN_LEN)
			die("pwrite");
		for (uint64_t s = off / 512; s < (off + RUN_LEN) / 512; s++)
			bitmap[s / 8] |= (unsigned char)(1u << (s % 8));
		written += RUN_LEN;
	}
	if (pwrite(fd, bitmap, bitmap_len, 8192) != (ssize_t)bitmap_len)
		die("pwrite");
	close(fd);
	free(bitmap);
	free(buf);
	return written;
}

static int files_equal(const char *a, const char *b)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
	return system(cmd) == 0;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	uint64_t size = (argc > 2 ? strtoull(argv[2], NULL, 10) : 1024) << 20;
	char dir[] = "/tmp/bench-cow-XXXXXX", backing[64], cow[64], cow_b[64], img[64], img_b[64];
	double *t_new, *t_mkcow, *t_merge, *t_moo, *t_check;
	struct uml_rootfs *b, *c;
	struct uml_ctx *ctx;
	uint64_t written = 0;

	if (runs < 1 || size < (8u << 20) || !mkdtemp(dir))
		return 1;
	snprintf(backing, sizeof(backing), "%s/backing.img", dir);
	snprintf(cow, sizeof(cow), "%s/libuml.cow", dir);
	snprintf(cow_b, sizeof(cow_b), "%s/mkcow.cow", dir);
	snprintf(img, sizeof(img), "%s/libuml.img", dir);
	snprintf(img_b, sizeof(img_b), "%s/moo.img", dir);
	make_backing(backing, size);
	if (uml_ctx_new(&ctx) < 0 || uml_rootfs_new(ctx, backing, &b) < 0)
		return 1;
	t_new = calloc((size_t)runs, sizeof(double));
	t_mkcow = calloc((size_t)runs, sizeof(double));
	t_merge = calloc((size_t)runs, sizeof(double));
	t_moo = calloc((size_t)runs, sizeof(double));
	t_check = calloc((size_t)runs, sizeof(double));

	/* interleaved, so drift on the machine hits both sides alike */
	for (int i = 0; i < runs; i++) {
		double t0;

		unlink(cow);
		unlink(cow_b);
		t0 = bench_now_ms();
		if (uml_rootfs_new_cow(b, cow, 0, &c) < 0) {
			fprintf(stderr, "new_cow: %s\n", uml_ctx_last_error(ctx));
			return 1;
		}
		t_new[i] = bench_now_ms() - t0;
		uml_rootfs_unref(c);
		t_mkcow[i] = run_timed((char *[]){ "/usr/bin/uml_mkcow", cow_b, backing, NULL });
	}
	if (!files_equal(cow, cow_b)) {
		fprintf(stderr, "libuml's overlay differs from uml_mkcow's\n");
		return 1;
	}
	written = write_overlay(cow, size);
	if (uml_rootfs_open_cow(ctx, cow, &c) < 0)
		return 1;
	for (int i = 0; i < runs; i++) {
		double t0;

		unlink(img);
		unlink(img_b);
		t0 = bench_now_ms();
		if (uml_rootfs_cow_check(c) < 0)
			return 1;
		t_check[i] = bench_now_ms() - t0;
		t0 = bench_now_ms();
		if (uml_rootfs_cow_merge(c, img, 0) < 0) {
			fprintf(stderr, "merge: %s\n", uml_ctx_last_error(ctx));
			return 1;
		}
		t_merge[i] = bench_now_ms() - t0;
		t_moo[i] = run_timed((char *[]){ "/usr/bin/uml_moo", cow, img_b, NULL });
	}
	if (!files_equal(img, img_b)) {
		fprintf(stderr, "libuml's merge differs from uml_moo's\n");
		return 1;
	}

	printf("%-44s | %10s | %10s | %6s | %s\n", "metric", "libuml", "baseline", "ratio",
	       "target");
	printf("%-44s | %7.2f ms | %7.2f ms | %6.3f | %s\n",
	       "create overlay (baseline uml_mkcow), median", bench_median(t_new, runs),
	       bench_median(t_mkcow, runs), bench_median(t_new, runs) / bench_median(t_mkcow, runs), "<= 1");
	printf("%-44s | %7.2f ms | %10s |        |\n", "check backing size+mtime, median",
	       bench_median(t_check, runs), "-");
	printf("%-44s | %7.1f ms | %7.1f ms | %6.3f | %s\n", "merge (baseline uml_moo), median",
	       bench_median(t_merge, runs), bench_median(t_moo, runs), bench_median(t_merge, runs) / bench_median(t_moo, runs),
	       "<= 1");
	printf("(%d runs each; backing %llu MiB, half data, half hole; overlay holds %llu MiB;\n"
	       " results byte-identical to uml_mkcow's and uml_moo's)\n", runs,
	       (unsigned long long)(size >> 20), (unsigned long long)(written >> 20));
	uml_rootfs_unref(c);
	uml_rootfs_unref(b);
	uml_ctx_unref(ctx);
	return bench_rm_rf(dir) == 0 ? 0 : 1;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-rootfs: directory -> ext4 image through libuml against
 * `mke2fs -q -t ext4 -d DIR IMG SIZE` on the same tree, plus the time to
 * make a busybox guest image.
 *
 * usage: bench-rootfs [-n RUNS] [-t TREE] [-s MIB]
 *   -t TREE  use this directory as the source (default: a copy of parts of
 *            /usr/share and /usr/lib of about -s MiB, made in $TMPDIR and
 *            removed at the end)
 *   -n RUNS  runs of each measurement, the median is printed (default 5)
 *
 * Both sides run with a warm page cache, alternating, into fresh files on
 * the same filesystem; both fsync the image before they finish.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uml/libuml.h"

#include "stats.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int run(char *const argv[], int quiet)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (quiet) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static uint64_t tree_bytes, tree_entries;

static int count_fn(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	tree_entries++;
	if (S_ISREG(st->st_mode))
		tree_bytes += (uint64_t)st->st_blocks * 512;
	return 0;
}

static int rm_fn(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* Copies top-level entries of the candidate dirs until about want bytes. */
static int make_tree(const char *dst, uint64_t want)
{
	static const char *const parents[] = { "/usr/share", "/usr/lib" };
	uint64_t have = 0;

	for (size_t p = 0; p < sizeof(parents) / sizeof(parents[0]) && have < want; p++) {
		struct dirent **names;
		int n = scandir(parents[p], &names, NULL, alphasort);

		for (int i = 0; i < n; i++) {
			char src[8192], to[8192];

			if (have < want && names[i]->d_name[0] != '.') {
				snprintf(src, sizeof(src), "%s/%s", parents[p], names[i]->d_name);
				snprintf(to, sizeof(to), "%s/%s%s", dst, p ? "lib-" : "share-",
					 names[i]->d_name);
				tree_bytes = 0;
				nftw(src, count_fn, 64, FTW_PHYS | FTW_MOUNT);
				/* skip single directories that would dominate the tree */
				if (tree_bytes <= want / 4 &&
				    run((char *[]){ "cp", "-a", src, to, NULL }, 1) == 0)
					have += tree_bytes;
			}
			free(names[i]);
		}
		free(names);
	}
	return have >= want / 2 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *tree = NULL, *tmpdir = getenv("TMPDIR");
	char work[4096], img[4200], size_arg[64], src[4200];
	uint64_t want_mib = 270, size;
	double *t_lib, *t_mke2fs, *t_bb;
	struct uml_ctx *ctx;
	struct uml_rootfs *rootfs, *bb;
	int runs = 5, opt, fsck_lib = -1, fsck_mke2fs = -1;

	while ((opt = getopt(argc, argv, "n:t:s:")) != -1) {
		switch (opt) {
		case 'n': runs = atoi(optarg); break;
		case 't': tree = optarg; break;
		case 's': want_mib = strtoull(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: %s [-n RUNS] [-t TREE] [-s MIB]\n", argv[0]);
			return 2;
		}
	}
	if (runs < 1)
		runs = 1;
	snprintf(work, sizeof(work), "%s/bench-rootfs.XXXXXX", tmpdir ? tmpdir : "/var/tmp");
	if (!mkdtemp(work)) {
		perror("mkdtemp");
		return 1;
	}
	if (!tree) {
		snprintf(src, sizeof(src), "%s/tree", work);
		mkdir(src, 0755);
		fprintf(stderr, "building a ~%llu MiB tree in %s ...\n",
			(unsigned long long)want_mib, src);
		if (make_tree(src, want_mib << 20) < 0) {
			fprintf(stderr, "could not build a tree\n");
			nftw(work, rm_fn, 64, FTW_DEPTH | FTW_PHYS);
			return 1;
		}
		tree = src;
	}
	tree_bytes = tree_entries = 0;
	nftw(tree, count_fn, 64, FTW_PHYS);
	/* room for the data, metadata and the journal, in whole MiB */
	size = ((tree_bytes * 3 / 2 + (tree_entries * 4096) + (128ull << 20)) >> 20) << 20;
	snprintf(size_arg, sizeof(size_arg), "%lluk", (unsigned long long)(size >> 10));
	snprintf(img, sizeof(img), "%s/img", work);

	t_lib = calloc((size_t)runs, sizeof(double));
	t_mke2fs = calloc((size_t)runs, sizeof(double));
	t_bb = calloc((size_t)runs, sizeof(double));
	if (uml_ctx_new(&ctx) < 0 || uml_rootfs_new(ctx, img, &rootfs) < 0 ||
	    uml_rootfs_set_size(rootfs, size) < 0)
		return 1;
	fprintf(stderr, "tree %s: %llu entries, %llu MiB; image %llu MiB\n", tree,
		(unsigned long long)tree_entries, (unsigned long long)(tree_bytes >> 20),
		(unsigned long long)(size >> 20));
	/* one untimed round each to warm the page cache */
	for (int i = -1; i < runs; i++) {
		double t0;
		int r;

		unlink(img);
		t0 = bench_now_s();
		r = uml_rootfs_create_from_dir(rootfs, tree, UML_ROOTFS_CREATE_OVERWRITE);
		if (r < 0) {
			fprintf(stderr, "libuml: %s\n", uml_rootfs_last_error(rootfs));
			return 1;
		}
		if (i >= 0)
			t_lib[i] = bench_now_s() - t0;
		if (i == runs - 1)
			fsck_lib = run((char *[]){ "e2fsck", "-fn", img, NULL }, 1);
		unlink(img);
		t0 = bench_now_s();
		r = run((char *[]){ "mke2fs", "-q", "-t", "ext4", "-d", (char *)tree, img,
				    size_arg, NULL }, 1);
		if (r != 0) {
			fprintf(stderr, "mke2fs failed (%d)\n", r);
			return 1;
		}
		if (i >= 0)
			t_mke2fs[i] = bench_now_s() - t0;
		if (i == runs - 1)
			fsck_mke2fs = run((char *[]){ "e2fsck", "-fn", img, NULL }, 1);
	}
	unlink(img);

	if (uml_rootfs_new(ctx, img, &bb) < 0)
		return 1;
	for (int i = 0; i < runs; i++) {
		double t0 = bench_now_s();

		if (uml_rootfs_create_busybox(bb, NULL, UML_ROOTFS_CREATE_OVERWRITE) < 0) {
			fprintf(stderr, "busybox: %s\n", uml_rootfs_last_error(bb));
			return 1;
		}
		t_bb[i] = bench_now_s() - t0;
	}
	unlink(img);

	double ml = median(t_lib, runs), mm = median(t_mke2fs, runs);

	printf("tree: %s, %llu entries, %llu MiB data; image %llu MiB; median of %d runs\n",
	       tree, (unsigned long long)tree_entries, (unsigned long long)(tree_bytes >> 20),
	       (unsigned long long)(size >> 20), runs);
	printf("%-32s | %9s | %9s | %5s | %s\n", "metric", "libuml", "baseline", "ratio",
	       "target");
	printf("%-32s | %8.3fs | %8.3fs | %5.2f | <= 1.0 (baseline: mke2fs -d)\n",
	       "dir -> ext4 image", ml, mm, ml / mm);
	printf("%-32s | %9d | %9d | %5s | 0 (clean)\n", "e2fsck -fn exit code", fsck_lib,
	       fsck_mke2fs, "-");
	printf("%-32s | %8.3fs | %9s | %5s | -\n", "busybox guest image (64 MiB)",
	       median(t_bb, runs), "-", "-");

	uml_rootfs_unref(bb);
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
	free(t_lib);
	free(t_mke2fs);
	free(t_bb);
	nftw(work, rm_fn, 64, FTW_DEPTH | FTW_PHYS);
	return fsck_lib == 0 ? 0 : 1;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Root filesystem images: made from a tree holding every file type, checked
 * with a real `e2fsck -fn`, then read back with libext2fs and compared with
 * the source; failure paths (existing image, too small, cancelled, bad
 * arguments) leave nothing behind; a busybox guest boots on the real UML
 * kernel and prints its ready marker.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

#include "uml/libuml.h"
#include "testhelp.h"

#define LONG_TARGET "a-symlink-target-that-is-longer-than-sixty-characters/and/so/needs/a/block"
/* "ünïcødé-файл" */
#define UNICODE_NAME "\xc3\xbc" "n" "\xc3\xaf" "c" "\xc3\xb8" "d" "\xc3\xa9" "-" \
	"\xd1\x84\xd0\xb0\xd0\xb9\xd0\xbb"

/* ---- helpers ---------------------------------------------------------------- */

static int rm_fn(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_rf(const char *path)
{
	nftw(path, rm_fn, 64, FTW_DEPTH | FTW_PHYS);
}

/* A fresh directory below topdir for one test. */
static char *test_dir(const char *name)
{
	char *d;

	ck_assert_int_gt(asprintf(&d, "%s/%s", th_tmpdir(), name), 0);
	rm_rf(d);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	return d;
}

static char *path_join(const char *a, const char *b)
{
	char *p;

	ck_assert_int_gt(asprintf(&p, "%s/%s", a, b), 0);
	return p;
}

/* What most tests start from: a directory with src/ in it, an image path
 * next to it (not made), a context and a rootfs object for the image. */
struct fx {
	char *dir, *src, *img;
	struct uml_ctx *ctx;
	struct uml_rootfs *rootfs;
};

static struct uml_ctx *new_ctx(void);

static struct fx fx_make(const char *name)
{
	struct fx f = { .dir = test_dir(name) };

	f.src = path_join(f.dir, "src");
	f.img = path_join(f.dir, "img");
	ck_assert_int_eq(mkdir(f.src, 0755), 0);
	f.ctx = new_ctx();
	ck_assert_int_eq(uml_rootfs_new(f.ctx, f.img, &f.rootfs), 0);
	return f;
}

static void fx_done(struct fx *f)
{
	uml_rootfs_unref(f->rootfs);
	uml_ctx_unref(f->ctx);
	rm_rf(f->dir);
	free(f->src);
	free(f->img);
	free(f->dir);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void fill_pattern(unsigned char *buf, size_t len, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
}

static void set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = { { sec, nsec }, { sec, nsec } };

	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static int e2fsck(const char *img)
{
	return th_system("e2fsck -fn '%s' >/dev/null 2>&1", img);
}

static char *slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/*
 * The source tree: every file type, hard links, a long and a short symlink,
 * a 5 MB file, an empty file, a file with holes in many places (more
 * extents than fit into an inode), a unicode name, deep directories, a
 * directory spanning many blocks, special modes, timestamps with
 * nanoseconds and past 2038, other owners and device nodes when root.
 */
static int make_tree(const char *src)
{
	unsigned char *big = malloc(5u << 20);
	char *p, deep[4096];
	int n = 0, fd;

	ck_assert_ptr_nonnull(big);
	fill_pattern(big, 5u << 20, 1);

	p = path_join(src, "hello"); write_file(p, "hello, world\n", 13, 0640);
	set_mtime(p, 1234567890, 123456789); free(p); n++;
	p = path_join(src, "empty"); write_file(p, "", 0, 0600); free(p); n++;
	p = path_join(src, "big"); write_file(p, big, 5u << 20, 0644); free(p); n++;
	p = path_join(src, "future"); write_file(p, "y2038\n", 6, 0644);
	set_mtime(p, 4102444800, 999999999); free(p); n++;
	p = path_join(src, "setuid"); write_file(p, "#!/bin/sh\n", 10, 04755); free(p); n++;
	p = path_join(src, "sticky"); ck_assert_int_eq(mkdir(p, 0755), 0);
	ck_assert_int_eq(chmod(p, 01777), 0); free(p); n++;
	p = path_join(src, UNICODE_NAME); write_file(p, "unicode\n", 8, 0644); free(p); n++;

	/* holes: 12 MiB with 7 separate data stretches */
	p = path_join(src, "holes");
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(pwrite(fd, big + i * 8192, 8192, (off_t)i * (1 << 20) + 4096),
				 8192);
	ck_assert_int_eq(ftruncate(fd, 12 << 20), 0);
	close(fd); free(p); n++;

	/* hard links: three names of one inode, one in a subdirectory */
	p = path_join(src, "links"); ck_assert_int_eq(mkdir(p, 0750), 0); free(p); n++;
	p = path_join(src, "links/sub"); ck_assert_int_eq(mkdir(p, 0755), 0); free(p); n++;
	p = path_join(src, "links/a"); write_file(p, "linked\n", 7, 0644); n++;
	{
		char *q = path_join(src, "links/b"), *r = path_join(src, "links/sub/c");

		ck_assert_int_eq(link(p, q), 0); n++;
		ck_assert_int_eq(link(p, r), 0); n++;
		free(q);
		free(r);
	}
	free(p);
	/* a symlink and a FIFO with two names each */
	{
		char *a = path_join(src, "links/sym"), *b = path_join(src, "links/sym2");
		char *c = path_join(src, "links/pipe"), *d = path_join(src, "links/pipe2");

		ck_assert_int_eq(symlink("a", a), 0); n++;
		ck_assert_int_eq(link(a, b), 0); n++;
		ck_assert_int_eq(mkfifo(c, 0600), 0); n++;
		ck_assert_int_eq(link(c, d), 0); n++;
		free(a);
		free(b);
		free(c);
		free(d);
	}

	/* symlinks: fast (in the inode), slow (a block), dangling */
	p = path_join(src, "short-link"); ck_assert_int_eq(symlink("hello", p), 0); free(p); n++;
	p = path_join(src, "long-link"); ck_assert_int_eq(symlink(LONG_TARGET, p), 0); free(p); n++;
	p = path_join(src, "dangling"); ck_assert_int_eq(symlink("/nowhere/at/all", p), 0);
	free(p); n++;

	/* deep directories */
	snprintf(deep, sizeof(deep), "%s", src);
	for (int i = 0; i < 12; i++) {
		strcat(deep, "/deep");
		ck_assert_int_eq(mkdir(deep, 0755), 0); n++;
	}
	strcat(deep, "/bottom");
	write_file(deep, "deep\n", 5, 0644); n++;

	/* a directory of many blocks */
	p = path_join(src, "many"); ck_assert_int_eq(mkdir(p, 0755), 0); n++;
	for (int i = 0; i < 400; i++) {
		char name[64];
		char *q;

		snprintf(name, sizeof(name), "file-with-a-longish-name-%04d", i);
		q = path_join(p, name);
		write_file(q, name, strlen(name), 0644); n++;
		free(q);
	}
	free(p);

	/* a FIFO and a socket */
	p = path_join(src, "fifo"); ck_assert_int_eq(mkfifo(p, 0620), 0); free(p); n++;
	{
		/* bound by a relative name: $TMPDIR may be longer than sun_path */
		struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "socket" };
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		char cwd[4096];

		ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
		ck_assert_int_eq(chdir(src), 0);
		ck_assert_int_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		ck_assert_int_eq(chdir(cwd), 0);
		close(s);
		n++;
	}

	if (geteuid() == 0) {
		p = path_join(src, "null"); ck_assert_int_eq(mknod(p, S_IFCHR | 0666, makedev(1, 3)), 0);
		free(p); n++;
		p = path_join(src, "loop0"); ck_assert_int_eq(mknod(p, S_IFBLK | 0660, makedev(7, 0)), 0);
		free(p); n++;
		p = path_join(src, "bigdev");
		ck_assert_int_eq(mknod(p, S_IFCHR | 0600, makedev(300, 70000)), 0);
		free(p); n++;
		p = path_join(src, "hello"); ck_assert_int_eq(lchown(p, 1234, 5678), 0); free(p);
		p = path_join(src, "big"); ck_assert_int_eq(lchown(p, 70000, 70001), 0); free(p);
		p = path_join(src, "short-link"); ck_assert_int_eq(lchown(p, 42, 43), 0); free(p);
		p = path_join(src, "setuid"); ck_assert_int_eq(chmod(p, 04755), 0); free(p);
	} else {
		fprintf(stderr, "test-rootfs: not root: no device nodes or foreign owners in the "
			"source tree\n");
	}
	free(big);
	return n;
}

/* ---- reading an image back ------------------------------------------------- */

struct image {
	ext2_filsys fs;
	const char *src;
	const char *prefix;	/* where src sits in the image */
	int checked;
};

static struct image *verify_img;

static int64_t xtime_sec(__u32 t, __u32 extra)
{
	return (int64_t)(int32_t)t + ((int64_t)(extra & EXT4_EPOCH_MASK) << 32);
}

static char *read_inode_data(ext2_filsys fs, ext2_ino_t ino, size_t *len)
{
	ext2_file_t f;
	__u64 size;
	unsigned got;
	char *buf;

	ck_assert_int_eq(ext2fs_file_open(fs, ino, 0, &f), 0);
	size = ext2fs_file_get_size(f);
	buf = malloc(size + 1);
	ck_assert_ptr_nonnull(buf);
	for (size_t done = 0; done < size; done += got) {
		ck_assert_int_eq(ext2fs_file_read(f, buf + done, (unsigned)(size - done), &got), 0);
		ck_assert_uint_gt(got, 0);
	}
	buf[size] = '\0';
	ext2fs_file_close(f);
	*len = size;
	return buf;
}

static int verify_fn(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	ext2_filsys fs = verify_img->fs;
	const char *tail = path + strlen(verify_img->src);
	char rel[8192];
	struct ext2_inode_large in;
	ext2_ino_t ino;
	uint32_t uid, gid;

	snprintf(rel, sizeof(rel), "%s%s", verify_img->prefix, tail);
	if (!*rel)
		snprintf(rel, sizeof(rel), "/");
	ck_assert_msg(ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, rel, &ino) == 0,
		      "'%s' missing in the image", rel);
	ck_assert_int_eq(ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)&in, sizeof(in)), 0);
	ck_assert_msg(in.i_mode == (st->st_mode & 0xffff), "%s: mode %o, want %o", rel,
		      in.i_mode, st->st_mode);
	uid = in.i_uid | ((uint32_t)in.osd2.linux2.l_i_uid_high << 16);
	gid = in.i_gid | ((uint32_t)in.osd2.linux2.l_i_gid_high << 16);
	ck_assert_msg(uid == st->st_uid && gid == st->st_gid, "%s: owner %u:%u, want %u:%u", rel,
		      uid, gid, st->st_uid, st->st_gid);
	ck_assert_int_ge(in.i_extra_isize, 24);
	ck_assert_msg(xtime_sec(in.i_mtime, in.i_mtime_extra) == st->st_mtim.tv_sec &&
		      (long)(in.i_mtime_extra >> EXT4_EPOCH_BITS) == st->st_mtim.tv_nsec,
		      "%s: mtime %lld.%u, want %lld.%ld", rel,
		      (long long)xtime_sec(in.i_mtime, in.i_mtime_extra),
		      in.i_mtime_extra >> EXT4_EPOCH_BITS, (long long)st->st_mtim.tv_sec,
		      st->st_mtim.tv_nsec);
	/* the image's root also holds lost+found */
	if (strcmp(rel, "/") != 0)
		ck_assert_msg(in.i_links_count == st->st_nlink, "%s: %u links, want %u", rel,
			      in.i_links_count, (unsigned)st->st_nlink);
	if (S_ISREG(st->st_mode)) {
		size_t len, hlen;
		char *data = read_inode_data(fs, ino, &len), *host = slurp(path, &hlen);

		ck_assert_uint_eq(len, (size_t)st->st_size);
		ck_assert_msg(memcmp(data, host, len) == 0, "%s: contents differ", rel);
		/* holes stay holes (slack for indirect blocks on ext2/3) */
		if ((uint64_t)st->st_blocks * 512 < (uint64_t)st->st_size)
			ck_assert_uint_le(ext2fs_get_stat_i_blocks(fs, (struct ext2_inode *)&in) *
					  512, (uint64_t)st->st_blocks * 512 + 16 * fs->blocksize);
		free(data);
		free(host);
	} else if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t l = readlink(path, target, sizeof(target) - 1);
		size_t len;
		char *data;

		ck_assert_int_gt(l, 0);
		target[l] = '\0';
		ck_assert_uint_eq(EXT2_I_SIZE(&in), (size_t)l);
		if (l < (ssize_t)sizeof(in.i_block)) {
			ck_assert_msg(memcmp(in.i_block, target, (size_t)l) == 0,
				      "%s: fast symlink target differs", rel);
		} else {
			data = read_inode_data(fs, ino, &len);
			ck_assert_str_eq(data, target);
			free(data);
		}
	} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		unsigned maj, min;

		if (in.i_block[0]) {
			maj = (in.i_block[0] >> 8) & 255;
			min = in.i_block[0] & 255;
		} else {
			maj = (in.i_block[1] & 0xfff00) >> 8;
			min = (in.i_block[1] & 0xff) | ((in.i_block[1] >> 12) & 0xfff00);
		}
		ck_assert_uint_eq(maj, major(st->st_rdev));
		ck_assert_uint_eq(min, minor(st->st_rdev));
	}
	verify_img->checked++;
	return 0;
}

/* Compares every entry of src with prefix in the image; returns the count. */
static int verify_image_at(const char *img, const char *src, const char *prefix)
{
	struct image im = { .src = src, .prefix = prefix };
	ext2_ino_t lpf;

	ck_assert_int_eq(ext2fs_open(img, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &im.fs), 0);
	verify_img = &im;
	ck_assert_int_eq(nftw(src, verify_fn, 32, FTW_PHYS), 0);
	ck_assert_int_eq(ext2fs_namei(im.fs, EXT2_ROOT_INO, EXT2_ROOT_INO, "lost+found", &lpf), 0);
	ext2fs_close_free(&im.fs);
	return im.checked;
}

static int verify_image(const char *img, const char *src)
{
	return verify_image_at(img, src, "");
}

static struct uml_ctx *new_ctx(void)
{
	struct uml_ctx *ctx = th_ctx();

	uml_ctx_set_log_priority(ctx, 0);	/* failures are expected below */
	return ctx;
}

/* ---- images from a directory --------------------------------------------- */

static void check_fs_type(enum uml_fs_type type, const char *name)
{
	struct fx f = fx_make(name);
	int entries;

	entries = make_tree(f.src);
	ck_assert_int_eq(uml_rootfs_set_fs_type(f.rootfs, type), 0);
	ck_assert_int_eq(uml_rootfs_set_size(f.rootfs, 64u << 20), 0);
	ck_assert_msg(uml_rootfs_create_from_dir(f.rootfs, f.src, 0) == 0, "%s",
		      uml_rootfs_last_error(f.rootfs));
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(verify_image(f.img, f.src), entries + 1);
	ck_assert_int_eq(uml_rootfs_open(f.rootfs), 0);
	/* only the image and the source: no temporary file left */
	ck_assert_int_eq(th_count_entries(f.dir), 2);
	fx_done(&f);
}

START_TEST(test_ext4)
{
	check_fs_type(UML_FS_EXT4, "ext4");
}
END_TEST

START_TEST(test_ext3)
{
	check_fs_type(UML_FS_EXT3, "ext3");
}
END_TEST

START_TEST(test_ext2)
{
	check_fs_type(UML_FS_EXT2, "ext2");
}
END_TEST

START_TEST(test_ext4_4k_blocks)
{
	/* 512 MiB and up use 4 KiB blocks, as mke2fs does */
	struct fx f = fx_make("ext4-4k");
	ext2_filsys fs;
	int entries;

	entries = make_tree(f.src);
	ck_assert_int_eq(uml_rootfs_set_size(f.rootfs, 600u << 20), 0);
	ck_assert_msg(uml_rootfs_create_from_dir(f.rootfs, f.src, 0) == 0, "%s",
		      uml_rootfs_last_error(f.rootfs));
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(ext2fs_open(f.img, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs), 0);
	ck_assert_uint_eq(fs->blocksize, 4096);
	ck_assert(ext2fs_has_feature_metadata_csum(fs->super));
	ck_assert(ext2fs_has_feature_journal(fs->super));
	ext2fs_close_free(&fs);
	ck_assert_int_eq(verify_image(f.img, f.src), entries + 1);
	fx_done(&f);
}
END_TEST

START_TEST(test_exists)
{
	struct fx f = fx_make("exists");
	unsigned char junk[10000];
	size_t len;
	char *after;

	make_tree(f.src);
	fill_pattern(junk, sizeof(junk), 7);
	write_file(f.img, junk, sizeof(junk), 0644);
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, 0), -EEXIST);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), f.img));
	after = slurp(f.img, &len);
	ck_assert_uint_eq(len, sizeof(junk));
	ck_assert(memcmp(after, junk, len) == 0);
	free(after);
	ck_assert_int_eq(uml_rootfs_create_busybox(f.rootfs, NULL, 0), -EEXIST);
	ck_assert_int_eq(uml_rootfs_open(f.rootfs), -EMEDIUMTYPE);

	/* a failed overwrite keeps the old file too */
	ck_assert_int_eq(uml_rootfs_set_size(f.rootfs, 2u << 20), 0);
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, UML_ROOTFS_CREATE_OVERWRITE),
			 -ENOSPC);
	after = slurp(f.img, &len);
	ck_assert_uint_eq(len, sizeof(junk));
	ck_assert(memcmp(after, junk, len) == 0);
	free(after);
	ck_assert_int_eq(th_count_entries(f.dir), 2);

	ck_assert_int_eq(uml_rootfs_set_size(f.rootfs, 64u << 20), 0);
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, UML_ROOTFS_CREATE_OVERWRITE), 0);
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(uml_rootfs_open(f.rootfs), 0);
	fx_done(&f);
}
END_TEST

START_TEST(test_no_space)
{
	struct fx f = fx_make("nospace");
	unsigned char *buf = malloc(3u << 20);

	ck_assert_ptr_nonnull(buf);
	fill_pattern(buf, 3u << 20, 3);
	ck_assert_int_eq(uml_rootfs_set_size(f.rootfs, 2u << 20), 0);

	/* clearly too big: refused before anything is written */
	{
		char *p = path_join(f.src, "three-mb");

		write_file(p, buf, 3u << 20, 0644);
		ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, 0), -ENOSPC);
		ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "does not fit"));
		ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), f.img));
		ck_assert_int_eq(access(f.img, F_OK), -1);
		ck_assert_int_eq(th_count_entries(f.dir), 1);
		unlink(p);
		free(p);
	}
	/* just too big: runs out while writing */
	for (int i = 0; i < 7; i++) {
		char name[32], *p;

		snprintf(name, sizeof(name), "part-%d", i);
		p = path_join(f.src, name);
		write_file(p, buf + i * 270000, 270000, 0644);
		free(p);
	}
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, 0), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "does not fit"));
	ck_assert_int_eq(access(f.img, F_OK), -1);
	ck_assert_int_eq(th_count_entries(f.dir), 1);

	/* too many inodes */
	rm_rf(f.src);
	ck_assert_int_eq(mkdir(f.src, 0755), 0);
	for (int i = 0; i < 1200; i++) {
		char name[32], *p;

		snprintf(name, sizeof(name), "f%d", i);
		p = path_join(f.src, name);
		ck_assert_int_eq(mkfifo(p, 0644), 0);
		free(p);
	}
	ck_assert_int_eq(uml_rootfs_set_size(f.rootfs, 1u << 20), 0);
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, 0), -ENOSPC);
	ck_assert_int_eq(access(f.img, F_OK), -1);
	ck_assert_int_eq(th_count_entries(f.dir), 1);
	free(buf);
	fx_done(&f);
}
END_TEST

struct progress_log {
	uint64_t calls, last_done, total;
	int bad_order, bad_total, bad_phase;
	uint64_t cancel_after;
};

static int progress_fn(void *ud, const struct uml_progress *p)
{
	struct progress_log *log = ud;

	if (strcmp(p->phase, "populate") != 0)
		log->bad_phase++;
	if (log->calls && p->done <= log->last_done)
		log->bad_order++;
	if (log->calls && p->total != log->total)
		log->bad_total++;
	log->calls++;
	log->last_done = p->done;
	log->total = p->total;
	return log->cancel_after && log->calls >= log->cancel_after;
}

START_TEST(test_progress)
{
	struct fx f = fx_make("progress");
	struct progress_log log = { 0 };
	int entries;

	entries = make_tree(f.src);
	uml_ctx_set_progress_fn(f.ctx, progress_fn, &log);
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, 0), 0);
	ck_assert_uint_gt(log.calls, 10);
	ck_assert_int_eq(log.bad_order, 0);
	ck_assert_int_eq(log.bad_total, 0);
	ck_assert_int_eq(log.bad_phase, 0);
	ck_assert_uint_eq(log.total, (uint64_t)entries);
	ck_assert_uint_eq(log.last_done, (uint64_t)entries);

	/* cancelled midway: -ECANCELED, and the old image stays */
	memset(&log, 0, sizeof(log));
	log.cancel_after = 5;
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, UML_ROOTFS_CREATE_OVERWRITE),
			 -ECANCELED);
	ck_assert_uint_eq(log.calls, 5);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "cancel"));
	ck_assert_int_eq(th_count_entries(f.dir), 2);
	ck_assert_int_eq(e2fsck(f.img), 0);

	/* cancelled at the start: no image at all */
	unlink(f.img);
	memset(&log, 0, sizeof(log));
	log.cancel_after = 1;
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, 0), -ECANCELED);
	ck_assert_int_eq(th_count_entries(f.dir), 1);
	fx_done(&f);
}
END_TEST

START_TEST(test_bad_args)
{
	struct fx f = fx_make("args");
	char *file = path_join(f.dir, "file");
	char *missing = path_join(f.dir, "missing"), *rel = path_join(f.dir, "rel.img");
	struct uml_rootfs *rootfs = NULL;
	const char *err;
	char cwd[4096];

	ck_assert_int_eq(uml_rootfs_new(NULL, f.img, &rootfs), -EINVAL);
	ck_assert_int_eq(uml_rootfs_new(f.ctx, NULL, &rootfs), -EINVAL);
	ck_assert_int_eq(uml_rootfs_new(f.ctx, "", &rootfs), -EINVAL);
	ck_assert_int_eq(uml_rootfs_new(f.ctx, f.img, NULL), -EINVAL);
	ck_assert_ptr_null(rootfs);
	ck_assert_ptr_null(uml_rootfs_unref(NULL));
	ck_assert_ptr_null(uml_rootfs_ref(NULL));
	ck_assert_int_eq(uml_rootfs_set_size(NULL, 1u << 20), -EINVAL);
	ck_assert_int_eq(uml_rootfs_set_fs_type(NULL, UML_FS_EXT4), -EINVAL);
	ck_assert_int_eq(uml_rootfs_create_from_dir(NULL, f.dir, 0), -EINVAL);
	ck_assert_int_eq(uml_rootfs_create_busybox(NULL, NULL, 0), -EINVAL);
	ck_assert_int_eq(uml_rootfs_open(NULL), -EINVAL);
	ck_assert_ptr_null(uml_rootfs_get_path(NULL));
	ck_assert_ptr_null(uml_rootfs_last_error(NULL));

	/* relative paths become absolute */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(f.dir), 0);
	ck_assert_int_eq(uml_rootfs_new(f.ctx, "rel.img", &rootfs), 0);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_str_eq(uml_rootfs_get_path(rootfs), rel);
	ck_assert_ptr_eq(uml_rootfs_ref(rootfs), rootfs);
	uml_rootfs_unref(rootfs);

	ck_assert_int_eq(uml_rootfs_set_size(rootfs, 0), -ERANGE);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), " 0 bytes"));
	ck_assert_int_eq(uml_rootfs_set_size(rootfs, 512 * 1024), -ERANGE);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "524288"));
	ck_assert_int_eq(uml_rootfs_set_size(rootfs, (2u << 20) + 100), -ERANGE);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "2097252"));
	ck_assert_int_eq(uml_rootfs_set_size(rootfs, 1ull << 50), -ERANGE);
	ck_assert_int_eq(uml_rootfs_set_size(rootfs, 1u << 20), 0);
	ck_assert_int_eq(uml_rootfs_set_fs_type(rootfs, (enum uml_fs_type)7), -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "7"));

	ck_assert_int_eq(uml_rootfs_create_from_dir(rootfs, NULL, 0), -EINVAL);
	ck_assert_int_eq(uml_rootfs_create_from_dir(rootfs, "", 0), -EINVAL);
	ck_assert_int_eq(uml_rootfs_create_from_dir(rootfs, missing, 0), -ENOENT);
	err = uml_rootfs_last_error(rootfs);
	ck_assert_ptr_nonnull(strstr(err, missing));
	write_file(file, "x", 1, 0644);
	ck_assert_int_eq(uml_rootfs_create_from_dir(rootfs, file, 0), -ENOTDIR);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), file));
	ck_assert_int_eq(uml_rootfs_create_from_dir(rootfs, f.dir, 0x100), -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "0x100"));
	ck_assert_int_eq(uml_rootfs_open(rootfs), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), rel));
	/* the image path is a directory */
	uml_rootfs_unref(rootfs);
	ck_assert_int_eq(uml_rootfs_new(f.ctx, f.dir, &rootfs), 0);
	ck_assert_int_eq(uml_rootfs_create_from_dir(rootfs, f.dir, UML_ROOTFS_CREATE_OVERWRITE),
			 -EISDIR);
	ck_assert_int_eq(uml_rootfs_open(rootfs), -EISDIR);
	ck_assert_ptr_nonnull(uml_ctx_last_error(f.ctx));
	/* nothing made: only "src" and "file" */
	ck_assert_int_eq(th_count_entries(f.dir), 2);
	uml_rootfs_unref(rootfs);
	fx_done(&f);
	free(rel);
	free(missing);
	free(file);
}
END_TEST

/* ---- busybox guests ---------------------------------------------------------- */

static ext2_ino_t lookup(ext2_filsys fs, const char *path, struct ext2_inode_large *in)
{
	ext2_ino_t ino;

	ck_assert_msg(ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino) == 0,
		      "'%s' missing in the busybox image", path);
	ck_assert_int_eq(ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)in, sizeof(*in)), 0);
	return ino;
}

static void make_busybox(struct fx *f)
{
	ck_assert_msg(uml_rootfs_create_busybox(f->rootfs, NULL, 0) == 0, "%s",
		      uml_rootfs_last_error(f->rootfs));
}

START_TEST(test_busybox)
{
	/* busybox --list, resize2fs and guests run through libuml's spawn */
	if (th_no_boot("test_busybox"))
		return;
	struct fx f = fx_make("busybox");
	struct ext2_inode_large in;
	ext2_filsys fs;
	ext2_ino_t ino;
	size_t len;
	char *data;

	if (access("/bin/busybox", X_OK) < 0) {
		fprintf(stderr, "test-rootfs: /bin/busybox missing, busybox test skipped\n");
		fx_done(&f);
		return;
	}
	make_busybox(&f);
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(ext2fs_open(f.img, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs), 0);
	ck_assert_uint_eq(ext2fs_blocks_count(fs->super) * fs->blocksize, 64u << 20);

	ino = lookup(fs, "/init", &in);
	ck_assert(LINUX_S_ISREG(in.i_mode));
	ck_assert_uint_eq(in.i_mode & 07777, 0755);
	ck_assert_uint_eq(in.i_uid | in.i_gid, 0);
	data = read_inode_data(fs, ino, &len);
	ck_assert_ptr_nonnull(strstr(data, "echo \"" UML_BUSYBOX_READY_MARKER "\"\n"));
	ck_assert(strncmp(data, "#!/bin/sh\n", 10) == 0);
	free(data);

	ino = lookup(fs, "/bin/sh", &in);
	ck_assert(LINUX_S_ISLNK(in.i_mode));
	ck_assert_uint_eq(EXT2_I_SIZE(&in), strlen("/bin/busybox"));
	ck_assert(memcmp(in.i_block, "/bin/busybox", 12) == 0);
	ino = lookup(fs, "/sbin/init", &in);
	ck_assert(memcmp(in.i_block, "/init", 5) == 0 && EXT2_I_SIZE(&in) == 5);

	ino = lookup(fs, "/bin/busybox", &in);
	ck_assert(LINUX_S_ISREG(in.i_mode));
	{
		struct stat st;
		size_t hlen;
		char *host = slurp("/bin/busybox", &hlen);

		ck_assert_int_eq(stat("/bin/busybox", &st), 0);
		data = read_inode_data(fs, ino, &len);
		ck_assert_uint_eq(len, (size_t)st.st_size);
		ck_assert(memcmp(data, host, len) == 0);
		free(data);
		free(host);
	}

	lookup(fs, "/dev/console", &in);
	ck_assert(LINUX_S_ISCHR(in.i_mode));
	ck_assert_uint_eq(in.i_block[0], 5 * 256 + 1);
	lookup(fs, "/dev/ubda", &in);
	ck_assert(LINUX_S_ISBLK(in.i_mode));
	ck_assert_uint_eq(in.i_block[0], 98 * 256 + 0);
	lookup(fs, "/dev/ubdb", &in);
	ck_assert_uint_eq(in.i_block[0], 98 * 256 + 16);
	lookup(fs, "/dev/null", &in);
	ck_assert_uint_eq(in.i_block[0], 1 * 256 + 3);
	lookup(fs, "/tmp", &in);
	ck_assert_uint_eq(in.i_mode, LINUX_S_IFDIR | 01777);
	lookup(fs, "/proc", &in);
	lookup(fs, "/sys", &in);
	lookup(fs, "/root", &in);
	ck_assert_uint_eq(in.i_mode & 07777, 0700);
	ino = lookup(fs, "/etc/fstab", &in);
	data = read_inode_data(fs, ino, &len);
	ck_assert_ptr_nonnull(strstr(data, "/dev/ubda\t/\text4"));
	ck_assert_ptr_nonnull(strstr(data, "\n" "proc\t/proc\tproc"));
	free(data);
	ino = lookup(fs, "/etc/passwd", &in);
	data = read_inode_data(fs, ino, &len);
	ck_assert(strncmp(data, "root:x:0:0:", 11) == 0);
	free(data);
	lookup(fs, "/etc/group", &in);
	ext2fs_close_free(&fs);
	fx_done(&f);
}
END_TEST

START_TEST(test_busybox_refused)
{
	struct fx f = fx_make("busybox-bad");
	char *text = path_join(f.dir, "text"), *missing = path_join(f.dir, "missing");

	/* a dynamically linked binary */
	ck_assert_int_eq(uml_rootfs_create_busybox(f.rootfs, "/bin/ls", 0), -ENOEXEC);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "/bin/ls"));
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "dynamic"));
	write_file(text, "#!/bin/sh\necho busybox\n", 23, 0755);
	ck_assert_int_eq(uml_rootfs_create_busybox(f.rootfs, text, 0), -ENOEXEC);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), text));
	ck_assert_int_eq(uml_rootfs_create_busybox(f.rootfs, missing, 0), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), missing));
	ck_assert_int_eq(uml_rootfs_create_busybox(f.rootfs, "", 0), -EINVAL);
	ck_assert_int_eq(uml_rootfs_create_busybox(f.rootfs, NULL, 0x8), -EINVAL);
	ck_assert_int_eq(th_count_entries(f.dir), 2)	/* src, text */;
	fx_done(&f);
	free(missing);
	free(text);
}
END_TEST

/* Boots an image until the busybox ready marker line; returns its console log. */
static char *boot_until_ready(struct fx *f, struct uml_kernel *kernel, const char *extra_arg)
{
	struct uml_instance *inst;
	const char *log;
	char *copy;
	int r;

	ck_assert_int_eq(uml_instance_new(kernel, &inst), 0);
	/* no marker set here: the busybox rootfs brings its own */
	ck_assert_int_eq(uml_instance_set_rootfs(inst, f->rootfs), 0);
	if (extra_arg)
		ck_assert_int_eq(uml_instance_append_arg(inst, extra_arg), 0);
	ck_assert_msg(uml_instance_boot(inst) == 0, "%s", uml_instance_last_error(inst));
	r = uml_instance_wait_ready(inst, 120000);
	log = uml_instance_get_console_log(inst, NULL);
	ck_assert_msg(r == 0, "not ready (%d, %s); console:\n%s", r,
		      uml_exit_reason_to_string(uml_instance_get_exit_reason(inst)), th_tail(log));
	/* at the start of a line (its newline may still be on the way) */
	ck_assert_ptr_nonnull(strstr(log, "\n" UML_BUSYBOX_READY_MARKER));
	copy = strdup(log);
	ck_assert_ptr_nonnull(copy);
	ck_assert_int_eq(uml_instance_halt(inst, 10000), 0);
	uml_instance_unref(inst);
	/* halted cleanly: nothing left to replay */
	ck_assert_int_eq(e2fsck(f->img), 0);
	return copy;
}

/*
 * Boots the busybox image on the real kernel until its ready marker line:
 * libuml mounts its root rw from the start (no remount, one process less
 * before ready); a kernel line that says "ro" gets the remount from /init.
 */
START_TEST(test_busybox_boot)
{
	/* busybox --list, resize2fs and guests run through libuml's spawn */
	if (th_no_boot("test_busybox_boot"))
		return;
	struct fx f = fx_make("busybox-boot");
	struct uml_kernel *kernel;
	char *log;

	if (access("/bin/busybox", X_OK) < 0) {
		fprintf(stderr, "test-rootfs: /bin/busybox missing, boot test skipped\n");
		fx_done(&f);
		return;
	}
	make_busybox(&f);
	kernel = th_kernel(f.ctx);

	log = boot_until_ready(&f, kernel, NULL);
	ck_assert_msg(strstr(log, "VFS: Mounted root (ext4 filesystem) on device"), "%s", th_tail(log));
	ck_assert_msg(!strstr(log, "re-mounted"), "%s", th_tail(log));
	free(log);

	log = boot_until_ready(&f, kernel, "ro");
	ck_assert_msg(strstr(log, "VFS: Mounted root (ext4 filesystem) readonly"), "%s", th_tail(log));
	ck_assert_msg(strstr(log, "EXT4-fs (ubda): re-mounted"), "%s", th_tail(log));
	free(log);

	uml_kernel_unref(kernel);
	fx_done(&f);
}
END_TEST

/* ---- files in and out ---------------------------------------------------------- */

static void fs_counts(const char *img, uint64_t *free_blocks, uint32_t *free_inodes)
{
	ext2_filsys fs;

	ck_assert_int_eq(ext2fs_open(img, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs), 0);
	*free_blocks = ext2fs_free_blocks_count(fs->super);
	*free_inodes = fs->super->s_free_inodes_count;
	ext2fs_close_free(&fs);
}

/* Makes f->img from a small base tree: /etc/hosts, /opt. */
static void base_image(struct fx *f, uint64_t size)
{
	char *base = path_join(f->dir, "base"), *p;

	ck_assert_int_eq(mkdir(base, 0755), 0);
	p = path_join(base, "etc"); ck_assert_int_eq(mkdir(p, 0755), 0); free(p);
	p = path_join(base, "opt"); ck_assert_int_eq(mkdir(p, 0755), 0); free(p);
	p = path_join(base, "etc/hosts"); write_file(p, "127.0.0.1 localhost\n", 20, 0644); free(p);
	ck_assert_int_eq(uml_rootfs_set_size(f->rootfs, size), 0);
	ck_assert_int_eq(uml_rootfs_create_from_dir(f->rootfs, base, 0), 0);
	rm_rf(base);
	free(base);
}

START_TEST(test_copy_in)
{
	struct fx f = fx_make("copy-in");
	char *one = path_join(f.dir, "one"), *src2 = path_join(f.dir, "src2"), *p, *data;
	uint64_t blocks0, blocks1;
	uint32_t inodes0, inodes1;
	int entries;
	size_t len;

	base_image(&f, 64u << 20);

	entries = make_tree(f.src);
	fs_counts(f.img, &blocks0, &inodes0);

	/* a tree to a new place */
	ck_assert_msg(uml_rootfs_copy_in(f.rootfs, f.src, "/opt/tree", 0) == 0, "%s",
		      uml_rootfs_last_error(f.rootfs));
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(verify_image_at(f.img, f.src, "/opt/tree"), entries + 1);

	/* a single file over an existing one */
	write_file(one, "10.0.0.1 guest\n", 15, 0600);
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, one, "/etc/hosts", 0), -EEXIST);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "/etc/hosts"));
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/etc/hosts", &data, &len), 0);
	ck_assert_str_eq(data, "127.0.0.1 localhost\n");
	free(data);
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, one, "/etc/hosts", UML_ROOTFS_COPY_OVERWRITE),
			 0);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/etc/hosts", &data, &len), 0);
	ck_assert_str_eq(data, "10.0.0.1 guest\n");
	ck_assert_uint_eq(len, 15);
	free(data);
	ck_assert_int_eq(e2fsck(f.img), 0);

	/* merging a tree onto itself: files in the way, then replaced */
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, f.src, "/opt/tree", 0), -EEXIST);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "'/opt/tree/big' exists"));
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, f.src, "/opt/tree", UML_ROOTFS_COPY_OVERWRITE),
			 0);
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(verify_image_at(f.img, f.src, "/opt/tree"), entries + 1);

	/* merging new files into existing directories */
	ck_assert_int_eq(mkdir(src2, 0755), 0);
	p = path_join(src2, "tree"); ck_assert_int_eq(mkdir(p, 0755), 0); free(p);
	p = path_join(src2, "tree/new-file"); write_file(p, "new\n", 4, 0644); free(p);
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, src2, "/opt", 0), 0);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/opt/tree/new-file", &data, NULL), 0);
	ck_assert_str_eq(data, "new\n");
	free(data);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/opt/tree/hello", &data, NULL), 0);
	ck_assert_str_eq(data, "hello, world\n");
	free(data);
	ck_assert_int_eq(e2fsck(f.img), 0);

	/* errors */
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, one, "opt/x", 0), -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "opt/x"));
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, one, "/nope/x", 0), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "/nope"));
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, one, "/etc/hosts/x", 0), -ENOTDIR);
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, one, "/opt", 0), -EISDIR);
	p = path_join(f.dir, "missing");
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, p, "/x", 0), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), p));
	free(p);
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, one, "/x", 4), -EINVAL);
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, NULL, "/x", 0), -EINVAL);
	ck_assert_int_eq(uml_rootfs_copy_in(NULL, one, "/x", 0), -EINVAL);
	ck_assert_int_eq(e2fsck(f.img), 0);

	/* removing all of it gives every block and inode back */
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/opt/tree"), 0);
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, f.src, "/opt/tree", 0), 0);
	fs_counts(f.img, &blocks1, &inodes1);
	ck_assert_uint_lt(blocks1, blocks0);
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/opt/tree"), 0);
	ck_assert_int_eq(e2fsck(f.img), 0);
	fs_counts(f.img, &blocks1, &inodes1);
	ck_assert_uint_eq(inodes1, inodes0);
	/* /etc/hosts got bigger but not by a block; directories may have grown */
	ck_assert_uint_le(blocks0 - blocks1, 4);

	fx_done(&f);
	free(src2);
	free(one);
}
END_TEST

START_TEST(test_copy_in_no_space)
{
	struct fx f = fx_make("copy-in-nospace");
	char *big = path_join(f.dir, "big"), *before, *after;
	unsigned char *buf = malloc(10u << 20);
	size_t len1, len2;

	base_image(&f, 8u << 20);

	ck_assert_ptr_nonnull(buf);
	fill_pattern(buf, 10u << 20, 5);
	write_file(big, buf, 10u << 20, 0644);
	before = slurp(f.img, &len1);
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, big, "/big", 0), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "does not fit"));
	after = slurp(f.img, &len2);
	ck_assert_uint_eq(len1, len2);
	ck_assert(memcmp(before, after, len1) == 0);
	ck_assert_int_eq(e2fsck(f.img), 0);
	free(before);
	free(after);
	free(buf);
	fx_done(&f);
	free(big);
}
END_TEST

START_TEST(test_read_list_remove)
{
	struct fx f = fx_make("files");
	const struct uml_rootfs_entry *e;
	int found = 0;
	size_t n, len;
	char *data;

	make_tree(f.src);
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, 0), 0);

	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/hello", &data, &len), 0);
	ck_assert_str_eq(data, "hello, world\n");
	ck_assert_uint_eq(len, 13);
	free(data);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/short-link", &data, NULL), 0);
	ck_assert_str_eq(data, "hello, world\n");
	free(data);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/empty", &data, &len), 0);
	ck_assert_uint_eq(len, 0);
	free(data);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/", &data, NULL), -EISDIR);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/fifo", &data, NULL), -EINVAL);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/no/such", &data, NULL), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "/no/such"));
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "hello", &data, NULL), -EINVAL);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/hello", NULL, NULL), -EINVAL);

	ck_assert_int_eq(uml_rootfs_list_dir(f.rootfs, "/", &e, &n), 0);
	ck_assert_uint_eq(n, (size_t)th_count_entries(f.src) + 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			ck_assert_int_lt(strcmp(e[i - 1].name, e[i].name), 0);
		if (strcmp(e[i].name, "hello") == 0) {
			found++;
			ck_assert_uint_eq(e[i].mode, S_IFREG | 0640);
			ck_assert_uint_eq(e[i].size, 13);
			ck_assert_int_eq(e[i].mtime, 1234567890);
			ck_assert_uint_eq(e[i].mtime_nsec, 123456789);
			ck_assert_uint_eq(e[i].nlink, 1);
			if (geteuid() == 0)
				ck_assert(e[i].uid == 1234 && e[i].gid == 5678);
		}
		if (strcmp(e[i].name, "future") == 0) {
			found++;
			ck_assert_int_eq(e[i].mtime, 4102444800);
		}
		if (strcmp(e[i].name, "lost+found") == 0) {
			found++;
			ck_assert(S_ISDIR(e[i].mode));
		}
		if (strcmp(e[i].name, UNICODE_NAME) == 0)
			found++;
	}
	ck_assert_int_eq(found, 4);
	ck_assert_int_eq(uml_rootfs_list_dir(f.rootfs, "/many", &e, &n), 0);
	ck_assert_uint_eq(n, 400);
	ck_assert_str_eq(e[0].name, "file-with-a-longish-name-0000");
	ck_assert_int_eq(uml_rootfs_list_dir(f.rootfs, "/hello", &e, &n), -ENOTDIR);
	ck_assert_int_eq(uml_rootfs_list_dir(f.rootfs, "/links", &e, &n), 0);
	ck_assert_uint_eq(n, 7);
	ck_assert_str_eq(e[0].name, "a");
	ck_assert_uint_eq(e[0].nlink, 3);

	/* a hard link goes, the others stay */
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/links/b"), 0);
	ck_assert_int_eq(uml_rootfs_list_dir(f.rootfs, "/links", &e, &n), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(e[0].name, "a");
	ck_assert_uint_eq(e[0].nlink, 2);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/links/sub/c", &data, NULL), 0);
	ck_assert_str_eq(data, "linked\n");
	free(data);
	/* trees, symlinks (not their targets), special files */
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/many"), 0);
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/deep"), 0);
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/short-link"), 0);
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/long-link"), 0);
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/holes"), 0);
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/fifo"), 0);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/hello", &data, NULL), 0);
	free(data);
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/many"), -ENOENT);
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/"), -EBUSY);
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "many"), -EINVAL);
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(uml_rootfs_list_dir(f.rootfs, "/", &e, &n), 0);
	ck_assert_uint_eq(n, (size_t)th_count_entries(f.src) + 1 - 6);
	fx_done(&f);
}
END_TEST

START_TEST(test_resize)
{
	/* busybox --list, resize2fs and guests run through libuml's spawn */
	if (th_no_boot("test_resize"))
		return;
	struct fx f = fx_make("resize");
	ext2_filsys fs;
	struct stat st;
	char *data;

	base_image(&f, 64u << 20);

	ck_assert_int_eq(uml_rootfs_resize(f.rootfs, 128u << 20), 0);
	ck_assert_int_eq(stat(f.img, &st), 0);
	ck_assert_int_eq(st.st_size, 128 << 20);
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(ext2fs_open(f.img, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs), 0);
	ck_assert_uint_eq(ext2fs_blocks_count(fs->super) * fs->blocksize, 128u << 20);
	ext2fs_close_free(&fs);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/etc/hosts", &data, NULL), 0);
	ck_assert_str_eq(data, "127.0.0.1 localhost\n");
	free(data);
	ck_assert_int_eq(uml_rootfs_resize(f.rootfs, 128u << 20), 0);
	ck_assert_int_eq(uml_rootfs_resize(f.rootfs, 64u << 20), -ERANGE);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "shrink"));
	ck_assert_int_eq(uml_rootfs_resize(f.rootfs, (128u << 20) + 1), -ERANGE);
	ck_assert_int_eq(stat(f.img, &st), 0);
	ck_assert_int_eq(st.st_size, 128 << 20);
	ck_assert_int_eq(th_count_entries(f.dir), 2)	/* src, img */;
	fx_done(&f);
}
END_TEST

START_TEST(test_unclean_refused)
{
	struct fx f = fx_make("unclean");
	ext2_filsys fs;
	char *data;

	base_image(&f, 64u << 20);

	/* what a killed guest leaves: a journal to replay */
	ck_assert_int_eq(ext2fs_open(f.img, EXT2_FLAG_64BITS | EXT2_FLAG_RW, 0, 0, unix_io_manager,
				     &fs), 0);
	ext2fs_set_feature_journal_needs_recovery(fs->super);
	ext2fs_mark_super_dirty(fs);
	ext2fs_close_free(&fs);
	ck_assert_int_eq(uml_rootfs_copy_in(f.rootfs, f.img, "/x", 0), -EBUSY);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "cleanly"));
	ck_assert_int_eq(uml_rootfs_remove(f.rootfs, "/etc"), -EBUSY);
	ck_assert_int_eq(uml_rootfs_resize(f.rootfs, 128u << 20), -EBUSY);
	ck_assert_int_eq(uml_rootfs_read_file(f.rootfs, "/etc/hosts", &data, NULL), 0);
	free(data);
	fx_done(&f);
}
END_TEST

/* A 6 GiB file with one block of data near its end: > 4 GiB sizes, holes. */
static void check_large_sparse(enum uml_fs_type type, const char *name)
{
	struct fx f = fx_make(name);
	char *p = path_join(f.src, "huge"), tail[4096], back[4096];
	const off_t at = (off_t)5 << 30;
	struct ext2_inode_large in;
	ext2_file_t file;
	ext2_filsys fs;
	ext2_ino_t ino;
	unsigned got;
	int fd;

	fill_pattern((unsigned char *)tail, sizeof(tail), 9);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, tail, sizeof(tail), at), (ssize_t)sizeof(tail));
	ck_assert_int_eq(ftruncate(fd, (off_t)6 << 30), 0);
	close(fd);
	ck_assert_int_eq(uml_rootfs_set_fs_type(f.rootfs, type), 0);
	ck_assert_int_eq(uml_rootfs_set_size(f.rootfs, 16u << 20), 0);
	ck_assert_msg(uml_rootfs_create_from_dir(f.rootfs, f.src, 0) == 0, "%s",
		      uml_rootfs_last_error(f.rootfs));
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(ext2fs_open(f.img, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs), 0);
	ck_assert_int_eq(ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, "huge", &ino), 0);
	ck_assert_int_eq(ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)&in, sizeof(in)), 0);
	ck_assert_uint_eq(EXT2_I_SIZE(&in), (uint64_t)6 << 30);
	ck_assert_int_eq(ext2fs_file_open(fs, ino, 0, &file), 0);
	ck_assert_int_eq(ext2fs_file_llseek(file, (__u64)at - 4096, EXT2_SEEK_SET, NULL), 0);
	ck_assert_int_eq(ext2fs_file_read(file, back, sizeof(back), &got), 0);
	ck_assert_uint_eq(got, sizeof(back));
	for (size_t i = 0; i < sizeof(back); i++)
		ck_assert_int_eq(back[i], 0);
	ck_assert_int_eq(ext2fs_file_read(file, back, sizeof(back), &got), 0);
	ck_assert(got == sizeof(back) && memcmp(back, tail, sizeof(tail)) == 0);
	ext2fs_file_close(file);
	ext2fs_close_free(&fs);
	free(p);
	fx_done(&f);
}

START_TEST(test_large_sparse_ext4)
{
	check_large_sparse(UML_FS_EXT4, "huge-ext4");
}
END_TEST

START_TEST(test_large_sparse_ext2)
{
	check_large_sparse(UML_FS_EXT2, "huge-ext2");
}
END_TEST

/* An empty tree, and a tree that brings its own lost+found. */
START_TEST(test_lost_found)
{
	struct fx f = fx_make("lost-found");
	char *lpf = path_join(f.src, "lost+found"), *p = path_join(lpf, "kept");
	const struct uml_rootfs_entry *e;
	size_t n;

	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, 0), 0);
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(uml_rootfs_list_dir(f.rootfs, "/", &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(e[0].name, "lost+found");
	ck_assert_uint_eq(e[0].mode, S_IFDIR | 0700);
	ck_assert_uint_ge(e[0].size, 16384);

	ck_assert_int_eq(mkdir(lpf, 0755), 0);
	write_file(p, "kept\n", 5, 0644);
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, UML_ROOTFS_CREATE_OVERWRITE),
			 0);
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(uml_rootfs_list_dir(f.rootfs, "/lost+found", &e, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(e[0].name, "kept");
	ck_assert_int_eq(uml_rootfs_list_dir(f.rootfs, "/", &e, &n), 0);
	ck_assert_uint_eq(e[0].mode, S_IFDIR | 0755);
	ck_assert_uint_ge(e[0].size, 16384);

	/* a file by that name cannot be lost+found */
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(rmdir(lpf), 0);
	write_file(lpf, "", 0, 0644);
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, UML_ROOTFS_CREATE_OVERWRITE),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "lost+found"));
	ck_assert_int_eq(e2fsck(f.img), 0);	/* the previous image stays */
	free(p);
	free(lpf);
	fx_done(&f);
}
END_TEST

/* A directory of 100000 entries: about 5 MB of directory blocks. */
START_TEST(test_huge_dir)
{
	struct fx f = fx_make("huge-dir");
	char *dir = path_join(f.src, "d");
	const struct uml_rootfs_entry *e;
	size_t n;

	ck_assert_int_eq(mkdir(dir, 0755), 0);
	for (int i = 0; i < 100000; i++) {
		char name[96], *p;

		snprintf(name, sizeof(name), "entry-with-a-name-of-forty-bytes-%06d", i);
		p = path_join(dir, name);
		ck_assert_int_eq(mkfifo(p, 0644), 0);
		free(p);
	}
	/* 64 MiB of 1 KiB blocks hold at most 65536 inodes */
	ck_assert_int_eq(uml_rootfs_create_from_dir(f.rootfs, f.src, 0), -ENOSPC);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(f.rootfs), "100001 entries"));
	ck_assert_int_eq(uml_rootfs_set_size(f.rootfs, 128u << 20), 0);
	ck_assert_msg(uml_rootfs_create_from_dir(f.rootfs, f.src, 0) == 0, "%s",
		      uml_rootfs_last_error(f.rootfs));
	ck_assert_int_eq(e2fsck(f.img), 0);
	ck_assert_int_eq(uml_rootfs_list_dir(f.rootfs, "/d", &e, &n), 0);
	ck_assert_uint_eq(n, 100000);
	ck_assert_str_eq(e[99999].name, "entry-with-a-name-of-forty-bytes-099999");
	ck_assert(S_ISFIFO(e[0].mode));
	free(dir);
	fx_done(&f);
}
END_TEST

static Suite *rootfs_suite(void)
{
	Suite *s = suite_create("rootfs");
	TCase *tc = tcase_create("images");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_ext4);
	tcase_add_test(tc, test_ext3);
	tcase_add_test(tc, test_ext2);
	tcase_add_test(tc, test_ext4_4k_blocks);
	tcase_add_test(tc, test_large_sparse_ext4);
	tcase_add_test(tc, test_large_sparse_ext2);
	tcase_add_test(tc, test_lost_found);
	tcase_add_test(tc, test_huge_dir);
	tcase_add_test(tc, test_exists);
	tcase_add_test(tc, test_no_space);
	tcase_add_test(tc, test_progress);
	tcase_add_test(tc, test_busybox);
	tcase_add_test(tc, test_busybox_refused);
	tcase_add_test(tc, test_busybox_boot);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_copy_in);
	tcase_add_test(tc, test_copy_in_no_space);
	tcase_add_test(tc, test_read_list_remove);
	tcase_add_test(tc, test_resize);
	tcase_add_test(tc, test_unclean_refused);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* made here, not lazily in each forked test, so th_run() removes it */
	th_tmpdir();
	return th_run(rootfs_suite());
}

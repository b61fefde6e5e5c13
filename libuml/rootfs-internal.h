/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internals shared by the rootfs sources: rootfs.c (the object, creating
 * from a directory), rootfs-build.c (the in-memory tree and the image
 * writer), rootfs-busybox.c and rootfs-files.c (files in and out).
 */
#ifndef LIBUML_ROOTFS_INTERNAL_H
#define LIBUML_ROOTFS_INTERNAL_H

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <ext2fs/ext3_extents.h>

#include "libuml-private.h"

/* Directory blocks and extent headers are composed in host byte order. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "rootfs writes on-disk structures in host byte order"
#endif

#define ROOTFS_DEFAULT_SIZE	(64ull << 20)
#define ROOTFS_MIN_SIZE		(1ull << 20)
#define ROOTFS_MAX_SIZE		(16ull << 40)
#define LPF_MIN_BYTES		16384u		/* lost+found size, as mke2fs makes it */
#define WBUF_SIZE		(4u << 20)	/* data writer buffer */
#define COPY_DIRECT_MIN		(1u << 20)	/* runs this long bypass the buffer */
#define EXT_MAX_LEN		32768u		/* blocks in one initialised extent */
#define FAST_SYMLINK_LEN	(EXT2_N_BLOCKS * sizeof(__u32))	/* shorter targets sit in i_block */


#define rfail(rootfs, err, ...) uml_fail((rootfs)->ctx, &(rootfs)->last_error, err, __VA_ARGS__)
#define bfail(b, err, ...) rfail((b)->rootfs, err, __VA_ARGS__)

/* A host inode reached through several names inside the tree. */
struct hardlink {
	struct hardlink *next;
	dev_t dev;
	ino_t ino;
	unsigned count;		/* names inside the tree */
	ext2_ino_t e2ino;	/* once written */
};

/* One entry of a source tree, read from the host or made up. */
struct node {
	char *name;
	struct node *parent;
	struct node **kids;
	size_t n_kids, cap_kids;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	dev_t rdev;
	uint64_t size;
	uint64_t host_bytes;	/* allocated on the host (sparse files) */
	struct timespec atime, mtime, ctime;
	char *data;		/* symlink target or file contents, else NULL */
	char *src_path;		/* host file to copy (synthetic trees) */
	struct hardlink *hl;
	ext2_ino_t ino;
	bool counted;		/* part of the progress total */
	bool lost_found;
};

struct hltab {
	struct hardlink **b;
	size_t nb, n;
};

struct run {
	blk64_t lblk, pblk, len;
};

struct build {
	struct uml_rootfs *rootfs;
	struct uml_ctx *ctx;
	const char *what;		/* source, for messages */
	struct node *root;
	struct hltab hl;
	struct timespec now;

	/* geometry, from the image size */
	uint64_t image_bytes;
	unsigned bs;
	uint64_t n_inodes;

	/* counted in the first pass */
	uint64_t total, done, reported, step;
	uint64_t est_blocks;		/* data + directory blocks, a lower bound */

	ext2_filsys fs;
	int imgfd;
	char *tmp;
	bool extents, csum;
	blk64_t goal;

	/* runs of the inode being written */
	struct run *runs;
	size_t n_runs, cap_runs;
	char *dirbuf;
	size_t dircap;

	/* data writer: a contiguous stretch of the image, flushed in one write */
	char *wbuf;
	size_t wlen;
	uint64_t woff;
	bool no_cfr;
};

/* rootfs.c */
int rootfs_ext2_errno(errcode_t e);
const char *rootfs_ext2_strerror(errcode_t e);
int rootfs_open_fs(struct uml_rootfs *rootfs, const char *img, bool rw, ext2_filsys *ret);

/* rootfs-build.c */
struct node *rootfs_node_add(struct node *parent, const char *name, mode_t mode);
void rootfs_node_free(struct node *n);
struct node *rootfs_node_find(struct node *dir, const char *name);
char *rootfs_node_path(const struct node *n);
int rootfs_node_cmp(const void *a, const void *b);
int rootfs_node_fail(struct build *b, int err, const struct node *n, const char *prefix);
int rootfs_open_subdir(struct build *b, int dfd, const struct node *n);
void rootfs_set_stat(struct node *n, const struct stat *st);
int rootfs_scan_dir(struct build *b, int dfd, struct node *dir);
int rootfs_scan_entry(struct build *b, int dfd, struct node *dir, const char *name);
void rootfs_geometry(struct build *b, uint64_t entries);
void rootfs_estimate(struct build *b, struct node *n);
void rootfs_build_init(struct build *b, struct uml_rootfs *rootfs);
void rootfs_build_free(struct build *b);
int rootfs_bfail_ext2(struct build *b, errcode_t e, const char *what, const struct node *n);
int rootfs_check_target(struct uml_rootfs *rootfs, unsigned flags);
int rootfs_build_image(struct build *b, int srcfd, unsigned flags);
int rootfs_fs_check_space(struct build *b);
int rootfs_tick(struct build *b);
int rootfs_dw_flush(struct build *b);
unsigned rootfs_file_type(mode_t mode);
int rootfs_write_leaf(struct build *b, int dfd, struct node *n, ext2_ino_t ino);
int rootfs_write_dir(struct build *b, int dfd, struct node *dir, ext2_ino_t parent);

/* rootfs-files.c: editing existing images (see the comments there) */
int rootfs_fs_read_file(struct uml_rootfs *rootfs, ext2_filsys fs, const char *guest_path,
			char **data, size_t *len);
int rootfs_edit_open(struct build *b);
int rootfs_edit_close(struct build *b, int r);
int rootfs_edit_mode(struct build *b, const char *guest_path, bool follow, mode_t *mode);
int rootfs_edit_put(struct build *b, const char *guest_path, mode_t mode, const char *data,
		    size_t len, dev_t rdev);
int rootfs_edit_remove(struct build *b, const char *guest_path);

/* settings of rootfs-debootstrap.c, rootfs-configure.c, rootfs-mount.c (kept in rootfs.c) */
struct rootfs_guest {
	/* debootstrap recipe */
	char *mirror;			/* as set, or NULL */
	char *default_mirror;		/* found for uml_rootfs_get_mirror() */
	char *arch;
	char *variant;
	char **packages;
	size_t n_packages;
	char *cache_dir;
	bool was_cached;
	/* configuration */
	char *hostname;
	char *network;			/* validated spec, or NULL */
	char *root_password;
	bool root_password_set;		/* NULL password: none */
	bool autologin;
	enum uml_init_system init;
	/* loop mount */
	char *mountpoint;
};
/* The settings of rootfs, allocated on first use; NULL without memory. */
struct rootfs_guest *rootfs_guest(struct uml_rootfs *rootfs);

#endif

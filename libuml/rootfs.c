/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Root filesystem images: ext2/3/4 made from a host directory or as a
 * minimal busybox guest, with libext2fs and without mounting anything.
 *
 * Making an image is two passes.  The first reads the source tree into
 * memory (names, stat data, symlink targets), so the entry count for the
 * progress report, the hard link counts inside the tree and a lower bound of
 * the space needed are known before a single block is written.  The second
 * lays the tree out: inodes through libext2fs, file data and directory
 * blocks written in large sequential runs straight into the image file, the
 * block maps (extents, or direct/indirect blocks for ext2/3) recorded
 * afterwards.  Directories are written whole from their sorted entry list
 * rather than entry by entry with ext2fs_link(), which scans the directory
 * each time and makes large directories quadratic.
 *
 * The image is built in a fresh sparse temporary file next to the target:
 * every block not written reads as zeros (inode tables included, so they
 * count as initialised) and the file is renamed over the target only once
 * libext2fs has closed it cleanly.
 */
#include "config.h"

#include "rootfs-internal.h"

/* ---- the object ---------------------------------------------------------- */

UML_EXPORT int uml_rootfs_new(struct uml_ctx *ctx, const char *image, struct uml_rootfs **ret)
{
	struct uml_rootfs *rootfs;
	int r;

	if (!ctx || !ret)
		return -EINVAL;
	if (!image || !image[0])
		return uml_fail(ctx, NULL, -EINVAL, "rootfs image path is %s",
				image ? "empty" : "NULL");
	rootfs = calloc(1, sizeof(*rootfs));
	if (!rootfs)
		return -ENOMEM;
	r = uml_path_absolute(image, &rootfs->path);
	if (r < 0) {
		free(rootfs);
		return uml_fail(ctx, NULL, r, "cannot make '%s' absolute: %s", image, strerror(-r));
	}
	rootfs->refcount = 1;
	rootfs->ctx = uml_ctx_ref(ctx);
	rootfs->size = ROOTFS_DEFAULT_SIZE;
	rootfs->fs_type = UML_FS_EXT4;
	*ret = rootfs;
	return 0;
}

struct rootfs_guest *rootfs_guest(struct uml_rootfs *rootfs)
{
	if (!rootfs->guest)
		rootfs->guest = calloc(1, sizeof(*rootfs->guest));
	return rootfs->guest;
}

static void rootfs_guest_free(struct uml_rootfs *rootfs)
{
	struct rootfs_guest *g = rootfs->guest;

	if (!g)
		return;
	if (rootfs->unmount)
		rootfs->unmount(rootfs);
	free(g->mirror);
	free(g->default_mirror);
	free(g->arch);
	free(g->variant);
	for (size_t i = 0; i < g->n_packages; i++)
		free(g->packages[i]);
	free(g->packages);
	free(g->cache_dir);
	free(g->hostname);
	free(g->network);
	if (g->root_password)
		explicit_bzero(g->root_password, strlen(g->root_password));
	free(g->root_password);
	free(g->mountpoint);
	free(g);
	rootfs->guest = NULL;
}

static void rootfs_free(struct uml_rootfs *rootfs)
{
	free(rootfs->path);
	free(rootfs->backing);
	free(rootfs->last_error);
	free(rootfs->listing);
	rootfs_guest_free(rootfs);
	uml_ctx_unref(rootfs->ctx);
	free(rootfs);
}

UML_DEFINE_REF_UNREF(uml_rootfs, uml_rootfs, rootfs_free)

UML_EXPORT const char *uml_rootfs_get_path(struct uml_rootfs *rootfs)
{
	return rootfs ? rootfs->path : NULL;
}

UML_EXPORT const char *uml_rootfs_last_error(struct uml_rootfs *rootfs)
{
	return rootfs ? rootfs->last_error : NULL;
}

struct uml_ctx *uml_rootfs_get_ctx(struct uml_rootfs *rootfs)
{
	return rootfs->ctx;
}

const char *uml_rootfs_get_ready_marker(struct uml_rootfs *rootfs)
{
	return rootfs ? rootfs->ready_marker : NULL;
}

bool uml_rootfs_get_root_rw(struct uml_rootfs *rootfs)
{
	return rootfs && rootfs->root_rw;
}

char *uml_rootfs_ubd_spec(struct uml_rootfs *rootfs)
{
	char *spec;

	if (!rootfs->backing)
		return strdup(rootfs->path);
	if (asprintf(&spec, "%s,%s", rootfs->path, rootfs->backing) < 0)
		return NULL;
	return spec;
}

UML_EXPORT int uml_rootfs_set_size(struct uml_rootfs *rootfs, uint64_t bytes)
{
	if (!rootfs)
		return -EINVAL;
	if (bytes < ROOTFS_MIN_SIZE || bytes > ROOTFS_MAX_SIZE || bytes % 1024)
		return rfail(rootfs, -ERANGE,
			     "image size %llu bytes for '%s' is invalid: it must be a multiple of "
			     "1024 between %llu and %llu", (unsigned long long)bytes,
			     rootfs->path, (unsigned long long)ROOTFS_MIN_SIZE,
			     (unsigned long long)ROOTFS_MAX_SIZE);
	rootfs->size = bytes;
	rootfs->size_set = true;
	return 0;
}

UML_EXPORT int uml_rootfs_set_fs_type(struct uml_rootfs *rootfs, enum uml_fs_type type)
{
	if (!rootfs)
		return -EINVAL;
	if (type != UML_FS_EXT4 && type != UML_FS_EXT3 && type != UML_FS_EXT2)
		return rfail(rootfs, -EINVAL, "unknown filesystem type %d for '%s'", (int)type,
			     rootfs->path);
	rootfs->fs_type = type;
	return 0;
}

/* com_err's table is process-wide; registering it twice is harmless. */
static pthread_once_t error_table_once = PTHREAD_ONCE_INIT;

static void error_table_init(void)
{
	initialize_ext2_error_table();
}

const char *rootfs_ext2_strerror(errcode_t e)
{
	pthread_once(&error_table_once, error_table_init);
	return error_message(e);
}

int rootfs_ext2_errno(errcode_t e)
{
	switch (e) {
	case EXT2_ET_BLOCK_ALLOC_FAIL:
	case EXT2_ET_INODE_ALLOC_FAIL:
	case EXT2_ET_DIR_NO_SPACE:
	case EXT2_ET_TOOSMALL:
	case EXT2_ET_RES_GDT_BLOCKS:
	case EXT2_ET_TOO_MANY_INODES:
	case EXT2_ET_JOURNAL_TOO_SMALL:
		return -ENOSPC;
	case EXT2_ET_NO_MEMORY:
		return -ENOMEM;
	case EXT2_ET_FILE_NOT_FOUND:
		return -ENOENT;
	case EXT2_ET_NO_DIRECTORY:
		return -ENOTDIR;
	case EXT2_ET_SYMLINK_LOOP:
		return -ELOOP;
	case EXT2_ET_FILE_TOO_BIG:
		return -EFBIG;
	}
	if (e > 0 && e < 4096)
		return -(int)e;
	return -EIO;
}

/* Opens the filesystem in img; rw also loads the bitmaps. */
int rootfs_open_fs(struct uml_rootfs *rootfs, const char *img, bool rw, ext2_filsys *ret)
{
	struct stat st;
	errcode_t e;

	if (stat(img, &st) < 0)
		return rfail(rootfs, -errno, "cannot open image '%s': %s", img, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return rfail(rootfs, -EISDIR, "image '%s' is a directory", img);
	e = ext2fs_open2(img, NULL, EXT2_FLAG_64BITS | (rw ? EXT2_FLAG_RW : 0), 0, 0,
			 unix_io_manager, ret);
	if (e) {
		int r = rootfs_ext2_errno(e);

		if (r == -EACCES || r == -EPERM || r == -EROFS)
			return rfail(rootfs, r, "cannot open image '%s': %s", img, strerror(-r));
		return rfail(rootfs, -EMEDIUMTYPE, "no ext2/3/4 filesystem in '%s': %s", img,
			     rootfs_ext2_strerror(e));
	}
	if (!rw)
		return 0;
	/* changes under an unreplayed journal would be undone by the next mount */
	if (ext2fs_has_feature_journal_needs_recovery((*ret)->super) ||
	    !((*ret)->super->s_state & EXT2_VALID_FS)) {
		ext2fs_close_free(ret);
		return rfail(rootfs, -EBUSY, "filesystem in '%s' is in use or was not cleanly "
			     "unmounted; run e2fsck -fy on it first", img);
	}
	e = ext2fs_read_bitmaps(*ret);
	if (e) {
		ext2fs_close_free(ret);
		return rfail(rootfs, rootfs_ext2_errno(e), "cannot read the bitmaps of '%s': %s", img,
			     rootfs_ext2_strerror(e));
	}
	return 0;
}

UML_EXPORT int uml_rootfs_open(struct uml_rootfs *rootfs)
{
	ext2_filsys fs;
	int r;

	if (!rootfs)
		return -EINVAL;
	/* an overlay's filesystem lives in its backing image */
	r = rootfs_open_fs(rootfs, rootfs->backing ? rootfs->backing : rootfs->path, false, &fs);
	if (r < 0)
		return r;
	ext2fs_close_free(&fs);
	return 0;
}

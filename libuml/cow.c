/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * UML copy-on-write overlays, read and written natively.
 *
 * The format is UML's own (arch/um/drivers/cow_user.c), so files made here
 * boot with `ubd0=COW,BACKING` and merge with uml_moo, and files made by
 * uml_mkcow or by the kernel open here.  A version 3 file is:
 *
 *   0     be32  magic 0x4f4f4f4d (the bytes "OOOM")
 *   4     be32  version 3
 *   8     be32  mtime of the backing file (seconds; UML compares it with
 *               the full st_mtime, so it must fit in 32 bits)
 *   12    be64  size of the backing file in bytes
 *   20    be32  sector size (512)
 *   24    be32  alignment (4096)
 *   28    be32  cow_format (0: a bitmap)
 *   32    char  backing file, absolute, NUL-terminated, 4096 bytes
 *   4128        end of header; the bitmap starts at the next alignment
 *               boundary, one bit per sector (bit s%8 of byte s/8 set:
 *               sector s lives in the overlay); the data area starts at
 *               the next alignment boundary after the bitmap and holds
 *               sector s at data_offset + s * 512.
 *
 * Two older layouts are read as the kernel reads them: version 2 (path
 * first, no alignment field, bitmap right after the header) and the
 * "broken" 64-bit version 3 layout some old tools wrote (8-byte mtime
 * field, everything after it shifted by 4 bytes; told apart because its
 * cow_format zero sits where the path of a good file starts).
 *
 * Every value read from a file is checked before it is used: these files
 * come from guests' hosts, other tools and users.  The limits match what
 * the kernel can address (it keeps the data offset in an int).
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libuml-private.h"

#define COW_MAGIC		0x4f4f4f4dU
#define COW_VERSION		3
#define COW_PATH_LEN		4096
#define COW_SECTOR_SIZE		512
#define COW_ALIGNMENT		4096
#define COW_V2_HEADER_LEN	(4 + 4 + COW_PATH_LEN + 4 + 8 + 4)
#define COW_V3_HEADER_LEN	(4 + 4 + 4 + 8 + 4 + 4 + 4 + COW_PATH_LEN)
/* struct cow_header_v3_broken: 8-byte mtime, size padded to 8 */
#define COW_V3B_HEADER_LEN	(4 + 4 + 8 + 8 + 4 + 4 + 4 + COW_PATH_LEN + 4)
#define COW_MAX_ALIGNMENT	(1u << 20)
/* the kernel keeps bitmap and data offsets in an int */
#define COW_MAX_DATA_OFFSET	((uint64_t)INT_MAX)
/* largest backing file whose version 3 overlay stays below that (~8 TiB) */
#define COW_MAX_SIZE		(((1ULL << 31) - 3 * COW_ALIGNMENT) * 8 * COW_SECTOR_SIZE)

#define COW_IO_CHUNK		(1u << 20)
#define COW_BITMAP_CHUNK	(64u << 10)

struct cow_header {
	uint32_t version;
	bool broken_layout;		/* version 3 written with the 64-bit layout */
	uint32_t mtime;
	uint64_t size;
	uint32_t sector_size;
	uint32_t alignment;
	uint64_t bitmap_offset;
	uint64_t bitmap_len;
	uint64_t data_offset;
	char backing[COW_PATH_LEN];
};

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_be64(const unsigned char *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put_be64(unsigned char *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, (uint32_t)v);
}

static uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) / align * align;
}

/* Bitmap and data placement, as cow_sizes() computes them. */
static void cow_layout(struct cow_header *h, uint64_t header_len)
{
	if (h->version < 3) {
		/* the version 2 rounding, bug included: UML reads exactly this much */
		h->bitmap_offset = header_len;
		h->bitmap_len = (h->size + h->sector_size - 1) / (8 * (uint64_t)h->sector_size);
		h->data_offset = round_up(h->bitmap_offset + h->bitmap_len, h->sector_size);
	} else {
		h->bitmap_offset = round_up(header_len, h->alignment);
		h->bitmap_len = (h->size + h->sector_size - 1) / h->sector_size;
		h->bitmap_len = (h->bitmap_len + 7) / 8;
		h->data_offset = round_up(h->bitmap_offset + h->bitmap_len, h->alignment);
	}
}

/*
 * Reads and checks the header of the open COW file fd (named path in
 * messages).  Failures are recorded through ctx/slot.
 */
static int cow_read_header(struct uml_ctx *ctx, char **slot, const char *path, int fd,
			   struct cow_header *h)
{
	unsigned char buf[COW_V3B_HEADER_LEN];
	const unsigned char *name;
	uint32_t magic, cow_format = 0;
	uint64_t header_len;
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return uml_fail(ctx, slot, -errno, "cannot stat COW file '%s': %m", path);
	if (S_ISDIR(st.st_mode))
		return uml_fail(ctx, slot, -EISDIR, "COW file '%s' is a directory", path);
	if (!S_ISREG(st.st_mode))
		return uml_fail(ctx, slot, -EMEDIUMTYPE, "COW file '%s' is not a regular file", path);

	/* fields are decoded before the length check; never from stale stack */
	memset(buf, 0, sizeof(buf));
	n = uml_pread_all(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return uml_fail(ctx, slot, (int)n, "cannot read COW file '%s': %s", path,
				strerror((int)-n));
	if (n < 8)
		return uml_fail(ctx, slot, -ENODATA,
				"COW file '%s' is truncated: %zd bytes, too short for a header",
				path, n);

	magic = get_be32(buf);
	h->version = get_be32(buf + 4);
	if (magic != COW_MAGIC) {
		/* version 1 files were written in host byte order */
		if (buf[0] == 'M' && buf[1] == 'O' && buf[2] == 'O' && buf[3] == 'O')
			return uml_fail(ctx, slot, -EPROTONOSUPPORT,
					"COW file '%s' has a little-endian (version 1) header; "
					"only versions 2 and 3 are supported", path);
		return uml_fail(ctx, slot, -EMEDIUMTYPE,
				"'%s' is not a UML COW file: magic is 0x%08x, expected 0x%08x (\"OOOM\")",
				path, magic, COW_MAGIC);
	}

	h->broken_layout = false;
	switch (h->version) {
	case 2:
		header_len = COW_V2_HEADER_LEN;
		name = buf + 8;
		h->mtime = get_be32(buf + 8 + COW_PATH_LEN);
		h->size = get_be64(buf + 12 + COW_PATH_LEN);
		h->sector_size = get_be32(buf + 20 + COW_PATH_LEN);
		h->alignment = h->sector_size;
		break;
	case 3: {
		/*
		 * In the broken layout the 8-byte mtime shifts every later field
		 * by 4 (the kernel reads the mtime's first 4 bytes); its padded
		 * header is 8 bytes longer.
		 */
		unsigned shift = n >= 36 && get_be32(buf + 32) == 0 ? 4 : 0;

		h->broken_layout = shift != 0;
		header_len = shift ? COW_V3B_HEADER_LEN : COW_V3_HEADER_LEN;
		h->mtime = get_be32(buf + 8);
		h->size = get_be64(buf + 12 + shift);
		h->sector_size = get_be32(buf + 20 + shift);
		h->alignment = get_be32(buf + 24 + shift);
		cow_format = get_be32(buf + 28 + shift);
		name = buf + 32 + shift;
		break;
	}
	default:
		return uml_fail(ctx, slot, -EPROTONOSUPPORT,
				"COW file '%s' has version %u; only versions 2 and 3 are supported",
				path, h->version);
	}
	if ((uint64_t)n < header_len)
		return uml_fail(ctx, slot, -ENODATA,
				"COW file '%s' is truncated: %zd bytes, a version %u header needs %llu",
				path, n, h->version, (unsigned long long)header_len);

	if (cow_format != 0)
		return uml_fail(ctx, slot, -EPROTONOSUPPORT,
				"COW file '%s' has cow_format %u; only 0 (bitmap) is supported",
				path, cow_format);
	if (h->sector_size != COW_SECTOR_SIZE)
		return uml_fail(ctx, slot, -EBADMSG,
				"COW file '%s' has sector size %u; UML uses %u",
				path, h->sector_size, COW_SECTOR_SIZE);
	if (h->alignment < COW_SECTOR_SIZE || h->alignment > COW_MAX_ALIGNMENT ||
	    (h->alignment & (h->alignment - 1)))
		return uml_fail(ctx, slot, -EBADMSG,
				"COW file '%s' has alignment %u; expected a power of two from %u to %u",
				path, h->alignment, COW_SECTOR_SIZE, COW_MAX_ALIGNMENT);
	if (h->size == 0 || h->size > COW_MAX_SIZE)
		return uml_fail(ctx, slot, -EBADMSG,
				"COW file '%s' has backing size %llu; expected 1 to %llu bytes",
				path, (unsigned long long)h->size,
				(unsigned long long)COW_MAX_SIZE);

	if (!memchr(name, '\0', COW_PATH_LEN))
		return uml_fail(ctx, slot, -ENAMETOOLONG,
				"COW file '%s': backing file name is not NUL-terminated within its %d bytes",
				path, COW_PATH_LEN);
	memcpy(h->backing, name, COW_PATH_LEN);
	if (h->backing[0] != '/')
		return uml_fail(ctx, slot, -EBADMSG,
				"COW file '%s': backing file name '%s' is not an absolute path",
				path, h->backing);
	for (const char *c = h->backing; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			return uml_fail(ctx, slot, -EBADMSG,
					"COW file '%s': backing file name holds control character 0x%02x",
					path, (unsigned char)*c);

	cow_layout(h, header_len);
	if (h->data_offset > COW_MAX_DATA_OFFSET)
		return uml_fail(ctx, slot, -EBADMSG,
				"COW file '%s': data offset %llu is beyond what UML can address",
				path, (unsigned long long)h->data_offset);
	/* every writer sets the end of file when it creates the overlay */
	if ((uint64_t)st.st_size < h->data_offset + h->size)
		return uml_fail(ctx, slot, -ENODATA,
				"COW file '%s' is truncated: %llu bytes, an overlay of a %llu-byte "
				"backing file needs %llu",
				path, (unsigned long long)st.st_size, (unsigned long long)h->size,
				(unsigned long long)(h->data_offset + h->size));
	return 0;
}

/*
 * Flags for opening files named by users or by headers: a FIFO or a tty in
 * their place must be refused, not block us or become our terminal.
 * O_NONBLOCK does not change reads of regular files or block devices.
 */
#define COW_OPEN_FLAGS	(O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)

static int cow_open_and_read(struct uml_ctx *ctx, char **slot, const char *path,
			     struct cow_header *h, int *ret_fd)
{
	int fd = open(path, COW_OPEN_FLAGS);
	int r;

	if (fd < 0)
		return uml_fail(ctx, slot, -errno, "cannot open COW file '%s': %m", path);
	r = cow_read_header(ctx, slot, path, fd, h);
	if (r < 0 || !ret_fd)
		close(fd);
	else
		*ret_fd = fd;
	return r;
}

/* Size of a backing file: regular file or block device. */
static int backing_size(int fd, const struct stat *st, uint64_t *ret)
{
	if (S_ISREG(st->st_mode)) {
		*ret = (uint64_t)st->st_size;
		return 0;
	}
	if (S_ISBLK(st->st_mode))
		return ioctl(fd, BLKGETSIZE64, ret) < 0 ? -errno : 0;
	return -EMEDIUMTYPE;
}

/*
 * Compares the backing file open as fd with the header, as the kernel's
 * backing_file_mismatch() does: the size and the full mtime must match.
 */
static int cow_compare_backing(struct uml_ctx *ctx, char **slot, const char *cow_path,
			       const char *backing, int fd, const struct cow_header *h)
{
	struct stat st;
	uint64_t size;
	int r;

	if (fstat(fd, &st) < 0)
		return uml_fail(ctx, slot, -errno, "cannot stat backing file '%s': %m", backing);
	r = backing_size(fd, &st, &size);
	if (r < 0)
		return uml_fail(ctx, slot, r, "cannot get the size of backing file '%s': %s",
				backing, strerror(-r));
	if (size != h->size)
		return uml_fail(ctx, slot, -ESTALE,
				"backing file '%s' of COW file '%s' changed size: %llu bytes in the "
				"COW header, %llu now; UML would refuse it",
				backing, cow_path, (unsigned long long)h->size,
				(unsigned long long)size);
	if ((long long)st.st_mtime != (long long)h->mtime)
		return uml_fail(ctx, slot, -ESTALE,
				"backing file '%s' of COW file '%s' was modified: mtime %lld in the "
				"COW header, %lld now; UML would refuse it",
				backing, cow_path, (long long)h->mtime, (long long)st.st_mtime);
	return 0;
}

/* Opens a backing file read-only: nothing here ever writes to one. */
static int open_backing(struct uml_ctx *ctx, char **slot, const char *backing,
			const char *cow_path, int *ret_fd)
{
	int fd = open(backing, COW_OPEN_FLAGS);
	struct stat st;

	if (fd >= 0 && fstat(fd, &st) == 0 &&
	    (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode))) {
		*ret_fd = fd;
		return 0;
	}
	if (fd >= 0) {
		close(fd);
		return uml_fail(ctx, slot, -EMEDIUMTYPE, "backing file '%s' is neither a regular "
				"file nor a block device", backing);
	}
	if (cow_path)
		return uml_fail(ctx, slot, -errno, "cannot open backing file '%s' of COW file "
				"'%s': %m", backing, cow_path);
	return uml_fail(ctx, slot, -errno, "cannot open backing file '%s': %m", backing);
}

/*
 * The absolute path UML stores for a backing file: the directory resolved
 * as chdir()+getcwd() would (symlinks in it followed), the last component
 * kept as given.
 */
static int cow_absolutize(const char *path, char **ret)
{
	const char *slash = strrchr(path, '/');
	char *dir, *real, *out;
	int r;

	if (!slash) {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		r = asprintf(&out, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path);
		if (r < 0)
			return -ENOMEM;
		*ret = out;
		return 0;
	}
	if (slash == path)
		return (*ret = strdup(path)) ? 0 : -ENOMEM;
	dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	real = realpath(dir, NULL);
	r = real ? 0 : -errno;
	free(dir);
	if (r < 0)
		return r;
	r = asprintf(&out, "%s%s", strcmp(real, "/") == 0 ? "" : real, slash);
	free(real);
	if (r < 0)
		return -ENOMEM;
	*ret = out;
	return 0;
}

/*
 * Moves a finished temporary file into place (an existing one only with
 * overwrite); frees *tmp and clears it once it is gone.  what names the
 * file in the message.
 */
static int install_tmp(struct uml_ctx *ctx, char **slot, char **tmp, const char *path,
		       bool overwrite, const char *what)
{
	int r;

	if (overwrite)
		r = rename(*tmp, path);
	else
		r = renameat2(AT_FDCWD, *tmp, AT_FDCWD, path, RENAME_NOREPLACE);
	if (r < 0)
		return uml_fail(ctx, slot, -errno, "cannot create %s '%s': %m", what, path);
	free(*tmp);
	*tmp = NULL;
	return 0;
}

/* Whether ubd0=COW,BACKING can carry path intact. */
static bool ubd_path_ok(const char *path)
{
	return !strpbrk(path, ",:") && !uml_has_space_or_ctrl(path);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * Checks an output path for new_cow/merge: an existing file is refused
 * unless overwrite, and never may it be one of the inputs.
 */
static int check_output(struct uml_ctx *ctx, char **slot, const char *out, bool overwrite,
			const struct stat *in1, const struct stat *in2)
{
	struct stat st;

	if (stat(out, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return uml_fail(ctx, slot, -errno, "cannot stat '%s': %m", out);
	}
	if ((in1 && same_file(&st, in1)) || (in2 && same_file(&st, in2)))
		return uml_fail(ctx, slot, -EINVAL, "'%s' is an input of this operation; "
				"refusing to write over it", out);
	if (S_ISDIR(st.st_mode))
		return uml_fail(ctx, slot, -EISDIR, "'%s' is a directory", out);
	if (!overwrite)
		return uml_fail(ctx, slot, -EEXIST, "'%s' exists (pass UML_ROOTFS_CREATE_OVERWRITE "
				"to replace it)", out);
	return 0;
}

/* The overlay's rootfs object: path and backing absolute, size from the header. */
static int cow_rootfs_new(struct uml_ctx *ctx, const char *path, const char *backing,
			  uint64_t size, struct uml_rootfs **ret)
{
	struct uml_rootfs *rootfs;
	char *copy = strdup(backing);
	int r;

	if (!copy)
		return -ENOMEM;
	r = uml_rootfs_new(ctx, path, &rootfs);
	if (r < 0) {
		free(copy);
		return r;
	}
	rootfs->backing = copy;
	rootfs->size = size;
	*ret = rootfs;
	return 0;
}

static void cow_header_encode(unsigned char buf[COW_V3_HEADER_LEN], const char *backing,
			      uint32_t mtime, uint64_t size)
{
	memset(buf, 0, COW_V3_HEADER_LEN);
	put_be32(buf, COW_MAGIC);
	put_be32(buf + 4, COW_VERSION);
	put_be32(buf + 8, mtime);
	put_be64(buf + 12, size);
	put_be32(buf + 20, COW_SECTOR_SIZE);
	put_be32(buf + 24, COW_ALIGNMENT);
	put_be32(buf + 28, 0);
	memcpy(buf + 32, backing, strlen(backing));
}

UML_EXPORT int uml_rootfs_new_cow(struct uml_rootfs *backing, const char *cow_path,
				  unsigned flags, struct uml_rootfs **ret)
{
	struct cow_header h = { .version = COW_VERSION, .sector_size = COW_SECTOR_SIZE,
				.alignment = COW_ALIGNMENT };
	bool overwrite = flags & UML_ROOTFS_CREATE_OVERWRITE;
	char *backing_abs = NULL, *cow_abs = NULL, *tmp = NULL;
	unsigned char header[COW_V3_HEADER_LEN], magic[4];
	struct uml_rootfs *cow;
	struct uml_ctx *ctx;
	char **slot;
	struct stat st;
	int bfd = -1, fd = -1, r;

	if (!backing)
		return -EINVAL;
	ctx = backing->ctx;
	slot = &backing->last_error;
	if (!cow_path || !cow_path[0] || !ret)
		return uml_fail(ctx, slot, -EINVAL, "COW overlay: missing COW path or result pointer");
	if (flags & ~(unsigned)UML_ROOTFS_CREATE_OVERWRITE)
		return uml_fail(ctx, slot, -EINVAL, "COW overlay: unknown flags 0x%x", flags);
	if (backing->backing)
		return uml_fail(ctx, slot, -EINVAL,
				"'%s' is itself a COW overlay; UML cannot stack overlays "
				"(merge it first)", backing->path);

	r = cow_absolutize(backing->path, &backing_abs);
	if (r < 0) {
		r = uml_fail(ctx, slot, r, "backing file '%s': %s", backing->path, strerror(-r));
		goto out;
	}
	if (strlen(backing_abs) >= COW_PATH_LEN) {
		r = uml_fail(ctx, slot, -ENAMETOOLONG, "backing file path '%s' is longer than the "
			     "%d bytes a COW header holds", backing_abs, COW_PATH_LEN - 1);
		goto out;
	}
	r = uml_path_absolute(cow_path, &cow_abs);
	if (r < 0) {
		r = uml_fail(ctx, slot, r, "COW file '%s': %s", cow_path, strerror(-r));
		goto out;
	}
	/* the overlay exists to be booted: both paths go into one ubd0= option */
	if (!ubd_path_ok(cow_abs) || !ubd_path_ok(backing_abs)) {
		r = uml_fail(ctx, slot, -EINVAL, "UML cannot boot an overlay '%s' over '%s': "
			     "its ubd= option splits paths at ',' and ':' and the command line at "
			     "white space", cow_abs, backing_abs);
		goto out;
	}

	r = open_backing(ctx, slot, backing_abs, NULL, &bfd);
	if (r < 0)
		goto out;
	if (fstat(bfd, &st) < 0) {
		r = uml_fail(ctx, slot, -errno, "cannot stat backing file '%s': %m", backing_abs);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = uml_fail(ctx, slot, -EISDIR, "backing file '%s' is a directory", backing_abs);
		goto out;
	}
	r = backing_size(bfd, &st, &h.size);
	if (r < 0) {
		r = uml_fail(ctx, slot, r, "backing file '%s': cannot get its size (%s)",
			     backing_abs, strerror(-r));
		goto out;
	}
	if (h.size == 0) {
		r = uml_fail(ctx, slot, -ENODATA, "backing file '%s' is empty", backing_abs);
		goto out;
	}
	if (h.size > COW_MAX_SIZE) {
		r = uml_fail(ctx, slot, -EFBIG, "backing file '%s' has %llu bytes; a COW overlay "
			     "covers at most %llu", backing_abs, (unsigned long long)h.size,
			     (unsigned long long)COW_MAX_SIZE);
		goto out;
	}
	/* UML stores 32 bits of mtime and compares them with all of st_mtime */
	if (st.st_mtime < 0 || (unsigned long long)st.st_mtime > UINT32_MAX) {
		r = uml_fail(ctx, slot, -EOVERFLOW, "backing file '%s' has mtime %lld, which a COW "
			     "header cannot hold (UML would never accept the overlay)",
			     backing_abs, (long long)st.st_mtime);
		goto out;
	}
	h.mtime = (uint32_t)st.st_mtime;
	/* the kernel opens the backing file raw, never as an overlay */
	if (uml_pread_all(bfd, magic, sizeof(magic), 0) == sizeof(magic) &&
	    get_be32(magic) == COW_MAGIC) {
		r = uml_fail(ctx, slot, -EMEDIUMTYPE, "backing file '%s' is itself a COW file; "
			     "UML cannot stack overlays (merge it first)", backing_abs);
		goto out;
	}
	r = check_output(ctx, slot, cow_abs, overwrite, &st, NULL);
	if (r < 0)
		goto out;

	/* 0644 less the umask, as UML creates overlays */
	r = fd = uml_tmpfile_next_to(cow_abs, 0644, &tmp);
	if (r < 0) {
		r = uml_fail(ctx, slot, r, "cannot create COW file '%s': %s", cow_abs, strerror(-r));
		goto out;
	}
	cow_header_encode(header, backing_abs, h.mtime, h.size);
	cow_layout(&h, COW_V3_HEADER_LEN);
	/*
	 * Bitmap and data stay holes: a new overlay takes a few KiB on disk.
	 * No fsync, as UML makes its overlays: they are scratch space, guests
	 * boot from them by the hundred, and one lost in a host crash reads as
	 * damaged (and is refused), never as a wrong disk.
	 */
	r = uml_pwrite_all(fd, header, sizeof(header), 0);
	if (r == 0 && ftruncate(fd, (off_t)(h.data_offset + h.size)) < 0)
		r = -errno;
	if (r < 0) {
		r = uml_fail(ctx, slot, r, "cannot write COW file '%s': %s", tmp, strerror(-r));
		goto out;
	}
	r = install_tmp(ctx, slot, &tmp, cow_abs, overwrite, "COW file");
	if (r < 0)
		goto out;
	uml_dbg(ctx, "created COW overlay '%s' over '%s' (%llu bytes)", cow_abs, backing_abs,
		(unsigned long long)h.size);

	r = cow_rootfs_new(ctx, cow_abs, backing_abs, h.size, &cow);
	if (r < 0)
		goto out;
	cow->fs_type = backing->fs_type;
	cow->ready_marker = backing->ready_marker;
	cow->root_rw = backing->root_rw;
	*ret = cow;
out:
	if (tmp)
		unlink(tmp);
	if (fd >= 0)
		close(fd);
	if (bfd >= 0)
		close(bfd);
	free(tmp);
	free(cow_abs);
	free(backing_abs);
	return r;
}

UML_EXPORT int uml_rootfs_open_cow(struct uml_ctx *ctx, const char *cow_path,
				   struct uml_rootfs **ret)
{
	struct cow_header h;
	char *path;
	int r;

	if (!ctx)
		return -EINVAL;
	if (!cow_path || !cow_path[0] || !ret)
		return uml_fail(ctx, NULL, -EINVAL, "COW overlay: missing COW path or result pointer");
	r = uml_path_absolute(cow_path, &path);
	if (r < 0)
		return uml_fail(ctx, NULL, r, "COW file '%s': %s", cow_path, strerror(-r));
	r = cow_open_and_read(ctx, NULL, path, &h, NULL);
	if (r < 0) {
		free(path);
		return r;
	}
	uml_dbg(ctx, "opened version %u%s COW overlay '%s' over '%s' (%llu bytes)", h.version,
		h.broken_layout ? " (64-bit layout)" : "", path, h.backing,
		(unsigned long long)h.size);
	r = cow_rootfs_new(ctx, path, h.backing, h.size, ret);
	free(path);
	return r;
}

UML_EXPORT const char *uml_rootfs_get_backing(struct uml_rootfs *rootfs)
{
	return rootfs ? rootfs->backing : NULL;
}

static int check_is_cow(struct uml_rootfs *rootfs)
{
	if (!rootfs->backing)
		return uml_fail(rootfs->ctx, &rootfs->last_error, -EINVAL,
				"'%s' is not a COW overlay", rootfs->path);
	return 0;
}

int uml_rootfs_cow_check_into(struct uml_rootfs *cow, char **slot)
{
	struct cow_header h;
	int fd, r;

	r = cow_open_and_read(cow->ctx, slot, cow->path, &h, NULL);
	if (r < 0)
		return r;
	r = open_backing(cow->ctx, slot, cow->backing, cow->path, &fd);
	if (r < 0)
		return r;
	r = cow_compare_backing(cow->ctx, slot, cow->path, cow->backing, fd, &h);
	close(fd);
	return r;
}

UML_EXPORT int uml_rootfs_cow_check(struct uml_rootfs *cow)
{
	int r;

	if (!cow)
		return -EINVAL;
	r = check_is_cow(cow);
	if (r < 0)
		return r;
	return uml_rootfs_cow_check_into(cow, &cow->last_error);
}

/*
 * Calls fn for each run of consecutive sectors the overlay holds, in
 * order, reading the bitmap in bounded chunks.  Bits past the end of the
 * device are ignored.
 */
typedef int (*cow_run_fn)(void *userdata, uint64_t first, uint64_t count);

static int cow_for_each_run(int fd, const struct cow_header *h, cow_run_fn fn, void *userdata)
{
	uint64_t sectors = (h->size + COW_SECTOR_SIZE - 1) / COW_SECTOR_SIZE;
	uint64_t start = 0;
	bool in_run = false;
	unsigned char *chunk;
	int r = 0;

	if (sectors > h->bitmap_len * 8)
		sectors = h->bitmap_len * 8;	/* version 2 rounding */
	chunk = malloc(COW_BITMAP_CHUNK);
	if (!chunk)
		return -ENOMEM;
	for (uint64_t off = 0; off < h->bitmap_len && r == 0; off += COW_BITMAP_CHUNK) {
		size_t len = h->bitmap_len - off < COW_BITMAP_CHUNK ?
			     (size_t)(h->bitmap_len - off) : COW_BITMAP_CHUNK;
		ssize_t n = uml_pread_all(fd, chunk, len, (off_t)(h->bitmap_offset + off));

		if (n < 0) {
			r = (int)n;
			break;
		}
		if ((size_t)n != len) {
			r = -ENODATA;	/* shrank since the header was checked */
			break;
		}
		for (size_t i = 0; i < len && r == 0; i++) {
			uint64_t base = (off + i) * 8;

			if ((chunk[i] == 0 && !in_run) ||
			    (chunk[i] == 0xff && in_run && base + 8 <= sectors))
				continue;
			for (unsigned b = 0; b < 8 && base + b < sectors; b++) {
				bool set = chunk[i] & (1u << b);

				if (set && !in_run) {
					start = base + b;
					in_run = true;
				} else if (!set && in_run) {
					r = fn(userdata, start, base + b - start);
					in_run = false;
					if (r < 0)
						break;
				}
			}
		}
	}
	if (r == 0 && in_run)
		r = fn(userdata, start, sectors - start);
	free(chunk);
	return r;
}

/* Bytes of the device that sectors [first, first + count) cover. */
static uint64_t run_bytes(const struct cow_header *h, uint64_t first, uint64_t count,
			  uint64_t *ret_offset)
{
	uint64_t off = first * COW_SECTOR_SIZE;
	uint64_t len = count * COW_SECTOR_SIZE;

	if (off + len > h->size)
		len = h->size - off;
	*ret_offset = off;
	return len;
}

struct count_state {
	const struct cow_header *h;
	uint64_t bytes;
};

static int count_run(void *userdata, uint64_t first, uint64_t count)
{
	struct count_state *s = userdata;
	uint64_t off;

	s->bytes += run_bytes(s->h, first, count, &off);
	return 0;
}

UML_EXPORT int uml_rootfs_cow_get_written(struct uml_rootfs *cow, uint64_t *ret_bytes)
{
	struct cow_header h;
	struct count_state s = { .h = &h };
	int fd, r;

	if (!cow || !ret_bytes)
		return -EINVAL;
	r = check_is_cow(cow);
	if (r < 0)
		return r;
	r = cow_open_and_read(cow->ctx, &cow->last_error, cow->path, &h, &fd);
	if (r < 0)
		return r;
	r = cow_for_each_run(fd, &h, count_run, &s);
	close(fd);
	if (r < 0)
		return uml_fail(cow->ctx, &cow->last_error, r, "cannot read the bitmap of COW "
				"file '%s': %s", cow->path, strerror(-r));
	*ret_bytes = s.bytes;
	return 0;
}

/* Copies len bytes between two files; copy_file_range() where it works. */
static int copy_bytes(int in, uint64_t in_off, int out, uint64_t out_off, uint64_t len,
		      char *buf, bool *try_cfr)
{
	while (len > 0) {
		size_t step = len < COW_IO_CHUNK ? (size_t)len : COW_IO_CHUNK;
		ssize_t n;

		if (*try_cfr) {
			loff_t io = (loff_t)in_off, oo = (loff_t)out_off;

			n = copy_file_range(in, &io, out, &oo, step, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
				      errno == EOPNOTSUPP)) {
				*try_cfr = false;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
		} else {
			int r;

			n = uml_pread_all(in, buf, step, (off_t)in_off);
			if (n < 0)
				return (int)n;
			if (n > 0) {
				r = uml_pwrite_all(out, buf, (size_t)n, (off_t)out_off);
				if (r < 0)
					return r;
			}
		}
		if (n == 0)
			return -ENODATA;	/* the input ended early */
		in_off += (uint64_t)n;
		out_off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

struct merge_state {
	struct uml_ctx *ctx;
	const struct cow_header *h;
	int cow_fd;
	int out_fd;
	char *buf;
	bool try_cfr;
	uint64_t sectors;
};

static int merge_run(void *userdata, uint64_t first, uint64_t count)
{
	struct merge_state *s = userdata;
	uint64_t off, len = run_bytes(s->h, first, count, &off);
	int r;

	r = copy_bytes(s->cow_fd, s->h->data_offset + off, s->out_fd, off, len, s->buf,
		       &s->try_cfr);
	if (r < 0)
		return r;
	return uml_progress(s->ctx, "merge", first + count, s->sectors);
}

/* Copies the backing file's data extents; holes stay holes. */
static int copy_backing(struct merge_state *s, int bfd)
{
	uint64_t size = s->h->size, pos = 0;
	int r;

	while (pos < size) {
		off_t data = lseek(bfd, (off_t)pos, SEEK_DATA);
		off_t hole;

		if (data < 0 && errno == ENXIO)
			break;			/* only a hole is left */
		if (data < 0) {
			data = (off_t)pos;	/* no SEEK_DATA here: copy everything */
			hole = (off_t)size;
		} else {
			hole = lseek(bfd, data, SEEK_HOLE);
			if (hole < 0 || (uint64_t)hole > size)
				hole = (off_t)size;
		}
		if ((uint64_t)data >= size)
			break;
		r = copy_bytes(bfd, (uint64_t)data, s->out_fd, (uint64_t)data,
			       (uint64_t)(hole - data), s->buf, &s->try_cfr);
		if (r < 0)
			return r;
		pos = (uint64_t)hole;
		r = uml_progress(s->ctx, "copy", pos, size);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Takes a read lock on the COW file; a running guest holds a write lock. */
static int lock_cow(struct uml_rootfs *cow, int fd)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno != EAGAIN && errno != EACCES)
		return uml_fail(cow->ctx, &cow->last_error, -errno, "cannot lock COW file '%s': %m",
				cow->path);
	fl.l_type = F_RDLCK;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0)
		return uml_fail(cow->ctx, &cow->last_error, -EBUSY, "COW file '%s' is in use "
				"(locked for writing by pid %d, a running guest?)",
				cow->path, (int)fl.l_pid);
	return uml_fail(cow->ctx, &cow->last_error, -EBUSY, "COW file '%s' is in use "
			"(locked for writing, a running guest?)", cow->path);
}

UML_EXPORT int uml_rootfs_cow_merge(struct uml_rootfs *cow, const char *out_image,
				    unsigned flags)
{
	bool overwrite = flags & UML_ROOTFS_CREATE_OVERWRITE;
	struct merge_state s = { .try_cfr = true, .out_fd = -1 };
	struct stat cow_st, backing_st;
	char *out_abs = NULL, *tmp = NULL;
	struct cow_header h;
	int cow_fd = -1, bfd = -1, r;
	struct uml_ctx *ctx;
	char **slot;

	if (!cow)
		return -EINVAL;
	ctx = cow->ctx;
	slot = &cow->last_error;
	if (!out_image || !out_image[0])
		return uml_fail(ctx, slot, -EINVAL, "COW merge: missing output image path");
	if (flags & ~(unsigned)UML_ROOTFS_CREATE_OVERWRITE)
		return uml_fail(ctx, slot, -EINVAL, "COW merge: unknown flags 0x%x", flags);
	r = check_is_cow(cow);
	if (r < 0)
		return r;
	r = uml_path_absolute(out_image, &out_abs);
	if (r < 0)
		return uml_fail(ctx, slot, r, "output image '%s': %s", out_image, strerror(-r));

	r = cow_open_and_read(ctx, slot, cow->path, &h, &cow_fd);
	if (r < 0)
		goto out;
	r = lock_cow(cow, cow_fd);
	if (r < 0)
		goto out;
	r = open_backing(ctx, slot, cow->backing, cow->path, &bfd);
	if (r < 0)
		goto out;
	r = cow_compare_backing(ctx, slot, cow->path, cow->backing, bfd, &h);
	if (r < 0)
		goto out;
	if (fstat(cow_fd, &cow_st) < 0 || fstat(bfd, &backing_st) < 0) {
		r = uml_fail(ctx, slot, -errno, "cannot stat the inputs of the merge: %m");
		goto out;
	}
	r = check_output(ctx, slot, out_abs, overwrite, &cow_st, &backing_st);
	if (r < 0)
		goto out;

	s.buf = malloc(COW_IO_CHUNK);
	if (!s.buf) {
		r = -ENOMEM;
		goto out;
	}
	/*
	 * The merged image holds what the guest wrote, maybe secrets: only the
	 * owner may read it, and no one more than the backing file allows.
	 */
	r = s.out_fd = uml_tmpfile_next_to(out_abs, 0600 & backing_st.st_mode, &tmp);
	if (r < 0) {
		r = uml_fail(ctx, slot, r, "cannot create image '%s': %s", out_abs, strerror(-r));
		goto out;
	}
	s.ctx = ctx;
	s.h = &h;
	s.cow_fd = cow_fd;
	s.sectors = (h.size + COW_SECTOR_SIZE - 1) / COW_SECTOR_SIZE;
	if (ftruncate(s.out_fd, (off_t)h.size) < 0) {
		r = uml_fail(ctx, slot, -errno, "cannot size image '%s': %m", tmp);
		goto out;
	}
	r = copy_backing(&s, bfd);
	if (r < 0 && r != -ECANCELED) {
		r = uml_fail(ctx, slot, r, "cannot copy backing file '%s' to '%s': %s",
			     cow->backing, tmp, strerror(-r));
		goto out;
	}
	if (r == 0)
		r = cow_for_each_run(cow_fd, &h, merge_run, &s);
	if (r == -ECANCELED) {
		r = uml_fail(ctx, slot, r, "merge of '%s' into '%s' cancelled", cow->path, out_abs);
		goto out;
	}
	if (r < 0) {
		r = uml_fail(ctx, slot, r, "cannot merge COW file '%s' into '%s': %s",
			     cow->path, tmp, strerror(-r));
		goto out;
	}
	if (fsync(s.out_fd) < 0) {
		r = uml_fail(ctx, slot, -errno, "cannot write image '%s': %m", tmp);
		goto out;
	}
	r = install_tmp(ctx, slot, &tmp, out_abs, overwrite, "image");
	if (r < 0)
		goto out;
	uml_dbg(ctx, "merged COW overlay '%s' and '%s' into '%s'", cow->path, cow->backing,
		out_abs);
out:
	if (tmp)
		unlink(tmp);
	if (s.out_fd >= 0)
		close(s.out_fd);
	if (bfd >= 0)
		close(bfd);
	if (cow_fd >= 0)
		close(cow_fd);
	free(s.buf);
	free(tmp);
	free(out_abs);
	return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The in-memory tree of a source and the writer that lays it out in an image. */
#include "config.h"

#include "rootfs-internal.h"

/* ---- the in-memory tree --------------------------------------------------- */

void rootfs_node_free(struct node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n_kids; i++)
		rootfs_node_free(n->kids[i]);
	free(n->kids);
	free(n->name);
	free(n->data);
	free(n->src_path);
	free(n);
}

struct node *rootfs_node_add(struct node *parent, const char *name, mode_t mode)
{
	struct node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	n->mode = mode;
	n->parent = parent;
	if (parent) {
		if (parent->n_kids == parent->cap_kids) {
			size_t cap = parent->cap_kids ? parent->cap_kids * 2 : 8;
			struct node **k = realloc(parent->kids, cap * sizeof(*k));

			if (!k) {
				free(n->name);
				free(n);
				return NULL;
			}
			parent->kids = k;
			parent->cap_kids = cap;
		}
		parent->kids[parent->n_kids++] = n;
	}
	return n;
}

struct node *rootfs_node_find(struct node *dir, const char *name)
{
	for (size_t i = 0; i < dir->n_kids; i++)
		if (strcmp(dir->kids[i]->name, name) == 0)
			return dir->kids[i];
	return NULL;
}

/* "a/b/c" below the tree's root, for messages. */
char *rootfs_node_path(const struct node *n)
{
	size_t len = 0;
	char *p;

	for (const struct node *m = n; m && m->parent; m = m->parent)
		len += strlen(m->name) + 1;
	p = malloc(len + 1);
	if (!p)
		return NULL;
	p[len] = '\0';
	for (const struct node *m = n; m && m->parent; m = m->parent) {
		size_t l = strlen(m->name);

		len -= l;
		memcpy(p + len, m->name, l);
		if (len)
			p[--len] = '/';
	}
	return p;
}

/* Fails with "PREFIX 'SOURCE': ERROR", SOURCE naming where n comes from. */
int rootfs_node_fail(struct build *b, int err, const struct node *n, const char *prefix)
{
	char *p = n->src_path ? NULL : rootfs_node_path(n);
	int r;

	if (n->src_path)
		r = bfail(b, err, "%s '%s': %s", prefix, n->src_path, strerror(-err));
	else
		r = bfail(b, err, "%s '%s/%s': %s", prefix, b->what, p ? p : n->name,
			  strerror(-err));
	free(p);
	return r;
}

/* Opens the source directory of n, an entry of the host directory dfd. */
int rootfs_open_subdir(struct build *b, int dfd, const struct node *n)
{
	int fd = openat(dfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd >= 0 ? fd : rootfs_node_fail(b, -errno, n, "cannot open directory");
}

int rootfs_node_cmp(const void *a, const void *b)
{
	return strcmp((*(struct node *const *)a)->name, (*(struct node *const *)b)->name);
}

static struct hardlink *hl_get(struct hltab *t, dev_t dev, ino_t ino)
{
	size_t h;

	if (t->n >= t->nb) {
		size_t nb = t->nb ? t->nb * 4 : 256;
		struct hardlink **b = calloc(nb, sizeof(*b));

		if (!b)
			return NULL;
		for (size_t i = 0; i < t->nb; i++) {
			for (struct hardlink *e = t->b[i], *next; e; e = next) {
				next = e->next;
				h = (size_t)(e->ino ^ (e->dev * 0x9e3779b97f4a7c15ull)) & (nb - 1);
				e->next = b[h];
				b[h] = e;
			}
		}
		free(t->b);
		t->b = b;
		t->nb = nb;
	}
	h = (size_t)(ino ^ (dev * 0x9e3779b97f4a7c15ull)) & (t->nb - 1);
	for (struct hardlink *e = t->b[h]; e; e = e->next)
		if (e->dev == dev && e->ino == ino)
			return e;
	struct hardlink *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->dev = dev;
	e->ino = ino;
	e->next = t->b[h];
	t->b[h] = e;
	t->n++;
	return e;
}

static void hl_free(struct hltab *t)
{
	for (size_t i = 0; i < t->nb; i++)
		for (struct hardlink *e = t->b[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

/* ---- a build ---------------------------------------------------------------- */

int rootfs_bfail_ext2(struct build *b, errcode_t e, const char *what, const struct node *n)
{
	char *p = n ? rootfs_node_path(n) : NULL;
	int r = rootfs_ext2_errno(e);

	if (r == -ENOSPC)
		r = bfail(b, r, "%s does not fit into %llu-byte image '%s': %s%s%s (%s)", b->what,
			  (unsigned long long)b->image_bytes, b->rootfs->path, what,
			  p ? " for " : "", p ? p : "", rootfs_ext2_strerror(e));
	else
		r = bfail(b, r, "writing image '%s' from %s: %s%s%s: %s", b->rootfs->path, b->what,
			  what, p ? " for " : "", p ? p : "", rootfs_ext2_strerror(e));
	free(p);
	return r;
}

void rootfs_geometry(struct build *b, uint64_t entries)
{
	uint64_t size = b->rootfs->size, ratio, min_inodes;

	/* mke2fs.conf: "floppy" below 3 MiB, "small" below 512 MiB */
	if (size < (3ull << 20)) {
		b->bs = 1024;
		ratio = 8192;
	} else if (size < (512ull << 20)) {
		b->bs = 1024;
		ratio = 4096;
	} else {
		b->bs = 4096;
		ratio = 16384;
	}
	b->n_inodes = size / ratio;
	/* a tree of many small files must not run out of inodes first */
	min_inodes = entries + entries / 8 + 64;
	if (b->n_inodes < min_inodes)
		b->n_inodes = min_inodes;
	if (b->n_inodes > size / b->bs)
		b->n_inodes = size / b->bs;
	if (b->n_inodes > UINT32_MAX - 1)
		b->n_inodes = UINT32_MAX - 1;
}

static uint64_t blocks_for(const struct build *b, uint64_t bytes)
{
	return (bytes + b->bs - 1) / b->bs;
}

static unsigned dirent_len(size_t name_len)
{
	return (unsigned)((name_len + 8 + 3) & ~(size_t)3);
}

/* Estimates a node's share of the image, once per inode. */
void rootfs_estimate(struct build *b, struct node *n)
{
	if (S_ISREG(n->mode)) {
		uint64_t bytes = n->size;

		if (n->hl && n->hl->count > 1)
			return;
		if (n->host_bytes < bytes)
			bytes = n->host_bytes;
		b->est_blocks += blocks_for(b, bytes);
	} else if (S_ISLNK(n->mode) && n->data && strlen(n->data) >= FAST_SYMLINK_LEN) {
		b->est_blocks += 1;
	} else if (S_ISDIR(n->mode)) {
		uint64_t bytes = 24;

		for (size_t i = 0; i < n->n_kids; i++)
			bytes += dirent_len(strlen(n->kids[i]->name));
		b->est_blocks += blocks_for(b, bytes);
	}
}

void rootfs_set_stat(struct node *n, const struct stat *st)
{
	n->mode = st->st_mode;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	n->rdev = st->st_rdev;
	n->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	n->host_bytes = (uint64_t)st->st_blocks * 512;
	n->atime = st->st_atim;
	n->mtime = st->st_mtim;
	n->ctime = st->st_ctim;
}

int rootfs_scan_entry(struct build *b, int dfd, struct node *dir, const char *name)
{
	struct node *n;
	struct stat st;
	int r;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		char *p = rootfs_node_path(dir);

		r = bfail(b, -errno, "cannot stat '%s/%s%s%s': %m", b->what, p ? p : "",
			  p && *p ? "/" : "", name);
		free(p);
		return r;
	}
	n = rootfs_node_add(dir, name, st.st_mode);
	if (!n)
		return -ENOMEM;
	rootfs_set_stat(n, &st);
	n->counted = true;
	b->total++;
	if (S_ISLNK(st.st_mode)) {
		size_t cap = (size_t)st.st_size + 1;

		for (;;) {
			ssize_t l;

			n->data = malloc(cap + 1);
			if (!n->data)
				return -ENOMEM;
			l = readlinkat(dfd, name, n->data, cap);
			if (l < 0)
				return rootfs_node_fail(b, -errno, n, "cannot read symlink");
			if ((size_t)l < cap) {
				n->data[l] = '\0';
				break;
			}
			free(n->data);
			n->data = NULL;
			cap *= 2;
		}
		if (strlen(n->data) > 4095 || !n->data[0])
			return rootfs_node_fail(b, -EINVAL, n, "unusable target in symlink");
	} else if (S_ISDIR(st.st_mode)) {
		int sub = rootfs_open_subdir(b, dfd, n);

		if (sub < 0)
			return sub;
		r = rootfs_scan_dir(b, sub, n);
		if (r < 0)
			return r;
	}
	/* any non-directory may have several names, symlinks and devices too */
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
		n->hl = hl_get(&b->hl, st.st_dev, st.st_ino);
		if (!n->hl)
			return -ENOMEM;
		n->hl->count++;
	}
	rootfs_estimate(b, n);
	return 0;
}

/* Reads the directory open at dfd (taken over) into dir's kids. */
int rootfs_scan_dir(struct build *b, int dfd, struct node *dir)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(dfd);
		return bfail(b, -errno, "cannot read directory %s: %m", b->what);
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				char *p = rootfs_node_path(dir);

				r = bfail(b, -errno, "cannot read directory '%s/%s': %m", b->what,
					  p ? p : "");
				free(p);
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = rootfs_scan_entry(b, dirfd(d), dir, de->d_name);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r == 0 && dir->n_kids > 1)
		qsort(dir->kids, dir->n_kids, sizeof(*dir->kids), rootfs_node_cmp);
	return r;
}

/* Adds /lost+found unless the tree brings its own; e2fsck insists on one. */
static int add_lost_found(struct build *b)
{
	struct node *lpf = rootfs_node_find(b->root, "lost+found");

	if (lpf && !S_ISDIR(lpf->mode))
		return bfail(b, -EINVAL, "'lost+found' in %s is not a directory; the image needs "
			     "that name for e2fsck's lost+found", b->what);
	if (!lpf) {
		lpf = rootfs_node_add(b->root, "lost+found", S_IFDIR | 0700);
		if (!lpf)
			return -ENOMEM;
		lpf->atime = lpf->mtime = lpf->ctime = b->now;
		qsort(b->root->kids, b->root->n_kids, sizeof(*b->root->kids), rootfs_node_cmp);
	}
	lpf->lost_found = true;
	b->est_blocks += blocks_for(b, LPF_MIN_BYTES);
	return 0;
}

/* ---- the data writer ------------------------------------------------------- */

int rootfs_dw_flush(struct build *b)
{
	int r = uml_pwrite_all(b->imgfd, b->wbuf, b->wlen, b->woff);

	b->wlen = 0;
	return r;
}

/* Makes room for len bytes at image offset off in the buffer. */
static int dw_reserve(struct build *b, uint64_t off, size_t len)
{
	int r;

	if (b->wlen && (b->woff + b->wlen != off || b->wlen + len > WBUF_SIZE)) {
		r = rootfs_dw_flush(b);
		if (r < 0)
			return r;
	}
	if (!b->wlen)
		b->woff = off;
	return 0;
}

static int copy_direct(struct build *b, int fd, uint64_t src, uint64_t dst, uint64_t len)
{
	while (len > 0 && !b->no_cfr) {
		loff_t in = (loff_t)src, out = (loff_t)dst;
		ssize_t n = copy_file_range(fd, &in, b->imgfd, &out, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
			      errno == EOPNOTSUPP || errno == EBADF)) {
			b->no_cfr = true;
			break;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;	/* the file shrank: the rest stays zero */
		src += (uint64_t)n;
		dst += (uint64_t)n;
		len -= (uint64_t)n;
	}
	while (len > 0) {
		size_t chunk = len > WBUF_SIZE ? WBUF_SIZE : (size_t)len;
		ssize_t n = uml_pread_all(fd, b->wbuf, chunk, src);
		int r;

		if (n <= 0)
			return (int)n;
		r = uml_pwrite_all(b->imgfd, b->wbuf, (size_t)n, dst);
		if (r < 0)
			return r;
		src += (uint64_t)n;
		dst += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/*
 * Copies len bytes of fd from offset src (or of mem) to image offset dst,
 * a block boundary; the rest of the last block stays zero.
 */
static int dw_copy(struct build *b, int fd, const char *mem, uint64_t src, uint64_t dst,
		   uint64_t len)
{
	size_t padded = (size_t)blocks_for(b, len) * b->bs;
	size_t got = 0;
	int r;

	if (len >= COPY_DIRECT_MIN) {
		static const char zeros[4096];

		r = rootfs_dw_flush(b);
		if (r == 0)
			r = fd >= 0 ? copy_direct(b, fd, src, dst, len) :
				      uml_pwrite_all(b->imgfd, mem + src, (size_t)len, dst);
		/* a reused block must not show old data past the end */
		if (r == 0 && padded > len)
			r = uml_pwrite_all(b->imgfd, zeros, padded - (size_t)len, dst + len);
		return r;
	}
	r = dw_reserve(b, dst, padded);
	if (r < 0)
		return r;
	if (mem) {
		memcpy(b->wbuf + b->wlen, mem + src, (size_t)len);
		got = (size_t)len;
	} else {
		ssize_t n = uml_pread_all(fd, b->wbuf + b->wlen, (size_t)len, src);

		if (n < 0)
			return (int)n;
		got = (size_t)n;	/* the file shrank: the rest stays zero */
	}
	memset(b->wbuf + b->wlen + got, 0, padded - got);
	b->wlen += padded;
	return 0;
}

/* ---- inodes ----------------------------------------------------------------- */

static void set_xtime(__u32 *t, __u32 *extra, const struct timespec *ts)
{
	int64_t s = ts->tv_sec;

	*t = (__u32)s;
	*extra = ((__u32)((s - (int32_t)s) >> 32) & EXT4_EPOCH_MASK) |
		 ((__u32)ts->tv_nsec << EXT4_EPOCH_BITS);
}

static void inode_init(struct build *b, const struct node *n, struct ext2_inode_large *in)
{
	memset(in, 0, sizeof(*in));
	in->i_mode = (__u16)n->mode;
	in->i_uid = (__u16)n->uid;
	ext2fs_set_i_uid_high(*in, n->uid >> 16);
	in->i_gid = (__u16)n->gid;
	ext2fs_set_i_gid_high(*in, n->gid >> 16);
	in->i_links_count = 1;
	if (EXT2_INODE_SIZE(b->fs->super) > EXT2_GOOD_OLD_INODE_SIZE) {
		in->i_extra_isize = sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE;
		set_xtime(&in->i_atime, &in->i_atime_extra, &n->atime);
		set_xtime(&in->i_mtime, &in->i_mtime_extra, &n->mtime);
		set_xtime(&in->i_ctime, &in->i_ctime_extra, &n->ctime);
		set_xtime(&in->i_crtime, &in->i_crtime_extra, &b->now);
	} else {
		in->i_atime = (__u32)n->atime.tv_sec;
		in->i_mtime = (__u32)n->mtime.tv_sec;
		in->i_ctime = (__u32)n->ctime.tv_sec;
	}
}

static int write_inode(struct build *b, ext2_ino_t ino, struct ext2_inode_large *in,
		       const struct node *n)
{
	errcode_t e = ext2fs_write_inode_full(b->fs, ino, (struct ext2_inode *)in, sizeof(*in));

	return e ? rootfs_bfail_ext2(b, e, "writing an inode", n) : 0;
}

/* Allocates count blocks for logical blocks from lblk on, as b->runs. */
static int alloc_blocks(struct build *b, blk64_t lblk, blk64_t count, const struct node *n)
{
	while (count > 0) {
		blk64_t pblk, plen;
		errcode_t e = ext2fs_new_range(b->fs, 0, b->goal, count, NULL, &pblk, &plen);

		if (e)
			return rootfs_bfail_ext2(b, e, "allocating data blocks", n);
		if (plen > count)
			plen = count;
		ext2fs_block_alloc_stats_range(b->fs, pblk, (blk_t)plen, +1);
		b->goal = pblk + plen;
		if (b->n_runs && b->runs[b->n_runs - 1].pblk + b->runs[b->n_runs - 1].len == pblk &&
		    b->runs[b->n_runs - 1].lblk + b->runs[b->n_runs - 1].len == lblk) {
			b->runs[b->n_runs - 1].len += plen;
		} else {
			if (b->n_runs == b->cap_runs) {
				size_t cap = b->cap_runs ? b->cap_runs * 2 : 16;
				struct run *rr = realloc(b->runs, cap * sizeof(*rr));

				if (!rr)
					return -ENOMEM;
				b->runs = rr;
				b->cap_runs = cap;
			}
			b->runs[b->n_runs++] = (struct run){ lblk, pblk, plen };
		}
		lblk += plen;
		count -= plen;
	}
	return 0;
}

/* Records b->runs as the inode's block map and counts them in i_blocks. */
static int map_runs(struct build *b, ext2_ino_t ino, struct ext2_inode_large *in,
		    const struct node *n)
{
	struct ext2_inode *inode = (struct ext2_inode *)in;
	blk64_t total = 0;
	size_t n_ext = 0;
	errcode_t e = 0;

	for (size_t i = 0; i < b->n_runs; i++) {
		total += b->runs[i].len;
		n_ext += (size_t)((b->runs[i].len + EXT_MAX_LEN - 1) / EXT_MAX_LEN);
	}
	if (b->extents) {
		struct ext3_extent_header *eh = (struct ext3_extent_header *)in->i_block;
		struct ext3_extent *ex = (struct ext3_extent *)(eh + 1);
		const size_t in_inode = (sizeof(in->i_block) - sizeof(*eh)) / sizeof(*ex);

		in->i_flags |= EXT4_EXTENTS_FL;
		memset(in->i_block, 0, sizeof(in->i_block));
		eh->eh_magic = EXT3_EXT_MAGIC;
		eh->eh_max = (__u16)in_inode;
		if (n_ext <= in_inode) {
			/* the common case: the whole map fits into the inode */
			for (size_t i = 0; i < b->n_runs; i++) {
				for (blk64_t o = 0; o < b->runs[i].len; o += EXT_MAX_LEN) {
					blk64_t len = b->runs[i].len - o;
					blk64_t p = b->runs[i].pblk + o;

					if (len > EXT_MAX_LEN)
						len = EXT_MAX_LEN;
					ex->ee_block = (__u32)(b->runs[i].lblk + o);
					ex->ee_len = (__u16)len;
					ex->ee_start_hi = (__u16)(p >> 32);
					ex->ee_start = (__u32)p;
					ex++;
					eh->eh_entries++;
				}
			}
		} else {
			ext2_extent_handle_t h;
			int flags = 0;

			memset(in->i_block, 0, sizeof(in->i_block));
			e = ext2fs_extent_open2(b->fs, ino, inode, &h);
			if (e)
				return rootfs_bfail_ext2(b, e, "mapping data blocks", n);
			for (size_t i = 0; !e && i < b->n_runs; i++) {
				for (blk64_t o = 0; !e && o < b->runs[i].len; o += EXT_MAX_LEN) {
					struct ext2fs_extent x = {
						.e_pblk = b->runs[i].pblk + o,
						.e_lblk = b->runs[i].lblk + o,
						.e_len = (__u32)(b->runs[i].len - o > EXT_MAX_LEN ?
								 EXT_MAX_LEN : b->runs[i].len - o),
					};

					e = ext2fs_extent_insert(h, flags, &x);
					flags = EXT2_EXTENT_INSERT_AFTER;
				}
			}
			ext2fs_extent_free(h);
		}
	} else {
		for (size_t i = 0; !e && i < b->n_runs; i++) {
			for (blk64_t o = 0; !e && o < b->runs[i].len; o++) {
				blk64_t l = b->runs[i].lblk + o, p = b->runs[i].pblk + o;

				if (l < EXT2_NDIR_BLOCKS)
					in->i_block[l] = (__u32)p;
				else
					e = ext2fs_bmap2(b->fs, ino, inode, NULL, BMAP_SET | BMAP_ALLOC, l,
						 NULL, &p);
			}
		}
	}
	if (!e)
		e = ext2fs_iblk_add_blocks(b->fs, inode, total);
	return e ? rootfs_bfail_ext2(b, e, "mapping data blocks", n) : 0;
}

/* Writes b->runs' contents from fd or mem (size bytes in all). */
static int copy_runs(struct build *b, int fd, const char *mem, uint64_t size, const struct node *n)
{
	for (size_t i = 0; i < b->n_runs; i++) {
		uint64_t src = b->runs[i].lblk * b->bs, len = b->runs[i].len * b->bs;
		int r;

		if (src >= size)
			continue;
		if (len > size - src)
			len = size - src;
		r = dw_copy(b, fd, mem, src, b->runs[i].pblk * b->bs, len);
		if (r < 0)
			return r == -ENOMEM ? r : rootfs_node_fail(b, r, n, "cannot copy");
	}
	return 0;
}

/* Allocates the blocks of a regular file's data, skipping the source's holes. */
static int alloc_file(struct build *b, int fd, const struct node *n)
{
	uint64_t size = n->size;
	off_t pos = 0;
	int r;

	if (!size)
		return 0;
	if (fd < 0 || n->host_bytes >= size)
		return alloc_blocks(b, 0, blocks_for(b, size), n);
	while ((uint64_t)pos < size) {
		off_t data = lseek(fd, pos, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0 && pos == 0)	/* no SEEK_DATA here: all of it */
			return alloc_blocks(b, 0, blocks_for(b, size), n);
		if (data < 0)
			return rootfs_node_fail(b, -errno, n, "cannot find the data of");
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		blk64_t first = (uint64_t)data / b->bs, end = blocks_for(b, (uint64_t)hole);

		if (b->n_runs) {
			struct run *last = &b->runs[b->n_runs - 1];

			if (first < last->lblk + last->len)
				first = last->lblk + last->len;
		}
		if (end > first) {
			r = alloc_blocks(b, first, end - first, n);
			if (r < 0)
				return r;
		}
		pos = hole;
	}
	return 0;
}

int rootfs_write_leaf(struct build *b, int dfd, struct node *n, ext2_ino_t ino)
{
	struct ext2_inode_large in;
	errcode_t e;
	int fd = -1, r = 0;

	inode_init(b, n, &in);
	b->n_runs = 0;
	if (n->hl && n->hl->count >= EXT2_LINK_MAX)
		return rootfs_node_fail(b, -EMLINK, n, "too many hard links to");
	if (n->hl)
		in.i_links_count = (__u16)n->hl->count;
	if (S_ISREG(n->mode)) {
		if (n->size && !n->data) {
			if (n->src_path)
				fd = open(n->src_path, O_RDONLY | O_CLOEXEC);
			else
				fd = openat(dfd, n->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return rootfs_node_fail(b, -errno, n, "cannot open");
		}
		r = alloc_file(b, fd, n);
		if (r == 0 && b->extents)
			in.i_flags |= EXT4_EXTENTS_FL;
		if (r == 0)
			r = map_runs(b, ino, &in, n);
		if (r == 0) {
			e = ext2fs_inode_size_set(b->fs, (struct ext2_inode *)&in, n->size);
			r = e ? rootfs_bfail_ext2(b, e, "setting a size", n) : 0;
		}
		if (r == 0)
			r = copy_runs(b, fd, n->data, n->size, n);
		if (fd >= 0)
			close(fd);
		if (r < 0)
			return r;
	} else if (S_ISLNK(n->mode)) {
		size_t len = strlen(n->data);

		if (len < FAST_SYMLINK_LEN) {
			memcpy(in.i_block, n->data, len);	/* fast symlink */
		} else if (len >= b->bs) {
			/* the kernel reads slow symlinks from one block */
			return rootfs_node_fail(b, -ENAMETOOLONG, n, "target too long for the "
						"image's block size in symlink");
		} else {
			r = alloc_blocks(b, 0, 1, n);
			if (r == 0)
				r = map_runs(b, ino, &in, n);
			if (r == 0)
				r = copy_runs(b, -1, n->data, len, n);
			if (r < 0)
				return r;
		}
		in.i_size = (__u32)len;
	} else if (S_ISCHR(n->mode) || S_ISBLK(n->mode)) {
		unsigned maj = major(n->rdev), min = minor(n->rdev);

		/* the kernel's old (16-bit) and new device number encodings */
		if (maj < 256 && min < 256)
			in.i_block[0] = maj * 256 + min;
		else
			in.i_block[1] = (min & 0xff) | (maj << 8) | ((min & ~0xffu) << 12);
	}
	return write_inode(b, ino, &in, n);
}

unsigned rootfs_file_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return EXT2_FT_REG_FILE;
	case S_IFDIR: return EXT2_FT_DIR;
	case S_IFCHR: return EXT2_FT_CHRDEV;
	case S_IFBLK: return EXT2_FT_BLKDEV;
	case S_IFIFO: return EXT2_FT_FIFO;
	case S_IFSOCK: return EXT2_FT_SOCK;
	case S_IFLNK: return EXT2_FT_SYMLINK;
	}
	return EXT2_FT_UNKNOWN;
}

static int dir_open_block(struct build *b, size_t blk, unsigned usable)
{
	if (blk + b->bs > b->dircap) {
		size_t cap = b->dircap ? b->dircap * 2 : 65536;
		char *p;

		while (cap < blk + b->bs)
			cap *= 2;
		p = realloc(b->dirbuf, cap);
		if (!p)
			return -ENOMEM;
		b->dirbuf = p;
		b->dircap = cap;
	}
	memset(b->dirbuf + blk, 0, b->bs);
	if (b->csum)
		ext2fs_initialize_dirent_tail(b->fs,
			(struct ext2_dir_entry_tail *)(b->dirbuf + blk + usable));
	return 0;
}

/*
 * Lays out a directory's entries in b->dirbuf, in whole blocks; the last
 * entry of each block spans the rest of it (up to the checksum tail).
 */
static int compose_dir(struct build *b, const struct node *dir, ext2_ino_t ino,
		       ext2_ino_t parent, size_t *ret_len)
{
	unsigned usable = b->bs - (b->csum ? sizeof(struct ext2_dir_entry_tail) : 0);
	size_t blk = 0, pos = 0, last = 0, min_len = b->bs;
	struct ext2_dir_entry *de;
	int r;

	if (dir->lost_found) {
		/* room for e2fsck to reconnect files without allocating */
		min_len = LPF_MIN_BYTES;
		if (min_len < 2 * b->bs)
			min_len = 2 * b->bs;
	}
	r = dir_open_block(b, 0, usable);
	if (r < 0)
		return r;
	for (size_t i = 0; i < dir->n_kids + 2; i++) {
		const struct node *kid = i < 2 ? NULL : dir->kids[i - 2];
		const char *name = i == 0 ? "." : i == 1 ? ".." : kid->name;
		size_t nl = strlen(name);
		unsigned rl = dirent_len(nl);

		if (pos + rl > usable) {
			de = (struct ext2_dir_entry *)(b->dirbuf + last);
			ext2fs_set_rec_len(b->fs, (unsigned)(blk + usable - last), de);
			blk += b->bs;
			pos = 0;
			r = dir_open_block(b, blk, usable);
			if (r < 0)
				return r;
		}
		last = blk + pos;
		de = (struct ext2_dir_entry *)(b->dirbuf + last);
		de->inode = i == 0 ? ino : i == 1 ? parent : kid->ino;
		ext2fs_dirent_set_name_len(de, (int)nl);
		ext2fs_dirent_set_file_type(de, (int)(kid ? rootfs_file_type(kid->mode) : EXT2_FT_DIR));
		memcpy(de->name, name, nl);
		ext2fs_set_rec_len(b->fs, rl, de);
		pos += rl;
	}
	de = (struct ext2_dir_entry *)(b->dirbuf + last);
	ext2fs_set_rec_len(b->fs, (unsigned)(blk + usable - last), de);
	blk += b->bs;
	while (blk < min_len) {
		/* an empty block: one unused entry spanning it */
		r = dir_open_block(b, blk, usable);
		if (r < 0)
			return r;
		ext2fs_set_rec_len(b->fs, usable, (struct ext2_dir_entry *)(b->dirbuf + blk));
		blk += b->bs;
	}
	*ret_len = blk;
	return 0;
}

static int write_dir_inode(struct build *b, struct node *dir, ext2_ino_t parent)
{
	struct ext2_inode_large in;
	unsigned links = 2;
	size_t len;
	errcode_t e;
	int r;

	r = compose_dir(b, dir, dir->ino, parent, &len);
	if (r < 0)
		return r;
	inode_init(b, dir, &in);
	for (size_t i = 0; i < dir->n_kids; i++)
		if (S_ISDIR(dir->kids[i]->mode))
			links++;
	if (links >= EXT2_LINK_MAX && ext2fs_has_feature_dir_nlink(b->fs->super))
		links = 1;
	else if (links >= EXT2_LINK_MAX)
		return rootfs_node_fail(b, -EMLINK, dir, "too many subdirectories for ext2/3 in");
	in.i_links_count = (__u16)links;
	b->n_runs = 0;
	r = alloc_blocks(b, 0, len / b->bs, dir);
	if (r == 0)
		r = map_runs(b, dir->ino, &in, dir);
	if (r < 0)
		return r;
	e = ext2fs_inode_size_set(b->fs, (struct ext2_inode *)&in, len);
	if (e)
		return rootfs_bfail_ext2(b, e, "setting a directory size", dir);
	r = write_inode(b, dir->ino, &in, dir);
	if (r < 0)
		return r;
	/* the checksums cover the inode's number and generation, now on disk */
	for (size_t off = 0; b->csum && off < len; off += b->bs) {
		e = ext2fs_dir_block_csum_set(b->fs, dir->ino,
					      (struct ext2_dir_entry *)(b->dirbuf + off));
		if (e)
			return rootfs_bfail_ext2(b, e, "checksumming a directory block", dir);
	}
	return copy_runs(b, -1, b->dirbuf, len, dir);
}

int rootfs_tick(struct build *b)
{
	int r;

	b->done++;
	if (b->done != b->total && b->done - b->reported < b->step)
		return 0;
	b->reported = b->done;
	r = uml_progress(b->ctx, "populate", b->done, b->total);
	if (r < 0)
		return bfail(b, r, "writing image '%s' was cancelled at %llu of %llu entries",
			     b->rootfs->path, (unsigned long long)b->done,
			     (unsigned long long)b->total);
	return 0;
}

int rootfs_write_dir(struct build *b, int dfd, struct node *dir, ext2_ino_t parent)
{
	int r;

	for (size_t i = 0; i < dir->n_kids; i++) {
		struct node *n = dir->kids[i];
		ext2_ino_t ino;
		errcode_t e;

		if (n->hl && n->hl->e2ino) {
			n->ino = n->hl->e2ino;
		} else {
			e = ext2fs_new_inode(b->fs, dir->ino, (int)n->mode, NULL, &ino);
			if (e)
				return rootfs_bfail_ext2(b, e, "allocating an inode", n);
			ext2fs_inode_alloc_stats2(b->fs, ino, +1, S_ISDIR(n->mode) ? 1 : 0);
			n->ino = ino;
			if (n->hl)
				n->hl->e2ino = ino;
			if (S_ISDIR(n->mode)) {
				int sub = -1;

				/* a synthesized lost+found has no source */
				if (dfd >= 0 && n->counted) {
					sub = rootfs_open_subdir(b, dfd, n);
					if (sub < 0)
						return sub;
				}
				r = rootfs_write_dir(b, sub, n, dir->ino);
				if (sub >= 0)
					close(sub);
			} else {
				r = rootfs_write_leaf(b, dfd, n, ino);
			}
			if (r < 0)
				return r;
		}
		if (n->counted) {
			r = rootfs_tick(b);
			if (r < 0)
				return r;
		}
	}
	return write_dir_inode(b, dir, parent);
}

/* ---- the filesystem ---------------------------------------------------------- */

static int fs_create(struct build *b)
{
	struct ext2_super_block param = { 0 };
	enum uml_fs_type type = b->rootfs->fs_type;
	uint64_t blocks = b->rootfs->size / b->bs;
	errcode_t e;
	ext2_filsys fs;

	ext2fs_blocks_count_set(&param, blocks);
	ext2fs_r_blocks_count_set(&param, blocks * 5 / 100);
	param.s_log_block_size = b->bs == 4096 ? 2 : 0;
	param.s_log_cluster_size = param.s_log_block_size;
	param.s_inodes_count = (__u32)b->n_inodes;
	param.s_rev_level = EXT2_DYNAMIC_REV;
	param.s_inode_size = 256;
	param.s_default_mount_opts = EXT2_DEFM_XATTR_USER | EXT2_DEFM_ACL;
	/* mke2fs.conf's defaults */
	ext2fs_set_feature_sparse_super(&param);
	ext2fs_set_feature_large_file(&param);
	ext2fs_set_feature_filetype(&param);
	ext2fs_set_feature_resize_inode(&param);
	ext2fs_set_feature_dir_index(&param);
	ext2fs_set_feature_xattr(&param);
	if (type != UML_FS_EXT2)
		ext2fs_set_feature_journal(&param);
	if (type == UML_FS_EXT4) {
		ext2fs_set_feature_extents(&param);
		ext2fs_set_feature_huge_file(&param);
		ext2fs_set_feature_flex_bg(&param);
		ext2fs_set_feature_metadata_csum(&param);
		ext2fs_set_feature_64bit(&param);
		ext2fs_set_feature_dir_nlink(&param);
		ext2fs_set_feature_extra_isize(&param);
		param.s_log_groups_per_flex = 4;
		param.s_desc_size = EXT2_MIN_DESC_SIZE_64BIT;
	}
	e = ext2fs_initialize(b->tmp, EXT2_FLAG_64BITS | EXT2_FLAG_RW, &param,
			      unix_io_manager, &fs);
	if (e)
		return rootfs_bfail_ext2(b, e, "initializing the filesystem", NULL);
	b->fs = fs;
	b->extents = ext2fs_has_feature_extents(fs->super);
	b->csum = ext2fs_has_feature_metadata_csum(fs->super);

	/* what mke2fs sets after ext2fs_initialize() */
	if (getrandom(fs->super->s_uuid, sizeof(fs->super->s_uuid), 0) !=
	    (ssize_t)sizeof(fs->super->s_uuid) ||
	    getrandom(fs->super->s_hash_seed, sizeof(fs->super->s_hash_seed), 0) !=
	    (ssize_t)sizeof(fs->super->s_hash_seed))
		return bfail(b, -EIO, "cannot get random bytes for the filesystem UUID: %m");
	fs->super->s_uuid[6] = (fs->super->s_uuid[6] & 0x0f) | 0x40;
	fs->super->s_uuid[8] = (fs->super->s_uuid[8] & 0x3f) | 0x80;
	if (b->csum)
		fs->super->s_checksum_type = EXT2_CRC32C_CHKSUM;
	ext2fs_init_csum_seed(fs);
	fs->super->s_def_hash_version = EXT2_HASH_HALF_MD4;
	fs->super->s_flags |= ((char)-1 < 0) ? EXT2_FLAGS_SIGNED_HASH : EXT2_FLAGS_UNSIGNED_HASH;
	fs->super->s_max_mnt_count = -1;
	fs->super->s_mkfs_time = fs->super->s_lastcheck = (__u32)b->now.tv_sec;

	e = ext2fs_allocate_tables(fs);
	if (e)
		return rootfs_bfail_ext2(b, e, "allocating group tables", NULL);
	/* the fresh sparse file reads as zeros: inode tables start out initialised */
	for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
		ext2fs_bg_flags_set(fs, g, EXT2_BG_INODE_ZEROED);
		ext2fs_group_desc_csum_set(fs, g);
	}
	for (ext2_ino_t i = EXT2_ROOT_INO + 1; i < EXT2_FIRST_INODE(fs->super); i++)
		ext2fs_inode_alloc_stats2(fs, i, +1, 0);
	ext2fs_mark_ib_dirty(fs);
	ext2fs_inode_alloc_stats2(fs, EXT2_BAD_INO, +1, 0);
	e = ext2fs_update_bb_inode(fs, NULL);
	if (e)
		return rootfs_bfail_ext2(b, e, "writing the bad blocks inode", NULL);
	if (ext2fs_has_feature_resize_inode(fs->super)) {
		e = ext2fs_create_resize_inode(fs);
		if (e)
			return rootfs_bfail_ext2(b, e, "creating the resize inode", NULL);
	}
	if (ext2fs_has_feature_journal(fs->super)) {
		struct ext2fs_journal_params jp;

		e = ext2fs_get_journal_params(&jp, fs);
		if (e == EXT2_ET_JOURNAL_TOO_SMALL) {
			/* as mke2fs: a filesystem this small gets no journal */
			uml_info(b->ctx, "image '%s' is too small for a journal; made without one",
				 b->rootfs->path);
			ext2fs_clear_feature_journal(fs->super);
		} else if (e) {
			return rootfs_bfail_ext2(b, e, "sizing the journal", NULL);
		} else {
			e = ext2fs_add_journal_inode3(fs, &jp, ~0ULL, EXT2_MKJOURNAL_LAZYINIT |
						      EXT2_MKJOURNAL_NO_MNT_CHECK);
			if (e)
				return rootfs_bfail_ext2(b, e, "creating the journal", NULL);
		}
	}
	ext2fs_inode_alloc_stats2(fs, EXT2_ROOT_INO, +1, 1);
	b->goal = 0;
	return 0;
}

int rootfs_fs_check_space(struct build *b)
{
	uint64_t free_blocks = ext2fs_free_blocks_count(b->fs->super);
	uint64_t free_inodes = b->fs->super->s_free_inodes_count;

	if (b->est_blocks > free_blocks)
		return bfail(b, -ENOSPC, "%s does not fit into %llu-byte image '%s': it needs at "
			     "least %llu KiB, the filesystem has %llu KiB free", b->what,
			     (unsigned long long)b->image_bytes, b->rootfs->path,
			     (unsigned long long)(b->est_blocks * b->bs / 1024),
			     (unsigned long long)(free_blocks * b->bs / 1024));
	if (b->total + 1 > free_inodes)
		return bfail(b, -ENOSPC, "%s does not fit into %llu-byte image '%s': %llu entries, "
			     "room for %llu inodes", b->what, (unsigned long long)b->image_bytes,
			     b->rootfs->path, (unsigned long long)b->total,
			     (unsigned long long)free_inodes);
	return 0;
}

void rootfs_build_free(struct build *b)
{
	if (b->fs)
		ext2fs_free(b->fs);
	b->fs = NULL;
	if (b->imgfd >= 0)
		close(b->imgfd);
	b->imgfd = -1;
	if (b->tmp) {
		unlink(b->tmp);
		free(b->tmp);
	}
	b->tmp = NULL;
	rootfs_node_free(b->root);
	b->root = NULL;
	hl_free(&b->hl);
	free(b->runs);
	free(b->dirbuf);
	free(b->wbuf);
}

int rootfs_check_target(struct uml_rootfs *rootfs, unsigned flags)
{
	struct stat st;

	if (flags & ~UML_ROOTFS_CREATE_OVERWRITE)
		return rfail(rootfs, -EINVAL, "unknown flags 0x%x for creating '%s'", flags,
			     rootfs->path);
	if (rootfs->backing)
		return rfail(rootfs, -EINVAL, "'%s' is a COW overlay; create its backing image "
			     "'%s' instead", rootfs->path, rootfs->backing);
	if (lstat(rootfs->path, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return rfail(rootfs, -EISDIR, "image path '%s' is a directory", rootfs->path);
		if (!(flags & UML_ROOTFS_CREATE_OVERWRITE))
			return rfail(rootfs, -EEXIST, "image '%s' exists; pass "
				     "UML_ROOTFS_CREATE_OVERWRITE to replace it", rootfs->path);
	}
	return 0;
}

/* Writes b->root into a new image and puts it in place. */
int rootfs_build_image(struct build *b, int srcfd, unsigned flags)
{
	struct uml_rootfs *rootfs = b->rootfs;
	char *slash, *dir;
	errcode_t e;
	int r;

	r = add_lost_found(b);
	if (r < 0)
		return r;
	b->step = b->total / 512 ? b->total / 512 : 1;

	if (asprintf(&b->tmp, "%s", rootfs->path) < 0)
		return -ENOMEM;
	slash = strrchr(b->tmp, '/');
	if (asprintf(&dir, "%.*s/.%s.XXXXXX", (int)(slash - b->tmp), b->tmp, slash + 1) < 0)
		return -ENOMEM;
	free(b->tmp);
	b->tmp = NULL;
	b->imgfd = mkostemp(dir, O_CLOEXEC);
	if (b->imgfd < 0) {
		r = rfail(rootfs, -errno, "cannot create a temporary image next to '%s': %m",
			  rootfs->path);
		free(dir);
		return r;
	}
	b->tmp = dir;
	if (ftruncate(b->imgfd, (off_t)rootfs->size) < 0)
		return rfail(rootfs, -errno, "cannot size '%s' to %llu bytes: %m", b->tmp,
			     (unsigned long long)rootfs->size);
	b->wbuf = malloc(WBUF_SIZE);
	if (!b->wbuf)
		return -ENOMEM;

	r = fs_create(b);
	if (r < 0)
		return r;
	r = rootfs_fs_check_space(b);
	if (r < 0)
		return r;
	r = uml_progress(b->ctx, "populate", 0, b->total);
	if (r < 0)
		return rfail(rootfs, r, "creating image '%s' was cancelled", rootfs->path);
	b->root->ino = EXT2_ROOT_INO;
	r = rootfs_write_dir(b, srcfd, b->root, EXT2_ROOT_INO);
	if (r < 0)
		return r;
	r = rootfs_dw_flush(b);
	if (r < 0)
		return rfail(rootfs, r, "cannot write image '%s': %s", b->tmp, strerror(-r));
	e = ext2fs_set_gdt_csum(b->fs);
	if (!e)
		e = ext2fs_close_free(&b->fs);
	if (e) {
		b->fs = NULL;
		return rootfs_bfail_ext2(b, e, "writing the filesystem metadata", NULL);
	}
	if (fsync(b->imgfd) < 0)
		return rfail(rootfs, -errno, "cannot sync '%s': %m", b->tmp);
	if (flags & UML_ROOTFS_CREATE_OVERWRITE)
		r = rename(b->tmp, rootfs->path);
	else
		r = renameat2(AT_FDCWD, b->tmp, AT_FDCWD, rootfs->path, RENAME_NOREPLACE);
	if (r < 0)
		return rfail(rootfs, -errno, "cannot move the new image to '%s': %m", rootfs->path);
	free(b->tmp);
	b->tmp = NULL;
	return 0;
}

void rootfs_build_init(struct build *b, struct uml_rootfs *rootfs)
{
	memset(b, 0, sizeof(*b));
	b->rootfs = rootfs;
	b->ctx = rootfs->ctx;
	b->imgfd = -1;
	b->image_bytes = rootfs->size;
	clock_gettime(CLOCK_REALTIME, &b->now);
}

UML_EXPORT int uml_rootfs_create_from_dir(struct uml_rootfs *rootfs, const char *dir,
					  unsigned flags)
{
	struct build b;
	struct stat st;
	int fd, r;

	if (!rootfs)
		return -EINVAL;
	if (!dir || !dir[0])
		return rfail(rootfs, -EINVAL, "source directory for '%s' is %s", rootfs->path,
			     dir ? "empty" : "NULL");
	r = rootfs_check_target(rootfs, flags);
	if (r < 0)
		return r;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOTDIR || (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)))
			return rfail(rootfs, -ENOTDIR, "source '%s' is not a directory", dir);
		return rfail(rootfs, r, "cannot open source directory '%s': %s", dir, strerror(-r));
	}
	if (fstat(fd, &st) < 0) {
		r = rfail(rootfs, -errno, "cannot stat '%s': %m", dir);
		close(fd);
		return r;
	}
	rootfs_build_init(&b, rootfs);
	b.what = dir;
	rootfs_geometry(&b, 0);
	b.root = rootfs_node_add(NULL, "", st.st_mode);
	r = b.root ? 0 : -ENOMEM;
	if (r == 0) {
		rootfs_set_stat(b.root, &st);
		r = rootfs_scan_dir(&b, dup(fd), b.root);
	}
	if (r == 0) {
		rootfs_estimate(&b, b.root);
		rootfs_geometry(&b, b.total);
		r = rootfs_build_image(&b, fd, flags);
	}
	close(fd);
	rootfs_build_free(&b);
	if (r == -ENOMEM)
		return rfail(rootfs, r, "out of memory creating '%s' from '%s'", rootfs->path, dir);
	if (r == 0) {
		rootfs->ready_marker = NULL;
		rootfs->root_rw = false;
	}
	if (r == 0)
		uml_info(rootfs->ctx, "created %s image '%s' from '%s' (%llu entries)",
			 rootfs->fs_type == UML_FS_EXT4 ? "ext4" :
			 rootfs->fs_type == UML_FS_EXT3 ? "ext3" : "ext2", rootfs->path, dir,
			 (unsigned long long)b.total);
	return r;
}

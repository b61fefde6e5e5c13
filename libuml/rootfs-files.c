/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Files in and out of an existing image: copy in, read, list, remove, resize. */
#include "config.h"

#include "rootfs-internal.h"

/* ---- files in and out of an existing image ------------------------------------ */

static int check_guest_path(struct uml_rootfs *rootfs, const char *path)
{
	if (!path || path[0] != '/')
		return rfail(rootfs, -EINVAL, "guest path '%s' for image '%s' is not absolute",
			     path ? path : "(null)", rootfs->path);
	return 0;
}

static int image_open(struct uml_rootfs *rootfs, bool rw, ext2_filsys *ret)
{
	if (rootfs->backing)
		return rfail(rootfs, -EOPNOTSUPP, "'%s' is a COW overlay; files can only be read "
			     "or changed in plain images", rootfs->path);
	return rootfs_open_fs(rootfs, rootfs->path, rw, ret);
}

/* Resolves path in the image; follow: a symlink as last component too. */
static int guest_lookup(struct uml_rootfs *rootfs, ext2_filsys fs, const char *path, bool follow,
			ext2_ino_t *ino)
{
	errcode_t e = follow ? ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino) :
			       ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino);
	int r;

	if (!e)
		return 0;
	r = rootfs_ext2_errno(e);
	return rfail(rootfs, r, "'%s' in image '%s': %s", path, rootfs->path,
		     r == -EIO ? rootfs_ext2_strerror(e) : strerror(-r));
}

static int read_inode(struct uml_rootfs *rootfs, ext2_filsys fs, ext2_ino_t ino,
		      struct ext2_inode_large *in)
{
	errcode_t e;

	memset(in, 0, sizeof(*in));
	e = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)in, sizeof(*in));
	if (e)
		return rfail(rootfs, rootfs_ext2_errno(e), "cannot read inode %u of '%s': %s", ino,
			     rootfs->path, rootfs_ext2_strerror(e));
	return 0;
}

/* Opens the image read-only and finds guest_path in it, symlinks followed. */
static int open_path(struct uml_rootfs *rootfs, const char *guest_path, ext2_filsys *fs,
		     ext2_ino_t *ino, struct ext2_inode_large *in)
{
	int r = check_guest_path(rootfs, guest_path);

	if (r < 0)
		return r;
	r = image_open(rootfs, false, fs);
	if (r < 0)
		return r;
	r = guest_lookup(rootfs, *fs, guest_path, true, ino);
	if (r == 0)
		r = read_inode(rootfs, *fs, *ino, in);
	if (r < 0)
		ext2fs_close_free(fs);
	return r;
}

/* Reads the regular file guest_path (symlinks followed) of the open fs. */
int rootfs_fs_read_file(struct uml_rootfs *rootfs, ext2_filsys fs, const char *guest_path,
			char **data, size_t *len)
{
	struct ext2_inode_large in;
	ext2_file_t f = NULL;
	ext2_ino_t ino;
	uint64_t size;
	char *buf = NULL;
	errcode_t e;
	int r;

	r = check_guest_path(rootfs, guest_path);
	if (r == 0)
		r = guest_lookup(rootfs, fs, guest_path, true, &ino);
	if (r == 0)
		r = read_inode(rootfs, fs, ino, &in);
	if (r < 0)
		return r;
	size = EXT2_I_SIZE(&in);
	if (LINUX_S_ISDIR(in.i_mode))
		return rfail(rootfs, -EISDIR, "'%s' in image '%s' is a directory", guest_path,
			     rootfs->path);
	if (!LINUX_S_ISREG(in.i_mode))
		return rfail(rootfs, -EINVAL, "'%s' in image '%s' is not a regular file", guest_path,
			     rootfs->path);
	if (size > (1u << 30))
		return rfail(rootfs, -EFBIG, "'%s' in image '%s' is larger than 1 GiB (%llu bytes)",
			     guest_path, rootfs->path, (unsigned long long)size);
	buf = malloc((size_t)size + 1);
	if (!buf)
		return -ENOMEM;
	e = ext2fs_file_open2(fs, ino, (struct ext2_inode *)&in, 0, &f);
	for (size_t done = 0; !e && done < size; ) {
		unsigned got;

		e = ext2fs_file_read(f, buf + done, (unsigned)(size - done), &got);
		if (!e && !got)
			break;
		done += got;
	}
	if (f)
		ext2fs_file_close(f);
	if (e) {
		free(buf);
		return rfail(rootfs, rootfs_ext2_errno(e), "cannot read '%s' in image '%s': %s",
			     guest_path, rootfs->path, rootfs_ext2_strerror(e));
	}
	buf[size] = '\0';
	*data = buf;
	if (len)
		*len = (size_t)size;
	return 0;
}

UML_EXPORT int uml_rootfs_read_file(struct uml_rootfs *rootfs, const char *guest_path,
				    char **data, size_t *len)
{
	ext2_filsys fs;
	int r;

	if (!rootfs)
		return -EINVAL;
	if (!data)
		return rfail(rootfs, -EINVAL, "no place for the data of '%s'", guest_path);
	r = check_guest_path(rootfs, guest_path);
	if (r < 0)
		return r;
	r = image_open(rootfs, false, &fs);
	if (r < 0)
		return r;
	r = rootfs_fs_read_file(rootfs, fs, guest_path, data, len);
	ext2fs_close_free(&fs);
	return r;
}

/* The entries of a directory but "." and "..", names packed in one buffer. */
struct dirents {
	ext2_ino_t *inos;
	size_t *name_off;
	size_t n, cap;
	struct uml_buf names;
	int err;
};

static int dirents_fn(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset,
		      int blocksize, char *buf, void *priv)
{
	struct dirents *d = priv;
	int nl = ext2fs_dirent_name_len(de);

	if ((nl == 1 && de->name[0] == '.') || (nl == 2 && de->name[0] == '.' && de->name[1] == '.'))
		return 0;
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		ext2_ino_t *inos = realloc(d->inos, cap * sizeof(*inos));
		size_t *offs = inos ? realloc(d->name_off, cap * sizeof(*offs)) : NULL;

		if (inos)
			d->inos = inos;
		if (!inos || !offs) {
			d->err = -ENOMEM;
			return DIRENT_ABORT;
		}
		d->name_off = offs;
		d->cap = cap;
	}
	d->name_off[d->n] = d->names.len;
	d->inos[d->n++] = de->inode;
	if (uml_buf_append(&d->names, de->name, (size_t)nl) < 0 ||
	    uml_buf_append(&d->names, "", 1) < 0) {
		d->err = -ENOMEM;
		return DIRENT_ABORT;
	}
	return 0;
}

static errcode_t dirents_read(ext2_filsys fs, ext2_ino_t dir, struct dirents *d)
{
	errcode_t e = ext2fs_dir_iterate2(fs, dir, 0, NULL, dirents_fn, d);

	return d->err ? EXT2_ET_NO_MEMORY : e;
}

static const char *dirents_name(const struct dirents *d, size_t i)
{
	return d->names.data + d->name_off[i];
}

static void dirents_free(struct dirents *d)
{
	free(d->inos);
	free(d->name_off);
	uml_buf_free(&d->names);
	memset(d, 0, sizeof(*d));
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct uml_rootfs_entry *)a)->name,
		      ((const struct uml_rootfs_entry *)b)->name);
}

static int64_t decode_xtime(__u32 t, __u32 extra, bool has_extra)
{
	return (int64_t)(int32_t)t + (has_extra ? (int64_t)(extra & EXT4_EPOCH_MASK) << 32 : 0);
}

UML_EXPORT int uml_rootfs_list_dir(struct uml_rootfs *rootfs, const char *guest_path,
				   const struct uml_rootfs_entry **ret, size_t *n)
{
	struct uml_rootfs_entry *list = NULL;
	struct dirents d = { 0 };
	struct ext2_inode_large in;
	ext2_filsys fs;
	ext2_ino_t ino;
	errcode_t e;
	int r;

	if (!rootfs)
		return -EINVAL;
	if (!ret || !n)
		return rfail(rootfs, -EINVAL, "no place for the listing of '%s'", guest_path);
	r = open_path(rootfs, guest_path, &fs, &ino, &in);
	if (r < 0)
		return r;
	if (!LINUX_S_ISDIR(in.i_mode))
		r = rfail(rootfs, -ENOTDIR, "'%s' in image '%s' is not a directory", guest_path,
			  rootfs->path);
	if (r < 0)
		goto out;
	e = dirents_read(fs, ino, &d);
	if (e) {
		r = rfail(rootfs, rootfs_ext2_errno(e), "cannot read directory '%s' in image '%s': %s",
			  guest_path, rootfs->path, rootfs_ext2_strerror(e));
		goto out;
	}
	/* one allocation: the array, then the names */
	list = malloc(d.n * sizeof(*list) + d.names.len + 1);
	if (!list) {
		r = -ENOMEM;
		goto out;
	}
	memcpy((char *)(list + d.n), d.names.data ? d.names.data : "", d.names.len + 1);
	for (size_t i = 0; i < d.n; i++) {
		struct uml_rootfs_entry *x = &list[i];
		bool extra;

		memset(x, 0, sizeof(*x));
		x->name = (char *)(list + d.n) + d.name_off[i];
		r = read_inode(rootfs, fs, d.inos[i], &in);
		if (r < 0)
			goto out;
		extra = EXT2_INODE_SIZE(fs->super) > EXT2_GOOD_OLD_INODE_SIZE &&
			in.i_extra_isize >= offsetof(struct ext2_inode_large, i_mtime_extra) +
					    sizeof(in.i_mtime_extra) - EXT2_GOOD_OLD_INODE_SIZE;
		x->mode = in.i_mode;
		x->uid = in.i_uid | ((uid_t)in.osd2.linux2.l_i_uid_high << 16);
		x->gid = in.i_gid | ((gid_t)in.osd2.linux2.l_i_gid_high << 16);
		x->size = EXT2_I_SIZE(&in);
		x->mtime = decode_xtime(in.i_mtime, in.i_mtime_extra, extra);
		x->mtime_nsec = extra ? in.i_mtime_extra >> EXT4_EPOCH_BITS : 0;
		x->nlink = in.i_links_count;
	}
	qsort(list, d.n, sizeof(*list), entry_cmp);
	free(rootfs->listing);
	rootfs->listing = list;
	rootfs->n_listing = d.n;
	list = NULL;
	*ret = rootfs->listing;
	*n = d.n;
out:
	free(list);
	dirents_free(&d);
	ext2fs_close_free(&fs);
	return r;
}

/* Drops one link of ino; frees its blocks and the inode with the last. */
static errcode_t drop_link(ext2_filsys fs, ext2_ino_t ino, bool is_dir)
{
	struct ext2_inode_large in = { 0 };
	struct ext2_inode *inode = (struct ext2_inode *)&in;
	errcode_t e = ext2fs_read_inode_full(fs, ino, inode, sizeof(in));
	blk64_t acl;

	if (e)
		return e;
	if (!is_dir && in.i_links_count > 1) {
		in.i_links_count--;
		return ext2fs_write_inode_full(fs, ino, inode, sizeof(in));
	}
	if (ext2fs_inode_has_valid_blocks2(fs, inode)) {
		e = ext2fs_punch(fs, ino, inode, NULL, 0, ~0ULL);
		if (e)
			return e;
	}
	acl = ext2fs_file_acl_block(fs, inode);
	if (acl) {
		__u32 count = 1;

		e = ext2fs_adjust_ea_refcount3(fs, acl, NULL, -1, &count, ino);
		if (e)
			return e;
		if (count == 0)
			ext2fs_block_alloc_stats2(fs, acl, -1);
		ext2fs_file_acl_block_set(fs, inode, 0);
	}
	in.i_links_count = 0;
	in.i_size = in.i_size_high = 0;
	in.i_dtime = (__u32)time(NULL);
	e = ext2fs_write_inode_full(fs, ino, inode, sizeof(in));
	if (!e)
		ext2fs_inode_alloc_stats2(fs, ino, -1, is_dir ? 1 : 0);
	return e;
}

/* Removes name (inode ino) from directory parent, with all below it. */
static errcode_t remove_tree(ext2_filsys fs, ext2_ino_t parent, const char *name, ext2_ino_t ino)
{
	struct ext2_inode_large in = { 0 };
	bool is_dir;
	errcode_t e = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)&in, sizeof(in));

	if (e)
		return e;
	is_dir = LINUX_S_ISDIR(in.i_mode);
	if (is_dir) {
		struct dirents d = { 0 };

		e = dirents_read(fs, ino, &d);
		for (size_t i = 0; !e && i < d.n; i++)
			e = remove_tree(fs, ino, dirents_name(&d, i), d.inos[i]);
		dirents_free(&d);
		if (e)
			return e;
	}
	e = ext2fs_unlink(fs, parent, name, ino, 0);
	if (!e && is_dir) {
		struct ext2_inode pin;

		e = ext2fs_read_inode(fs, parent, &pin);
		/* 1 means "too many to count" (dir_nlink) and stays */
		if (!e && pin.i_links_count > 2) {
			pin.i_links_count--;
			e = ext2fs_write_inode(fs, parent, &pin);
		}
	}
	return e ? e : drop_link(fs, ino, is_dir);
}

/* Splits "/a/b/c" into parent "/a/b" and name "c"; trailing slashes dropped. */
static int split_guest_path(const char *path, char **parent, char **name)
{
	char *copy = strdup(path), *slash;
	size_t len;

	if (!copy)
		return -ENOMEM;
	len = strlen(copy);
	while (len > 1 && copy[len - 1] == '/')
		copy[--len] = '\0';
	slash = strrchr(copy, '/');
	*name = strdup(slash + 1);
	if (slash == copy)
		slash[1] = '\0';
	else
		*slash = '\0';
	*parent = copy;
	if (!*name) {
		free(copy);
		return -ENOMEM;
	}
	return 0;
}

/* Finds parent/name of guest_path: the parent must be a directory. */
static int guest_parent(struct uml_rootfs *rootfs, ext2_filsys fs, const char *guest_path,
			ext2_ino_t *parent_ino, char **name)
{
	struct ext2_inode_large in;
	char *parent;
	int r = split_guest_path(guest_path, &parent, name);

	if (r < 0)
		return r;
	if (!**name || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0 ||
	    strlen(*name) > EXT2_NAME_LEN) {
		r = rfail(rootfs, -EINVAL, "'%s' is not a usable name in image '%s'", guest_path,
			  rootfs->path);
	} else {
		r = guest_lookup(rootfs, fs, parent, true, parent_ino);
		if (r == 0)
			r = read_inode(rootfs, fs, *parent_ino, &in);
		if (r == 0 && !LINUX_S_ISDIR(in.i_mode))
			r = rfail(rootfs, -ENOTDIR, "'%s' in image '%s' is not a directory", parent,
				  rootfs->path);
	}
	free(parent);
	if (r < 0) {
		free(*name);
		*name = NULL;
	}
	return r;
}

/* Removes guest_path (a directory with all below it) from the open fs. */
static int remove_path(struct uml_rootfs *rootfs, ext2_filsys fs, const char *guest_path)
{
	ext2_ino_t parent, ino;
	char *name = NULL;
	errcode_t e;
	int r = guest_parent(rootfs, fs, guest_path, &parent, &name);

	if (r == 0)
		r = guest_lookup(rootfs, fs, guest_path, false, &ino);
	if (r == 0) {
		e = remove_tree(fs, parent, name, ino);
		if (e)
			r = rfail(rootfs, rootfs_ext2_errno(e), "cannot remove '%s' from image '%s': %s",
				  guest_path, rootfs->path, rootfs_ext2_strerror(e));
	}
	free(name);
	return r;
}

UML_EXPORT int uml_rootfs_remove(struct uml_rootfs *rootfs, const char *guest_path)
{
	ext2_filsys fs;
	errcode_t e;
	int r;

	if (!rootfs)
		return -EINVAL;
	r = check_guest_path(rootfs, guest_path);
	if (r < 0)
		return r;
	if (guest_path[strspn(guest_path, "/")] == '\0')
		return rfail(rootfs, -EBUSY, "refusing to remove '/' from image '%s'", rootfs->path);
	r = image_open(rootfs, true, &fs);
	if (r < 0)
		return r;
	r = remove_path(rootfs, fs, guest_path);
	e = ext2fs_close_free(&fs);
	if (e && r == 0)
		r = rfail(rootfs, rootfs_ext2_errno(e), "cannot write image '%s': %s", rootfs->path,
			  rootfs_ext2_strerror(e));
	return r;
}

static int link_entry(struct build *b, ext2_ino_t parent, const char *name, struct node *n)
{
	errcode_t e = ext2fs_link(b->fs, parent, name, n->ino, (int)rootfs_file_type(n->mode));

	if (e == EXT2_ET_DIR_NO_SPACE) {
		e = ext2fs_expand_dir(b->fs, parent);
		if (!e)
			e = ext2fs_link(b->fs, parent, name, n->ino, (int)rootfs_file_type(n->mode));
	}
	if (!e && S_ISDIR(n->mode)) {
		struct ext2_inode pin;

		e = ext2fs_read_inode(b->fs, parent, &pin);
		if (!e && pin.i_links_count > 1) {
			pin.i_links_count++;
			if (pin.i_links_count >= EXT2_LINK_MAX &&
			    ext2fs_has_feature_dir_nlink(b->fs->super))
				pin.i_links_count = 1;
			e = ext2fs_write_inode(b->fs, parent, &pin);
		}
	}
	return e ? rootfs_bfail_ext2(b, e, "linking", n) : 0;
}

/* Creates n (from host dir dfd) as parent/name, with everything below it. */
static int create_node(struct build *b, int dfd, ext2_ino_t parent, const char *name,
		       struct node *n)
{
	int r;

	if (n->hl && n->hl->e2ino) {
		n->ino = n->hl->e2ino;
	} else {
		errcode_t e = ext2fs_new_inode(b->fs, parent, (int)n->mode, NULL, &n->ino);

		if (e)
			return rootfs_bfail_ext2(b, e, "allocating an inode", n);
		ext2fs_inode_alloc_stats2(b->fs, n->ino, +1, S_ISDIR(n->mode) ? 1 : 0);
		if (n->hl)
			n->hl->e2ino = n->ino;
		if (S_ISDIR(n->mode)) {
			/* made-up directories (dfd < 0) have no source to open */
			int sub = dfd >= 0 ? rootfs_open_subdir(b, dfd, n) : -1;

			if (dfd >= 0 && sub < 0)
				return sub;
			r = rootfs_write_dir(b, sub, n, parent);
			if (sub >= 0)
				close(sub);
		} else {
			r = rootfs_write_leaf(b, dfd, n, n->ino);
		}
		if (r < 0)
			return r;
	}
	r = link_entry(b, parent, name, n);
	return r < 0 ? r : rootfs_tick(b);
}

/* Puts n's entries into the existing directory dir_ino, at gpath in the guest. */
static int merge_dir(struct build *b, int dfd, ext2_ino_t dir_ino, const char *gpath,
		     struct node *n, unsigned flags)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < n->n_kids; i++) {
		struct node *kid = n->kids[i];
		struct ext2_inode_large in;
		ext2_ino_t ino;
		errcode_t e = ext2fs_lookup(b->fs, dir_ino, kid->name, (int)strlen(kid->name), NULL,
					    &ino);
		char *where;

		if (e == EXT2_ET_FILE_NOT_FOUND) {
			r = create_node(b, dfd, dir_ino, kid->name, kid);
			continue;
		}
		if (e)
			return rootfs_bfail_ext2(b, e, "looking up", kid);
		r = read_inode(b->rootfs, b->fs, ino, &in);
		if (r < 0)
			return r;
		if (asprintf(&where, "%s/%s", strcmp(gpath, "/") ? gpath : "", kid->name) < 0)
			return -ENOMEM;
		if (LINUX_S_ISDIR(in.i_mode) && S_ISDIR(kid->mode)) {
			int sub = rootfs_open_subdir(b, dfd, kid);

			r = sub;
			if (sub >= 0) {
				r = merge_dir(b, sub, ino, where, kid, flags);
				close(sub);
				if (r == 0)
					r = rootfs_tick(b);
			}
		} else if (LINUX_S_ISDIR(in.i_mode)) {
			r = bfail(b, -EISDIR, "cannot replace directory '%s' in image '%s' with a "
				  "non-directory", where, b->rootfs->path);
		} else if (!(flags & UML_ROOTFS_COPY_OVERWRITE)) {
			r = bfail(b, -EEXIST, "'%s' exists in image '%s'; pass "
				  "UML_ROOTFS_COPY_OVERWRITE to replace it", where, b->rootfs->path);
		} else {
			e = remove_tree(b->fs, dir_ino, kid->name, ino);
			r = e ? rootfs_bfail_ext2(b, e, "removing what is in the way", kid) :
				create_node(b, dfd, dir_ino, kid->name, kid);
		}
		free(where);
	}
	return r;
}

/*
 * An edit session on an existing image: b (from rootfs_build_init()) gets
 * the filesystem open read-write, the image fd and the data writer.
 */
int rootfs_edit_open(struct build *b)
{
	struct uml_rootfs *rootfs = b->rootfs;
	int r = image_open(rootfs, true, &b->fs);

	if (r < 0)
		return r;
	/*
	 * File data and directory blocks go around libext2fs (the data
	 * writer): its block cache could hand out what a freed and reused
	 * block held before.
	 */
	io_channel_set_options(b->fs->io, "cache=off");
	b->bs = b->fs->blocksize;
	b->extents = ext2fs_has_feature_extents(b->fs->super);
	b->csum = ext2fs_has_feature_metadata_csum(b->fs->super);
	b->image_bytes = ext2fs_blocks_count(b->fs->super) * b->bs;
	b->imgfd = open(rootfs->path, O_RDWR | O_CLOEXEC);
	b->wbuf = malloc(WBUF_SIZE);
	b->step = UINT64_MAX;	/* no progress for single files */
	if (b->imgfd < 0)
		return rfail(rootfs, -errno, "cannot open image '%s': %m", rootfs->path);
	return b->wbuf ? 0 : -ENOMEM;
}

/* Ends the session: flushes data, writes the metadata, syncs; r is the result so far. */
int rootfs_edit_close(struct build *b, int r)
{
	struct uml_rootfs *rootfs = b->rootfs;
	errcode_t e;
	int w;

	/* even after a failure: what is linked gets its data and bitmaps */
	w = rootfs_dw_flush(b);
	if (w < 0 && r == 0)
		r = rfail(rootfs, w, "cannot write image '%s': %s", rootfs->path, strerror(-w));
	e = ext2fs_close_free(&b->fs);
	if (e && r == 0)
		r = rootfs_bfail_ext2(b, e, "writing the filesystem metadata", NULL);
	if (r == 0 && fsync(b->imgfd) < 0)
		r = rfail(rootfs, -errno, "cannot sync '%s': %m", rootfs->path);
	return r;
}

/* The mode of guest_path in the session's image (symlinks followed if follow); -ENOENT. */
int rootfs_edit_mode(struct build *b, const char *guest_path, bool follow, mode_t *mode)
{
	struct ext2_inode_large in;
	ext2_ino_t ino;
	errcode_t e = follow ? ext2fs_namei_follow(b->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, guest_path,
						   &ino) :
			       ext2fs_namei(b->fs, EXT2_ROOT_INO, EXT2_ROOT_INO, guest_path, &ino);

	if (e)
		return rootfs_ext2_errno(e) == -EIO ? -EIO : -ENOENT;
	e = ext2fs_read_inode_full(b->fs, ino, (struct ext2_inode *)&in, sizeof(in));
	if (e)
		return rootfs_ext2_errno(e);
	*mode = in.i_mode;
	return 0;
}

/*
 * Creates guest_path (its parent must exist) in the session's image, owned
 * by root: a regular file holding data (len bytes), a symlink to data, an
 * empty directory, or a device node rdev.  A non-directory in the way is
 * replaced; an existing directory stays as it is.
 */
int rootfs_edit_put(struct build *b, const char *guest_path, mode_t mode, const char *data,
		    size_t len, dev_t rdev)
{
	struct uml_rootfs *rootfs = b->rootfs;
	struct ext2_inode_large in;
	ext2_ino_t parent, existing;
	char *name = NULL;
	struct node *holder, *n;
	errcode_t e;
	int r;

	r = guest_parent(rootfs, b->fs, guest_path, &parent, &name);
	if (r < 0)
		return r;
	e = ext2fs_lookup(b->fs, parent, name, (int)strlen(name), NULL, &existing);
	if (e && e != EXT2_ET_FILE_NOT_FOUND) {
		free(name);
		return rfail(rootfs, rootfs_ext2_errno(e), "cannot look up '%s' in image '%s': %s",
			     guest_path, rootfs->path, rootfs_ext2_strerror(e));
	}
	if (!e) {
		r = read_inode(rootfs, b->fs, existing, &in);
		if (r == 0 && LINUX_S_ISDIR(in.i_mode)) {
			free(name);
			return S_ISDIR(mode) ? 0 :
				rfail(rootfs, -EISDIR, "'%s' in image '%s' is a directory",
				      guest_path, rootfs->path);
		}
		e = r ? 0 : remove_tree(b->fs, parent, name, existing);
		if (!r && e)
			r = rfail(rootfs, rootfs_ext2_errno(e), "cannot replace '%s' in image '%s': %s",
				  guest_path, rootfs->path, rootfs_ext2_strerror(e));
		if (r < 0) {
			free(name);
			return r;
		}
	}
	holder = rootfs_node_add(NULL, "", S_IFDIR | 0755);
	n = holder ? rootfs_node_add(holder, name, mode) : NULL;
	if (n && !S_ISDIR(mode) && !S_ISCHR(mode) && !S_ISBLK(mode)) {
		n->data = malloc(len + 1);
		if (n->data) {
			memcpy(n->data, data, len);
			n->data[len] = '\0';
		}
	}
	if (!n || (!S_ISDIR(mode) && !S_ISCHR(mode) && !S_ISBLK(mode) && !n->data)) {
		r = -ENOMEM;
	} else {
		n->size = S_ISREG(mode) ? len : 0;
		n->host_bytes = n->size;
		n->rdev = rdev;
		n->atime = n->mtime = n->ctime = b->now;
		/* lets messages name the guest path */
		b->what = guest_path;
		r = create_node(b, -1, parent, name, n);
		/* later lookups read what was written */
		if (r == 0)
			r = rootfs_dw_flush(b);
	}
	rootfs_node_free(holder);	/* and n with it */
	free(name);
	return r;
}

/* Removes guest_path (a directory with all below it) in the session's image. */
int rootfs_edit_remove(struct build *b, const char *guest_path)
{
	return remove_path(b->rootfs, b->fs, guest_path);
}

UML_EXPORT int uml_rootfs_copy_in(struct uml_rootfs *rootfs, const char *host_src,
				  const char *guest_dst, unsigned flags)
{
	char *src_parent = NULL, *src_name = NULL, *name = NULL;
	ext2_ino_t parent = 0, existing = 0;
	struct ext2_inode_large in;
	struct build b;
	struct stat st;
	struct node *n;
	int pfd = -1, r;
	errcode_t e;

	if (!rootfs)
		return -EINVAL;
	if (!host_src || !host_src[0])
		return rfail(rootfs, -EINVAL, "host source for '%s' is %s", rootfs->path,
			     host_src ? "empty" : "NULL");
	r = check_guest_path(rootfs, guest_dst);
	if (r < 0)
		return r;
	if (flags & ~UML_ROOTFS_COPY_OVERWRITE)
		return rfail(rootfs, -EINVAL, "unknown flags 0x%x for copying into '%s'", flags,
			     rootfs->path);
	if (lstat(host_src, &st) < 0)
		return rfail(rootfs, -errno, "cannot copy '%s': %m", host_src);

	rootfs_build_init(&b, rootfs);
	/* scanned as an entry of its parent directory */
	if (strchr(host_src, '/')) {
		r = split_guest_path(host_src, &src_parent, &src_name);
	} else {
		src_parent = strdup(".");
		src_name = strdup(host_src);
		r = src_parent && src_name ? 0 : -ENOMEM;
	}
	if (r < 0)
		goto out;
	if (!*src_name) {	/* host_src is "/" */
		free(src_name);
		src_name = strdup(".");
		if (!src_name) {
			r = -ENOMEM;
			goto out;
		}
	}
	b.what = src_parent;
	pfd = open(src_parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0) {
		r = rfail(rootfs, -errno, "cannot open '%s': %m", src_parent);
		goto out;
	}
	r = rootfs_edit_open(&b);
	if (r < 0)
		goto out;

	/* the source, as the one kid of a holder node */
	b.root = rootfs_node_add(NULL, "", S_IFDIR | 0755);
	r = b.root ? rootfs_scan_entry(&b, pfd, b.root, src_name) : -ENOMEM;
	if (r < 0)
		goto out;
	n = b.root->kids[0];
	b.step = b.total / 512 ? b.total / 512 : 1;
	r = rootfs_fs_check_space(&b);
	if (r < 0)
		goto out;

	/* where it goes */
	if (guest_dst[strspn(guest_dst, "/")] == '\0') {
		existing = EXT2_ROOT_INO;
	} else {
		r = guest_parent(rootfs, b.fs, guest_dst, &parent, &name);
		if (r < 0)
			goto out;
		e = ext2fs_lookup(b.fs, parent, name, (int)strlen(name), NULL, &existing);
		if (e && e != EXT2_ET_FILE_NOT_FOUND) {
			r = rootfs_bfail_ext2(&b, e, "looking up the destination", NULL);
			goto out;
		}
		if (e)
			existing = 0;
	}
	if (existing) {
		r = read_inode(rootfs, b.fs, existing, &in);
		if (r < 0)
			goto out;
		if (LINUX_S_ISDIR(in.i_mode) && !S_ISDIR(n->mode)) {
			r = rfail(rootfs, -EISDIR, "cannot replace directory '%s' in image '%s' with "
				  "non-directory '%s'", guest_dst, rootfs->path, host_src);
			goto out;
		}
		if (!LINUX_S_ISDIR(in.i_mode) && !(flags & UML_ROOTFS_COPY_OVERWRITE)) {
			r = rfail(rootfs, -EEXIST, "'%s' exists in image '%s'; pass "
				  "UML_ROOTFS_COPY_OVERWRITE to replace it", guest_dst, rootfs->path);
			goto out;
		}
	}
	r = uml_progress(b.ctx, "populate", 0, b.total);
	if (r < 0) {
		r = rfail(rootfs, r, "copying '%s' into '%s' was cancelled", host_src, rootfs->path);
		goto out;
	}
	/* from here on the image changes */
	if (existing && LINUX_S_ISDIR(in.i_mode)) {
		int sub = rootfs_open_subdir(&b, pfd, n);

		r = sub;
		if (sub >= 0) {
			r = merge_dir(&b, sub, existing, guest_dst, n, flags);
			close(sub);
			if (r == 0)
				r = rootfs_tick(&b);
		}
	} else {
		if (existing) {
			e = remove_tree(b.fs, parent, name, existing);
			if (e)
				r = rootfs_bfail_ext2(&b, e, "removing what is in the way", NULL);
		}
		if (r == 0)
			r = create_node(&b, pfd, parent, name, n);
	}
	r = rootfs_edit_close(&b, r);
out:
	if (b.fs)
		ext2fs_close_free(&b.fs);
	if (pfd >= 0)
		close(pfd);
	free(src_parent);
	free(src_name);
	free(name);
	rootfs_build_free(&b);
	if (r == -ENOMEM)
		return rfail(rootfs, r, "out of memory copying '%s' into '%s'", host_src,
			     rootfs->path);
	return r;
}

static const char *find_resize2fs(void)
{
	static const char *const paths[] = { "/usr/sbin/resize2fs", "/sbin/resize2fs" };

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

UML_EXPORT int uml_rootfs_resize(struct uml_rootfs *rootfs, uint64_t new_size)
{
	const char *resize2fs;
	uint64_t fs_bytes;
	ext2_filsys fs;
	struct stat st;
	char *out = NULL;
	int r, status;

	if (!rootfs)
		return -EINVAL;
	if (new_size < ROOTFS_MIN_SIZE || new_size > ROOTFS_MAX_SIZE || new_size % 1024)
		return rfail(rootfs, -ERANGE, "new size %llu bytes for '%s' is invalid: it must be a "
			     "multiple of 1024 between %llu and %llu", (unsigned long long)new_size,
			     rootfs->path, (unsigned long long)ROOTFS_MIN_SIZE,
			     (unsigned long long)ROOTFS_MAX_SIZE);
	/* read-write: refuses a filesystem in use or with a journal to replay */
	r = image_open(rootfs, true, &fs);
	if (r < 0)
		return r;
	fs_bytes = ext2fs_blocks_count(fs->super) * fs->blocksize;
	ext2fs_close_free(&fs);
	if (stat(rootfs->path, &st) < 0)
		return rfail(rootfs, -errno, "cannot stat '%s': %m", rootfs->path);
	if (new_size < fs_bytes || new_size < (uint64_t)st.st_size)
		return rfail(rootfs, -ERANGE, "cannot shrink '%s' (%llu bytes, filesystem %llu) to "
			     "%llu bytes", rootfs->path, (unsigned long long)st.st_size,
			     (unsigned long long)fs_bytes, (unsigned long long)new_size);
	if (new_size == fs_bytes && new_size == (uint64_t)st.st_size) {
		rootfs->size = new_size;
		return 0;
	}
	resize2fs = find_resize2fs();
	if (!resize2fs)
		return rfail(rootfs, -ENOEXEC, "resize2fs (e2fsprogs) not found; cannot grow '%s'",
			     rootfs->path);
	if (truncate(rootfs->path, (off_t)new_size) < 0)
		return rfail(rootfs, -errno, "cannot grow '%s' to %llu bytes: %m", rootfs->path,
			     (unsigned long long)new_size);
	r = uml_spawn_capture(rootfs->ctx, &rootfs->last_error,
			      (char *[]){ (char *)resize2fs, "-f", rootfs->path, NULL },
			      &out, NULL, &status, 600000);
	if (r == 0 && status != 0) {
		size_t l = strlen(out);

		while (l && (out[l - 1] == '\n' || out[l - 1] == ' '))
			out[--l] = '\0';
		r = rfail(rootfs, -EIO, "resize2fs failed to grow '%s' to %llu bytes: %s",
			  rootfs->path, (unsigned long long)new_size, out);
	}
	free(out);
	if (r < 0) {
		if (truncate(rootfs->path, st.st_size) < 0)
			uml_log(rootfs->ctx, LOG_ERR, "cannot restore the size of '%s': %m",
				rootfs->path);
		return r;
	}
	rootfs->size = new_size;
	return 0;
}

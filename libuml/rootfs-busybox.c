/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Minimal busybox guests, built straight into an image from a synthetic tree. */
#include "config.h"

#include "rootfs-internal.h"

#define DEFAULT_BUSYBOX		"/bin/busybox"
#define BUSYBOX_HOSTNAME	"uml"

/* ---- busybox guests ---------------------------------------------------------- */

static const char busybox_init[] =
	"#!/bin/sh\n"
	"# init of a libuml busybox guest\n"
	"export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=linux\n"
	/*
	 * Every process costs a guest some milliseconds (a host process per
	 * address space): ready first, with shell builtins only, when the root
	 * is writable already (libuml boots its busybox images rw); else right
	 * after the remount, so that the marker still means a writable root.
	 * The console shell starts after the rest, so what is typed at the
	 * marker runs in a finished guest; the exec channel's agent mounted
	 * /proc and /sys.
	 */
	"ready=\n"
	/* opening itself for appending fails on a read-only root (test -w is true for root) */
	"if true 2>/dev/null >>/init; then echo \"" UML_BUSYBOX_READY_MARKER "\"; ready=1; fi\n"
	"[ -e /proc/mounts ] || [ -e /sys/kernel ] || mount -a -t proc,sysfs 2>/dev/null\n"
	"[ -e /proc/mounts ] || mount -t proc proc /proc\n"
	"[ -e /sys/kernel ] || mount -t sysfs sysfs /sys\n"
	"root_opts= devtmpfs=\n"
	"while read -r _ dir type opts _; do\n"
	"\tcase $dir in /) root_opts=,$opts, ;; /dev) [ \"$type\" = devtmpfs ] && devtmpfs=1 ;; esac\n"
	"done </proc/mounts\n"
	"# remount only if it was not rw\n"
	"case $root_opts in *,rw,*) ;; *) mount -o remount,rw / ;; esac\n"
	"[ -n \"$ready\" ] || echo \"" UML_BUSYBOX_READY_MARKER "\"\n"
	"# devtmpfs (most kernels mount it themselves), else the static nodes in /dev\n"
	"[ -n \"$devtmpfs\" ] || mount -t devtmpfs devtmpfs /dev 2>/dev/null\n"
	"mkdir -p /dev/pts 2>/dev/null && mount -t devpts devpts /dev/pts 2>/dev/null\n"
	"read -r name </etc/hostname && echo \"$name\" >/proc/sys/kernel/hostname\n"
	/* ---- net: addresses libuml passes as libuml.ip=IF,ADDR/LEN[,GW] and
	 * libuml.dns=ADDR on the kernel command line (see net.c) ---- */
	"ip link set lo up 2>/dev/null\n"
	"dns=\n"
	"read -r cmdline </proc/cmdline\n"
	"for a in $cmdline; do\n"
	"\tcase \"$a\" in\n"
	"\tlibuml.ip=*)\n"
	"\t\tv=${a#libuml.ip=}; dev=${v%%,*}; v=${v#*,}; addr=${v%%,*}; gw=${v#\"$addr\"}; gw=${gw#,}\n"
	"\t\tip link set \"$dev\" up && ip addr add \"$addr\" dev \"$dev\"\n"
	"\t\t[ -n \"$gw\" ] && ip route add default via \"$gw\" dev \"$dev\"\n"
	"\t\t;;\n"
	"\tlibuml.dns=*) dns=\"$dns ${a#libuml.dns=}\" ;;\n"
	"\tesac\n"
	"done\n"
	"if [ -n \"$dns\" ]; then for d in $dns; do echo \"nameserver $d\"; done >/etc/resolv.conf; fi\n"
	/* ---- end net ---- */
	"while :; do\n"
	"\tif command -v cttyhack >/dev/null 2>&1; then\n"
	"\t\tsetsid cttyhack sh\n"
	"\telse\n"
	"\t\tsh\n"
	"\tfi\n"
	"\t# a console without input ends the shell at once: do not spin\n"
	"\tsleep 1\n"
	"done\n";

struct devnode {
	const char *name;
	mode_t mode;
	unsigned maj, min;
};

static const struct devnode busybox_devs[] = {
	{ "console", S_IFCHR | 0600, 5, 1 },
	{ "tty", S_IFCHR | 0666, 5, 0 },
	{ "null", S_IFCHR | 0666, 1, 3 },
	{ "zero", S_IFCHR | 0666, 1, 5 },
	{ "random", S_IFCHR | 0666, 1, 8 },
	{ "urandom", S_IFCHR | 0666, 1, 9 },
	{ "tty0", S_IFCHR | 0620, 4, 0 },
	{ "tty1", S_IFCHR | 0620, 4, 1 },
	{ "ttyS0", S_IFCHR | 0660, 4, 64 },
	{ "ttyS1", S_IFCHR | 0660, 4, 65 },
	{ "ubda", S_IFBLK | 0660, 98, 0 },
	{ "ubdb", S_IFBLK | 0660, 98, 16 },
	{ "ubdc", S_IFBLK | 0660, 98, 32 },
	{ "ubdd", S_IFBLK | 0660, 98, 48 },
};

/* Checks that path is an ELF executable without a program interpreter. */
static int check_static_elf(struct uml_rootfs *rootfs, const char *path)
{
	Elf64_Ehdr eh;
	struct stat st;
	int fd, r = 0;

	if (stat(path, &st) < 0)
		return rfail(rootfs, -errno, "busybox '%s': %m", path);
	if (S_ISDIR(st.st_mode))
		return rfail(rootfs, -EISDIR, "busybox '%s' is a directory", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rfail(rootfs, -errno, "cannot open busybox '%s': %m", path);
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
		r = rfail(rootfs, -ENOEXEC, "busybox '%s' is not a 64-bit ELF executable", path);
		goto out;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * eh.e_phentsize)) !=
		    (ssize_t)sizeof(ph)) {
			r = rfail(rootfs, -ENOEXEC, "busybox '%s' has a truncated program header",
				  path);
			goto out;
		}
		/* static-pie binaries have PT_DYNAMIC too, but no interpreter */
		if (ph.p_type == PT_INTERP) {
			r = rfail(rootfs, -ENOEXEC, "busybox '%s' is dynamically linked; the guest "
				  "needs a static one (Debian: busybox-static)", path);
			goto out;
		}
	}
out:
	close(fd);
	return r;
}

/* Runs busybox --list-full (or --list); 0 and the list, or a negative errno. */
static int busybox_applets(struct uml_rootfs *rootfs, const char *busybox, char **out,
			   bool *full)
{
	int status, r;

	r = uml_spawn_capture(rootfs->ctx, &rootfs->last_error,
			      (char *[]){ (char *)busybox, "--list-full", NULL }, out, NULL,
			      &status, 30000);
	*full = r == 0 && status == 0 && strchr(*out, '/');
	if (*full)
		return 0;
	if (r == 0)
		free(*out);
	r = uml_spawn_capture(rootfs->ctx, &rootfs->last_error,
			      (char *[]){ (char *)busybox, "--list", NULL }, out, NULL,
			      &status, 30000);
	if (r == 0 && (status != 0 || !(*out)[0])) {
		free(*out);
		r = rfail(rootfs, -ENOEXEC, "busybox '%s' did not list its applets", busybox);
	}
	return r;
}

/* Finds or adds the directories of path ("a/b/c" -> a, a/b) below root. */
static struct node *tree_mkdir_p(struct build *b, char *path)
{
	struct node *dir = b->root;

	for (char *p = path, *slash; p && *p; p = slash ? slash + 1 : NULL) {
		struct node *n;

		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		n = rootfs_node_find(dir, p);
		if (!n) {
			n = rootfs_node_add(dir, p, S_IFDIR | 0755);
			if (!n)
				return NULL;
			n->atime = n->mtime = n->ctime = b->now;
			n->counted = true;
			b->total++;
		}
		if (slash)
			*slash = '/';
		if (!S_ISDIR(n->mode))
			return NULL;
		dir = n;
	}
	return dir;
}

/* Adds a node at path (parents made as needed); replaces nothing. */
static struct node *tree_add(struct build *b, const char *path, mode_t mode)
{
	char *copy = strdup(path), *slash;
	struct node *dir, *n = NULL;

	if (!copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (slash)
		*slash = '\0';
	dir = slash ? tree_mkdir_p(b, copy) : b->root;
	if (dir && !rootfs_node_find(dir, slash ? slash + 1 : copy)) {
		n = rootfs_node_add(dir, slash ? slash + 1 : copy, mode);
		if (n) {
			n->atime = n->mtime = n->ctime = b->now;
			n->counted = true;
			b->total++;
		}
	}
	free(copy);
	return n;
}

static int tree_add_data(struct build *b, const char *path, mode_t mode, const char *data)
{
	struct node *n = tree_add(b, path, mode);

	if (!n)
		return -ENOMEM;
	n->data = strdup(data);
	if (!n->data)
		return -ENOMEM;
	n->size = S_ISREG(mode) ? strlen(data) : 0;
	n->host_bytes = n->size;
	return 0;
}

static void sort_tree(struct build *b, struct node *dir)
{
	if (dir->n_kids > 1)
		qsort(dir->kids, dir->n_kids, sizeof(*dir->kids), rootfs_node_cmp);
	for (size_t i = 0; i < dir->n_kids; i++) {
		if (S_ISDIR(dir->kids[i]->mode))
			sort_tree(b, dir->kids[i]);
		rootfs_estimate(b, dir->kids[i]);
	}
}

static int busybox_tree(struct build *b, const char *busybox, const struct stat *st,
			const char *applets, bool full)
{
	static const struct { const char *path; mode_t mode; } dirs[] = {
		{ "bin", 0755 }, { "sbin", 0755 }, { "usr/bin", 0755 }, { "usr/sbin", 0755 },
		{ "etc", 0755 }, { "dev", 0755 }, { "proc", 0555 }, { "sys", 0555 },
		{ "tmp", 01777 }, { "root", 0700 }, { "mnt", 0755 }, { "run", 0755 },
		{ "var/tmp", 01777 },
	};
	char fstab[512];
	const char *fstype = b->rootfs->fs_type == UML_FS_EXT4 ? "ext4" :
			     b->rootfs->fs_type == UML_FS_EXT3 ? "ext3" : "ext2";
	struct node *n;
	int r;

	b->root = rootfs_node_add(NULL, "", S_IFDIR | 0755);
	if (!b->root)
		return -ENOMEM;
	b->root->atime = b->root->mtime = b->root->ctime = b->now;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		char *p = strdup(dirs[i].path);

		n = p ? tree_mkdir_p(b, p) : NULL;
		free(p);
		if (!n)
			return -ENOMEM;
		n->mode = S_IFDIR | dirs[i].mode;
	}
	n = tree_add(b, "bin/busybox", S_IFREG | 0755);
	if (!n || !(n->src_path = strdup(busybox)))
		return -ENOMEM;
	n->size = (uint64_t)st->st_size;
	n->host_bytes = (uint64_t)st->st_blocks * 512;
	/* the kernel looks for /sbin/init: make that our /init */
	r = tree_add_data(b, "init", S_IFREG | 0755, busybox_init);
	if (r == 0)
		r = tree_add_data(b, "sbin/init", S_IFLNK | 0777, "/init");
	for (const char *l = applets; r == 0 && l && *l; ) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		char path[PATH_MAX];

		if (len && len < sizeof(path)) {
			/* --list-full gives "usr/bin/awk", --list just "awk" */
			snprintf(path, sizeof(path), "%s%.*s", full ? "" : "bin/", (int)len, l);
			if (path[0] != '/' && !strstr(path, "..")) {
				char *copy = strdup(path), *slash = copy ? strrchr(copy, '/') : NULL;
				struct node *d = b->root;

				if (!copy)
					return -ENOMEM;
				if (slash) {
					*slash = '\0';
					d = tree_mkdir_p(b, copy);
				}
				if (d && !rootfs_node_find(d, slash ? slash + 1 : copy))
					r = tree_add_data(b, path, S_IFLNK | 0777, "/bin/busybox");
				free(copy);
			}
		}
		l = end ? end + 1 : NULL;
	}
	snprintf(fstab, sizeof(fstab),
		 "# <device> <mount point> <type> <options> <dump> <pass>\n"
		 "/dev/ubda\t/\t%s\tdefaults\t0\t1\n"
		 "proc\t/proc\tproc\tdefaults\t0\t0\n"
		 "sysfs\t/sys\tsysfs\tdefaults\t0\t0\n", fstype);
	if (r == 0)
		r = tree_add_data(b, "etc/fstab", S_IFREG | 0644, fstab);
	if (r == 0)
		r = tree_add_data(b, "etc/passwd", S_IFREG | 0644, "root:x:0:0:root:/root:/bin/sh\n");
	if (r == 0)
		r = tree_add_data(b, "etc/group", S_IFREG | 0644, "root:x:0:\n");
	if (r == 0)
		r = tree_add_data(b, "etc/shadow", S_IFREG | 0600, "root::0:0:99999:7:::\n");
	if (r == 0)
		r = tree_add_data(b, "etc/hostname", S_IFREG | 0644, BUSYBOX_HOSTNAME "\n");
	if (r == 0)
		r = tree_add_data(b, "etc/profile", S_IFREG | 0644,
				  "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nPS1='\\h:\\w\\$ '\n");
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(busybox_devs); i++) {
		char path[64];

		snprintf(path, sizeof(path), "dev/%s", busybox_devs[i].name);
		n = tree_add(b, path, busybox_devs[i].mode);
		if (!n)
			return -ENOMEM;
		n->rdev = makedev(busybox_devs[i].maj, busybox_devs[i].min);
	}
	if (r == 0)
		sort_tree(b, b->root);
	return r;
}

UML_EXPORT int uml_rootfs_create_busybox(struct uml_rootfs *rootfs, const char *busybox,
					 unsigned flags)
{
	struct build b;
	struct stat st;
	char *applets = NULL;
	bool full;
	int r;

	if (!rootfs)
		return -EINVAL;
	if (!busybox)
		busybox = DEFAULT_BUSYBOX;
	if (!busybox[0])
		return rfail(rootfs, -EINVAL, "busybox path for '%s' is empty", rootfs->path);
	r = rootfs_check_target(rootfs, flags);
	if (r < 0)
		return r;
	r = check_static_elf(rootfs, busybox);
	if (r < 0)
		return r;
	if (stat(busybox, &st) < 0)
		return rfail(rootfs, -errno, "busybox '%s': %m", busybox);
	r = busybox_applets(rootfs, busybox, &applets, &full);
	if (r < 0)
		return r;
	rootfs_build_init(&b, rootfs);
	b.what = "the busybox guest";
	rootfs_geometry(&b, 0);
	r = busybox_tree(&b, busybox, &st, applets, full);
	free(applets);
	if (r == 0) {
		rootfs_estimate(&b, b.root);
		rootfs_geometry(&b, b.total);
		r = rootfs_build_image(&b, -1, flags);
	}
	rootfs_build_free(&b);
	if (r == -ENOMEM)
		return rfail(rootfs, r, "out of memory creating busybox guest '%s'", rootfs->path);
	if (r == 0) {
		rootfs->ready_marker = UML_BUSYBOX_READY_MARKER;
		rootfs->root_rw = true;
	}
	return r;
}

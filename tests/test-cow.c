/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * COW overlays against the real tools: uml_mkcow and uml_moo from
 * uml-utilities, the UML kernel (/usr/bin/linux.uml) writing through
 * overlays, and e2fsprogs to make and read the images.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "uml/libuml.h"
#include "testhelp.h"

#define KERNEL		"/usr/bin/linux.uml"
#define MKE2FS		"/usr/sbin/mke2fs"
#define DEBUGFS		"/usr/sbin/debugfs"
#define E2FSCK		"/usr/sbin/e2fsck"
#define BUSYBOX		"/bin/busybox"
#define UML_MKCOW	"/usr/bin/uml_mkcow"
#define UML_MOO		"/usr/bin/uml_moo"
#define BACKING_MIB	32
#define BACKING_SIZE	((uint64_t)BACKING_MIB << 20)
/* offsets of a version 3 overlay (alignment 4096) of BACKING_SIZE bytes */
#define V3_BITMAP	8192
#define V3_BITMAP_LEN	(BACKING_SIZE / 512 / 8)
#define V3_DATA		(V3_BITMAP + V3_BITMAP_LEN)
#define GUEST_WAIT_S	300
#define COW_PATH_FIELD	4096
#define HOSTCOMPAT_SO	TEST_BUILDDIR "/libuml/uml-hostcompat.so"

/* top: made by main(), removed after all tests, even failed ones; dir: one test's */
static char top[PATH_MAX / 2];
static char dir[PATH_MAX];
static char backing_path[PATH_MAX + 32];
static struct uml_ctx *ctx;

/* ---- helpers ------------------------------------------------------------ */

static char *path_in(const char *name)
{
	static char bufs[8][PATH_MAX + 64];
	static unsigned next;
	char *p = bufs[next++ % 8];

	snprintf(p, sizeof(bufs[0]), "%s/%s", dir, name);
	return p;
}

/* Runs argv; stdout into *out when out is given.  Returns the exit status. */
static int run(char *const argv[], char **out)
{
	int pfd[2] = { -1, -1 };
	int status;
	pid_t pid;

	if (out)
		ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(out ? pfd[1] : null, 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (out) {
		size_t len = 0, cap = 4096;
		char *buf = malloc(cap);
		ssize_t n;

		close(pfd[1]);
		while ((n = read(pfd[0], buf + len, cap - len - 1)) > 0) {
			len += (size_t)n;
			if (cap - len < 2)
				buf = realloc(buf, cap *= 2);
		}
		buf[len] = '\0';
		close(pfd[0]);
		*out = buf;
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void *read_all(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY);

	ck_assert_msg(fd >= 0, "cannot open %s", path);
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_int_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	buf[st.st_size] = '\0';	/* callers search it as a string */
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static bool files_equal(const char *a, const char *b)
{
	static char ba[1 << 20], bb[1 << 20];
	int fa = open(a, O_RDONLY), fb = open(b, O_RDONLY);
	bool eq = true;

	ck_assert_msg(fa >= 0 && fb >= 0, "cannot open %s or %s", a, b);
	for (;;) {
		ssize_t na = read(fa, ba, sizeof(ba)), nb = read(fb, bb, sizeof(bb));

		ck_assert(na >= 0 && nb >= 0);
		if (na != nb || memcmp(ba, bb, (size_t)na) != 0) {
			eq = false;
			break;
		}
		if (na == 0)
			break;
	}
	close(fa);
	close(fb);
	return eq;
}

static void pread_at(const char *path, void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void pwrite_at(const char *path, const void *buf, size_t len, off_t off)
{
	int fd = open(path, O_WRONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static void copy_file(const char *from, const char *to)
{
	size_t len;
	char *d = read_all(from, &len);
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, d, len), (ssize_t)len);
	close(fd);
	free(d);
}

/* Content hash plus size and mtime: proof that a file was left alone. */
struct fingerprint {
	uint64_t hash;
	off_t size;
	time_t mtime;
};

static struct fingerprint fingerprint(const char *path)
{
	static unsigned char buf[1 << 20];
	struct fingerprint f = { .hash = 0xcbf29ce484222325ULL };
	struct stat st;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			f.hash = (f.hash ^ buf[i]) * 0x100000001b3ULL;
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	f.size = st.st_size;
	f.mtime = st.st_mtime;
	return f;
}

static void assert_same_fingerprint(struct fingerprint a, struct fingerprint b)
{
	ck_assert_uint_eq(a.hash, b.hash);
	ck_assert_int_eq(a.size, b.size);
	ck_assert_int_eq(a.mtime, b.mtime);
}

static bool dir_has_tmp_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".tmp-"))
			found = true;
	closedir(d);
	return found;
}

/* The guest: busybox, and an /init that leaves a file named after the tag. */
static void make_backing(const char *image)
{
	static const char *const applets[] = { "sh", "mount", "echo", "sync", "poweroff", "cat" };
	char tree[PATH_MAX + 64], p[PATH_MAX + 128];
	char size[16];

	snprintf(tree, sizeof(tree), "%s/tree", dir);
	ck_assert_int_eq(mkdir(tree, 0755), 0);
	for (const char *const *d = (const char *const[]){ "bin", "proc", "dev", "etc", NULL }; *d; d++) {
		snprintf(p, sizeof(p), "%s/%s", tree, *d);
		ck_assert_int_eq(mkdir(p, 0755), 0);
	}
	snprintf(p, sizeof(p), "%s/bin/busybox", tree);
	copy_file(BUSYBOX, p);
	ck_assert_int_eq(chmod(p, 0755), 0);
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
		snprintf(p, sizeof(p), "%s/bin/%s", tree, applets[i]);
		ck_assert_int_eq(symlink("busybox", p), 0);
	}
	snprintf(p, sizeof(p), "%s/etc/motd", tree);
	write_file(p, "shared backing\n", 0644);
	snprintf(p, sizeof(p), "%s/init", tree);
	/* the tag comes from the kernel command line (unknown key=value -> env) */
	write_file(p,
		   "#!/bin/sh\n"
		   "mount -t proc proc /proc\n"
		   "mount -o remount,rw /\n"
		   "echo \"written by $cowtag\" > /from-$cowtag\n"
		   "sync\n"
		   "mount -o remount,ro /\n"
		   "echo COW-GUEST-DONE\n"
		   "poweroff -f\n", 0755);
	snprintf(size, sizeof(size), "%dM", BACKING_MIB);
	ck_assert_int_eq(run((char *[]){ MKE2FS, "-q", "-F", "-t", "ext4", "-d", tree,
					 (char *)image, size, NULL }, NULL), 0);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/test-XXXXXX", top);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	uml_ctx_set_log_priority(ctx, LOG_EMERG - 1);	/* failures are expected here */
	snprintf(backing_path, sizeof(backing_path), "%s/backing.img", dir);
	make_backing(backing_path);
}

/* No assertions: also used outside tests. */
static void rm_rf(const char *path)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void teardown(void)
{
	uml_ctx_unref(ctx);
	rm_rf(dir);
}

static struct uml_rootfs *new_backing(void)
{
	struct uml_rootfs *r = NULL;

	ck_assert_int_eq(uml_rootfs_new(ctx, backing_path, &r), 0);
	return r;
}

static struct uml_rootfs *new_overlay(const char *name)
{
	struct uml_rootfs *b = new_backing(), *cow = NULL;
	int r = uml_rootfs_new_cow(b, path_in(name), 0, &cow);

	ck_assert_msg(r == 0, "new_cow: %d %s", r, uml_rootfs_last_error(b));
	uml_rootfs_unref(b);
	return cow;
}

static int open_cow(const char *name, struct uml_rootfs **ret)
{
	return uml_rootfs_open_cow(ctx, path_in(name), ret);
}

static void assert_error(const char *msg, const char *part1, const char *part2)
{
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(strstr(msg, part1), "'%s' not in message '%s'", part1, msg);
	if (part2)
		ck_assert_msg(strstr(msg, part2), "'%s' not in message '%s'", part2, msg);
}

/* ---- booting the real kernel ---------------------------------------------- */

static pid_t start_guest(const char *ubd, const char *tag)
{
	char ubd_arg[2 * PATH_MAX], umid[64], uml_dir[PATH_MAX + 32], tag_arg[64], log[PATH_MAX + 64];
	bool compat = uml_ctx_host_needs_compat(ctx) == 1;
	pid_t pid;

	snprintf(ubd_arg, sizeof(ubd_arg), "ubd0=%s", ubd);
	snprintf(umid, sizeof(umid), "umid=cowtest-%d-%s", (int)getpid(), tag);
	snprintf(uml_dir, sizeof(uml_dir), "uml_dir=%s/uml", dir);
	snprintf(tag_arg, sizeof(tag_arg), "cowtag=%s", tag);
	snprintf(log, sizeof(log), "%s/console-%s.log", dir, tag);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *argv[] = { KERNEL, "mem=64M", ubd_arg, "root=/dev/ubda", umid, uml_dir,
				 "init=/init", "con0=fd:0,fd:1", "con=null", tag_arg, NULL };
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		setpgid(0, 0);
		/* as libuml does: no exec-shield gap, which leaves a 64M guest ~34M */
		personality(ADDR_NO_RANDOMIZE);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		if (compat)
			setenv("LD_PRELOAD", HOSTCOMPAT_SO, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Waits for a guest; returns its console output. */
static char *wait_guest(pid_t pid, const char *tag)
{
	char log[PATH_MAX + 64];
	size_t len;
	int status;

	for (int i = 0; i < GUEST_WAIT_S * 10; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		ck_assert_int_ge(r, 0);
		if (r == pid)
			break;
		usleep(100 * 1000);
	}
	if (waitpid(pid, &status, WNOHANG) == 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		ck_abort_msg("guest %s did not end in %d s", tag, GUEST_WAIT_S);
	}
	snprintf(log, sizeof(log), "%s/console-%s.log", dir, tag);
	return read_all(log, &len);
}

static char *boot_guest(const char *ubd, const char *tag)
{
	return wait_guest(start_guest(ubd, tag), tag);
}

static char *cow_spec(const char *cow)
{
	static char spec[2 * PATH_MAX + 2];

	snprintf(spec, sizeof(spec), "%s,%s", cow, backing_path);
	return spec;
}

/* Reads a file out of an ext4 image with debugfs. */
static char *image_cat(const char *image, const char *file)
{
	char req[256];
	char *out;

	snprintf(req, sizeof(req), "cat %s", file);
	ck_assert_int_eq(run((char *[]){ DEBUGFS, "-R", req, (char *)image, NULL }, &out), 0);
	return out;
}

static void assert_fsck_clean(const char *image)
{
	ck_assert_int_eq(run((char *[]){ E2FSCK, "-fn", (char *)image, NULL }, NULL), 0);
}

/*
 * Merges the overlay into a new image and checks that it holds the file
 * the guest tagged tag wrote, next to the backing's files, in a clean
 * filesystem; with uml_moo, that uml_moo's merge is the same.
 */
static void assert_merge_holds(struct uml_rootfs *cow, const char *image, const char *tag,
			       bool with_uml_moo)
{
	char file[64], want[64], *text;

	ck_assert_msg(uml_rootfs_cow_merge(cow, image, 0) == 0, "merge: %s",
		      uml_rootfs_last_error(cow));
	if (with_uml_moo) {
		ck_assert_int_eq(run((char *[]){ UML_MOO, (char *)uml_rootfs_get_path(cow),
						 path_in("moo.img"), NULL }, NULL), 0);
		ck_assert(files_equal(image, path_in("moo.img")));
	}
	snprintf(file, sizeof(file), "/from-%s", tag);
	snprintf(want, sizeof(want), "written by %s\n", tag);
	text = image_cat(image, file);
	ck_assert_str_eq(text, want);
	free(text);
	text = image_cat(image, "/etc/motd");
	ck_assert_str_eq(text, "shared backing\n");
	free(text);
	assert_fsck_clean(image);
}

/* ---- creating overlays ------------------------------------------------------ */

START_TEST(test_new_cow_matches_uml_mkcow)
{
	struct uml_rootfs *cow = new_overlay("libuml.cow");
	struct stat st;
	unsigned char a[V3_DATA], b[V3_DATA];
	uint64_t written = 1;

	ck_assert_str_eq(uml_rootfs_get_path(cow), path_in("libuml.cow"));
	ck_assert_str_eq(uml_rootfs_get_backing(cow), backing_path);
	ck_assert_int_eq(run((char *[]){ UML_MKCOW, path_in("mkcow.cow"), backing_path, NULL },
			     NULL), 0);

	/*
	 * Header, bitmap and data area are byte for byte the same.  The mtime
	 * field (offset 8) is the backing file's mtime in both, so it matches
	 * too; the whole file compares equal.
	 */
	pread_at(path_in("libuml.cow"), a, sizeof(a), 0);
	pread_at(path_in("mkcow.cow"), b, sizeof(b), 0);
	ck_assert_mem_eq(a, b, 4128);
	ck_assert_mem_eq(a, "OOOM\0\0\0\3", 8);
	ck_assert_mem_eq(a + 12, "\0\0\0\0\x02\0\0\0" "\0\0\x02\0" "\0\0\x10\0" "\0\0\0\0", 20);
	ck_assert_mem_eq(a + 32, backing_path, strlen(backing_path) + 1);
	ck_assert_int_eq(stat(backing_path, &st), 0);
	ck_assert_uint_eq(((uint32_t)a[8] << 24 | a[9] << 16 | a[10] << 8 | a[11]),
			  (uint32_t)st.st_mtime);
	ck_assert(files_equal(path_in("libuml.cow"), path_in("mkcow.cow")));

	/* sparse: a 32 MiB overlay takes a few KiB */
	ck_assert_int_eq(stat(path_in("libuml.cow"), &st), 0);
	ck_assert_int_eq(st.st_size, V3_DATA + BACKING_SIZE);
	ck_assert_int_le(st.st_blocks * 512, 64 * 1024);

	ck_assert_int_eq(uml_rootfs_cow_check(cow), 0);
	ck_assert_int_eq(uml_rootfs_cow_get_written(cow, &written), 0);
	ck_assert_uint_eq(written, 0);
	ck_assert(!dir_has_tmp_files());
	uml_rootfs_unref(cow);
}
END_TEST

/* The backing path is made absolute the way UML does, symlinked dirs resolved. */
START_TEST(test_new_cow_relative_and_symlinked_backing)
{
	struct uml_rootfs *b = NULL, *cow = NULL;
	char cwd[PATH_MAX];

	ck_assert_int_eq(mkdir(path_in("real"), 0755), 0);
	ck_assert_int_eq(symlink("real", path_in("link")), 0);
	ck_assert_int_eq(rename(backing_path, path_in("real/b.img")), 0);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(dir), 0);

	ck_assert_int_eq(uml_rootfs_new(ctx, "link/b.img", &b), 0);
	ck_assert_int_eq(uml_rootfs_new_cow(b, "libuml.cow", 0, &cow), 0);
	ck_assert_int_eq(run((char *[]){ UML_MKCOW, "mkcow.cow", "link/b.img", NULL }, NULL), 0);
	ck_assert_str_eq(uml_rootfs_get_backing(cow), path_in("real/b.img"));
	ck_assert_str_eq(uml_rootfs_get_path(cow), path_in("libuml.cow"));
	ck_assert(files_equal("libuml.cow", "mkcow.cow"));
	ck_assert_int_eq(chdir(cwd), 0);
	uml_rootfs_unref(cow);
	uml_rootfs_unref(b);
}
END_TEST

START_TEST(test_new_cow_refusals)
{
	struct uml_rootfs *b = new_backing(), *cow = NULL, *cow2 = NULL, *other = NULL;
	struct fingerprint before = fingerprint(backing_path);
	char cmd[64];

	/* arguments */
	ck_assert_int_eq(uml_rootfs_new_cow(NULL, path_in("x.cow"), 0, &cow), -EINVAL);
	ck_assert_int_eq(uml_rootfs_new_cow(b, NULL, 0, &cow), -EINVAL);
	ck_assert_int_eq(uml_rootfs_new_cow(b, "", 0, &cow), -EINVAL);
	ck_assert_int_eq(uml_rootfs_new_cow(b, path_in("x.cow"), 0, NULL), -EINVAL);
	ck_assert_int_eq(uml_rootfs_new_cow(b, path_in("x.cow"), 0x80, &cow), -EINVAL);
	assert_error(uml_rootfs_last_error(b), "flags", NULL);
	ck_assert_ptr_null(cow);

	/* an existing file is kept unless OVERWRITE */
	write_file(path_in("x.cow"), "precious", 0644);
	ck_assert_int_eq(uml_rootfs_new_cow(b, path_in("x.cow"), 0, &cow), -EEXIST);
	assert_error(uml_rootfs_last_error(b), path_in("x.cow"), "exists");
	ck_assert_ptr_null(cow);
	{
		size_t len;
		char *d = read_all(path_in("x.cow"), &len);

		ck_assert_uint_eq(len, 8);
		free(d);
	}
	ck_assert_int_eq(uml_rootfs_new_cow(b, path_in("x.cow"), UML_ROOTFS_CREATE_OVERWRITE,
					    &cow), 0);
	ck_assert_int_eq(uml_rootfs_cow_check(cow), 0);

	/* no stacking, neither by object nor by file */
	ck_assert_int_eq(uml_rootfs_new_cow(cow, path_in("y.cow"), 0, &cow2), -EINVAL);
	assert_error(uml_rootfs_last_error(cow), "overlay", NULL);
	ck_assert_int_eq(uml_rootfs_new(ctx, path_in("x.cow"), &other), 0);
	ck_assert_int_eq(uml_rootfs_new_cow(other, path_in("y.cow"), 0, &cow2), -EMEDIUMTYPE);
	assert_error(uml_rootfs_last_error(other), "COW file", path_in("x.cow"));
	uml_rootfs_unref(other);

	/* never over the backing file itself, even with OVERWRITE */
	ck_assert_int_eq(uml_rootfs_new_cow(b, backing_path, UML_ROOTFS_CREATE_OVERWRITE,
					    &cow2), -EINVAL);
	assert_same_fingerprint(before, fingerprint(backing_path));

	/* missing, directory, empty backing */
	ck_assert_int_eq(uml_rootfs_new(ctx, path_in("missing.img"), &other), 0);
	ck_assert_int_eq(uml_rootfs_new_cow(other, path_in("y.cow"), 0, &cow2), -ENOENT);
	assert_error(uml_rootfs_last_error(other), path_in("missing.img"), NULL);
	uml_rootfs_unref(other);
	ck_assert_int_eq(uml_rootfs_new(ctx, path_in("tree"), &other), 0);
	ck_assert_int_eq(uml_rootfs_new_cow(other, path_in("y.cow"), 0, &cow2), -EISDIR);
	uml_rootfs_unref(other);
	write_file(path_in("empty.img"), "", 0644);
	ck_assert_int_eq(uml_rootfs_new(ctx, path_in("empty.img"), &other), 0);
	ck_assert_int_eq(uml_rootfs_new_cow(other, path_in("y.cow"), 0, &cow2), -ENODATA);

	/* an mtime past 2106 does not fit the header: UML could never use it */
	write_file(path_in("empty.img"), "x", 0644);
	snprintf(cmd, sizeof(cmd), "@%lld", 5000000000LL);
	ck_assert_int_eq(run((char *[]){ "/usr/bin/touch", "-d", cmd, path_in("empty.img"), NULL },
			     NULL), 0);
	ck_assert_int_eq(uml_rootfs_new_cow(other, path_in("y.cow"), 0, &cow2), -EOVERFLOW);
	assert_error(uml_rootfs_last_error(other), "5000000000", NULL);
	uml_rootfs_unref(other);

	/* paths UML's ubd0=COW,BACKING cannot carry */
	ck_assert_int_eq(uml_rootfs_new_cow(b, path_in("a,b.cow"), 0, &cow2), -EINVAL);
	assert_error(uml_rootfs_last_error(b), "ubd", path_in("a,b.cow"));
	ck_assert_int_eq(uml_rootfs_new_cow(b, path_in("a:b.cow"), 0, &cow2), -EINVAL);
	ck_assert_int_eq(uml_rootfs_new_cow(b, path_in("a b.cow"), 0, &cow2), -EINVAL);
	ck_assert_int_eq(symlink(backing_path, path_in("x:y.img")), 0);
	ck_assert_int_eq(uml_rootfs_new(ctx, path_in("x:y.img"), &other), 0);
	ck_assert_int_eq(uml_rootfs_new_cow(other, path_in("y.cow"), 0, &cow2), -EINVAL);
	uml_rootfs_unref(other);
	ck_assert_int_ne(access(path_in("a,b.cow"), F_OK), 0);

	/* a missing directory for the overlay */
	ck_assert_int_eq(uml_rootfs_new_cow(b, path_in("nodir/y.cow"), 0, &cow2), -ENOENT);
	ck_assert_ptr_null(cow2);
	ck_assert(!dir_has_tmp_files());
	ck_assert_int_ne(access(path_in("y.cow"), F_OK), 0);
	uml_rootfs_unref(cow);
	uml_rootfs_unref(b);
}
END_TEST

/* ---- opening overlays made by others ---------------------------------------- */

START_TEST(test_open_uml_mkcow_file)
{
	struct uml_rootfs *cow = NULL, *plain = NULL;
	uint64_t written = 1;
	struct stat st;

	ck_assert_int_eq(run((char *[]){ UML_MKCOW, path_in("mk.cow"), backing_path, NULL },
			     NULL), 0);
	ck_assert_int_eq(open_cow("mk.cow", &cow), 0);
	ck_assert_str_eq(uml_rootfs_get_backing(cow), backing_path);
	ck_assert_str_eq(uml_rootfs_get_path(cow), path_in("mk.cow"));
	ck_assert_int_eq(uml_rootfs_cow_check(cow), 0);
	ck_assert_int_eq(uml_rootfs_cow_get_written(cow, &written), 0);
	ck_assert_uint_eq(written, 0);

	/* a merge of an untouched overlay is the backing file */
	ck_assert_int_eq(chmod(backing_path, 0644), 0);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("merged.img"), 0), 0);
	ck_assert(files_equal(path_in("merged.img"), backing_path));
	/* a copy of a disk readable by nobody else: 0600, whatever the backing file's mode */
	ck_assert_int_eq(stat(path_in("merged.img"), &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	uml_rootfs_unref(cow);

	/* plain images are not overlays */
	ck_assert_int_eq(uml_rootfs_new(ctx, backing_path, &plain), 0);
	ck_assert_ptr_null(uml_rootfs_get_backing(plain));
	ck_assert_int_eq(uml_rootfs_cow_check(plain), -EINVAL);
	ck_assert_int_eq(uml_rootfs_cow_get_written(plain, &written), -EINVAL);
	ck_assert_int_eq(uml_rootfs_cow_merge(plain, path_in("m2.img"), 0), -EINVAL);
	assert_error(uml_rootfs_last_error(plain), "not a COW overlay", NULL);
	uml_rootfs_unref(plain);

	ck_assert_int_eq(uml_rootfs_open_cow(NULL, path_in("mk.cow"), &cow), -EINVAL);
	ck_assert_int_eq(uml_rootfs_open_cow(ctx, NULL, &cow), -EINVAL);
	ck_assert_int_eq(uml_rootfs_open_cow(ctx, path_in("mk.cow"), NULL), -EINVAL);
	ck_assert_int_eq(open_cow("nothing.cow", &cow), -ENOENT);
	ck_assert_int_eq(open_cow("tree", &cow), -EISDIR);
	ck_assert_int_eq(open_cow("backing.img", &cow), -EMEDIUMTYPE);
	assert_error(uml_ctx_last_error(ctx), "magic", backing_path);
	ck_assert_ptr_null(uml_rootfs_get_backing(NULL));
}
END_TEST

/* ---- the kernel writes through overlays ------------------------------------- */

START_TEST(test_kernel_writes_through_libuml_overlay)
{
	struct fingerprint before = fingerprint(backing_path);
	struct uml_rootfs *cow = new_overlay("guest.cow");
	uint64_t written = 0;
	char *console, *text;

	console = boot_guest(cow_spec(path_in("guest.cow")), "g0");
	ck_assert_msg(strstr(console, "COW-GUEST-DONE"), "guest did not finish:\n%s", th_tail(console));
	free(console);
	assert_same_fingerprint(before, fingerprint(backing_path));

	ck_assert_int_eq(uml_rootfs_cow_check(cow), 0);
	ck_assert_int_eq(uml_rootfs_cow_get_written(cow, &written), 0);
	ck_assert_uint_gt(written, 0);
	ck_assert_uint_lt(written, BACKING_SIZE);

	/* libuml's merge and uml_moo's agree byte for byte */
	assert_merge_holds(cow, path_in("merged.img"), "g0", true);
	ck_assert(!files_equal(path_in("merged.img"), backing_path));
	text = image_cat(backing_path, "/from-g0");
	ck_assert_ptr_null(strstr(text, "written by"));
	free(text);
	assert_same_fingerprint(before, fingerprint(backing_path));

	/* the merged image boots standalone */
	console = boot_guest(path_in("merged.img"), "g1");
	ck_assert_msg(strstr(console, "COW-GUEST-DONE"), "merged image did not boot:\n%s", th_tail(console));
	free(console);
	text = image_cat(path_in("merged.img"), "/from-g1");
	ck_assert_str_eq(text, "written by g1\n");
	free(text);
	ck_assert(!dir_has_tmp_files());
	uml_rootfs_unref(cow);
}
END_TEST

START_TEST(test_open_kernel_made_overlay)
{
	struct uml_rootfs *cow = NULL, *mine = NULL;
	uint64_t written = 0;
	unsigned char a[4128], b[4128];
	char *console;

	/* ubd0=COW,BACKING with a missing COW file: the kernel creates it */
	console = boot_guest(cow_spec(path_in("kernel.cow")), "k0");
	ck_assert_msg(strstr(console, "COW-GUEST-DONE"), "guest did not finish:\n%s", th_tail(console));
	ck_assert_ptr_nonnull(strstr(console, "as COW file for"));
	free(console);

	ck_assert_int_eq(open_cow("kernel.cow", &cow), 0);
	ck_assert_str_eq(uml_rootfs_get_backing(cow), backing_path);
	ck_assert_int_eq(uml_rootfs_cow_check(cow), 0);
	ck_assert_int_eq(uml_rootfs_cow_get_written(cow, &written), 0);
	ck_assert_uint_gt(written, 0);

	/*
	 * The kernel's header equals libuml's up to the end of the backing
	 * path; the kernel leaves uninitialised memory after the path's NUL.
	 */
	mine = new_overlay("libuml.cow");
	pread_at(path_in("kernel.cow"), a, sizeof(a), 0);
	pread_at(path_in("libuml.cow"), b, sizeof(b), 0);
	ck_assert_mem_eq(a, b, 32 + strlen(backing_path) + 1);
	uml_rootfs_unref(mine);

	assert_merge_holds(cow, path_in("merged.img"), "k0", true);
	uml_rootfs_unref(cow);
}
END_TEST

/* Through the instance API: the overlay is the guest's root disk. */
START_TEST(test_instance_boots_overlay)
{
	struct fingerprint before = fingerprint(backing_path);
	struct uml_rootfs *cow = new_overlay("inst.cow");
	struct uml_kernel *kernel = NULL;
	struct uml_instance *inst = NULL;
	enum uml_exit_reason why;
	char run_dir[PATH_MAX + 16], umid[64];
	const char *log;

	snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
	ck_assert_int_eq(uml_ctx_set_runtime_dir(ctx, run_dir), 0);
	ck_assert_int_eq(uml_kernel_new_from_path(ctx, KERNEL, &kernel), 0);
	ck_assert_int_eq(uml_instance_new(kernel, &inst), 0);
	snprintf(umid, sizeof(umid), "cowtest-%d-inst", (int)getpid());
	ck_assert_int_eq(uml_instance_set_umid(inst, umid), 0);
	ck_assert_int_eq(uml_instance_set_memory(inst, 64 << 20), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(inst, cow), 0);
	ck_assert_int_eq(uml_instance_set_init(inst, "/init"), 0);
	ck_assert_int_eq(uml_instance_append_arg(inst, "cowtag=inst"), 0);
	ck_assert_int_eq(uml_rootfs_cow_check(cow), 0);
	ck_assert_msg(uml_instance_boot(inst) == 0, "boot: %s", uml_instance_last_error(inst));
	ck_assert_int_eq(uml_instance_wait(inst, GUEST_WAIT_S * 1000), 0);
	log = uml_instance_get_console_log(inst, NULL);
	why = uml_instance_get_exit_reason(inst);
	ck_assert_msg(strstr(log, "COW-GUEST-DONE"), "guest did not finish:\n%s", th_tail(log));
	ck_assert_msg(why == UML_EXIT_POWEROFF || why == UML_EXIT_HALT, "exit reason %s",
		      uml_exit_reason_to_string(why));
	uml_instance_unref(inst);
	uml_kernel_unref(kernel);
	assert_same_fingerprint(before, fingerprint(backing_path));

	assert_merge_holds(cow, path_in("merged.img"), "inst", false);
	uml_rootfs_unref(cow);
}
END_TEST

START_TEST(test_eight_guests_share_one_backing)
{
	struct fingerprint before = fingerprint(backing_path);
	struct uml_rootfs *cows[8];
	pid_t pids[8];
	char name[32], tag[8], file[32];

	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "g%d.cow", i);
		cows[i] = new_overlay(name);
	}
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "g%d.cow", i);
		snprintf(tag, sizeof(tag), "s%d", i);
		pids[i] = start_guest(cow_spec(path_in(name)), tag);
	}
	for (int i = 0; i < 8; i++) {
		char *console;

		snprintf(tag, sizeof(tag), "s%d", i);
		console = wait_guest(pids[i], tag);
		ck_assert_msg(strstr(console, "COW-GUEST-DONE"), "guest %d:\n%s", i, th_tail(console));
		free(console);
	}
	assert_same_fingerprint(before, fingerprint(backing_path));
	for (int i = 0; i < 8; i++) {
		char *text;

		snprintf(name, sizeof(name), "m%d.img", i);
		snprintf(tag, sizeof(tag), "s%d", i);
		assert_merge_holds(cows[i], path_in(name), tag, false);
		/* and nothing of its neighbour */
		snprintf(file, sizeof(file), "/from-s%d", (i + 1) % 8);
		text = image_cat(path_in(name), file);
		ck_assert_ptr_null(strstr(text, "written by"));
		free(text);
		uml_rootfs_unref(cows[i]);
	}
	assert_same_fingerprint(before, fingerprint(backing_path));
}
END_TEST

/* ---- a changed backing file ------------------------------------------------- */

START_TEST(test_changed_backing_detected)
{
	struct uml_rootfs *cow = new_overlay("stale.cow");
	struct stat st;
	char when[32], *console;
	const char *msg;

	ck_assert_int_eq(uml_rootfs_cow_check(cow), 0);
	ck_assert_int_eq(stat(backing_path, &st), 0);

	/* a new mtime: libuml says so, naming both values, and so does the kernel */
	ck_assert_int_eq(run((char *[]){ "/usr/bin/touch", "-d", "@1000000000", backing_path, NULL },
			     NULL), 0);
	ck_assert_int_eq(uml_rootfs_cow_check(cow), -ESTALE);
	msg = uml_rootfs_last_error(cow);
	snprintf(when, sizeof(when), "%lld", (long long)st.st_mtime);
	assert_error(msg, when, "1000000000");
	assert_error(msg, backing_path, "mtime");
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("m.img"), 0), -ESTALE);
	ck_assert_int_ne(access(path_in("m.img"), F_OK), 0);
	/* an instance refuses to boot it, saying why */
	{
		struct uml_kernel *kernel = NULL;
		struct uml_instance *inst = NULL;
		char run_dir[PATH_MAX + 16];

		snprintf(run_dir, sizeof(run_dir), "%s/run", dir);
		ck_assert_int_eq(uml_ctx_set_runtime_dir(ctx, run_dir), 0);
		ck_assert_int_eq(uml_kernel_new_from_path(ctx, KERNEL, &kernel), 0);
		ck_assert_int_eq(uml_instance_new(kernel, &inst), 0);
		ck_assert_int_eq(uml_instance_set_rootfs(inst, cow), 0);
		ck_assert_int_eq(uml_instance_boot(inst), -ESTALE);
		assert_error(uml_instance_last_error(inst), "mtime", backing_path);
		ck_assert_int_eq(uml_instance_get_state(inst), UML_STATE_CONFIGURING);
		uml_instance_unref(inst);
		uml_kernel_unref(kernel);
	}
	console = boot_guest(cow_spec(path_in("stale.cow")), "st");
	ck_assert_ptr_nonnull(strstr(console, "mtime mismatch"));
	ck_assert_ptr_null(strstr(console, "COW-GUEST-DONE"));
	free(console);

	/* the same mtime again: accepted */
	snprintf(when, sizeof(when), "@%lld", (long long)st.st_mtime);
	ck_assert_int_eq(run((char *[]){ "/usr/bin/touch", "-d", when, backing_path, NULL }, NULL), 0);
	ck_assert_int_eq(uml_rootfs_cow_check(cow), 0);

	/* a new size with the old mtime */
	ck_assert_int_eq(truncate(backing_path, (off_t)BACKING_SIZE + 4096), 0);
	ck_assert_int_eq(run((char *[]){ "/usr/bin/touch", "-d", when, backing_path, NULL }, NULL), 0);
	ck_assert_int_eq(uml_rootfs_cow_check(cow), -ESTALE);
	msg = uml_rootfs_last_error(cow);
	assert_error(msg, "33554432", "33558528");
	assert_error(msg, "size", path_in("stale.cow"));

	/* gone */
	ck_assert_int_eq(unlink(backing_path), 0);
	ck_assert_int_eq(uml_rootfs_cow_check(cow), -ENOENT);
	assert_error(uml_rootfs_last_error(cow), backing_path, NULL);
	uml_rootfs_unref(cow);
}
END_TEST

/* ---- merging ----------------------------------------------------------------- */

static void set_bit(unsigned char *bitmap, uint64_t sector)
{
	bitmap[sector / 8] |= (unsigned char)(1u << (sector % 8));
}

static void sector_pattern(unsigned char data[512], uint64_t sector)
{
	memset(data, (int)(0x40 + sector % 61), 512);
	memcpy(data, &sector, sizeof(sector));
}

/*
 * Writes sectors into a version 3 overlay (alignment 4096) of a size-byte
 * backing file by hand, the way the kernel does: data, then the bitmap bit.
 */
static void write_sectors(const char *cow, uint64_t size, const uint64_t *sectors, size_t n)
{
	uint64_t bitmap_len = (size + 4095) / 4096;
	uint64_t data_off = (V3_BITMAP + bitmap_len + 4095) / 4096 * 4096;
	unsigned char *bitmap = calloc(1, bitmap_len);
	unsigned char data[512];

	pread_at(cow, bitmap, bitmap_len, V3_BITMAP);
	for (size_t i = 0; i < n; i++) {
		sector_pattern(data, sectors[i]);
		pwrite_at(cow, data, sizeof(data), (off_t)(data_off + sectors[i] * 512));
		set_bit(bitmap, sectors[i]);
	}
	pwrite_at(cow, bitmap, bitmap_len, V3_BITMAP);
	free(bitmap);
}

/* Sectors at the edges and in runs across bitmap bytes. */
static const uint64_t hand_sectors[] = {
	0, 1, 7, 8, 9, 15, 16, 17, 100, 101, 102, 103, 104, 105, 106, 107, 108,
	BACKING_SIZE / 512 - 9, BACKING_SIZE / 512 - 1,
};
#define N_HAND (sizeof(hand_sectors) / sizeof(hand_sectors[0]))

static void assert_sectors_merged(const char *image, const char *backing,
				  const uint64_t *sectors, size_t n)
{
	unsigned char got[512], want[512], orig[512];

	for (size_t i = 0; i < n; i++) {
		sector_pattern(want, sectors[i]);
		pread_at(image, got, sizeof(got), (off_t)(sectors[i] * 512));
		ck_assert_mem_eq(got, want, sizeof(got));
	}
	/* untouched sectors come from the backing file */
	for (uint64_t s = 2; s < 7; s++) {
		pread_at(image, got, sizeof(got), (off_t)(s * 512));
		pread_at(backing, orig, sizeof(orig), (off_t)(s * 512));
		ck_assert_mem_eq(got, orig, sizeof(got));
	}
}

START_TEST(test_merge_matches_uml_moo)
{
	struct fingerprint before = fingerprint(backing_path);
	struct uml_rootfs *cow = new_overlay("hand.cow");
	uint64_t written = 0;

	write_sectors(path_in("hand.cow"), BACKING_SIZE, hand_sectors, N_HAND);
	ck_assert_int_eq(uml_rootfs_cow_get_written(cow, &written), 0);
	ck_assert_uint_eq(written, N_HAND * 512);

	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("merged.img"), 0), 0);
	ck_assert_int_eq(run((char *[]){ UML_MOO, path_in("hand.cow"), path_in("moo.img"), NULL },
			     NULL), 0);
	ck_assert(files_equal(path_in("merged.img"), path_in("moo.img")));
	assert_sectors_merged(path_in("merged.img"), backing_path, hand_sectors, N_HAND);
	assert_same_fingerprint(before, fingerprint(backing_path));
	uml_rootfs_unref(cow);
}
END_TEST

/*
 * A 320 MiB sparse backing file: its bitmap (80 KiB) spans more than one of
 * the chunks libuml reads it in, and the merged image keeps the holes.
 */
START_TEST(test_merge_large_sparse_backing)
{
	static const uint64_t sectors[] = {
		20, 65536 * 8 - 2, 65536 * 8 - 1, 65536 * 8, 65536 * 8 + 1, 655359,
	};
	const uint64_t size = 320ULL << 20;
	struct uml_rootfs *b = NULL, *cow = NULL;
	unsigned char head[4096];
	uint64_t written = 0;
	struct stat st;
	int fd;

	fd = open(path_in("sparse.img"), O_RDWR | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	memset(head, 0xa5, sizeof(head));
	ck_assert_int_eq(pwrite(fd, head, sizeof(head), 0), (ssize_t)sizeof(head));
	ck_assert_int_eq(pwrite(fd, head, sizeof(head), 100 << 20), (ssize_t)sizeof(head));
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);

	ck_assert_int_eq(uml_rootfs_new(ctx, path_in("sparse.img"), &b), 0);
	ck_assert_int_eq(uml_rootfs_new_cow(b, path_in("sparse.cow"), 0, &cow), 0);
	write_sectors(path_in("sparse.cow"), size, sectors, sizeof(sectors) / sizeof(sectors[0]));
	ck_assert_int_eq(uml_rootfs_cow_get_written(cow, &written), 0);
	ck_assert_uint_eq(written, sizeof(sectors) / sizeof(sectors[0]) * 512);

	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("merged.img"), 0), 0);
	ck_assert_int_eq(run((char *[]){ UML_MOO, path_in("sparse.cow"), path_in("moo.img"), NULL },
			     NULL), 0);
	ck_assert(files_equal(path_in("merged.img"), path_in("moo.img")));
	assert_sectors_merged(path_in("merged.img"), path_in("sparse.img"), sectors,
			      sizeof(sectors) / sizeof(sectors[0]));
	pread_at(path_in("merged.img"), head, sizeof(head), 100 << 20);
	ck_assert_int_eq(head[4095], 0xa5);
	ck_assert_int_eq(stat(path_in("merged.img"), &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)size);
	ck_assert_int_le(st.st_blocks * 512, 1 << 20);
	uml_rootfs_unref(cow);
	uml_rootfs_unref(b);
}
END_TEST

static int cancel_progress(void *userdata, const struct uml_progress *p)
{
	int *calls = userdata;

	(*calls)++;
	return 1;
}

START_TEST(test_merge_refusals)
{
	struct fingerprint before = fingerprint(backing_path);
	struct uml_rootfs *cow = new_overlay("m.cow");
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int sync_pipe[2], calls = 0, status;
	char c;
	pid_t pid;

	write_sectors(path_in("m.cow"), BACKING_SIZE, hand_sectors, 3);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, NULL, 0), -EINVAL);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, "", 0), -EINVAL);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("o.img"), 0x40), -EINVAL);
	ck_assert_int_eq(uml_rootfs_cow_merge(NULL, path_in("o.img"), 0), -EINVAL);

	/* never over one of the inputs */
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, backing_path, UML_ROOTFS_CREATE_OVERWRITE),
			 -EINVAL);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("m.cow"), UML_ROOTFS_CREATE_OVERWRITE),
			 -EINVAL);
	assert_same_fingerprint(before, fingerprint(backing_path));

	/* an existing output is kept unless OVERWRITE */
	write_file(path_in("o.img"), "keep", 0644);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("o.img"), 0), -EEXIST);
	assert_error(uml_rootfs_last_error(cow), path_in("o.img"), NULL);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("o.img"), UML_ROOTFS_CREATE_OVERWRITE),
			 0);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("o2.img"), 0), 0);
	ck_assert(files_equal(path_in("o.img"), path_in("o2.img")));

	/* a guest holds the overlay: UML takes a POSIX write lock on it */
	ck_assert_int_eq(pipe(sync_pipe), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(path_in("m.cow"), O_RDWR);

		if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0)
			_exit(1);
		if (write(sync_pipe[1], "l", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(sync_pipe[0], &c, 1), 1);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("o3.img"), 0), -EBUSY);
	assert_error(uml_rootfs_last_error(cow), "in use", path_in("m.cow"));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(sync_pipe[0]);
	close(sync_pipe[1]);

	/* cancelled through the progress callback: nothing left behind */
	uml_ctx_set_progress_fn(ctx, cancel_progress, &calls);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("o3.img"), 0), -ECANCELED);
	ck_assert_int_eq(calls, 1);
	uml_ctx_set_progress_fn(ctx, NULL, NULL);
	ck_assert_int_ne(access(path_in("o3.img"), F_OK), 0);
	ck_assert(!dir_has_tmp_files());
	assert_same_fingerprint(before, fingerprint(backing_path));
	uml_rootfs_unref(cow);
}
END_TEST

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/*
 * Rewrites a version 3 overlay in an older layout: version 2, or the
 * "broken" 64-bit version 3 layout.  Bitmap and data move to where the
 * kernel looks for them.
 */
static void convert_overlay(const char *from, const char *to, bool v2)
{
	unsigned char *hdr = calloc(1, 12288);
	unsigned char *bitmap = malloc(V3_BITMAP_LEN);
	unsigned char *data = malloc(BACKING_SIZE);
	uint64_t bitmap_off, data_off;
	size_t plen = strlen(backing_path);
	int fd;

	pread_at(from, hdr, 32, 0);
	pread_at(from, bitmap, V3_BITMAP_LEN, V3_BITMAP);
	pread_at(from, data, BACKING_SIZE, V3_DATA);
	if (v2) {
		unsigned char fields[20];

		memcpy(fields, hdr + 8, 20);		/* mtime, size, sector size */
		memset(hdr + 8, 0, 12288 - 8);
		put32(hdr + 4, 2);
		memcpy(hdr + 8, backing_path, plen);
		memcpy(hdr + 8 + 4096, fields, 16);
		bitmap_off = 4120;
		/* (size + 511) / 4096 bytes of bitmap, data on the next sector */
		data_off = (bitmap_off + (BACKING_SIZE + 511) / 4096 + 511) / 512 * 512;
	} else {
		unsigned char mtime[4], rest[16];

		memcpy(mtime, hdr + 8, 4);
		memcpy(rest, hdr + 12, 16);		/* size, sector size, alignment */
		memset(hdr + 8, 0, 12288 - 8);
		memcpy(hdr + 8, mtime, 4);
		memcpy(hdr + 16, rest, 16);
		memcpy(hdr + 36, backing_path, plen);
		bitmap_off = 8192;
		data_off = V3_DATA;
	}
	fd = open(to, O_RDWR | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, hdr, bitmap_off, 0), (ssize_t)bitmap_off);
	ck_assert_int_eq(pwrite(fd, bitmap, V3_BITMAP_LEN, (off_t)bitmap_off), V3_BITMAP_LEN);
	ck_assert_int_eq(pwrite(fd, data, BACKING_SIZE, (off_t)data_off), (ssize_t)BACKING_SIZE);
	close(fd);
	free(hdr);
	free(bitmap);
	free(data);
}

START_TEST(test_old_layouts)
{
	struct uml_rootfs *cow = new_overlay("v3.cow"), *old = NULL;
	static const char *const names[] = { "v2.cow", "v3broken.cow" };

	write_sectors(path_in("v3.cow"), BACKING_SIZE, hand_sectors, N_HAND);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("v3.img"), 0), 0);
	uml_rootfs_unref(cow);

	for (int i = 0; i < 2; i++) {
		char img[32], moo[32];
		uint64_t written = 0;

		convert_overlay(path_in("v3.cow"), path_in(names[i]), i == 0);
		ck_assert_int_eq(open_cow(names[i], &old), 0);
		ck_assert_str_eq(uml_rootfs_get_backing(old), backing_path);
		ck_assert_int_eq(uml_rootfs_cow_check(old), 0);
		ck_assert_int_eq(uml_rootfs_cow_get_written(old, &written), 0);
		ck_assert_uint_eq(written, N_HAND * 512);
		snprintf(img, sizeof(img), "old%d.img", i);
		ck_assert_int_eq(uml_rootfs_cow_merge(old, path_in(img), 0), 0);
		ck_assert(files_equal(path_in(img), path_in("v3.img")));
		snprintf(moo, sizeof(moo), "moo%d.img", i);
		ck_assert_int_eq(run((char *[]){ UML_MOO, path_in(names[i]), path_in(moo), NULL },
				     NULL), 0);
		ck_assert(files_equal(path_in(img), path_in(moo)));
		uml_rootfs_unref(old);
	}
}
END_TEST

/* ---- hostile headers ---------------------------------------------------------- */

struct corruption {
	const char *what;
	off_t offset;		/* where to write bytes, or -1 */
	const char *bytes;
	size_t len;
	off_t truncate_to;	/* or -1 */
	int err;
	const char *in_message;
};

static const struct corruption corruptions[] = {
	{ "bad magic", 0, "MOOX", 4, -1, -EMEDIUMTYPE, "magic" },
	{ "little-endian v1", 0, "MOOO\1\0\0\0", 8, -1, -EPROTONOSUPPORT, "version 1" },
	{ "version 1", 4, "\0\0\0\1", 4, -1, -EPROTONOSUPPORT, "version 1" },
	{ "version 4", 4, "\0\0\0\4", 4, -1, -EPROTONOSUPPORT, "version 4" },
	{ "version 0xffffffff", 4, "\xff\xff\xff\xff", 4, -1, -EPROTONOSUPPORT, "version" },
	{ "empty file", -1, NULL, 0, 0, -ENODATA, "truncated" },
	{ "7 bytes", -1, NULL, 0, 7, -ENODATA, "truncated" },
	{ "half a header", -1, NULL, 0, 2000, -ENODATA, "truncated" },
	{ "header only", -1, NULL, 0, 4128, -ENODATA, "truncated" },
	{ "no data area", -1, NULL, 0, V3_DATA, -ENODATA, "truncated" },
	{ "one byte short", -1, NULL, 0, V3_DATA + BACKING_SIZE - 1, -ENODATA, "truncated" },
	{ "size 0", 12, "\0\0\0\0\0\0\0\0", 8, -1, -EBADMSG, "size" },
	{ "size 2^63", 12, "\x80\0\0\0\0\0\0\0", 8, -1, -EBADMSG, "size" },
	{ "size 2^64-1", 12, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, -1, -EBADMSG, "size" },
	{ "size 16 TiB", 12, "\0\0\x10\0\0\0\0\0", 8, -1, -EBADMSG, "size" },
	{ "size larger than file", 12, "\0\0\0\0\x10\0\0\0", 8, -1, -ENODATA, "truncated" },
	{ "sector size 0", 20, "\0\0\0\0", 4, -1, -EBADMSG, "sector size" },
	{ "sector size 4096", 20, "\0\0\x10\0", 4, -1, -EBADMSG, "sector size" },
	{ "sector size 2^31", 20, "\x80\0\0\0", 4, -1, -EBADMSG, "sector size" },
	{ "alignment 0", 24, "\0\0\0\0", 4, -1, -EBADMSG, "alignment" },
	{ "alignment 3000", 24, "\0\0\x0b\xb8", 4, -1, -EBADMSG, "alignment" },
	{ "alignment 2^31", 24, "\x80\0\0\0", 4, -1, -EBADMSG, "alignment" },
	{ "cow_format 1", 28, "\0\0\0\1", 4, -1, -EPROTONOSUPPORT, "cow_format" },
	{ "relative backing path", 32, "back", 4, -1, -EBADMSG, "absolute" },
	{ "control character in path", 33, "\n", 1, -1, -EBADMSG, "control character" },
	{ "empty backing path", 32, "", 1, -1, -EBADMSG, "absolute" },
};

static void corrupt(const char *path, const struct corruption *c)
{
	if (c->offset >= 0)
		pwrite_at(path, c->bytes, c->len, c->offset);
	if (c->truncate_to >= 0)
		ck_assert_int_eq(truncate(path, c->truncate_to), 0);
}

START_TEST(test_corrupt_headers_rejected)
{
	struct uml_rootfs *cow = new_overlay("good.cow"), *bad = NULL;

	for (size_t i = 0; i < sizeof(corruptions) / sizeof(corruptions[0]); i++) {
		const struct corruption *c = &corruptions[i];
		char name[32];
		int r;

		snprintf(name, sizeof(name), "bad%zu.cow", i);
		copy_file(path_in("good.cow"), path_in(name));
		corrupt(path_in(name), c);
		r = open_cow(name, &bad);
		ck_assert_msg(r == c->err, "%s: got %d (%s), expected %d", c->what, r,
			      uml_ctx_last_error(ctx), c->err);
		ck_assert_ptr_null(bad);
		assert_error(uml_ctx_last_error(ctx), path_in(name), c->in_message);
		unlink(path_in(name));
	}

	/* a backing name filling its whole field without a NUL */
	{
		char *name = malloc(4096);

		memset(name, 'a', 4096);
		name[0] = '/';
		copy_file(path_in("good.cow"), path_in("long.cow"));
		pwrite_at(path_in("long.cow"), name, 4096, 32);
		ck_assert_int_eq(open_cow("long.cow", &bad), -ENAMETOOLONG);
		assert_error(uml_ctx_last_error(ctx), path_in("long.cow"), "NUL-terminated");
		free(name);
	}

	/* FIFOs where files belong are refused, not waited on */
	ck_assert_int_eq(mkfifo(path_in("fifo"), 0644), 0);
	ck_assert_int_eq(open_cow("fifo", &bad), -EMEDIUMTYPE);
	assert_error(uml_ctx_last_error(ctx), path_in("fifo"), "regular file");
	{
		struct uml_rootfs *b = NULL, *c = NULL;
		char fifo_path[COW_PATH_FIELD];

		ck_assert_int_eq(uml_rootfs_new(ctx, path_in("fifo"), &b), 0);
		ck_assert_int_eq(uml_rootfs_new_cow(b, path_in("f.cow"), 0, &c), -EMEDIUMTYPE);
		uml_rootfs_unref(b);
		/* a header naming a FIFO as its backing file */
		copy_file(path_in("good.cow"), path_in("fifo.cow"));
		memset(fifo_path, 0, sizeof(fifo_path));
		snprintf(fifo_path, sizeof(fifo_path), "%s", path_in("fifo"));
		pwrite_at(path_in("fifo.cow"), fifo_path, sizeof(fifo_path), 32);
		ck_assert_int_eq(open_cow("fifo.cow", &c), 0);
		ck_assert_int_eq(uml_rootfs_cow_check(c), -EMEDIUMTYPE);
		assert_error(uml_rootfs_last_error(c), path_in("fifo"), NULL);
		ck_assert_int_eq(uml_rootfs_cow_merge(c, path_in("m.img"), 0), -EMEDIUMTYPE);
		uml_rootfs_unref(c);
	}

	/* an overlay corrupted after it was opened: checks and merges refuse it */
	corrupt(path_in("good.cow"), &corruptions[0]);
	ck_assert_int_eq(uml_rootfs_cow_check(cow), -EMEDIUMTYPE);
	assert_error(uml_rootfs_last_error(cow), "magic", NULL);
	ck_assert_int_eq(uml_rootfs_cow_merge(cow, path_in("m.img"), 0), -EMEDIUMTYPE);
	ck_assert_int_ne(access(path_in("m.img"), F_OK), 0);
	uml_rootfs_unref(cow);
}
END_TEST

/* Random damage to the header: every outcome is a clean accept or refusal. */
START_TEST(test_random_header_damage)
{
	static const int allowed[] = { 0, -EMEDIUMTYPE, -EPROTONOSUPPORT, -ENODATA, -EBADMSG,
				       -ENAMETOOLONG };
	struct uml_rootfs *cow = new_overlay("seed.cow");
	unsigned char header[4200], damaged[4200];
	unsigned seed = 12345;

	pread_at(path_in("seed.cow"), header, sizeof(header), 0);
	for (int round = 0; round < 3000; round++) {
		struct uml_rootfs *r = NULL;
		int fd, err;
		bool ok = false;

		memcpy(damaged, header, sizeof(damaged));
		for (int k = 0; k < 1 + round % 4; k++) {
			unsigned pos = (unsigned)rand_r(&seed) % (round % 2 ? 40 : sizeof(damaged));

			damaged[pos] = (unsigned char)rand_r(&seed);
		}
		fd = open(path_in("fuzz.cow"), O_RDWR | O_CREAT | O_TRUNC, 0644);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pwrite(fd, damaged, sizeof(damaged), 0), (ssize_t)sizeof(damaged));
		ck_assert_int_eq(ftruncate(fd, (off_t)(round % 3 == 0 ? (unsigned)rand_r(&seed) % 9000 :
						       V3_DATA + BACKING_SIZE)), 0);
		close(fd);
		err = open_cow("fuzz.cow", &r);
		for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
			ok |= err == allowed[i];
		ck_assert_msg(ok, "round %d: unexpected %d", round, err);
		if (err == 0) {
			uint64_t written;

			ck_assert_ptr_nonnull(uml_rootfs_get_backing(r));
			ck_assert_int_eq(uml_rootfs_get_backing(r)[0], '/');
			err = uml_rootfs_cow_get_written(r, &written);
			ck_assert_int_eq(err, 0);
			uml_rootfs_unref(r);
		} else {
			ck_assert_ptr_null(r);
		}
	}
	uml_rootfs_unref(cow);
}
END_TEST

static TCase *new_case(Suite *s, const char *name, int timeout_s)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, timeout_s);
	suite_add_tcase(s, tc);
	return tc;
}

static Suite *cow_suite(void)
{
	Suite *s = suite_create("cow");
	TCase *tc;

	tc = new_case(s, "create", 120);
	tcase_add_test(tc, test_new_cow_matches_uml_mkcow);
	tcase_add_test(tc, test_new_cow_relative_and_symlinked_backing);
	tcase_add_test(tc, test_new_cow_refusals);
	tcase_add_test(tc, test_open_uml_mkcow_file);

	tc = new_case(s, "merge", 120);
	tcase_add_test(tc, test_merge_matches_uml_moo);
	tcase_add_test(tc, test_merge_large_sparse_backing);
	tcase_add_test(tc, test_merge_refusals);
	tcase_add_test(tc, test_old_layouts);

	tc = new_case(s, "hostile", 300);
	tcase_add_test(tc, test_corrupt_headers_rejected);
	tcase_add_test(tc, test_random_header_damage);

	tc = new_case(s, "kernel", 2 * GUEST_WAIT_S + 60);
	tcase_add_test(tc, test_kernel_writes_through_libuml_overlay);
	tcase_add_test(tc, test_open_kernel_made_overlay);
	tcase_add_test(tc, test_instance_boots_overlay);
	tcase_add_test(tc, test_changed_backing_detected);
	tcase_add_test(tc, test_eight_guests_share_one_backing);
	return s;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	SRunner *sr;
	int failed;

	snprintf(top, sizeof(top), "%s/libuml-test-cow-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(top)) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(cow_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	rm_rf(top);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

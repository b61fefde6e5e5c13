/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox of a guest's kernel process.
 *
 * A UML guest's root can do anything its kernel lets it - mount hostfs on
 * any path the kernel process can open, load modules (code in that
 * process) - so the process sees only what it was given.  It starts in
 * new user, mount, pid, ipc and (unless a tap or a kernel-started helper
 * needs the host's) network namespaces (spawn.c clones it so), and before
 * it execs the kernel it builds its own root:
 *
 *   /            a read-only tmpfs
 *   PATH...      each declared path bound at its own place: the kernel and
 *                what it loads, disks, backing files, shares (read-only
 *                unless declared writable), the guest's runtime dir
 *   /proc        its own (the pid namespace's), for /proc/self/fd/N
 *   /dev         null, zero, full, random, urandom (and what was declared)
 *   /tmp         a private tmpfs for UML's memory file, size-limited
 *
 * then drops every capability (also as root in its namespace), sets
 * no_new_privs, and as root on the host runs as nobody where the files
 * allow that.  The child may be one thread of a threaded program, between
 * clone and exec: it only makes system calls and writes into stack
 * buffers.  Everything it needs was computed here, in the parent.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "libuml-private.h"
#include "sandbox.h"

#define NOBODY_NAME "nobody"
#define DEFAULT_TMP_BYTES (64ull << 20)

static const char *const dev_nodes[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
};

struct sb_path {
	char *path;		/* as the kernel uses it: bound here in the sandbox */
	char *want;		/* the host file, when it is not path */
	char *src;		/* the host file, resolved */
	unsigned flags;
	bool dir;
};

struct uml_sandbox {
	struct sb_path *p;
	size_t n, cap;
	bool host_network;
	uint64_t tmp_bytes;
	bool prepared;

	/* decided by prepare */
	uid_t uid;		/* on the host */
	gid_t gid;
	bool switch_to_nobody;	/* as root: become uid/gid after building the view */
	char uid_map[64], gid_map[64];
	bool deny_setgroups;
	char tmp_opts[96];
	char passwd[256], group[256];	/* its /etc: who it runs as, and nothing else */
};

struct uml_sandbox *uml_sandbox_new(void)
{
	struct uml_sandbox *sb = calloc(1, sizeof(*sb));

	if (sb)
		sb->tmp_bytes = DEFAULT_TMP_BYTES;
	return sb;
}

void uml_sandbox_free(struct uml_sandbox *sb)
{
	if (!sb)
		return;
	for (size_t i = 0; i < sb->n; i++) {
		free(sb->p[i].path);
		free(sb->p[i].want);
		free(sb->p[i].src);
	}
	free(sb->p);
	free(sb);
}

int uml_sandbox_add_path(struct uml_sandbox *sb, const char *path, unsigned flags)
{
	return uml_sandbox_add_bind(sb, path, path, flags);
}

int uml_sandbox_add_bind(struct uml_sandbox *sb, const char *src, const char *path, unsigned flags)
{
	if (src[0] != '/' || path[0] != '/')
		return -EINVAL;
	for (size_t i = 0; i < sb->n; i++)
		if (strcmp(sb->p[i].path, path) == 0) {
			sb->p[i].flags |= flags & (UML_SB_WRITE | UML_SB_EXEC | UML_SB_DEVICE |
						   UML_SB_HANDED_OVER);
			if (!(flags & UML_SB_OPTIONAL))
				sb->p[i].flags &= ~UML_SB_OPTIONAL;
			return 0;
		}
	if (sb->n == sb->cap) {
		size_t cap = sb->cap ? sb->cap * 2 : 16;
		struct sb_path *p = realloc(sb->p, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		sb->p = p;
		sb->cap = cap;
	}
	sb->p[sb->n] = (struct sb_path){ .path = strdup(path), .flags = flags };
	if (!sb->p[sb->n].path)
		return -ENOMEM;
	if (strcmp(src, path) != 0 && !(sb->p[sb->n].want = strdup(src))) {
		free(sb->p[sb->n].path);
		return -ENOMEM;
	}
	sb->n++;
	return 0;
}

void uml_sandbox_set_host_network(struct uml_sandbox *sb)
{
	sb->host_network = true;
}

void uml_sandbox_set_tmp_size(struct uml_sandbox *sb, uint64_t bytes)
{
	sb->tmp_bytes = bytes;
}

uid_t uml_sandbox_get_uid(const struct uml_sandbox *sb)
{
	return sb->uid;
}

gid_t uml_sandbox_get_gid(const struct uml_sandbox *sb)
{
	return sb->gid;
}

uint64_t uml_sandbox_clone_flags(const struct uml_sandbox *sb)
{
	return CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
	       (sb->host_network ? 0 : CLONE_NEWNET);
}

/* May uid/gid reach path with the access in mode (R_OK, W_OK, X_OK bits)? */
static bool may_access(uid_t uid, gid_t gid, const struct stat *st, int mode)
{
	unsigned bits = st->st_uid == uid ? (st->st_mode >> 6) & 7 :
			st->st_gid == gid ? (st->st_mode >> 3) & 7 : st->st_mode & 7;

	return ((mode & R_OK) ? bits & 4 : 1) && ((mode & W_OK) ? bits & 2 : 1) &&
	       ((mode & X_OK) ? bits & 1 : 1);
}

/*
 * May uid/gid use path as asked?  Only the file itself counts: the sandbox
 * binds it before it drops root, so the directories above it never matter.
 */
static bool path_allows(uid_t uid, gid_t gid, const char *path, bool dir, bool write)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return false;
	return may_access(uid, gid, &st, (write ? W_OK : 0) | R_OK | (dir ? X_OK : 0));
}

/* Resolves each path, adds the files programs load, drops missing optional ones. */
static int resolve_paths(struct uml_ctx *ctx, char **slot, struct uml_sandbox *sb)
{
	for (size_t i = 0; i < sb->n; i++) {
		struct sb_path *p = &sb->p[i];
		struct stat st;

		if (p->src)
			continue;
		p->src = realpath(p->want ? p->want : p->path, NULL);
		if (!p->src && (p->flags & UML_SB_OPTIONAL)) {
			free(p->path);
			free(p->want);
			sb->p[i--] = sb->p[--sb->n];
			continue;
		}
		if (!p->src)
			return uml_fail(ctx, slot, -errno, "sandbox: cannot resolve '%s': %m",
					p->want ? p->want : p->path);
		if (stat(p->src, &st) < 0)
			return uml_fail(ctx, slot, -errno, "sandbox: '%s': %m", p->src);
		p->dir = S_ISDIR(st.st_mode);
		if (p->flags & UML_SB_EXEC) {
			struct uml_strv files = { 0 };
			int r = uml_host_program_file_list(p->src, &files);

			/* not an ELF program (a script): bind it alone */
			for (size_t j = 0; r == 0 && j < files.n; j++)
				r = uml_sandbox_add_path(sb, files.v[j], 0);
			uml_strv_free(&files);
			if (r == -ENOMEM)
				return r;
		}
	}
	return 0;
}

int uml_sandbox_prepare(struct uml_ctx *ctx, char **slot, struct uml_sandbox *sb)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int r;

	r = resolve_paths(ctx, slot, sb);
	if (r < 0)
		return r;
	sb->uid = uid;
	sb->gid = gid;
	sb->switch_to_nobody = false;
	if (uid == 0) {
		struct passwd *pw = getpwnam(NOBODY_NAME);
		bool all = pw != NULL;

		for (size_t i = 0; all && i < sb->n; i++)
			if (!(sb->p[i].flags & (UML_SB_DEVICE | UML_SB_HANDED_OVER)))
				all = path_allows(pw->pw_uid, pw->pw_gid, sb->p[i].src, sb->p[i].dir,
						  sb->p[i].flags & UML_SB_WRITE);
		if (all) {
			sb->uid = pw->pw_uid;
			sb->gid = pw->pw_gid;
			sb->switch_to_nobody = true;
		}
		/* root writes any map: keep 0 for building the view, then become nobody */
		snprintf(sb->uid_map, sizeof(sb->uid_map), "0 0 1\n%u %u 1\n", (unsigned)sb->uid,
			 (unsigned)sb->uid);
		snprintf(sb->gid_map, sizeof(sb->gid_map), "0 0 1\n%u %u 1\n", (unsigned)sb->gid,
			 (unsigned)sb->gid);
		if (!sb->switch_to_nobody) {
			snprintf(sb->uid_map, sizeof(sb->uid_map), "0 0 1\n");
			snprintf(sb->gid_map, sizeof(sb->gid_map), "0 0 1\n");
		}
		sb->deny_setgroups = false;
	} else {
		/* a user maps only itself, and may not keep setgroups */
		snprintf(sb->uid_map, sizeof(sb->uid_map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
		snprintf(sb->gid_map, sizeof(sb->gid_map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
		sb->deny_setgroups = true;
	}
	/* libraries in the kernel (vde's) look themselves up; the host's files stay hidden */
	snprintf(sb->passwd, sizeof(sb->passwd), "root:x:0:0:root:/:/bin/false\n"
		 "uml:x:%u:%u:uml:/:/bin/false\n", (unsigned)sb->uid, (unsigned)sb->gid);
	snprintf(sb->group, sizeof(sb->group), "root:x:0:\numl:x:%u:\n", (unsigned)sb->gid);
	snprintf(sb->tmp_opts, sizeof(sb->tmp_opts), "mode=0700,uid=%u,gid=%u,size=%llu",
		 (unsigned)sb->uid, (unsigned)sb->gid, (unsigned long long)sb->tmp_bytes);
	sb->prepared = true;
	return 0;
}

static int write_proc(pid_t pid, const char *name, const char *text)
{
	char path[64];
	int fd, r;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = uml_write_all(fd, text, strlen(text));
	close(fd);
	return r;
}

int uml_sandbox_write_maps(const struct uml_sandbox *sb, pid_t child)
{
	int r = 0;

	if (sb->deny_setgroups)
		r = write_proc(child, "setgroups", "deny");
	if (r == 0)
		r = write_proc(child, "gid_map", sb->gid_map);
	if (r == 0)
		r = write_proc(child, "uid_map", sb->uid_map);
	return r;
}

int uml_sandbox_check_host(const char **why)
{
	pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD | CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID |
				   CLONE_NEWIPC | CLONE_NEWNET, NULL, NULL, NULL, NULL);
	int status;

	if (pid == 0)
		_exit(0);
	if (pid < 0) {
		int r = -errno;

		*why = r == -EPERM || r == -EACCES ?
		       "this host does not let unprivileged users create user namespaces" :
		       r == -ENOSPC ? "the host's limit of user namespaces is reached" :
		       r == -EINVAL ? "this kernel lacks user, pid or network namespaces" :
		       "creating namespaces failed";
		return r;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

/* ---- in the child: no allocation, system calls only ------------------------------- */

/* dst = a + b, or -ENAMETOOLONG. */
static int cat2(char *dst, size_t size, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb >= size)
		return -ENAMETOOLONG;
	memcpy(dst, a, la);
	memcpy(dst + la, b, lb + 1);
	return 0;
}

/* mkdir -p of the directories above path (and path itself for a dir). */
static int make_parents(char *path, bool dir)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*s = '/';
			return -errno;
		}
		*s = '/';
	}
	if (dir) {
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
	} else {
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

		if (fd < 0 && errno != EEXIST)
			return -errno;
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

/* Binds /oldroot/src at /newroot/dst, read-only unless write; nosuid, and nodev unless dev. */
static int bind_path(const char *src, const char *dst, bool dir, bool write, bool dev)
{
	char from[PATH_MAX], to[PATH_MAX];
	unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID;
	struct statfs sf;

	if (cat2(from, sizeof(from), "/oldroot", src) < 0 ||
	    cat2(to, sizeof(to), "/newroot", dst) < 0)
		return -ENAMETOOLONG;
	if (make_parents(to, dir) < 0 || mount(from, to, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	/* a remount in a user namespace must keep what the original mount locks */
	if (statfs(to, &sf) == 0) {
		if (sf.f_flags & ST_NOEXEC)
			flags |= MS_NOEXEC;
		if (sf.f_flags & ST_NODEV)
			flags |= MS_NODEV;
		if (sf.f_flags & ST_NOATIME)
			flags |= MS_NOATIME;
		if (sf.f_flags & ST_NODIRATIME)
			flags |= MS_NODIRATIME;
		if (sf.f_flags & ST_RELATIME)
			flags |= MS_RELATIME;
		if (sf.f_flags & ST_RDONLY)
			write = false;
	}
	if (!write)
		flags |= MS_RDONLY;
	if (!dev)
		flags |= MS_NODEV;
	if (mount(NULL, to, NULL, flags, NULL) < 0)
		return -errno;
	/* and every mount below it (a share over a dir with mounts in it) */
	{
		struct mount_attr attr = {
			.attr_set = MOUNT_ATTR_NOSUID | (write ? 0 : MOUNT_ATTR_RDONLY) |
				    (dev ? 0 : MOUNT_ATTR_NODEV),
		};

		if (mount_setattr(AT_FDCWD, to, AT_RECURSIVE, &attr, sizeof(attr)) < 0)
			return -errno;
	}
	return 0;
}

static int write_new_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644), r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		r = -EIO;
	close(fd);
	return r;
}

/*
 * No capability, now or after an exec (securebits: uid 0 inside gains none),
 * no supplementary groups, no new privileges; uid and gid to switch to if
 * switch_user.  Run with the namespace's full capabilities.
 */
static int drop_privileges(bool switch_user, uid_t uid, gid_t gid)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
		  SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
		  SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) < 0)
		return -errno;
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return -errno;
	/* EPERM: an unprivileged user's namespace denies setgroups; its groups are its own */
	if (syscall(SYS_setgroups, 0, NULL) < 0 && errno != EPERM)
		return -errno;
	if (switch_user &&
	    (syscall(SYS_setresgid, gid, gid, gid) < 0 || syscall(SYS_setresuid, uid, uid, uid) < 0))
		return -errno;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int uml_sandbox_enter(const struct uml_sandbox *sb)
{
	int r;

	/* nothing we do here propagates back to the host */
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return -errno;
	/*
	 * A tmpfs over /tmp becomes the root; the host's root moves to
	 * /oldroot (where /tmp is the host's again), the view is built in
	 * /newroot, and a second pivot leaves nothing of the host behind.
	 */
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0 ||
	    chdir("/tmp") < 0 || mkdir("newroot", 0755) < 0 || mkdir("oldroot", 0755) < 0 ||
	    syscall(SYS_pivot_root, "/tmp", "/tmp/oldroot") < 0 || chdir("/") < 0 ||
	    mount("tmpfs", "/newroot", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return -errno;
	if (mkdir("/newroot/proc", 0755) < 0 && errno != EEXIST)
		return -errno;
	/*
	 * Processes only (subset=pid): no /proc/sys, /proc/sysrq-trigger and
	 * the like, which check uids and no capability - and the kernel may
	 * run as uid 0 (docs/security.md).
	 */
	if (mount("proc", "/newroot/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "subset=pid") < 0)
		return -errno;
	if ((mkdir("/newroot/dev", 0755) < 0 && errno != EEXIST) ||
	    mount("tmpfs", "/newroot/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		r = bind_path(dev_nodes[i], dev_nodes[i], false, true, true);
		if (r < 0)
			return r;
	}
	if ((mkdir("/newroot/tmp", 0755) < 0 && errno != EEXIST) ||
	    mount("tmpfs", "/newroot/tmp", "tmpfs", MS_NOSUID | MS_NODEV, sb->tmp_opts) < 0)
		return -errno;
	if ((mkdir("/newroot/etc", 0755) < 0 && errno != EEXIST) ||
	    (r = write_new_file("/newroot/etc/passwd", sb->passwd)) < 0 ||
	    (r = write_new_file("/newroot/etc/group", sb->group)) < 0)
		return r < 0 ? r : -errno;
	/* the declared paths last: they may lie below /tmp or /dev */
	for (size_t i = 0; i < sb->n; i++) {
		const struct sb_path *p = &sb->p[i];

		r = bind_path(p->src, p->path, p->dir, p->flags & UML_SB_WRITE,
			      p->flags & UML_SB_DEVICE);
		if (r < 0)
			return r;
	}
	if (chdir("/newroot") < 0 || mkdir(".oldroot", 0755) < 0 ||
	    syscall(SYS_pivot_root, ".", ".oldroot") < 0 ||
	    umount2("/.oldroot", MNT_DETACH) < 0 || rmdir("/.oldroot") < 0 || chdir("/") < 0)
		return -errno;
	/* the guest may see / through hostfs: it holds nothing to change */
	if (mount(NULL, "/dev", NULL, MS_REMOUNT | MS_NOSUID | MS_NOEXEC | MS_RDONLY, NULL) < 0 ||
	    mount(NULL, "/", NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_RDONLY, NULL) < 0)
		return -errno;
	return drop_privileges(sb->switch_to_nobody, sb->uid, sb->gid);
}

/* ---- reaching a running sandbox ------------------------------------------------ */

/*
 * A running kernel cannot be handed new fds, and its sandbox has no new
 * paths: a keeper process joins the sandbox's namespaces and holds fds of
 * host files, which the kernel opens as /proc/PID/fd/N.  One per guest,
 * made at the first need; it ends when we close its socket or when the
 * sandbox's pid namespace goes with the kernel.
 */
static _Noreturn void keeper_main(int sock, pid_t kpid, uid_t uid, gid_t gid, int report)
{
	/* all of the kernel's namespaces: a keeper it could trace must give it nothing more */
	static const char *const ns[] = { "user", "mnt", "pid", "net", "ipc", "uts" };
	static const int type[] = { CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET,
				    CLONE_NEWIPC, CLONE_NEWUTS };
	int nsfd[ARRAY_SIZE(ns)];
	pid_t pid, inside;
	char path[64];

	for (size_t i = 0; i < ARRAY_SIZE(ns); i++) {
		struct stat theirs, ours;

		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)kpid, ns[i]);
		nsfd[i] = open(path, O_RDONLY | O_CLOEXEC);
		snprintf(path, sizeof(path), "/proc/self/ns/%s", ns[i]);
		if (nsfd[i] < 0 || fstat(nsfd[i], &theirs) < 0 || stat(path, &ours) < 0)
			_exit(1);
		/* one it shares with us (the host's network, for a tap) is joined already */
		if (theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev) {
			close(nsfd[i]);
			nsfd[i] = -1;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(ns); i++)
		if (nsfd[i] >= 0 && setns(nsfd[i], type[i]) < 0)
			_exit(1);
	/*
	 * The kernel's uid (so it may open our fds through /proc) and no more
	 * privilege than the kernel: none now, none after an exec.
	 */
	if (drop_privileges(getuid() != uid, uid, gid) < 0)
		_exit(1);
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	prctl(PR_SET_NAME, "uml-keeper", 0, 0, 0);
	pid = fork();	/* only children join the pid namespace */
	if (pid != 0)
		_exit(pid < 0);
	inside = getpid();
	if (write(report, &inside, sizeof(inside)) != sizeof(inside))
		_exit(1);
	close(report);
	for (int i = 0; i < 3; i++)
		close(nsfd[i]);
	for (;;) {
		char cbuf[CMSG_SPACE(sizeof(int))], byte;
		struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		int fd = -1;
		ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		c = CMSG_FIRSTHDR(&m);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		/* keep fd open for good; tell its number */
		if (write(sock, &fd, sizeof(fd)) != sizeof(fd))
			_exit(0);
	}
}

int uml_sandbox_keeper_start(pid_t kpid, uid_t uid, gid_t gid, struct uml_sandbox_keeper *k)
{
	int sv[2], rep[2], status;
	pid_t pid, inside = 0;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (pipe2(rep, O_CLOEXEC) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	pid = fork();
	if (pid == 0) {
		/* nothing of ours stays open in the sandbox but the two ends: not even stdio */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int keep_lo = sv[1] < rep[1] ? sv[1] : rep[1];
		int keep_hi = sv[1] < rep[1] ? rep[1] : sv[1];

		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(1);

		syscall(SYS_close_range, 3U, (unsigned)keep_lo - 1, 0U);
		if (keep_hi > keep_lo + 1)
			syscall(SYS_close_range, (unsigned)keep_lo + 1, (unsigned)keep_hi - 1, 0U);
		syscall(SYS_close_range, (unsigned)keep_hi + 1, ~0U, 0U);
		keeper_main(sv[1], kpid, uid, gid, rep[1]);
	}
	close(sv[1]);
	close(rep[1]);
	if (pid < 0) {
		close(sv[0]);
		close(rep[0]);
		return -errno;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	do
		n = read(rep[0], &inside, sizeof(inside));
	while (n < 0 && errno == EINTR);
	close(rep[0]);
	if (n != sizeof(inside) || inside <= 0) {
		close(sv[0]);
		return -EPERM;
	}
	k->sock = sv[0];
	k->inside_pid = inside;
	return 0;
}

int uml_sandbox_keeper_hold(struct uml_sandbox_keeper *k, const char *path, char **ret)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 }, byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	int fd = open(path, O_PATH | O_CLOEXEC), held = -1, r = 0;

	if (fd < 0)
		return -errno;
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	if (sendmsg(k->sock, &m, MSG_NOSIGNAL) != 1 || read(k->sock, &held, sizeof(held)) !=
	    sizeof(held) || held < 0)
		r = -EPIPE;
	close(fd);
	if (r == 0 && asprintf(ret, "/proc/%d/fd/%d", (int)k->inside_pid, held) < 0)
		r = -ENOMEM;
	return r;
}

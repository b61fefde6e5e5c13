/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Containment: what a guest and another local user can reach.  Real busybox
 * guests in the sandbox (required, so a host that cannot sandbox fails
 * here), real second users (nobody) where the suite runs as root.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "libuml-private.h"
#include "testhelp.h"

#define BOOT_MS 60000
#define CMD_MS 60000
#define NOBODY 65534

struct fixture {
	struct uml_ctx *ctx;
	struct uml_kernel *kernel;
	struct uml_rootfs *rootfs;
	struct uml_instance *inst;
	char share[256];	/* th_tmpdir()/share-XXXXXX: rw/ and ro/ in it */
	char rw[300], ro[300];
};

static struct fixture f;

static void setup(void)
{
	f.ctx = th_ctx();
	f.kernel = th_kernel(f.ctx);
	ck_assert_int_eq(uml_rootfs_new(f.ctx, th_busybox_image(), &f.rootfs), 0);
	ck_assert_int_eq(uml_instance_new(f.kernel, &f.inst), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(f.inst, f.rootfs), 0);
	ck_assert_int_eq(uml_instance_set_ready_marker(f.inst, UML_BUSYBOX_READY_MARKER), 0);
	ck_assert_int_eq(uml_instance_set_sandbox(f.inst, UML_SANDBOX_REQUIRE), 0);
	snprintf(f.share, sizeof(f.share), "%s/share-XXXXXX", th_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(f.share));
	snprintf(f.rw, sizeof(f.rw), "%s/rw", f.share);
	snprintf(f.ro, sizeof(f.ro), "%s/ro", f.share);
	ck_assert_int_eq(mkdir(f.rw, 0755), 0);
	ck_assert_int_eq(mkdir(f.ro, 0755), 0);
}

static void teardown(void)
{
	uml_instance_unref(f.inst);
	ck_assert_int_eq(th_count_entries(uml_ctx_get_runtime_dir(f.ctx)), 0);
	th_system("rm -rf '%s'", f.share);
	uml_rootfs_unref(f.rootfs);
	uml_kernel_unref(f.kernel);
	uml_ctx_unref(f.ctx);
}

static void boot(void)
{
	int r;

	ck_assert_int_eq(uml_instance_enable_exec(f.inst), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	r = uml_instance_wait_ready(f.inst, BOOT_MS);
	ck_assert_msg(r == 0, "not ready: %s", uml_instance_last_error(f.inst));
	ck_assert_int_eq(uml_instance_get_sandboxed(f.inst), 1);
}

/* Runs sh -c script in the guest; returns its stdout (caller frees). */
static char *sh(const char *script)
{
	const char *argv[] = { "sh", "-c", script, NULL };
	struct uml_exec *e = NULL;
	char *out;
	int r = uml_instance_exec(f.inst, argv, NULL, 0, CMD_MS, &e);

	ck_assert_msg(r == 0, "exec '%s': %d %s", script, r, uml_instance_last_error(f.inst));
	out = strdup(uml_exec_get_stdout(e, NULL));
	uml_exec_unref(e);
	ck_assert_ptr_nonnull(out);
	return out;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void expect_file(const char *path, const char *text)
{
	char buf[256] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(read(fd, buf, sizeof(buf) - 1), 0);
	close(fd);
	ck_assert_str_eq(buf, text);
}

/* ---- finding 1: what hostfs shows a guest ------------------------------- */

START_TEST(hostfs_sees_only_the_sandbox)
{
	char secret[300], script[4096], *out;

	/* next to the share, not in it: the guest must not see it */
	snprintf(secret, sizeof(secret), "%s/secret", th_tmpdir());
	write_file(secret, "host secret\n", 0644);
	snprintf(script, sizeof(script), "%s/escape", f.rw);
	ck_assert_int_eq(symlink("/etc", script), 0);
	write_file(strcat(strcpy(script, f.ro), "/keep"), "original\n", 0644);
	ck_assert_int_eq(uml_instance_add_hostfs(f.inst, f.rw, "/srv/rw", 0), 0);
	ck_assert_int_eq(uml_instance_add_hostfs(f.inst, f.ro, "/srv/ro", UML_HOSTFS_READONLY), 0);
	boot();

	/* the host's root as hostfs sees it: no shadow, no home, no neighbour */
	snprintf(script, sizeof(script),
		 "mkdir -p /m /up /again; mount -t hostfs none /m -o / || echo no-mount; "
		 "test -e /m/usr/bin && echo has-usr; "
		 "test -e /m/etc/shadow || echo no-shadow; "
		 "test -e /m/root/. || echo no-home; "
		 "test -e /m%s || echo no-secret; "
		 "test -e /m%s/keep && echo has-share; "
		 "echo pwned > /m/etc/libuml-containment 2>/dev/null || echo no-write; "
		 /* the kernel's /proc holds processes only: no sysctls, no sysrq-trigger */
		 "test -e /m/proc/self/status && test ! -e /m/proc/sysrq-trigger && "
		 "test ! -e /m/proc/sys/kernel && echo proc-processes-only; "
		 /* `..` in the mount option and a symlink in a share stay inside */
		 "mount -t hostfs none /up -o %s/../../../.. && test ! -e /up/etc/shadow && echo dotdot-inside; "
		 "mkdir -p /sym; mount -t hostfs none /sym -o %s/escape && test -e /sym/passwd && "
		 "test ! -e /sym/shadow && echo symlink-inside; "
		 /* a read-only share mounted read-write again is still read-only */
		 "mount -t hostfs none /again -o %s && { echo changed > /again/keep || echo ro-held; }",
		 secret, f.ro, f.rw, f.rw, f.ro);
	out = sh(script);
	ck_assert_msg(!strstr(out, "no-mount") && strstr(out, "has-usr") && strstr(out, "has-share"),
		      "the sandbox's view is not what hostfs shows:\n%s", out);
	ck_assert_msg(strstr(out, "no-shadow") && strstr(out, "no-home") && strstr(out, "no-secret") &&
		      strstr(out, "no-write"), "the guest reaches the host's files:\n%s", out);
	ck_assert_msg(strstr(out, "proc-processes-only"), "the kernel's /proc shows more:\n%s", out);
	ck_assert_msg(strstr(out, "dotdot-inside") && strstr(out, "symlink-inside"),
		      "a path leaves the sandbox:\n%s", out);
	ck_assert_msg(strstr(out, "ro-held"), "a read-only share was written:\n%s", out);
	free(out);
	ck_assert_int_eq(access("/etc/libuml-containment", F_OK), -1);
	snprintf(script, sizeof(script), "%s/keep", f.ro);
	expect_file(script, "original\n");
}
END_TEST

/* ---- finding 3: files made from what a guest says ----------------------- */

START_TEST(copy_out_drops_special_bits_and_symlinks)
{
	char dst[300], target[300], *out;
	struct stat st;
	mode_t mask = umask(022);

	boot();
	out = sh("echo data > /tmp/x && chmod 6777 /tmp/x && echo made");
	ck_assert_str_eq(out, "made\n");
	free(out);
	snprintf(dst, sizeof(dst), "%s/out", f.share);
	ck_assert_int_eq(uml_instance_copy_out(f.inst, "/tmp/x", dst), 0);
	ck_assert_int_eq(lstat(dst, &st), 0);
	ck_assert_msg((st.st_mode & 07777) == 0755, "copied out with mode %o", st.st_mode & 07777);

	/* a symlink where the file goes is replaced, never written through */
	snprintf(target, sizeof(target), "%s/target", f.share);
	write_file(target, "untouched\n", 0644);
	ck_assert_int_eq(unlink(dst), 0);
	ck_assert_int_eq(symlink(target, dst), 0);
	ck_assert_int_eq(uml_instance_copy_out(f.inst, "/tmp/x", dst), 0);
	expect_file(target, "untouched\n");
	ck_assert_int_eq(lstat(dst, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	expect_file(dst, "data\n");
	umask(mask);
}
END_TEST

/* ---- finding 2: another local user -------------------------------------- */

/*
 * In a child as uid/gid nobody: connects to path and waits for the server.
 * Exit 0: refused; 1: accepted, then closed by the server; 2: connected and
 * left open (the server would serve).
 */
static int nobody_connects(const char *path)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		struct pollfd p;
		char c;

		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(3);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
			_exit(0);
		p = (struct pollfd){ fd, POLLIN, 0 };
		if (poll(&p, 1, 5000) == 1 && read(fd, &c, 1) <= 0)
			_exit(1);
		_exit(2);
	}
	/* the guest's channels are served by its event loop: keep it turning */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		struct pollfd p = { uml_instance_get_fd(f.inst), POLLIN, 0 };

		poll(&p, 1, 50);
		uml_instance_process(f.inst);
	}
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(other_users_reach_nothing)
{
	char shared[300], exec_sock[600], mc[600], cmd[1400];
	const char *run;

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP other_users_reach_nothing: needs root to become a second user\n");
		return;
	}
	/* a shared sticky dir, as /tmp is: the guests go to a private subdir */
	snprintf(shared, sizeof(shared), "%s/shared", f.share);
	ck_assert_int_eq(mkdir(shared, 0777), 0);
	ck_assert_int_eq(chmod(shared, 01777), 0);
	ck_assert_int_eq(chmod(f.share, 0755), 0);
	ck_assert_int_eq(chmod(th_tmpdir(), 0755), 0);
	ck_assert_int_eq(uml_ctx_set_runtime_dir(f.ctx, shared), 0);
	boot();
	run = uml_ctx_get_runtime_dir(f.ctx);
	snprintf(exec_sock, sizeof(exec_sock), "%s/uml-0", shared);
	ck_assert_str_eq(run, exec_sock);
	snprintf(exec_sock, sizeof(exec_sock), "%s/.%s.exec", run, uml_instance_get_umid(f.inst));
	snprintf(mc, sizeof(mc), "%s/%s/mconsole", run, uml_instance_get_umid(f.inst));
	ck_assert_int_eq(access(exec_sock, F_OK), 0);
	ck_assert_int_eq(access(mc, F_OK), 0);

	/* the per-user dir stops them */
	ck_assert_int_eq(nobody_connects(exec_sock), 0);
	ck_assert_int_eq(nobody_connects(mc), 0);
	/* the tools, pointed at the shared dir, find nothing */
	snprintf(cmd, sizeof(cmd), "setpriv --reuid=%d --regid=%d --clear-groups %s/examples/uml-ctl "
		 "-d %s %s exec -- id >/dev/null 2>&1", NOBODY, NOBODY, TEST_BUILDDIR, shared,
		 uml_instance_get_umid(f.inst));
	ck_assert_int_ne(th_system("%s", cmd), 0);
	snprintf(cmd, sizeof(cmd), "setpriv --reuid=%d --regid=%d --clear-groups %s/examples/uml-ctl "
		 "-d %s %s halt >/dev/null 2>&1", NOBODY, NOBODY, TEST_BUILDDIR, run,
		 uml_instance_get_umid(f.inst));
	ck_assert_int_ne(th_system("%s", cmd), 0);

	/* with the dir opened up by mistake, the socket's mode stops them */
	ck_assert_int_eq(chmod(run, 0755), 0);
	ck_assert_int_eq(nobody_connects(exec_sock), 0);
	/* and with the socket opened up too, the exec server's peer check */
	ck_assert_int_eq(chmod(exec_sock, 0777), 0);
	ck_assert_int_eq(nobody_connects(exec_sock), 1);
	ck_assert_int_eq(chmod(run, 0700), 0);
	ck_assert_int_eq(uml_instance_get_state(f.inst), UML_STATE_RUNNING);
	ck_assert_int_eq(uml_instance_halt(f.inst, 10000), 0);
}
END_TEST

START_TEST(runtime_dir_of_someone_else_is_refused)
{
	char dir[300];

	snprintf(dir, sizeof(dir), "%s/open", f.share);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);	/* writable by others, not sticky */
	ck_assert_int_eq(uml_ctx_set_runtime_dir(f.ctx, dir), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), -EPERM);
	ck_assert_msg(strstr(uml_instance_last_error(f.inst), dir),
		      "the error does not name the dir: %s", uml_instance_last_error(f.inst));
	ck_assert_int_eq(th_count_entries(dir), 0);
	ck_assert_int_eq(uml_ctx_set_runtime_dir(f.ctx, uml_ctx_get_runtime_dir(f.ctx)), 0);
}
END_TEST

/* ---- finding 8: the exec socket and reserved arguments ------------------ */

START_TEST(exec_socket_goes_with_a_killed_embedder)
{
	char sock[600], umid[64] = "";
	int p[2];
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		boot();
		ck_assert_int_eq(write(p[1], uml_instance_get_umid(f.inst),
				       strlen(uml_instance_get_umid(f.inst))), (ssize_t)strlen(uml_instance_get_umid(f.inst)));
		close(p[1]);
		pause();
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_gt(read(p[0], umid, sizeof(umid) - 1), 0);
	close(p[0]);
	snprintf(sock, sizeof(sock), "%s/.%s.exec", uml_ctx_get_runtime_dir(f.ctx), umid);
	ck_assert_int_eq(access(sock, F_OK), 0);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	for (int i = 0; i < 200 && th_count_entries(uml_ctx_get_runtime_dir(f.ctx)) > 0; i++)
		usleep(100000);
	ck_assert_msg(access(sock, F_OK) < 0, "the exec socket outlived its embedder");
	ck_assert_int_eq(th_count_entries(uml_ctx_get_runtime_dir(f.ctx)), 0);
}
END_TEST

START_TEST(channel_arguments_are_reserved)
{
	static const char *const reserved[] = {
		"ssl1=fd:3", "initrd=/x", "rdinit=/bin/sh", "hostfs=/", "libuml.ip=eth0,1.2.3.4/8",
		"eth0=tuntap,tap0", "vec0=tap,ifname=tap0", "uml_dir=/tmp", "umid=x", "con0=fd:0",
	};

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		ck_assert_msg(uml_instance_append_arg(f.inst, reserved[i]) == -EINVAL,
			      "'%s' was taken as a kernel argument", reserved[i]);
	ck_assert_int_eq(uml_instance_append_arg(f.inst, "quiet"), 0);
}
END_TEST

/* ---- finding 5: the cache ----------------------------------------------- */

START_TEST(cache_never_in_tmp_and_checked)
{
	char dir[300], *got = NULL, *slot = NULL;
	struct stat st;

	/* without HOME nor XDG_CACHE_HOME: the passwd entry's home, never /tmp */
	unsetenv("HOME");
	unsetenv("XDG_CACHE_HOME");
	if (uml_ctx_cache_dir(f.ctx, &slot, NULL, &got) == 0) {
		ck_assert_msg(strncmp(got, "/tmp/", 5) != 0, "cache in %s", got);
		free(got);
	}
	free(slot);
	slot = NULL;

	/* a planted dir another user could write is refused, by name */
	snprintf(dir, sizeof(dir), "%s/planted", f.share);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(uml_ctx_cache_dir(f.ctx, &slot, dir, &got), -EPERM);
	ck_assert_msg(slot && strstr(slot, dir), "the error does not name it: %s", slot);
	free(slot);
	slot = NULL;
	/* a symlink is refused too */
	snprintf(dir, sizeof(dir), "%s/link", f.share);
	ck_assert_int_eq(symlink(f.rw, dir), 0);
	ck_assert_int_lt(uml_ctx_cache_dir(f.ctx, &slot, dir, &got), 0);
	free(slot);
	slot = NULL;
	/* XDG_CACHE_HOME is honoured and made 0700 */
	setenv("XDG_CACHE_HOME", f.share, 1);
	ck_assert_int_eq(uml_ctx_cache_dir(f.ctx, &slot, NULL, &got), 0);
	ck_assert_int_eq(stat(got, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	free(got);
	free(slot);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("containment");
	TCase *tc = tcase_create("containment");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, channel_arguments_are_reserved);
	tcase_add_test(tc, cache_never_in_tmp_and_checked);
	tcase_add_test(tc, runtime_dir_of_someone_else_is_refused);
	tcase_add_test(tc, hostfs_sees_only_the_sandbox);
	tcase_add_test(tc, copy_out_drops_special_bits_and_symlinks);
	tcase_add_test(tc, other_users_reach_nothing);
	tcase_add_test(tc, exec_socket_goes_with_a_killed_embedder);
	suite_add_tcase(s, tc);
	return th_run(s);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The exec channel: commands, files and hostfs shares in real busybox guests. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testhelp.h"

#define BOOT_MS 60000
#define CMD_MS 60000

struct fixture {
	struct uml_ctx *ctx;
	struct uml_kernel *kernel;
	struct uml_rootfs *rootfs;
	struct uml_instance *inst;
	char share[256];
};

static struct fixture f;

static void setup(void)
{
	f.ctx = th_ctx();
	f.kernel = th_kernel(f.ctx);
	ck_assert_int_eq(uml_rootfs_new(f.ctx, th_busybox_image(), &f.rootfs), 0);
	ck_assert_int_eq(uml_instance_new(f.kernel, &f.inst), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(f.inst, f.rootfs), 0);
	/* an image opened by path has no marker; wait for its /init as well as the agent */
	ck_assert_int_eq(uml_instance_set_ready_marker(f.inst, UML_BUSYBOX_READY_MARKER), 0);
	snprintf(f.share, sizeof(f.share), "%s/share-XXXXXX", th_tmpdir());
	ck_assert_ptr_nonnull(mkdtemp(f.share));
}

static void teardown(void)
{
	char umid_dir[512], umid_arg[128];

	snprintf(umid_dir, sizeof(umid_dir), "%s/%s", uml_ctx_get_runtime_dir(f.ctx),
		 uml_instance_get_umid(f.inst));
	/* the kernel's processes, sandboxed or not, carry its umid= argument */
	snprintf(umid_arg, sizeof(umid_arg), "umid=%s ", uml_instance_get_umid(f.inst));
	uml_instance_unref(f.inst);
	ck_assert_int_eq(th_count_processes(umid_arg), 0);
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
}

/* Runs sh -c script; returns the result (asserting the call worked). */
static struct uml_exec *sh(const char *script, const void *in, size_t in_len, int timeout_ms)
{
	const char *argv[] = { "sh", "-c", script, NULL };
	struct uml_exec *e = NULL;
	int r = uml_instance_exec(f.inst, argv, in, in_len, timeout_ms, &e);

	ck_assert_msg(r == 0, "exec '%s': %d %s", script, r, uml_instance_last_error(f.inst));
	return e;
}

/* Runs sh -c script and checks what it printed. */
static void sh_expect(const char *script, const char *out)
{
	struct uml_exec *e = sh(script, NULL, 0, CMD_MS);

	ck_assert_str_eq(uml_exec_get_stdout(e, NULL), out);
	uml_exec_unref(e);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_ptr_nonnull(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* ---- without a guest ---------------------------------------------------------- */

START_TEST(argv_has_channel_arguments)
{
	const char *const *argv;
	bool ssl = false, initrd = false, rdinit = false;

	ck_assert_int_eq(uml_instance_enable_exec(f.inst), 0);
	ck_assert_int_eq(uml_instance_enable_exec(f.inst), 0);
	argv = uml_instance_get_argv(f.inst);
	ck_assert_ptr_nonnull(argv);
	for (; *argv; argv++) {
		ssl |= strncmp(*argv, "ssl1=fd:", 8) == 0;
		initrd |= strncmp(*argv, "initrd=/proc/self/fd/", 21) == 0;
		rdinit |= strcmp(*argv, "rdinit=/uml-agent") == 0;
	}
	ck_assert(ssl && initrd && rdinit);
}
END_TEST

START_TEST(bad_arguments)
{
	const char *empty[] = { NULL };
	const char *blank[] = { "", NULL };
	const char *ok[] = { "true", NULL };
	struct uml_exec *e = NULL;

	ck_assert_int_eq(uml_instance_exec(NULL, ok, NULL, 0, 0, &e), -EINVAL);
	ck_assert_int_eq(uml_instance_exec(f.inst, empty, NULL, 0, 0, &e), -EINVAL);
	ck_assert_int_eq(uml_instance_exec(f.inst, blank, NULL, 0, 0, &e), -EINVAL);
	ck_assert_int_eq(uml_instance_exec(f.inst, ok, NULL, 5, 0, &e), -EINVAL);
	ck_assert_int_eq(uml_instance_exec(f.inst, ok, NULL, 0, 0, NULL), -EINVAL);
	/* no channel, not booted */
	ck_assert_int_eq(uml_instance_exec(f.inst, ok, NULL, 0, 0, &e), -ENOTCONN);
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(f.inst), "exec channel"));
	ck_assert_int_eq(uml_instance_enable_exec(f.inst), 0);
	ck_assert_int_eq(uml_instance_exec(f.inst, ok, NULL, 0, 0, &e), -ENOTCONN);
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(f.inst), "not booted"));
	ck_assert_ptr_null(e);
	ck_assert_int_eq(uml_instance_add_hostfs(f.inst, f.share, "relative", 0), -EINVAL);
	ck_assert_int_eq(uml_instance_add_hostfs(f.inst, f.share, "/", 0), -EINVAL);
	ck_assert_int_eq(uml_instance_add_hostfs(f.inst, f.share, "/mnt", 0x80), -EINVAL);
	ck_assert_int_eq(uml_instance_add_hostfs(f.inst, "/nonexistent/dir", "/mnt", 0), -ENOENT);
	ck_assert_int_eq(uml_instance_add_hostfs(f.inst, "/etc/hostname", "/mnt", 0), -ENOTDIR);
	ck_assert_int_eq(uml_instance_copy_in(f.inst, "/etc/hostname", "relative"), -EINVAL);
	ck_assert_int_eq(uml_instance_copy_out(f.inst, "relative", "/tmp/x"), -EINVAL);
	ck_assert_int_eq(uml_exec_get_status(NULL), -1);
	ck_assert_ptr_null(uml_exec_get_stdout(NULL, NULL));
	ck_assert_ptr_null(uml_exec_unref(NULL));
}
END_TEST

/* ---- real guests ---------------------------------------------------------------- */

START_TEST(exit_statuses_and_signals)
{
	static const int codes[] = { 0, 1, 255 };
	struct uml_exec *e;

	boot();
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		char script[32];

		snprintf(script, sizeof(script), "exit %d", codes[i]);
		e = sh(script, NULL, 0, CMD_MS);
		ck_assert_int_eq(uml_exec_get_status(e), codes[i]);
		ck_assert_int_eq(uml_exec_get_signal(e), 0);
		ck_assert_int_eq(uml_exec_get_timed_out(e), 0);
		uml_exec_unref(e);
	}
	e = sh("kill -TERM $$", NULL, 0, CMD_MS);
	ck_assert_int_eq(uml_exec_get_status(e), -1);
	ck_assert_int_eq(uml_exec_get_signal(e), SIGTERM);
	uml_exec_unref(e);
	e = sh("kill -KILL $$", NULL, 0, CMD_MS);
	ck_assert_int_eq(uml_exec_get_signal(e), SIGKILL);
	ck_assert_int_eq(uml_exec_get_timed_out(e), 0);
	uml_exec_unref(e);
}
END_TEST

START_TEST(command_not_found)
{
	const char *argv[] = { "/no/such/program", "x", NULL };
	const char *bare[] = { "no-such-program-anywhere", NULL };
	struct uml_exec *e = NULL;

	boot();
	ck_assert_int_eq(uml_instance_exec(f.inst, argv, NULL, 0, CMD_MS, &e), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(f.inst), "/no/such/program"));
	ck_assert_int_eq(uml_instance_exec(f.inst, bare, NULL, 0, CMD_MS, &e), -ENOENT);
	ck_assert_ptr_null(e);
	/* the channel stays usable */
	sh_expect("echo still", "still\n");
}
END_TEST

START_TEST(stdout_and_stderr_apart)
{
	struct uml_exec *e;
	size_t len;

	boot();
	e = sh("echo out1; echo err1 >&2; printf out2; printf err2 >&2", NULL, 0, CMD_MS);
	ck_assert_int_eq(uml_exec_get_status(e), 0);
	ck_assert_str_eq(uml_exec_get_stdout(e, &len), "out1\nout2");
	ck_assert_uint_eq(len, 9);
	ck_assert_str_eq(uml_exec_get_stderr(e, &len), "err1\nerr2");
	ck_assert_uint_eq(len, 9);
	uml_exec_unref(e);
	/* nothing at all */
	e = sh("true", NULL, 0, CMD_MS);
	ck_assert_str_eq(uml_exec_get_stdout(e, &len), "");
	ck_assert_uint_eq(len, 0);
	uml_exec_unref(e);
}
END_TEST

START_TEST(binary_output_10mb)
{
	static const char *const argv[] = { "cat", "/bin/busybox", "/bin/busybox", "/bin/busybox",
					    "/bin/busybox", "/bin/busybox", "/bin/busybox", NULL };
	struct uml_exec *e = NULL;
	const char *out;
	char *bb;
	size_t len, bb_len;

	/* the guest's busybox is the host's: six copies are > 10 MB of every byte value */
	bb = read_all("/bin/busybox", &bb_len);
	boot();
	ck_assert_int_eq(uml_instance_exec(f.inst, (const char *const *)argv, NULL, 0, CMD_MS, &e), 0);
	out = uml_exec_get_stdout(e, &len);
	ck_assert_uint_eq(len, 6 * bb_len);
	ck_assert_uint_ge(len, 10u << 20);
	for (int i = 0; i < 6; i++)
		ck_assert(memcmp(out + (size_t)i * bb_len, bb, bb_len) == 0);
	uml_exec_get_stderr(e, &len);
	ck_assert_uint_eq(len, 0);
	uml_exec_unref(e);
	/* a long line without a newline, and CR/LF bytes left as they are */
	e = sh("i=0; while [ $i -lt 2000 ]; do printf 'abcdefghij\\r\\n\\033'; i=$((i+1)); done | tr -d '\\n'",
	       NULL, 0, CMD_MS);
	out = uml_exec_get_stdout(e, &len);
	ck_assert_uint_eq(len, 2000 * 12);
	ck_assert(memcmp(out, "abcdefghij\r\033abcdefghij\r\033", 24) == 0);
	uml_exec_unref(e);
	free(bb);
}
END_TEST

START_TEST(stdin_delivered)
{
	const char *cat[] = { "cat", NULL };
	struct uml_exec *e = NULL;
	size_t n = 300000, len;
	unsigned char *in = malloc(n);

	for (size_t i = 0; i < n; i++)
		in[i] = (unsigned char)(i * 131 + i / 256);
	boot();
	ck_assert_int_eq(uml_instance_exec(f.inst, cat, in, n, CMD_MS, &e), 0);
	ck_assert_uint_eq(uml_exec_get_status(e), 0);
	ck_assert(memcmp(uml_exec_get_stdout(e, &len), in, n) == 0);
	ck_assert_uint_eq(len, n);
	uml_exec_unref(e);
	/* a command that reads only part of it, then one that reads none */
	e = sh("head -c 5", in, n, CMD_MS);
	ck_assert(memcmp(uml_exec_get_stdout(e, &len), in, 5) == 0);
	ck_assert_uint_eq(len, 5);
	uml_exec_unref(e);
	e = sh("wc -c", "\0\1\2", 3, CMD_MS);
	ck_assert_int_eq(atoi(uml_exec_get_stdout(e, NULL)), 3);
	uml_exec_unref(e);
	sh_expect("echo next", "next\n");
	free(in);
}
END_TEST

START_TEST(timeout_kills_command)
{
	struct uml_exec *e;

	boot();
	e = sh("echo started; exec sleep 600", NULL, 0, 1000);
	ck_assert_int_eq(uml_exec_get_timed_out(e), 1);
	ck_assert_int_eq(uml_exec_get_signal(e), SIGKILL);
	ck_assert_int_eq(uml_exec_get_status(e), -1);
	ck_assert_str_eq(uml_exec_get_stdout(e, NULL), "started\n");
	uml_exec_unref(e);
	/* the whole process group went, and the guest still serves */
	sh_expect("ps 2>/dev/null | grep -c '[s]leep 600' || true", "0\n");
}
END_TEST

START_TEST(thousand_sequential_execs)
{
	boot();
	for (int i = 0; i < 1000; i++) {
		char arg[16];
		const char *argv[] = { "echo", arg, NULL };
		struct uml_exec *e = NULL;
		int r;

		snprintf(arg, sizeof(arg), "n%d", i);
		r = uml_instance_exec(f.inst, argv, NULL, 0, CMD_MS, &e);
		ck_assert_msg(r == 0, "exec %d: %s", i, uml_instance_last_error(f.inst));
		ck_assert_int_eq(uml_exec_get_status(e), 0);
		ck_assert_int_eq(atoi(uml_exec_get_stdout(e, NULL) + 1), i);
		uml_exec_unref(e);
	}
}
END_TEST

START_TEST(exec_after_guest_died)
{
	const char *argv[] = { "true", NULL };
	struct uml_exec *e = NULL;

	boot();
	ck_assert_int_eq(uml_instance_halt(f.inst, 10000), 0);
	ck_assert_int_eq(uml_instance_exec(f.inst, argv, NULL, 0, CMD_MS, &e), -ENOTCONN);
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(f.inst), "has ended"));
	ck_assert_int_eq(uml_instance_copy_out(f.inst, "/etc/hostname", "/dev/null"), -ENOTCONN);
	ck_assert_ptr_null(e);
}
END_TEST

START_TEST(guest_dies_during_exec)
{
	const char *argv[] = { "sh", "-c", "echo o > /proc/sysrq-trigger 2>/dev/null || poweroff -f", NULL };
	struct uml_exec *e = NULL;
	int r;

	boot();
	r = uml_instance_exec(f.inst, argv, NULL, 0, CMD_MS, &e);
	ck_assert_int_eq(r, -ECONNRESET);
	ck_assert_ptr_null(e);
	ck_assert_int_eq(uml_instance_get_state(f.inst), UML_STATE_EXITED);
}
END_TEST

START_TEST(copy_in_and_out)
{
	char src[512], dst[512];
	unsigned char data[70000];
	struct stat st;
	char *back;
	size_t len;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 17 + i / 251);
	snprintf(src, sizeof(src), "%s/in.bin", f.share);
	snprintf(dst, sizeof(dst), "%s/out.bin", f.share);
	write_file(src, data, sizeof(data));
	chmod(src, 0751);
	boot();
	ck_assert_int_eq(uml_instance_copy_in(f.inst, src, "/root/in.bin"), 0);
	sh_expect("wc -c < /root/in.bin; stat -c %a /root/in.bin", "70000\n751\n");
	ck_assert_int_eq(uml_instance_copy_out(f.inst, "/root/in.bin", dst), 0);
	back = read_all(dst, &len);
	ck_assert_uint_eq(len, sizeof(data));
	ck_assert(memcmp(back, data, len) == 0);
	ck_assert_int_eq(stat(dst, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0751);
	free(back);
	/* errors name the guest's reason */
	ck_assert_int_eq(uml_instance_copy_out(f.inst, "/no/such/file", dst), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(f.inst), "/no/such/file"));
	ck_assert_int_eq(uml_instance_copy_out(f.inst, "/root", dst), -EISDIR);
	ck_assert_int_eq(uml_instance_copy_in(f.inst, src, "/no/such/dir/x"), -ENOENT);
	ck_assert_int_eq(uml_instance_copy_in(f.inst, "/no/such/host/file", "/root/x"), -ENOENT);
	/* an empty file */
	write_file(src, "", 0);
	ck_assert_int_eq(uml_instance_copy_in(f.inst, src, "/root/empty"), 0);
	ck_assert_int_eq(uml_instance_copy_out(f.inst, "/root/empty", dst), 0);
	ck_assert_int_eq(stat(dst, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
}
END_TEST

START_TEST(hostfs_shares)
{
	char rw[512], ro[512], path[600];
	struct uml_exec *e;
	char *data;
	size_t len;

	snprintf(rw, sizeof(rw), "%s/rw", f.share);
	snprintf(ro, sizeof(ro), "%s/ro", f.share);
	ck_assert_int_eq(mkdir(rw, 0755), 0);
	ck_assert_int_eq(mkdir(ro, 0755), 0);
	snprintf(path, sizeof(path), "%s/hello", rw);
	write_file(path, "from host\n", 10);
	snprintf(path, sizeof(path), "%s/keep", ro);
	write_file(path, "original\n", 9);
	/* a mount point that does not exist in the image is made */
	ck_assert_int_eq(uml_instance_add_hostfs(f.inst, rw, "/srv/data", 0), 0);
	ck_assert_int_eq(uml_instance_add_hostfs(f.inst, ro, "/mnt/ro", UML_HOSTFS_READONLY), 0);
	boot();

	e = sh("cat /srv/data/hello && echo 'from guest' > /srv/data/new", NULL, 0, CMD_MS);
	ck_assert_int_eq(uml_exec_get_status(e), 0);
	ck_assert_str_eq(uml_exec_get_stdout(e, NULL), "from host\n");
	uml_exec_unref(e);
	snprintf(path, sizeof(path), "%s/new", rw);
	data = read_all(path, &len);
	ck_assert_uint_eq(len, 11);
	ck_assert(memcmp(data, "from guest\n", 11) == 0);
	free(data);

	e = sh("cat /mnt/ro/keep; echo changed > /mnt/ro/keep; echo $? ; touch /mnt/ro/x",
	       NULL, 0, CMD_MS);
	ck_assert_int_ne(uml_exec_get_status(e), 0);
	ck_assert_str_eq(uml_exec_get_stdout(e, NULL), "original\n1\n");
	ck_assert_ptr_nonnull(strstr(uml_exec_get_stderr(e, NULL), "Read-only"));
	uml_exec_unref(e);
	snprintf(path, sizeof(path), "%s/keep", ro);
	data = read_all(path, &len);
	ck_assert(len == 9 && memcmp(data, "original\n", 9) == 0);
	free(data);
	snprintf(path, sizeof(path), "%s/x", ro);
	ck_assert_int_eq(access(path, F_OK), -1);
	/* the guest's root stayed as its init left it (writable for busybox guests) */
	sh_expect("touch /root/w && echo ok", "ok\n");
}
END_TEST

START_TEST(hostfs_share_that_cannot_mount)
{
	char gone[512];

	snprintf(gone, sizeof(gone), "%s/gone", f.share);
	ck_assert_int_eq(mkdir(gone, 0755), 0);
	ck_assert_int_eq(uml_instance_add_hostfs(f.inst, gone, "/mnt/gone", 0), 0);
	ck_assert_int_eq(rmdir(gone), 0);
	/* the guest still boots; the failure is reported once the agent is up */
	boot();
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(f.inst), "cannot mount hostfs"));
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(f.inst), "/mnt/gone"));
	sh_expect("echo up", "up\n");
}
END_TEST

START_TEST(ready_without_marker)
{
	struct uml_exec *e;

	/* an empty-ish marker-less guest: readiness comes from the agent alone */
	ck_assert_int_eq(uml_instance_set_ready_marker(f.inst, NULL), 0);
	ck_assert_int_eq(uml_instance_set_init(f.inst, "/bin/sh"), 0);
	boot();
	ck_assert_int_eq(uml_instance_get_state(f.inst), UML_STATE_RUNNING);
	e = sh("echo $$ > /dev/null; cat /proc/1/cmdline 2>/dev/null | tr '\\0' ' ' || echo noproc",
	       NULL, 0, CMD_MS);
	ck_assert_int_eq(uml_exec_get_status(e), 0);
	uml_exec_unref(e);
}
END_TEST

START_TEST(exec_from_another_process)
{
	const char *argv[] = { "sh", "-c", "cat; echo err >&2; exit 9", NULL };
	pid_t pid;
	int st;

	boot();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct uml_ctx *ctx;
		struct uml_exec *e = NULL;
		int r;

		if (uml_ctx_new(&ctx) < 0 ||
		    uml_ctx_set_runtime_dir(ctx, uml_ctx_get_runtime_dir(f.ctx)) < 0)
			_exit(100);
		r = uml_ctx_exec(ctx, uml_instance_get_umid(f.inst), argv, "in", 2, 0, &e);
		if (r < 0)
			_exit(101);
		if (strcmp(uml_exec_get_stdout(e, NULL), "in") || strcmp(uml_exec_get_stderr(e, NULL), "err\n"))
			_exit(102);
		r = uml_exec_get_status(e);
		uml_exec_unref(e);
		/* no such guest */
		if (uml_ctx_exec(ctx, "no-such-guest", argv, NULL, 0, 0, &e) != -ENOTCONN)
			_exit(103);
		uml_ctx_unref(ctx);
		_exit(r);
	}
	/* the owner serves the socket from its event loop */
	while (waitpid(pid, &st, WNOHANG) == 0)
		uml_instance_wait(f.inst, 20);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 9);
	ck_assert_int_eq(uml_instance_get_state(f.inst), UML_STATE_RUNNING);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("exec");
	TCase *tc = tcase_create("config");

	tcase_set_timeout(tc, 60);	/* no guests, but a loaded CI host is slow */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, argv_has_channel_arguments);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("guest");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, exit_statuses_and_signals);
	tcase_add_test(tc, command_not_found);
	tcase_add_test(tc, stdout_and_stderr_apart);
	tcase_add_test(tc, binary_output_10mb);
	tcase_add_test(tc, stdin_delivered);
	tcase_add_test(tc, timeout_kills_command);
	tcase_add_test(tc, thousand_sequential_execs);
	tcase_add_test(tc, exec_after_guest_died);
	tcase_add_test(tc, guest_dies_during_exec);
	tcase_add_test(tc, copy_in_and_out);
	tcase_add_test(tc, hostfs_shares);
	tcase_add_test(tc, hostfs_share_that_cannot_mount);
	tcase_add_test(tc, ready_without_marker);
	tcase_add_test(tc, exec_from_another_process);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* made once, before the forked tests, which all use it */
	th_busybox_image();
	return th_run(suite());
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mconsole against real UML guests (Debian's /usr/bin/linux.uml booted by
 * hand with a busybox image), and against a fake peer for the faults a
 * real kernel never produces (malformed, truncated, oversized, endless
 * replies, silence).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "busybox-image.h"
#include "exit-reason.h"
#include "mconsole-proto.h"
#include "testhelp.h"

#define KERNEL "/usr/bin/linux.uml"
#define BOOT_TIMEOUT_MS 60000
#define WAIT_MS 30000

/*
 * Every test works below suite_root, made by main() before the tests are
 * forked.  A failed assertion ends a forked test with _exit(), past any
 * cleanup of its own, so main() also kills whatever still runs from there
 * and removes it all.
 */
static char suite_root[64];
static char *tmp_root;			/* this test's directory below suite_root */
static pid_t guest_pgid;		/* this test's hand-booted guest, if any */

static void cleanup_test(void)
{
	if (guest_pgid > 0) {
		kill(-guest_pgid, SIGKILL);
		while (waitpid(-guest_pgid, NULL, 0) > 0 || errno == EINTR)
			;
		guest_pgid = 0;
	}
	if (tmp_root) {
		uml_rm_rf(tmp_root);
		free(tmp_root);
		tmp_root = NULL;
	}
}

static void make_tmp_root(void)
{
	char *t;

	ck_assert_int_ge(asprintf(&t, "%s/t-XXXXXX", suite_root), 0);
	ck_assert_ptr_nonnull(mkdtemp(t));
	tmp_root = t;
}

/* Kills every process whose command line names suite_root (our guests). */
static void kill_leftovers(void)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[300], *cmdline;
		size_t len;
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		if (uml_read_file(path, &cmdline, &len) < 0)
			continue;
		for (size_t i = 0; i < len; i++)
			if (cmdline[i] == '\0')
				cmdline[i] = ' ';
		if (strstr(cmdline, suite_root))
			kill(pid, SIGKILL);
		free(cmdline);
	}
	closedir(d);
}

/* computed by the guest, so the text of the script never matches it */
#define UP_MARKER "libuml-test: up 42"

/*
 * /init mounts /proc, says UP_MARKER, then runs every console line as a
 * shell command, so tests can make the guest act (write to /proc/mconsole,
 * trigger a crash).
 */
static const char init_script[] =
	"#!/bin/sh\n"
	"mount -t proc proc /proc\n"
	"echo \"libuml-test: up $((6*7))\"\n"
	"while read -r line; do eval \"$line\"; done\n"
	"while :; do sleep 1; done\n";

static char *make_image(void)
{
	char *img = NULL;

	ck_assert_int_eq(busybox_image_make(tmp_root, init_script, &img), 0);
	return img;
}

/* ---- a hand-booted guest ------------------------------------------------ */

struct guest {
	char umid[64];
	char dir[256];			/* uml_dir */
	char sock[400];			/* its mconsole socket */
	int notify_fd;			/* bound at dir/notify.sock */
	int con_in;			/* the guest console's input */
	int con_out;			/* and output (nonblocking) */
	struct uml_buf console;
	pid_t pid;
	struct uml_ctx *ctx;		/* runtime dir = dir */
};

static void drain_console(struct guest *g)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(g->con_out, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(uml_buf_append(&g->console, buf, (size_t)n), 0);
}

/*
 * Waits for one notify datagram, reading the console meanwhile so the
 * guest never blocks on a full pipe.  Returns its type; data copied out.
 */
static int wait_notify(struct guest *g, char *data, size_t size, size_t *len)
{
	uint64_t end = uml_now_usec() + (uint64_t)BOOT_TIMEOUT_MS * 1000;

	while (uml_now_usec() < end) {
		struct pollfd p[2] = { { g->notify_fd, POLLIN, 0 }, { g->con_out, POLLIN, 0 } };
		char buf[1024];
		const char *d;
		size_t n;
		ssize_t got;
		int type;

		if (poll(p, 2, 200) < 0 && errno != EINTR)
			ck_abort_msg("poll: %s", strerror(errno));
		drain_console(g);
		if (!(p[0].revents & POLLIN))
			continue;
		got = recv(g->notify_fd, buf, sizeof(buf), 0);
		ck_assert_int_gt(got, 0);
		ck_assert_int_eq(uml_mconsole_parse_notify(buf, (size_t)got, &type, &d, &n), 0);
		ck_assert_uint_lt(n, size);
		memcpy(data, d, n);
		data[n] = '\0';
		if (len)
			*len = n;
		return type;
	}
	ck_abort_msg("no notify from guest %s within %d ms; console:\n%s", g->umid,
		     BOOT_TIMEOUT_MS, th_tail(g->console.data));
	return -1;
}

static void wait_console(struct guest *g, const char *text)
{
	uint64_t end = uml_now_usec() + (uint64_t)WAIT_MS * 1000;

	while (uml_now_usec() < end) {
		struct pollfd p = { g->con_out, POLLIN, 0 };

		drain_console(g);
		if (g->console.data && strstr(g->console.data, text))
			return;
		poll(&p, 1, 200);
	}
	ck_abort_msg("'%s' not on the console of %s:\n%s", text, g->umid, th_tail(g->console.data));
}

static void guest_type(struct guest *g, const char *line)
{
	ck_assert_int_eq(uml_write_all(g->con_in, line, strlen(line)), 0);
	ck_assert_int_eq(uml_write_all(g->con_in, "\n", 1), 0);
}

/* Waits for the guest process to end; returns its wait status. */
static int guest_reap(struct guest *g)
{
	uint64_t end = uml_now_usec() + (uint64_t)WAIT_MS * 1000;
	int status;

	while (uml_now_usec() < end) {
		pid_t r = waitpid(g->pid, &status, WNOHANG);

		if (r == g->pid) {
			g->pid = 0;
			return status;
		}
		drain_console(g);
		usleep(20000);
	}
	ck_abort_msg("guest %s did not end", g->umid);
	return -1;
}

static void guest_boot(struct guest *g, const char *img)
{
	static unsigned seq;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char preload[512], arg_ubd[300], arg_umid[80], arg_dir[300], arg_notify[320];
	char notify[300], data[600];
	int in[2], out[2];

	memset(g, 0, sizeof(*g));
	snprintf(g->umid, sizeof(g->umid), "tmc-%d-%u", (int)getpid(), seq++);
	snprintf(g->dir, sizeof(g->dir), "%s/%s.d", tmp_root, g->umid);
	ck_assert_int_eq(uml_mkdir_p(g->dir, 0700), 0);
	snprintf(g->sock, sizeof(g->sock), "%s/%s/mconsole", g->dir, g->umid);
	snprintf(notify, sizeof(notify), "%s/notify.sock", g->dir);

	g->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(g->notify_fd, 0);
	ck_assert_uint_lt(strlen(notify), sizeof(sa.sun_path));
	strcpy(sa.sun_path, notify);
	ck_assert_int_eq(bind(g->notify_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);

	ck_assert_int_eq(pipe2(in, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(out, O_CLOEXEC), 0);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s/libuml/uml-hostcompat.so",
		 TEST_BUILDDIR);
	snprintf(arg_ubd, sizeof(arg_ubd), "ubd0=%s", img);
	snprintf(arg_umid, sizeof(arg_umid), "umid=%s", g->umid);
	snprintf(arg_dir, sizeof(arg_dir), "uml_dir=%s", g->dir);
	snprintf(arg_notify, sizeof(arg_notify), "mconsole=notify:%s", notify);

	g->pid = fork();
	ck_assert_int_ge(g->pid, 0);
	if (g->pid == 0) {
		char *argv[] = { KERNEL, "mem=64M", arg_ubd, "root=/dev/ubda", "init=/init",
				 arg_umid, arg_dir, "con0=fd:0,fd:1", "con=null", arg_notify,
				 NULL };
		char *envp[] = { preload, "PATH=/usr/bin:/bin", NULL };

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		execve(KERNEL, argv, envp);
		_exit(127);
	}
	setpgid(g->pid, g->pid);
	guest_pgid = g->pid;
	close(in[0]);
	close(out[1]);
	g->con_in = in[1];
	g->con_out = out[0];
	ck_assert_int_eq(fcntl(g->con_out, F_SETFL, O_NONBLOCK), 0);

	ck_assert_int_eq(uml_ctx_new(&g->ctx), 0);
	ck_assert_int_eq(uml_ctx_set_runtime_dir(g->ctx, g->dir), 0);

	/* the kernel says where its mconsole is as soon as it listens */
	ck_assert_int_eq(wait_notify(g, data, sizeof(data), NULL), UML_MCONSOLE_NOTIFY_SOCKET);
	ck_assert_str_eq(data, g->sock);
	wait_console(g, UP_MARKER);
}

static void guest_free(struct guest *g)
{
	if (g->pid > 0) {
		kill(-g->pid, SIGKILL);
		guest_reap(g);
	}
	/* helpers of the kernel share its process group */
	kill(-guest_pgid, SIGKILL);
	guest_pgid = 0;
	close(g->notify_fd);
	close(g->con_in);
	close(g->con_out);
	uml_buf_free(&g->console);
	uml_ctx_unref(g->ctx);
	uml_rm_rf(g->dir);
}

/* Sends a command by umid; asserts success; returns the reply (caller frees). */
static char *mc_ok(struct guest *g, const char *command, size_t *len)
{
	char *reply = NULL;
	int r = uml_ctx_mconsole(g->ctx, g->umid, command, WAIT_MS, &reply, len);

	ck_assert_msg(r == 0, "mconsole '%s': %d %s", command, r,
		      uml_ctx_last_error(g->ctx) ? uml_ctx_last_error(g->ctx) : "");
	ck_assert_ptr_nonnull(reply);
	return reply;
}

/* Sends a command the kernel must refuse; checks the message. */
static void mc_refused(struct guest *g, const char *command, const char *message)
{
	char *reply = (char *)"untouched";

	ck_assert_int_eq(uml_ctx_mconsole(g->ctx, g->umid, command, WAIT_MS, &reply, NULL),
			 -EREMOTEIO);
	ck_assert_str_eq(reply, "untouched");
	ck_assert_ptr_nonnull(uml_ctx_last_error(g->ctx));
	ck_assert_msg(strstr(uml_ctx_last_error(g->ctx), message),
		      "'%s': last error '%s' lacks '%s'", command, uml_ctx_last_error(g->ctx),
		      message);
}

static char *img_path;

static void setup(void)
{
	make_tmp_root();
	img_path = make_image();
}

static void teardown(void)
{
	free(img_path);
	img_path = NULL;
	cleanup_test();
}

/* ---- real guest: one boot for the read-only commands ------------------ */

START_TEST(test_version_help_proc)
{
	struct guest g;
	char *r, *kver, *p;
	size_t len;
	static const char *const commands[] = { "version", "help", "halt", "reboot", "config",
		"remove", "sysrq", "cad", "stop", "go", "log", "proc", "stack" };

	guest_boot(&g, img_path);

	/* version: the kernel's uname line, with the release --version prints */
	{
		char *argv[] = { KERNEL, "--version", NULL };
		int pfd[2], status;
		pid_t pid;
		char buf[128] = "";

		ck_assert_int_eq(pipe(pfd), 0);
		pid = fork();
		if (pid == 0) {
			dup2(pfd[1], 1);
			execv(KERNEL, argv);
			_exit(127);
		}
		close(pfd[1]);
		ck_assert_int_gt(read(pfd[0], buf, sizeof(buf) - 1), 0);
		close(pfd[0]);
		waitpid(pid, &status, 0);
		buf[strcspn(buf, "\n")] = '\0';
		kver = strdup(buf);
	}
	r = mc_ok(&g, "version", &len);
	ck_assert_uint_eq(len, strlen(r));
	ck_assert_msg(strncmp(r, "Linux ", 6) == 0, "version reply '%s'", r);
	ck_assert_msg(strstr(r, kver), "version reply '%s' lacks '%s'", r, kver);
	free(r);
	free(kver);

	/* the same through an absolute socket path */
	ck_assert_int_eq(uml_ctx_mconsole(g.ctx, g.sock, "version", WAIT_MS, &r, NULL), 0);
	ck_assert_msg(strncmp(r, "Linux ", 6) == 0, "version by path: '%s'", r);
	free(r);

	r = mc_ok(&g, "help", NULL);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		char word[32];

		snprintf(word, sizeof(word), "    %s ", commands[i]);
		ck_assert_msg(strstr(r, word), "help lacks '%s':\n%.1500s", commands[i], r);
	}
	free(r);

	/* proc: a multi-part reply; meminfo is longer than one 511-byte part */
	r = mc_ok(&g, "proc meminfo", &len);
	ck_assert_uint_gt(len, 511);
	ck_assert_uint_eq(len, strlen(r));
	p = strstr(r, "MemTotal:");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(strstr(r, "MemFree:"));
	ck_assert_ptr_nonnull(strstr(r, "VmallocTotal:"));	/* near the end: all parts came */
	free(r);

	mc_refused(&g, "proc no-such-file", "Failed to open file");
	mc_refused(&g, "bogus", "Unknown command");
	mc_refused(&g, "go", "Not stopped");
	mc_refused(&g, "stack 99999", "Couldn't find that pid");

	/* the guest still answers after refusals */
	free(mc_ok(&g, "version", NULL));
	guest_free(&g);
}
END_TEST

START_TEST(test_sysrq_log_stack)
{
	struct guest g;
	char *r;

	guest_boot(&g, img_path);
	/* printk keeps a line without its newline back, so send one */
	free(mc_ok(&g, "log libuml-test-log-marker\n", NULL));
	wait_console(&g, "libuml-test-log-marker");
	/* 'm' prints memory information on the kernel console */
	free(mc_ok(&g, "sysrq m", NULL));
	wait_console(&g, "Mem-Info");
	/*
	 * The stack dump comes back in the reply while the kernel prints it.
	 * Debian's 6.1 sometimes faults while unwinding and prints only that.
	 */
	r = mc_ok(&g, "stack 1", NULL);
	ck_assert_msg(strstr(r, "Stack:") || strstr(r, "stack trace"), "stack reply '%s'", r);
	free(r);
	guest_free(&g);
}
END_TEST

START_TEST(test_config_remove_disk)
{
	struct guest g;
	char disk[300], cmd[400], *r;
	int fd;

	guest_boot(&g, img_path);
	snprintf(disk, sizeof(disk), "%s/extra.img", tmp_root);
	fd = open(disk, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 8 << 20), 0);
	close(fd);

	r = mc_ok(&g, "proc partitions", NULL);
	ck_assert_msg(strstr(r, "ubda"), "partitions:\n%.1500s", r);
	ck_assert_ptr_null(strstr(r, "ubdb"));
	free(r);

	snprintf(cmd, sizeof(cmd), "config ubd1=%s", disk);
	free(mc_ok(&g, cmd, NULL));
	r = mc_ok(&g, "proc partitions", NULL);
	ck_assert_msg(strstr(r, "ubdb"), "hot-added disk not in partitions:\n%.1500s", r);
	free(r);
	/* a query answers the configuration */
	r = mc_ok(&g, "config ubd1", NULL);
	ck_assert_str_eq(r, disk);
	free(r);
	mc_refused(&g, cmd, "already configured");

	free(mc_ok(&g, "remove ubd1", NULL));
	r = mc_ok(&g, "proc partitions", NULL);
	ck_assert_ptr_null(strstr(r, "ubdb"));
	free(r);
	mc_refused(&g, "remove ubd1", "Device doesn't exist");
	/* the root disk is mounted */
	mc_refused(&g, "remove ubd0", "Device is currently open");
	mc_refused(&g, "config nosuchdev=1", "Bad configuration option");
	snprintf(cmd, sizeof(cmd), "config ubd2=%s/missing.img", tmp_root);
	{
		char *reply;

		ck_assert_int_eq(uml_ctx_mconsole(g.ctx, g.umid, cmd, WAIT_MS, &reply, NULL),
				 -EREMOTEIO);
	}
	guest_free(&g);
}
END_TEST

START_TEST(test_stop_go)
{
	struct guest g;
	char *r;

	guest_boot(&g, img_path);
	r = mc_ok(&g, "stop", NULL);
	ck_assert_str_eq(r, "stopped");
	free(r);
	/* stopped, the kernel serves only the mconsole */
	mc_refused(&g, "stop", "Already stopped");
	r = mc_ok(&g, "version", NULL);
	ck_assert_msg(strncmp(r, "Linux ", 6) == 0, "version while stopped: '%s'", r);
	free(r);
	r = mc_ok(&g, "go", NULL);
	ck_assert_str_eq(r, "");
	free(r);
	mc_refused(&g, "go", "Not stopped");
	/* it runs again: the console shell answers */
	guest_type(&g, "echo resumed-$((40+2))");
	wait_console(&g, "resumed-42");
	guest_free(&g);
}
END_TEST

START_TEST(test_notify_user_and_panic)
{
	struct guest g;
	char data[600];
	size_t len;
	int status;

	guest_boot(&g, img_path);
	guest_type(&g, "echo hello-notify > /proc/mconsole");
	ck_assert_int_eq(wait_notify(&g, data, sizeof(data), &len), UML_MCONSOLE_NOTIFY_USER);
	ck_assert_uint_eq(len, strlen("hello-notify\n"));
	ck_assert_str_eq(data, "hello-notify\n");

	guest_type(&g, "echo c > /proc/sysrq-trigger");
	ck_assert_int_eq(wait_notify(&g, data, sizeof(data), &len), UML_MCONSOLE_NOTIFY_PANIC);
	ck_assert_uint_eq(len, strlen(data));
	ck_assert_msg(strstr(data, "sysrq"), "panic text '%s'", data);
	/* a panicked kernel ends its process */
	status = guest_reap(&g);
	ck_assert(WIFEXITED(status) || WIFSIGNALED(status));
	guest_free(&g);
}
END_TEST

/* What the host side of UML prints first, on every exec of the kernel. */
#define EXEC_MARKER "Checking that ptrace can change system call numbers"

/*
 * UML reboots by executing itself again in the same process.  Waits for the
 * second start on the console.  (Debian's 6.1 sometimes stalls early after
 * such a restart, so the test does not wait for the second boot to finish.)
 */
static void wait_reexec(struct guest *g, pid_t pid)
{
	uint64_t end = uml_now_usec() + (uint64_t)WAIT_MS * 1000;
	int status;

	while (uml_now_usec() < end) {
		const char *first;
		struct pollfd p = { g->con_out, POLLIN, 0 };

		drain_console(g);
		first = g->console.data ? strstr(g->console.data, EXEC_MARKER) : NULL;
		if (first && strstr(first + 1, EXEC_MARKER)) {
			/* the same process, still running */
			ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
			return;
		}
		poll(&p, 1, 200);
	}
	ck_abort_msg("guest %s did not restart:\n%s", g->umid, th_tail(g->console.data));
}

START_TEST(test_reboot)
{
	struct guest g;

	guest_boot(&g, img_path);
	free(mc_ok(&g, "reboot", NULL));
	wait_reexec(&g, g.pid);
	guest_free(&g);
}
END_TEST

START_TEST(test_cad)
{
	struct guest g;

	guest_boot(&g, img_path);
	/* with the default C-A-D setting the kernel restarts */
	free(mc_ok(&g, "cad", NULL));
	wait_console(&g, "reboot: Restarting system");
	wait_reexec(&g, g.pid);
	guest_free(&g);
}
END_TEST

START_TEST(test_halt)
{
	struct guest g;
	char *r;
	int status, e;

	guest_boot(&g, img_path);
	free(mc_ok(&g, "halt", NULL));
	status = guest_reap(&g);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "halt: status 0x%x", status);
	/* nothing answers any more */
	e = uml_ctx_mconsole(g.ctx, g.umid, "version", WAIT_MS, &r, NULL);
	ck_assert_msg(e == -ENOENT || e == -ECONNREFUSED, "after halt: %d", e);
	guest_free(&g);
}
END_TEST

/* ---- the instance API: typed helpers ---------------------------------- */

struct inst_guest {
	struct uml_ctx *ctx;
	struct uml_kernel *kernel;
	struct uml_rootfs *rootfs;
	struct uml_instance *inst;
};

static void inst_boot(struct inst_guest *ig)
{
	char dir[300];

	memset(ig, 0, sizeof(*ig));
	ck_assert_int_eq(uml_ctx_new(&ig->ctx), 0);
	snprintf(dir, sizeof(dir), "%s/run", tmp_root);
	ck_assert_int_eq(uml_ctx_set_runtime_dir(ig->ctx, dir), 0);
	ck_assert_int_eq(uml_kernel_new_from_path(ig->ctx, KERNEL, &ig->kernel), 0);
	ck_assert_int_eq(uml_rootfs_new(ig->ctx, img_path, &ig->rootfs), 0);
	ck_assert_int_eq(uml_instance_new(ig->kernel, &ig->inst), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(ig->inst, ig->rootfs), 0);
	ck_assert_int_eq(uml_instance_set_init(ig->inst, "/init"), 0);
	ck_assert_int_eq(uml_instance_set_ready_marker(ig->inst, UP_MARKER), 0);
	ck_assert_int_eq(uml_instance_boot(ig->inst), 0);
	ck_assert_msg(uml_instance_wait_ready(ig->inst, BOOT_TIMEOUT_MS) == 0, "not ready: %s",
		      uml_instance_last_error(ig->inst));
}

static void inst_free(struct inst_guest *ig)
{
	uml_instance_unref(ig->inst);
	uml_rootfs_unref(ig->rootfs);
	uml_kernel_unref(ig->kernel);
	uml_ctx_unref(ig->ctx);
}

static void inst_wait_console(struct inst_guest *ig, const char *text)
{
	uint64_t end = uml_now_usec() + (uint64_t)WAIT_MS * 1000;

	while (uml_now_usec() < end) {
		const char *log = uml_instance_get_console_log(ig->inst, NULL);

		if (log && strstr(log, text))
			return;
		uml_instance_wait(ig->inst, 100);
	}
	ck_abort_msg("'%s' not on the console", text);
}

#define ck_assert_last_error(inst, text) \
	ck_assert_msg(uml_instance_last_error(inst) && strstr(uml_instance_last_error(inst), text), \
		      "last error '%s' lacks '%s'", uml_instance_last_error(inst), text)

/* sysrq c: the kernel crashes instead of answering; the call returns once the guest ended. */
START_TEST(test_instance_sysrq_crash)
{
	struct inst_guest ig;
	char *out = (char *)"unset";

	inst_boot(&ig);
	ck_assert_msg(uml_instance_mconsole_sysrq(ig.inst, 'c', &out) == 0, "%s",
		      uml_instance_last_error(ig.inst));
	ck_assert_ptr_null(out);
	ck_assert_int_eq(uml_instance_get_state(ig.inst), UML_STATE_EXITED);
	ck_assert_int_eq(uml_instance_get_exit_reason(ig.inst), UML_EXIT_PANIC);
	ck_assert_ptr_nonnull(uml_instance_get_panic_message(ig.inst));
	inst_free(&ig);
}
END_TEST

START_TEST(test_instance_helpers)
{
	struct inst_guest ig;
	struct uml_instance *inst;
	char *r, disk[300], rel[300], big[600], cwd[4096];
	size_t len;
	int fd;

	/* not running yet */
	ck_assert_int_eq(uml_ctx_new(&ig.ctx), 0);
	ck_assert_int_eq(uml_kernel_new_from_path(ig.ctx, KERNEL, &ig.kernel), 0);
	ck_assert_int_eq(uml_instance_new(ig.kernel, &inst), 0);
	ck_assert_int_eq(uml_instance_mconsole_version(inst, &r), -ENOTCONN);
	ck_assert_last_error(inst, "not running");
	ck_assert_int_eq(uml_instance_mconsole(inst, "version", &r, NULL), -ENOTCONN);
	uml_instance_unref(inst);
	uml_kernel_unref(ig.kernel);
	uml_ctx_unref(ig.ctx);
	ck_assert_int_eq(uml_instance_mconsole_version(NULL, &r), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole_halt(NULL), -EINVAL);

	inst_boot(&ig);
	inst = ig.inst;

	ck_assert_int_eq(uml_instance_mconsole(inst, "version", &r, &len), 0);
	ck_assert_uint_eq(len, strlen(r));
	ck_assert_ptr_nonnull(strstr(r, "Linux"));
	free(r);
	ck_assert_int_eq(uml_instance_mconsole(inst, "", &r, &len), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole(inst, "version", NULL, &len), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole(inst, "bogus", &r, &len), -EREMOTEIO);
	ck_assert_str_eq(uml_instance_last_error(inst), "Unknown command");

	ck_assert_int_eq(uml_instance_mconsole_version(inst, &r), 0);
	ck_assert_msg(strncmp(r, "Linux ", 6) == 0, "version '%s'", r);
	free(r);
	ck_assert_int_eq(uml_instance_mconsole_help(inst, &r), 0);
	ck_assert_ptr_nonnull(strstr(r, "    proc "));
	free(r);

	/* proc: contents without the kernel's leading newline */
	ck_assert_int_eq(uml_instance_mconsole_proc(inst, "meminfo", &r, &len), 0);
	ck_assert_msg(strncmp(r, "MemTotal:", 9) == 0, "meminfo '%.40s'", r);
	ck_assert_uint_eq(len, strlen(r));
	free(r);
	ck_assert_int_eq(uml_instance_mconsole_proc(inst, "/proc/sys/kernel/osrelease", &r, NULL), 0);
	ck_assert_ptr_nonnull(strstr(r, "6."));
	free(r);
	ck_assert_int_eq(uml_instance_mconsole_proc(inst, "no-such", &r, NULL), -EREMOTEIO);
	ck_assert_last_error(inst, "Failed to open file");
	ck_assert_int_eq(uml_instance_mconsole_proc(inst, "mem info", &r, NULL), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole_proc(inst, "", &r, NULL), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole_proc(inst, NULL, &r, NULL), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole_proc(inst, "meminfo", NULL, NULL), -EINVAL);
	memset(big, 'a', sizeof(big));
	big[520] = '\0';
	ck_assert_int_eq(uml_instance_mconsole_proc(inst, big, &r, NULL), -E2BIG);

	/* log: one line, newline added, control characters refused */
	ck_assert_int_eq(uml_instance_mconsole_log(inst, "libuml-inst-log marker"), 0);
	inst_wait_console(&ig, "libuml-inst-log marker");
	ck_assert_int_eq(uml_instance_mconsole_log(inst, "two\nlines"), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole_log(inst, NULL), -EINVAL);
	big[507] = '\0';
	ck_assert_int_eq(uml_instance_mconsole_log(inst, big), -E2BIG);
	big[506] = '\0';
	ck_assert_int_eq(uml_instance_mconsole_log(inst, big), 0);

	ck_assert_int_eq(uml_instance_mconsole_sysrq(inst, 'm', NULL), 0);
	inst_wait_console(&ig, "Mem-Info");
	ck_assert_int_eq(uml_instance_mconsole_sysrq(inst, ' ', NULL), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole_sysrq(inst, '\n', NULL), -EINVAL);

	ck_assert_int_eq(uml_instance_mconsole_stack(inst, 1, &r), 0);
	free(r);
	ck_assert_int_eq(uml_instance_mconsole_stack(inst, 0, &r), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole_stack(inst, 99999, &r), -EREMOTEIO);
	ck_assert_last_error(inst, "Couldn't find that pid");

	/* config and remove, raw and as the disk helpers */
	ck_assert_int_eq(uml_instance_mconsole_config_get(inst, "ubd0", &r), 0);
	ck_assert_str_eq(r, img_path);
	free(r);
	ck_assert_int_eq(uml_instance_mconsole_config_get(inst, "ubd0=x", &r), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole_config(inst, "ubd1"), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole_config(inst, "=x"), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole_config(inst, "ubd1=/a b"), -EINVAL);
	ck_assert_int_eq(uml_instance_mconsole_config(inst, "nosuch=1"), -EREMOTEIO);
	ck_assert_last_error(inst, "Bad configuration option");
	ck_assert_int_eq(uml_instance_mconsole_remove(inst, "ubd 1"), -EINVAL);

	snprintf(disk, sizeof(disk), "%s/extra.img", tmp_root);
	fd = open(disk, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4 << 20), 0);
	close(fd);
	/* a relative path is made absolute: the kernel's cwd is not ours */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tmp_root), 0);
	snprintf(rel, sizeof(rel), "extra.img");
	ck_assert_int_eq(uml_instance_add_disk_live(inst, 2, rel, UML_DISK_LIVE_READONLY), 0);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_int_eq(uml_instance_mconsole_proc(inst, "partitions", &r, NULL), 0);
	ck_assert_msg(strstr(r, "ubdc"), "partitions:\n%.1500s", r);
	free(r);
	ck_assert_int_eq(uml_instance_mconsole_config_get(inst, "ubd2", &r), 0);
	/* a sandboxed kernel sees the disk only through the sandbox's keeper */
	if (uml_instance_get_sandboxed(inst))
		ck_assert_msg(strncmp(r, "/proc/", 6) == 0 && strstr(r, "/fd/"), "ubd2=%s", r);
	else
		ck_assert_str_eq(r, disk);
	free(r);
	ck_assert_int_eq(uml_instance_add_disk_live(inst, 2, disk, 0), -EBUSY);
	ck_assert_last_error(inst, "already configured");
	ck_assert_int_eq(uml_instance_add_disk_live(inst, 16, disk, 0), -EINVAL);
	ck_assert_int_eq(uml_instance_add_disk_live(inst, 3, disk, 0x80), -EINVAL);
	ck_assert_int_eq(uml_instance_add_disk_live(inst, 3, "/a,b", 0), -EINVAL);
	ck_assert_int_eq(uml_instance_add_disk_live(inst, 3, "/a:b", 0), -EINVAL);
	ck_assert_int_eq(uml_instance_add_disk_live(inst, 3, "", 0), -EINVAL);
	ck_assert_int_eq(uml_instance_add_disk_live(inst, 3, NULL, 0), -EINVAL);
	ck_assert_int_eq(uml_instance_add_disk_live(inst, 3, "/nonexistent/disk.img", 0), -ENOENT);
	ck_assert_int_eq(uml_instance_remove_disk_live(inst, 2), 0);
	ck_assert_int_eq(uml_instance_mconsole_proc(inst, "partitions", &r, NULL), 0);
	ck_assert_ptr_null(strstr(r, "ubdc"));
	free(r);
	ck_assert_int_eq(uml_instance_remove_disk_live(inst, 2), -ENODEV);
	ck_assert_int_eq(uml_instance_remove_disk_live(inst, 0), -EBUSY);
	ck_assert_int_eq(uml_instance_remove_disk_live(inst, 16), -EINVAL);
	/* the raw form of the same */
	snprintf(big, sizeof(big), "ubd3=%s", disk);
	if (uml_instance_get_sandboxed(inst)) {
		/* the raw form bypasses the keeper: the host path is not there */
		ck_assert_int_eq(uml_instance_mconsole_config(inst, big), -EREMOTEIO);
	} else {
		ck_assert_int_eq(uml_instance_mconsole_config(inst, big), 0);
		ck_assert_int_eq(uml_instance_mconsole_remove(inst, "ubd3"), 0);
	}

	ck_assert_int_eq(uml_instance_mconsole_stop(inst), 0);
	ck_assert_int_eq(uml_instance_mconsole_stop(inst), -EREMOTEIO);
	ck_assert_str_eq(uml_instance_last_error(inst), "Already stopped");
	ck_assert_int_eq(uml_instance_mconsole_go(inst), 0);
	ck_assert_int_eq(uml_instance_mconsole_go(inst), -EREMOTEIO);
	ck_assert_str_eq(uml_instance_last_error(inst), "Not stopped");

	ck_assert_int_eq(uml_instance_mconsole_halt(inst), 0);
	ck_assert_int_eq(uml_instance_wait(inst, WAIT_MS), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(inst), UML_EXIT_HALT);
	ck_assert_int_eq(uml_instance_mconsole_version(inst, &r), -ENOTCONN);
	inst_free(&ig);
}
END_TEST

START_TEST(test_instance_reboot_cad)
{
	struct inst_guest ig;

	/* the console says so, and the instance ends the guest there */
	inst_boot(&ig);
	ck_assert_int_eq(uml_instance_mconsole_cad(ig.inst), 0);
	ck_assert_int_eq(uml_instance_wait(ig.inst, WAIT_MS), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(ig.inst), UML_EXIT_REBOOT);
	inst_free(&ig);

	/* acknowledged; the kernel restarts without a console line */
	inst_boot(&ig);
	ck_assert_int_eq(uml_instance_mconsole_reboot(ig.inst), 0);
	ck_assert_int_eq(uml_instance_kill(ig.inst), 0);
	ck_assert_int_eq(uml_instance_get_state(ig.inst), UML_STATE_EXITED);
	inst_free(&ig);
}
END_TEST

/* ---- argument and reachability errors, no guest ---------------------- */

START_TEST(test_ctx_errors)
{
	struct uml_ctx *ctx;
	char *r = (char *)"untouched", big[600], path[300];
	int fd;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	make_tmp_root();
	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	ck_assert_int_eq(uml_ctx_set_runtime_dir(ctx, tmp_root), 0);

	ck_assert_int_eq(uml_ctx_mconsole(NULL, "x", "version", 100, &r, NULL), -EINVAL);
	ck_assert_int_eq(uml_ctx_mconsole(ctx, NULL, "version", 100, &r, NULL), -EINVAL);
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "", "version", 100, &r, NULL), -EINVAL);
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "x", NULL, 100, &r, NULL), -EINVAL);
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "x", "", 100, &r, NULL), -EINVAL);
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "x", "version", 100, NULL, NULL), -EINVAL);
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "..", "version", 100, &r, NULL), -EINVAL);
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "a/b", "version", 100, &r, NULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_ctx_last_error(ctx), "a/b"));

	/* no such guest */
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "nosuchguest", "version", 100, &r, NULL), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_ctx_last_error(ctx), "nosuchguest"));

	/* a socket left by a guest that died */
	snprintf(path, sizeof(path), "%s/dead", tmp_root);
	ck_assert_int_eq(uml_mkdir_p(path, 0700), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dead/mconsole", tmp_root);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "dead", "version", 100, &r, NULL), -ECONNREFUSED);

	/* 511 bytes is the most the protocol carries */
	memset(big, 'a', sizeof(big));
	big[512] = '\0';
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "nosuchguest", big, 100, &r, NULL), -E2BIG);
	big[511] = '\0';
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "nosuchguest", big, 100, &r, NULL), -ENOENT);

	/* a socket path too long for sun_path */
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[200] = '\0';
	ck_assert_int_eq(uml_ctx_mconsole(ctx, path, "version", 100, &r, NULL), -ENAMETOOLONG);

	ck_assert_str_eq(r, "untouched");
	uml_ctx_unref(ctx);
	cleanup_test();
}
END_TEST

/* ---- a fake peer for faults a real kernel does not produce ------------ */

struct wire_reply {
	uint32_t err, more, len;
	char data[UML_MCONSOLE_MAX_DATA + 64];
};

static void fake_send(int fd, const struct sockaddr_un *to, socklen_t tolen, uint32_t err,
		      uint32_t more, uint32_t len, const void *data, size_t dlen, size_t total)
{
	struct wire_reply rep = { .err = err, .more = more, .len = len };

	memcpy(rep.data, data, dlen);
	if (sendto(fd, &rep, total, 0, (const struct sockaddr *)to, tolen) < 0 &&
	    errno != ECONNREFUSED && errno != ENOENT)
		_exit(3);
}

/*
 * Serves requests until "quit": the command names the fault to answer
 * with.  It also checks each request is what the kernel expects.
 */
static void fake_peer(int fd)
{
	for (;;) {
		struct {
			uint32_t magic, version, len;
			char data[UML_MCONSOLE_MAX_DATA];
		} req;
		struct sockaddr_un from;
		socklen_t fromlen = sizeof(from);
		ssize_t n = recvfrom(fd, &req, sizeof(req), 0, (struct sockaddr *)&from, &fromlen);
		const char *c = req.data;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 12 || req.magic != UML_MCONSOLE_MAGIC || req.version != 2 ||
		    req.len >= UML_MCONSOLE_MAX_DATA || (size_t)n != 12 + req.len)
			_exit(2);
		req.data[req.len] = '\0';
		if (strcmp(c, "quit") == 0)
			_exit(0);
		if (strcmp(c, "ok") == 0) {
			fake_send(fd, &from, fromlen, 0, 0, 6, "hello", 6, 12 + 6);
		} else if (strcmp(c, "parts") == 0) {
			/* three parts, the middle one with NULs inside */
			fake_send(fd, &from, fromlen, 0, 1, 4, "abc", 4, 12 + 4);
			fake_send(fd, &from, fromlen, 0, 1, 5, "d\0e\0", 5, 12 + 5);
			fake_send(fd, &from, fromlen, 0, 0, 3, "fg", 3, 12 + 3);
		} else if (strcmp(c, "empty") == 0) {
			fake_send(fd, &from, fromlen, 0, 0, 0, "", 0, 12);
		} else if (strcmp(c, "nonul") == 0) {
			fake_send(fd, &from, fromlen, 0, 0, 3, "xyz", 3, 12 + 3);
		} else if (strcmp(c, "padded") == 0) {
			/* a whole struct sent, len says what counts */
			fake_send(fd, &from, fromlen, 0, 0, 3, "hi", 3, 12 + UML_MCONSOLE_MAX_DATA);
		} else if (strcmp(c, "err") == 0) {
			fake_send(fd, &from, fromlen, 1, 0, 9, "it broke", 9, 12 + 9);
		} else if (strcmp(c, "err-empty") == 0) {
			fake_send(fd, &from, fromlen, (uint32_t)-EBUSY, 0, 1, "", 1, 12 + 1);
		} else if (strcmp(c, "short") == 0) {
			fake_send(fd, &from, fromlen, 0, 0, 0, "", 0, 7);
		} else if (strcmp(c, "zero") == 0) {
			fake_send(fd, &from, fromlen, 0, 0, 0, "", 0, 0);
		} else if (strcmp(c, "len-past-end") == 0) {
			fake_send(fd, &from, fromlen, 0, 0, 100, "abc", 4, 12 + 4);
		} else if (strcmp(c, "len-huge") == 0) {
			fake_send(fd, &from, fromlen, 0, 0, 0xffffffffu, "abc", 4, 12 + 4);
		} else if (strcmp(c, "len-513") == 0) {
			static const char text[513] = "abc";

			fake_send(fd, &from, fromlen, 0, 0, 513, text, sizeof(text), 12 + 513);
		} else if (strcmp(c, "oversized") == 0) {
			fake_send(fd, &from, fromlen, 0, 0, 4, "abc", 4, 12 + UML_MCONSOLE_MAX_DATA + 40);
		} else if (strcmp(c, "bad-second-part") == 0) {
			fake_send(fd, &from, fromlen, 0, 1, 4, "abc", 4, 12 + 4);
			fake_send(fd, &from, fromlen, 0, 0, 400, "abc", 4, 12 + 4);
		} else if (strcmp(c, "endless") == 0) {
			char chunk[UML_MCONSOLE_MAX_DATA];

			/* until the client gives up and its address goes away */
			memset(chunk, 'x', sizeof(chunk));
			chunk[sizeof(chunk) - 1] = '\0';
			for (;;) {
				struct wire_reply rep = { .more = 1, .len = sizeof(chunk) };

				memcpy(rep.data, chunk, sizeof(chunk));
				if (sendto(fd, &rep, 12 + sizeof(chunk), 0,
					   (struct sockaddr *)&from, fromlen) < 0)
					break;
			}
		} else if (strcmp(c, "late") == 0) {
			usleep(300 * 1000);
			fake_send(fd, &from, fromlen, 0, 0, 5, "late", 5, 12 + 5);
		} else if (strcmp(c, "bytes") == 0) {
			/* what JSON output must escape: quotes, controls, bad UTF-8 */
			static const char b[] = "a\"b\\c\n\x01\x7f\xff\xc3\xa9\xe2\x82";

			fake_send(fd, &from, fromlen, 0, 0, sizeof(b), b, sizeof(b), 12 + sizeof(b));
		} else if (strcmp(c, "silent") == 0) {
			/* no answer at all */
		} else {
			_exit(4);
		}
	}
}

/* Runs uml-ctl; returns its exit status, stdout in out. */
static int run_ctl(const char *const args[], char *out, size_t size)
{
	char ctl[512];
	const char *argv[16] = { ctl };
	int pfd[2], status;
	size_t n = 0, i;
	ssize_t got;
	pid_t pid;

	snprintf(ctl, sizeof(ctl), "%s/examples/uml-ctl", TEST_BUILDDIR);
	for (i = 0; args[i] && i < ARRAY_SIZE(argv) - 2; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(pfd[1], 1);
		dup2(null, 2);
		execv(ctl, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	while (n + 1 < size && (got = read(pfd[0], out + n, size - 1 - n)) > 0)
		n += (size_t)got;
	out[n] = '\0';
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void on_alarm(int sig)
{
}

START_TEST(test_fake_peer_faults)
{
	static const struct {
		const char *cmd;
		const char *reply;
		size_t len;
	} good[] = {
		{ "ok", "hello", 5 },
		{ "parts", "abcd\0e\0fg", 9 },	/* three parts, NULs inside */
		{ "empty", "", 0 },
		{ "nonul", "xyz", 3 },
		{ "padded", "hi", 2 },
	};
	static const char *const malformed[] = {
		"short", "zero", "len-past-end", "len-huge", "len-513", "oversized",
		"bad-second-part",
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct uml_ctx *ctx;
	char dir[300], *r;
	size_t len;
	int fd, status;
	pid_t peer;

	make_tmp_root();
	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	ck_assert_int_eq(uml_ctx_set_runtime_dir(ctx, tmp_root), 0);
	/* the fake binds where a guest with umid "fake" would listen */
	snprintf(dir, sizeof(dir), "%s/fake", tmp_root);
	ck_assert_int_eq(uml_mkdir_p(dir, 0700), 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/fake/mconsole", tmp_root);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	peer = fork();
	ck_assert_int_ge(peer, 0);
	if (peer == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		fake_peer(fd);
		_exit(1);
	}
	close(fd);

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		ck_assert_msg(uml_ctx_mconsole(ctx, "fake", good[i].cmd, WAIT_MS, &r, &len) == 0,
			      "'%s': %s", good[i].cmd, uml_ctx_last_error(ctx));
		ck_assert_uint_eq(len, good[i].len);
		ck_assert_int_eq(memcmp(r, good[i].reply, len + 1), 0);	/* with the NUL */
		free(r);
	}

	r = (char *)"untouched";
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "fake", "err", WAIT_MS, &r, &len), -EREMOTEIO);
	ck_assert_str_eq(uml_ctx_last_error(ctx), "it broke");
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "fake", "err-empty", WAIT_MS, &r, &len),
			 -EREMOTEIO);
	ck_assert_ptr_nonnull(strstr(uml_ctx_last_error(ctx), "err-empty"));

	for (size_t i = 0; i < ARRAY_SIZE(malformed); i++)
		ck_assert_msg(uml_ctx_mconsole(ctx, "fake", malformed[i], WAIT_MS, &r, &len) ==
			      -EBADMSG, "'%s' was taken", malformed[i]);
	ck_assert_ptr_nonnull(strstr(uml_ctx_last_error(ctx), "malformed"));
	/* a peer that never clears `more` is cut off, it cannot grow us forever */
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "fake", "endless", -1, &r, &len), -EMSGSIZE);

	ck_assert_int_eq(uml_ctx_mconsole(ctx, "fake", "silent", 100, &r, &len), -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(uml_ctx_last_error(ctx), "did not answer"));

	/* signals while waiting (no SA_RESTART) do not end the wait */
	{
		struct sigaction act = { .sa_handler = on_alarm }, old;
		struct itimerval it = { .it_interval = { 0, 20000 }, .it_value = { 0, 20000 } };
		struct itimerval off = { { 0, 0 }, { 0, 0 } };

		ck_assert_int_eq(sigaction(SIGALRM, &act, &old), 0);
		ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
		ck_assert_int_eq(uml_ctx_mconsole(ctx, "fake", "late", WAIT_MS, &r, &len), 0);
		setitimer(ITIMER_REAL, &off, NULL);
		sigaction(SIGALRM, &old, NULL);
		ck_assert_str_eq(r, "late");
		free(r);
	}

	/* still serving in order: the late answers of timed-out calls went nowhere */
	ck_assert_int_eq(uml_ctx_mconsole(ctx, "fake", "ok", WAIT_MS, &r, &len), 0);
	ck_assert_str_eq(r, "hello");
	free(r);

	/* uml-ctl: exit codes, and JSON that escapes whatever the reply holds */
	{
		char out[4096];
		const char *ok[] = { "--uml-dir", tmp_root, "fake", "ok", NULL };
		const char *json[] = { "-d", tmp_root, "--json", "fake", "bytes", NULL };
		const char *refused[] = { "-d", tmp_root, "--json", "fake", "err", NULL };
		const char *silent[] = { "-d", tmp_root, "-t", "100", "fake", "silent", NULL };
		const char *bad[] = { "-d", tmp_root, "--json", "fake", "short", NULL };
		const char *absent[] = { "-d", tmp_root, "nobody", "version", NULL };
		const char *usage[] = { "-d", tmp_root, "fake", NULL };
		const char *badopt[] = { "--no-such-option", "fake", "ok", NULL };

		ck_assert_int_eq(run_ctl(ok, out, sizeof(out)), 0);
		ck_assert_str_eq(out, "hello\n");
		ck_assert_int_eq(run_ctl(json, out, sizeof(out)), 0);
		ck_assert_str_eq(out, "{\"umid\":\"fake\",\"command\":\"bytes\",\"ok\":true,"
				 "\"reply\":\"a\\\"b\\\\c\\n\\u0001\\u007f\\u00ff\xc3\xa9"
				 "\\u00e2\\u0082\"}\n");
		ck_assert_int_eq(run_ctl(refused, out, sizeof(out)), 1);
		ck_assert_str_eq(out, "{\"umid\":\"fake\",\"command\":\"err\",\"ok\":false,"
				 "\"error\":\"it broke\"}\n");
		ck_assert_int_eq(run_ctl(silent, out, sizeof(out)), 3);
		ck_assert_str_eq(out, "");
		ck_assert_int_eq(run_ctl(bad, out, sizeof(out)), 3);
		ck_assert_ptr_nonnull(strstr(out, "\"ok\":false"));
		ck_assert_int_eq(run_ctl(absent, out, sizeof(out)), 3);
		ck_assert_int_eq(run_ctl(usage, out, sizeof(out)), 2);
		ck_assert_int_eq(run_ctl(badopt, out, sizeof(out)), 2);
	}

	ck_assert_int_eq(uml_ctx_mconsole(ctx, "fake", "quit", 100, &r, &len), -ETIMEDOUT);
	ck_assert_int_eq(waitpid(peer, &status, 0), peer);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fake peer status 0x%x",
		      status);
	uml_ctx_unref(ctx);
	cleanup_test();
}
END_TEST

/* ---- the notify parser on hostile input ------------------------------- */

struct wire_notify {
	uint32_t magic, version, type, len;
	char data[UML_MCONSOLE_MAX_DATA + 8];
};

/*
 * UML's own teardown can crash after it took a halt ("Segfault with no mm"
 * under host load, seen in boot campaigns): the guest was halted all the
 * same.  Without the halt, the same evidence is a panic.
 */
START_TEST(test_exit_evidence)
{
	struct uml_exit_evidence ev = { .line_reason = UML_EXIT_NONE, .panicked = true,
					.by_signal = true, .kernel_up = true };

	ck_assert_int_eq(uml_exit_reason_decide(&ev), UML_EXIT_PANIC);
	ev.halt_acked = true;
	ck_assert_int_eq(uml_exit_reason_decide(&ev), UML_EXIT_HALT);
	ev.line_reason = UML_EXIT_PANIC;
	ck_assert_int_eq(uml_exit_reason_decide(&ev), UML_EXIT_HALT);
	ev.timed_out = true;
	ck_assert_int_eq(uml_exit_reason_decide(&ev), UML_EXIT_TIMEOUT);
}
END_TEST

START_TEST(test_parse_notify)
{
	struct wire_notify m = { .magic = UML_MCONSOLE_MAGIC, .version = 2,
				 .type = UML_MCONSOLE_NOTIFY_SOCKET, .len = 6 };
	char unaligned[sizeof(m) + 1];
	const char *d;
	size_t len;
	int type;

	memcpy(m.data, "/a/b/\0", 6);
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 16 + 6, &type, &d, &len), 0);
	ck_assert_int_eq(type, UML_MCONSOLE_NOTIFY_SOCKET);
	ck_assert_uint_eq(len, 5);			/* the kernel's NUL is not counted */
	ck_assert_int_eq(memcmp(d, "/a/b/", 5), 0);
	ck_assert_ptr_eq(d, m.data);

	/* from a misaligned buffer */
	memcpy(unaligned + 1, &m, 16 + 6);
	ck_assert_int_eq(uml_mconsole_parse_notify(unaligned + 1, 16 + 6, &type, &d, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_ptr_eq(d, unaligned + 1 + 16);

	/* user data is passed as written, NULs included */
	m.type = UML_MCONSOLE_NOTIFY_USER;
	memcpy(m.data, "x\0y\0", 4);
	m.len = 4;
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 16 + 4, &type, &d, &len), 0);
	ck_assert_int_eq(type, UML_MCONSOLE_NOTIFY_USER);
	ck_assert_uint_eq(len, 4);
	m.len = 0;
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 16, &type, &d, &len), 0);
	ck_assert_uint_eq(len, 0);
	/* NULL outputs are fine */
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 16, NULL, NULL, NULL), 0);
	m.len = 512;
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 16 + 512, &type, &d, &len), 0);
	ck_assert_uint_eq(len, 512);

	/* hostile ones */
	ck_assert_int_eq(uml_mconsole_parse_notify(NULL, 16, &type, &d, &len), -EBADMSG);
	for (size_t n = 0; n < 16; n++)
		ck_assert_int_eq(uml_mconsole_parse_notify(&m, n, &type, &d, &len), -EBADMSG);
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 16 + 511, &type, &d, &len), -EBADMSG);
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 16 + 513, &type, &d, &len), -EBADMSG);
	m.len = 513;
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 16 + 513, &type, &d, &len), -EBADMSG);
	m.len = 0xffffffffu;
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 16 + 512, &type, &d, &len), -EBADMSG);
	m.len = 1;
	m.magic = 0xcafebabf;
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 17, &type, &d, &len), -EBADMSG);
	m.magic = UML_MCONSOLE_MAGIC;
	m.version = 1;
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 17, &type, &d, &len), -EBADMSG);
	m.version = 2;
	m.type = 4;
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 17, &type, &d, &len), -EBADMSG);
	m.type = UML_MCONSOLE_NOTIFY_PANIC;
	ck_assert_int_eq(uml_mconsole_parse_notify(&m, 17, &type, &d, &len), 0);
	ck_assert_int_eq(type, UML_MCONSOLE_NOTIFY_PANIC);
}
END_TEST

static Suite *mconsole_suite(void)
{
	Suite *s = suite_create("mconsole");
	TCase *tc;

	tc = tcase_create("wire");
	tcase_add_test(tc, test_parse_notify);
	tcase_add_test(tc, test_exit_evidence);
	tcase_add_test(tc, test_ctx_errors);
	tcase_add_test(tc, test_fake_peer_faults);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("guest");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_version_help_proc);
	tcase_add_test(tc, test_sysrq_log_stack);
	tcase_add_test(tc, test_config_remove_disk);
	tcase_add_test(tc, test_stop_go);
	tcase_add_test(tc, test_notify_user_and_panic);
	tcase_add_test(tc, test_reboot);
	tcase_add_test(tc, test_cad);
	tcase_add_test(tc, test_halt);
	tcase_add_test(tc, test_instance_helpers);
	tcase_add_test(tc, test_instance_sysrq_crash);
	tcase_add_test(tc, test_instance_reboot_cad);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	SRunner *sr;
	int failed;

	/* socket paths below it must fit 108 bytes */
	if (!base || base[0] != '/' || strlen(base) > 32)
		base = "/tmp";
	snprintf(suite_root, sizeof(suite_root), "%s/test-mconsole-XXXXXX", base);
	if (!mkdtemp(suite_root)) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	sr = srunner_create(mconsole_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	kill_leftovers();
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	uml_rm_rf(suite_root);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

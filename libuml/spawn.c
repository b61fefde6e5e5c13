/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Process creation.  The only place libuml starts processes.  Children get
 * exactly the file descriptors they are given, their own process group,
 * default signal handling, a sandbox if asked (sandbox.c), and die when the
 * process that started them dies: a watchdog per child sees to that (not
 * PR_SET_PDEATHSIG, which fires when the thread that started the child
 * exits).
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <linux/sched.h>

#include "libuml-private.h"
#include "sandbox.h"

/* What the child reports before it dies: the step that failed and its errno. */
enum { STEP_SETUP = 1, STEP_SANDBOX, STEP_EXEC };

static _Noreturn void child_fail(int err_pipe, int step)
{
	int msg[2] = { step, errno };

	(void)!write(err_pipe, msg, sizeof(msg));
	_exit(127);
}

/*
 * Runs in the child between clone and exec: system calls only (the caller
 * may have threads; this is a copy of one of them).  It waits for the
 * parent's go - the parent writes its namespace maps and starts its
 * watchdog first - and gives up if the parent died instead.
 */
static _Noreturn void child_exec(const struct uml_spawn_opts *o, int go_fd, int err_pipe)
{
	sigset_t all;
	char go;
	int null_fd, r;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	if (setpgid(0, 0) < 0)
		child_fail(err_pipe, STEP_SETUP);
	/*
	 * Without address space randomization UML adds no "exec-shield gap"
	 * (up to ~1 GB) to its physical memory, whose page tables and struct
	 * pages cost host memory and boot time for nothing.
	 */
	if (personality(PER_LINUX | ADDR_NO_RANDOMIZE) < 0)
		child_fail(err_pipe, STEP_SETUP);
	while ((r = (int)read(go_fd, &go, 1)) < 0 && errno == EINTR)
		;
	if (r != 1)
		_exit(127);	/* the parent is gone: so are we */
	if (o->sandbox) {
		r = uml_sandbox_enter(o->sandbox);
		if (r < 0) {
			errno = -r;
			child_fail(err_pipe, STEP_SANDBOX);
		}
	}
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 ||
	    dup2(o->out_fd >= 0 ? o->out_fd : null_fd, STDOUT_FILENO) < 0 ||
	    dup2(o->out_fd >= 0 ? o->out_fd : null_fd, STDERR_FILENO) < 0)
		child_fail(err_pipe, STEP_SETUP);
	/* everything else closes on exec, except what the child is given */
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = 3; fd < 65536; fd++)
			if (fd != err_pipe)
				fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	for (size_t i = 0; i < o->n_keep; i++)
		if (fcntl(o->keep_fds[i], F_SETFD, 0) < 0)
			child_fail(err_pipe, STEP_SETUP);
	execve(o->argv[0], o->argv, o->envp);
	child_fail(err_pipe, STEP_EXEC);
}

/*
 * The watchdog: UML starts helper processes of its own that outlive its main
 * process when that is killed, so pdeathsig alone does not end a guest.  A
 * small forked process blocks on a pipe only the caller holds open; when the
 * caller dies, the pipe reads EOF and the watchdog kills the guest's whole
 * process group and removes its runtime files.  Async-signal-safe calls only (the caller may have threads).
 */
static pid_t start_watchdog(pid_t guest_pgid, char *const *cleanup, int *ret_fd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid == 0) {
		sigset_t all;
		char c;

		sigfillset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		/* not in the caller's group: a ^C there must not end us first */
		setpgid(0, 0);
		if (dup2(p[0], 3) < 0)
			_exit(1);
		/* hold nothing else open, above all no other guest's pipe */
		syscall(SYS_close_range, 0U, 2U, 0U);
		syscall(SYS_close_range, 4U, ~0U, 0U);
		prctl(PR_SET_NAME, "uml-watchdog");
		while (read(3, &c, 1) < 0 && errno == EINTR)
			;
		kill(-guest_pgid, SIGKILL);
		/* and what the caller would have removed after the guest */
		for (; cleanup && *cleanup; cleanup++)
			if (unlink(*cleanup) < 0 && (errno == EISDIR || errno == EPERM))
				rmdir(*cleanup);
		_exit(0);
	}
	close(p[0]);
	*ret_fd = p[1];
	return pid;
}

/*
 * Does a process group still have members that are not zombies?  Zombies
 * hold no files or locks; they wait for their parent, which for UML's
 * helpers is whatever reaps orphans here (not always promptly).
 */
static bool group_has_live_members(pid_t pgid)
{
	DIR *d;
	struct dirent *de;
	bool live = false;

	if (kill(-pgid, 0) < 0)
		return false;
	d = opendir("/proc");
	while (d && !live && (de = readdir(d))) {
		char path[300], buf[512], state;
		long pg;
		ssize_t n;
		int fd;
		char *p;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		/* "pid (comm) state ppid pgrp ...": comm may hold anything but ')' ends it */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %c %*d %ld", &state, &pg) == 2 && pg == pgid && state != 'Z')
			live = true;
	}
	if (d)
		closedir(d);
	return live;
}

void uml_spawn_wait_group_gone(pid_t pgid, int timeout_ms)
{
	for (int i = 0; i < timeout_ms && group_has_live_members(pgid); i++)
		usleep(1000);
}

void uml_spawn_release(struct uml_spawn *sp)
{
	if (sp->watchdog > 0) {
		kill(sp->watchdog, SIGKILL);
		while (waitpid(sp->watchdog, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (sp->watchdog_fd >= 0)
		close(sp->watchdog_fd);
	if (sp->pidfd >= 0)
		close(sp->pidfd);
	sp->watchdog = 0;
	sp->watchdog_fd = sp->pidfd = -1;
}

static int close_both(int p[2], int r)
{
	uml_close_fd(&p[0]);
	uml_close_fd(&p[1]);
	return r;
}

int uml_spawn(struct uml_ctx *ctx, char **slot, const struct uml_spawn_opts *o,
	      struct uml_spawn *ret)
{
	struct clone_args args = { .exit_signal = SIGCHLD };
	int err_pipe[2] = { -1, -1 }, go[2] = { -1, -1 }, msg[2] = { 0, 0 }, pidfd = -1, r;
	const char *what = "cannot execute";
	pid_t pid;
	ssize_t n;

	if (pipe2(err_pipe, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0) {
		r = uml_fail(ctx, slot, -errno, "pipe: %m");
		close_both(go, 0);
		return close_both(err_pipe, r);
	}
	args.flags = CLONE_PIDFD | (o->sandbox ? uml_sandbox_clone_flags(o->sandbox) : 0);
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		close(go[1]);
		close(err_pipe[0]);
		child_exec(o, go[0], err_pipe[1]);
	}
	uml_close_fd(&go[0]);
	uml_close_fd(&err_pipe[1]);
	if (pid < 0) {
		r = -errno;
		close_both(go, 0);
		close_both(err_pipe, 0);
		return uml_fail(ctx, slot, r, "cannot start '%s': %s", o->argv[0], strerror(-r));
	}
	(void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	ret->pid = pid;
	ret->pidfd = pidfd;
	ret->watchdog_fd = -1;
	ret->watchdog = 0;
	r = o->sandbox ? uml_sandbox_write_maps(o->sandbox, pid) : 0;
	if (r < 0) {
		r = uml_fail(ctx, slot, r, "cannot set up the sandbox of '%s': writing its uid "
			     "map: %s", o->argv[0], strerror(-r));
		goto fail;
	}
	ret->watchdog = start_watchdog(pid, o->cleanup, &ret->watchdog_fd);
	if (ret->watchdog < 0) {
		r = uml_fail(ctx, slot, (int)ret->watchdog, "cannot start the watchdog of '%s': %s",
			     o->argv[0], strerror(-(int)ret->watchdog));
		ret->watchdog = 0;
		goto fail;
	}
	/* go: the child's end of the pipe reads EOF instead if we die before this */
	if (write(go[1], "g", 1) != 1) {
		r = uml_fail(ctx, slot, -errno, "cannot start '%s': %m", o->argv[0]);
		goto fail;
	}
	uml_close_fd(&go[1]);
	do
		n = read(err_pipe[0], msg, sizeof(msg));
	while (n < 0 && errno == EINTR);
	uml_close_fd(&err_pipe[0]);
	if (n != sizeof(msg))
		return 0;	/* exec closed the pipe */
	if (msg[0] == STEP_SANDBOX)
		what = "cannot set up the sandbox of";
	else if (msg[0] == STEP_SETUP)
		what = "cannot prepare to run";
	r = uml_fail(ctx, slot, -msg[1], "%s '%s': %s", what, o->argv[0], strerror(msg[1]));
	waitid(P_PIDFD, (id_t)pidfd, &(siginfo_t){ 0 }, WEXITED);
	uml_spawn_release(ret);
	return r;
fail:
	close_both(go, 0);
	close_both(err_pipe, 0);
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	waitid(P_PIDFD, (id_t)pidfd, &(siginfo_t){ 0 }, WEXITED);
	uml_spawn_release(ret);
	return r;
}

int uml_spawn_capture(struct uml_ctx *ctx, char **slot, char *const argv[], char **out,
		      size_t *out_len, int *status, int timeout_ms)
{
	extern char **environ;
	struct uml_buf b = { 0 };
	struct uml_spawn sp;
	uint64_t deadline = uml_now_usec() + (uint64_t)timeout_ms * 1000u;
	int p[2], r;
	siginfo_t si = { 0 };

	if (pipe2(p, O_CLOEXEC) < 0)
		return uml_fail(ctx, slot, -errno, "pipe: %m");
	r = uml_spawn(ctx, slot, &(struct uml_spawn_opts){ .argv = argv, .envp = environ,
						       .out_fd = p[1] }, &sp);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		return r;
	}
	for (;;) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		int64_t left = (int64_t)(deadline - uml_now_usec()) / 1000;
		char chunk[16384];
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		ssize_t n;

		do
			n = read(p[0], chunk, sizeof(chunk));
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			break;
		r = uml_buf_append(&b, chunk, (size_t)n);
		if (r < 0)
			break;
	}
	close(p[0]);
	if (r < 0)
		kill(-sp.pid, SIGKILL);
	kill(-sp.pid, SIGKILL);
	waitid(P_PIDFD, (id_t)sp.pidfd, &si, WEXITED);
	uml_spawn_release(&sp);
	if (r == -ETIMEDOUT) {
		uml_buf_free(&b);
		return uml_fail(ctx, slot, r, "'%s' did not finish within %d ms", argv[0], timeout_ms);
	}
	if (r < 0) {
		uml_buf_free(&b);
		return r;
	}
	if (!b.data && uml_buf_append(&b, "", 0) < 0)
		return -ENOMEM;
	*status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	*out = b.data;
	if (out_len)
		*out_len = b.len;
	return 0;
}

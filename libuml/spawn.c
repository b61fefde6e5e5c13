/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Process creation.  The only place libuml forks.  Children get exactly
 * the file descriptors they are given, their own process group, default
 * signal handling, and die when the process that started them dies.
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

#include "libuml-private.h"

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static _Noreturn void child_exec(char *const argv[], char *const envp[], const int *keep_fds,
				 size_t n_keep, int out_fd, pid_t parent, int err_pipe)
{
	sigset_t all;
	int null_fd, e;

	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int sig = 1; sig < _NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);

	if (setpgid(0, 0) < 0)
		goto fail;
	/*
	 * Without address space randomization UML adds no "exec-shield gap"
	 * (up to ~1 GB) to its physical memory, whose page tables and struct
	 * pages cost host memory and boot time for nothing.
	 */
	if (personality(PER_LINUX | ADDR_NO_RANDOMIZE) < 0)
		goto fail;
	/* die with the embedding process; it may have died before prctl() */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		goto fail;

	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0)
		goto fail;
	if (dup2(null_fd, STDIN_FILENO) < 0)
		goto fail;
	if (dup2(out_fd >= 0 ? out_fd : null_fd, STDOUT_FILENO) < 0 ||
	    dup2(out_fd >= 0 ? out_fd : null_fd, STDERR_FILENO) < 0)
		goto fail;

	/* everything else closes on exec, except what the child is given */
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		for (int fd = 3; fd < 65536; fd++)
			if (fd != err_pipe)
				fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	for (size_t i = 0; i < n_keep; i++)
		if (fcntl(keep_fds[i], F_SETFD, 0) < 0)
			goto fail;

	execve(argv[0], argv, envp);
fail:
	e = errno;
	(void)!write(err_pipe, &e, sizeof(e));
	_exit(127);
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

int uml_spawn(struct uml_ctx *ctx, char **slot, char *const argv[], char *const envp[],
	      const int *keep_fds, size_t n_keep, int out_fd, char *const *cleanup,
	      struct uml_spawn *ret)
{
	pid_t parent = getpid(), pid;
	int err_pipe[2], child_errno = 0, pidfd;
	ssize_t n;

	if (pipe2(err_pipe, O_CLOEXEC) < 0)
		return uml_fail(ctx, slot, -errno, "pipe: %m");
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(err_pipe[0]);
		close(err_pipe[1]);
		return uml_fail(ctx, slot, r, "fork: %s", strerror(-r));
	}
	if (pid == 0)
		child_exec(argv, envp, keep_fds, n_keep, out_fd, parent, err_pipe[1]);

	close(err_pipe[1]);
	do
		n = read(err_pipe[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(err_pipe[0]);
	if (n == sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		return uml_fail(ctx, slot, -child_errno, "cannot execute '%s': %s", argv[0],
				strerror(child_errno));
	}

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		int r = -errno;

		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return uml_fail(ctx, slot, r, "pidfd_open: %s", strerror(-r));
	}
	(void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	ret->pid = pid;
	ret->pidfd = pidfd;
	ret->watchdog_fd = -1;
	ret->watchdog = start_watchdog(pid, cleanup, &ret->watchdog_fd);
	if (ret->watchdog < 0) {
		int r = (int)ret->watchdog;

		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		ret->watchdog = 0;
		uml_spawn_release(ret);
		return uml_fail(ctx, slot, r, "cannot start the watchdog of '%s': %s", argv[0],
				strerror(-r));
	}
	return 0;
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
	r = uml_spawn(ctx, slot, argv, environ, NULL, 0, p[1], NULL, &sp);
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

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uml-agent - the guest side of libuml's exec channel.
 *
 * libuml boots the guest with an initramfs holding only this program and a
 * small configuration file, and `rdinit=/uml-agent`.  As PID 1 of the
 * initramfs (stage 0) it does what the kernel would have done without an
 * initramfs - mount the root named by root=/rootfstype=/rootflags=/ro/rw,
 * devtmpfs on its /dev, make it the root - plus mounting the hostfs shares
 * and opening the channel's serial line.  Then it forks: the child serves
 * the channel, PID 1 execs the guest's own init (init= or the kernel's
 * list).  So no image is modified and the guest needs nothing installed.
 *
 * Built static (`$(CC) -static`), never with sanitizers: it runs in the
 * guest, which has no host libraries.
 *
 * The wire format (both directions): frames of a 4-byte type, a 4-byte
 * payload length (both little-endian) and the payload; binary-safe.  The
 * serial line is put into raw mode, so every byte passes unchanged.  The
 * agent serves one request at a time, in order.  Keep in sync with
 * libuml/exec.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum {
	/* host -> guest */
	F_EXEC = 1,	/* u32 timeout_ms, u32 argc, argv strings (NUL-ended), stdin bytes */
	F_PUT = 2,	/* u32 mode, path (NUL-ended), file contents */
	F_GET = 3,	/* path (NUL-ended) */
	/* guest -> host */
	F_HELLO = 0x81,	/* "uml-agent VERSION\n" then one line per failed share mount */
	F_STDOUT = 0x82,
	F_STDERR = 0x83,
	F_EXIT = 0x84,	/* u32 kind (0 exited, 1 signalled, 2 killed at timeout), u32 code/signal */
	F_ERROR = 0x85,	/* u32 errno, message */
	F_DATA = 0x86,	/* GET contents */
	F_END = 0x87,	/* u32 mode (GET) or 0 (PUT) */
	F_CREDIT = 0x88, /* u32 bytes of the host's frames read since the last credit */
};

/*
 * Flow control, host to guest.  UML's serial line stops reading its host fd
 * for good once the tty throttles (line_throttle() removes the fd from the
 * irq set; line_unthrottle() reads once but does not add it back), and the
 * tty throttles when about 4 KiB wait unread.  So the host never has more
 * than a window (2 KiB, libuml/exec.c) of bytes unconfirmed in flight, and
 * we confirm what we read every CREDIT_EVERY bytes.  The window exceeds
 * CREDIT_EVERY, so neither side can wait for the other forever.
 */
#define CREDIT_EVERY 1024

#define AGENT_VERSION "1"
#define MAX_FRAME (1u << 30)
#define CONFIG "/uml-agent.conf"
#define NEWROOT "/root"
#define CHUNK 65536
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static int chan = -1;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("uml-agent: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* ---- channel I/O ---------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			poll(&pfd, 1, -1);
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void send_u32s(uint32_t type, uint32_t a, uint32_t b);

/* Reads len bytes of the host's frames, confirming them (see F_CREDIT). */
static int chan_read(void *buf, size_t len)
{
	static size_t unconfirmed;
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(chan, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		unconfirmed += (size_t)n;
		if (unconfirmed >= CREDIT_EVERY) {
			send_u32s(F_CREDIT, (uint32_t)unconfirmed, 0);
			unconfirmed = 0;
		}
	}
	return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

static uint32_t get32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void send_frame2(uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	static unsigned char buf[8 + CHUNK + 1024];
	unsigned char hdr[8];

	put32(hdr, type);
	put32(hdr + 4, (uint32_t)(alen + blen));
	/* one write per frame where it fits: each tty write is a host write */
	if (8 + alen + blen <= sizeof(buf)) {
		memcpy(buf, hdr, 8);
		if (alen)
			memcpy(buf + 8, a, alen);
		if (blen)
			memcpy(buf + 8 + alen, b, blen);
		if (write_all(chan, buf, 8 + alen + blen) < 0)
			exit(1);	/* the host is gone */
		return;
	}
	if (write_all(chan, hdr, 8) < 0 || (alen && write_all(chan, a, alen) < 0) ||
	    (blen && write_all(chan, b, blen) < 0))
		exit(1);
}

static void send_frame(uint32_t type, const void *data, size_t len)
{
	send_frame2(type, data, len, NULL, 0);
}

static void send_u32s(uint32_t type, uint32_t a, uint32_t b)
{
	unsigned char p[8];

	put32(p, a);
	put32(p + 4, b);
	send_frame(type, p, 8);
}

static void send_error(int err, const char *fmt, ...)
{
	unsigned char e[4];
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	put32(e, (uint32_t)err);
	send_frame2(F_ERROR, e, 4, msg, (size_t)n);
}

/* ---- exec ----------------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define CMD_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/*
 * Starts argv with posix_spawn: a vfork-style clone, so no copy of our
 * address space is made (in UML each new address space is expensive).
 */
static int spawn_cmd(char **argv, int in, int out, int err, pid_t *pid)
{
	static char *const env[] = { "PATH=" CMD_PATH, "HOME=/root", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, def;
	int r;

	sigemptyset(&none);
	sigfillset(&def);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
					POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	posix_spawn_file_actions_adddup2(&fa, err, 2);
	posix_spawn_file_actions_addchdir_np(&fa, access("/root", X_OK) == 0 ? "/root" : "/");
	/* posix_spawnp searches the PATH of our own environment, set in serve() */
	r = posix_spawnp(pid, argv[0], &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return r;
}

/* Sends what fd has as frames of type; all of it when drain.  Returns false at EOF. */
static bool pump(int fd, uint32_t type, bool drain)
{
	char buf[CHUNK];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		send_frame(type, buf, (size_t)n);
		if (!drain)
			return true;
	}
}

static int pidfd_of(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

static void do_exec(unsigned char *p, size_t len)
{
	uint32_t timeout_ms, argc;
	char **argv, *s, *end = (char *)p + len;
	const unsigned char *in_data;
	size_t in_len, in_off = 0;
	int pin[2], pout[2], perr[2], pidfd, e, status;
	bool out_open = true, err_open = true, exited = false, timed_out = false;
	uint64_t deadline;
	pid_t pid;
	ssize_t n;

	if (len < 8)
		return send_error(EPROTO, "short exec request");
	timeout_ms = get32(p);
	argc = get32(p + 4);
	if (argc == 0 || argc > len)
		return send_error(EPROTO, "bad argument count %u", argc);
	argv = calloc(argc + 1, sizeof(char *));
	if (!argv)
		return send_error(ENOMEM, "out of memory");
	s = (char *)p + 8;
	for (uint32_t i = 0; i < argc; i++) {
		char *nul = memchr(s, '\0', (size_t)(end - s));

		if (!nul) {
			free(argv);
			return send_error(EPROTO, "truncated argument list");
		}
		argv[i] = s;
		s = nul + 1;
	}
	in_data = (unsigned char *)s;
	in_len = (size_t)(end - s);

	if (pipe2(pin, O_CLOEXEC) < 0 || pipe2(pout, O_CLOEXEC) < 0 ||
	    pipe2(perr, O_CLOEXEC) < 0) {
		free(argv);
		return send_error(errno, "pipe: %s", strerror(errno));
	}
	e = spawn_cmd(argv, pin[0], pout[1], perr[1], &pid);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (e) {
		close(pin[1]);
		close(pout[0]);
		close(perr[0]);
		send_error(e, "%s", strerror(e));
		free(argv);
		return;
	}
	free(argv);

	fcntl(pin[1], F_SETFL, O_NONBLOCK);
	fcntl(pout[0], F_SETFL, O_NONBLOCK);
	fcntl(perr[0], F_SETFL, O_NONBLOCK);
	if (in_len == 0) {
		close(pin[1]);
		pin[1] = -1;
	}
	pidfd = pidfd_of(pid);
	deadline = timeout_ms ? now_ms() + timeout_ms : 0;
	while (!exited) {
		struct pollfd pfd[4];
		int np = 0, wait_ms = pidfd >= 0 ? -1 : 10;

		pfd[np++] = (struct pollfd){ .fd = out_open ? pout[0] : -1, .events = POLLIN };
		pfd[np++] = (struct pollfd){ .fd = err_open ? perr[0] : -1, .events = POLLIN };
		pfd[np++] = (struct pollfd){ .fd = pin[1], .events = POLLOUT };
		pfd[np++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		if (deadline && !timed_out) {
			uint64_t now = now_ms();
			int left = now >= deadline ? 0 : (int)(deadline - now);

			if (wait_ms < 0 || left < wait_ms)
				wait_ms = left;
		}
		if (poll(pfd, (nfds_t)np, wait_ms) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			out_open = pump(pout[0], F_STDOUT, false);
		if (pfd[1].revents)
			err_open = pump(perr[0], F_STDERR, false);
		if (pfd[2].revents) {
			n = write(pin[1], in_data + in_off, in_len - in_off);
			if (n > 0)
				in_off += (size_t)n;
			if ((n < 0 && errno != EAGAIN && errno != EINTR) || in_off == in_len) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			exited = true;
		else if (deadline && !timed_out && now_ms() >= deadline) {
			timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
	}
	/* the command ended: take what it left; later writers (daemons it started) are not waited for */
	if (out_open)
		pump(pout[0], F_STDOUT, true);
	if (err_open)
		pump(perr[0], F_STDERR, true);
	if (!exited) {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	if (pidfd >= 0)
		close(pidfd);
	if (pin[1] >= 0)
		close(pin[1]);
	close(pout[0]);
	close(perr[0]);
	if (timed_out)
		send_u32s(F_EXIT, 2, WIFSIGNALED(status) ? (uint32_t)WTERMSIG(status) : SIGKILL);
	else if (WIFSIGNALED(status))
		send_u32s(F_EXIT, 1, (uint32_t)WTERMSIG(status));
	else
		send_u32s(F_EXIT, 0, (uint32_t)WEXITSTATUS(status));
}

/* ---- files ---------------------------------------------------------------- */

static void do_put(unsigned char *p, size_t len)
{
	char *path = (char *)p + 4, *nul;
	size_t off;
	mode_t mode;
	int fd;

	if (len < 5 || !(nul = memchr(path, '\0', len - 4)))
		return send_error(EPROTO, "bad put request");
	mode = get32(p) & 07777;
	off = (size_t)(nul + 1 - (char *)p);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0)
		return send_error(errno, "cannot create '%s': %s", path, strerror(errno));
	if (write_all(fd, p + off, len - off) < 0 || fchmod(fd, mode) < 0) {
		int e = errno;

		close(fd);
		return send_error(e, "cannot write '%s': %s", path, strerror(e));
	}
	if (close(fd) < 0)
		return send_error(errno, "cannot write '%s': %s", path, strerror(errno));
	send_u32s(F_END, 0, 0);
}

static void do_get(unsigned char *p, size_t len)
{
	char *path = (char *)p, buf[CHUNK];
	struct stat st;
	ssize_t n;
	int fd;

	if (len == 0 || p[len - 1] != '\0')
		return send_error(EPROTO, "bad get request");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return send_error(errno, "cannot open '%s': %s", path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return send_error(S_ISDIR(st.st_mode) ? EISDIR : EINVAL,
				  "'%s' is not a regular file", path);
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			return send_error(e, "cannot read '%s': %s", path, strerror(e));
		}
		send_frame(F_DATA, buf, (size_t)n);
	}
	close(fd);
	send_u32s(F_END, st.st_mode & 07777, 0);
}

/* ---- serving ---------------------------------------------------------------- */

/* No echo, no CR/LF translation, no signals: the tty carries frames. */
static void set_raw(void)
{
	struct termios t;

	if (tcgetattr(chan, &t) == 0) {
		cfmakeraw(&t);
		t.c_iflag &= ~(IXOFF | IXANY);
		t.c_cc[VMIN] = 1;
		t.c_cc[VTIME] = 0;
		tcsetattr(chan, TCSANOW, &t);
	}
}

/* Serves the channel until the host closes it; the hello was sent. */
static void serve(void)
{
	int null;

	signal(SIGPIPE, SIG_IGN);
	setenv("PATH", CMD_PATH, 1);
	umask(022);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		/* the console belongs to init; keep none of it */
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	for (;;) {
		unsigned char hdr[8], *p;
		uint32_t type, len;

		if (chan_read(hdr, 8) < 0)
			exit(0);
		type = get32(hdr);
		len = get32(hdr + 4);
		if (len > MAX_FRAME)
			die("frame of %u bytes is too large", len);
		p = malloc((size_t)len + 1);
		if (!p)
			die("out of memory for a %u byte frame", len);
		if (chan_read(p, len) < 0)
			exit(0);
		p[len] = '\0';
		switch (type) {
		case F_EXEC:
			do_exec(p, len);
			break;
		case F_PUT:
			do_put(p, len);
			break;
		case F_GET:
			do_get(p, len);
			break;
		default:
			send_error(EPROTO, "unknown request type %u", type);
			break;
		}
		free(p);
	}
}

/* ---- stage 0: the initramfs init -------------------------------------------- */

struct cmdline {
	const char *root, *rootfstype, *rootflags, *init;
	unsigned long flags;
};

static char *read_text(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap && !(buf = realloc(buf, cap *= 2)))
			die("out of memory");
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* The kernel's own parameter syntax: space separated, "double quotes" group. */
static void parse_cmdline(char *s, struct cmdline *c)
{
	c->flags = MS_RDONLY | MS_SILENT;	/* the kernel's default: root read-only */
	while (*s) {
		char *tok, *val;
		bool quoted = false;

		while (*s == ' ' || *s == '\n' || *s == '\t')
			s++;
		if (!*s)
			break;
		tok = s;
		for (; *s && (quoted || (*s != ' ' && *s != '\n' && *s != '\t')); s++)
			if (*s == '"')
				quoted = !quoted;
		if (*s)
			*s++ = '\0';
		if (strcmp(tok, "--") == 0)
			break;
		if (strcmp(tok, "ro") == 0)
			c->flags |= MS_RDONLY;
		else if (strcmp(tok, "rw") == 0)
			c->flags &= ~(unsigned long)MS_RDONLY;
		if (!(val = strchr(tok, '=')))
			continue;
		*val++ = '\0';
		if (*val == '"') {
			size_t l = strlen(++val);

			if (l && val[l - 1] == '"')
				val[l - 1] = '\0';
		}
		if (strcmp(tok, "root") == 0)
			c->root = val;
		else if (strcmp(tok, "rootfstype") == 0)
			c->rootfstype = val;
		else if (strcmp(tok, "rootflags") == 0)
			c->rootflags = val;
		else if (strcmp(tok, "init") == 0)
			c->init = val;
	}
}

/* ubdX nodes when there is no devtmpfs */
static void make_node(const char *path)
{
	const char *name = strrchr(path, '/');

	if (access(path, F_OK) == 0 || !name)
		return;
	name++;
	if (strncmp(name, "ubd", 3) == 0 && name[3] >= 'a' && name[3] <= 'z' && !name[4])
		mknod(path, S_IFBLK | 0600, makedev(98, (unsigned)(name[3] - 'a') * 16));
	else if (strncmp(name, "ttyS", 4) == 0 && name[4] >= '0' && name[4] <= '9' && !name[5])
		mknod(path, S_IFCHR | 0600, makedev(4, 64 + (unsigned)(name[4] - '0')));
}

static int mount_root(const struct cmdline *c, char *filesystems)
{
	const char *dev = c->root ? c->root : "/dev/root";
	char *types = c->rootfstype ? strdup(c->rootfstype) : NULL, *save = NULL, *t;
	int err = ENODEV;

	make_node(dev);
	if (types) {
		for (t = strtok_r(types, ",", &save); t; t = strtok_r(NULL, ",", &save))
			if (mount(dev, NEWROOT, t, c->flags, c->rootflags) == 0)
				return 0;
			else if (errno != EINVAL && errno != ENODEV)
				err = errno;
		free(types);
	} else {
		/* as the kernel: every filesystem type that needs a device */
		for (t = strtok_r(filesystems, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
			if (strncmp(t, "nodev", 5) == 0)
				continue;
			t += strspn(t, " \t");
			if (mount(dev, NEWROOT, t, c->flags, c->rootflags) == 0)
				return 0;
			if (errno != EINVAL && errno != ENODEV)
				err = errno;
		}
	}
	return err;
}

static int mkdir_p(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/*
 * Config records, each a NUL-ended string: "tty", PATH; "hostfs", "ro" or
 * "rw", HOST_DIR, GUEST_PATH.
 */
static void mount_shares(char *conf, size_t len, unsigned long root_flags, char *report,
			 size_t report_size)
{
	char *end = conf + len, *p = conf;
	bool remounted = false;

	while (p < end) {
		char *key = p, *mode, *host, *guest, target[4096];

		p += strlen(p) + 1;
		if (strcmp(key, "hostfs") != 0)
			continue;
		mode = p;
		p += strlen(p) + 1;
		host = p;
		p += strlen(p) + 1;
		guest = p;
		p += strlen(p) + 1;
		if (p > end)
			break;
		snprintf(target, sizeof(target), NEWROOT "%s", guest);
		if (mkdir_p(target) < 0 && errno == EROFS && !remounted) {
			/* the root is read-only until init remounts it; make the mount point */
			if (mount(NULL, NEWROOT, NULL, MS_REMOUNT | (root_flags & ~(unsigned long)MS_RDONLY),
				  NULL) == 0) {
				remounted = true;
				mkdir_p(target);
			}
		}
		if (mount("none", target, "hostfs", strcmp(mode, "ro") == 0 ? MS_RDONLY : 0, host) < 0) {
			size_t used = strlen(report);

			snprintf(report + used, report_size - used, "cannot mount hostfs '%s' on '%s': %s\n",
				 host, guest, strerror(errno));
		}
	}
	if (remounted)
		mount(NULL, NEWROOT, NULL, MS_REMOUNT | root_flags, NULL);
}

static void stage0(int argc, char **argv, char **envp)
{
	static const char *const inits[] = { "/sbin/init", "/etc/init", "/bin/init", "/bin/sh" };
	char *cmdline, *filesystems, *conf, hello[8192];
	const char *tty = "/dev/ttyS1";
	struct cmdline c = { 0 };
	size_t conf_len = 0;
	pid_t pid;

	(void)argc;
	mkdir("/proc", 0555);
	if (mount("proc", "/proc", "proc", 0, NULL) < 0)
		die("cannot mount /proc: %s", strerror(errno));
	cmdline = read_text("/proc/cmdline", NULL);
	filesystems = read_text("/proc/filesystems", NULL);
	umount("/proc");
	if (!cmdline || !filesystems)
		die("cannot read /proc/cmdline");
	parse_cmdline(cmdline, &c);
	conf = read_text(CONFIG, &conf_len);
	for (char *p = conf; conf && p < conf + conf_len; p += strlen(p) + 1)
		if (strcmp(p, "tty") == 0 && p + 4 < conf + conf_len)
			tty = p + 4;

	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	make_node(tty);
	chan = open(tty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (chan < 0)
		fprintf(stderr, "uml-agent: cannot open %s: %s\n", tty, strerror(errno));

	mkdir(NEWROOT, 0700);
	int err = mount_root(&c, filesystems);

	if (err) {
		/* the kernel's words, so libuml names the failure */
		fprintf(stderr, "VFS: Unable to mount root fs on %s: %s\n",
			c.root ? c.root : "/dev/root", strerror(err));
		exit(1);
	}
	snprintf(hello, sizeof(hello), "uml-agent " AGENT_VERSION "\n");
	if (conf)
		mount_shares(conf, conf_len, c.flags, hello, sizeof(hello));
	umount2("/dev", MNT_DETACH);
	mount("devtmpfs", NEWROOT "/dev", "devtmpfs", 0, NULL);
	/* free the initramfs copy; the running program stays mapped */
	unlink("/uml-agent");
	unlink(CONFIG);
	if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0)
		die("cannot switch to the root filesystem: %s", strerror(errno));

	/*
	 * What every init mounts first, so that commands served from the hello
	 * on find them (inits check before mounting; errors mean no such dir).
	 */
	mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if (chan >= 0) {
		/*
		 * The guest is ready at the hello: send it before any process
		 * is made (a fork costs the guest a host process); requests wait
		 * in the raw tty until the server reads them.
		 */
		unsigned char hdr[8];

		set_raw();
		put32(hdr, F_HELLO);
		put32(hdr + 4, (uint32_t)strlen(hello));
		/* PID 1 must not die of a host gone away (send_frame() would exit) */
		if (write_all(chan, hdr, 8) == 0 && write_all(chan, hello, strlen(hello)) == 0) {
			pid = fork();
			if (pid == 0) {
				setsid();
				serve();
			}
		}
		close(chan);
	}
	for (size_t i = c.init ? 0 : 1; i <= ARRAY_LEN(inits); i++) {
		const char *path = i == 0 ? c.init : inits[i - 1];

		argv[0] = (char *)path;
		execve(path, argv, envp);
		if (i == 0)
			fprintf(stderr, "Requested init %s failed (error %d).\n", path, errno);
	}
	fprintf(stderr, "No working init found.  Try passing init= option to kernel.\n");
	exit(1);
}

int main(int argc, char **argv, char **envp)
{
	if (getpid() == 1) {
		stage0(argc, argv, envp);
		return 1;
	}
	/* outside a guest's boot: serve the channel on a given tty (for debugging) */
	if (argc == 3 && strcmp(argv[1], "--serve") == 0) {
		chan = open(argv[2], O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (chan < 0)
			die("cannot open %s: %s", argv[2], strerror(errno));
		set_raw();
		send_frame(F_HELLO, "uml-agent " AGENT_VERSION "\n",
			   strlen("uml-agent " AGENT_VERSION "\n"));
		serve();
	}
	fprintf(stderr, "usage: uml-agent --serve TTY (it runs as the init of a libuml guest)\n");
	return 2;
}

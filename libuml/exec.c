/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The exec channel: commands, file copies and hostfs shares in a running
 * guest, through a small agent (agent/uml-agent.c) on a spare serial line.
 *
 * How the agent gets into any guest without touching its image: at boot
 * libuml hands the kernel an initramfs (a memfd, `initrd=/proc/self/fd/N`)
 * holding only the agent and its configuration, with `rdinit=/uml-agent`.
 * The agent mounts the real root as the kernel would have, mounts the
 * hostfs shares, forks itself off as the channel's server and execs the
 * guest's own init.  The channel is `ssl1=fd:N`, /dev/ttyS1 in the guest,
 * the other end a socketpair here.  Frames (type, length, payload) keep it
 * binary-safe; the agent sets the tty raw.  Its hello makes the guest ready,
 * before the guest's own init ran (a marker set with
 * uml_instance_set_ready_marker() still counts; the image's does not).
 *
 * Requests are served one at a time: uml_instance_exec() and the copy
 * calls block until their answer, and while they wait they keep the
 * instance's other channels (console, notify, exit) moving by calling
 * uml_instance_process().
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "exec-proto.h"
#include "instance-internal.h"

extern const unsigned char uml_agent_blob[];
extern const size_t uml_agent_blob_size;

/*
 * Bytes we may have sent that the agent has not confirmed reading.  UML's
 * serial line stops reading for good once its tty throttles (at about
 * 4 KiB unread); see UML_EXEC_F_CREDIT in the agent.  Must exceed its CREDIT_EVERY.
 */
#define SEND_WINDOW 2048

#define GUEST_TTY "/dev/ttyS1"
#define GUEST_SSL_LINE 1
#define MAX_IN_FRAME (16u << 20)	/* the agent sends at most 64 KiB */
#define READ_BUDGET (1u << 20)		/* per uml_instance_process() call */

struct share {
	char *host, *guest;
	unsigned flags;
};

/* A process that reached the guest through the socket (uml_ctx_exec()). */
struct client {
	int fd;
	struct uml_buf in, out;
	bool pending;			/* its request is queued or in flight */
	bool gone;			/* closed; drop what the agent still sends it */
	bool eof;			/* it sent all it will send */
	struct client *next;
};

struct uml_exec_chan {
	struct uml_instance *inst;	/* the owner; no reference */
	int fd;				/* our end of the socketpair */
	int guest_fd, initrd_fd;	/* the kernel's, until it was started */
	struct share *shares;
	size_t n_shares;
	bool hello, broken, busy;
	struct uml_buf in, out;
	size_t unconfirmed;		/* sent, not yet confirmed by UML_EXEC_F_CREDIT */

	/* other processes: a socket, their connections, and who each queued request is for */
	int epfd, listen_fd;		/* epfd covers fd, listen_fd and the clients */
	char *sock_path;
	struct client *clients;
	struct client **queue;		/* NULL entries: our own request */
	size_t n_queue;

	/* our own request */
	bool done;
	int err;
	char *err_msg;
	struct uml_exec *exec;		/* UML_EXEC_F_EXEC */
	struct uml_buf data;		/* UML_EXEC_F_GET */
	uint32_t mode;			/* UML_EXEC_F_GET */
};

/* ---- configuration ---------------------------------------------------------- */

static const struct uml_part_ops exec_ops;

static void free_client(struct client *cl)
{
	uml_close_fd(&cl->fd);
	uml_buf_free(&cl->in);
	uml_buf_free(&cl->out);
	free(cl);
}

/* Closes the socket and every connection (their requests end with EOF). */
static void close_socket(struct uml_exec_chan *c)
{
	while (c->clients) {
		struct client *cl = c->clients;

		c->clients = cl->next;
		free_client(cl);
	}
	c->n_queue = 0;
	uml_close_fd(&c->listen_fd);
	if (c->sock_path)
		unlink(c->sock_path);
	free(c->sock_path);
	c->sock_path = NULL;
}

static void chan_free(void *data)
{
	struct uml_exec_chan *c = data;

	close_socket(c);
	uml_close_fd(&c->fd);
	uml_close_fd(&c->guest_fd);
	uml_close_fd(&c->initrd_fd);
	uml_close_fd(&c->epfd);
	free(c->queue);
	for (size_t i = 0; i < c->n_shares; i++) {
		free(c->shares[i].host);
		free(c->shares[i].guest);
	}
	free(c->shares);
	uml_buf_free(&c->in);
	uml_buf_free(&c->out);
	uml_buf_free(&c->data);
	free(c->err_msg);
	uml_exec_unref(c->exec);
	free(c);
}

static int require_config(struct uml_instance *inst, const char *option, const char *what)
{
	const char *v;
	int r = uml_kernel_get_config(inst->kernel, option, &v);

	/* a kernel without an embedded configuration may still have it */
	if (r == -ENOENT)
		return ifail(inst, -EOPNOTSUPP, "kernel %s has no CONFIG_%s, which %s needs",
			     uml_kernel_get_path(inst->kernel), option, what);
	return 0;
}

UML_EXPORT int uml_instance_enable_exec(struct uml_instance *inst)
{
	struct uml_exec_chan *c;
	int r;

	if (!inst)
		return -EINVAL;
	if (uml_instance_get_part(inst, &exec_ops))
		return 0;
	r = uml_instance_check_configuring(inst, "enable the exec channel");
	if (r < 0)
		return r;
	r = require_config(inst, "BLK_DEV_INITRD", "the exec channel's agent");
	if (r == 0)
		r = require_config(inst, "SSL", "the exec channel (serial line ssl1)");
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->inst = inst;
	c->fd = c->guest_fd = c->initrd_fd = c->epfd = c->listen_fd = -1;
	return uml_instance_add_part(inst, &exec_ops, c);
}

/* A guest path as the agent takes it: absolute, no "..", no newline. */
static int check_guest_path(struct uml_instance *inst, const char *path, const char *what)
{
	if (path[0] != '/')
		return ifail(inst, -EINVAL, "%s '%s' is not an absolute guest path", what, path);
	if (strchr(path, '\n'))
		return ifail(inst, -EINVAL, "%s has a newline", what);
	if (strlen(path) >= 4000)
		return ifail(inst, -ENAMETOOLONG, "%s '%.40s...' is too long", what, path);
	return 0;
}

UML_EXPORT int uml_instance_add_hostfs(struct uml_instance *inst, const char *host_dir,
				       const char *guest_path, unsigned flags)
{
	struct uml_exec_chan *c;
	struct share *s;
	struct stat st;
	char *host = NULL, *guest = NULL;
	int r;

	if (!inst || !host_dir || !guest_path)
		return -EINVAL;
	if (flags & ~(unsigned)UML_HOSTFS_READONLY)
		return ifail(inst, -EINVAL, "unknown hostfs flags 0x%x", flags);
	r = uml_instance_check_configuring(inst, "add a hostfs share");
	if (r < 0)
		return r;
	r = check_guest_path(inst, guest_path, "hostfs mount point");
	if (r < 0)
		return r;
	if (strcmp(guest_path, "/") == 0)
		return ifail(inst, -EINVAL, "a hostfs share cannot be mounted on the guest's /");
	if (stat(host_dir, &st) < 0)
		return ifail(inst, -errno, "hostfs share '%s': %m", host_dir);
	if (!S_ISDIR(st.st_mode))
		return ifail(inst, -ENOTDIR, "hostfs share '%s' is not a directory", host_dir);
	r = require_config(inst, "HOSTFS", "hostfs shares");
	if (r < 0)
		return r;
	r = uml_instance_enable_exec(inst);
	if (r < 0)
		return r;
	c = uml_instance_get_part(inst, &exec_ops);
	r = uml_path_absolute(host_dir, &host);
	if (r < 0)
		return r;
	guest = strdup(guest_path);
	s = realloc(c->shares, (c->n_shares + 1) * sizeof(*s));
	if (!guest || !s) {
		free(host);
		free(guest);
		if (s)
			c->shares = s;
		return -ENOMEM;
	}
	c->shares = s;
	c->shares[c->n_shares++] = (struct share){ .host = host, .guest = guest, .flags = flags };
	return 0;
}

/* ---- boot ------------------------------------------------------------------- */

static int cpio_entry(struct uml_buf *b, const char *name, unsigned mode, unsigned rmaj,
		      unsigned rmin, const void *data, size_t len)
{
	static const char zeros[4];
	char hdr[111];
	int r;

	snprintf(hdr, sizeof(hdr), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 0u, mode, 0u, 0u, 1u, 0u, (unsigned)len, 0u, 0u, rmaj, rmin,
		 (unsigned)strlen(name) + 1, 0u);
	r = uml_buf_append(b, hdr, 110);
	r |= uml_buf_append(b, name, strlen(name) + 1);
	r |= uml_buf_append(b, zeros, (4 - b->len % 4) % 4);
	r |= uml_buf_append(b, data, len);
	r |= uml_buf_append(b, zeros, (4 - b->len % 4) % 4);
	return r ? -ENOMEM : 0;
}

/* The agent's configuration: NUL-ended strings (see the agent). */
static int agent_config(struct uml_exec_chan *c, struct uml_buf *conf)
{
	int r = uml_buf_append(conf, "tty\0" GUEST_TTY, sizeof("tty\0" GUEST_TTY));

	for (size_t i = 0; r == 0 && i < c->n_shares; i++) {
		struct share *s = &c->shares[i];

		r = uml_buf_append(conf, "hostfs", 7);
		r |= uml_buf_append(conf, s->flags & UML_HOSTFS_READONLY ? "ro" : "rw", 3);
		r |= uml_buf_append(conf, s->host, strlen(s->host) + 1);
		r |= uml_buf_append(conf, s->guest, strlen(s->guest) + 1);
	}
	return r ? -ENOMEM : 0;
}

static int make_initrd(struct uml_exec_chan *c)
{
	struct uml_buf cpio = { 0 }, conf = { 0 };
	int fd, r;

	r = agent_config(c, &conf);
	if (r == 0)
		r = cpio_entry(&cpio, "dev", 040755, 0, 0, NULL, 0);
	if (r == 0)
		r = cpio_entry(&cpio, "dev/console", 020600, 5, 1, NULL, 0);
	if (r == 0)
		r = cpio_entry(&cpio, "uml-agent", 0100755, 0, 0, uml_agent_blob, uml_agent_blob_size);
	if (r == 0)
		r = cpio_entry(&cpio, "uml-agent.conf", 0100600, 0, 0, conf.data, conf.len);
	if (r == 0)
		r = cpio_entry(&cpio, "TRAILER!!!", 0, 0, 0, NULL, 0);
	uml_buf_free(&conf);
	if (r < 0) {
		uml_buf_free(&cpio);
		return ifail(c->inst, r, "out of memory building the agent's initramfs");
	}
	fd = memfd_create("libuml-agent.cpio", MFD_CLOEXEC);
	if (fd < 0) {
		uml_buf_free(&cpio);
		return ifail(c->inst, -errno, "memfd_create for the agent's initramfs: %m");
	}
	r = uml_write_all(fd, cpio.data, cpio.len);
	uml_buf_free(&cpio);
	if (r < 0) {
		close(fd);
		return ifail(c->inst, r, "writing the agent's initramfs: %s", strerror(-r));
	}
	c->initrd_fd = fd;
	return 0;
}

static int watch(struct uml_exec_chan *c, int fd, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	return epoll_ctl(c->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

/*
 * The socket other processes reach the guest through, RUNTIME_DIR/.UMID.exec
 * (next to the notify socket), and the epoll set that covers it all.
 */
static int open_socket(struct uml_exec_chan *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (asprintf(&c->sock_path, "%s/.%s.exec", uml_ctx_get_runtime_dir(c->inst->ctx),
		     c->inst->umid) < 0) {
		c->sock_path = NULL;
		return -ENOMEM;
	}
	if (strlen(c->sock_path) >= sizeof(sa.sun_path)) {
		r = ifail(c->inst, -ENAMETOOLONG, "exec socket path '%s' is too long", c->sock_path);
		goto fail;
	}
	strcpy(sa.sun_path, c->sock_path);
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->epfd < 0 || fd < 0) {
		r = ifail(c->inst, -errno, "cannot create the exec socket: %m");
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	c->listen_fd = fd;
	unlink(c->sock_path);	/* left behind by an owner that was killed */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(c->sock_path, 0600) < 0 ||
	    listen(fd, 16) < 0) {
		r = ifail(c->inst, -errno, "cannot listen on '%s': %m", c->sock_path);
		goto fail;
	}
	r = watch(c, c->fd, EPOLLIN, EPOLL_CTL_ADD);
	if (r == 0)
		r = watch(c, c->listen_fd, EPOLLIN, EPOLL_CTL_ADD);
	if (r < 0) {
		ifail(c->inst, r, "epoll_ctl: %s", strerror(-r));
		goto fail;
	}
	return 0;
fail:
	close_socket(c);
	uml_close_fd(&c->epfd);
	return r;
}

static int chan_prepare(struct uml_instance *inst, void *data)
{
	struct uml_exec_chan *c = data;
	int sv[2];
	int r;

	close_socket(c);
	uml_close_fd(&c->fd);
	uml_close_fd(&c->guest_fd);
	uml_close_fd(&c->initrd_fd);
	uml_close_fd(&c->epfd);
	c->hello = c->broken = false;
	c->unconfirmed = 0;
	uml_buf_drop_front(&c->in, c->in.len);
	uml_buf_drop_front(&c->out, c->out.len);
	r = make_initrd(c);
	if (r < 0)
		return r;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		uml_close_fd(&c->initrd_fd);
		return ifail(c->inst, -errno, "cannot create the exec channel: %m");
	}
	c->fd = sv[0];
	c->guest_fd = sv[1];
	fcntl(c->fd, F_SETFL, O_NONBLOCK);
	r = open_socket(c);
	if (r < 0) {
		uml_close_fd(&c->fd);
		uml_close_fd(&c->guest_fd);
		uml_close_fd(&c->initrd_fd);
		return r;
	}
	return 0;
}

/* The serial line, the initramfs (placeholders "N" before prepare) and its init. */
static int chan_launch(struct uml_instance *inst, void *data, struct uml_launch *l)
{
	struct uml_exec_chan *c = data;
	char n1[16] = "N", n2[16] = "N";
	int r = 0;

	if (c->guest_fd >= 0) {
		snprintf(n1, sizeof(n1), "%d", c->guest_fd);
		r |= uml_intv_add(&l->keep_fds, c->guest_fd);
	}
	if (c->initrd_fd >= 0) {
		snprintf(n2, sizeof(n2), "%d", c->initrd_fd);
		r |= uml_intv_add(&l->keep_fds, c->initrd_fd);
	}
	r |= uml_strv_addf(&l->args, "ssl%d=fd:%s", GUEST_SSL_LINE, n1);
	r |= uml_strv_addf(&l->args, "initrd=/proc/self/fd/%s", n2);
	r |= uml_strv_add(&l->args, "rdinit=/uml-agent");
	/*
	 * The kernel mounts the shares for the agent: they are all it may see
	 * of the host.  One gone by now fails in the guest, where the agent
	 * reports it.
	 */
	for (size_t i = 0; r == 0 && i < c->n_shares; i++)
		r = uml_launch_add_path(l, c->shares[i].host, UML_SB_OPTIONAL |
					(c->shares[i].flags & UML_HOSTFS_READONLY ? 0 : UML_SB_WRITE));
	/* should we die, the watchdog removes our socket too */
	if (r == 0 && c->sock_path)
		r = uml_strv_add(&l->cleanup, c->sock_path);
	/* ready at the agent's hello, before the guest's init: not at the image's marker */
	if (!inst->ready_marker)
		l->ready_marker = NULL;
	return r < 0 ? -ENOMEM : 0;
}

static void chan_ended(struct uml_instance *inst, void *data);

/* The kernel has its ends (or the boot failed): close ours of them. */
static void chan_started(struct uml_instance *inst, void *data, bool ok)
{
	struct uml_exec_chan *c = data;

	uml_close_fd(&c->guest_fd);
	uml_close_fd(&c->initrd_fd);
	if (!ok || uml_instance_watch_fd(inst, c->epfd) < 0)
		chan_ended(inst, c);	/* also removes its socket */
}

/* ---- frames from the agent ---------------------------------------------------- */

static void finish_request(struct uml_exec_chan *c, int err, const char *msg, size_t len)
{
	c->done = true;
	c->err = err;
	if (msg) {
		free(c->err_msg);
		c->err_msg = strndup(msg, len);
	}
}

static void handle_hello(struct uml_exec_chan *c, const char *p, size_t len)
{
	const char *nl = memchr(p, '\n', len), *end = p + len;

	if (c->hello)
		return;
	c->hello = true;
	uml_dbg(c->inst->ctx, "guest %s: agent up (%.*s)",
		c->inst->umid, (int)(nl ? nl - p : (ptrdiff_t)len), p);
	/* the lines after the first name shares that could not be mounted */
	for (p = nl ? nl + 1 : end; p < end; p = nl ? nl + 1 : end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if ((nl ? nl : end) > p)
			ifail(c->inst, -EIO, "guest %s: %.*s", c->inst->umid,
			      (int)((nl ? nl : end) - p), p);
	}
	uml_instance_update_ready(c->inst);
}

/* Returns false if the frame breaks the protocol. */
static bool handle_frame(struct uml_exec_chan *c, uint32_t type, const char *p, size_t len)
{
	struct uml_exec *e = c->exec;

	switch (type) {
	case UML_EXEC_F_CREDIT:
		if (len != 8 || uml_get32(p) > c->unconfirmed)
			return false;
		c->unconfirmed -= uml_get32(p);
		return true;
	case UML_EXEC_F_HELLO:
		handle_hello(c, p, len);
		return true;
	case UML_EXEC_F_STDOUT:
	case UML_EXEC_F_STDERR:
	case UML_EXEC_F_EXIT:
		if (!e || c->done)
			return false;
		switch (uml_exec_result_frame(e, type, p, len)) {
		case -EBADMSG:
			return false;
		case -ENOMEM:
			finish_request(c, -ENOMEM, "out of memory for the command's output", 38);
			break;
		case 1:
			finish_request(c, 0, NULL, 0);
			break;
		}
		return true;
	case UML_EXEC_F_ERROR: {
		/* the guest's errno; anything outside 1..4095 is not one */
		int err = uml_exec_error_frame(p, len);

		if (c->done || err == -EBADMSG)
			return false;
		finish_request(c, err, p + 4, len - 4);
		return true;
	}
	case UML_EXEC_F_DATA:
		if (c->done)
			return false;
		if (uml_buf_append(&c->data, p, len) < 0)
			finish_request(c, -ENOMEM, "out of memory for the file", 26);
		return true;
	case UML_EXEC_F_END:
		if (c->done || len != 8)
			return false;
		c->mode = uml_get32(p);
		finish_request(c, 0, NULL, 0);
		return true;
	}
	return false;
}

static void break_channel(struct uml_exec_chan *c, const char *why)
{
	if (!c->broken)
		uml_info(c->inst->ctx, "guest %s: exec channel broken: %s",
			 c->inst->umid, why);
	c->broken = true;
	uml_buf_drop_front(&c->out, c->out.len);
	close_socket(c);
	if (!c->done)
		finish_request(c, -EPROTO, why, strlen(why));
}

/* Hands a frame (header at p) to whoever the request at the queue's head is for. */
static bool route_frame(struct uml_exec_chan *c, uint32_t type, const char *p, size_t len)
{
	bool last = type == UML_EXEC_F_EXIT || type == UML_EXEC_F_ERROR || type == UML_EXEC_F_END;
	struct client *cl;

	if (type == UML_EXEC_F_HELLO || type == UML_EXEC_F_CREDIT)
		return handle_frame(c, type, p + 8, len);
	if (c->n_queue == 0)
		return false;
	cl = c->queue[0];
	if (!cl) {
		if (!handle_frame(c, type, p + 8, len))
			return false;
	} else if (!cl->gone && uml_buf_append(&cl->out, p, 8 + len) < 0) {
		cl->gone = true;
	}
	if (last) {
		memmove(c->queue, c->queue + 1, --c->n_queue * sizeof(*c->queue));
		if (cl)
			cl->pending = false;
	}
	return true;
}

static void parse_frames(struct uml_exec_chan *c)
{
	size_t off = 0;

	while (!c->broken && c->in.len - off >= 8) {
		uint32_t type = uml_get32(c->in.data + off), len = uml_get32(c->in.data + off + 4);

		if (len > MAX_IN_FRAME) {
			break_channel(c, "oversized frame from the agent");
			break;
		}
		if (c->in.len - off - 8 < len)
			break;
		if (!route_frame(c, type, c->in.data + off, len))
			break_channel(c, "unexpected frame from the agent");
		off += 8 + (size_t)len;
	}
	uml_buf_drop_front(&c->in, c->broken ? c->in.len : off);
}

static int flush_out(struct uml_exec_chan *c);

static int queue_push(struct uml_exec_chan *c, struct client *cl)
{
	struct client **q = realloc(c->queue, (c->n_queue + 1) * sizeof(*q));

	if (!q)
		return -ENOMEM;
	c->queue = q;
	c->queue[c->n_queue++] = cl;
	return 0;
}

/* Takes bytes as the agent sent them. */
static void take_input(struct uml_exec_chan *c, const void *data, size_t len)
{
	if (uml_buf_append(&c->in, data, len) < 0)
		break_channel(c, "out of memory");
	else
		parse_frames(c);
}

int uml_instance_exec_feed(struct uml_instance *inst, const void *data, size_t len,
			   bool own_request)
{
	struct uml_exec_chan *c = uml_instance_get_part(inst, &exec_ops);

	if (!c)
		return -ENOTCONN;
	if (own_request && c->n_queue == 0 && !c->broken) {
		struct uml_exec *e = uml_exec_new();

		if (!e || queue_push(c, NULL) < 0) {
			uml_exec_unref(e);
			return -ENOMEM;
		}
		uml_exec_unref(c->exec);
		c->exec = e;
		c->done = false;
	}
	take_input(c, data, len);
	return c->broken ? -EPROTO : 0;
}

/* Takes a client's complete request into the agent's queue; one at a time per client. */
static void client_request(struct uml_exec_chan *c, struct client *cl)
{
	uint32_t type, len;

	if (cl->pending || cl->in.len < 8)
		return;
	type = uml_get32(cl->in.data);
	len = uml_get32(cl->in.data + 4);
	if ((type != UML_EXEC_F_EXEC && type != UML_EXEC_F_PUT && type != UML_EXEC_F_GET) || len > UML_EXEC_MAX_REQUEST) {
		cl->gone = true;
		return;
	}
	if (cl->in.len - 8 < len)
		return;
	if (queue_push(c, cl) < 0 || uml_buf_append(&c->out, cl->in.data, 8 + (size_t)len) < 0) {
		cl->gone = true;
		return;
	}
	cl->pending = true;
	uml_buf_drop_front(&cl->in, 8 + (size_t)len);
}

static int serve_clients(struct uml_exec_chan *c)
{
	struct client **pp, *cl;
	int handled = 0, fd;

	while ((fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		struct ucred cred;
		socklen_t len = sizeof(cred);

		/* the socket is 0600, but a guest's commands run as its root: be sure */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    (cred.uid != geteuid() && cred.uid != 0)) {
			uml_info(c->inst->ctx, "guest %s: refused an exec client of uid %d",
				 c->inst->umid, len == sizeof(cred) ? (int)cred.uid : -1);
			close(fd);
			continue;
		}
		cl = calloc(1, sizeof(*cl));
		if (!cl || watch(c, fd, EPOLLIN, EPOLL_CTL_ADD) < 0) {
			free(cl);
			close(fd);
			continue;
		}
		cl->fd = fd;
		cl->next = c->clients;
		c->clients = cl;
		handled = 1;
	}
	for (pp = &c->clients; (cl = *pp);) {
		char chunk[65536];
		ssize_t n;

		while (!cl->gone && !cl->eof) {
			n = read(cl->fd, chunk, sizeof(chunk));
			if (n < 0) {
				if (errno != EAGAIN && errno != EINTR)
					cl->gone = true;
				break;
			}
			handled = 1;
			if (n == 0)
				cl->eof = true;
			else if (uml_buf_append(&cl->in, chunk, (size_t)n) < 0)
				cl->gone = true;
		}
		if (!cl->gone)
			client_request(c, cl);
		/* a half-closed client still gets the answer to what it asked */
		if (cl->eof && !cl->pending && !cl->out.len)
			cl->gone = true;
		while (!cl->gone && cl->out.len > 0) {
			n = send(cl->fd, cl->out.data, cl->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0) {
				if (errno != EAGAIN && errno != EINTR)
					cl->gone = true;
				break;
			}
			uml_buf_drop_front(&cl->out, (size_t)n);
		}
		if (!cl->gone)
			watch(c, cl->fd, (cl->eof ? 0 : EPOLLIN) | (cl->out.len ? EPOLLOUT : 0),
			      EPOLL_CTL_MOD);
		if (cl->gone && !cl->pending) {
			*pp = cl->next;
			free_client(cl);
			continue;
		}
		if (cl->gone && cl->fd >= 0) {
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, cl->fd, NULL);
			uml_close_fd(&cl->fd);
		}
		pp = &cl->next;
	}
	return handled;
}

static int chan_process(struct uml_instance *inst, void *data)
{
	struct uml_exec_chan *c = data;
	char chunk[65536];
	size_t budget = READ_BUDGET;
	int handled = 0;

	while (c->fd >= 0 && budget > 0) {
		ssize_t n = read(c->fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			break;	/* the kernel's end closes only when it exits */
		handled = 1;
		budget -= (size_t)n < budget ? (size_t)n : budget;
		take_input(c, chunk, (size_t)n);
	}
	if (c->listen_fd >= 0)
		handled |= serve_clients(c);
	if (c->hello && !c->broken)
		flush_out(c);
	return handled;
}

static bool chan_ready(struct uml_instance *inst, void *data)
{
	return ((struct uml_exec_chan *)data)->hello;
}

static void chan_ended(struct uml_instance *inst, void *data)
{
	struct uml_exec_chan *c = data;

	chan_process(inst, c);
	/* hand clients what came; closing tells them the guest is gone */
	for (struct client *cl = c->clients; cl; cl = cl->next)
		if (!cl->gone && cl->out.len)
			uml_write_all(cl->fd, cl->out.data, cl->out.len);
	close_socket(c);
	uml_close_fd(&c->fd);
	uml_close_fd(&c->epfd);
	if (!c->done)
		finish_request(c, -ECONNRESET, "the guest ended", 15);
}

static const struct uml_part_ops exec_ops = {
	.name = "exec channel",
	.prepare = chan_prepare,
	.launch = chan_launch,
	.started = chan_started,
	.process = chan_process,
	.ready = chan_ready,
	.ended = chan_ended,
	.free = chan_free,
};

/* ---- requests ------------------------------------------------------------------- */

static int flush_out(struct uml_exec_chan *c)
{
	while (c->out.len > 0 && c->unconfirmed < SEND_WINDOW) {
		size_t room = SEND_WINDOW - c->unconfirmed;
		ssize_t n = write(c->fd, c->out.data, c->out.len < room ? c->out.len : room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -errno;
		uml_buf_drop_front(&c->out, (size_t)n);
		c->unconfirmed += (size_t)n;
	}
	return 0;
}

static int queue_frame(struct uml_exec_chan *c, uint32_t type, const void *a, size_t alen,
		       const void *b, size_t blen, const void *d, size_t dlen)
{
	unsigned char hdr[8];
	int r;

	uml_put32(hdr, type);
	uml_put32(hdr + 4, (uint32_t)(alen + blen + dlen));
	r = uml_buf_append(&c->out, hdr, 8);
	r |= uml_buf_append(&c->out, a, alen);
	r |= uml_buf_append(&c->out, b, blen);
	r |= uml_buf_append(&c->out, d, dlen);
	return r ? -ENOMEM : 0;
}

static int usable_chan(struct uml_instance *inst, const char *what, struct uml_exec_chan **ret)
{
	struct uml_exec_chan *c = uml_instance_get_part(inst, &exec_ops);
	const char *umid = inst->umid;

	if (!c)
		return ifail(inst, -ENOTCONN, "cannot %s: guest '%s' has no exec channel "
			     "(uml_instance_enable_exec() before boot)", what, umid);
	switch (inst->state) {
	case UML_STATE_CONFIGURING:
		return ifail(inst, -ENOTCONN, "cannot %s: guest '%s' was not booted", what, umid);
	case UML_STATE_EXITED:
		return ifail(inst, -ENOTCONN, "cannot %s: guest '%s' has ended (%s)", what, umid,
			     uml_exit_reason_to_string(uml_instance_get_exit_reason(inst)));
	default:
		break;
	}
	if (c->busy)
		return ifail(inst, -EBUSY, "cannot %s: guest '%s' is serving another request "
			     "(called from the event callback?)", what, umid);
	if (c->broken)
		return ifail(inst, -EIO, "cannot %s: the exec channel of guest '%s' is out of step "
			     "after an earlier failure", what, umid);
	*ret = c;
	return 0;
}

/* Errors come back as negative errno; only -EINVAL here is special. */
static int wait_step(struct uml_instance *inst, struct uml_exec_chan *c, uint64_t until)
{
	struct pollfd pfd[2] = {
		{ .fd = uml_instance_get_fd(inst), .events = POLLIN },
		{ .fd = c->fd, .events = c->hello && c->out.len && c->unconfirmed < SEND_WINDOW ?
					 POLLOUT : 0 },
	};
	uint64_t now = uml_now_usec(), wake = until;
	int ms, r;

	r = uml_instance_get_timeout(inst, &wake);
	if (r < 0 || wake > until)
		wake = until;
	ms = wake == UINT64_MAX ? -1 : wake <= now ? 0 : (int)((wake - now + 999) / 1000);
	if (poll(pfd, 2, ms) < 0 && errno != EINTR)
		return -errno;
	/* nothing goes out before the hello: until then the tty is not raw and echoes */
	r = c->hello ? flush_out(c) : 0;
	if (r < 0)
		return r;
	r = uml_instance_process(inst);
	return r < 0 ? r : 0;
}

/*
 * Sends the queued request and waits for its answer (c->done).  timeout_ms
 * < 0: no limit.  Waits for the agent's hello first if the guest still boots.
 */
static int run_request(struct uml_instance *inst, struct uml_exec_chan *c, int64_t timeout_ms,
		       const char *what)
{
	uint64_t until = timeout_ms < 0 ? UINT64_MAX : uml_now_usec() + (uint64_t)timeout_ms * 1000u;
	int r = 0;

	c->busy = true;
	c->done = false;
	c->err = 0;
	r = queue_push(c, NULL);
	if (r < 0) {
		break_channel(c, "out of memory");	/* answers could not be told apart */
		goto out;
	}
	while (!c->done) {
		if (!uml_instance_running(inst)) {
			r = ifail(inst, -ECONNRESET, "guest '%s' ended (%s) before it could %s",
				  inst->umid,
				  uml_exit_reason_to_string(uml_instance_get_exit_reason(inst)), what);
			goto out;
		}
		if (uml_now_usec() >= until) {
			/* the agent missed its own deadline: its later frames would be misread */
			break_channel(c, "no answer in time");
			r = ifail(inst, -ETIMEDOUT, "guest '%s': no answer from the agent to: %s",
				  inst->umid, what);
			goto out;
		}
		r = c->hello ? flush_out(c) : 0;
		if (r == 0)
			r = wait_step(inst, c, until);
		if (r < 0) {
			ifail(inst, r, "guest '%s': exec channel: %s", inst->umid,
			      strerror(-r));
			goto out;
		}
	}
	r = c->err;
out:
	c->busy = false;
	return r;
}

static int request_error(struct uml_instance *inst, struct uml_exec_chan *c, int r,
			 const char *what)
{
	return ifail(inst, r, "guest '%s': cannot %s: %s", inst->umid, what,
		     c->err_msg && *c->err_msg ? c->err_msg : strerror(-r));
}

UML_EXPORT int uml_instance_exec(struct uml_instance *inst, const char *const *argv,
				 const void *stdin_data, size_t stdin_len, int timeout_ms,
				 struct uml_exec **ret)
{
	struct uml_exec_chan *c;
	struct uml_buf req = { 0 };
	struct uml_exec *e;
	char what[128];
	int r;

	if (!inst || !argv || !argv[0] || !ret || (!stdin_data && stdin_len))
		return -EINVAL;
	if (!argv[0][0])
		return ifail(inst, -EINVAL, "empty command name");
	snprintf(what, sizeof(what), "run '%.80s'", argv[0]);
	r = uml_exec_request(argv, stdin_data, stdin_len, timeout_ms, &req, &e);
	if (r == -E2BIG)
		return ifail(inst, r, "cannot %s: arguments and input exceed %u bytes", what,
			     UML_EXEC_MAX_REQUEST);
	if (r < 0)
		return r;
	r = usable_chan(inst, what, &c);
	if (r == 0)
		r = uml_buf_append(&c->out, req.data, req.len);
	uml_buf_free(&req);
	if (r < 0) {
		uml_exec_unref(e);
		return r;
	}
	uml_exec_unref(c->exec);
	c->exec = e;
	r = run_request(inst, c, timeout_ms > 0 ? (int64_t)timeout_ms + UML_EXEC_HOST_GRACE_MS : -1, what);
	c->exec = NULL;
	if (r < 0) {
		if (c->done)
			request_error(inst, c, r, what);
		uml_exec_unref(e);
		return r;
	}
	*ret = e;
	return 0;
}

UML_EXPORT int uml_instance_copy_in(struct uml_instance *inst, const char *host_path,
				    const char *guest_path)
{
	struct uml_exec_chan *c;
	unsigned char mode[4];
	struct stat st;
	char *data = NULL, what[64];
	size_t len = 0;
	int r;

	if (!inst || !host_path || !guest_path)
		return -EINVAL;
	r = check_guest_path(inst, guest_path, "copy target");
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "copy '%.40s' in", host_path);
	if (stat(host_path, &st) < 0)
		return ifail(inst, -errno, "cannot copy '%s' into the guest: %m", host_path);
	if (!S_ISREG(st.st_mode))
		return ifail(inst, S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL,
			     "cannot copy '%s' into the guest: not a regular file", host_path);
	if ((uint64_t)st.st_size > UML_EXEC_MAX_REQUEST)
		return ifail(inst, -EFBIG, "cannot copy '%s' into the guest: larger than %u bytes",
			     host_path, UML_EXEC_MAX_REQUEST);
	r = usable_chan(inst, what, &c);
	if (r < 0)
		return r;
	r = uml_read_file(host_path, &data, &len);
	if (r < 0)
		return ifail(inst, r, "cannot read '%s': %s", host_path, strerror(-r));
	uml_put32(mode, st.st_mode & 07777);
	r = queue_frame(c, UML_EXEC_F_PUT, mode, 4, guest_path, strlen(guest_path) + 1, data, len);
	free(data);
	if (r < 0)
		return r;
	r = run_request(inst, c, -1, what);
	if (r < 0 && c->done)
		return request_error(inst, c, r, what);
	return r;
}

/*
 * Creates host_path with what the guest sent.  The guest names the mode:
 * it never gets setuid, setgid or sticky bits, and no more than 0777 less
 * the umask.  A temporary file renamed into place: a symlink planted at
 * host_path is replaced, never followed, and a failure leaves nothing.
 */
static int write_guest_file(struct uml_instance *inst, const char *host_path, uint32_t mode,
			    const char *data, size_t len)
{
	char *tmp = NULL;
	int fd, r;

	fd = uml_tmpfile_next_to(host_path, mode & 0777, &tmp);
	if (fd < 0)
		return ifail(inst, fd, "cannot create '%s': %s", host_path, strerror(-fd));
	r = uml_write_all(fd, data, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, host_path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		ifail(inst, r, "cannot write '%s': %s", host_path, strerror(-r));
	}
	free(tmp);
	return r;
}

UML_EXPORT int uml_instance_copy_out(struct uml_instance *inst, const char *guest_path,
				     const char *host_path)
{
	struct uml_exec_chan *c;
	char what[64];
	int r;

	if (!inst || !host_path || !guest_path)
		return -EINVAL;
	r = check_guest_path(inst, guest_path, "copy source");
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "copy '%.40s' out", guest_path);
	r = usable_chan(inst, what, &c);
	if (r < 0)
		return r;
	r = queue_frame(c, UML_EXEC_F_GET, guest_path, strlen(guest_path) + 1, NULL, 0, NULL, 0);
	if (r < 0)
		return r;
	uml_buf_drop_front(&c->data, c->data.len);
	r = run_request(inst, c, -1, what);
	if (r < 0) {
		if (c->done)
			request_error(inst, c, r, what);
		goto out;
	}
	r = write_guest_file(inst, host_path, c->mode, c->data.data ? c->data.data : "",
			     c->data.len);
out:
	uml_buf_free(&c->data);
	return r;
}

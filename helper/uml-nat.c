/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uml-nat - user-mode NAT for one network interface of a libuml guest.
 *
 *   uml-nat [--ipv6] [--restrict] [--no-host-loopback] [--accept]
 *           [--guest-addr A.B.C.D] [--memory-limit BYTES] [--listen FD] FRAMES CONTROL
 *
 * FRAMES is a SOCK_SEQPACKET (or SOCK_DGRAM) socket carrying raw Ethernet
 * frames, the other end of which the UML kernel holds (vecN:transport=fd);
 * with --accept it is a listening SOCK_SEQPACKET socket the kernel connects
 * to (vecN:transport=bess).  CONTROL is libuml's end of the control socket
 * (libuml/nat-proto.h); --listen a listening socket other processes of the
 * same user send requests to (uml-ctl).  libslirp parses every frame the
 * guest sends, so this runs in its own process, never in the embedding
 * one: after the first forwards are set up ("start") it confines itself -
 * a user and mount namespace whose root is an empty read-only tmpfs (a
 * copy of resolv.conf for slirp's DNS), no capabilities, no_new_privs, no
 * new processes, a memory limit and a seccomp filter - and stays in the
 * host's network namespace.  It exits at EOF of the frames (the guest
 * ended) or of CONTROL (libuml let go); libuml starts it through its
 * watchdog, which kills it if the embedding process dies.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>

#include <libslirp.h>

#include "nat-proto.h"

#define FRAME_MAX 65536
#define RX_BATCH 32
#define TXQ_MAX_BYTES (4u << 20)	/* frames for the guest waiting for room */
#define MAX_CLIENTS 8
#define MAX_RELAYS 64
#define RELAY_BUF 65536
#define MAX_TIMERS 8
#define RESOLV_MAX 65536

struct timer {
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms;		/* -1: not armed */
	bool used;
};

struct hostfwd {
	bool udp;
	struct sockaddr_storage haddr;	/* with the bound port */
	socklen_t haddr_len;
	struct in_addr gaddr;
	int gport;
};

struct guestfwd {
	struct in_addr gaddr;
	int gport;
	bool unix_target;
	struct sockaddr_storage target;	/* tcp */
	socklen_t target_len;
	char *path;			/* unix: the host path, for list */
	int path_fd;			/* unix: O_PATH of it, until start */
	int listen_fd;			/* tcp: the relay socket slirp connects to */
	char inner[32];			/* its path inside the sandbox */
	bool registered;
};

/* A guest connection of a tcp guestfwd: slirp's unix socket <-> the host target. */
struct relay {
	int fd[2];			/* 0: slirp's side, 1: the target */
	char *buf[2];			/* bytes read from fd[i], to write to fd[!i] */
	size_t len[2], off[2];
	bool eof[2], connecting;
};

struct txq {
	struct txq *next;
	size_t len;
	unsigned char data[];
};

static struct {
	Slirp *slirp;
	int frames, listen_frames, ctl, listen_ctl;
	bool accept_mode, ipv6, restrict_out, no_loopback, started;
	unsigned long long memory_limit;
	struct in_addr guest;		/* the guest's address, for forwards that name none */
	struct timer timers[MAX_TIMERS];
	struct hostfwd hostfwds[NAT_MAX_HOSTFWDS];
	size_t n_hostfwds;
	struct guestfwd guestfwds[NAT_MAX_GUESTFWDS];
	size_t n_guestfwds;
	unsigned guestfwd_seq;
	struct relay relays[MAX_RELAYS];
	int clients[MAX_CLIENTS];
	struct txq *txq_head, *txq_tail;
	size_t txq_bytes;
	unsigned long tx_dropped;
	struct pollfd *pfds;
	size_t n_pfds, cap_pfds;
} S = { .frames = -1, .listen_frames = -1, .ctl = -1, .listen_ctl = -1 };

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- libslirp's callbacks ------------------------------------------------- */

static bool txq_push(const void *buf, size_t len)
{
	struct txq *q;

	if (S.txq_bytes + len > TXQ_MAX_BYTES || !(q = malloc(sizeof(*q) + len)))
		return false;
	q->next = NULL;
	q->len = len;
	memcpy(q->data, buf, len);
	if (S.txq_tail)
		S.txq_tail->next = q;
	else
		S.txq_head = q;
	S.txq_tail = q;
	S.txq_bytes += len;
	return true;
}

/* Writes queued frames while the kernel's socket takes them. */
static void txq_flush(void)
{
	while (S.txq_head && S.frames >= 0) {
		struct txq *q = S.txq_head;
		ssize_t n = send(S.frames, q->data, q->len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* sent, or an error that sending again will not cure: drop it */
		S.txq_head = q->next;
		if (!S.txq_head)
			S.txq_tail = NULL;
		S.txq_bytes -= q->len;
		free(q);
	}
}

static void txq_clear(void)
{
	while (S.txq_head) {
		struct txq *q = S.txq_head;

		S.txq_head = q->next;
		free(q);
	}
	S.txq_tail = NULL;
	S.txq_bytes = 0;
}

/* A frame for the guest: sent now, queued while the kernel is behind, or dropped. */
static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
	(void)opaque;
	if (S.frames < 0)
		return (ssize_t)len;
	if (!S.txq_head) {
		ssize_t n = send(S.frames, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n >= 0 || (errno != EAGAIN && errno != EINTR))
			return (ssize_t)len;
	}
	if (!txq_push(buf, len))
		S.tx_dropped++;		/* TCP sends it again */
	return (ssize_t)len;
}

static void guest_error(const char *msg, void *opaque)
{
	(void)msg;
	(void)opaque;	/* the guest's own business; nobody to tell */
}

static int64_t clock_get_ns(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	(void)opaque;
	for (size_t i = 0; i < MAX_TIMERS; i++)
		if (!S.timers[i].used) {
			S.timers[i] = (struct timer){ .cb = cb, .cb_opaque = cb_opaque,
						      .expire_ms = -1, .used = true };
			return &S.timers[i];
		}
	abort();	/* libslirp 4.7 makes one (router advertisements) */
}

static void timer_free(void *timer, void *opaque)
{
	(void)opaque;
	((struct timer *)timer)->used = false;
}

static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	(void)opaque;
	((struct timer *)timer)->expire_ms = expire_ms;
}

static void register_poll_fd(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
}

static void notify(void *opaque)
{
	(void)opaque;	/* one thread: the loop asks slirp again anyway */
}

static const SlirpCb callbacks = {
	.send_packet = send_packet,
	.guest_error = guest_error,
	.clock_get_ns = clock_get_ns,
	.timer_new = timer_new,
	.timer_free = timer_free,
	.timer_mod = timer_mod,
	.register_poll_fd = register_poll_fd,
	.unregister_poll_fd = register_poll_fd,
	.notify = notify,
};

static int slirp_start(void)
{
	struct in6_addr prefix6, host6, dns6;
	struct in_addr net, mask, host, dns, guest;
	SlirpConfig cfg = { .version = 1 };

	inet_pton(AF_INET, NAT_NETWORK, &net);
	inet_pton(AF_INET, NAT_NETMASK, &mask);
	inet_pton(AF_INET, NAT_HOST, &host);
	inet_pton(AF_INET, NAT_DNS, &dns);
	inet_pton(AF_INET, NAT_GUEST, &guest);
	inet_pton(AF_INET6, NAT_PREFIX6, &prefix6);
	inet_pton(AF_INET6, NAT_HOST6, &host6);
	inet_pton(AF_INET6, NAT_DNS6, &dns6);
	cfg.restricted = S.restrict_out;
	cfg.in_enabled = true;
	cfg.vnetwork = net;
	cfg.vnetmask = mask;
	cfg.vhost = host;
	cfg.in6_enabled = S.ipv6;
	cfg.vprefix_addr6 = prefix6;
	cfg.vprefix_len = 64;
	cfg.vhost6 = host6;
	cfg.vdhcp_start = guest;
	cfg.vnameserver = dns;
	cfg.vnameserver6 = dns6;
	cfg.disable_host_loopback = S.no_loopback;
	S.slirp = slirp_new(&cfg, &callbacks, NULL);
	return S.slirp ? 0 : -ENOMEM;
}

/* ---- requests ----------------------------------------------------------------- */

struct reply {
	char text[NAT_MSG_MAX];
	size_t len;
};

static int reply_err(struct reply *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int reply_err(struct reply *r, int err, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(r->text, sizeof(r->text), "err %d ", err);

	va_start(ap, fmt);
	vsnprintf(r->text + n, sizeof(r->text) - (size_t)n, fmt, ap);
	va_end(ap);
	r->len = strlen(r->text);
	return -err;
}

static void reply_add(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reply_add(struct reply *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(r->text + r->len, sizeof(r->text) - r->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->len += (size_t)n < sizeof(r->text) - r->len ? (size_t)n : sizeof(r->text) - r->len - 1;
}

static bool parse_port(const char *s, bool zero_ok, int *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < (zero_ok ? 0 : 1) || v > 65535 || s[0] == '+' ||
	    s[0] == '-')
		return false;
	*ret = (int)v;
	return true;
}

/* A numeric IPv4 or IPv6 address and a port as a sockaddr. */
static bool parse_sockaddr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*len = sizeof(*in);
		return true;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
		return true;
	}
	return false;
}

static int sockaddr_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
					      : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

static const char *sockaddr_host(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	const void *a = ss->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
						  : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	return inet_ntop(ss->ss_family, a, buf, (socklen_t)size) ? buf : "?";
}

/* An address of slirp's network a guest forward may take (not the gateway, DNS or guest). */
static bool guest_side_addr(const char *s, struct in_addr *a)
{
	struct in_addr net, mask;

	inet_pton(AF_INET, NAT_NETWORK, &net);
	inet_pton(AF_INET, NAT_NETMASK, &mask);
	return inet_pton(AF_INET, s, a) == 1 && (a->s_addr & mask.s_addr) == net.s_addr;
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

static struct hostfwd *find_hostfwd(bool udp, const struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < S.n_hostfwds; i++)
		if (S.hostfwds[i].udp == udp && same_host(&S.hostfwds[i].haddr, ss) &&
		    sockaddr_port(&S.hostfwds[i].haddr) == sockaddr_port(ss))
			return &S.hostfwds[i];
	return NULL;
}

/*
 * libslirp binds the host socket itself and does not say which port it
 * got: the socket it opens takes the lowest free descriptor (one thread
 * here), so that is where to ask.
 */
static int hostfwd_add(struct reply *r, char **w, int n)
{
	struct sockaddr_storage hs, bound;
	struct sockaddr_in gs = { .sin_family = AF_INET };
	socklen_t hlen, blen = sizeof(bound);
	int hport, gport, probe, type = 0, err;
	socklen_t tlen = sizeof(type);
	bool udp;

	if (n != 6 || (strcmp(w[1], "tcp") && strcmp(w[1], "udp")) ||
	    !parse_port(w[3], true, &hport) || !parse_sockaddr(w[2], hport, &hs, &hlen) ||
	    !(strcmp(w[4], "guest") == 0 ? (gs.sin_addr = S.guest, true)
					     : guest_side_addr(w[4], &gs.sin_addr)) ||
	    !parse_port(w[5], false, &gport))
		return reply_err(r, EINVAL, "malformed hostfwd-add request");
	udp = strcmp(w[1], "udp") == 0;
	if (S.n_hostfwds >= NAT_MAX_HOSTFWDS)
		return reply_err(r, ENOSPC, "%d forwards already", NAT_MAX_HOSTFWDS);
	if (hport && find_hostfwd(udp, &hs))
		return reply_err(r, EEXIST, "%s %s port %d is forwarded already", w[1], w[2], hport);
	gs.sin_port = htons((uint16_t)gport);
	probe = fcntl(S.ctl, F_DUPFD_CLOEXEC, 0);
	if (probe >= 0)
		close(probe);
	errno = 0;
	if (slirp_add_hostxfwd(S.slirp, (struct sockaddr *)&hs, hlen, (struct sockaddr *)&gs,
			       sizeof(gs), udp ? SLIRP_HOSTFWD_UDP : 0) < 0) {
		err = errno ? errno : EADDRINUSE;
		return reply_err(r, err, "cannot forward %s %s port %d: %s", w[1], w[2], hport,
				 strerror(err));
	}
	if (probe < 0 || getsockname(probe, (struct sockaddr *)&bound, &blen) < 0 ||
	    getsockopt(probe, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 ||
	    type != (udp ? SOCK_DGRAM : SOCK_STREAM) || !same_host(&bound, &hs) ||
	    (hport && sockaddr_port(&bound) != hport)) {
		/* cannot say which port: do not keep a forward nobody could name */
		if (hport)
			slirp_remove_hostxfwd(S.slirp, (struct sockaddr *)&hs, hlen,
					      udp ? SLIRP_HOSTFWD_UDP : 0);
		return reply_err(r, EIO, "cannot tell which port the forward of %s %s got",
				 w[1], w[2]);
	}
	S.hostfwds[S.n_hostfwds++] = (struct hostfwd){ .udp = udp, .haddr = bound,
						       .haddr_len = blen, .gaddr = gs.sin_addr,
						       .gport = gport };
	reply_add(r, "ok %d", sockaddr_port(&bound));
	return 0;
}

static int hostfwd_remove(struct reply *r, char **w, int n)
{
	struct sockaddr_storage hs;
	struct hostfwd *f;
	socklen_t hlen;
	int hport;
	bool udp;

	if (n != 4 || (strcmp(w[1], "tcp") && strcmp(w[1], "udp")) ||
	    !parse_port(w[3], false, &hport) || !parse_sockaddr(w[2], hport, &hs, &hlen))
		return reply_err(r, EINVAL, "malformed hostfwd-remove request");
	udp = strcmp(w[1], "udp") == 0;
	f = find_hostfwd(udp, &hs);
	if (!f)
		return reply_err(r, ENOENT, "no %s forward from %s port %d", w[1], w[2], hport);
	slirp_remove_hostxfwd(S.slirp, (struct sockaddr *)&f->haddr, f->haddr_len,
			      udp ? SLIRP_HOSTFWD_UDP : 0);
	*f = S.hostfwds[--S.n_hostfwds];
	reply_add(r, "ok");
	return 0;
}

/* Makes a guest forward live: slirp connects each guest connection to a unix socket. */
static int guestfwd_register(struct guestfwd *g, struct reply *r)
{
	if (!g->unix_target) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		snprintf(g->inner, sizeof(g->inner), "/r/%u", S.guestfwd_seq++);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", g->inner);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
			int e = errno;

			if (fd >= 0)
				close(fd);
			return reply_err(r, e, "cannot make the relay socket: %s", strerror(e));
		}
		g->listen_fd = fd;
	}
	if (slirp_add_unix(S.slirp, g->inner, &g->gaddr, g->gport) < 0) {
		if (g->listen_fd >= 0) {
			close(g->listen_fd);
			unlink(g->inner);
			g->listen_fd = -1;
		}
		return reply_err(r, EEXIST, "guest address %s port %d is taken", inet_ntoa(g->gaddr),
				 g->gport);
	}
	g->registered = true;
	return 0;
}

static int guestfwd_add(struct reply *r, char **w, int n)
{
	struct guestfwd g = { .path_fd = -1, .listen_fd = -1 };
	int port;

	if (n < 5 || !guest_side_addr(w[1], &g.gaddr) || !parse_port(w[2], false, &g.gport))
		return reply_err(r, EINVAL, "malformed guestfwd-add request");
	for (size_t i = 0; i < S.n_guestfwds; i++)
		if (S.guestfwds[i].gaddr.s_addr == g.gaddr.s_addr && S.guestfwds[i].gport == g.gport)
			return reply_err(r, EEXIST, "%s port %d is forwarded already", w[1], g.gport);
	if (S.n_guestfwds >= NAT_MAX_GUESTFWDS)
		return reply_err(r, ENOSPC, "%d guest forwards already", NAT_MAX_GUESTFWDS);
	if (n == 6 && strcmp(w[3], "tcp") == 0 && parse_port(w[5], false, &port) &&
	    parse_sockaddr(w[4], port, &g.target, &g.target_len)) {
		/* the helper connects to it for each guest connection */
	} else if (n == 5 && strcmp(w[3], "unix") == 0 && w[4][0] == '/') {
		struct stat st;

		/* the sandbox has no view of the host: the socket is bound into it at start */
		if (S.started)
			return reply_err(r, EBUSY, "a forward to a unix socket is set before boot");
		if (strlen(w[4]) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return reply_err(r, ENAMETOOLONG, "socket path '%s' is too long", w[4]);
		if (stat(w[4], &st) < 0)
			return reply_err(r, errno, "'%s': %s", w[4], strerror(errno));
		if (!S_ISSOCK(st.st_mode))
			return reply_err(r, ENOTSOCK, "'%s' is not a unix socket", w[4]);
		g.unix_target = true;
		g.path = strdup(w[4]);
		snprintf(g.inner, sizeof(g.inner), "/u/%zu", S.n_guestfwds);
	} else {
		return reply_err(r, EINVAL, "malformed guestfwd-add request");
	}
	if (S.started && guestfwd_register(&g, r) < 0)
		return -1;
	S.guestfwds[S.n_guestfwds++] = g;
	reply_add(r, "ok");
	return 0;
}

static void list(struct reply *r)
{
	char h[INET6_ADDRSTRLEN], g[INET_ADDRSTRLEN];

	reply_add(r, "ok\n");
	for (size_t i = 0; i < S.n_hostfwds; i++) {
		struct hostfwd *f = &S.hostfwds[i];

		inet_ntop(AF_INET, &f->gaddr, g, sizeof(g));
		reply_add(r, "hostfwd %s %s %d %s %d\n", f->udp ? "udp" : "tcp",
			  sockaddr_host(&f->haddr, h, sizeof(h)), sockaddr_port(&f->haddr), g, f->gport);
	}
	for (size_t i = 0; i < S.n_guestfwds; i++) {
		struct guestfwd *f = &S.guestfwds[i];

		inet_ntop(AF_INET, &f->gaddr, g, sizeof(g));
		if (f->unix_target)
			reply_add(r, "guestfwd %s %d unix %s\n", g, f->gport, f->path);
		else
			reply_add(r, "guestfwd %s %d tcp %s %d\n", g, f->gport,
				  sockaddr_host(&f->target, h, sizeof(h)), sockaddr_port(&f->target));
	}
}

static int sandbox(struct reply *r);

/* Handles one request; from libuml's own socket (trusted) or a client's. */
static void handle(const char *msg, size_t len, bool from_libuml, struct reply *r)
{
	char buf[NAT_MSG_MAX], *w[8];
	int n = 0;

	r->len = 0;
	r->text[0] = '\0';
	if (len == 0 || len >= sizeof(buf) || memchr(msg, '\0', len)) {
		reply_err(r, EINVAL, "malformed request");
		return;
	}
	memcpy(buf, msg, len);
	buf[len] = '\0';
	for (char *p = buf, *save = NULL; n < 8 && (p = strtok_r(p, " ", &save)); p = NULL)
		w[n++] = p;
	if (n == 0)
		reply_err(r, EINVAL, "empty request");
	else if (strcmp(w[0], "hostfwd-add") == 0)
		hostfwd_add(r, w, n);
	else if (strcmp(w[0], "hostfwd-remove") == 0)
		hostfwd_remove(r, w, n);
	else if (strcmp(w[0], "guestfwd-add") == 0)
		guestfwd_add(r, w, n);
	else if (strcmp(w[0], "list") == 0 && n == 1)
		list(r);
	else if (strcmp(w[0], "start") == 0 && n == 1 && from_libuml && !S.started) {
		if (sandbox(r) == 0)
			reply_add(r, "ok");
	} else
		reply_err(r, EINVAL, "unknown request '%s'", w[0]);
}

/* ---- the sandbox --------------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		r = -errno;
	close(fd);
	return r;
}

/* Reads /etc/resolv.conf for slirp's DNS forwarding (the sandbox gets a copy). */
static char *read_resolv_conf(void)
{
	char *buf = calloc(1, RESOLV_MAX + 1);
	int fd = open("/etc/resolv.conf", O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd >= 0 && buf) {
		while (len < RESOLV_MAX && (n = read(fd, buf + len, RESOLV_MAX - len)) > 0)
			len += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	return buf;
}

#define FAIL(what) do { e = errno; step = what; goto fail; } while (0)

/*
 * The seccomp filter: the system calls a sandboxed helper has no use for
 * and an attacker would want first fail with EPERM.
 */
static int install_seccomp(void)
{
#define DENY(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
		 BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		/* x32 system calls */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		DENY(__NR_execve), DENY(__NR_execveat), DENY(__NR_fork), DENY(__NR_vfork),
		DENY(__NR_clone3), DENY(__NR_ptrace), DENY(__NR_process_vm_readv),
		DENY(__NR_process_vm_writev), DENY(__NR_mount), DENY(__NR_umount2),
		DENY(__NR_pivot_root), DENY(__NR_chroot), DENY(__NR_unshare), DENY(__NR_setns),
		DENY(__NR_bpf), DENY(__NR_perf_event_open), DENY(__NR_userfaultfd),
		DENY(__NR_keyctl), DENY(__NR_add_key), DENY(__NR_request_key),
		DENY(__NR_init_module), DENY(__NR_finit_module), DENY(__NR_delete_module),
		DENY(__NR_kexec_load), DENY(__NR_io_uring_setup), DENY(__NR_open_tree),
		DENY(__NR_move_mount), DENY(__NR_fsopen), DENY(__NR_fsmount),
		DENY(__NR_name_to_handle_at), DENY(__NR_open_by_handle_at), DENY(__NR_personality),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = (unsigned short)(sizeof(filter) / sizeof(filter[0])),
				   .filter = filter };

	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 ? -errno : 0;
#undef DENY
}

/*
 * Confines the process: a user and mount namespace whose root is a fresh
 * tmpfs holding resolv.conf, the unix sockets of guest forwards (bound in
 * here, the only host objects it can reach by path) and /r, a small
 * writable tmpfs for the relay sockets; then no capabilities, no new
 * privileges, no new processes, a memory limit, and the seccomp filter.
 * The network namespace stays the host's: that is what slirp is for.
 */
static int sandbox(struct reply *r)
{
	char map[64], *resolv = read_resolv_conf();
	uid_t uid = geteuid();
	gid_t gid = getegid();
	const char *step = "";
	int e = 0, fd;
	struct rlimit mem = { S.memory_limit, S.memory_limit }, zero = { 0, 0 };
	struct __user_cap_header_struct caph = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct capd[2] = { { 0 } };

	if (!resolv)
		return reply_err(r, ENOMEM, "out of memory");
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		FAIL("unshare(CLONE_NEWUSER | CLONE_NEWNS) (are user namespaces disabled?)");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
	if ((e = -write_file("/proc/self/uid_map", map)) != 0) {
		errno = e;
		FAIL("writing uid_map");
	}
	if (write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
		FAIL("writing setgroups");
	snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
	if ((e = -write_file("/proc/self/gid_map", map)) != 0) {
		errno = e;
		FAIL("writing gid_map");
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		FAIL("making / private");
	/* opened in the new namespace: only its own mounts can be bound */
	for (size_t i = 0; i < S.n_guestfwds; i++) {
		struct guestfwd *g = &S.guestfwds[i];
		struct stat st;

		if (!g->unix_target)
			continue;
		g->path_fd = open(g->path, O_PATH | O_CLOEXEC);
		if (g->path_fd < 0)
			FAIL("opening a guest forward's unix socket");
		if (fstat(g->path_fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			errno = ENOTSOCK;
			FAIL("opening a guest forward's unix socket");
		}
	}
	if (mount("uml-nat", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=256k,nr_inodes=128,mode=0755") < 0)
		FAIL("mounting the new root");
	if (mkdir("/tmp/etc", 0755) < 0 || mkdir("/tmp/old", 0700) < 0 || mkdir("/tmp/r", 0700) < 0 ||
	    mkdir("/tmp/u", 0700) < 0)
		FAIL("mkdir in the new root");
	fd = open("/tmp/etc/resolv.conf", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, resolv, strlen(resolv)) < 0)
		FAIL("writing resolv.conf");
	close(fd);
	for (size_t i = 0; i < S.n_guestfwds; i++) {
		struct guestfwd *g = &S.guestfwds[i];
		char src[64], dst[64];

		if (!g->unix_target)
			continue;
		snprintf(src, sizeof(src), "/proc/self/fd/%d", g->path_fd);
		snprintf(dst, sizeof(dst), "/tmp%s", g->inner);
		fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			FAIL("creating a socket's mount point");
		close(fd);
		if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
			FAIL("binding a guest forward's unix socket");
		close(g->path_fd);
		g->path_fd = -1;
	}
	if (mount("uml-nat-r", "/tmp/r", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=16k,nr_inodes=64,mode=0700") < 0)
		FAIL("mounting /r");
	if (syscall(SYS_pivot_root, "/tmp", "/tmp/old") < 0)
		FAIL("pivot_root");
	if (chdir("/") < 0 || umount2("/old", MNT_DETACH) < 0 || rmdir("/old") < 0)
		FAIL("dropping the old root");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
		  MS_NOEXEC, NULL) < 0)
		FAIL("making the root read-only");
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	if (syscall(SYS_capset, &caph, capd) < 0)
		FAIL("dropping capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		FAIL("no_new_privs");
	if (setrlimit(RLIMIT_AS, &mem) < 0 || setrlimit(RLIMIT_DATA, &mem) < 0 ||
	    setrlimit(RLIMIT_NPROC, &zero) < 0 || setrlimit(RLIMIT_FSIZE, &zero) < 0 ||
	    setrlimit(RLIMIT_CORE, &zero) < 0)
		FAIL("setting resource limits");
	if ((e = -install_seccomp()) != 0) {
		errno = e;
		FAIL("installing the seccomp filter");
	}
	free(resolv);
	S.started = true;
	for (size_t i = 0; i < S.n_guestfwds; i++)
		if (guestfwd_register(&S.guestfwds[i], r) < 0)
			return -1;
	return 0;
fail:
	free(resolv);
	return reply_err(r, e ? e : EPERM, "cannot sandbox the NAT helper: %s: %s", step,
			 strerror(e ? e : EPERM));
}

/* ---- the relays of tcp guest forwards ------------------------------------------------ */

static void relay_close(struct relay *rl)
{
	for (int i = 0; i < 2; i++) {
		if (rl->fd[i] >= 0)
			close(rl->fd[i]);
		free(rl->buf[i]);
	}
	memset(rl, 0, sizeof(*rl));
	rl->fd[0] = rl->fd[1] = -1;
}

static void relay_accept(struct guestfwd *g)
{
	int c = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK), t;
	struct relay *rl = NULL;

	if (c < 0)
		return;
	for (size_t i = 0; i < MAX_RELAYS && !rl; i++)
		if (S.relays[i].fd[0] < 0)
			rl = &S.relays[i];
	t = rl ? socket(g->target.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0) : -1;
	if (t < 0 || (connect(t, (struct sockaddr *)&g->target, g->target_len) < 0 &&
		      errno != EINPROGRESS)) {
		close(c);	/* the guest sees its connection closed */
		if (t >= 0)
			close(t);
		return;
	}
	rl->fd[0] = c;
	rl->fd[1] = t;
	rl->connecting = true;
	rl->buf[0] = malloc(RELAY_BUF);
	rl->buf[1] = malloc(RELAY_BUF);
	if (!rl->buf[0] || !rl->buf[1])
		relay_close(rl);
}

/* Moves what it can; closes the relay when both sides are done or one failed. */
static void relay_io(struct relay *rl, short rev0, short rev1)
{
	short rev[2] = { rev0, rev1 };

	if (rl->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (!(rev1 & (POLLOUT | POLLERR | POLLHUP)))
			return;
		if (getsockopt(rl->fd[1], SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			relay_close(rl);
			return;
		}
		rl->connecting = false;
	}
	for (int i = 0; i < 2; i++) {
		int o = !i;

		if (!rl->eof[i] && rl->len[i] == 0 && (rev[i] & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(rl->fd[i], rl->buf[i], RELAY_BUF);

			if (n > 0) {
				rl->len[i] = (size_t)n;
				rl->off[i] = 0;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				rl->eof[i] = true;
				shutdown(rl->fd[o], SHUT_WR);
			}
		}
		if (rl->len[i] > 0) {
			ssize_t n = send(rl->fd[o], rl->buf[i] + rl->off[i], rl->len[i], MSG_NOSIGNAL);

			if (n > 0) {
				rl->off[i] += (size_t)n;
				rl->len[i] -= (size_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				relay_close(rl);
				return;
			}
		}
	}
	if (rl->eof[0] && rl->eof[1] && !rl->len[0] && !rl->len[1])
		relay_close(rl);
}

/* ---- the loop ----------------------------------------------------------------------- */

static int add_pfd(int fd, short events)
{
	if (S.n_pfds == S.cap_pfds) {
		size_t cap = S.cap_pfds ? S.cap_pfds * 2 : 64;
		struct pollfd *p = realloc(S.pfds, cap * sizeof(*p));

		if (!p)
			abort();	/* out of the memory limit: the guest's network ends here */
		S.pfds = p;
		S.cap_pfds = cap;
	}
	S.pfds[S.n_pfds] = (struct pollfd){ .fd = fd, .events = events };
	return (int)S.n_pfds++;
}

static short slirp_to_poll(int ev)
{
	return (short)(((ev & SLIRP_POLL_IN) ? POLLIN : 0) | ((ev & SLIRP_POLL_OUT) ? POLLOUT : 0) |
		       ((ev & SLIRP_POLL_PRI) ? POLLPRI : 0));
}

static int add_poll(int fd, int events, void *opaque)
{
	(void)opaque;
	return add_pfd(fd, slirp_to_poll(events));
}

static int get_revents(int idx, void *opaque)
{
	short r = S.pfds[idx].revents;

	(void)opaque;
	return ((r & POLLIN) ? SLIRP_POLL_IN : 0) | ((r & POLLOUT) ? SLIRP_POLL_OUT : 0) |
	       ((r & POLLPRI) ? SLIRP_POLL_PRI : 0) | ((r & POLLERR) ? SLIRP_POLL_ERR : 0) |
	       ((r & POLLHUP) ? SLIRP_POLL_HUP : 0);
}

/* Frames from the guest, a batch at a time; false at EOF. */
static bool read_frames(void)
{
	static unsigned char bufs[RX_BATCH][FRAME_MAX];
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	int n;

	for (int i = 0; i < RX_BATCH; i++) {
		iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = FRAME_MAX };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
	}
	n = recvmmsg(S.frames, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	for (int i = 0; i < n; i++) {
		if (msgs[i].msg_len == 0)
			return false;	/* seqpacket EOF: the kernel closed its end */
		if (!(msgs[i].msg_hdr.msg_flags & MSG_TRUNC))
			slirp_input(S.slirp, bufs[i], (int)msgs[i].msg_len);
	}
	return true;
}

static void serve(int fd, bool from_libuml)
{
	static struct reply r;
	char msg[NAT_MSG_MAX];
	ssize_t n = recv(fd, msg, sizeof(msg), MSG_DONTWAIT);

	if (n <= 0)
		return;
	handle(msg, (size_t)n, from_libuml, &r);
	(void)!send(fd, r.text, r.len, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* A request from another process of this user (uml-ctl). */
static void client_accept(void)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int c = accept4(S.listen_ctl, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (c < 0)
		return;
	if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
		close(c);
		return;
	}
	for (size_t i = 0; i < MAX_CLIENTS; i++)
		if (S.clients[i] < 0) {
			S.clients[i] = c;
			return;
		}
	close(c);
}

static int loop(void)
{
	int64_t t;

	for (;;) {
		uint32_t timeout = UINT32_MAX;
		int i_frames, i_lframes = -1, i_ctl, i_lctl = -1, i_clients[MAX_CLIENTS];
		int i_gfwd[NAT_MAX_GUESTFWDS], i_relay[MAX_RELAYS][2], n;

		for (size_t i = 0; i < MAX_RELAYS; i++)
			i_relay[i][0] = i_relay[i][1] = -1;

		S.n_pfds = 0;
		i_frames = add_pfd(S.frames, (short)(S.frames >= 0 ? POLLIN | (S.txq_head ? POLLOUT : 0)
								   : 0));
		if (S.listen_frames >= 0)
			i_lframes = add_pfd(S.frames < 0 ? S.listen_frames : -1, POLLIN);
		i_ctl = add_pfd(S.ctl, POLLIN);
		if (S.listen_ctl >= 0)
			i_lctl = add_pfd(S.listen_ctl, POLLIN);
		/* only what is open: poll() walks every entry, on every frame */
		for (size_t i = 0; i < MAX_CLIENTS; i++)
			i_clients[i] = S.clients[i] >= 0 ? add_pfd(S.clients[i], POLLIN) : -1;
		for (size_t i = 0; i < S.n_guestfwds; i++)
			i_gfwd[i] = S.guestfwds[i].listen_fd >= 0 ?
				    add_pfd(S.guestfwds[i].listen_fd, POLLIN) : -1;
		for (size_t i = 0; i < MAX_RELAYS; i++) {
			struct relay *rl = &S.relays[i];

			if (rl->fd[0] < 0)
				continue;
			i_relay[i][0] = add_pfd(rl->fd[0], (short)(rl->connecting ? 0 :
				(rl->len[0] || rl->eof[0] ? 0 : POLLIN) | (rl->len[1] ? POLLOUT : 0)));
			i_relay[i][1] = add_pfd(rl->fd[1], (short)(rl->connecting ? POLLOUT :
				(rl->len[1] || rl->eof[1] ? 0 : POLLIN) | (rl->len[0] ? POLLOUT : 0)));
		}
		slirp_pollfds_fill(S.slirp, &timeout, add_poll, NULL);
		t = now_ms();
		for (size_t i = 0; i < MAX_TIMERS; i++)
			if (S.timers[i].used && S.timers[i].expire_ms >= 0) {
				int64_t d = S.timers[i].expire_ms - t;

				timeout = d <= 0 ? 0 : (uint64_t)d < timeout ? (uint32_t)d : timeout;
			}
		n = poll(S.pfds, (nfds_t)S.n_pfds, timeout == UINT32_MAX ? -1 :
			 timeout > INT_MAX ? INT_MAX : (int)timeout);
		if (n < 0 && errno != EINTR)
			return 1;

		if (S.pfds[i_ctl].revents & POLLIN)
			serve(S.ctl, true);
		if (S.pfds[i_ctl].revents & (POLLHUP | POLLERR))
			return 0;	/* libuml let go */
		if (S.frames >= 0 && S.pfds[i_frames].revents) {
			if (S.pfds[i_frames].revents & POLLOUT)
				txq_flush();
			if ((S.pfds[i_frames].revents & (POLLIN | POLLHUP | POLLERR)) && !read_frames()) {
				if (!S.accept_mode)
					return 0;	/* the guest ended */
				close(S.frames);	/* the interface went down: wait for it */
				S.frames = -1;
				txq_clear();
			}
		}
		if (i_lframes >= 0 && (S.pfds[i_lframes].revents & POLLIN) && S.frames < 0)
			S.frames = accept4(S.listen_frames, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (i_lctl >= 0 && (S.pfds[i_lctl].revents & POLLIN))
			client_accept();
		for (size_t i = 0; i < MAX_CLIENTS; i++)
			if (i_clients[i] >= 0 && S.pfds[i_clients[i]].revents) {
				/* one request per connection */
				if (S.pfds[i_clients[i]].revents & POLLIN)
					serve(S.clients[i], false);
				close(S.clients[i]);
				S.clients[i] = -1;
			}
		for (size_t i = 0; i < S.n_guestfwds && i < NAT_MAX_GUESTFWDS; i++)
			if (i_gfwd[i] >= 0 && (S.pfds[i_gfwd[i]].revents & POLLIN))
				relay_accept(&S.guestfwds[i]);
		for (size_t i = 0; i < MAX_RELAYS; i++)
			if (i_relay[i][0] >= 0 &&
			    (S.pfds[i_relay[i][0]].revents | S.pfds[i_relay[i][1]].revents))
				relay_io(&S.relays[i], S.pfds[i_relay[i][0]].revents,
					 S.pfds[i_relay[i][1]].revents);
		slirp_pollfds_poll(S.slirp, n < 0, get_revents, NULL);
		t = now_ms();
		for (size_t i = 0; i < MAX_TIMERS; i++)
			if (S.timers[i].used && S.timers[i].expire_ms >= 0 && S.timers[i].expire_ms <= t) {
				S.timers[i].expire_ms = -1;
				S.timers[i].cb(S.timers[i].cb_opaque);
			}
	}
}

static int parse_fd(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > INT_MAX || fcntl((int)v, F_GETFD) < 0)
		return -1;
	return (int)v;
}

static void usage(void)
{
	fprintf(stderr, "usage: uml-nat [--ipv6] [--restrict] [--no-host-loopback] [--accept] "
		"[--guest-addr A.B.C.D] [--memory-limit BYTES] [--listen FD] FRAMES-FD CONTROL-FD\n"
		"(started by libuml; see libuml/nat-proto.h)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int i;

	S.memory_limit = NAT_DEFAULT_MEMORY_LIMIT;
	inet_pton(AF_INET, NAT_GUEST, &S.guest);
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		if (strcmp(argv[i], "--ipv6") == 0)
			S.ipv6 = true;
		else if (strcmp(argv[i], "--restrict") == 0)
			S.restrict_out = true;
		else if (strcmp(argv[i], "--no-host-loopback") == 0)
			S.no_loopback = true;
		else if (strcmp(argv[i], "--accept") == 0)
			S.accept_mode = true;
		else if (strcmp(argv[i], "--guest-addr") == 0 && i + 1 < argc) {
			if (!guest_side_addr(argv[++i], &S.guest))
				usage();
		} else if (strcmp(argv[i], "--memory-limit") == 0 && i + 1 < argc)
			S.memory_limit = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			if ((S.listen_ctl = parse_fd(argv[++i])) < 0)
				usage();
		} else
			usage();
	}
	if (argc - i != 2 || (S.frames = parse_fd(argv[i])) < 0 || (S.ctl = parse_fd(argv[i + 1])) < 0 ||
	    S.memory_limit < (8u << 20))
		usage();
	if (S.accept_mode) {
		S.listen_frames = S.frames;
		S.frames = -1;
	}
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "uml-nat");
	for (size_t k = 0; k < MAX_CLIENTS; k++)
		S.clients[k] = -1;
	for (size_t k = 0; k < MAX_RELAYS; k++)
		S.relays[k].fd[0] = S.relays[k].fd[1] = -1;
	if (slirp_start() < 0)
		return 1;
	return loop();
}

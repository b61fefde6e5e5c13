/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NAT: a vector interface whose other end is libuml's NAT helper
 * (helper/uml-nat, libslirp in a sandboxed process of its own, one per
 * NAT interface).  At boot the kernel gets one end of a SOCK_SEQPACKET
 * socketpair (vecN:transport=fd) and the helper the other; hot-added to a
 * running guest, which cannot receive fds, the kernel connects to a
 * listening socket of the helper instead (vecN:transport=bess,dst=PATH).
 * A second socketpair carries requests (libuml/nat-proto.h): the forwards
 * of the guest at start, then forwards added, removed or listed while it
 * runs; RUNTIME_DIR/.UMID.nat takes the same requests from other
 * processes (uml-ctl).  The helper is started through uml_spawn() (its
 * watchdog kills it with the embedding process) and exits at EOF of the
 * frames (the guest ended) or of our control socket (released).
 */
#include "config.h"

#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nat-proto.h"
#include "net-internal.h"

#define NAT_REQUEST_TIMEOUT_MS 5000
#define NAT_STOP_TIMEOUT_MS 1000
#define NAT_MIN_MEMORY_LIMIT (16ull << 20)

/* A host-to-guest forward. */
struct nat_fwd {
	enum uml_fwd_proto proto;
	char *host_addr;
	unsigned asked_port;		/* 0: any free one, picked at each start */
	unsigned host_port;		/* the bound one while the helper runs, else asked_port */
	unsigned guest_port;
};

/* A guest-to-host forward, set before boot (started with the helper). */
struct nat_gfwd {
	char *guest_addr;
	unsigned guest_port;
	char *target;			/* a host address, or the absolute path of a unix socket */
	unsigned target_port;
};

struct nat {
	struct uml_ctx *ctx;
	unsigned flags;
	uint64_t memory_limit;
	struct nat_fwd *fwds;
	size_t n_fwds;
	struct nat_gfwd *gfwds;
	size_t n_gfwds;

	/* while the helper runs */
	bool running;
	struct uml_spawn proc;
	int ctl;			/* our end of the control socket */
	int kernel_fd;			/* the kernel's end of the frames, until it started */
	char *sock_path;		/* RUNTIME_DIR/.UMID.nat, for other processes */
	char *frames_path;		/* hot-added: where the kernel connects */
};

static const struct uml_iface_kind nat_kind;

static const char *proto_name(enum uml_fwd_proto p)
{
	return p == UML_FWD_UDP ? "udp" : "tcp";
}

/* ---- finding and talking to the helper ------------------------------------- */

/* The build tree's helper, if it is the caller's (or root's) and nobody else may change it. */
static bool trusted_program(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) &&
	       !(st.st_mode & 022) && (st.st_uid == geteuid() || st.st_uid == 0);
}

static int find_helper(struct uml_instance *inst, char **ret)
{
	const char *env = secure_getenv("UML_NAT_HELPER");
	const char *path = NULL;

	if (env && *env) {
		if (access(env, X_OK) < 0)
			return ifail(inst, -ENOPKG, "$UML_NAT_HELPER '%s' is not an executable: %m",
				     env);
		path = env;
	} else if (access(PKGLIBEXECDIR "/uml-nat", X_OK) == 0) {
		path = PKGLIBEXECDIR "/uml-nat";
	} else if (trusted_program(ABS_BUILDDIR "/helper/uml-nat")) {
		path = ABS_BUILDDIR "/helper/uml-nat";	/* uninstalled, run from the build tree */
	} else {
		return ifail(inst, -ENOPKG, "the NAT helper is not installed (%s/uml-nat; for an "
			     "uninstalled build set $UML_NAT_HELPER to BUILDDIR/helper/uml-nat)",
			     PKGLIBEXECDIR);
	}
	*ret = strdup(path);
	return *ret ? 0 : -ENOMEM;
}

/*
 * Sends one request on a SOCK_SEQPACKET socket and reads its one reply:
 * 0 and what follows "ok" in *ret (allocated; freed if ret is NULL), or
 * the helper's negative errno and its message in *err (allocated, or NULL
 * when it did not answer).
 */
static int nat_exchange(int fd, const char *req, char **ret, char **err)
{
	char *buf = malloc(NAT_MSG_MAX + 1), **slot = err;
	uint64_t until = uml_now_usec() + NAT_REQUEST_TIMEOUT_MS * 1000ull;
	const char *p;
	ssize_t n;
	int r;

	*err = NULL;
	if (!buf)
		return -ENOMEM;
	/* a late reply to a request that timed out must not answer this one */
	while (recv(fd, buf, NAT_MSG_MAX, MSG_DONTWAIT) > 0)
		;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int left = uml_ms_until(until);

		if (left == 0) {
			r = -ETIMEDOUT;
			goto out;
		}
		if (poll(&pfd, 1, left) < 0 && errno != EINTR) {
			r = -errno;
			goto out;
		}
		n = recv(fd, buf, NAT_MSG_MAX, MSG_DONTWAIT);
		if (n > 0)
			break;
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			r = n == 0 ? -ECONNRESET : -errno;
			goto out;
		}
	}
	buf[n] = '\0';
	if (strncmp(buf, "ok", 2) == 0) {
		p = buf + 2 + (buf[2] == ' ' || buf[2] == '\n');
		r = 0;
		slot = ret;
	} else {
		int e = 0, off = 0;

		if (sscanf(buf, "err %d %n", &e, &off) < 1 || e <= 0 || e > 4095) {
			r = -EPROTO;
			goto out;
		}
		r = -e;
		p = buf + off;
	}
	if (slot && !(*slot = strdup(p)))
		r = -ENOMEM;
out:
	free(buf);
	return r;
}

/* A request to our helper; a failure goes to inst with what. */
static int helper_request(struct uml_instance *inst, struct nat *nat, const char *req,
			  const char *what, char **ret)
{
	char *msg = NULL;
	int r = nat_exchange(nat->ctl, req, ret, &msg);

	if (r < 0 && msg)
		ifail(inst, r, "%s: %s", what, msg);
	else if (r < 0)
		ifail(inst, r, "%s: the NAT helper did not answer (%s)", what, strerror(-r));
	free(msg);
	return r;
}

static void helper_stop(struct nat *nat)
{
	siginfo_t si = { 0 };
	struct pollfd p = { .fd = nat->proc.pidfd, .events = POLLIN };

	uml_close_fd(&nat->ctl);	/* EOF: it exits */
	if (nat->running) {
		if (poll(&p, 1, NAT_STOP_TIMEOUT_MS) <= 0)
			uml_info(nat->ctx, "NAT helper %d did not stop; killing it", (int)nat->proc.pid);
		kill(-nat->proc.pid, SIGKILL);
		while (waitid(P_PIDFD, (id_t)nat->proc.pidfd, &si, WEXITED) < 0 && errno == EINTR)
			;
		uml_spawn_release(&nat->proc);
		nat->running = false;
	}
	uml_close_fd(&nat->kernel_fd);
	if (nat->sock_path)
		unlink(nat->sock_path);
	if (nat->frames_path)
		unlink(nat->frames_path);
	free(nat->sock_path);
	free(nat->frames_path);
	nat->sock_path = nat->frames_path = NULL;
	for (size_t i = 0; i < nat->n_fwds; i++)
		nat->fwds[i].host_port = nat->fwds[i].asked_port;
}

/* A listening SOCK_SEQPACKET socket at path (the runtime dir is private to the user). */
static int listen_at(struct uml_instance *inst, const char *path, int *ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path) || strchr(path, ',') || uml_has_space_or_ctrl(path))
		return ifail(inst, -ENAMETOOLONG, "NAT socket path '%s' is too long (or has a "
			     "space or ',')", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ifail(inst, -errno, "cannot create a NAT socket: %m");
	unlink(path);	/* left behind by an owner that was killed */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		int r = ifail(inst, -errno, "cannot listen on '%s': %m", path);

		close(fd);
		return r;
	}
	*ret = fd;
	return 0;
}

/* The guest side of forwards: the interface's address, or slirp's default. */
static void guest_ip(struct uml_iface *ifc, char out[INET_ADDRSTRLEN])
{
	const char *slash = ifc->addr ? strchr(ifc->addr, '/') : NULL;

	snprintf(out, INET_ADDRSTRLEN, "%.*s", slash ? (int)(slash - ifc->addr) : 15,
		 slash ? ifc->addr : NAT_GUEST);
}

static int send_fwd(struct uml_instance *inst, struct uml_iface *ifc, struct nat_fwd *f)
{
	char req[256], what[160], gip[INET_ADDRSTRLEN], *out = NULL;
	int r;

	guest_ip(ifc, gip);
	snprintf(req, sizeof(req), "hostfwd-add %s %s %u %s %u", proto_name(f->proto), f->host_addr,
		 f->asked_port, gip, f->guest_port);
	snprintf(what, sizeof(what), "cannot forward %s %s port %u to guest '%s' port %u",
		 proto_name(f->proto), f->host_addr, f->asked_port, inst->umid, f->guest_port);
	r = helper_request(inst, ifc->priv, req, what, &out);
	if (r == 0) {
		f->host_port = (unsigned)strtoul(out ? out : "0", NULL, 10);
		uml_dbg(inst->ctx, "guest %s: %s %s:%u -> %s:%u", inst->umid, proto_name(f->proto),
			f->host_addr, f->host_port, gip, f->guest_port);
	}
	free(out);
	return r;
}

static int send_gfwd(struct uml_instance *inst, struct nat *nat, struct nat_gfwd *g)
{
	char req[NAT_MSG_MAX], what[200];

	if (g->target[0] == '/')
		snprintf(req, sizeof(req), "guestfwd-add %s %u unix %s", g->guest_addr,
			 g->guest_port, g->target);
	else
		snprintf(req, sizeof(req), "guestfwd-add %s %u tcp %s %u", g->guest_addr,
			 g->guest_port, g->target, g->target_port);
	snprintf(what, sizeof(what), "cannot forward guest '%s' address %s port %u to the host",
		 inst->umid, g->guest_addr, g->guest_port);
	return helper_request(inst, nat, req, what, NULL);
}

/* Starts the helper with the guest's forwards; on a running guest for a hot-add. */
static int nat_prepare(struct uml_instance *inst, struct uml_iface *ifc)
{
	struct nat *nat = ifc->priv;
	const char *dir = uml_ctx_get_runtime_dir(inst->ctx);
	bool live = uml_instance_running(inst);
	char *helper = NULL, *argv[20], gip[INET_ADDRSTRLEN], mem[32], fd_listen[16], fd_frames[16], fd_ctl[16];
	char *cleanup[3] = { NULL };
	int frames[2] = { -1, -1 }, ctl[2] = { -1, -1 }, listen_fd = -1, keep[3], r;
	size_t a = 0;

	if (nat->running)
		return 0;
	r = find_helper(inst, &helper);
	if (r == 0)
		r = uml_ctx_check_runtime_dir(inst->ctx, &inst->last_error, true);
	if (r < 0)
		goto out;
	if (asprintf(&nat->sock_path, "%s/.%s.nat", dir, inst->umid) < 0) {
		nat->sock_path = NULL;
		r = -ENOMEM;
		goto out;
	}
	r = listen_at(inst, nat->sock_path, &listen_fd);
	if (r < 0)
		goto out;
	if (live) {
		/* a sandboxed kernel sees its box, at the same path, and nothing else of ours */
		if (asprintf(&nat->frames_path, "%s/.%s.%s", inst->sandboxed ? inst->box_dir : dir,
			     inst->umid, ifc->name) < 0) {
			nat->frames_path = NULL;
			r = -ENOMEM;
			goto out;
		}
		r = listen_at(inst, nat->frames_path, &frames[1]);
		if (r < 0)
			goto out;
	} else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, frames) < 0) {
		r = ifail(inst, -errno, "cannot create the NAT interface's socket: %m");
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
		r = ifail(inst, -errno, "cannot create the NAT helper's control socket: %m");
		goto out;
	}
	snprintf(mem, sizeof(mem), "%llu", (unsigned long long)nat->memory_limit);
	snprintf(fd_listen, sizeof(fd_listen), "%d", listen_fd);
	snprintf(fd_frames, sizeof(fd_frames), "%d", frames[1]);
	snprintf(fd_ctl, sizeof(fd_ctl), "%d", ctl[1]);
	guest_ip(ifc, gip);
	argv[a++] = helper;
	argv[a++] = "--guest-addr";
	argv[a++] = gip;
	if (nat->flags & UML_NAT_IPV6)
		argv[a++] = "--ipv6";
	if (nat->flags & UML_NAT_RESTRICT)
		argv[a++] = "--restrict";
	if (nat->flags & UML_NAT_NO_HOST_LOOPBACK)
		argv[a++] = "--no-host-loopback";
	if (live)
		argv[a++] = "--accept";
	argv[a++] = "--memory-limit";
	argv[a++] = mem;
	argv[a++] = "--listen";
	argv[a++] = fd_listen;
	argv[a++] = fd_frames;
	argv[a++] = fd_ctl;
	argv[a] = NULL;
	keep[0] = listen_fd;
	keep[1] = frames[1];
	keep[2] = ctl[1];
	cleanup[0] = nat->sock_path;
	cleanup[1] = nat->frames_path;
	r = uml_spawn(inst->ctx, &inst->last_error, &(struct uml_spawn_opts){
			.argv = argv, .envp = (char *[]){ NULL }, .keep_fds = keep, .n_keep = 3,
			.out_fd = -1, .cleanup = cleanup }, &nat->proc);
	if (r < 0)
		goto out;
	nat->running = true;
	nat->ctl = ctl[0];
	ctl[0] = -1;
	nat->kernel_fd = frames[0];
	frames[0] = -1;
	for (size_t i = 0; r == 0 && i < nat->n_fwds; i++)
		r = send_fwd(inst, ifc, &nat->fwds[i]);
	for (size_t i = 0; r == 0 && i < nat->n_gfwds; i++)
		r = send_gfwd(inst, nat, &nat->gfwds[i]);
	if (r == 0)
		r = helper_request(inst, nat, "start", "cannot start the NAT helper", NULL);
	if (r == 0)
		uml_dbg(inst->ctx, "guest %s: NAT helper for %s running (pid %d)", inst->umid,
			ifc->name, (int)nat->proc.pid);
out:
	if (r < 0)
		helper_stop(nat);
	uml_close_fd(&listen_fd);
	uml_close_fd(&frames[0]);
	uml_close_fd(&frames[1]);
	uml_close_fd(&ctl[0]);
	uml_close_fd(&ctl[1]);
	free(helper);
	return r;
}

static int nat_arg(struct uml_instance *inst, struct uml_iface *ifc, char **ret)
{
	struct nat *nat = ifc->priv;
	int r;

	if (nat->frames_path)
		r = asprintf(ret, "vec%u:transport=bess,dst=%s,mac=%s", ifc->unit, nat->frames_path,
			     ifc->mac);
	else
		r = asprintf(ret, "vec%u:transport=fd,fd=%d,vec=0,mac=%s", ifc->unit, nat->kernel_fd,
			     ifc->mac);
	return r < 0 ? -ENOMEM : 0;
}

static int nat_keep_fd(struct uml_iface *ifc)
{
	return ((struct nat *)ifc->priv)->kernel_fd;
}

/* Only the kernel holds its end now: the helper sees EOF when the kernel goes. */
static void nat_started(struct uml_iface *ifc, bool ok)
{
	uml_close_fd(&((struct nat *)ifc->priv)->kernel_fd);
}

static void nat_release(struct uml_iface *ifc)
{
	helper_stop(ifc->priv);
}

static void nat_free(struct uml_iface *ifc)
{
	struct nat *nat = ifc->priv;

	if (!nat)
		return;
	helper_stop(nat);
	for (size_t i = 0; i < nat->n_fwds; i++)
		free(nat->fwds[i].host_addr);
	for (size_t i = 0; i < nat->n_gfwds; i++) {
		free(nat->gfwds[i].guest_addr);
		free(nat->gfwds[i].target);
	}
	free(nat->fwds);
	free(nat->gfwds);
	uml_ctx_unref(nat->ctx);
	free(nat);
}

static const struct uml_iface_kind nat_kind = {
	.name = "NAT interface",
	.vector = true,
	.hot_add = true,
	.prepare = nat_prepare,
	.arg = nat_arg,
	.keep_fd = nat_keep_fd,
	.started = nat_started,
	.release = nat_release,
	.unprepare = nat_release,
	.free = nat_free,
};

UML_EXPORT int uml_instance_add_nat_with_flags(struct uml_instance *inst, unsigned flags,
					       unsigned *ret_index)
{
	struct uml_iface *other;
	struct nat *nat = NULL;
	int r;

	if (!inst)
		return -EINVAL;
	if (flags & ~(unsigned)(UML_NAT_IPV6 | UML_NAT_RESTRICT | UML_NAT_NO_HOST_LOOPBACK))
		return ifail(inst, -EINVAL, "unknown NAT flags 0x%x", flags);
	/*
	 * A live NAT interface is a socket in the guest's box, which the
	 * kernel can connect to only if it is of the kernel's uid; handing it
	 * over by path (chown) in a dir the kernel writes would let it choose
	 * the file.
	 */
	if (uml_instance_running(inst) && inst->sandboxed && inst->sandbox_uid != geteuid())
		return ifail(inst, -EOPNOTSUPP, "NAT cannot be added to running guest '%s', whose "
			     "sandbox runs it as another user: add it before boot", inst->umid);
	other = uml_net_find_kind(inst, &nat_kind);
	if (other)
		return ifail(inst, -EEXIST, "guest '%s' has a NAT interface already (%s)",
			     inst->umid, other->name);
	nat = calloc(1, sizeof(*nat));
	if (!nat)
		return -ENOMEM;
	nat->ctx = uml_ctx_ref(inst->ctx);
	nat->flags = flags;
	nat->memory_limit = NAT_DEFAULT_MEMORY_LIMIT;
	nat->ctl = nat->kernel_fd = nat->proc.pidfd = nat->proc.watchdog_fd = -1;
	r = uml_net_add_iface(inst, &nat_kind, nat, NAT_GUEST "/24", NAT_HOST, ret_index);
	if (r == 0)
		r = uml_net_default_dns(inst, NAT_DNS);
	return r;
}

UML_EXPORT int uml_instance_add_nat(struct uml_instance *inst, unsigned *ret_index)
{
	return uml_instance_add_nat_with_flags(inst, 0, ret_index);
}

/* ---- forwards ------------------------------------------------------------------------ */

/* Interface index of inst, which must be its NAT interface: 0, -ENOENT or -EINVAL (also for no inst). */
static int get_nat(struct uml_instance *inst, unsigned index, struct uml_iface **ret_ifc,
		   struct nat **ret)
{
	struct uml_iface *ifc = inst ? uml_net_get_iface(inst, index) : NULL;

	if (!inst)
		return -EINVAL;
	if (!ifc)
		return -ENOENT;
	if (ifc->kind != &nat_kind)
		return ifail(inst, -EINVAL, "interface %u (%s) of guest '%s' is not a NAT interface",
			     index, ifc->name, inst->umid);
	if (ret_ifc)
		*ret_ifc = ifc;
	*ret = ifc->priv;
	return 0;
}

static bool valid_host_addr(const char *s)
{
	unsigned char a[sizeof(struct in6_addr)];

	return s && (inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1);
}

UML_EXPORT int uml_instance_set_nat_memory_limit(struct uml_instance *inst, unsigned iface,
						 uint64_t bytes)
{
	struct nat *nat = NULL;
	int r;

	r = get_nat(inst, iface, NULL, &nat);
	if (r < 0)
		return r;
	if (bytes < NAT_MIN_MEMORY_LIMIT)
		return ifail(inst, -EINVAL, "a NAT helper needs a memory limit of at least %llu MiB",
			     NAT_MIN_MEMORY_LIMIT >> 20);
	if (nat->running)
		return ifail(inst, -EBUSY, "the NAT helper of guest '%s' runs already", inst->umid);
	nat->memory_limit = bytes;
	return 0;
}

UML_EXPORT int uml_instance_add_port_forward(struct uml_instance *inst, unsigned iface,
					     enum uml_fwd_proto proto, const char *host_addr,
					     unsigned host_port, unsigned guest_port,
					     unsigned *ret_index)
{
	struct uml_iface *ifc;
	struct nat_fwd *v, f = { .proto = proto, .asked_port = host_port, .host_port = host_port,
				 .guest_port = guest_port };
	struct nat *nat = NULL;
	int r;

	r = get_nat(inst, iface, &ifc, &nat);
	if (r < 0)
		return r;
	if (proto != UML_FWD_TCP && proto != UML_FWD_UDP)
		return ifail(inst, -EINVAL, "unknown forward protocol %d", (int)proto);
	if (!host_addr)
		host_addr = "127.0.0.1";
	if (!valid_host_addr(host_addr))
		return ifail(inst, -EINVAL, "host address '%s' is not a numeric IPv4 or IPv6 address",
			     host_addr);
	if (host_port > 65535 || guest_port < 1 || guest_port > 65535)
		return ifail(inst, -EINVAL, "ports are 1 to 65535 (host port 0: any free one)");
	if (ifc->removed || inst->state == UML_STATE_EXITED)
		return ifail(inst, -ENOTCONN, "the NAT interface of guest '%s' is gone", inst->umid);
	if (nat->n_fwds >= NAT_MAX_HOSTFWDS)
		return ifail(inst, -ENOSPC, "guest '%s' has %d port forwards already", inst->umid,
			     NAT_MAX_HOSTFWDS);
	for (size_t i = 0; host_port && i < nat->n_fwds; i++)
		if (nat->fwds[i].proto == proto && nat->fwds[i].host_port == host_port &&
		    strcmp(nat->fwds[i].host_addr, host_addr) == 0)
			return ifail(inst, -EEXIST, "%s %s port %u is forwarded already",
				     proto_name(proto), host_addr, host_port);
	v = realloc(nat->fwds, (nat->n_fwds + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	nat->fwds = v;
	f.host_addr = strdup(host_addr);
	if (!f.host_addr)
		return -ENOMEM;
	if (nat->running) {
		r = send_fwd(inst, ifc, &f);
		if (r < 0) {
			free(f.host_addr);
			return r;
		}
	}
	nat->fwds[nat->n_fwds] = f;
	if (ret_index)
		*ret_index = (unsigned)nat->n_fwds;
	nat->n_fwds++;
	return 0;
}

UML_EXPORT int uml_instance_remove_port_forward(struct uml_instance *inst, unsigned iface,
						enum uml_fwd_proto proto, const char *host_addr,
						unsigned host_port)
{
	struct nat *nat = NULL;
	char req[128], what[128];
	size_t i;
	int r;

	r = get_nat(inst, iface, NULL, &nat);
	if (r < 0)
		return r;
	if (!host_addr)
		host_addr = "127.0.0.1";
	if (!valid_host_addr(host_addr) || host_port < 1 || host_port > 65535)
		return ifail(inst, -EINVAL, "no forward can come from %s port %u", host_addr, host_port);
	for (i = 0; i < nat->n_fwds; i++)
		if (nat->fwds[i].proto == proto && nat->fwds[i].host_port == host_port &&
		    strcmp(nat->fwds[i].host_addr, host_addr) == 0)
			break;
	if (nat->running) {
		/* it may also be one another process added */
		snprintf(req, sizeof(req), "hostfwd-remove %s %s %u", proto_name(proto), host_addr,
			 host_port);
		snprintf(what, sizeof(what), "cannot remove the forward of %s %s port %u",
			 proto_name(proto), host_addr, host_port);
		r = helper_request(inst, nat, req, what, NULL);
		if (r < 0)
			return r == -ENOENT ? -ENOENT : r;
	} else if (i == nat->n_fwds) {
		return ifail(inst, -ENOENT, "guest '%s' has no %s forward from %s port %u", inst->umid,
			     proto_name(proto), host_addr, host_port);
	}
	if (i < nat->n_fwds) {
		free(nat->fwds[i].host_addr);
		memmove(&nat->fwds[i], &nat->fwds[i + 1], (nat->n_fwds - i - 1) * sizeof(nat->fwds[0]));
		nat->n_fwds--;
	}
	return 0;
}

/* Takes the helper's list as ours: it knows those other processes added too. */
static int refresh_list(struct uml_instance *inst, struct nat *nat)
{
	struct nat_fwd *v = NULL;
	size_t n = 0;
	char *text = NULL, *line, *save = NULL;
	int r = helper_request(inst, nat, "list", "cannot list the forwards", &text);

	if (r < 0)
		return r;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char proto[8], host[64], gaddr[64];
		unsigned hport, gport;
		struct nat_fwd *nv;

		if (sscanf(line, "hostfwd %7s %63s %u %63s %u", proto, host, &hport, gaddr, &gport) != 5)
			continue;
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv || !(host[0] && (nv[n].host_addr = strdup(host)))) {
			v = nv ? nv : v;
			r = -ENOMEM;
			break;
		}
		v = nv;
		nv[n].proto = strcmp(proto, "udp") == 0 ? UML_FWD_UDP : UML_FWD_TCP;
		nv[n].host_port = hport;
		nv[n].guest_port = gport;
		/* one we asked for keeps what we asked (0: a new port at the next boot) */
		nv[n].asked_port = hport;
		for (size_t i = 0; i < nat->n_fwds; i++)
			if (nat->fwds[i].proto == nv[n].proto && nat->fwds[i].host_port == hport &&
			    strcmp(nat->fwds[i].host_addr, host) == 0)
				nv[n].asked_port = nat->fwds[i].asked_port;
		n++;
	}
	free(text);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i].host_addr);
		free(v);
		return r;
	}
	for (size_t i = 0; i < nat->n_fwds; i++)
		free(nat->fwds[i].host_addr);
	free(nat->fwds);
	nat->fwds = v;
	nat->n_fwds = n;
	return 0;
}

UML_EXPORT int uml_instance_list_port_forwards(struct uml_instance *inst, unsigned iface,
					       unsigned *ret_count)
{
	struct nat *nat = NULL;
	int r;

	if (!inst || !ret_count)
		return -EINVAL;
	r = get_nat(inst, iface, NULL, &nat);
	if (r < 0)
		return r;
	if (nat->running) {
		r = refresh_list(inst, nat);
		if (r < 0)
			return r;
	}
	*ret_count = (unsigned)nat->n_fwds;
	return 0;
}

UML_EXPORT int uml_instance_get_port_forward(struct uml_instance *inst, unsigned iface,
					     unsigned index, enum uml_fwd_proto *proto,
					     const char **host_addr, unsigned *host_port,
					     unsigned *guest_port)
{
	struct nat *nat = NULL;
	struct nat_fwd *f;
	int r;

	r = get_nat(inst, iface, NULL, &nat);
	if (r < 0)
		return r;
	if (index >= nat->n_fwds)
		return ifail(inst, -ENOENT, "guest '%s' has no port forward %u", inst->umid, index);
	f = &nat->fwds[index];
	if (proto)
		*proto = f->proto;
	if (host_addr)
		*host_addr = f->host_addr;
	if (host_port)
		*host_port = f->host_port;
	if (guest_port)
		*guest_port = f->guest_port;
	return 0;
}

UML_EXPORT int uml_instance_add_guest_forward(struct uml_instance *inst, unsigned iface,
					      const char *guest_addr, unsigned guest_port,
					      const char *host, unsigned host_port)
{
	struct nat_gfwd g = { .guest_port = guest_port, .target_port = host_port }, *v;
	struct in_addr a, net, mask;
	struct uml_iface *ifc;
	struct nat *nat = NULL;
	char gip[INET_ADDRSTRLEN];
	int r;

	if (!inst || !guest_addr || !host)
		return -EINVAL;
	r = get_nat(inst, iface, &ifc, &nat);
	if (r < 0)
		return r;
	inet_pton(AF_INET, NAT_NETWORK, &net);
	inet_pton(AF_INET, NAT_NETMASK, &mask);
	guest_ip(ifc, gip);
	if (inet_pton(AF_INET, guest_addr, &a) != 1 || (a.s_addr & mask.s_addr) != net.s_addr ||
	    strcmp(guest_addr, NAT_HOST) == 0 || strcmp(guest_addr, NAT_DNS) == 0 ||
	    strcmp(guest_addr, gip) == 0 || (ntohl(a.s_addr) & 0xff) == 0 ||
	    (ntohl(a.s_addr) & 0xff) == 0xff)
		return ifail(inst, -EINVAL, "guest-side address '%s' is not a free address of %s/24 "
			     "(not %s, %s or the guest's)", guest_addr, NAT_NETWORK, NAT_HOST, NAT_DNS);
	if (guest_port < 1 || guest_port > 65535)
		return ifail(inst, -EINVAL, "guest-side port %u is not 1 to 65535", guest_port);
	if (host[0] == '/') {
		struct stat st;

		if (strlen(host) >= sizeof(((struct sockaddr_un *)0)->sun_path) ||
		    uml_has_space_or_ctrl(host))
			return ifail(inst, -EINVAL, "unix socket path '%s' is too long or has a space",
				     host);
		if (stat(host, &st) < 0)
			return ifail(inst, -errno, "unix socket '%s': %m", host);
		if (!S_ISSOCK(st.st_mode))
			return ifail(inst, -ENOTSOCK, "'%s' is not a unix socket", host);
		if (nat->running)
			return ifail(inst, -EBUSY, "a forward to a unix socket is set before boot "
				     "(the NAT helper of a running guest sees no host files)");
	} else if (!valid_host_addr(host) || host_port < 1 || host_port > 65535) {
		return ifail(inst, -EINVAL, "host side '%s' port %u is not a numeric address and a "
			     "port, or the absolute path of a unix socket", host, host_port);
	}
	for (size_t i = 0; i < nat->n_gfwds; i++)
		if (nat->gfwds[i].guest_port == guest_port && strcmp(nat->gfwds[i].guest_addr, guest_addr) == 0)
			return ifail(inst, -EEXIST, "guest-side %s port %u is forwarded already",
				     guest_addr, guest_port);
	v = realloc(nat->gfwds, (nat->n_gfwds + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	nat->gfwds = v;
	g.guest_addr = strdup(guest_addr);
	g.target = strdup(host);
	if (!g.guest_addr || !g.target) {
		free(g.guest_addr);
		free(g.target);
		return -ENOMEM;
	}
	if (nat->running) {
		r = send_gfwd(inst, nat, &g);
		if (r < 0) {
			free(g.guest_addr);
			free(g.target);
			return r;
		}
	}
	nat->gfwds[nat->n_gfwds++] = g;
	return 0;
}

/* ---- by umid, from other processes ------------------------------------------------------ */

/* One request to the NAT helper of guest umid; the reply's text in *ret (may be NULL). */
static int ctx_request(struct uml_ctx *ctx, const char *umid, const char *req, char **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *msg = NULL;
	int fd, r;

	if (!umid[0] || strchr(umid, '/') || strcmp(umid, ".") == 0 || strcmp(umid, "..") == 0)
		return uml_fail(ctx, NULL, -EINVAL, "'%s' is not a umid", umid);
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.%s.nat", uml_ctx_get_runtime_dir(ctx),
		     umid) >= (int)sizeof(sa.sun_path))
		return uml_fail(ctx, NULL, -ENAMETOOLONG, "NAT socket path for '%s' is too long", umid);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = uml_fail(ctx, NULL, -ENOTCONN, "no guest '%s' with NAT in %s (%s)", umid,
			     uml_ctx_get_runtime_dir(ctx), strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	r = nat_exchange(fd, req, ret, &msg);
	close(fd);
	if (r < 0)
		uml_fail(ctx, NULL, r, "guest '%s': %s", umid, msg ? msg : strerror(-r));
	free(msg);
	return r;
}

UML_EXPORT int uml_ctx_add_port_forward(struct uml_ctx *ctx, const char *umid,
					enum uml_fwd_proto proto, const char *host_addr,
					unsigned host_port, unsigned guest_port,
					unsigned *ret_host_port)
{
	char req[256], *out = NULL;
	int r;

	if (!ctx || !umid)
		return -EINVAL;
	if (!host_addr)
		host_addr = "127.0.0.1";
	if ((proto != UML_FWD_TCP && proto != UML_FWD_UDP) || !valid_host_addr(host_addr) ||
	    host_port > 65535 || guest_port < 1 || guest_port > 65535)
		return uml_fail(ctx, NULL, -EINVAL, "bad forward %d %s:%u -> %u", (int)proto,
				host_addr, host_port, guest_port);
	/* "guest": the address the helper was started with */
	snprintf(req, sizeof(req), "hostfwd-add %s %s %u guest %u", proto_name(proto), host_addr,
		 host_port, guest_port);
	r = ctx_request(ctx, umid, req, &out);
	if (r == 0 && ret_host_port)
		*ret_host_port = (unsigned)strtoul(out ? out : "0", NULL, 10);
	free(out);
	return r;
}

UML_EXPORT int uml_ctx_remove_port_forward(struct uml_ctx *ctx, const char *umid,
					   enum uml_fwd_proto proto, const char *host_addr,
					   unsigned host_port)
{
	char req[128];

	if (!ctx || !umid)
		return -EINVAL;
	if (!host_addr)
		host_addr = "127.0.0.1";
	if ((proto != UML_FWD_TCP && proto != UML_FWD_UDP) || !valid_host_addr(host_addr) ||
	    host_port < 1 || host_port > 65535)
		return uml_fail(ctx, NULL, -EINVAL, "bad forward %d %s:%u", (int)proto, host_addr,
				host_port);
	snprintf(req, sizeof(req), "hostfwd-remove %s %s %u", proto_name(proto), host_addr, host_port);
	return ctx_request(ctx, umid, req, NULL);
}

UML_EXPORT int uml_ctx_list_port_forwards(struct uml_ctx *ctx, const char *umid, char **ret)
{
	if (!ctx || !umid || !ret)
		return -EINVAL;
	return ctx_request(ctx, umid, "list", ret);
}

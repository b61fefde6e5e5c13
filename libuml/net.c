/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest networking: the kernel arguments, file descriptors and helper
 * processes behind each network interface of an instance.
 *
 * Transports (all in Debian's 6.1 UML kernel; see uml_net_kernel_check()):
 *   NAT     ethN=slirp,MAC,SLIRP  UML forks the slirp helper
 *           itself, in the guest's process group: it dies with the guest.
 *   link    vecN:transport=fd,fd=FD,...  one end of a socketpair per guest;
 *           the other guest holds the other end.  The fd must exist when
 *           the kernel starts, so links are added before boot, and the
 *           kernel closes it when the interface goes down: a link cannot
 *           be taken down and up again.
 *   switch  ethN=vde,DIR,MAC  a port on a vde_switch (vde2) that libuml
 *           starts and stops; the kernel links libvdeplug in statically.
 *   tap     ethN=tuntap,DEV,MAC  an existing tap device, or one libuml
 *           creates (root, or CAP_NET_ADMIN) and deletes with the guest.
 *
 * Addresses reach busybox guests as kernel arguments libuml.ip=IF,ADDR[,GW]
 * and libuml.dns=ADDR that their /init applies (the kernel ignores dotted
 * arguments it does not know, so they stay in /proc/cmdline only); in
 * one-shot mode libuml runs the same `ip` commands before the command.
 */
#include "config.h"

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>

#include "libuml-private.h"

#define MAX_IFACES 16
#define MAX_SWITCH_NAME 32
#define SWITCH_START_TIMEOUT_MS 5000
#define SWITCH_STOP_TIMEOUT_MS 2000
/* slirp's fixed addresses */
#define NAT_GUEST_ADDR "10.0.2.15"
#define NAT_GUEST_CIDR NAT_GUEST_ADDR "/24"
#define NAT_GATEWAY "10.0.2.2"
#define NAT_DNS "10.0.2.3"

enum iface_kind { IFACE_NAT, IFACE_LINK, IFACE_SWITCH, IFACE_TAP };

struct uml_link {
	int refcount;
	struct uml_ctx *ctx;
	int fd[2];
	bool taken[2];
};

struct uml_switch {
	int refcount;
	struct uml_ctx *ctx;
	char *name;
	char *dir;			/* vde_switch's control directory */
	struct uml_spawn proc;
	int stdin_fd;			/* closing it makes vde_switch exit */
	bool running;			/* started by us */
	bool foreign;			/* a switch of another process listens there */
	char *last_error;
};

struct iface {
	enum iface_kind kind;
	unsigned unit;			/* N of ethN / vecN */
	char name[IFNAMSIZ];
	char mac[18];
	bool mac_set;
	char *addr;			/* "A.B.C.D/LEN", or NULL */
	char *gateway;
	struct uml_link *link;
	int end;
	struct uml_switch *sw;
	char *tap;
	bool tap_create, tap_created;
	bool removed;
};

struct uml_net {
	struct iface ifaces[MAX_IFACES];
	size_t n;
	unsigned next_eth, next_vec;
	char *dns;
};

#define ifail(inst, err, ...) \
	uml_fail(uml_instance_get_ctx(inst), uml_instance_last_error_slot(inst), err, __VA_ARGS__)
#define swfail(sw, err, ...) uml_fail((sw)->ctx, &(sw)->last_error, err, __VA_ARGS__)

static struct uml_net *get_net(struct uml_instance *inst, bool create)
{
	struct uml_net **slot = uml_instance_net_slot(inst);

	if (!*slot && create)
		*slot = calloc(1, sizeof(**slot));
	return *slot;
}

static bool guest_running(struct uml_instance *inst)
{
	enum uml_state s = uml_instance_get_state(inst);

	return s == UML_STATE_BOOTING || s == UML_STATE_RUNNING;
}

static struct iface *get_iface(struct uml_instance *inst, unsigned index)
{
	struct uml_net *net = get_net(inst, false);

	if (!net || index >= net->n) {
		ifail(inst, -ENOENT, "guest '%s' has no network interface %u",
		      uml_instance_get_umid(inst), index);
		return NULL;
	}
	return &net->ifaces[index];
}

/* ---- links --------------------------------------------------------------- */

UML_EXPORT int uml_link_new(struct uml_ctx *ctx, struct uml_link **ret)
{
	struct uml_link *link;

	if (!ctx || !ret)
		return -EINVAL;
	link = calloc(1, sizeof(*link));
	if (!link)
		return -ENOMEM;
	/*
	 * SEQPACKET, not DGRAM: a unix datagram socket lets only
	 * net.unix.max_dgram_qlen (10) frames wait at the receiver, which
	 * throttles TCP between guests; seqpacket is limited by buffer bytes.
	 * Frame boundaries are kept either way.
	 */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, link->fd) < 0) {
		int r = -errno;

		free(link);
		return uml_fail(ctx, NULL, r, "cannot create a link (socketpair): %s", strerror(-r));
	}
	link->refcount = 1;
	link->ctx = uml_ctx_ref(ctx);
	*ret = link;
	return 0;
}

UML_EXPORT struct uml_link *uml_link_ref(struct uml_link *link)
{
	if (link)
		__atomic_add_fetch(&link->refcount, 1, __ATOMIC_RELAXED);
	return link;
}

UML_EXPORT struct uml_link *uml_link_unref(struct uml_link *link)
{
	if (!link || __atomic_sub_fetch(&link->refcount, 1, __ATOMIC_ACQ_REL) > 0)
		return NULL;
	close(link->fd[0]);
	close(link->fd[1]);
	uml_ctx_unref(link->ctx);
	free(link);
	return NULL;
}

/* ---- switches ------------------------------------------------------------ */

static bool valid_name(const char *s, size_t max)
{
	size_t len = strlen(s);

	return len > 0 && len <= max && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")] ==
	       '\0';
}

UML_EXPORT int uml_switch_new(struct uml_ctx *ctx, const char *name, struct uml_switch **ret)
{
	struct uml_switch *sw;
	const char *dir;

	if (!ctx || !name || !ret)
		return -EINVAL;
	if (!valid_name(name, MAX_SWITCH_NAME))
		return uml_fail(ctx, NULL, -EINVAL, "switch name '%s' must be 1 to %d characters "
				"from [A-Za-z0-9._-]", name, MAX_SWITCH_NAME);
	dir = uml_ctx_get_runtime_dir(ctx);
	/* vde clients bind DIR/.NNNNN-NNNNN next to DIR/ctl */
	if (strlen(dir) + strlen(name) + 32 > sizeof(((struct sockaddr_un *)0)->sun_path))
		return uml_fail(ctx, NULL, -ENAMETOOLONG, "switch '%s' under runtime dir '%s' "
				"makes a socket path too long", name, dir);
	sw = calloc(1, sizeof(*sw));
	if (!sw)
		return -ENOMEM;
	sw->refcount = 1;
	sw->ctx = uml_ctx_ref(ctx);
	sw->stdin_fd = sw->proc.pidfd = sw->proc.watchdog_fd = -1;
	if (!(sw->name = strdup(name)) || asprintf(&sw->dir, "%s/switch-%s", dir, name) < 0) {
		sw->dir = NULL;
		uml_switch_unref(sw);
		return -ENOMEM;
	}
	*ret = sw;
	return 0;
}

UML_EXPORT struct uml_switch *uml_switch_ref(struct uml_switch *sw)
{
	if (sw)
		__atomic_add_fetch(&sw->refcount, 1, __ATOMIC_RELAXED);
	return sw;
}

static void switch_stop(struct uml_switch *sw)
{
	siginfo_t si = { 0 };
	struct pollfd p = { .fd = sw->proc.pidfd, .events = POLLIN };

	if (!sw->running)
		return;
	/* EOF on its stdin: vde_switch removes its sockets and exits */
	close(sw->stdin_fd);
	sw->stdin_fd = -1;
	if (poll(&p, 1, SWITCH_STOP_TIMEOUT_MS) <= 0)
		uml_info(sw->ctx, "switch %s did not stop; killing it", sw->name);
	kill(-sw->proc.pid, SIGKILL);
	while (waitid(P_PIDFD, (id_t)sw->proc.pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	uml_spawn_release(&sw->proc);
	uml_rm_rf(sw->dir);
	sw->running = false;
	uml_dbg(sw->ctx, "switch %s stopped", sw->name);
}

UML_EXPORT struct uml_switch *uml_switch_unref(struct uml_switch *sw)
{
	if (!sw || __atomic_sub_fetch(&sw->refcount, 1, __ATOMIC_ACQ_REL) > 0)
		return NULL;
	switch_stop(sw);
	uml_ctx_unref(sw->ctx);
	free(sw->name);
	free(sw->dir);
	free(sw->last_error);
	free(sw);
	return NULL;
}

/* Does something accept connections on DIR/ctl? */
static bool ctl_listening(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl", dir);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

UML_EXPORT int uml_switch_start(struct uml_switch *sw)
{
	extern char **environ;
	/* vde_switch exits on EOF of its stdin: give it a pipe only we write */
	char script[64], *vde = NULL, *ctl = NULL;
	char *cleanup[3] = { NULL };
	int p[2] = { -1, -1 }, r;
	uint64_t until;

	if (!sw)
		return -EINVAL;
	if (sw->running || sw->foreign)
		return 0;
	r = uml_ctx_ensure_runtime_dir(sw->ctx);
	if (r < 0)
		return swfail(sw, r, "%s", uml_ctx_last_error(sw->ctx));
	if (ctl_listening(sw->dir)) {
		uml_info(sw->ctx, "switch %s: using the switch already running at %s", sw->name,
			 sw->dir);
		sw->foreign = true;
		return 0;
	}
	r = uml_find_program("vde_switch", &vde);
	if (r < 0)
		return swfail(sw, -ENOPKG, "cannot start switch '%s': vde_switch not found "
			      "(Debian package vde2)", sw->name);
	uml_rm_rf(sw->dir);	/* sockets left by a switch that died */
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = swfail(sw, -errno, "pipe: %m");
		goto out;
	}
	/* dash takes only fds 0-9 in "<&N": reopen the pipe through /proc */
	snprintf(script, sizeof(script), "exec \"$0\" \"$@\" </proc/self/fd/%d", p[0]);
	if (asprintf(&ctl, "%s/ctl", sw->dir) < 0) {
		ctl = NULL;
		r = -ENOMEM;
		goto out;
	}
	cleanup[0] = ctl;
	cleanup[1] = sw->dir;
	r = uml_spawn(sw->ctx, (char *[]){ "/bin/sh", "-c", script, vde, "-s", sw->dir, NULL },
		      environ, &p[0], 1, -1, cleanup, &sw->proc);
	if (r < 0) {
		r = swfail(sw, r, "cannot start switch '%s': %s", sw->name,
			   uml_ctx_last_error(sw->ctx));
		goto out;
	}
	sw->stdin_fd = p[1];
	p[1] = -1;
	sw->running = true;
	until = uml_now_usec() + SWITCH_START_TIMEOUT_MS * 1000ull;
	while (!ctl_listening(sw->dir)) {
		struct pollfd pfd = { .fd = sw->proc.pidfd, .events = POLLIN };

		if (poll(&pfd, 1, 5) > 0 || uml_now_usec() > until) {
			switch_stop(sw);
			r = swfail(sw, -EIO, "switch '%s': vde_switch %s without opening %s",
				   sw->name, pfd.revents ? "exited" : "timed out", ctl);
			goto out;
		}
	}
	uml_info(sw->ctx, "switch %s running (vde_switch pid %d, %s)", sw->name,
		 (int)sw->proc.pid, sw->dir);
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	free(vde);
	free(ctl);
	return r;
}

UML_EXPORT const char *uml_switch_get_path(struct uml_switch *sw)
{
	return sw ? sw->dir : NULL;
}

UML_EXPORT pid_t uml_switch_get_pid(struct uml_switch *sw)
{
	return sw && sw->running ? sw->proc.pid : 0;
}

UML_EXPORT const char *uml_switch_last_error(struct uml_switch *sw)
{
	return sw ? sw->last_error : NULL;
}

/* ---- taps ---------------------------------------------------------------- */

/* Creates (persist=1) or deletes (persist=0) a persistent tap device. */
static int tap_persist(const char *name, int persist, char *ret_name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, persist) < 0)
		r = -errno;
	else if (ret_name)
		snprintf(ret_name, IFNAMSIZ, "%s", ifr.ifr_name);
	close(fd);
	return r;
}

static bool netdev_exists(const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	return access(path, F_OK) == 0;
}

static int tap_prepare(struct uml_instance *inst, struct iface *ifc)
{
	char name[IFNAMSIZ];
	int r;

	if (!ifc->tap_create) {
		if (!netdev_exists(ifc->tap))
			return ifail(inst, -ENODEV, "tap device '%s' does not exist", ifc->tap);
		return 0;
	}
	if (ifc->tap_created)
		return 0;
	if (netdev_exists(ifc->tap))
		return ifail(inst, -EEXIST, "cannot create tap device '%s': a network device of "
			     "that name exists", ifc->tap);
	r = tap_persist(ifc->tap, 1, name);
	if (r == -EPERM || r == -EACCES)
		return ifail(inst, -EPERM, "creating tap device '%s' needs root (CAP_NET_ADMIN)",
			     ifc->tap);
	if (r < 0)
		return ifail(inst, r, "cannot create tap device '%s': %s", ifc->tap, strerror(-r));
	ifc->tap_created = true;
	uml_dbg(uml_instance_get_ctx(inst), "created tap device %s", name);
	return 0;
}

static void tap_delete(struct iface *ifc)
{
	if (ifc->tap_created)
		tap_persist(ifc->tap, 0, NULL);
	ifc->tap_created = false;
}

/* ---- interfaces ---------------------------------------------------------- */

static void default_mac(struct uml_instance *inst, struct iface *ifc)
{
	/* FNV-1a of umid and interface name: stable for a named guest */
	const char *parts[] = { uml_instance_get_umid(inst), "/", ifc->name };
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		for (const char *p = parts[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	/* 02: locally administered, unicast */
	snprintf(ifc->mac, sizeof(ifc->mac), "02:%02x:%02x:%02x:%02x:%02x",
		 (unsigned)(h >> 32) & 0xff, (unsigned)(h >> 24) & 0xff, (unsigned)(h >> 16) & 0xff,
		 (unsigned)(h >> 8) & 0xff, (unsigned)h & 0xff);
}

static const char *iface_mac(struct uml_instance *inst, struct iface *ifc)
{
	if (!ifc->mac_set)
		default_mac(inst, ifc);
	return ifc->mac;
}

/* The ethN=/vecN: argument of an interface (allocated), NULL on ENOMEM. */
static char *iface_arg(struct uml_instance *inst, struct iface *ifc, const char *slirp)
{
	const char *mac = iface_mac(inst, ifc);
	char *s = NULL;
	int r = -1;

	switch (ifc->kind) {
	case IFACE_NAT:
		r = asprintf(&s, "eth%u=slirp,%s,%s", ifc->unit, mac, slirp);
		break;
	case IFACE_LINK:
		r = asprintf(&s, "vec%u:transport=fd,fd=%d,vec=0,mac=%s", ifc->unit,
			     ifc->link->fd[ifc->end], mac);
		break;
	case IFACE_SWITCH:
		r = asprintf(&s, "eth%u=vde,%s,%s", ifc->unit, ifc->sw->dir, mac);
		break;
	case IFACE_TAP:
		r = asprintf(&s, "eth%u=tuntap,%s,%s", ifc->unit, ifc->tap, mac);
		break;
	}
	return r < 0 ? NULL : s;
}

static int find_slirp(struct uml_instance *inst, char **ret)
{
	int r = uml_find_program("slirp-fullbolt", ret);

	if (r < 0)
		r = uml_find_program("slirp", ret);
	if (r < 0)
		return ifail(inst, -ENOPKG, "no slirp helper for NAT (slirp-fullbolt or slirp on "
			     "$PATH; Debian package slirp)");
	if (uml_has_space_or_ctrl(*ret) || strchr(*ret, ',')) {
		r = ifail(inst, -EINVAL, "slirp helper path '%s' has a space or ','", *ret);
		free(*ret);
	}
	return r;
}

/* Starts what the interface needs on the host (switch, tap). */
static int iface_prepare(struct uml_instance *inst, struct iface *ifc)
{
	int r;

	switch (ifc->kind) {
	case IFACE_SWITCH:
		r = uml_switch_start(ifc->sw);
		if (r < 0)
			return ifail(inst, r, "%s", ifc->sw->last_error);
		return 0;
	case IFACE_TAP:
		return tap_prepare(inst, ifc);
	default:
		return 0;
	}
}

static void iface_release(struct iface *ifc)
{
	tap_delete(ifc);
	ifc->link = uml_link_unref(ifc->link);
	ifc->sw = uml_switch_unref(ifc->sw);
}

/* Frees what an interface holds, not the interface itself. */
static void iface_free(struct iface *ifc)
{
	iface_release(ifc);
	free(ifc->addr);
	free(ifc->gateway);
	free(ifc->tap);
}

/*
 * Adds a new interface: at boot time, or now on a running guest (mconsole).
 * Takes over what tmpl holds, also on failure.
 */
static int iface_add(struct uml_instance *inst, struct iface *tmpl, unsigned *ret_index)
{
	struct uml_net *net;
	struct iface *ifc;
	char *arg = NULL, *slirp = NULL;
	bool live = guest_running(inst);
	int r;

	if (uml_instance_get_state(inst) == UML_STATE_EXITED) {
		iface_free(tmpl);
		return ifail(inst, -EBUSY, "guest '%s' has ended", uml_instance_get_umid(inst));
	}
	net = get_net(inst, true);
	if (!net) {
		iface_free(tmpl);
		return -ENOMEM;
	}
	if (net->n >= MAX_IFACES) {
		iface_free(tmpl);
		return ifail(inst, -ENOSPC, "guest '%s' has %d network interfaces already",
			     uml_instance_get_umid(inst), MAX_IFACES);
	}
	ifc = &net->ifaces[net->n];
	*ifc = *tmpl;
	if (ifc->kind == IFACE_LINK) {
		ifc->unit = net->next_vec;
		snprintf(ifc->name, sizeof(ifc->name), "vec%u", ifc->unit);
	} else {
		ifc->unit = net->next_eth;
		snprintf(ifc->name, sizeof(ifc->name), "eth%u", ifc->unit);
	}
	if (live) {
		if (ifc->kind == IFACE_NAT && (r = find_slirp(inst, &slirp)) < 0)
			goto fail;
		r = iface_prepare(inst, ifc);
		if (r < 0)
			goto fail;
		arg = iface_arg(inst, ifc, slirp);
		if (!arg) {
			r = -ENOMEM;
			goto fail;
		}
		r = uml_instance_mconsole_config(inst, arg);
		if (r < 0)
			goto fail;
		uml_info(uml_instance_get_ctx(inst), "guest %s: hot-added %s (%s)",
			 uml_instance_get_umid(inst), ifc->name, arg);
	}
	free(arg);
	free(slirp);
	if (ifc->kind == IFACE_LINK)
		net->next_vec++;
	else
		net->next_eth++;
	net->n++;
	if (ret_index)
		*ret_index = (unsigned)(net->n - 1);
	return 0;
fail:
	iface_free(ifc);	/* the slot stays free: net->n did not grow */
	free(arg);
	free(slirp);
	return r;
}

UML_EXPORT int uml_instance_add_nat(struct uml_instance *inst, unsigned *ret_index)
{
	struct uml_net *net;
	struct iface t = { .kind = IFACE_NAT };
	int r;

	if (!inst)
		return -EINVAL;
	net = get_net(inst, false);
	for (size_t i = 0; net && i < net->n; i++)
		if (net->ifaces[i].kind == IFACE_NAT && !net->ifaces[i].removed)
			return ifail(inst, -EEXIST, "guest '%s' has a NAT interface already (%s)",
				     uml_instance_get_umid(inst), net->ifaces[i].name);
	if (!(t.addr = strdup(NAT_GUEST_CIDR)) || !(t.gateway = strdup(NAT_GATEWAY))) {
		free(t.addr);
		return -ENOMEM;
	}
	r = iface_add(inst, &t, ret_index);
	if (r < 0)
		return r;
	net = get_net(inst, false);
	if (!net->dns && !(net->dns = strdup(NAT_DNS)))
		return -ENOMEM;
	return 0;
}

UML_EXPORT int uml_instance_add_link(struct uml_instance *inst, struct uml_link *link,
				     unsigned *ret_index)
{
	struct iface t = { .kind = IFACE_LINK };
	int r;

	if (!inst || !link)
		return -EINVAL;
	if (guest_running(inst))
		return ifail(inst, -EBUSY, "a link cannot be added to running guest '%s': its "
			     "socket must exist when the kernel starts (use a switch port)",
			     uml_instance_get_umid(inst));
	if (link->taken[0] && link->taken[1])
		return ifail(inst, -EBUSY, "the link connects two guests already");
	t.end = link->taken[0] ? 1 : 0;
	t.link = uml_link_ref(link);
	r = iface_add(inst, &t, ret_index);
	if (r == 0)
		link->taken[t.end] = true;
	return r;
}

UML_EXPORT int uml_instance_add_switch_port(struct uml_instance *inst, struct uml_switch *sw,
					    unsigned *ret_index)
{
	struct iface t = { .kind = IFACE_SWITCH };

	if (!inst || !sw)
		return -EINVAL;
	t.sw = uml_switch_ref(sw);
	return iface_add(inst, &t, ret_index);
}

UML_EXPORT int uml_instance_add_tap(struct uml_instance *inst, const char *dev, unsigned flags,
				    unsigned *ret_index)
{
	struct iface t = { .kind = IFACE_TAP, .tap_create = flags & UML_TAP_CREATE };

	if (!inst || !dev)
		return -EINVAL;
	if (flags & ~(unsigned)UML_TAP_CREATE)
		return ifail(inst, -EINVAL, "unknown tap flags 0x%x", flags);
	if (!*dev || strlen(dev) >= IFNAMSIZ || strpbrk(dev, "/,:%=") || uml_has_space_or_ctrl(dev))
		return ifail(inst, -EINVAL, "'%s' is not a valid network device name", dev);
	if (!t.tap_create && geteuid() != 0 && !netdev_exists(dev))
		return ifail(inst, -ENODEV, "tap device '%s' does not exist", dev);
	t.tap = strdup(dev);
	if (!t.tap)
		return -ENOMEM;
	return iface_add(inst, &t, ret_index);
}

/* ---- interface settings and getters ------------------------------------ */

static int parse_mac(const char *s, char out[18])
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6 || strlen(s) != 17)
		return -EINVAL;
	if (v[0] & 1)
		return -EADDRNOTAVAIL;	/* multicast */
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", (unsigned char)v[0],
		 (unsigned char)v[1], (unsigned char)v[2], (unsigned char)v[3],
		 (unsigned char)v[4], (unsigned char)v[5]);
	return 0;
}

UML_EXPORT int uml_instance_set_iface_mac(struct uml_instance *inst, unsigned index,
					  const char *mac)
{
	struct iface *ifc;
	char m[18];
	int r;

	if (!inst || !mac)
		return -EINVAL;
	ifc = get_iface(inst, index);
	if (!ifc)
		return -ENOENT;
	if (uml_instance_get_state(inst) != UML_STATE_CONFIGURING)
		return ifail(inst, -EBUSY, "the MAC address of %s is fixed once the guest booted",
			     ifc->name);
	r = parse_mac(mac, m);
	if (r == -EADDRNOTAVAIL)
		return ifail(inst, -EINVAL, "MAC address '%s' is a multicast address", mac);
	if (r < 0)
		return ifail(inst, -EINVAL, "'%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", mac);
	memcpy(ifc->mac, m, sizeof(m));
	ifc->mac_set = true;
	return 0;
}

static bool valid_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

UML_EXPORT int uml_instance_set_iface_address(struct uml_instance *inst, unsigned index,
					      const char *address, const char *gateway)
{
	struct iface *ifc;
	char ip[INET_ADDRSTRLEN + 1], *a = NULL, *g = NULL, *end;
	const char *slash;
	long len;

	if (!inst)
		return -EINVAL;
	ifc = get_iface(inst, index);
	if (!ifc)
		return -ENOENT;
	if (uml_instance_get_state(inst) != UML_STATE_CONFIGURING)
		return ifail(inst, -EBUSY, "the address of %s is set at boot", ifc->name);
	if (address) {
		slash = strchr(address, '/');
		if (!slash || (size_t)(slash - address) >= sizeof(ip))
			return ifail(inst, -EINVAL, "address '%s' is not A.B.C.D/LEN", address);
		snprintf(ip, sizeof(ip), "%.*s", (int)(slash - address), address);
		errno = 0;
		len = strtol(slash + 1, &end, 10);
		if (!valid_ipv4(ip) || end == slash + 1 || *end || len < 1 || len > 32)
			return ifail(inst, -EINVAL, "address '%s' is not A.B.C.D/LEN", address);
	}
	if (gateway && (!address || !valid_ipv4(gateway)))
		return ifail(inst, -EINVAL, "gateway '%s' is not an IPv4 address (or no address "
			     "was given)", gateway);
	if ((address && !(a = strdup(address))) || (gateway && !(g = strdup(gateway)))) {
		free(a);
		return -ENOMEM;
	}
	free(ifc->addr);
	free(ifc->gateway);
	ifc->addr = a;
	ifc->gateway = g;
	return 0;
}

UML_EXPORT int uml_instance_set_dns(struct uml_instance *inst, const char *server)
{
	struct uml_net *net;
	char *copy = NULL;

	if (!inst)
		return -EINVAL;
	if (uml_instance_get_state(inst) != UML_STATE_CONFIGURING)
		return ifail(inst, -EBUSY, "the DNS server is set at boot");
	if (server && !valid_ipv4(server))
		return ifail(inst, -EINVAL, "DNS server '%s' is not an IPv4 address", server);
	net = get_net(inst, true);
	if (!net || (server && !(copy = strdup(server)))) {
		free(copy);
		return -ENOMEM;
	}
	free(net->dns);
	net->dns = copy;
	return 0;
}

UML_EXPORT unsigned uml_instance_get_iface_count(struct uml_instance *inst)
{
	struct uml_net *net = inst ? get_net(inst, false) : NULL;

	return net ? (unsigned)net->n : 0;
}

UML_EXPORT const char *uml_instance_get_iface_name(struct uml_instance *inst, unsigned index)
{
	struct uml_net *net = inst ? get_net(inst, false) : NULL;

	return net && index < net->n ? net->ifaces[index].name : NULL;
}

UML_EXPORT const char *uml_instance_get_iface_mac(struct uml_instance *inst, unsigned index)
{
	struct uml_net *net = inst ? get_net(inst, false) : NULL;

	return net && index < net->n ? iface_mac(inst, &net->ifaces[index]) : NULL;
}

UML_EXPORT int uml_instance_remove_iface(struct uml_instance *inst, unsigned index)
{
	struct iface *ifc;
	int r;

	if (!inst)
		return -EINVAL;
	ifc = get_iface(inst, index);
	if (!ifc)
		return -ENOENT;
	if (!guest_running(inst))
		return ifail(inst, -ENOTCONN, "guest '%s' does not run",
			     uml_instance_get_umid(inst));
	if (ifc->removed)
		return ifail(inst, -ENODEV, "%s was removed already", ifc->name);
	r = uml_instance_mconsole_remove(inst, ifc->name);
	if (r < 0)
		return r;
	ifc->removed = true;
	iface_release(ifc);
	return 0;
}

/* ---- hooks for instance.c --------------------------------------------- */

static bool booted_with(struct iface *ifc)
{
	return !ifc->removed;
}

int uml_net_count_args(struct uml_instance *inst)
{
	struct uml_net *net = get_net(inst, false);
	int n = 0;

	for (size_t i = 0; net && i < net->n; i++)
		if (booted_with(&net->ifaces[i]))
			n += net->ifaces[i].addr ? 2 : 1;
	return n + (net && net->dns ? 1 : 0);
}

int uml_net_build_args(struct uml_instance *inst, char **argv, size_t *n)
{
	struct uml_net *net = get_net(inst, false);
	char *slirp = NULL;
	int r = 0;

	for (size_t i = 0; net && i < net->n && r == 0; i++) {
		struct iface *ifc = &net->ifaces[i];

		if (!booted_with(ifc))
			continue;
		if (ifc->kind == IFACE_NAT && !slirp && (r = find_slirp(inst, &slirp)) < 0)
			break;
		argv[*n] = iface_arg(inst, ifc, slirp ? slirp : "");
		if (!argv[*n]) {
			r = -ENOMEM;
			break;
		}
		(*n)++;
		if (ifc->addr) {
			if (asprintf(&argv[*n], "libuml.ip=%s,%s%s%s", ifc->name, ifc->addr,
				     ifc->gateway ? "," : "", ifc->gateway ? ifc->gateway : "") < 0) {
				argv[*n] = NULL;
				r = -ENOMEM;
				break;
			}
			(*n)++;
		}
	}
	if (r == 0 && net && net->dns) {
		if (asprintf(&argv[*n], "libuml.dns=%s", net->dns) < 0) {
			argv[*n] = NULL;
			r = -ENOMEM;
		} else {
			(*n)++;
		}
	}
	free(slirp);
	return r;
}

int uml_net_boot_prepare(struct uml_instance *inst, int *keep, size_t *n_keep)
{
	struct uml_net *net = get_net(inst, false);

	for (size_t i = 0; net && i < net->n; i++) {
		struct iface *ifc = &net->ifaces[i];
		int r = iface_prepare(inst, ifc);

		if (r < 0) {
			uml_net_boot_failed(inst);
			return r;
		}
		if (ifc->kind == IFACE_LINK)
			keep[(*n_keep)++] = ifc->link->fd[ifc->end];
	}
	return 0;
}

void uml_net_boot_failed(struct uml_instance *inst)
{
	struct uml_net *net = get_net(inst, false);

	for (size_t i = 0; net && i < net->n; i++)
		tap_delete(&net->ifaces[i]);
}

void uml_net_guest_ended(struct uml_instance *inst)
{
	struct uml_net *net = get_net(inst, false);

	for (size_t i = 0; net && i < net->n; i++)
		iface_release(&net->ifaces[i]);
}

char *uml_net_run_prologue(struct uml_instance *inst)
{
	struct uml_net *net = get_net(inst, false);
	struct uml_buf b = { 0 };
	int r = 0;

	if (!net || net->n == 0)
		return NULL;
	/* quiet: the command's own output is what the caller reads */
	r |= uml_buf_append(&b, "{ ip link set lo up\n", 20);
	for (size_t i = 0; i < net->n; i++) {
		struct iface *ifc = &net->ifaces[i];
		char *line;

		if (!ifc->addr)
			continue;
		if (asprintf(&line, "ip link set %s up; ip addr add %s dev %s\n%s%s%s%s", ifc->name,
			     ifc->addr, ifc->name, ifc->gateway ? "ip route add default via " : "",
			     ifc->gateway ? ifc->gateway : "", ifc->gateway ? " dev " : "",
			     ifc->gateway ? ifc->name : "") < 0)
			return uml_buf_free(&b), NULL;
		r |= uml_buf_append(&b, line, strlen(line));
		if (ifc->gateway)
			r |= uml_buf_append(&b, "\n", 1);
		free(line);
	}
	if (net->dns) {
		r |= uml_buf_append(&b, "echo nameserver ", 16);
		r |= uml_buf_append(&b, net->dns, strlen(net->dns));
		r |= uml_buf_append(&b, " >/etc/resolv.conf\n", 19);
	}
	r |= uml_buf_append(&b, "} >/dev/null 2>&1\n", 18);
	if (r) {
		uml_buf_free(&b);
		return NULL;
	}
	return b.data;
}

void uml_net_free(struct uml_instance *inst)
{
	struct uml_net **slot = uml_instance_net_slot(inst);
	struct uml_net *net = *slot;

	if (!net)
		return;
	for (size_t i = 0; i < net->n; i++)
		iface_free(&net->ifaces[i]);
	free(net->dns);
	free(net);
	*slot = NULL;
}

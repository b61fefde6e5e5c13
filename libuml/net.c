/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest networking: an instance's network interfaces, their names, MACs
 * and addresses, and their kernel arguments, fds and host-side helpers at
 * boot.  Each kind of interface is an ops table (net-internal.h): NAT
 * (net-nat.c, through the uml-nat helper), links (net-link.c), switch ports (net-switch.c), taps
 * (net-tap.c).
 *
 * Addresses reach busybox guests as kernel arguments libuml.ip=IF,ADDR[,GW]
 * and libuml.dns=ADDR that their /init applies (the kernel ignores dotted
 * arguments it does not know, so they stay in /proc/cmdline only); in
 * one-shot mode libuml runs the same `ip` commands before the command.
 */
#include "config.h"

#include <arpa/inet.h>

#include "net-internal.h"

#define MAX_IFACES 16

struct uml_net {
	struct uml_iface ifaces[MAX_IFACES];
	size_t n;
	unsigned next_eth, next_vec;
	char *dns;
};

static const struct uml_part_ops net_ops;

static void iface_release(struct uml_iface *ifc)
{
	if (ifc->kind->release)
		ifc->kind->release(ifc);
}

/* Frees what an interface holds, not the interface itself. */
static void iface_free(struct uml_iface *ifc)
{
	iface_release(ifc);
	if (ifc->kind->free)
		ifc->kind->free(ifc);
	free(ifc->addr);
	free(ifc->gateway);
}

static void net_free(void *data)
{
	struct uml_net *net = data;

	for (size_t i = 0; i < net->n; i++)
		iface_free(&net->ifaces[i]);
	free(net->dns);
	free(net);
}

/* The instance's network state, made at first use; NULL without memory. */
static struct uml_net *get_net(struct uml_instance *inst)
{
	struct uml_net *net = uml_instance_get_part(inst, &net_ops);

	if (net)
		return net;
	net = calloc(1, sizeof(*net));
	if (!net || uml_instance_add_part(inst, &net_ops, net) < 0)
		return NULL;
	return net;
}

static struct uml_net *find_net(struct uml_instance *inst)
{
	return uml_instance_get_part(inst, &net_ops);
}

struct uml_iface *uml_net_get_iface(struct uml_instance *inst, unsigned index)
{
	struct uml_net *net = find_net(inst);

	if (!net || index >= net->n) {
		ifail(inst, -ENOENT, "guest '%s' has no network interface %u", inst->umid, index);
		return NULL;
	}
	return &net->ifaces[index];
}

static void default_mac(struct uml_instance *inst, struct uml_iface *ifc)
{
	/* FNV-1a of umid and interface name: stable for a named guest */
	const char *parts[] = { inst->umid, "/", ifc->name };
	uint64_t h = UML_HASH_INIT;

	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		h = uml_hash_bytes(h, parts[i], strlen(parts[i]));
	/* 02: locally administered, unicast */
	snprintf(ifc->mac, sizeof(ifc->mac), "02:%02x:%02x:%02x:%02x:%02x",
		 (unsigned)(h >> 32) & 0xff, (unsigned)(h >> 24) & 0xff, (unsigned)(h >> 16) & 0xff,
		 (unsigned)(h >> 8) & 0xff, (unsigned)h & 0xff);
}

static const char *iface_mac(struct uml_instance *inst, struct uml_iface *ifc)
{
	if (!ifc->mac_set)
		default_mac(inst, ifc);
	return ifc->mac;
}


int uml_net_add_iface(struct uml_instance *inst, const struct uml_iface_kind *kind, void *priv,
		      const char *addr, const char *gateway, unsigned *ret_index)
{
	struct uml_iface t = { .kind = kind, .priv = priv };
	bool live = uml_instance_running(inst);
	struct uml_iface *ifc;
	struct uml_net *net;
	char *arg = NULL;
	int r;

	if ((addr && !(t.addr = strdup(addr))) || (gateway && !(t.gateway = strdup(gateway)))) {
		iface_free(&t);
		return -ENOMEM;
	}
	if (inst->state == UML_STATE_EXITED) {
		iface_free(&t);
		return ifail(inst, -EBUSY, "guest '%s' has ended", inst->umid);
	}
	if (live && !kind->hot_add) {
		iface_free(&t);
		return ifail(inst, -EBUSY, "a %s cannot be added to running guest '%s': its "
			     "socket must exist when the kernel starts (use a switch port)",
			     kind->name, inst->umid);
	}
	net = get_net(inst);
	if (!net) {
		iface_free(&t);
		return -ENOMEM;
	}
	if (net->n >= MAX_IFACES) {
		iface_free(&t);
		return ifail(inst, -ENOSPC, "guest '%s' has %d network interfaces already",
			     inst->umid, MAX_IFACES);
	}
	ifc = &net->ifaces[net->n];
	*ifc = t;
	ifc->unit = kind->vector ? net->next_vec : net->next_eth;
	snprintf(ifc->name, sizeof(ifc->name), "%s%u", kind->vector ? "vec" : "eth", ifc->unit);
	if (live) {
		iface_mac(inst, ifc);
		r = kind->prepare ? kind->prepare(inst, ifc) : 0;
		if (r == 0)
			r = kind->arg(inst, ifc, &arg);
		if (r == 0)
			r = uml_instance_mconsole_config(inst, arg);
		if (r < 0) {
			iface_free(ifc);	/* the slot stays free: net->n did not grow */
			free(arg);
			return r;
		}
		uml_info(inst->ctx, "guest %s: hot-added %s (%s)", inst->umid, ifc->name, arg);
		free(arg);
	}
	if (kind->vector)
		net->next_vec++;
	else
		net->next_eth++;
	net->n++;
	if (ret_index)
		*ret_index = (unsigned)(net->n - 1);
	return 0;
}

struct uml_iface *uml_net_find_kind(struct uml_instance *inst, const struct uml_iface_kind *kind)
{
	struct uml_net *net = find_net(inst);

	for (size_t i = 0; net && i < net->n; i++)
		if (net->ifaces[i].kind == kind && !net->ifaces[i].removed)
			return &net->ifaces[i];
	return NULL;
}

struct uml_iface *uml_net_find_booted(struct uml_instance *inst, const struct uml_iface_kind *kind,
				      const void *priv)
{
	struct uml_net *net = find_net(inst);

	for (size_t i = 0; net && i < net->n; i++)
		if (net->ifaces[i].kind == kind && net->ifaces[i].priv == priv && net->ifaces[i].booted)
			return &net->ifaces[i];
	return NULL;
}

int uml_net_default_dns(struct uml_instance *inst, const char *server)
{
	struct uml_net *net = get_net(inst);

	if (!net)
		return -ENOMEM;
	return net->dns ? 0 : uml_set_string(&net->dns, server);
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
	struct uml_iface *ifc;
	char m[18];
	int r;

	if (!inst || !mac)
		return -EINVAL;
	ifc = uml_net_get_iface(inst, index);
	if (!ifc)
		return -ENOENT;
	if (inst->state != UML_STATE_CONFIGURING)
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
	struct uml_iface *ifc;
	char ip[INET_ADDRSTRLEN + 1], *a = NULL, *g = NULL, *end;
	const char *slash;
	long len;

	if (!inst)
		return -EINVAL;
	ifc = uml_net_get_iface(inst, index);
	if (!ifc)
		return -ENOENT;
	if (inst->state != UML_STATE_CONFIGURING)
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
	if (inst->state != UML_STATE_CONFIGURING)
		return ifail(inst, -EBUSY, "the DNS server is set at boot");
	if (server && !valid_ipv4(server))
		return ifail(inst, -EINVAL, "DNS server '%s' is not an IPv4 address", server);
	net = get_net(inst);
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
	struct uml_net *net = inst ? find_net(inst) : NULL;

	return net ? (unsigned)net->n : 0;
}

UML_EXPORT const char *uml_instance_get_iface_name(struct uml_instance *inst, unsigned index)
{
	struct uml_net *net = inst ? find_net(inst) : NULL;

	return net && index < net->n ? net->ifaces[index].name : NULL;
}

UML_EXPORT const char *uml_instance_get_iface_mac(struct uml_instance *inst, unsigned index)
{
	struct uml_net *net = inst ? find_net(inst) : NULL;

	return net && index < net->n ? iface_mac(inst, &net->ifaces[index]) : NULL;
}

UML_EXPORT int uml_instance_remove_iface(struct uml_instance *inst, unsigned index)
{
	struct uml_iface *ifc;
	int r;

	if (!inst)
		return -EINVAL;
	ifc = uml_net_get_iface(inst, index);
	if (!ifc)
		return -ENOENT;
	if (!uml_instance_running(inst))
		return ifail(inst, -ENOTCONN, "guest '%s' does not run", inst->umid);
	if (ifc->removed)
		return ifail(inst, -ENODEV, "%s was removed already", ifc->name);
	r = uml_instance_mconsole_remove(inst, ifc->name);
	if (r < 0)
		return r;
	ifc->removed = true;
	iface_release(ifc);
	return 0;
}

/* ---- the part: interfaces at boot ------------------------------------------ */

static void net_unprepare(struct uml_net *net)
{
	for (size_t i = 0; i < net->n; i++)
		if (net->ifaces[i].kind->unprepare)
			net->ifaces[i].kind->unprepare(&net->ifaces[i]);
}

static int net_prepare(struct uml_instance *inst, void *data)
{
	struct uml_net *net = data;

	for (size_t i = 0; i < net->n; i++) {
		struct uml_iface *ifc = &net->ifaces[i];
		int r = ifc->kind->prepare ? ifc->kind->prepare(inst, ifc) : 0;

		if (r < 0) {
			net_unprepare(net);
			return r;
		}
	}
	return 0;
}

static int net_launch(struct uml_instance *inst, void *data, struct uml_launch *l)
{
	struct uml_net *net = data;
	int r = 0;

	for (size_t i = 0; i < net->n && r == 0; i++) {
		struct uml_iface *ifc = &net->ifaces[i];
		int fd = ifc->kind->keep_fd ? ifc->kind->keep_fd(ifc) : -1;
		char *arg = NULL;

		if (ifc->removed)
			continue;
		iface_mac(inst, ifc);
		r = ifc->kind->arg(inst, ifc, &arg);
		if (r == 0)
			r = uml_strv_take(&l->args, arg);
		if (r == 0 && ifc->kind->launch)
			r = ifc->kind->launch(inst, ifc, l);
		if (r == 0 && fd >= 0)
			r = uml_intv_add(&l->keep_fds, fd);
		ifc->booted = r == 0;
		if (r == 0 && ifc->addr)
			r = uml_strv_addf(&l->args, "libuml.ip=%s,%s%s%s", ifc->name, ifc->addr,
					  ifc->gateway ? "," : "", ifc->gateway ? ifc->gateway : "");
	}
	if (r == 0 && net->dns)
		r = uml_strv_addf(&l->args, "libuml.dns=%s", net->dns);
	return r;
}

static void net_started(struct uml_instance *inst, void *data, bool ok)
{
	struct uml_net *net = data;

	for (size_t i = 0; i < net->n; i++)
		if (net->ifaces[i].kind->started)
			net->ifaces[i].kind->started(&net->ifaces[i], ok);
	if (!ok)
		net_unprepare(net);
}

/* The guest ended: drop switches and links, delete taps. */
static void net_ended(struct uml_instance *inst, void *data)
{
	struct uml_net *net = data;

	for (size_t i = 0; i < net->n; i++)
		iface_release(&net->ifaces[i]);
}

/* Shell lines that set the addresses in one-shot mode. */
static int net_run_prologue(struct uml_instance *inst, void *data, struct uml_buf *b)
{
	struct uml_net *net = data;
	int r = 0;

	if (net->n == 0)
		return 0;
	/* quiet: the command's own output is what the caller reads */
	r |= uml_buf_append(b, "{ ip link set lo up\n", 20);
	for (size_t i = 0; i < net->n; i++) {
		struct uml_iface *ifc = &net->ifaces[i];

		if (!ifc->addr)
			continue;
		r |= uml_buf_printf(b, "ip link set %s up; ip addr add %s dev %s\n", ifc->name,
				    ifc->addr, ifc->name);
		if (ifc->gateway)
			r |= uml_buf_printf(b, "ip route add default via %s dev %s\n",
					    ifc->gateway, ifc->name);
	}
	if (net->dns)
		r |= uml_buf_printf(b, "echo nameserver %s >/etc/resolv.conf\n", net->dns);
	r |= uml_buf_append(b, "} >/dev/null 2>&1\n", 18);
	return r ? -ENOMEM : 0;
}

static const struct uml_part_ops net_ops = {
	.name = "network",
	.prepare = net_prepare,
	.launch = net_launch,
	.started = net_started,
	.run_prologue = net_run_prologue,
	.ended = net_ended,
	.free = net_free,
};

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NAT: ethN=slirp,MAC,SLIRP.  UML forks the slirp helper (Debian's slirp)
 * itself, in the guest's process group: it dies with the guest.  slirp's
 * addresses are fixed: the guest is 10.0.2.15/24, the gateway 10.0.2.2 is
 * the host's loopback, 10.0.2.3 answers DNS.
 */
#include "config.h"

#include "net-internal.h"

#define NAT_GUEST_CIDR "10.0.2.15/24"
#define NAT_GATEWAY "10.0.2.2"
#define NAT_DNS "10.0.2.3"

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

static int nat_arg(struct uml_instance *inst, struct uml_iface *ifc, char **ret)
{
	char *slirp = NULL;
	int r = find_slirp(inst, &slirp);

	if (r < 0)
		return r;
	r = asprintf(ret, "eth%u=slirp,%s,%s", ifc->unit, ifc->mac, slirp) < 0 ? -ENOMEM : 0;
	free(slirp);
	return r;
}

/* The kernel starts slirp itself: it needs the program and the host's network. */
static int nat_launch(struct uml_instance *inst, struct uml_iface *ifc, struct uml_launch *l)
{
	char *slirp = NULL;
	int r = find_slirp(inst, &slirp);

	if (r == 0)
		r = uml_launch_add_path(l, slirp, UML_SB_EXEC);
	uml_launch_use_host_network(l);
	free(slirp);
	return r;
}

static const struct uml_iface_kind nat_kind = {
	.name = "NAT interface",
	.hot_add = true,
	.arg = nat_arg,
	.launch = nat_launch,
};

UML_EXPORT int uml_instance_add_nat(struct uml_instance *inst, unsigned *ret_index)
{
	struct uml_iface *other;
	int r;

	if (!inst)
		return -EINVAL;
	/* slirp runs in the kernel's sandbox, which has no host network unless it had NAT at boot */
	if (uml_instance_running(inst) && inst->sandboxed)
		return ifail(inst, -EOPNOTSUPP, "NAT cannot be added to running sandboxed guest '%s': "
			     "add it before boot", inst->umid);
	other = uml_net_find_kind(inst, &nat_kind);
	if (other)
		return ifail(inst, -EEXIST, "guest '%s' has a NAT interface already (%s)",
			     inst->umid, other->name);
	r = uml_net_add_iface(inst, &nat_kind, NULL, NAT_GUEST_CIDR, NAT_GATEWAY, ret_index);
	if (r == 0)
		r = uml_net_default_dns(inst, NAT_DNS);
	return r;
}

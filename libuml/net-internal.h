/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Network interfaces of a guest.  net.c keeps an instance's interfaces
 * (names, MACs, addresses) as one part of the instance; each kind of
 * interface is an ops table in its own file (net-nat.c, net-link.c,
 * net-switch.c, net-tap.c) that net.c calls without knowing its name.
 * To add a backend: a new file with a struct uml_iface_kind and the
 * public call that adds such an interface.
 */
#ifndef LIBUML_NET_INTERNAL_H
#define LIBUML_NET_INTERNAL_H

#include <net/if.h>

#include "instance-internal.h"

struct uml_iface;

struct uml_iface_kind {
	const char *name;		/* for messages: "NAT", "link" ... */
	bool vector;			/* a vecN interface (else ethN) */
	bool hot_add;			/* may join a running guest (mconsole config) */
	/* Starts what it needs on the host (a switch, a tap); at boot or hot-add. */
	int (*prepare)(struct uml_instance *inst, struct uml_iface *ifc);
	/* Its ethN=/vecN: kernel argument (allocated), with ifc->mac. */
	int (*arg)(struct uml_instance *inst, struct uml_iface *ifc, char **ret);
	/* An fd the kernel process keeps for it, or -1. */
	int (*keep_fd)(struct uml_iface *ifc);
	/* What the kernel process opens for it (uml_launch_add_path()), its host network. */
	int (*launch)(struct uml_instance *inst, struct uml_iface *ifc, struct uml_launch *l);
	/*
	 * The kernel process was started (ok) or the boot failed (!ok, before
	 * unprepare): close host-side copies of what only the kernel may hold,
	 * so that the other end sees EOF when the kernel goes.
	 */
	void (*started)(struct uml_iface *ifc, bool ok);
	/* The guest is done with it (ended, or removed it): undo prepare, drop references. */
	void (*release)(struct uml_iface *ifc);
	/* Undoes a prepare of a boot that failed. */
	void (*unprepare)(struct uml_iface *ifc);
	void (*free)(struct uml_iface *ifc);
};

struct uml_iface {
	const struct uml_iface_kind *kind;
	void *priv;			/* the kind's own state */
	unsigned unit;			/* N of ethN / vecN */
	char name[IFNAMSIZ];
	char mac[18];
	bool mac_set;
	char *addr;			/* "A.B.C.D/LEN", or NULL */
	char *gateway;
	bool removed;
	bool booted;			/* part of the kernel's command line */
};

/*
 * Adds an interface of kind with priv (taken over, also on failure) and
 * optional address and gateway (copied): before boot, or now on a running
 * guest if the kind allows it.  Its index in *ret_index (may be NULL).
 */
int uml_net_add_iface(struct uml_instance *inst, const struct uml_iface_kind *kind, void *priv,
		      const char *addr, const char *gateway, unsigned *ret_index);
/* Interface index of inst, or NULL with -ENOENT and a message on inst. */
struct uml_iface *uml_net_get_iface(struct uml_instance *inst, unsigned index);
/* The instance's interface of this kind that was not removed, or NULL. */
struct uml_iface *uml_net_find_kind(struct uml_instance *inst, const struct uml_iface_kind *kind);
/* The instance's interface of this kind with priv that it booted with, or NULL. */
struct uml_iface *uml_net_find_booted(struct uml_instance *inst, const struct uml_iface_kind *kind,
				      const void *priv);
/* Sets the DNS server handed to the guest unless one is set. */
int uml_net_default_dns(struct uml_instance *inst, const char *server);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Taps: ethN=tuntap,DEV,MAC, an existing tap device, or one libuml creates
 * (root, or CAP_NET_ADMIN) and deletes with the guest.
 */
#include "config.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "net-internal.h"

struct tap {
	char *dev;
	bool create, created;
};

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

static int tap_prepare(struct uml_instance *inst, struct uml_iface *ifc)
{
	struct tap *t = ifc->priv;
	char name[IFNAMSIZ];
	int r;

	if (!t->create) {
		if (!netdev_exists(t->dev))
			return ifail(inst, -ENODEV, "tap device '%s' does not exist", t->dev);
		return 0;
	}
	if (t->created)
		return 0;
	if (netdev_exists(t->dev))
		return ifail(inst, -EEXIST, "cannot create tap device '%s': a network device of "
			     "that name exists", t->dev);
	r = tap_persist(t->dev, 1, name);
	if (r == -EPERM || r == -EACCES)
		return ifail(inst, -EPERM, "creating tap device '%s' needs root (CAP_NET_ADMIN)",
			     t->dev);
	if (r < 0)
		return ifail(inst, r, "cannot create tap device '%s': %s", t->dev, strerror(-r));
	t->created = true;
	uml_dbg(inst->ctx, "created tap device %s", name);
	return 0;
}

static void tap_delete(struct uml_iface *ifc)
{
	struct tap *t = ifc->priv;

	if (t->created)
		tap_persist(t->dev, 0, NULL);
	t->created = false;
}

static int tap_arg(struct uml_instance *inst, struct uml_iface *ifc, char **ret)
{
	struct tap *t = ifc->priv;

	return asprintf(ret, "eth%u=tuntap,%s,%s", ifc->unit, t->dev, ifc->mac) < 0 ? -ENOMEM : 0;
}

static int tap_launch(struct uml_instance *inst, struct uml_iface *ifc, struct uml_launch *l)
{
	uml_launch_use_host_network(l);
	return uml_launch_add_path(l, "/dev/net/tun", UML_SB_DEVICE | UML_SB_WRITE);
}

static void tap_free(struct uml_iface *ifc)
{
	struct tap *t = ifc->priv;

	if (t)
		free(t->dev);
	free(t);
}

static const struct uml_iface_kind tap_kind = {
	.name = "tap",
	.hot_add = true,
	.prepare = tap_prepare,
	.arg = tap_arg,
	.launch = tap_launch,
	.release = tap_delete,
	.unprepare = tap_delete,
	.free = tap_free,
};

UML_EXPORT int uml_instance_add_tap(struct uml_instance *inst, const char *dev, unsigned flags,
				    unsigned *ret_index)
{
	struct tap *t;

	if (!inst || !dev)
		return -EINVAL;
	if (flags & ~(unsigned)UML_TAP_CREATE)
		return ifail(inst, -EINVAL, "unknown tap flags 0x%x", flags);
	if (!*dev || strlen(dev) >= IFNAMSIZ || strpbrk(dev, "/,:%=") || uml_has_space_or_ctrl(dev))
		return ifail(inst, -EINVAL, "'%s' is not a valid network device name", dev);
	if (!(flags & UML_TAP_CREATE) && geteuid() != 0 && !netdev_exists(dev))
		return ifail(inst, -ENODEV, "tap device '%s' does not exist", dev);
	t = calloc(1, sizeof(*t));
	if (!t || !(t->dev = strdup(dev))) {
		free(t);
		return -ENOMEM;
	}
	t->create = flags & UML_TAP_CREATE;
	return uml_net_add_iface(inst, &tap_kind, t, NULL, NULL, ret_index);
}

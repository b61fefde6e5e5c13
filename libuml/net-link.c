/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Links: vecN:transport=fd,fd=FD,...  One end of a socketpair per guest;
 * the other guest holds the other end.  The fd must exist when the kernel
 * starts, so links are added before boot, and the kernel closes it when
 * the interface goes down: a link cannot be taken down and up again.
 */
#include "config.h"

#include <sys/socket.h>
#include <unistd.h>

#include "net-internal.h"

struct uml_link {
	int refcount;
	struct uml_ctx *ctx;
	int fd[2];
	bool taken[2];
};

/* An interface's end of its link. */
struct link_end {
	struct uml_link *link;
	int end;
};

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

static void link_free(struct uml_link *link)
{
	close(link->fd[0]);
	close(link->fd[1]);
	uml_ctx_unref(link->ctx);
	free(link);
}

UML_DEFINE_REF_UNREF(uml_link, uml_link, link_free)

static int link_arg(struct uml_instance *inst, struct uml_iface *ifc, char **ret)
{
	struct link_end *e = ifc->priv;

	return asprintf(ret, "vec%u:transport=fd,fd=%d,vec=0,mac=%s", ifc->unit,
			e->link ? e->link->fd[e->end] : -1, ifc->mac) < 0 ? -ENOMEM : 0;
}

static int link_keep_fd(struct uml_iface *ifc)
{
	struct link_end *e = ifc->priv;

	return e->link ? e->link->fd[e->end] : -1;
}

static void link_release(struct uml_iface *ifc)
{
	struct link_end *e = ifc->priv;

	e->link = uml_link_unref(e->link);
}

static void link_end_free(struct uml_iface *ifc)
{
	free(ifc->priv);
}

static const struct uml_iface_kind link_kind = {
	.name = "link",
	.vector = true,
	.arg = link_arg,
	.keep_fd = link_keep_fd,
	.release = link_release,
	.free = link_end_free,
};

UML_EXPORT int uml_instance_add_link(struct uml_instance *inst, struct uml_link *link,
				     unsigned *ret_index)
{
	struct link_end *e;
	int r;

	if (!inst || !link)
		return -EINVAL;
	if (link->taken[0] && link->taken[1])
		return ifail(inst, -EBUSY, "the link connects two guests already");
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->end = link->taken[0] ? 1 : 0;
	e->link = uml_link_ref(link);
	r = uml_net_add_iface(inst, &link_kind, e, NULL, NULL, ret_index);
	if (r == 0)
		link->taken[e->end] = true;
	return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disk images.  For now only an object naming an existing image. */
#include "config.h"

#include "libuml-private.h"

UML_EXPORT int uml_rootfs_new(struct uml_ctx *ctx, const char *image, struct uml_rootfs **ret)
{
	struct uml_rootfs *r;

	if (!ctx || !ret || !image || !*image)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (uml_path_absolute(image, &r->path) < 0) {
		free(r);
		return -ENOMEM;
	}
	r->refcount = 1;
	r->ctx = uml_ctx_ref(ctx);
	*ret = r;
	return 0;
}

UML_EXPORT struct uml_rootfs *uml_rootfs_ref(struct uml_rootfs *r)
{
	if (r)
		__atomic_add_fetch(&r->refcount, 1, __ATOMIC_RELAXED);
	return r;
}

UML_EXPORT struct uml_rootfs *uml_rootfs_unref(struct uml_rootfs *r)
{
	if (!r || __atomic_sub_fetch(&r->refcount, 1, __ATOMIC_ACQ_REL) > 0)
		return NULL;
	uml_ctx_unref(r->ctx);
	free(r->path);
	free(r->backing);
	free(r->last_error);
	free(r);
	return NULL;
}

UML_EXPORT const char *uml_rootfs_get_path(struct uml_rootfs *r)
{
	return r ? r->path : NULL;
}

const char *uml_rootfs_get_ready_marker(struct uml_rootfs *r)
{
	return r->ready_marker;
}

char *uml_rootfs_ubd_spec(struct uml_rootfs *r)
{
	char *spec;

	if (!r->backing)
		return strdup(r->path);
	return asprintf(&spec, "%s,%s", r->path, r->backing) < 0 ? NULL : spec;
}

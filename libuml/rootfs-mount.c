/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Loop mounts of images through libmount, where root is available: for
 * filesystems libext2fs cannot write and for steps that need a live tree.
 * libmount sets the loop device up with autoclear, so the kernel detaches
 * it with the last unmount; an object freed while mounted is unmounted.
 */
#include "config.h"

#include <libmount.h>

#include "rootfs-internal.h"

/* libmount's own words for what went wrong, else strerror(). */
static int mount_fail(struct uml_rootfs *rootfs, struct libmnt_context *cxt, int rc,
		      const char *what, const char *path)
{
	char buf[512] = "";
	int err = mnt_context_get_syscall_errno(cxt);

	mnt_context_get_excode(cxt, rc, buf, sizeof(buf));
	if (!buf[0])
		snprintf(buf, sizeof(buf), "%s", strerror(err ? err : (rc < 0 ? -rc : EIO)));
	return rfail(rootfs, err == EPERM || err == EACCES ? -err : -EIO, "cannot %s '%s' (%s): %s",
		     what, rootfs->path, path, buf);
}

/* Undoes a loop mount the caller left behind (when the object goes). */
static void rootfs_mount_release(struct uml_rootfs *rootfs)
{
	if (rootfs->guest && rootfs->guest->mountpoint)
		uml_rootfs_umount(rootfs);
}

UML_EXPORT int uml_rootfs_mount(struct uml_rootfs *rootfs, const char *mountpoint,
				unsigned flags)
{
	struct libmnt_context *cxt;
	struct rootfs_guest *g;
	struct stat st;
	char *abs = NULL;
	int rc, r = 0;

	if (!rootfs)
		return -EINVAL;
	if (!mountpoint || !mountpoint[0])
		return rfail(rootfs, -EINVAL, "mount point for '%s' is %s", rootfs->path,
			     mountpoint ? "empty" : "NULL");
	if (flags & ~(unsigned)(UML_ROOTFS_MOUNT_READONLY | UML_ROOTFS_MOUNT_NOEXEC))
		return rfail(rootfs, -EINVAL, "unknown flags 0x%x for mounting '%s'", flags,
			     rootfs->path);
	if (rootfs->backing)
		return rfail(rootfs, -EOPNOTSUPP, "'%s' is a COW overlay; only plain images can be "
			     "loop-mounted", rootfs->path);
	if (geteuid() != 0)
		return rfail(rootfs, -EPERM, "mounting '%s' needs root (a loop device and "
			     "mount(2)); use the libext2fs calls (uml_rootfs_copy_in() ...) instead",
			     rootfs->path);
	g = rootfs_guest(rootfs);
	if (!g)
		return -ENOMEM;
	if (g->mountpoint)
		return rfail(rootfs, -EBUSY, "'%s' is already mounted on '%s'", rootfs->path,
			     g->mountpoint);
	if (stat(rootfs->path, &st) < 0)
		return rfail(rootfs, -errno, "cannot mount '%s': %m", rootfs->path);
	if (stat(mountpoint, &st) < 0)
		return rfail(rootfs, -errno, "mount point '%s': %m", mountpoint);
	if (!S_ISDIR(st.st_mode))
		return rfail(rootfs, -ENOTDIR, "mount point '%s' is not a directory", mountpoint);
	r = uml_path_absolute(mountpoint, &abs);
	if (r < 0)
		return r;

	cxt = mnt_new_context();
	if (!cxt) {
		free(abs);
		return -ENOMEM;
	}
	if (mnt_context_set_source(cxt, rootfs->path) < 0 ||
	    mnt_context_set_target(cxt, abs) < 0 ||
	    mnt_context_set_options(cxt, "loop,nosuid,nodev") < 0 ||
	    ((flags & UML_ROOTFS_MOUNT_READONLY) && mnt_context_append_options(cxt, "ro") < 0) ||
	    ((flags & UML_ROOTFS_MOUNT_NOEXEC) && mnt_context_append_options(cxt, "noexec") < 0)) {
		r = -ENOMEM;
		goto out;
	}
	rc = mnt_context_mount(cxt);
	if (rc != 0 || mnt_context_get_status(cxt) != 1) {
		r = mount_fail(rootfs, cxt, rc, "mount", abs);
		goto out;
	}
	g->mountpoint = abs;
	rootfs->unmount = rootfs_mount_release;
	abs = NULL;
	uml_info(rootfs->ctx, "mounted '%s' on '%s'", rootfs->path, g->mountpoint);
out:
	mnt_free_context(cxt);
	free(abs);
	return r;
}

UML_EXPORT const char *uml_rootfs_get_mountpoint(struct uml_rootfs *rootfs)
{
	return rootfs && rootfs->guest ? rootfs->guest->mountpoint : NULL;
}

UML_EXPORT int uml_rootfs_umount(struct uml_rootfs *rootfs)
{
	struct libmnt_context *cxt;
	struct rootfs_guest *g;
	int rc, r = 0;

	if (!rootfs)
		return -EINVAL;
	g = rootfs->guest;
	if (!g || !g->mountpoint)
		return rfail(rootfs, -ENOTCONN, "'%s' is not mounted", rootfs->path);
	cxt = mnt_new_context();
	if (!cxt)
		return -ENOMEM;
	if (mnt_context_set_target(cxt, g->mountpoint) < 0) {
		mnt_free_context(cxt);
		return -ENOMEM;
	}
	rc = mnt_context_umount(cxt);
	if ((rc != 0 || mnt_context_get_status(cxt) != 1) &&
	    mnt_context_get_syscall_errno(cxt) == EBUSY) {
		/* something still uses the tree: detach now, the kernel finishes later */
		mnt_free_context(cxt);
		cxt = mnt_new_context();
		if (!cxt)
			return -ENOMEM;
		mnt_context_set_target(cxt, g->mountpoint);
		mnt_context_enable_lazy(cxt, 1);
		rc = mnt_context_umount(cxt);
		uml_log(rootfs->ctx, LOG_WARNING, "'%s' is busy; unmounted it lazily",
			g->mountpoint);
	}
	if (rc != 0 || mnt_context_get_status(cxt) != 1)
		r = mount_fail(rootfs, cxt, rc, "unmount", g->mountpoint);
	mnt_free_context(cxt);
	if (r == 0) {
		uml_info(rootfs->ctx, "unmounted '%s' from '%s'", rootfs->path, g->mountpoint);
		free(g->mountpoint);
		g->mountpoint = NULL;
		rootfs->unmount = NULL;
	}
	return r;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A minimal busybox guest image, made by hand for tests and benchmarks. */
#ifndef BUSYBOX_IMAGE_H
#define BUSYBOX_IMAGE_H

/*
 * Builds dir/tree (busybox, a few applet links, /init holding init_script)
 * and from it dir/root.img (ext4, 32 MiB) with mke2fs -d.  Returns 0 and the
 * image path in *img (caller frees), or a negative errno.
 */
int busybox_image_make(const char *dir, const char *init_script, char **img);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * COW overlay files come from users, other tools and other hosts.  The
 * input becomes the file (a memfd); its first 3 bytes give the file size
 * in 4 KiB units beyond the input, so headers whose size checks pass can
 * be reached without megabytes of input.  Opening it reads and checks the
 * header; counting the written bytes walks the bitmap.
 */
#include "config.h"

#include <sys/mman.h>
#include <unistd.h>

#include "libuml-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ud, int prio, const char *msg)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct uml_ctx *ctx;
	struct uml_rootfs *cow;
	char path[64];
	uint64_t extra, written;
	int fd;

	if (size < 3)
		return 0;
	if (!ctx) {
		if (uml_ctx_new(&ctx) < 0)
			abort();
		uml_ctx_set_log_fn(ctx, quiet, NULL);
	}
	extra = ((uint64_t)data[0] << 16 | data[1] << 8 | data[2]) % (1u << 14) * 4096;
	data += 3;
	size -= 3;
	fd = memfd_create("fuzz-cow", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (uml_write_all(fd, data, size) < 0 || ftruncate(fd, (off_t)(size + extra)) < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (uml_rootfs_open_cow(ctx, path, &cow) == 0) {
		if (!uml_rootfs_get_backing(cow) || uml_rootfs_get_backing(cow)[0] != '/')
			__builtin_trap();
		if (uml_rootfs_cow_get_written(cow, &written) == 0 &&
		    written > size + extra)
			__builtin_trap();
		uml_rootfs_unref(cow);
	}
	close(fd);
	return 0;
}

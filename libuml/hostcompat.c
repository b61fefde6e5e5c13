/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host quirks.  On hosts with AMX, UML kernels up to 6.12 die at PID 1
 * ("ptrace set fp regs failed, errno = 14"): they hand the host an XSAVE
 * buffer smaller than the host insists on.  We load a ptrace() interposer
 * (hostcompat-preload.c, embedded at build time) into the kernel through a
 * memfd and LD_PRELOAD; see that file for what it does.
 */
#include "config.h"

#include <cpuid.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libuml-private.h"

extern const unsigned char uml_hostcompat_blob[];
extern const size_t uml_hostcompat_blob_size;

#define XFEATURE_XTILEDATA 18

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

bool uml_hostcompat_needed(void)
{
	unsigned int eax, ebx, ecx, edx;

	/* OSXSAVE (CPUID.1:ECX bit 27) says XGETBV may be used */
	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27)))
		return false;
	return (xgetbv0() >> XFEATURE_XTILEDATA) & 1;
}

int uml_hostcompat_preload_fd(struct uml_ctx *ctx)
{
	int fd = memfd_create("libuml-hostcompat.so", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int r;

	if (fd < 0)
		return uml_fail(ctx, NULL, -errno, "memfd_create for the host compatibility library: %m");
	r = uml_write_all(fd, uml_hostcompat_blob, uml_hostcompat_blob_size);
	if (r < 0) {
		close(fd);
		return uml_fail(ctx, NULL, r, "writing the host compatibility library: %s", strerror(-r));
	}
	/* the kernel process must not be able to change it under other guests */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return fd;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Facts about the host.
 *
 * The delay loop: UML calibrates it at every boot (~90 ms at HZ=100); the
 * host's value, passed as lpj=, skips that.
 *
 * AMX: on hosts with AMX, UML kernels up to 6.12 die at PID 1 ("ptrace set
 * fp regs failed, errno = 14"): they hand the host an XSAVE buffer smaller
 * than the host insists on.  Such kernels get a ptrace() interposer
 * (hostcompat-preload.c, embedded at build time) through a memfd and
 * LD_PRELOAD; see that file for what it does.
 */
#include "config.h"

#include <cpuid.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "host.h"
#include "util.h"

/* The loop of arch/x86/um/delay.c, which "Calibrating delay loop" times. */
static void delay_loop(unsigned long loops)
{
	__asm__ volatile(
		"test %0,%0\n"
		"jz 3f\n"
		"jmp 1f\n"
		".align 16\n"
		"1: jmp 2f\n"
		".align 16\n"
		"2: dec %0\n"
		" jnz 2b\n"
		"3: dec %0\n"
		: "+a"(loops));
}

unsigned long uml_host_lpj(void)
{
#if defined(__x86_64__)
	const unsigned long loops = 1000000;
	uint64_t best = UINT64_MAX;

	/* the fastest of a few short runs: preemption only ever slows one */
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = uml_now_usec(), t;

		delay_loop(loops);
		t = uml_now_usec() - t0;
		if (t > 0 && t < best)
			best = t;
	}
	if (best == UINT64_MAX)
		return 0;
	/* UML's HZ is 100: loops per 10 ms */
	return (unsigned long)(loops * 10000ull / best);
#else
	return 0;
#endif
}

extern const unsigned char uml_hostcompat_blob[];
extern const size_t uml_hostcompat_blob_size;

#define XFEATURE_XTILEDATA 18

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;

	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

bool uml_host_needs_compat(void)
{
	unsigned int eax, ebx, ecx, edx;

	/* OSXSAVE (CPUID.1:ECX bit 27) says XGETBV may be used */
	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1u << 27)))
		return false;
	return (xgetbv0() >> XFEATURE_XTILEDATA) & 1;
}

int uml_host_compat_library_fd(void)
{
	int fd = memfd_create("libuml-hostcompat.so", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int r;

	if (fd < 0)
		return -errno;
	r = uml_write_all(fd, uml_hostcompat_blob, uml_hostcompat_blob_size);
	if (r < 0) {
		close(fd);
		return r;
	}
	/* the kernel process must not be able to change it under other guests */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return fd;
}

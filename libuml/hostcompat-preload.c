/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A ptrace() interposer loaded into UML kernels (LD_PRELOAD) on hosts with
 * AMX.  The host kernel accepts PTRACE_SETREGSET(NT_X86_XSTATE) only with a
 * buffer of the full host XSAVE size; UML <= 6.12 passes the size it knows
 * (2696 bytes here), gets EFAULT and kills its init.  We widen that one
 * call: copy the caller's state into a full-size buffer, zero the tail and
 * clear the xstate_bv bits of components the caller's buffer does not
 * cover, so they go to their init state.  A UML guest can never enable AMX,
 * so nothing the guest owns is lost.  Every other call passes through.
 *
 * This file is built on its own, without the library's flags, and embedded
 * into libuml (see Makefile.am).
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#define NT_X86_XSTATE_NOTE 0x202
#define XSAVE_HEADER_OFFSET 512
#define XSTATE_MAX 65536

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

/*
 * CPUID exits to the hypervisor in a VM, and UML sets the registers of its
 * user processes on every switch to them: ask once, the answers do not
 * change.  Two threads filling the cache at once store the same values.
 */
static unsigned int comp_end[64];	/* offset + size of XSAVE component i */
static size_t xsize;
static int cached;

static void cache_cpuid(void)
{
	unsigned int eax = 0, ebx = 0, ecx, edx = 0;
	uint64_t supported;

	if (__get_cpuid_count(0xd, 0, &eax, &ebx, &ecx, &edx))
		xsize = ebx;
	supported = eax | (uint64_t)edx << 32;
	for (unsigned int i = 2; i < 64; i++) {
		unsigned int size, offset;

		/* state of a component the CPU lacks cannot be in the buffer */
		comp_end[i] = (supported & (UINT64_C(1) << i)) &&
			      __get_cpuid_count(0xd, i, &size, &offset, &ecx, &edx) ?
			      offset + size : ~0u;
	}
	__atomic_store_n(&cached, 1, __ATOMIC_RELEASE);
}

static size_t host_xstate_size(void)
{
	if (!__atomic_load_n(&cached, __ATOMIC_ACQUIRE))
		cache_cpuid();
	return xsize;	/* size for the features enabled in XCR0 */
}

static long widened_setregset(ptrace_fn real, pid_t pid, void *addr, struct iovec *iov)
{
	/*
	 * Not on the stack (UML kernel stacks are small) and not thread-local
	 * (UML starts helper threads with raw clone()); a lock instead.
	 */
	static unsigned char buf[XSTATE_MAX] __attribute__((aligned(64)));
	static int busy;
	size_t full = host_xstate_size();
	uint64_t bv;
	long r;

	if (full <= iov->iov_len || full > sizeof(buf) ||
	    iov->iov_len < XSAVE_HEADER_OFFSET + sizeof(bv))
		return real(PTRACE_SETREGSET, pid, addr, iov);

	while (__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE))
		;
	memcpy(buf, iov->iov_base, iov->iov_len);
	memset(buf + iov->iov_len, 0, full - iov->iov_len);
	memcpy(&bv, buf + XSAVE_HEADER_OFFSET, sizeof(bv));
	for (unsigned int i = 2; i < 64; i++) {
		if (!(bv & (UINT64_C(1) << i)))
			continue;
		if ((size_t)comp_end[i] > iov->iov_len)
			bv &= ~(UINT64_C(1) << i);
	}
	memcpy(buf + XSAVE_HEADER_OFFSET, &bv, sizeof(bv));

	struct iovec wide = { .iov_base = buf, .iov_len = full };
	r = real(PTRACE_SETREGSET, pid, addr, &wide);
	__atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
	return r;
}

long ptrace(enum __ptrace_request request, ...)
{
	static ptrace_fn real;
	void *addr, *data;
	va_list ap;
	pid_t pid;

	va_start(ap, request);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);

	if (!real)
		real = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	if (request == PTRACE_SETREGSET && (uintptr_t)addr == NT_X86_XSTATE_NOTE && data)
		return widened_setregset(real, pid, addr, data);
	return real(request, pid, addr, data);
}

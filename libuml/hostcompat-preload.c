/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A ptrace() interposer loaded into UML kernels (LD_PRELOAD) on hosts with
 * AMX.  The host kernel accepts PTRACE_SETREGSET(NT_X86_XSTATE) only with a
 * buffer of the full host XSAVE size; UML <= 6.12 passes the size it knows
 * (2696 bytes here), gets EFAULT and kills its init.  We widen that one
 * call: copy the caller's state into a full-size buffer, zero the tail and
 * clear the xstate_bv bits of components the caller's buffer does not
 * cover, so they go to their init state.  A UML guest can never enable AMX,
 * so nothing the guest owns is lost.
 *
 * Since we sit on that path anyway, we also drop the calls that change
 * nothing.  For every guest syscall UML reads a stopped process's general
 * and XSAVE registers, handles the syscall, and writes both back before it
 * resumes the process; the XSAVE write is the costly one (the host
 * allocates and maps a buffer for it, here and for the widened copy) and
 * its contents are nearly always what was just read.  A stopped tracee's
 * registers change only through ptrace requests of its tracer, and each
 * tracee has exactly one tracer thread, whose ptrace() calls all come
 * through here.  So we remember, per tracee, the register contents we last
 * read from it or wrote to it, forget them at any other request for it
 * (resuming, killing, options, pokes into its user area, other register
 * sets) or a failed write, and skip a write whose bytes equal what the
 * tracee already holds.  Writing identical registers has no other effect
 * (the host only reloads them).  Every other call passes through.
 *
 * Built with -DHOSTCOMPAT_WIDEN_ONLY it only widens (libuml 0.1's
 * behaviour), for the benchmark that compares the two (bench-syscall).
 *
 * This file is built on its own, without the library's flags, and embedded
 * into libuml (see Makefile.am).
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#define NT_X86_XSTATE_NOTE 0x202
#define XSAVE_HEADER_OFFSET 512
#define XSTATE_MAX 65536

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

/*
 * UML starts helper threads with raw clone(), so no thread-local storage:
 * short spin locks guard the shared buffers below.
 */
static void lock(int *l)
{
	while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE))
		;
}

static void unlock(int *l)
{
	__atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

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

#ifndef HOSTCOMPAT_WIDEN_ONLY
/*
 * What a few tracees hold, by pid.  UML switches between its processes,
 * so a handful of slots covers the busy ones; a miss costs only the call
 * we would have made anyway.  XSAVE areas above KNOWN_MAX are not kept.
 */
#define SLOTS 4
#define KNOWN_MAX 16384

static struct known {
	int lock;
	pid_t pid;			/* 0: empty */
	bool gp_valid;
	size_t xs_len;			/* 0: unknown */
	struct user_regs_struct gp;
	unsigned char xs[KNOWN_MAX] __attribute__((aligned(64)));
} known[SLOTS];

static struct known *slot_of(pid_t pid)
{
	return &known[(unsigned int)pid % SLOTS];
}

/* Forgets what tracee pid holds; pid <= 0 (TRACEME and the like): all. */
static void forget(pid_t pid)
{
	for (unsigned int i = 0; i < SLOTS; i++) {
		struct known *k = &known[i];

		if (pid > 0 && k != slot_of(pid))
			continue;
		lock(&k->lock);
		if (pid <= 0 || k->pid == pid)
			k->pid = 0;
		unlock(&k->lock);
	}
}

/* Takes the slot for pid, emptied if it held another tracee; locked. */
static struct known *claim(pid_t pid)
{
	struct known *k = slot_of(pid);

	lock(&k->lock);
	if (k->pid != pid) {
		k->pid = pid;
		k->gp_valid = false;
		k->xs_len = 0;
	}
	return k;
}

/* Does tracee pid hold exactly these general registers? */
static bool gp_known(pid_t pid, const struct user_regs_struct *regs)
{
	struct known *k = slot_of(pid);
	bool same;

	lock(&k->lock);
	same = k->pid == pid && k->gp_valid && memcmp(&k->gp, regs, sizeof(*regs)) == 0;
	unlock(&k->lock);
	return same;
}

static void gp_remember(pid_t pid, const struct user_regs_struct *regs, bool valid)
{
	struct known *k = claim(pid);

	if (valid)
		k->gp = *regs;
	k->gp_valid = valid;
	unlock(&k->lock);
}

/*
 * Does tracee pid hold exactly this XSAVE area?  A write applies the first
 * min(len, host size) bytes (the widened copy puts nothing the guest owns
 * beyond the caller's length), so those must equal the area last read or
 * written, and that must have had this length.
 */
static bool xs_known(pid_t pid, const struct iovec *iov)
{
	struct known *k = slot_of(pid);
	size_t full = host_xstate_size(), n = iov->iov_len < full ? iov->iov_len : full;
	bool same;

	lock(&k->lock);
	same = k->pid == pid && n > 0 && k->xs_len == n &&
	       memcmp(k->xs, iov->iov_base, n) == 0;
	unlock(&k->lock);
	return same;
}

static void xs_remember(pid_t pid, const void *data, size_t len, bool valid)
{
	struct known *k = claim(pid);

	if (valid && len > 0 && len <= KNOWN_MAX) {
		memcpy(k->xs, data, len);
		k->xs_len = len;
	} else {
		k->xs_len = 0;
	}
	unlock(&k->lock);
}
#endif

static long widened_setregset(ptrace_fn real, pid_t pid, void *addr, struct iovec *iov)
{
	/* not on the stack: UML kernel stacks are small */
	static unsigned char buf[XSTATE_MAX] __attribute__((aligned(64)));
	static size_t dirty;	/* buf is zero from here on */
	static int busy;
	size_t full = host_xstate_size();
	uint64_t bv;
	long r;

	if (full <= iov->iov_len || full > sizeof(buf) ||
	    iov->iov_len < XSAVE_HEADER_OFFSET + sizeof(bv))
		return real(PTRACE_SETREGSET, pid, addr, iov);

	lock(&busy);
	memcpy(buf, iov->iov_base, iov->iov_len);
	/* the tail stays zero between calls: clear only what a longer one left */
	if (dirty > iov->iov_len)
		memset(buf + iov->iov_len, 0, dirty - iov->iov_len);
	dirty = iov->iov_len;
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
	unlock(&busy);
	return r;
}

#ifndef HOSTCOMPAT_WIDEN_ONLY
/* The requests that leave a stopped tracee's registers as they are. */
static bool keeps_registers(int request)
{
	switch (request) {
	case PTRACE_PEEKTEXT:
	case PTRACE_PEEKDATA:
	case PTRACE_PEEKUSER:
	case PTRACE_POKETEXT:	/* memory, not registers */
	case PTRACE_POKEDATA:
	case PTRACE_GETREGS:
	case PTRACE_GETFPREGS:
	case PTRACE_GETREGSET:
	case PTRACE_GETSIGINFO:
	case PTRACE_GETEVENTMSG:
	case PTRACE_GET_SYSCALL_INFO:
		return true;
	}
	return false;
}
#endif

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
	bool xstate = (request == PTRACE_SETREGSET || request == PTRACE_GETREGSET) &&
		      (uintptr_t)addr == NT_X86_XSTATE_NOTE && data;
#ifdef HOSTCOMPAT_WIDEN_ONLY
	if (xstate && request == PTRACE_SETREGSET)
		return widened_setregset(real, pid, addr, data);
	return real(request, pid, addr, data);
#else
	long r;

	if (xstate && request == PTRACE_SETREGSET) {
		if (xs_known(pid, data))
			return 0;
		r = widened_setregset(real, pid, addr, data);
		{
			struct iovec *iov = data;
			size_t full = host_xstate_size();

			xs_remember(pid, iov->iov_base, iov->iov_len < full ? iov->iov_len : full,
				    r == 0);
		}
		return r;
	}
	if (xstate) {
		r = real(request, pid, addr, data);
		xs_remember(pid, ((struct iovec *)data)->iov_base, ((struct iovec *)data)->iov_len,
			    r == 0);
		return r;
	}
	if (request == PTRACE_SETREGS && data) {
		if (gp_known(pid, data))
			return 0;
		r = real(request, pid, addr, data);
		gp_remember(pid, data, r == 0);
		return r;
	}
	if (request == PTRACE_GETREGS && data) {
		r = real(request, pid, addr, data);
		gp_remember(pid, data, r == 0);
		return r;
	}
	if (!keeps_registers(request))
		forget(request == PTRACE_TRACEME ? 0 : pid);
	return real(request, pid, addr, data);
#endif
}

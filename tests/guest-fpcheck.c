/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest-fpcheck THREADS ITERATIONS - floating-point and vector state
 * across syscalls, thread switches and signals, for test-fp.c.
 *
 * Each thread runs its own rounding modes (MXCSR and the x87 control word)
 * and, in every iteration, loads the vector registers with values of its
 * own, makes a syscall (sched_yield: under UML every guest syscall is a
 * round trip through the kernel process, which reads and writes the
 * registers of the host process the guest threads share) and only then
 * computes with them; also x87 and SSE arithmetic in C.  A timer sends
 * signals whose handler scribbles over every register it can reach.  The
 * results go into one hash per thread, printed as a digest that depends
 * only on the arithmetic: a host run and a guest run must print the same.
 *
 * FPCHECK_NO_SIGNALS, FPCHECK_NO_AVX and FPCHECK_NO_AVX512 in the
 * environment leave those parts out, to narrow down a difference.
 *
 * Built static (it runs in a busybox guest), never with sanitizers.
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static int have_avx, have_avx512;
static long iterations;
static long signals;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static void detect(void)
{
	unsigned int a, b, c, d;
	uint64_t xcr0 = 0;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27)))	/* OSXSAVE */
		return;
	{
		uint32_t lo, hi;

		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		xcr0 = (uint64_t)hi << 32 | lo;
	}
	have_avx = (c & (1u << 28)) && (xcr0 & 6) == 6;
	if (have_avx && __get_cpuid_count(7, 0, &a, &b, &c, &d))
		have_avx512 = (b & (1u << 16)) && (xcr0 & 0xe6) == 0xe6;
}

/*
 * ymm0-15 hold seed-derived values across a syscall; then each is added to
 * itself and stored.  Done in one asm block so the compiler cannot keep
 * copies elsewhere: whatever the kernel does to the registers shows.
 */
static void avx_round(double seed, double out[64])
{
	double in[64];

	for (int i = 0; i < 64; i++)
		in[i] = seed * (i + 1) + 1.0 / (i + 3);
#define L(n) "vmovupd " #n "*32(%[in]), %%ymm" #n "\n"
#define S(n) "vaddpd %%ymm" #n ", %%ymm" #n ", %%ymm" #n "\n vmovupd %%ymm" #n ", " #n "*32(%[out])\n"
	__asm__ volatile(
		L(0) L(1) L(2) L(3) L(4) L(5) L(6) L(7)
		L(8) L(9) L(10) L(11) L(12) L(13) L(14) L(15)
		"mov %[nr], %%eax\n syscall\n"
		S(0) S(1) S(2) S(3) S(4) S(5) S(6) S(7)
		S(8) S(9) S(10) S(11) S(12) S(13) S(14) S(15)
		"vzeroupper\n"
		: : [in] "r"(in), [out] "r"(out), [nr] "i"(SYS_sched_yield)
		: "rax", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
		  "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
		  "xmm15");
#undef L
#undef S
}

/* zmm16-31 and the mask registers exist only with AVX-512. */
__attribute__((target("avx512f"))) static void avx512_round(double seed, double out[128], uint64_t masks[8])
{
	double in[128];

	for (int i = 0; i < 128; i++)
		in[i] = seed / (i + 2) - i;
#define L(n, o) "vmovupd " #o "*64(%[in]), %%zmm" #n "\n"
#define S(n, o) "vmulpd %%zmm" #n ", %%zmm" #n ", %%zmm" #n "\n vmovupd %%zmm" #n ", " #o "*64(%[out])\n"
#define K(n) "kmovw %%k" #n ", " #n "*8(%[k])\n"
	__asm__ volatile(
		L(16, 0) L(17, 1) L(18, 2) L(19, 3) L(20, 4) L(21, 5) L(22, 6) L(23, 7)
		L(24, 8) L(25, 9) L(26, 10) L(27, 11) L(28, 12) L(29, 13) L(30, 14) L(31, 15)
		"kmovw 0(%[k]), %%k1\n kmovw 8(%[k]), %%k2\n kmovw 16(%[k]), %%k3\n"
		"mov %[nr], %%eax\n syscall\n"
		S(16, 0) S(17, 1) S(18, 2) S(19, 3) S(20, 4) S(21, 5) S(22, 6) S(23, 7)
		S(24, 8) S(25, 9) S(26, 10) S(27, 11) S(28, 12) S(29, 13) S(30, 14) S(31, 15)
		K(1) K(2) K(3)
		"vzeroupper\n"
		: : [in] "r"(in), [out] "r"(out), [k] "r"(masks), [nr] "i"(SYS_sched_yield)
		: "rax", "rcx", "r11", "memory", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",
		  "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29",
		  "xmm30", "xmm31", "k1", "k2", "k3");
#undef L
#undef S
#undef K
}

static void *work(void *arg)
{
	long t = (long)arg;
	uint64_t h = 0xcbf29ce484222325ull;
	unsigned int mxcsr = 0x1f80 | (unsigned int)(t % 4) << 13;	/* rounding mode */
	unsigned short cw = (unsigned short)(0x037f | (t % 4) << 10);
	double d = 1.0 + t;
	long double ld = 1.0L / (t + 3);

	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
	__asm__ volatile("fldcw %0" : : "m"(cw));
	for (long i = 0; i < iterations; i++) {
		double v[64], z[128];
		uint64_t k[8] = { (uint64_t)i * 0x9e3779b97f4a7c15ull, (uint64_t)t, ~(uint64_t)i };
		unsigned int m;
		unsigned short c;

		/* SSE and x87 in C, under this thread's rounding modes */
		d = d * 1.000001 + 1.0 / (double)(i + 7);
		ld = ld * 1.0000001L + 1.0L / (long double)(i + 11);
		h = fnv(h, &d, sizeof(d));
		h = fnv(h, &ld, 10);
		if (have_avx) {
			avx_round(d, v);
			h = fnv(h, v, sizeof(v));
		}
		if (have_avx512) {
			avx512_round(d, z, k);
			h = fnv(h, z, sizeof(z));
			h = fnv(h, k, 3 * sizeof(k[0]));
		}
		if (!have_avx)
			syscall(SYS_sched_yield);
		/* the modes themselves must survive too */
		__asm__ volatile("stmxcsr %0" : "=m"(m));
		__asm__ volatile("fnstcw %0" : "=m"(c));
		if ((m & 0x6000) != (mxcsr & 0x6000) || c != cw) {
			fprintf(stderr, "thread %ld: modes lost at %ld (mxcsr %#x, cw %#x)\n", t, i, m,
				c);
			exit(3);
		}
	}
	return (void *)(uintptr_t)h;
}

/*
 * Scribbles over the registers UML's signal frame keeps (the FXSAVE area:
 * x87, MXCSR, xmm0-15).  Not the upper halves of ymm, zmm16-31 or the mask
 * registers: UML up to 6.12 saves only that area for a handler, so a
 * handler changing the others changes them for the interrupted code too,
 * with or without libuml.
 */
static void on_signal(int sig)
{
	unsigned int mxcsr = 0x7f80;	/* round toward zero */
	unsigned short cw = 0x0c7f;
	volatile double x = sig;

	(void)sig;
	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
	__asm__ volatile("fldcw %0" : : "m"(cw));
	__asm__ volatile("fninit\n fldpi\n fldpi\n fldpi" ::: "memory");
	/* legacy SSE encodings: they leave the upper halves alone */
	__asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n movdqa %%xmm0, %%xmm7\n movdqa %%xmm0, %%xmm15\n"
			 ::: "xmm0", "xmm7", "xmm15");
	x = x * 3.3 + 1.1;
	__atomic_add_fetch(&signals, 1, __ATOMIC_RELAXED);
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 0;
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	struct itimerval it = { { 0, 2000 }, { 0, 2000 } };
	pthread_t th[64];
	uint64_t digest = 0xcbf29ce484222325ull;

	if (n < 1 || n > 64 || (iterations = atol(argv[2])) < 1) {
		fprintf(stderr, "usage: guest-fpcheck THREADS(1-64) ITERATIONS\n");
		return 2;
	}
	detect();
	if (getenv("FPCHECK_NO_AVX512"))
		have_avx512 = 0;
	if (getenv("FPCHECK_NO_AVX"))
		have_avx = have_avx512 = 0;
	if (getenv("FPCHECK_NO_SIGNALS"))
		it.it_value.tv_usec = it.it_interval.tv_usec = 0;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	for (long t = 0; t < n; t++)
		if (pthread_create(&th[t], NULL, work, (void *)t) != 0)
			return 1;
	{
		/* the workers take the signals; a waiting main thread would get them all */
		sigset_t alrm;

		sigemptyset(&alrm);
		sigaddset(&alrm, SIGALRM);
		pthread_sigmask(SIG_BLOCK, &alrm, NULL);
	}
	for (int t = 0; t < n; t++) {
		void *h;

		pthread_join(th[t], &h);
		digest = fnv(digest, &h, sizeof(h));
	}
	printf("digest %016llx avx %d avx512 %d\n", (unsigned long long)digest, have_avx,
	       have_avx512);
	printf("signals %ld\n", __atomic_load_n(&signals, __ATOMIC_RELAXED));
	return 0;
}

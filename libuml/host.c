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
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
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

/* ---- what a program loads ---------------------------------------------------- */

/* Where the dynamic loader finds libraries without its cache (Debian, x86-64). */
static const char *const lib_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib",
	"/usr/lib",
};

/* The file offset of a virtual address, through the PT_LOAD headers. */
static bool vaddr_offset(const Elf64_Phdr *ph, unsigned n, uint64_t vaddr, uint64_t *off)
{
	for (unsigned i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOAD && vaddr >= ph[i].p_vaddr &&
		    vaddr - ph[i].p_vaddr < ph[i].p_filesz) {
			*off = ph[i].p_offset + (vaddr - ph[i].p_vaddr);
			return true;
		}
	return false;
}

/* Adds what an ELF image names: its interpreter, then the sonames it needs. */
static int elf_needs(const unsigned char *map, size_t size, struct uml_strv *interp,
		     struct uml_strv *needed)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)map;
	const Elf64_Phdr *ph;
	const Elf64_Dyn *dyn = NULL;
	uint64_t strtab = 0, strsz = 0, stroff, ndyn = 0;
	int r = 0;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    eh->e_phoff > size || eh->e_phnum > (size - eh->e_phoff) / sizeof(Elf64_Phdr))
		return -ENOEXEC;
	ph = (const Elf64_Phdr *)(map + eh->e_phoff);
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_offset > size || ph[i].p_filesz > size - ph[i].p_offset)
			return -ENOEXEC;
		if (ph[i].p_type == PT_INTERP && ph[i].p_filesz > 1 &&
		    map[ph[i].p_offset + ph[i].p_filesz - 1] == '\0')
			r |= uml_strv_add(interp, (const char *)map + ph[i].p_offset);
		if (ph[i].p_type == PT_DYNAMIC) {
			dyn = (const Elf64_Dyn *)(map + ph[i].p_offset);
			ndyn = ph[i].p_filesz / sizeof(*dyn);
		}
	}
	for (uint64_t i = 0; dyn && i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		if (dyn[i].d_tag == DT_STRTAB)
			strtab = dyn[i].d_un.d_ptr;
		else if (dyn[i].d_tag == DT_STRSZ)
			strsz = dyn[i].d_un.d_val;
	}
	if (!dyn || !strtab || !vaddr_offset(ph, eh->e_phnum, strtab, &stroff) || stroff > size ||
	    strsz > size - stroff)
		return r ? -ENOMEM : 0;
	for (uint64_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
		uint64_t o = dyn[i].d_un.d_val;

		if (dyn[i].d_tag == DT_NEEDED && o < strsz && memchr(map + stroff + o, '\0', strsz - o))
			r |= uml_strv_add(needed, (const char *)map + stroff + o);
	}
	return r ? -ENOMEM : 0;
}

static bool strv_has(const struct uml_strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], str) == 0)
			return true;
	return false;
}

static int map_file(const char *path, const unsigned char **map, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOEXEC;
	}
	*size = (size_t)st.st_size;
	*map = *size ? mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	return *map == MAP_FAILED ? -ENOEXEC : 0;
}

int uml_host_program_files(const void *image, size_t size, struct uml_strv *out)
{
	struct uml_strv names = { 0 };
	int r = elf_needs(image, size, out, &names);

	/* breadth first: each library may need more; out grows as we go */
	for (size_t i = 0; r == 0 && i < names.n; i++) {
		const unsigned char *map;
		size_t len;
		char path[512];
		bool found = false;

		if (strchr(names.v[i], '/'))
			continue;
		for (size_t d = 0; !found && d < ARRAY_SIZE(lib_dirs); d++) {
			snprintf(path, sizeof(path), "%s/%s", lib_dirs[d], names.v[i]);
			found = access(path, R_OK) == 0;
		}
		if (!found || strv_has(out, path))
			continue;
		r = uml_strv_add(out, path);
		if (r == 0 && map_file(path, &map, &len) == 0) {
			struct uml_strv more = { 0 };

			r = elf_needs(map, len, out, &more);
			munmap((void *)map, len);
			for (size_t j = 0; r == 0 && j < more.n; j++)
				if (!strv_has(&names, more.v[j]))
					r = uml_strv_add(&names, more.v[j]);
			uml_strv_free(&more);
		}
	}
	uml_strv_free(&names);
	return r;
}

int uml_host_program_file_list(const char *path, struct uml_strv *out)
{
	const unsigned char *map;
	size_t size;
	int r = map_file(path, &map, &size);

	if (r < 0)
		return r;
	r = uml_host_program_files(map, size, out);
	munmap((void *)map, size);
	return r;
}

const void *uml_host_compat_library(size_t *size)
{
	*size = uml_hostcompat_blob_size;
	return uml_hostcompat_blob;
}

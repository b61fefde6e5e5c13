/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Facts about the host that guests depend on; see host.c. */
#ifndef LIBUML_HOST_H
#define LIBUML_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/*
 * Loops per jiffy of UML's delay loop on this host (HZ=100), for the lpj=
 * kernel argument: it skips the ~90 ms "Calibrating delay loop" at boot.
 * Measured in about 1-2 ms; 0 where unknown (not x86-64).
 */
unsigned long uml_host_lpj(void);

/* Does this host need the ptrace interposer (AMX tile state enabled in XCR0)? */
bool uml_host_needs_compat(void);

/*
 * A sealed O_CLOEXEC memfd holding the ptrace interposer library
 * (hostcompat-preload.c), for LD_PRELOAD=/proc/self/fd/N in the kernel
 * process; or a negative errno.
 */
int uml_host_compat_library_fd(void);

/* The interposer library itself (for the sandbox: what it loads). */
const void *uml_host_compat_library(size_t *size);

/*
 * Adds to out the files a dynamically linked program (its ELF image in
 * memory) loads: its interpreter and, recursively, the libraries it needs,
 * as the loader finds them without its cache.  Nothing for a static one.
 * -ENOEXEC for what is not a 64-bit ELF image, -ENOMEM.
 */
int uml_host_program_files(const void *image, size_t size, struct uml_strv *out);
/* The same for a program file. */
int uml_host_program_file_list(const char *path, struct uml_strv *out);

#endif

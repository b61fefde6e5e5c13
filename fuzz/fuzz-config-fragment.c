/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel config fragments are user files: every line must be taken as a
 * config line or refused with a message, never misread.  The input is the
 * fragment (a memfd); each line is also given as a single option.
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
	struct uml_kernel_build *b;
	char path[64], *text;
	int fd, r;

	if (!ctx) {
		if (uml_ctx_new(&ctx) < 0)
			abort();
		uml_ctx_set_log_fn(ctx, quiet, NULL);
	}
	if (uml_kernel_build_new(ctx, &b) < 0)
		abort();
	fd = memfd_create("fuzz-fragment", MFD_CLOEXEC);
	if (fd < 0 || uml_write_all(fd, data, size) < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = uml_kernel_build_add_fragment_file(b, path);
	if (r < 0 && r != -EINVAL && r != -ENOMEM)
		__builtin_trap();
	if (r == -EINVAL && !uml_kernel_build_last_error(b))
		__builtin_trap();
	close(fd);

	text = strndup((const char *)data, size);
	if (!text)
		abort();
	for (char *line = text, *nl; line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		r = uml_kernel_build_add_option(b, line);
		if (r < 0 && r != -EINVAL && r != -ENOMEM)
			__builtin_trap();
	}
	free(text);
	uml_kernel_build_unref(b);
	return 0;
}

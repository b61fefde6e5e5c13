/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Console lines decide how a guest ended (panic, no init, no root ...):
 * the guest writes them, so any bytes may come.  Lines are split as the
 * instance splits them (LF, CRs before it dropped).
 */
#include "config.h"

#include "libuml-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	/* the whole input as one line (a guest printing without newlines) */
	if (uml_console_class_rank(uml_console_classify(p, size)) < 0)
		__builtin_trap();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		enum uml_console_class c;

		while (len > 0 && p[len - 1] == '\r')
			len--;
		c = uml_console_classify(p, len);
		if (c > UML_CONSOLE_OOM || uml_console_class_rank(c) < 0)
			__builtin_trap();
		p = nl ? nl + 1 : end;
	}
	return 0;
}

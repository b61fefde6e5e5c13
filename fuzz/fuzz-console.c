/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Console lines name how a guest ended (panic, no init, no root ...): the
 * guest writes them, so any bytes may come.  Lines are split as the
 * instance splits them (LF, CRs before it dropped).
 */
#include "config.h"

#include "exit-reason.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *line, size_t len)
{
	enum uml_exit_reason r = uml_exit_reason_of_line(line, len);

	/* a named reason, with a name and a rank above "nothing said" */
	if (!uml_exit_reason_to_string(r) || (r != UML_EXIT_NONE && uml_exit_reason_rank(r) <= 0))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;

	/* the whole input as one line (a guest printing without newlines) */
	check(p, size);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		while (len > 0 && p[len - 1] == '\r')
			len--;
		check(p, len);
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Notify datagrams come from the guest kernel (mconsole=notify:) and from
 * anything in the guest that writes /proc/mconsole: hostile bytes.
 */
#include "config.h"

#include "mconsole-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text;
	size_t len;
	int type;

	if (uml_mconsole_parse_notify(data, size, &type, &text, &len) == 0) {
		/* what was returned must lie inside the datagram */
		if (text < (const char *)data || text + len > (const char *)data + size)
			__builtin_trap();
		if (type < UML_MCONSOLE_NOTIFY_SOCKET || type > UML_MCONSOLE_NOTIFY_USER)
			__builtin_trap();
		/* instance.c reads the panic text up to a newline */
		if (type == UML_MCONSOLE_NOTIFY_PANIC) {
			char *copy = strndup(text, len);

			free(copy);
		}
	}
	return 0;
}

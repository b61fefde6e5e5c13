/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mconsole replies: a sequence of datagrams from whatever listens on the
 * guest's socket.  The input is split into datagrams by a leading length
 * byte pair each; parts are taken until one says it is the last.
 */
#include "config.h"

#include "mconsole-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uml_buf out = { 0 };
	int err = 0, r = 1;

	while (r == 1 && size >= 2) {
		size_t n = (size_t)data[0] << 8 | data[1];

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		r = uml_mconsole_parse_reply(data, n, &out, &err);
		if (r >= 0 && out.len > (16u << 20))
			__builtin_trap();
		data += n;
		size -= n;
	}
	/* the text is always NUL-terminated */
	if (out.data && out.data[out.len] != '\0')
		__builtin_trap();
	uml_buf_free(&out);
	return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The exec client (uml_ctx_exec()) reads frames from the socket of the
 * process that serves the guest, which relays what the guest's agent sent:
 * hostile bytes.  The input arrives in two reads, split by its first byte.
 */
#include "config.h"

#include "exec-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uml_buf in = { 0 };
	struct uml_exec *e;
	size_t split;

	if (size < 1)
		return 0;
	split = data[0] % size;
	data++;
	size--;
	e = uml_exec_new();
	if (!e)
		abort();
	for (int part = 0; part < 2; part++) {
		const char *msg = NULL;
		size_t used = 0, msg_len = 0;
		int err = 0, r;

		if (uml_buf_append(&in, part ? (const char *)data + split : (const char *)data,
				   part ? size - split : split) < 0)
			abort();
		r = uml_exec_client_parse(e, in.data, in.len, &used, &err, &msg, &msg_len);
		if (used > in.len)
			__builtin_trap();
		if (r == 2) {
			/* an error is a real negative errno, its message inside the input */
			if (err >= 0 || err < -4095 || msg < in.data || msg + msg_len > in.data + in.len)
				__builtin_trap();
			break;
		}
		if (r != 0 && r != 1 && r != -EPROTO && r != -ENOMEM)
			__builtin_trap();
		if (r != 0)
			break;
		uml_buf_drop_front(&in, used);
	}
	uml_buf_free(&in);
	uml_exec_unref(e);
	return 0;
}

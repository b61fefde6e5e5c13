/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The mconsole wire protocol; see mconsole-proto.c. */
#ifndef LIBUML_MCONSOLE_PROTO_H
#define LIBUML_MCONSOLE_PROTO_H

#include "util.h"


#define UML_MCONSOLE_MAGIC 0xcafebabeU
#define UML_MCONSOLE_VERSION 2
#define UML_MCONSOLE_MAX_DATA 512

enum uml_mconsole_notify_type {
	UML_MCONSOLE_NOTIFY_SOCKET = 0,
	UML_MCONSOLE_NOTIFY_PANIC = 1,
	UML_MCONSOLE_NOTIFY_HANG = 2,
	UML_MCONSOLE_NOTIFY_USER = 3,
};

/*
 * Sends one request to the mconsole socket at sock_path and collects the
 * reply (all parts while `more` is set) into *reply (NUL-terminated, may
 * hold NULs; length in *reply_len; caller frees).  *err_flag (may be NULL)
 * gets the reply's error value: 0 for success, else what the kernel put
 * there (1, or a negative errno for some config/remove failures).  timeout_ms bounds the whole exchange
 * (negative: no limit); a reply is capped at 16 MiB in all.  Each call
 * uses its own socket, so a late answer to an earlier call is never taken
 * for this one.  Returns 0; -E2BIG for a command of 512 bytes or more;
 * -ENAMETOOLONG for a sock_path that does not fit sun_path; -ENOENT /
 * -ECONNREFUSED when nothing listens there; -ETIMEDOUT; -EBADMSG for a
 * malformed, truncated or oversized reply datagram; -EMSGSIZE past the
 * cap; other socket errors as negative errno.  Outputs untouched on error.
 */
int uml_mconsole_call(const char *sock_path, const char *command, int timeout_ms,
		      char **reply, size_t *reply_len, int *err_flag);

/*
 * Checks one reply datagram of n bytes (any alignment) as uml_mconsole_call()
 * does and appends its text to out.  *err_flag must start at 0 and keeps
 * the first error value seen.  Returns 1 when more parts follow, 0 for the
 * last part, -EBADMSG for a malformed datagram, -EMSGSIZE when out would
 * pass 16 MiB, -ENOMEM.
 */
int uml_mconsole_parse_reply(const void *buf, size_t n, struct uml_buf *out, int *err_flag);

/*
 * Parses one notify datagram of n bytes (any alignment).  Returns 0 and
 * fills type (enum uml_mconsole_notify_type), data (points into buf, not
 * NUL-terminated) and len; the NUL the kernel appends to the socket name
 * and panic text is not counted.  -EBADMSG for a bad magic, version, type
 * or length.  Outputs may be NULL.
 */
int uml_mconsole_parse_notify(const void *buf, size_t n, int *type, const char **data,
			      size_t *len);

/*
 * A reply is at most this big in all.  proc of a large file legitimately
 * sends many parts, but a peer that keeps setting `more` must not make us
 * grow without bound.
 */
#define UML_MCONSOLE_MAX_REPLY (16u << 20)

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The exec channel's frames, shared by the channel (exec.c), its clients
 * in other processes (exec-client.c) and the guest's agent
 * (agent/uml-agent.c, which keeps its own copy of the numbers).
 *
 * A frame is u32 type, u32 length (little endian), then length bytes.
 */
#ifndef LIBUML_EXEC_PROTO_H
#define LIBUML_EXEC_PROTO_H

#include "libuml-private.h"

enum {
	/* requests */
	UML_EXEC_F_EXEC = 1,	/* u32 timeout_ms, u32 argc, argv (NUL-ended), stdin */
	UML_EXEC_F_PUT = 2,	/* u32 mode, path (NUL-ended), contents */
	UML_EXEC_F_GET = 3,	/* path (NUL-ended) */
	/* from the agent */
	UML_EXEC_F_HELLO = 0x81,	/* version line, then one line per share that failed */
	UML_EXEC_F_STDOUT = 0x82,
	UML_EXEC_F_STDERR = 0x83,
	UML_EXEC_F_EXIT = 0x84,		/* u32 how (0 exit, 1 signal, 2 timed out), u32 value */
	UML_EXEC_F_ERROR = 0x85,	/* u32 errno, message */
	UML_EXEC_F_DATA = 0x86,		/* file contents (F_GET) */
	UML_EXEC_F_END = 0x87,		/* u32 mode (F_GET) */
	UML_EXEC_F_CREDIT = 0x88,	/* u32 bytes read, u32 unused */
};

#define UML_EXEC_FRAME_HDR 8
/* Most bytes of arguments and input in one request. */
#define UML_EXEC_MAX_REQUEST (256u << 20)
/* Past a command's own timeout, how long the host waits for the agent. */
#define UML_EXEC_HOST_GRACE_MS 30000

struct uml_exec {
	int refcount;
	int status;
	int signal;
	bool timed_out;
	struct uml_buf out, err;
};

void uml_put32(unsigned char *p, uint32_t v);
uint32_t uml_get32(const void *p);

/* A new, empty result (status -1); NULL without memory. */
struct uml_exec *uml_exec_new(void);
/*
 * Applies an output or exit frame to a result.  Returns 1 for the exit
 * frame, 0 for output, -ENOMEM, or -EBADMSG for a malformed frame.
 */
int uml_exec_result_frame(struct uml_exec *e, uint32_t type, const char *p, size_t len);
/*
 * An error frame's errno as a negative errno: anything outside 1..4095
 * (the guest may send any bytes) is -EIO.  -EBADMSG for a short frame.
 */
int uml_exec_error_frame(const char *p, size_t len);
/* Builds an exec request frame into *req and a fresh result. -E2BIG, -ENOMEM. */
int uml_exec_request(const char *const *argv, const void *in, size_t in_len, int timeout_ms,
		     struct uml_buf *req, struct uml_exec **ret);

/*
 * The client side of the exec socket (exec-client.c): takes what the
 * guest's server sent (in, len bytes; *consumed of them used) and fills e.
 * Returns 0 when more is needed, 1 when the answer is complete, 2 for an
 * error frame (*err its negative errno, *msg and *msg_len its message,
 * pointing into in), -EPROTO for a malformed frame, -ENOMEM.
 */
int uml_exec_client_parse(struct uml_exec *e, const char *in, size_t len, size_t *consumed,
			  int *err, const char **msg, size_t *msg_len);

/*
 * Hands bytes to the exec channel of inst as if its agent had sent them,
 * with a command of our own in flight if own_request is set and none is
 * queued (for the fuzzer).  Returns 0, -EPROTO once the channel is broken,
 * -ENOMEM, -ENOTCONN without a channel.
 */
int uml_instance_exec_feed(struct uml_instance *inst, const void *data, size_t len,
			   bool own_request);

#endif

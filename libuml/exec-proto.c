/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The exec channel's frames and results; see exec-proto.h. */
#include "config.h"

#include "exec-proto.h"

void uml_put32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

uint32_t uml_get32(const void *v)
{
	const unsigned char *p = v;

	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- results ---------------------------------------------------------------- */

struct uml_exec *uml_exec_new(void)
{
	struct uml_exec *e = calloc(1, sizeof(*e));

	if (e) {
		e->refcount = 1;
		e->status = -1;
	}
	return e;
}

static void exec_free(struct uml_exec *e)
{
	uml_buf_free(&e->out);
	uml_buf_free(&e->err);
	free(e);
}

UML_DEFINE_REF_UNREF(uml_exec, uml_exec, exec_free)

UML_DEFINE_GETTER(int, uml_exec_get_status, uml_exec, p->status, -1)
UML_DEFINE_GETTER(int, uml_exec_get_signal, uml_exec, p->signal, 0)
UML_DEFINE_GETTER(int, uml_exec_get_timed_out, uml_exec, p->timed_out ? 1 : 0, 0)

static const char *buf_get(struct uml_buf *b, size_t *len)
{
	if (len)
		*len = b->len;
	return b->data ? b->data : "";
}

UML_EXPORT const char *uml_exec_get_stdout(struct uml_exec *e, size_t *len)
{
	return e ? buf_get(&e->out, len) : NULL;
}

UML_EXPORT const char *uml_exec_get_stderr(struct uml_exec *e, size_t *len)
{
	return e ? buf_get(&e->err, len) : NULL;
}

/* ---- frames ----------------------------------------------------------------- */

int uml_exec_result_frame(struct uml_exec *e, uint32_t type, const char *p, size_t len)
{
	if (type == UML_EXEC_F_STDOUT || type == UML_EXEC_F_STDERR)
		return uml_buf_append(type == UML_EXEC_F_STDOUT ? &e->out : &e->err, p, len) < 0 ?
		       -ENOMEM : 0;
	if (type != UML_EXEC_F_EXIT || len != 8)
		return -EBADMSG;
	e->timed_out = uml_get32(p) == 2;
	if (uml_get32(p) == 0) {
		e->status = (int)uml_get32(p + 4);
	} else {
		e->status = -1;
		e->signal = (int)uml_get32(p + 4);
	}
	return 1;
}

int uml_exec_error_frame(const char *p, size_t len)
{
	uint32_t err;

	if (len < 4)
		return -EBADMSG;
	err = uml_get32(p);
	return err >= 1 && err < 4096 ? -(int)err : -EIO;
}

int uml_exec_request(const char *const *argv, const void *in, size_t in_len, int timeout_ms,
		     struct uml_buf *req, struct uml_exec **ret)
{
	unsigned char head[16];
	struct uml_buf args = { 0 };
	struct uml_exec *e;
	uint32_t argc = 0;
	int r = 0;

	for (; argv[argc]; argc++)
		r |= uml_buf_append(&args, argv[argc], strlen(argv[argc]) + 1);
	if (r < 0) {
		uml_buf_free(&args);
		return -ENOMEM;
	}
	if (args.len + in_len > UML_EXEC_MAX_REQUEST) {
		uml_buf_free(&args);
		return -E2BIG;
	}
	e = uml_exec_new();
	if (!e) {
		uml_buf_free(&args);
		return -ENOMEM;
	}
	uml_put32(head, UML_EXEC_F_EXEC);
	uml_put32(head + 4, (uint32_t)(8 + args.len + in_len));
	uml_put32(head + 8, timeout_ms > 0 ? (uint32_t)timeout_ms : 0);
	uml_put32(head + 12, argc);
	r = uml_buf_append(req, head, sizeof(head));
	r |= uml_buf_append(req, args.data, args.len);
	r |= uml_buf_append(req, in, in_len);
	uml_buf_free(&args);
	if (r) {
		uml_buf_free(req);
		uml_exec_unref(e);
		return -ENOMEM;
	}
	*ret = e;
	return 0;
}

int uml_exec_client_parse(struct uml_exec *e, const char *in, size_t len, size_t *consumed,
			  int *err, const char **msg, size_t *msg_len)
{
	size_t off = 0;
	int r = 0;

	while (r == 0 && len - off >= UML_EXEC_FRAME_HDR &&
	       len - off - UML_EXEC_FRAME_HDR >= uml_get32(in + off + 4)) {
		uint32_t type = uml_get32(in + off), flen = uml_get32(in + off + 4);
		const char *p = in + off + UML_EXEC_FRAME_HDR;

		off += UML_EXEC_FRAME_HDR + (size_t)flen;
		if (type == UML_EXEC_F_ERROR) {
			*err = uml_exec_error_frame(p, flen);
			if (*err == -EBADMSG)
				return -EPROTO;
			*msg = p + 4;
			*msg_len = flen - 4;
			r = 2;
			break;
		}
		r = uml_exec_result_frame(e, type, p, flen);
		if (r == -EBADMSG)
			return -EPROTO;
	}
	*consumed = off;
	return r;
}

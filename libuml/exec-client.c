/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running a command in a guest that another process booted: the booting
 * process serves RUNTIME_DIR/.UMID.exec (exec.c); this is the client.
 */
#include "config.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "exec-proto.h"

UML_EXPORT int uml_ctx_exec(struct uml_ctx *ctx, const char *umid, const char *const *argv,
			    const void *stdin_data, size_t stdin_len, int timeout_ms,
			    struct uml_exec **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct uml_buf req = { 0 }, in = { 0 };
	uint64_t until;
	struct uml_exec *e = NULL;
	int fd = -1, r;

	if (!ctx || !umid || !argv || !argv[0] || !argv[0][0] || !ret || (!stdin_data && stdin_len))
		return -EINVAL;
	if (!umid[0] || strchr(umid, '/') || strcmp(umid, ".") == 0 || strcmp(umid, "..") == 0)
		return uml_fail(ctx, NULL, -EINVAL, "'%s' is not a umid", umid);
	r = uml_ctx_check_runtime_dir(ctx, NULL, false);
	if (r < 0)
		return r;
	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.%s.exec", uml_ctx_get_runtime_dir(ctx),
		     umid) >= (int)sizeof(sa.sun_path))
		return uml_fail(ctx, NULL, -ENAMETOOLONG, "exec socket path for '%s' is too long", umid);
	r = uml_exec_request(argv, stdin_data, stdin_len, timeout_ms, &req, &e);
	if (r < 0)
		return uml_fail(ctx, NULL, r, "cannot run '%s' in '%s': %s", argv[0], umid, strerror(-r));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = uml_fail(ctx, NULL, -ENOTCONN, "no guest '%s' with an exec channel in %s (%s)",
			     umid, uml_ctx_get_runtime_dir(ctx), strerror(errno));
		goto out;
	}
	r = uml_write_all(fd, req.data, req.len);
	if (r < 0) {
		uml_fail(ctx, NULL, r, "cannot send to guest '%s': %s", umid, strerror(-r));
		goto out;
	}
	shutdown(fd, SHUT_WR);
	until = timeout_ms > 0 ?
		uml_now_usec() + ((uint64_t)timeout_ms + UML_EXEC_HOST_GRACE_MS) * 1000u : UINT64_MAX;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		const char *msg = NULL;
		size_t used = 0, msg_len = 0;
		char chunk[65536];
		int err = 0;
		ssize_t n;

		if (poll(&pfd, 1, uml_ms_until(until)) == 0) {
			r = uml_fail(ctx, NULL, -ETIMEDOUT, "no answer from guest '%s'", umid);
			goto out;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = uml_fail(ctx, NULL, -ECONNRESET, "guest '%s' ended before it could run '%s'",
				     umid, argv[0]);
			goto out;
		}
		if (uml_buf_append(&in, chunk, (size_t)n) < 0) {
			r = -ENOMEM;
			goto out;
		}
		r = uml_exec_client_parse(e, in.data, in.len, &used, &err, &msg, &msg_len);
		if (r == 2) {
			r = uml_fail(ctx, NULL, err, "guest '%s': %.*s", umid, (int)msg_len, msg);
			goto out;
		}
		if (r < 0) {
			uml_fail(ctx, NULL, r, "guest '%s': %s on the exec socket", umid,
				 r == -ENOMEM ? "out of memory for the answer" : "bad answer");
			goto out;
		}
		if (r == 1)
			break;
		uml_buf_drop_front(&in, used);
	}
	*ret = e;
	e = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	uml_buf_free(&req);
	uml_buf_free(&in);
	uml_exec_unref(e);
	return r;
}

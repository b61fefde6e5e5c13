/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The UML management console (mconsole) wire protocol: requests over the
 * guest's unix datagram socket, replies, and notify datagrams.  Used by
 * the instance (halt, notify) and by the public mconsole calls (mconsole.c).
 *
 * Wire format (arch/um/drivers/mconsole.h, host byte order):
 *   request: u32 magic, u32 version, u32 len, char data[512]
 *   reply:   u32 err,   u32 more,    u32 len, char data[512]  (repeated while more)
 *   notify:  u32 magic, u32 version, u32 type, u32 len, char data[512]
 * The kernel sends only the used part of data[]; every reply part carries
 * its text plus a terminating NUL in len.  Everything that comes off the
 * socket is treated as hostile: lengths are checked against the datagram.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mconsole-proto.h"
#include "util.h"

struct mc_request {
	uint32_t magic;
	uint32_t version;
	uint32_t len;
	char data[UML_MCONSOLE_MAX_DATA];
};

struct mc_reply {
	uint32_t err;
	uint32_t more;
	uint32_t len;
	char data[UML_MCONSOLE_MAX_DATA];
};

struct mc_notify {
	uint32_t magic;
	uint32_t version;
	uint32_t type;
	uint32_t len;
	char data[UML_MCONSOLE_MAX_DATA];
};

#define MC_REPLY_HDR offsetof(struct mc_reply, data)
#define MC_NOTIFY_HDR offsetof(struct mc_notify, data)

static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, uml_ms_until(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		return 0;
	}
}

/*
 * A sandboxed kernel sees neither our abstract addresses (its network
 * namespace has its own) nor our files, but its box (RUNTIME/.box-ID,
 * where RUNTIME/UMID/mconsole leads) is bound at its own path in the
 * sandbox: a client socket bound there can be answered.  The directory to
 * bind in (allocated), or NULL for a guest without a box.
 */
static char *sandbox_box_of(const char *sock_path)
{
	char *copy = strdup(sock_path), *real, *slash;

	if (!copy)
		return NULL;
	slash = strrchr(copy, '/');
	if (slash)
		*slash = '\0';
	real = realpath(copy, NULL);	/* RUNTIME/.box-ID/UMID when sandboxed */
	free(copy);
	if (!real)
		return NULL;
	slash = strrchr(real, '/');
	if (slash && slash != real)
		*slash = '\0';
	slash = strrchr(real, '/');
	if (!slash || strncmp(slash + 1, ".box-", 5) != 0) {
		free(real);
		return NULL;
	}
	return real;
}

/*
 * The kernel answers with sendto() to the address the request came from,
 * so the client socket needs one.  Autobind gives an abstract address
 * without touching the file system.  A sandboxed guest, or a refused
 * autobind, takes a path: in the guest's box, or in a private mode-0700
 * directory.  It must stay until the reply is in (an unlinked path cannot
 * be reached), and unbind_client() removes it.
 */
/*
 * Opens dir (just made by us in a box the kernel's uid may write) and checks
 * that it is still ours: the kernel could have put a symlink or a dir of its
 * own there.  Its fd, or a negative errno.
 */
static int open_own_dir(const char *dir)
{
	struct stat st;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0)
		return -errno;
	if (fstat(dfd, &st) < 0 || st.st_uid != geteuid()) {
		close(dfd);
		return -EPERM;
	}
	return dfd;
}

/* Binds fd at sa (in the dir dfd, as name "c"); checks that the socket landed there. */
static int bind_in_own_dir(int fd, const struct sockaddr_un *sa, int dfd)
{
	struct stat at_path, in_dir;

	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		return -errno;
	if (lstat(sa->sun_path, &at_path) < 0 || fstatat(dfd, "c", &in_dir, AT_SYMLINK_NOFOLLOW) < 0 ||
	    at_path.st_ino != in_dir.st_ino || at_path.st_dev != in_dir.st_dev)
		return -EPERM;
	/* the kernel, maybe another uid, sends its reply to it */
	return fchmodat(dfd, "c", 0666, 0) < 0 ? -errno : 0;
}

static int bind_client(int fd, const char *sock_path, char **tmpdir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/libuml-mc-XXXXXX", id[13];
	const char *base;
	char *box = sandbox_box_of(sock_path);
	int n, r, dfd;

	if (box) {
		/*
		 * A directory of its own in the box, which the kernel (maybe
		 * another uid) may write: everything after the mkdir goes
		 * through the directory's fd, never through the path.
		 */
		if (uml_random_hex(id, 12) < 0 ||
		    asprintf(tmpdir, "%s/.mc-%s", box, id) < 0) {
			free(box);
			*tmpdir = NULL;
			return -ENOMEM;
		}
		free(box);
		if (mkdir(*tmpdir, 0700) < 0)
			return -errno;
		dfd = open_own_dir(*tmpdir);
		if (dfd < 0)
			return dfd;
		n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/c", *tmpdir);
		r = n < 0 || (size_t)n >= sizeof(sa.sun_path) ? -ENAMETOOLONG :
		    fchmod(dfd, 0711) < 0 ? -errno : bind_in_own_dir(fd, &sa, dfd);
		close(dfd);
		return r;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa_family_t)) == 0)
		return 0;
	base = getenv("TMPDIR");
	if (base && base[0] == '/' && strlen(base) < 60) {
		char *t;

		if (asprintf(&t, "%s/libuml-mc-XXXXXX", base) < 0)
			return -ENOMEM;
		if (!mkdtemp(t)) {
			free(t);
			t = NULL;
		}
		*tmpdir = t;
	}
	if (!*tmpdir) {
		if (!mkdtemp(dir))
			return -errno;
		*tmpdir = strdup(dir);
		if (!*tmpdir) {
			rmdir(dir);
			return -ENOMEM;
		}
	}
	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/c", *tmpdir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(sa.sun_path, 0666) < 0)
		return -errno;
	return 0;
}

static void unbind_client(char *tmpdir)
{
	int dfd;

	if (!tmpdir)
		return;
	/* through the dir's fd: the path may lead elsewhere by now */
	dfd = open_own_dir(tmpdir);
	if (dfd >= 0) {
		unlinkat(dfd, "c", 0);
		close(dfd);
		rmdir(tmpdir);
	}
	free(tmpdir);
}

/*
 * Checks one reply datagram of n bytes (real size, maybe more than was
 * received) and appends its text to out.  Returns 1 when more parts
 * follow, 0 for the last part, or a negative errno.
 */
static int take_reply(const struct mc_reply *rep, size_t n, struct uml_buf *out, int *err_flag)
{
	size_t len;

	if (n < MC_REPLY_HDR || n > sizeof(*rep))
		return -EBADMSG;
	if (rep->len > UML_MCONSOLE_MAX_DATA || rep->len > n - MC_REPLY_HDR)
		return -EBADMSG;
	len = rep->len;
	/* the kernel counts the NUL it puts after each part's text */
	if (len > 0 && rep->data[len - 1] == '\0')
		len--;
	if (out->len + len > UML_MCONSOLE_MAX_REPLY)
		return -EMSGSIZE;
	if (uml_buf_append(out, rep->data, len) < 0)
		return -ENOMEM;
	/* only the first part carries it; keep the first one seen */
	if (rep->err && !*err_flag)
		*err_flag = (int)rep->err;
	return rep->more ? 1 : 0;
}

int uml_mconsole_parse_reply(const void *buf, size_t n, struct uml_buf *out, int *err_flag)
{
	struct mc_reply rep;

	if (!buf || n > sizeof(rep))
		return -EBADMSG;
	/* any alignment: copy instead of casting */
	memcpy(&rep, buf, n);
	return take_reply(&rep, n, out, err_flag);
}

int uml_mconsole_call(const char *sock_path, const char *command, int timeout_ms,
		      char **reply, size_t *reply_len, int *err_flag)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct mc_request req = { .magic = UML_MCONSOLE_MAGIC, .version = UML_MCONSOLE_VERSION };
	struct mc_reply rep;
	struct uml_buf out = { 0 };
	uint64_t deadline = UINT64_MAX;
	char *tmpdir = NULL;
	size_t clen;
	int fd, r, eflag = 0;

	if (!sock_path || !command || !reply)
		return -EINVAL;
	if (strlen(sock_path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	clen = strlen(command);
	/* the kernel refuses len >= 512: it NUL-terminates data[len] */
	if (clen >= UML_MCONSOLE_MAX_DATA)
		return -E2BIG;
	strcpy(sa.sun_path, sock_path);
	req.len = (uint32_t)clen;
	memcpy(req.data, command, clen);
	if (timeout_ms >= 0)
		deadline = uml_now_usec() + (uint64_t)timeout_ms * 1000u + 1;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	r = bind_client(fd, sock_path, &tmpdir);
	if (r < 0)
		goto out;
	/* connected: only the guest's socket can answer */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = send(fd, &req, offsetof(struct mc_request, data) + clen, 0);

		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			r = -errno;
			goto out;
		}
		/* the guest's receive queue is full */
		r = wait_fd(fd, POLLOUT, deadline);
		if (r < 0)
			goto out;
	}
	for (;;) {
		ssize_t n;

		r = wait_fd(fd, POLLIN, deadline);
		if (r < 0)
			goto out;
		/* MSG_TRUNC: n is the datagram's real size, to spot oversized ones */
		n = recv(fd, &rep, sizeof(rep), MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = -errno;
			goto out;
		}
		r = take_reply(&rep, (size_t)n, &out, &eflag);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
	}
	if (!out.data && uml_buf_append(&out, "", 0) < 0) {
		r = -ENOMEM;
		goto out;
	}
	*reply = out.data;
	out.data = NULL;
	if (reply_len)
		*reply_len = out.len;
	if (err_flag)
		*err_flag = eflag;
	r = 0;
out:
	uml_buf_free(&out);
	close(fd);
	unbind_client(tmpdir);
	return r;
}

int uml_mconsole_parse_notify(const void *buf, size_t n, int *type, const char **data,
			      size_t *len)
{
	const char *p = buf;
	uint32_t hdr[4];		/* magic, version, type, len */
	size_t dlen;

	if (!buf || n < MC_NOTIFY_HDR || n > sizeof(struct mc_notify))
		return -EBADMSG;
	/* buf is any byte buffer: copy the header out instead of casting */
	memcpy(hdr, p, sizeof(hdr));
	if (hdr[0] != UML_MCONSOLE_MAGIC || hdr[1] != UML_MCONSOLE_VERSION)
		return -EBADMSG;
	if (hdr[2] > UML_MCONSOLE_NOTIFY_USER)
		return -EBADMSG;
	if (hdr[3] > UML_MCONSOLE_MAX_DATA || hdr[3] > n - MC_NOTIFY_HDR)
		return -EBADMSG;
	dlen = hdr[3];
	p += MC_NOTIFY_HDR;
	/* the kernel sends the socket name and panic text with their NUL */
	if ((hdr[2] == UML_MCONSOLE_NOTIFY_SOCKET || hdr[2] == UML_MCONSOLE_NOTIFY_PANIC) &&
	    dlen > 0 && p[dlen - 1] == '\0')
		dlen--;
	if (type)
		*type = (int)hdr[2];
	if (data)
		*data = p;
	if (len)
		*len = dlen;
	return 0;
}

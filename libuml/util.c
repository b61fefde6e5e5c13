/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Generic helpers; see util.h. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "uml/libuml.h"
#include "util.h"

void uml_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

uint64_t uml_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int uml_mkdir_p(const char *path, mode_t mode)
{
	char *copy = strdup(path);
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			r = -errno;
			break;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(copy);
	if (r == 0) {
		struct stat st;

		if (stat(path, &st) < 0)
			r = -errno;
		else if (!S_ISDIR(st.st_mode))
			r = -ENOTDIR;
	}
	return r;
}

static int rm_rf_at(int dfd)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			continue;
		if (errno == EISDIR || errno == EPERM) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				int q = rm_rf_at(sub);

				if (q < 0 && r == 0)
					r = q;
				if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && r == 0)
					r = -errno;
				continue;
			}
		}
		if (errno != ENOENT && r == 0)
			r = -errno;
	}
	closedir(d);
	return r;
}

int uml_rm_rf(const char *path)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int r;

	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ENOTDIR || errno == ELOOP)
			return unlink(path) < 0 ? -errno : 0;
		return -errno;
	}
	r = rm_rf_at(dfd);
	if (rmdir(path) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int uml_read_file(const char *path, char **ret, size_t *len)
{
	struct uml_buf b = { 0 };
	char chunk[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		r = uml_buf_append(&b, chunk, (size_t)n);
		if (r < 0)
			break;
	}
	close(fd);
	if (r == 0 && !b.data)
		r = uml_buf_append(&b, "", 0);
	if (r < 0) {
		uml_buf_free(&b);
		return r;
	}
	*ret = b.data;
	if (len)
		*len = b.len;
	return 0;
}

int uml_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int uml_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	for (size_t done = 0; done < len; ) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

ssize_t uml_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int uml_path_absolute(const char *path, char **ret)
{
	char cwd[4096];

	if (path[0] == '/') {
		*ret = strdup(path);
		return *ret ? 0 : -ENOMEM;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if (asprintf(ret, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path) < 0)
		return -ENOMEM;
	return 0;
}

int uml_set_string(char **slot, const char *value)
{
	char *copy = NULL;

	if (value && !(copy = strdup(value)))
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

bool uml_has_space_or_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return true;
	return false;
}

int uml_find_program(const char *name, char **ret)
{
	const char *path = getenv("PATH");

	if (strchr(name, '/')) {
		if (access(name, X_OK) < 0)
			return -errno;
		*ret = strdup(name);
		return *ret ? 0 : -ENOMEM;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");
		char *cand;

		if (len > 0) {
			if (asprintf(&cand, "%.*s/%s", (int)len, path, name) < 0)
				return -ENOMEM;
			if (access(cand, X_OK) == 0) {
				*ret = cand;
				return 0;
			}
			free(cand);
		}
		path += len;
		if (*path == ':')
			path++;
	}
	return -ENOENT;
}

int uml_buf_append(struct uml_buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

void uml_buf_drop_front(struct uml_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}

void uml_buf_free(struct uml_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int uml_ms_until(uint64_t deadline_usec)
{
	uint64_t now = uml_now_usec();

	if (deadline_usec == UINT64_MAX)
		return -1;
	if (deadline_usec <= now)
		return 0;
	/* round up: waking early only means another round */
	return (deadline_usec - now + 999) / 1000 > INT32_MAX ? INT32_MAX :
	       (int)((deadline_usec - now + 999) / 1000);
}

int uml_random_hex(char *out, size_t n_hex)
{
	unsigned char raw[32];
	size_t n = (n_hex + 1) / 2;

	if (n > sizeof(raw) || getrandom(raw, n, 0) != (ssize_t)n)
		return -EIO;
	for (size_t i = 0; i < n_hex; i++)
		out[i] = "0123456789abcdef"[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
	out[n_hex] = '\0';
	return 0;
}

bool uml_valid_name(const char *s, size_t max)
{
	size_t len = strlen(s);

	return len > 0 && len <= max && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")] ==
	       '\0';
}

int uml_buf_printf(struct uml_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n, r;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	r = uml_buf_append(b, s, (size_t)n);
	free(s);
	return r;
}

int uml_grow(void *pv, size_t *cap, size_t need, size_t size)
{
	void **v = pv, *n;
	size_t c = *cap ? *cap : 8;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if (c > SIZE_MAX / size || !(n = realloc(*v, c * size)))
		return -ENOMEM;
	*v = n;
	*cap = c;
	return 0;
}

int uml_strv_take(struct uml_strv *s, char *str)
{
	if (!str)
		return -ENOMEM;
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			free(str);
			return -ENOMEM;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
	return 0;
}

int uml_strv_add(struct uml_strv *s, const char *str)
{
	return uml_strv_take(s, strdup(str));
}

int uml_strv_addf(struct uml_strv *s, const char *fmt, ...)
{
	va_list ap;
	char *str;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&str, fmt, ap);
	va_end(ap);
	return uml_strv_take(s, n < 0 ? NULL : str);
}

void uml_strv_free(struct uml_strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

void uml_strv_free_array(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int uml_intv_add(struct uml_intv *s, int value)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		int *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = value;
	return 0;
}

void uml_intv_free(struct uml_intv *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

int uml_tmpfile_next_to(const char *path, mode_t mode, char **ret_tmp)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 1;
	const char *base = slash ? slash + 1 : path;

	for (unsigned attempt = 0; attempt < 16; attempt++) {
		char id[13], *tmp;
		int fd;

		if (uml_random_hex(id, 12) < 0)
			return -EIO;
		if (asprintf(&tmp, "%.*s/.%s.%s", dirlen, slash ? path : ".", base, id) < 0)
			return -ENOMEM;
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0) {
			*ret_tmp = tmp;
			return fd;
		}
		free(tmp);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

int uml_write_file(const char *path, const char *data, size_t len)
{
	_cleanup_(uml_freep) char *tmp = NULL;
	int fd, r;

	fd = uml_tmpfile_next_to(path, 0644, &tmp);
	if (fd < 0)
		return fd;
	r = uml_write_all(fd, data, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

bool uml_stamp_matches(const char *path, const char *want)
{
	_cleanup_(uml_freep) char *have = NULL;

	return uml_read_file(path, &have, NULL) == 0 && strcmp(have, want) == 0;
}

int uml_file_identity(const char *path, char **ret)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	return asprintf(ret, "%lld %llu %lld.%09ld\n", (long long)st.st_size,
			(unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec,
			st.st_mtim.tv_nsec) < 0 ? -ENOMEM : 0;
}

int uml_lock_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int r = -errno;

			close(fd);
			return r;
		}
	}
	return fd;
}

uint64_t uml_hash_bytes(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t uml_hash_str(uint64_t h, const char *s)
{
	/* include the NUL so "ab"+"c" differs from "a"+"bc" */
	return uml_hash_bytes(h, s, strlen(s) + 1);
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library context: logging, errors, progress, runtime directory. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libuml-private.h"

struct uml_ctx {
	int refcount;
	uml_log_fn log_fn;
	void *log_data;
	int log_priority;
	uml_progress_fn progress_fn;
	void *progress_data;
	char *runtime_dir;
	enum uml_hostcompat hostcompat;
	unsigned long lpj;		/* measured once, see uml_ctx_get_lpj() */
	/* objects of one context may fail in several threads at once */
	pthread_mutex_t error_lock;
	char *last_error;
};

static int parse_priority(const char *s)
{
	static const struct { const char *name; int prio; } names[] = {
		{ "err", LOG_ERR }, { "error", LOG_ERR }, { "warning", LOG_WARNING },
		{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
	};
	char *end;
	long v = strtol(s, &end, 10);

	if (end != s && *end == '\0' && v >= LOG_EMERG && v <= LOG_DEBUG)
		return (int)v;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcasecmp(s, names[i].name) == 0)
			return names[i].prio;
	return -1;
}

static char *default_runtime_dir(void)
{
	const char *env = getenv("UML_DIR");
	const char *home = getenv("HOME");
	char *dir;

	if (env && env[0] == '/')
		return strdup(env);
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "/tmp";
	}
	if (asprintf(&dir, "%s/.uml", home) < 0)
		return NULL;
	return dir;
}

UML_EXPORT int uml_ctx_new(struct uml_ctx **ret)
{
	struct uml_ctx *ctx;
	const char *env;

	if (!ret)
		return -EINVAL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->refcount = 1;
	ctx->log_priority = LOG_ERR;
	pthread_mutex_init(&ctx->error_lock, NULL);
	env = getenv("UML_LOG");
	if (env && parse_priority(env) >= 0)
		ctx->log_priority = parse_priority(env);
	env = getenv("UML_HOSTCOMPAT");
	if (env && strcmp(env, "off") == 0)
		ctx->hostcompat = UML_HOSTCOMPAT_OFF;
	else if (env && strcmp(env, "force") == 0)
		ctx->hostcompat = UML_HOSTCOMPAT_FORCE;
	ctx->runtime_dir = default_runtime_dir();
	if (!ctx->runtime_dir) {
		free(ctx);
		return -ENOMEM;
	}
	*ret = ctx;
	return 0;
}

UML_EXPORT struct uml_ctx *uml_ctx_ref(struct uml_ctx *ctx)
{
	if (ctx)
		__atomic_add_fetch(&ctx->refcount, 1, __ATOMIC_RELAXED);
	return ctx;
}

UML_EXPORT struct uml_ctx *uml_ctx_unref(struct uml_ctx *ctx)
{
	if (!ctx || __atomic_sub_fetch(&ctx->refcount, 1, __ATOMIC_ACQ_REL) > 0)
		return NULL;
	pthread_mutex_destroy(&ctx->error_lock);
	free(ctx->runtime_dir);
	free(ctx->last_error);
	free(ctx);
	return NULL;
}

UML_EXPORT void uml_ctx_set_log_fn(struct uml_ctx *ctx, uml_log_fn fn, void *userdata)
{
	if (!ctx)
		return;
	ctx->log_fn = fn;
	ctx->log_data = userdata;
}

UML_EXPORT void uml_ctx_set_log_priority(struct uml_ctx *ctx, int priority)
{
	if (ctx)
		ctx->log_priority = priority;
}

UML_EXPORT int uml_ctx_get_log_priority(struct uml_ctx *ctx)
{
	return ctx ? ctx->log_priority : LOG_ERR;
}

UML_EXPORT void uml_ctx_set_progress_fn(struct uml_ctx *ctx, uml_progress_fn fn, void *userdata)
{
	if (!ctx)
		return;
	ctx->progress_fn = fn;
	ctx->progress_data = userdata;
}

UML_EXPORT int uml_ctx_set_runtime_dir(struct uml_ctx *ctx, const char *dir)
{
	if (!ctx)
		return -EINVAL;
	if (!dir || dir[0] != '/')
		return uml_fail(ctx, NULL, -EINVAL, "runtime dir must be an absolute path: '%s'",
				dir ? dir : "(null)");
	/* room for "/UMID/mconsole" in a 108-byte sun_path, with a short umid */
	if (strlen(dir) > 108 - sizeof("/uml-0123456789ab/mconsole"))
		return uml_fail(ctx, NULL, -ENAMETOOLONG,
				"runtime dir '%s' is too long for socket paths below it", dir);
	return uml_set_string(&ctx->runtime_dir, dir);
}

UML_EXPORT const char *uml_ctx_get_runtime_dir(struct uml_ctx *ctx)
{
	return ctx ? ctx->runtime_dir : NULL;
}

UML_EXPORT int uml_ctx_set_hostcompat(struct uml_ctx *ctx, enum uml_hostcompat mode)
{
	if (!ctx)
		return -EINVAL;
	if (mode != UML_HOSTCOMPAT_AUTO && mode != UML_HOSTCOMPAT_OFF &&
	    mode != UML_HOSTCOMPAT_FORCE)
		return uml_fail(ctx, NULL, -EINVAL, "unknown host compatibility mode %d", (int)mode);
	ctx->hostcompat = mode;
	return 0;
}

enum uml_hostcompat uml_ctx_get_hostcompat(struct uml_ctx *ctx)
{
	return ctx->hostcompat;
}

UML_EXPORT int uml_ctx_host_needs_compat(struct uml_ctx *ctx)
{
	return uml_hostcompat_needed() ? 1 : 0;
}

UML_EXPORT const char *uml_ctx_last_error(struct uml_ctx *ctx)
{
	return ctx ? ctx->last_error : NULL;
}

/* The host's delay-loop speed for lpj=, measured at the first boot. */
unsigned long uml_ctx_get_lpj(struct uml_ctx *ctx)
{
	if (!ctx->lpj)
		ctx->lpj = uml_host_lpj();
	return ctx->lpj;
}

int uml_ctx_ensure_runtime_dir(struct uml_ctx *ctx)
{
	int r = uml_mkdir_p(ctx->runtime_dir, 0700);

	if (r < 0)
		return uml_fail(ctx, NULL, r, "cannot create runtime dir '%s': %s",
				ctx->runtime_dir, strerror(-r));
	return 0;
}

static void log_to_stderr(int prio, const char *msg)
{
	fprintf(stderr, "libuml: %s\n", msg);
}

static void uml_logv(struct uml_ctx *ctx, int prio, const char *fmt, va_list ap)
{
	char *msg;

	if (!ctx || prio > ctx->log_priority)
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	if (ctx->log_fn)
		ctx->log_fn(ctx->log_data, prio, msg);
	else
		log_to_stderr(prio, msg);
	free(msg);
}

void uml_log(struct uml_ctx *ctx, int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	uml_logv(ctx, prio, fmt, ap);
	va_end(ap);
}

int uml_fail(struct uml_ctx *ctx, char **slot, int err, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		return err;
	if (ctx) {
		char *copy = strdup(msg);

		pthread_mutex_lock(&ctx->error_lock);
		free(ctx->last_error);
		ctx->last_error = copy;
		pthread_mutex_unlock(&ctx->error_lock);
		uml_log(ctx, LOG_ERR, "%s", msg);
	}
	if (slot) {
		free(*slot);
		*slot = msg;
	} else {
		free(msg);
	}
	return err;
}

int uml_progress(struct uml_ctx *ctx, const char *phase, uint64_t done, uint64_t total)
{
	struct uml_progress p = { .phase = phase, .done = done, .total = total };

	if (!ctx || !ctx->progress_fn)
		return 0;
	return ctx->progress_fn(ctx->progress_data, &p) ? -ECANCELED : 0;
}

/* ---- small helpers ------------------------------------------------------ */

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

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

#include "host.h"
#include "libuml-private.h"

/*
 * The last failure message of one thread.  Objects of one context may fail
 * in several threads at once; each thread reads its own message, which
 * only its own next failure replaces.
 */
struct thread_error {
	pthread_t thread;
	char *msg;
	struct thread_error *next;
};

struct uml_ctx {
	int refcount;
	uml_log_fn log_fn;
	void *log_data;
	int log_priority;
	uml_progress_fn progress_fn;
	void *progress_data;
	char *runtime_dir;
	enum uml_hostcompat hostcompat;
	enum uml_sandbox_mode sandbox;
	int sandbox_host;		/* 0 not checked yet, 1 namespaces work, else -errno */
	const char *sandbox_host_why;	/* static text: why they do not */
	unsigned long lpj;		/* measured once, see uml_ctx_get_lpj() */
	pthread_mutex_t error_lock;	/* guards errors */
	struct thread_error *errors;
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

/*
 * A directory every user may write to (sticky and world-writable, like
 * /tmp) is shared: each user's guests live in DIR/uml-UID, which only that
 * user may enter.  Every tool applies the same rule, so they all find a
 * guest by its umid.
 */
static char *runtime_dir_for(const char *dir)
{
	struct stat st;
	char *own;

	if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) &&
	    (st.st_mode & S_IWOTH)) {
		if (asprintf(&own, "%s/uml-%u", strcmp(dir, "/") == 0 ? "" : dir,
			     (unsigned)geteuid()) < 0)
			return NULL;
		return own;
	}
	return strdup(dir);
}

static char *default_runtime_dir(void)
{
	const char *env = getenv("UML_DIR");
	const char *home = getenv("HOME");
	char *dir, *r;

	if (env && env[0] == '/')
		return runtime_dir_for(env);
	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "/tmp";
	}
	if (asprintf(&dir, "%s/.uml", home) < 0)
		return NULL;
	r = runtime_dir_for(dir);
	free(dir);
	return r;
}

static int parse_sandbox_mode(const char *s)
{
	if (strcmp(s, "off") == 0 || strcmp(s, "0") == 0)
		return UML_SANDBOX_OFF;
	if (strcmp(s, "require") == 0)
		return UML_SANDBOX_REQUIRE;
	if (strcmp(s, "on") == 0 || strcmp(s, "auto") == 0 || strcmp(s, "1") == 0)
		return UML_SANDBOX_AUTO;
	return -1;
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
	env = getenv("UML_SANDBOX");
	if (env && parse_sandbox_mode(env) >= 0)
		ctx->sandbox = (enum uml_sandbox_mode)parse_sandbox_mode(env);
	ctx->runtime_dir = default_runtime_dir();
	if (!ctx->runtime_dir) {
		free(ctx);
		return -ENOMEM;
	}
	*ret = ctx;
	return 0;
}

static void ctx_free(struct uml_ctx *ctx)
{
	pthread_mutex_destroy(&ctx->error_lock);
	while (ctx->errors) {
		struct thread_error *e = ctx->errors;

		ctx->errors = e->next;
		free(e->msg);
		free(e);
	}
	free(ctx->runtime_dir);
	free(ctx);
}

UML_DEFINE_REF_UNREF(uml_ctx, uml_ctx, ctx_free)

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
	char *own;

	if (!ctx)
		return -EINVAL;
	if (!dir || dir[0] != '/')
		return uml_fail(ctx, NULL, -EINVAL, "runtime dir must be an absolute path: '%s'",
				dir ? dir : "(null)");
	/* room for "/UMID/mconsole" in a 108-byte sun_path, with a short umid */
	if (strlen(dir) > 108 - sizeof("/uml-0123456789ab/mconsole"))
		return uml_fail(ctx, NULL, -ENAMETOOLONG,
				"runtime dir '%s' is too long for socket paths below it", dir);
	own = runtime_dir_for(dir);
	if (!own)
		return -ENOMEM;
	free(ctx->runtime_dir);
	ctx->runtime_dir = own;
	return 0;
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
	return uml_host_needs_compat() ? 1 : 0;
}

/* This thread's entry; created when create is set (NULL without memory). */
static struct thread_error *thread_error(struct uml_ctx *ctx, bool create)
{
	pthread_t self = pthread_self();
	struct thread_error *e;

	for (e = ctx->errors; e; e = e->next)
		if (pthread_equal(e->thread, self))
			return e;
	if (!create || !(e = calloc(1, sizeof(*e))))
		return NULL;
	e->thread = self;
	e->next = ctx->errors;
	ctx->errors = e;
	return e;
}

UML_EXPORT const char *uml_ctx_last_error(struct uml_ctx *ctx)
{
	struct thread_error *e;
	const char *msg;

	if (!ctx)
		return NULL;
	pthread_mutex_lock(&ctx->error_lock);
	e = thread_error(ctx, false);
	msg = e ? e->msg : NULL;
	pthread_mutex_unlock(&ctx->error_lock);
	return msg;
}

/* The host's delay-loop speed for lpj=, measured at the first boot. */
unsigned long uml_ctx_get_lpj(struct uml_ctx *ctx)
{
	if (!ctx->lpj)
		ctx->lpj = uml_host_lpj();
	return ctx->lpj;
}

static int check_own_dir(struct uml_ctx *ctx, char **slot, const char *what, const char *dir);

int uml_ctx_check_runtime_dir(struct uml_ctx *ctx, char **slot, bool create)
{
	const char *dir = ctx->runtime_dir;
	int r = create ? uml_mkdir_p(dir, 0700) : 0;

	if (r < 0)
		return uml_fail(ctx, slot, r, "cannot create runtime dir '%s': %s", dir, strerror(-r));
	/* a client finds no guest in a dir that is not there: its caller says so */
	if (!create && access(dir, F_OK) < 0 && errno == ENOENT)
		return 0;
	/* ssh's StrictModes: sockets there give control of guests */
	return check_own_dir(ctx, slot, "runtime dir", dir);
}

/* A directory we keep trusted data in: ours, and no one else may write there. */
static int check_own_dir(struct uml_ctx *ctx, char **slot, const char *what, const char *dir)
{
	struct stat st;

	if (lstat(dir, &st) < 0)
		return uml_fail(ctx, slot, -errno, "%s '%s': %m", what, dir);
	if (!S_ISDIR(st.st_mode))
		return uml_fail(ctx, slot, -ENOTDIR, "%s '%s' is not a directory (a symlink?)",
				what, dir);
	if (st.st_uid != geteuid())
		return uml_fail(ctx, slot, -EPERM, "%s '%s' belongs to uid %u, not to this user "
				"(uid %u): refusing to use it", what, dir, (unsigned)st.st_uid,
				(unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return uml_fail(ctx, slot, -EPERM, "%s '%s' is writable by others (mode %04o): "
				"refusing to use it", what, dir, (unsigned)(st.st_mode & 07777));
	return 0;
}

int uml_ctx_cache_dir(struct uml_ctx *ctx, char **slot, const char *configured, char **ret)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	char *dir = NULL;
	int r;

	if (configured) {
		dir = strdup(configured);
	} else if (xdg && xdg[0] == '/') {
		if (asprintf(&dir, "%s/libuml", xdg) < 0)
			dir = NULL;
	} else {
		/* the passwd entry, not $HOME: never a shared place like /tmp */
		struct passwd *pw = getpwuid(geteuid());

		if (!pw || !pw->pw_dir || pw->pw_dir[0] != '/' || strcmp(pw->pw_dir, "/") == 0)
			return uml_fail(ctx, slot, -ENOENT, "no cache directory: uid %u has no home "
					"directory; set XDG_CACHE_HOME or choose a cache dir",
					(unsigned)geteuid());
		if (asprintf(&dir, "%s/.cache/libuml", pw->pw_dir) < 0)
			dir = NULL;
	}
	if (!dir)
		return -ENOMEM;
	r = uml_mkdir_p(dir, 0700);
	if (r < 0)
		r = uml_fail(ctx, slot, r, "cannot create cache dir '%s': %s", dir, strerror(-r));
	if (r == 0)
		r = check_own_dir(ctx, slot, "cache dir", dir);
	if (r < 0) {
		free(dir);
		return r;
	}
	*ret = dir;
	return 0;
}

UML_EXPORT int uml_ctx_set_sandbox(struct uml_ctx *ctx, enum uml_sandbox_mode mode)
{
	if (!ctx)
		return -EINVAL;
	if (mode != UML_SANDBOX_AUTO && mode != UML_SANDBOX_OFF && mode != UML_SANDBOX_REQUIRE)
		return uml_fail(ctx, NULL, -EINVAL, "unknown sandbox mode %d", (int)mode);
	ctx->sandbox = mode;
	return 0;
}

UML_EXPORT enum uml_sandbox_mode uml_ctx_get_sandbox(struct uml_ctx *ctx)
{
	return ctx ? ctx->sandbox : UML_SANDBOX_AUTO;
}

int uml_ctx_get_sandbox_host(struct uml_ctx *ctx, const char **why)
{
	*why = ctx->sandbox_host_why;
	return ctx->sandbox_host;
}

void uml_ctx_set_sandbox_host(struct uml_ctx *ctx, int state, const char *why)
{
	ctx->sandbox_host = state;
	ctx->sandbox_host_why = why;
}

static void log_to_stderr(int prio, const char *msg)
{
	fprintf(stderr, "libuml: %s\n", msg);
}

__attribute__((format(printf, 3, 0)))
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
		struct thread_error *e;

		pthread_mutex_lock(&ctx->error_lock);
		e = thread_error(ctx, true);
		if (e) {
			free(e->msg);
			e->msg = copy;
			copy = NULL;
		}
		pthread_mutex_unlock(&ctx->error_lock);
		free(copy);
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

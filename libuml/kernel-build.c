/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Building UML kernels from source: presets, config fragments, make with
 * progress and cancellation, and stamps that make a repeated build free.
 *
 * Layout below the cache dir:
 *   sources/NAME-KEY/        a tarball unpacked once (KEY: path, size, mtime)
 *   builds/PRESET-HASH/      the default O= build dir
 * and in each build dir:
 *   libuml-build.log         output of every make run of the last build
 *   libuml-fragment.config   the merged options that were requested
 *   .libuml-config-stamp     inputs of the current .config
 *   .libuml-build-stamp      source identity + .config of the built kernel
 */
#include "config.h"

#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libuml-private.h"

extern char **environ;

#define LOG_NAME "libuml-build.log"
#define FRAGMENT_NAME "libuml-fragment.config"
#define CONFIG_STAMP ".libuml-config-stamp"
#define BUILD_STAMP ".libuml-build-stamp"
#define STEPS_NAME ".libuml-build-steps"
#define STAMP_VERSION "libuml-kbuild-1"
#define UNPACK_STAMP ".libuml-unpacked"

#define fail(b, err, ...) uml_fail((b)->ctx, &(b)->last_error, err, __VA_ARGS__)

/* ---- small pieces --------------------------------------------------------- */

static bool have_program(const char *name)
{
	char *path = NULL;
	bool found = uml_find_program(name, &path) == 0;

	free(path);
	return found;
}

static const char *tarball_decompressor(const char *path)
{
	static const struct { const char *ext, *prog; } exts[] = {
		{ ".xz", "xz" }, { ".txz", "xz" }, { ".gz", "gzip" }, { ".tgz", "gzip" },
		{ ".bz2", "bzip2" }, { ".zst", "zstd" },
	};
	size_t len = strlen(path);

	for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
		size_t el = strlen(exts[i].ext);

		if (len > el && strcmp(path + len - el, exts[i].ext) == 0)
			return exts[i].prog;
	}
	return NULL;
}

/* Something a build needs from the host: a program on $PATH or a header. */
struct need {
	const char *name;
	const char *pkg;	/* its Debian package */
	bool header;		/* below /usr/include */
};

/*
 * Names everything missing with its Debian package in one message, so one
 * apt-get line fixes them all.
 */
static int check_needs(struct uml_kernel_build *b, const struct need *needs, size_t n)
{
	struct uml_buf missing = { 0 }, pkgs = { 0 };
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		char path[256];
		bool ok;

		if (!needs[i].name)
			continue;
		if (needs[i].header) {
			snprintf(path, sizeof(path), "/usr/include/%s", needs[i].name);
			ok = access(path, R_OK) == 0;
		} else {
			ok = have_program(needs[i].name);
		}
		if (ok)
			continue;
		if (missing.len)
			uml_buf_append(&missing, ", ", 2);
		uml_buf_append(&missing, needs[i].name, strlen(needs[i].name));
		uml_buf_append(&pkgs, " ", 1);
		uml_buf_append(&pkgs, needs[i].pkg, strlen(needs[i].pkg));
	}
	if (missing.len)
		r = fail(b, -ENOPKG, "kernel build: missing host tools: %s (on Debian: apt-get install%s)",
			 missing.data, pkgs.data ? pkgs.data : "");
	uml_buf_free(&missing);
	uml_buf_free(&pkgs);
	return r;
}

/* What every UML build needs, and tar with its decompressor for a tarball. */
static int check_host_tools(struct uml_kernel_build *b, const char *tarball)
{
	const char *unzip = tarball ? tarball_decompressor(tarball) : NULL;
	const struct need needs[] = {
		{ "make", "make", false }, { "gcc", "gcc", false }, { "ld", "binutils", false },
		{ "flex", "flex", false }, { "bison", "bison", false }, { "bc", "bc", false },
		{ tarball ? "tar" : NULL, "tar", false },
		{ unzip, unzip && strcmp(unzip, "xz") == 0 ? "xz-utils" : unzip, false },
	};

	return check_needs(b, needs, ARRAY_SIZE(needs));
}

/*
 * What options of the final .config add: UML itself never needs libelf
 * (no objtool on ARCH=um), but BTF debug info does, and signed modules or
 * trusted keys need OpenSSL.
 */
static int check_config_tools(struct uml_kernel_build *b, const char *config)
{
	bool btf = strstr(config, "\nCONFIG_DEBUG_INFO_BTF=y\n");
	bool elf = btf || strstr(config, "\nCONFIG_OBJTOOL=y\n");
	bool ssl = strstr(config, "\nCONFIG_MODULE_SIG=y\n") ||
		   strstr(config, "\nCONFIG_SYSTEM_TRUSTED_KEYRING=y\n");
	const struct need needs[] = {
		{ btf ? "pahole" : NULL, "dwarves", false },
		{ elf ? "libelf.h" : NULL, "libelf-dev", true },
		{ ssl ? "openssl/evp.h" : NULL, "libssl-dev", true },
	};

	return check_needs(b, needs, ARRAY_SIZE(needs));
}

/* ---- object --------------------------------------------------------------- */

UML_EXPORT int uml_kernel_build_new(struct uml_ctx *ctx, struct uml_kernel_build **ret)
{
	struct uml_kernel_build *b;

	if (!ctx || !ret)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->preset = strdup("fast");
	if (!b->preset) {
		free(b);
		return -ENOMEM;
	}
	b->refcount = 1;
	b->ctx = uml_ctx_ref(ctx);
	*ret = b;
	return 0;
}

static void clear_results(struct uml_kernel_build *b)
{
	free(b->dropped);
	free(b->conflicts);
	b->dropped = b->conflicts = NULL;
	b->up_to_date = false;
}

static void kernel_build_free(struct uml_kernel_build *b)
{
	for (size_t i = 0; i < b->n_opts; i++)
		uml_kopt_free(&b->opts[i]);
	free(b->opts);
	clear_results(b);
	free(b->source);
	free(b->build_dir);
	free(b->cache_dir);
	free(b->preset);
	free(b->out_dir);
	free(b->kernel_path);
	free(b->log_path);
	free(b->tree);
	free(b->last_error);
	uml_ctx_unref(b->ctx);
	free(b);
}

UML_DEFINE_REF_UNREF(uml_kernel_build, uml_kernel_build, kernel_build_free)

static int set_path(struct uml_kernel_build *b, char **slot, const char *path, const char *what)
{
	char *abs;
	int r;

	if (!path || !*path)
		return fail(b, -EINVAL, "kernel build: empty %s path", what);
	r = uml_path_absolute(path, &abs);
	if (r < 0)
		return fail(b, r, "kernel build: cannot resolve %s path '%s': %s", what, path,
			    strerror(-r));
	/* trailing slashes would make two spellings of one dir hash apart */
	for (size_t n = strlen(abs); n > 1 && abs[n - 1] == '/'; n--)
		abs[n - 1] = '\0';
	free(*slot);
	*slot = abs;
	return 0;
}

UML_EXPORT int uml_kernel_build_set_source(struct uml_kernel_build *b, const char *path)
{
	if (!b)
		return -EINVAL;
	return set_path(b, &b->source, path, "source");
}

UML_EXPORT int uml_kernel_build_set_build_dir(struct uml_kernel_build *b, const char *dir)
{
	if (!b)
		return -EINVAL;
	return set_path(b, &b->build_dir, dir, "build dir");
}

UML_EXPORT int uml_kernel_build_set_cache_dir(struct uml_kernel_build *b, const char *dir)
{
	if (!b)
		return -EINVAL;
	return set_path(b, &b->cache_dir, dir, "cache dir");
}

UML_EXPORT int uml_kernel_build_set_jobs(struct uml_kernel_build *b, unsigned jobs)
{
	if (!b)
		return -EINVAL;
	if (jobs > 1024)
		return fail(b, -ERANGE, "kernel build: %u jobs is more than 1024", jobs);
	b->jobs = jobs;
	return 0;
}

UML_EXPORT int uml_kernel_build_set_flags(struct uml_kernel_build *b, unsigned flags)
{
	if (!b)
		return -EINVAL;
	if (flags & ~(unsigned)(UML_KERNEL_BUILD_ALLOW_DROPPED | UML_KERNEL_BUILD_FAIL_ON_CONFLICT |
				UML_KERNEL_BUILD_CONFIGURE_ONLY))
		return fail(b, -EINVAL, "kernel build: unknown flags 0x%x", flags);
	b->flags = flags;
	return 0;
}

UML_EXPORT int uml_kernel_build_set_preset(struct uml_kernel_build *b, const char *name)
{
	if (!b)
		return -EINVAL;
	if (!name || (strcmp(name, "defconfig") != 0 && strcmp(name, "tinyconfig") != 0 &&
		      strcmp(name, "none") != 0 && !uml_preset_text(name))) {
		struct uml_buf known = { 0 };
		int r;

		uml_buf_append(&known, "defconfig, tinyconfig, none", 27);
		for (size_t i = 0; i < uml_preset_texts_count; i++) {
			uml_buf_append(&known, ", ", 2);
			uml_buf_append(&known, uml_preset_texts[i].name,
				       strlen(uml_preset_texts[i].name));
		}
		r = fail(b, -EINVAL, "kernel build: unknown preset '%s' (known: %s)",
			 name ? name : "(null)", known.data ? known.data : "");
		uml_buf_free(&known);
		return r;
	}
	return uml_set_string(&b->preset, name);
}

UML_EXPORT const char *uml_kernel_build_get_preset_text(const char *name)
{
	return name ? uml_preset_text(name) : NULL;
}

static int add_opt(struct uml_kernel_build *b, char *sym, char *val, char *origin)
{
	struct uml_kopt *n = realloc(b->opts, (b->n_opts + 1) * sizeof(*n));

	if (!n) {
		free(sym);
		free(val);
		free(origin);
		return -ENOMEM;
	}
	b->opts = n;
	b->opts[b->n_opts++] = (struct uml_kopt){ .sym = sym, .val = val, .origin = origin };
	return 0;
}

UML_EXPORT int uml_kernel_build_add_option(struct uml_kernel_build *b, const char *option)
{
	char *sym = NULL, *val = NULL, *origin;
	int r;

	if (!b)
		return -EINVAL;
	if (!option)
		return fail(b, -EINVAL, "kernel build: NULL option");
	if (strchr(option, '\n'))
		return fail(b, -EINVAL, "kernel build: option '%s' holds a newline", option);
	r = uml_kconfig_parse_line(option, strlen(option), &sym, &val);
	if (r == -ENOMEM)
		return r;
	if (r <= 0)
		return fail(b, -EINVAL,
			    "kernel build: bad option '%s' (want CONFIG_NAME=VALUE or '# CONFIG_NAME is not set')",
			    option);
	origin = strdup("option");
	if (!origin) {
		free(sym);
		free(val);
		return -ENOMEM;
	}
	return add_opt(b, sym, val, origin);
}

UML_EXPORT int uml_kernel_build_add_fragment_file(struct uml_kernel_build *b, const char *path)
{
	_cleanup_(uml_freep) char *text = NULL;
	size_t first = b ? b->n_opts : 0;
	unsigned lineno = 0;
	int r;

	if (!b)
		return -EINVAL;
	if (!path || !*path)
		return fail(b, -EINVAL, "kernel build: empty fragment path");
	r = uml_read_file(path, &text, NULL);
	if (r < 0)
		return fail(b, r, "kernel build: cannot read config fragment '%s': %s", path,
			    strerror(-r));
	for (char *line = text; line && *line; ) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *sym = NULL, *val = NULL, *origin;

		lineno++;
		r = uml_kconfig_parse_line(line, len, &sym, &val);
		if (r == -EINVAL) {
			r = fail(b, -EINVAL, "kernel build: %s:%u: not a config line: '%.*s'",
				 path, lineno, (int)len, line);
			goto undo;
		}
		if (r < 0)
			goto undo;
		if (r == 1) {
			if (asprintf(&origin, "%s:%u", path, lineno) < 0) {
				free(sym);
				free(val);
				r = -ENOMEM;
				goto undo;
			}
			r = add_opt(b, sym, val, origin);
			if (r < 0)
				goto undo;
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
undo:
	/* a bad fragment adds nothing */
	while (b->n_opts > first)
		uml_kopt_free(&b->opts[--b->n_opts]);
	return r;
}

UML_EXPORT const char *uml_kernel_build_get_build_dir(struct uml_kernel_build *b)
{
	return b ? b->out_dir : NULL;
}

UML_EXPORT const char *uml_kernel_build_get_log_path(struct uml_kernel_build *b)
{
	return b ? b->log_path : NULL;
}

UML_EXPORT const char *uml_kernel_build_get_dropped_options(struct uml_kernel_build *b)
{
	return b ? b->dropped : NULL;
}

UML_EXPORT const char *uml_kernel_build_get_conflicts(struct uml_kernel_build *b)
{
	return b ? b->conflicts : NULL;
}

UML_EXPORT int uml_kernel_build_was_up_to_date(struct uml_kernel_build *b)
{
	return b && b->up_to_date ? 1 : 0;
}

UML_EXPORT const char *uml_kernel_build_last_error(struct uml_kernel_build *b)
{
	return b ? b->last_error : NULL;
}

/* ---- running make and tar ------------------------------------------------ */

struct runner {
	struct uml_kernel_build *b;
	const char *phase;
	int log_fd;
	bool count_steps;
	uint64_t steps;		/* kbuild "  CC  foo.o" lines seen */
	uint64_t total;		/* estimate, 0 when unknown */
	char tail[2048];	/* last output, for error messages */
	size_t tail_len;
};

static void tail_add(struct runner *rn, const char *p, size_t n)
{
	if (n >= sizeof(rn->tail)) {
		p += n - sizeof(rn->tail);
		n = sizeof(rn->tail);
	}
	if (rn->tail_len + n > sizeof(rn->tail)) {
		size_t drop = rn->tail_len + n - sizeof(rn->tail);

		memmove(rn->tail, rn->tail + drop, rn->tail_len - drop);
		rn->tail_len -= drop;
	}
	memcpy(rn->tail + rn->tail_len, p, n);
	rn->tail_len += n;
}

/* The last few lines of output, for a failure message. */
static const char *tail_lines(struct runner *rn, unsigned lines)
{
	size_t i;

	while (rn->tail_len && rn->tail[rn->tail_len - 1] == '\n')
		rn->tail_len--;
	if (rn->tail_len == sizeof(rn->tail))
		rn->tail_len--;
	rn->tail[rn->tail_len] = '\0';
	for (i = rn->tail_len; i > 0; i--)
		if (rn->tail[i - 1] == '\n' && --lines == 0)
			break;
	return rn->tail + i;
}

/* kbuild prints one "  TAG     target" line per step in its quiet mode. */
static bool is_step_line(const char *l, size_t n)
{
	size_t i = 2;

	if (n < 4 || l[0] != ' ' || l[1] != ' ' || l[2] < 'A' || l[2] > 'Z')
		return false;
	while (i < n && ((l[i] >= 'A' && l[i] <= 'Z') || (l[i] >= '0' && l[i] <= '9') ||
			 l[i] == '_' || l[i] == '-'))
		i++;
	return i < n && l[i] == ' ';
}

static int runner_output(struct runner *rn, struct uml_buf *line_buf, const char *data, size_t n)
{
	int r = 0;

	if (rn->log_fd >= 0)
		(void)uml_write_all(rn->log_fd, data, n);
	tail_add(rn, data, n);
	if (!rn->count_steps)
		return 0;
	if (uml_buf_append(line_buf, data, n) < 0)
		return -ENOMEM;
	for (;;) {
		char *nl = memchr(line_buf->data, '\n', line_buf->len);

		if (!nl)
			break;
		if (is_step_line(line_buf->data, (size_t)(nl - line_buf->data))) {
			rn->steps++;
			/* an estimate: never claim to be done before make is */
			if (rn->total && rn->steps >= rn->total)
				rn->total = rn->steps + 1;
			r = uml_progress(rn->b->ctx, rn->phase, rn->steps, rn->total);
			if (r < 0)
				break;
		}
		uml_buf_drop_front(line_buf, (size_t)(nl - line_buf->data) + 1);
	}
	return r;
}

static void kill_group(pid_t pid)
{
	kill(-pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			goto reaped;
		usleep(20000);
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
reaped:
	/* make may have left compilers behind in the group */
	kill(-pid, SIGKILL);
}

/* The caller's environment without what would confuse a nested make. */
static char **make_env(void)
{
	static const char *const drop[] = {
		"MAKEFLAGS=", "MFLAGS=", "MAKELEVEL=", "MAKEOVERRIDES=", "GNUMAKEFLAGS=",
		"KBUILD_OUTPUT=", "LC_ALL=",
	};
	size_t n = 0, j = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool skip = false;

		for (size_t k = 0; k < ARRAY_SIZE(drop); k++)
			if (strncmp(environ[i], drop[k], strlen(drop[k])) == 0)
				skip = true;
		if (!skip)
			env[j++] = environ[i];
	}
	/* kbuild's messages are parsed, so keep them untranslated */
	env[j++] = (char *)"LC_ALL=C";
	env[j] = NULL;
	return env;
}

/*
 * Runs argv (argv[0] looked up on $PATH) in its own process group with
 * output into the log (and the step counter).  Returns the exit status
 * (0-255, 128+signal), -ECANCELED when the progress callback stopped it
 * (the whole group is killed), or a negative errno if it could not run.
 */
static int run_cmd(struct runner *rn, char *const argv[])
{
	_cleanup_(uml_freep) char *prog = NULL;
	_cleanup_(uml_freep) char **env = NULL;
	struct uml_buf line_buf = { 0 };
	uint64_t last_pulse = uml_now_usec();
	struct uml_spawn sp;
	char **args;
	size_t n_args = 0;
	int pfd[2], status, r;

	r = uml_find_program(argv[0], &prog);
	if (r < 0)
		return r;
	env = make_env();
	while (argv[n_args])
		n_args++;
	args = calloc(n_args + 1, sizeof(*args));
	if (!env || !args) {
		free(args);
		return -ENOMEM;
	}
	memcpy(args, argv, n_args * sizeof(*args));
	args[0] = prog;
	if (rn->log_fd >= 0) {
		struct uml_buf cmd = { 0 };

		uml_buf_append(&cmd, "\n$", 2);
		for (size_t i = 0; argv[i]; i++) {
			uml_buf_append(&cmd, " ", 1);
			uml_buf_append(&cmd, argv[i], strlen(argv[i]));
		}
		uml_buf_append(&cmd, "\n", 1);
		if (cmd.data)
			(void)uml_write_all(rn->log_fd, cmd.data, cmd.len);
		uml_buf_free(&cmd);
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		free(args);
		return -errno;
	}
	r = uml_spawn(rn->b->ctx, &rn->b->last_error,
	      &(struct uml_spawn_opts){ .argv = args, .envp = env, .out_fd = pfd[1] }, &sp);
	free(args);
	close(pfd[1]);
	if (r < 0) {
		close(pfd[0]);
		return r;
	}
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		char buf[16384];
		ssize_t n;
		int pr = poll(&p, 1, 500);

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0 || uml_now_usec() - last_pulse > 500000) {
			/* a pulse lets the caller cancel during long quiet steps */
			last_pulse = uml_now_usec();
			r = uml_progress(rn->b->ctx, rn->phase, rn->steps, rn->total);
			if (r < 0)
				break;
			if (pr == 0)
				continue;
		}
		n = read(pfd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		r = runner_output(rn, &line_buf, buf, (size_t)n);
		if (r < 0)
			break;
	}
	close(pfd[0]);
	uml_buf_free(&line_buf);
	if (r < 0) {
		kill_group(sp.pid);
		uml_spawn_release(&sp);
		if (rn->log_fd >= 0)
			(void)uml_write_all(rn->log_fd, "\n[stopped]\n", 11);
		return r;
	}
	while (waitpid(sp.pid, &status, 0) < 0) {
		if (errno != EINTR) {
			r = -errno;
			uml_spawn_release(&sp);
			return r;
		}
	}
	uml_spawn_release(&sp);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* ---- source trees and tarballs -------------------------------------------- */

static bool is_kernel_tree(const char *dir)
{
	char buf[4096];
	struct stat st;

	if (snprintf(buf, sizeof(buf), "%s/arch/um/Kconfig", dir) >= (int)sizeof(buf))
		return false;
	if (stat(buf, &st) < 0)
		return false;
	snprintf(buf, sizeof(buf), "%s/Makefile", dir);
	return stat(buf, &st) == 0;
}

/*
 * Unpacks the tarball into CACHE/sources/STEM-KEY once; later builds (any
 * config) reuse that tree.  The tree appears by rename and gets our stamp
 * last, so a tree is reused only when it is complete and ours.
 */
static int unpack_tarball(struct uml_kernel_build *b, const char *cache, const struct stat *st,
			  char **ret_tree, char **ret_ident, bool *tools_checked)
{
	_cleanup_(uml_freep) char *srcdir = NULL, *tree = NULL, *tmp = NULL, *lock = NULL, *stem = NULL;
	_cleanup_(uml_freep) char *stamp = NULL, *ident = NULL;
	const char *base = strrchr(b->source, '/') + 1;
	uint64_t key = UML_HASH_INIT;
	char num[64];
	struct runner rn = { .b = b, .phase = "unpack", .log_fd = -1 };
	int lfd, r;

	key = uml_hash_str(key, b->source);
	snprintf(num, sizeof(num), "%lld %lld.%09ld", (long long)st->st_size,
		 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	key = uml_hash_str(key, num);
	stem = strdup(base);
	if (!stem)
		return -ENOMEM;
	{
		char *dot = strstr(stem, ".tar");

		if (!dot)
			dot = strrchr(stem, '.');
		if (dot && dot != stem)
			*dot = '\0';
	}
	if (asprintf(&srcdir, "%s/sources", cache) < 0 ||
	    asprintf(&tree, "%s/%s-%016llx", srcdir, stem, (unsigned long long)key) < 0 ||
	    asprintf(&lock, "%s.lock", tree) < 0 ||
	    asprintf(&tmp, "%s.tmp-%d", tree, (int)getpid()) < 0 ||
	    asprintf(&stamp, "%s/" UNPACK_STAMP, tree) < 0 ||
	    asprintf(&ident, "tarball %s %s\n", b->source, num) < 0)
		return -ENOMEM;
	r = uml_mkdir_p(srcdir, 0755);
	if (r < 0)
		return fail(b, r, "kernel build: cannot create cache dir '%s': %s", srcdir,
			    strerror(-r));
	lfd = uml_lock_file(lock);
	if (lfd < 0)
		return fail(b, lfd, "kernel build: cannot lock '%s': %s", lock, strerror(-lfd));
	if (!is_kernel_tree(tree) || !uml_stamp_matches(stamp, ident)) {
		char *argv[] = { (char *)"tar", (char *)"-xf", b->source, (char *)"-C", tmp, NULL };
		_cleanup_(uml_freep) char *top = NULL;

		/* a build follows: name everything missing for both at once */
		r = check_host_tools(b, b->source);
		if (r < 0)
			goto out;
		*tools_checked = true;
		uml_info(b->ctx, "unpacking %s into %s", b->source, tree);
		uml_rm_rf(tree);
		uml_rm_rf(tmp);
		r = uml_mkdir_p(tmp, 0755);
		if (r < 0) {
			r = fail(b, r, "kernel build: cannot create '%s': %s", tmp, strerror(-r));
			goto out;
		}
		r = run_cmd(&rn, argv);
		if (r != 0) {
			if (r > 0)
				r = fail(b, -EIO, "kernel build: unpacking '%s' failed (tar exit %d): %s",
					 b->source, r, tail_lines(&rn, 3));
			uml_rm_rf(tmp);
			goto out;
		}
		/* kernel tarballs hold one top directory (linux-6.12/) */
		if (!is_kernel_tree(tmp)) {
			DIR *d = opendir(tmp);
			struct dirent *de;
			unsigned dirs = 0;

			while (d && (de = readdir(d))) {
				if (de->d_name[0] == '.')
					continue;
				dirs++;
				free(top);
				if (asprintf(&top, "%s/%s", tmp, de->d_name) < 0)
					top = NULL;
			}
			if (d)
				closedir(d);
			if (dirs != 1 || !top || !is_kernel_tree(top)) {
				uml_rm_rf(tmp);
				r = fail(b, -EMEDIUMTYPE,
					 "kernel build: '%s' does not hold a Linux source tree with arch/um",
					 b->source);
				goto out;
			}
		}
		if (rename(top ? top : tmp, tree) < 0) {
			r = fail(b, -errno, "kernel build: cannot move the unpacked tree to '%s': %m",
				 tree);
			uml_rm_rf(tmp);
			goto out;
		}
		uml_rm_rf(tmp);
		r = uml_write_file(stamp, ident, strlen(ident));
		if (r < 0) {
			r = fail(b, r, "kernel build: cannot write '%s': %s", stamp, strerror(-r));
			goto out;
		}
	}
	r = 0;
	*ret_tree = tree;
	tree = NULL;
	if (asprintf(ret_ident, "tarball %s %s", b->source, num) < 0) {
		free(*ret_tree);
		r = -ENOMEM;
	}
out:
	close(lfd);
	return r;
}

/* Newest mtime and entry count of a source tree: edits change one of them. */
struct tree_scan {
	dev_t skip_dev;		/* the build dir, when it lies inside the tree */
	ino_t skip_ino;
	struct timespec newest;
	uint64_t count;
};

static void scan_note(struct tree_scan *s, const struct stat *st)
{
	s->count++;
	if (st->st_mtim.tv_sec > s->newest.tv_sec ||
	    (st->st_mtim.tv_sec == s->newest.tv_sec && st->st_mtim.tv_nsec > s->newest.tv_nsec))
		s->newest = st->st_mtim;
}

static int scan_dir(struct tree_scan *s, int dfd, unsigned depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	int r = 0;

	if (!d) {
		close(dfd);
		return -errno;
	}
	while (r == 0 && (de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".git") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && st.st_dev == s->skip_dev && st.st_ino == s->skip_ino)
			continue;
		scan_note(s, &st);
		if (S_ISDIR(st.st_mode) && depth < 64) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				r = scan_dir(s, sub, depth + 1);
		}
	}
	closedir(d);
	return r;
}

static int tree_identity(struct uml_kernel_build *b, const char *tree, const char *build_dir,
			 char **ret)
{
	struct tree_scan s = { 0 };
	struct stat st;
	int dfd, r;

	if (stat(build_dir, &st) == 0) {
		s.skip_dev = st.st_dev;
		s.skip_ino = st.st_ino;
	}
	dfd = open(tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &st) < 0) {
		r = -errno;
		if (dfd >= 0)
			close(dfd);
		return fail(b, r, "kernel build: cannot scan source tree '%s': %s", tree,
			    strerror(-r));
	}
	scan_note(&s, &st);
	r = scan_dir(&s, dfd, 0);
	if (r < 0)
		return fail(b, r, "kernel build: cannot scan source tree '%s': %s", tree,
			    strerror(-r));
	if (asprintf(ret, "tree %s %llu %lld.%09ld", tree, (unsigned long long)s.count,
		     (long long)s.newest.tv_sec, s.newest.tv_nsec) < 0)
		return -ENOMEM;
	return 0;
}


static char *stamp_text(uint64_t h)
{
	char *s;

	return asprintf(&s, "%s %016llx\n", STAMP_VERSION, (unsigned long long)h) < 0 ? NULL : s;
}

/* ---- the build ------------------------------------------------------------- */

struct run_state {
	struct uml_kernel_build *b;
	const char *src;	/* the source tree */
	const char *ident;	/* its identity */
	bool tools_checked;
	int log_fd;
};

static int make_step(struct run_state *s, const char *phase, const char *target,
		     bool count, uint64_t total, uint64_t *steps)
{
	struct uml_kernel_build *b = s->b;
	struct runner rn = { .b = b, .phase = phase, .log_fd = s->log_fd,
			     .count_steps = count, .total = total };
	_cleanup_(uml_freep) char *o = NULL, *j = NULL;
	char *argv[8];
	size_t n = 0;
	int r;

	if (!s->tools_checked) {
		r = check_host_tools(b, NULL);
		if (r < 0)
			return r;
		s->tools_checked = true;
	}
	/* opened at the first make, so a no-op run keeps the last build's log */
	if (s->log_fd < 0) {
		s->log_fd = open(b->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (s->log_fd < 0)
			return fail(b, -errno, "kernel build: cannot create log '%s': %m",
				    b->log_path);
		rn.log_fd = s->log_fd;
	}
	if (asprintf(&o, "O=%s", b->out_dir) < 0 ||
	    asprintf(&j, "-j%u", b->jobs ? b->jobs : (unsigned)sysconf(_SC_NPROCESSORS_ONLN)) < 0)
		return -ENOMEM;
	argv[n++] = (char *)"make";
	argv[n++] = (char *)"-C";
	argv[n++] = (char *)s->src;
	argv[n++] = o;
	argv[n++] = (char *)"ARCH=um";
	argv[n++] = j;
	if (target)
		argv[n++] = (char *)target;
	argv[n] = NULL;
	r = run_cmd(&rn, argv);
	if (steps)
		*steps = rn.steps;
	if (r == -ECANCELED)
		return fail(b, r, "kernel build: cancelled during '%s'", target ? target : "make");
	if (r == -ENOENT)
		return fail(b, -ENOPKG, "kernel build: no make on $PATH (on Debian: apt-get install make)");
	if (r < 0)
		return fail(b, r, "kernel build: cannot run make: %s", strerror(-r));
	if (r != 0)
		return fail(b, -EIO, "kernel build: make %s failed (exit %d), see %s:\n%s",
			    target ? target : "ARCH=um", r, b->log_path, tail_lines(&rn, 8));
	return 0;
}

/* A rough step count for the progress total before the first build. */
static uint64_t estimate_steps(const char *out_dir, const char *config)
{
	_cleanup_(uml_freep) char *path = NULL, *saved = NULL;
	uint64_t ny = 0;

	if (asprintf(&path, "%s/%s", out_dir, STEPS_NAME) >= 0 &&
	    uml_read_file(path, &saved, NULL) == 0 && strtoull(saved, NULL, 10) > 0)
		return strtoull(saved, NULL, 10);
	for (const char *p = config; p && (p = strstr(p, "=y\n")); p += 3)
		ny++;
	/* fitted on 6.12: fast 1201 steps at 225 =y, defconfig 1520 at 409 */
	return 810 + ny * 7 / 4;
}

static int resolve_dirs(struct uml_kernel_build *b, const char *cache, const struct uml_kplan *p)
{
	uint64_t h = UML_HASH_INIT;
	char *dir;

	free(b->out_dir);
	free(b->kernel_path);
	b->out_dir = b->kernel_path = NULL;
	if (b->build_dir) {
		dir = strdup(b->build_dir);
	} else {
		h = uml_hash_str(h, b->source);
		h = uml_hash_str(h, b->preset);
		h = uml_hash_str(h, p->text.data ? p->text.data : "");
		if (asprintf(&dir, "%s/builds/%s-%016llx", cache, b->preset,
			     (unsigned long long)h) < 0)
			dir = NULL;
	}
	if (!dir)
		return -ENOMEM;
	b->out_dir = dir;
	if (asprintf(&b->kernel_path, "%s/linux", dir) < 0) {
		b->kernel_path = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int do_build(struct run_state *s, const struct uml_kplan *p, struct uml_kernel **ret)
{
	struct uml_kernel_build *b = s->b;
	const char *base = strcmp(b->preset, "defconfig") == 0 ? "defconfig" :
			   strcmp(b->preset, "none") == 0 ? NULL : "tinyconfig";
	_cleanup_(uml_freep) char *config = NULL, *cstamp_path = NULL, *bstamp_path = NULL,
		*frag_path = NULL, *kernel = NULL, *cstamp = NULL, *bstamp = NULL, *cfg = NULL,
		*steps_path = NULL;
	uint64_t h, steps = 0;
	struct stat st;
	int r;

	if (asprintf(&config, "%s/.config", b->out_dir) < 0 ||
	    asprintf(&cstamp_path, "%s/%s", b->out_dir, CONFIG_STAMP) < 0 ||
	    asprintf(&bstamp_path, "%s/%s", b->out_dir, BUILD_STAMP) < 0 ||
	    asprintf(&frag_path, "%s/%s", b->out_dir, FRAGMENT_NAME) < 0 ||
	    asprintf(&steps_path, "%s/%s", b->out_dir, STEPS_NAME) < 0 ||
	    asprintf(&kernel, "%s/linux", b->out_dir) < 0)
		return -ENOMEM;

	/* configuration: only when its inputs changed */
	h = uml_hash_str(UML_HASH_INIT, STAMP_VERSION);
	h = uml_hash_str(h, s->ident);
	h = uml_hash_str(h, base ? base : "none");
	h = uml_hash_str(h, p->text.data ? p->text.data : "");
	cstamp = stamp_text(h);
	if (!cstamp)
		return -ENOMEM;
	if (stat(config, &st) < 0 || !uml_stamp_matches(cstamp_path, cstamp)) {
		unlink(cstamp_path);
		r = uml_write_file(frag_path, p->text.data ? p->text.data : "", p->text.len);
		if (r < 0)
			return fail(b, r, "kernel build: cannot write '%s': %s", frag_path,
				    strerror(-r));
		r = uml_progress(b->ctx, "configure", 0, 0);
		if (r < 0)
			return fail(b, r, "kernel build: cancelled");
		/* "none": the .config holds only the plan; Kconfig defaults do the rest */
		r = base ? make_step(s, "configure", base, false, 0, NULL) :
			   uml_write_file(config, "", 0);
		if (r < 0)
			return base ? r : fail(b, r, "kernel build: cannot write '%s': %s", config,
						strerror(-r));
		r = uml_kconfig_merge(config, p);
		if (r < 0)
			return fail(b, r, "kernel build: cannot update '%s': %s", config, strerror(-r));
		r = make_step(s, "configure", "olddefconfig", false, 0, NULL);
		if (r < 0)
			return r;
		r = uml_write_file(cstamp_path, cstamp, strlen(cstamp));
		if (r < 0)
			return fail(b, r, "kernel build: cannot write '%s': %s", cstamp_path,
				    strerror(-r));
	}
	r = uml_kconfig_verify(b, config, p);
	if (r < 0 || (b->flags & UML_KERNEL_BUILD_CONFIGURE_ONLY))
		return r;

	/* the build: only when the source or the final .config changed */
	r = uml_read_file(config, &cfg, NULL);
	if (r < 0)
		return fail(b, r, "kernel build: cannot read '%s': %s", config, strerror(-r));
	h = uml_hash_str(UML_HASH_INIT, STAMP_VERSION);
	h = uml_hash_str(h, s->ident);
	h = uml_hash_str(h, cfg);
	bstamp = stamp_text(h);
	if (!bstamp)
		return -ENOMEM;
	if (stat(kernel, &st) == 0 && S_ISREG(st.st_mode) && uml_stamp_matches(bstamp_path, bstamp)) {
		b->up_to_date = true;
		uml_info(b->ctx, "kernel build: %s is up to date", kernel);
	} else {
		uint64_t total = estimate_steps(b->out_dir, cfg);
		char num[32];

		unlink(bstamp_path);
		r = check_config_tools(b, cfg);
		if (r < 0)
			return r;
		r = uml_progress(b->ctx, "build", 0, total);
		if (r < 0)
			return fail(b, r, "kernel build: cancelled");
		r = make_step(s, "build", NULL, true, total, &steps);
		if (r < 0)
			return r;
		if (stat(kernel, &st) < 0)
			return fail(b, -EIO, "kernel build: make succeeded but built no '%s'", kernel);
		r = uml_write_file(bstamp_path, bstamp, strlen(bstamp));
		if (r < 0)
			return fail(b, r, "kernel build: cannot write '%s': %s", bstamp_path,
				    strerror(-r));
		/* remember a full build's step count for the next estimate */
		if (steps > total / 2) {
			snprintf(num, sizeof(num), "%llu\n", (unsigned long long)steps);
			(void)uml_write_file(steps_path, num, strlen(num));
		}
		(void)uml_progress(b->ctx, "build", steps, steps);
	}
	if (!ret)
		return 0;
	return uml_kernel_open(b->ctx, &b->last_error, kernel, ret);
}

/* The tree to build from (a tarball unpacked into the cache) and its identity. */
static int source_tree(struct uml_kernel_build *b, const char *cache, const struct stat *st,
		       char **tree, char **ident, bool *tools_checked)
{
	if (S_ISREG(st->st_mode))
		return unpack_tarball(b, cache, st, tree, ident, tools_checked);
	*tree = strdup(b->source);
	if (!*tree)
		return -ENOMEM;
	/* the build dir (when known) is not part of the tree's identity */
	return ident ? tree_identity(b, *tree, b->out_dir ? b->out_dir : "", ident) : 0;
}

/* The source set, checked (a kernel tree or a regular file: a tarball), and the cache dir. */
static int check_source(struct uml_kernel_build *b, struct stat *st, char **cache)
{
	if (!b->source)
		return fail(b, -EINVAL, "kernel build: no source set");
	if (stat(b->source, st) < 0)
		return fail(b, -errno, "kernel build: source '%s': %m", b->source);
	if (S_ISDIR(st->st_mode)) {
		if (!is_kernel_tree(b->source))
			return fail(b, -ENOENT,
				    "kernel build: source '%s' is not a Linux source tree (no Makefile or arch/um/Kconfig)",
				    b->source);
	} else if (!S_ISREG(st->st_mode)) {
		return fail(b, -EINVAL, "kernel build: source '%s' is neither a directory nor a tarball",
			    b->source);
	}
	return uml_ctx_cache_dir(b->ctx, &b->last_error, b->cache_dir, cache);
}

UML_EXPORT int uml_kernel_build_get_source_tree(struct uml_kernel_build *b, const char **ret)
{
	_cleanup_(uml_freep) char *cache = NULL;
	struct stat st;
	bool checked = false;
	char *tree = NULL;
	int r;

	if (!b || !ret)
		return -EINVAL;
	r = check_source(b, &st, &cache);
	if (r < 0)
		return r;
	if (S_ISREG(st.st_mode)) {
		char *ident = NULL;

		r = unpack_tarball(b, cache, &st, &tree, &ident, &checked);
		free(ident);
	} else {
		r = source_tree(b, cache, &st, &tree, NULL, &checked);
	}
	if (r < 0)
		return r;
	free(b->tree);
	b->tree = tree;
	*ret = tree;
	return 0;
}

UML_EXPORT int uml_kernel_build_run(struct uml_kernel_build *b, struct uml_kernel **ret)
{
	_cleanup_(uml_freep) char *cache = NULL, *tree = NULL, *ident = NULL, *lock = NULL;
	struct run_state s = { .b = b, .log_fd = -1 };
	struct uml_kplan p = { 0 };
	struct stat st;
	int r, lfd = -1;

	if (!b)
		return -EINVAL;
	clear_results(b);
	r = check_source(b, &st, &cache);
	if (r < 0)
		return r;

	r = uml_kplan_make(b, &p);
	if (r < 0)
		goto out;
	r = resolve_dirs(b, cache, &p);
	if (r < 0)
		goto out;
	if (strcmp(b->out_dir, b->source) == 0) {
		r = fail(b, -EINVAL, "kernel build: the build dir must not be the source tree '%s'",
			 b->source);
		goto out;
	}
	r = uml_mkdir_p(b->out_dir, 0755);
	if (r < 0) {
		r = fail(b, r, "kernel build: cannot create build dir '%s': %s", b->out_dir,
			 strerror(-r));
		goto out;
	}
	/* one build per build dir at a time */
	if (asprintf(&lock, "%s/.libuml-lock", b->out_dir) < 0) {
		r = -ENOMEM;
		goto out;
	}
	lfd = uml_lock_file(lock);
	if (lfd < 0) {
		r = fail(b, lfd, "kernel build: cannot lock '%s': %s", lock, strerror(-lfd));
		goto out;
	}
	free(b->log_path);
	if (asprintf(&b->log_path, "%s/%s", b->out_dir, LOG_NAME) < 0) {
		b->log_path = NULL;
		r = -ENOMEM;
		goto out;
	}

	r = source_tree(b, cache, &st, &tree, &ident, &s.tools_checked);
	if (r < 0)
		goto out;
	s.src = tree;
	s.ident = ident;
	{
		char buf[4096];

		/* kbuild refuses O= builds from a tree configured in place */
		snprintf(buf, sizeof(buf), "%s/.config", tree);
		if (access(buf, F_OK) == 0) {
			r = fail(b, -EBUSY,
				 "kernel build: source tree '%s' is configured in place (has .config); run 'make ARCH=um mrproper' there first",
				 tree);
			goto out;
		}
	}
	r = do_build(&s, &p, ret);
out:
	if (s.log_fd >= 0)
		close(s.log_fd);
	if (lfd >= 0)
		close(lfd);
	uml_kplan_free(&p);
	return r;
}

UML_EXPORT const char *uml_kernel_build_get_kernel_path(struct uml_kernel_build *b)
{
	return b ? b->kernel_path : NULL;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal interfaces shared by the libuml sources.  Not installed. */
#ifndef LIBUML_PRIVATE_H
#define LIBUML_PRIVATE_H

#include <syslog.h>

#include "uml/libuml.h"
#include "util.h"

/* ---- ctx.c: logging and errors ---------------------------------------- */

void uml_log(struct uml_ctx *ctx, int prio, const char *fmt, ...) _printf_(3, 4);

#define uml_dbg(ctx, ...) do {							\
		if (uml_ctx_get_log_priority(ctx) >= LOG_DEBUG)			\
			uml_log(ctx, LOG_DEBUG, __VA_ARGS__);			\
	} while (0)
#define uml_info(ctx, ...) do {							\
		if (uml_ctx_get_log_priority(ctx) >= LOG_INFO)			\
			uml_log(ctx, LOG_INFO, __VA_ARGS__);			\
	} while (0)

/*
 * Records a failure: formats the message into *slot (the object's last
 * error), copies it to the context's last error, logs it at LOG_ERR and
 * returns err (a negative errno) so callers can `return uml_fail(...)`.
 */
int uml_fail(struct uml_ctx *ctx, char **slot, int err, const char *fmt, ...) _printf_(4, 5);

/* Reports progress; returns -ECANCELED when the callback asks to stop. */
int uml_progress(struct uml_ctx *ctx, const char *phase, uint64_t done, uint64_t total);

enum uml_hostcompat uml_ctx_get_hostcompat(struct uml_ctx *ctx);

/* uml_host_lpj(), measured once per context (0 where unknown). */
unsigned long uml_ctx_get_lpj(struct uml_ctx *ctx);

/*
 * Checks the runtime directory before its sockets are trusted: a directory
 * (not a symlink), owned by this user, writable by nobody else.  Creates it
 * (mode 0700) first if create is set.  A failure goes to slot.
 */
int uml_ctx_check_runtime_dir(struct uml_ctx *ctx, char **slot, bool create);
/*
 * The cache directory: configured, else $XDG_CACHE_HOME/libuml, else
 * ~/.cache/libuml of this user's passwd entry; created 0700, and refused
 * unless this user owns it and no one else may write to it.  Allocated in
 * *ret; failures go to slot.
 */
int uml_ctx_cache_dir(struct uml_ctx *ctx, char **slot, const char *configured, char **ret);
/* Whether this host lets the sandbox make its namespaces: 0 unknown, 1 yes, -errno. */
int uml_ctx_get_sandbox_host(struct uml_ctx *ctx, const char **why);
void uml_ctx_set_sandbox_host(struct uml_ctx *ctx, int state, const char *why);

/* ---- kernel.c ---------------------------------------------------------- */

struct uml_ctx *uml_kernel_get_ctx(struct uml_kernel *kernel);
/*
 * 1 if CONFIG_<option> ("CONFIG_" optional) is y or m in the kernel's
 * embedded configuration, 0 if not; a negative errno when the kernel has
 * none or cannot be probed.  Unlike uml_kernel_get_config(), it returns no
 * string, so instances sharing the kernel may call it.
 */
int uml_kernel_config_enabled(struct uml_kernel *kernel, const char *option);
/* uml_kernel_new_from_path(), failing into slot (NULL: the ctx's). */
int uml_kernel_open(struct uml_ctx *ctx, char **slot, const char *path, struct uml_kernel **ret);

/* ---- kernel-build.c, kernel-config.c ------------------------------------- */

/* One requested option: CONFIG_SYM set to val ("n" for "is not set"). */
struct uml_kopt {
	char *sym;		/* without the CONFIG_ prefix */
	char *val;
	char *origin;		/* "FILE:LINE", "option", "preset fast", "libuml default" */
};

struct uml_kernel_build {
	int refcount;
	struct uml_ctx *ctx;
	char *source;
	char *build_dir;	/* as set, or NULL for the default */
	char *cache_dir;	/* as set, or NULL for the default */
	unsigned jobs;
	unsigned flags;
	char *preset;		/* "defconfig", "tinyconfig" or a shipped preset */
	struct uml_kopt *opts;	/* user fragments and options, in order */
	size_t n_opts;

	/* results of the last run */
	char *out_dir;		/* resolved build dir */
	char *tree;		/* of uml_kernel_build_get_source_tree() */
	char *kernel_path;	/* out_dir/linux */
	char *log_path;
	char *dropped;
	char *conflicts;
	bool up_to_date;
	char *last_error;
};

/* One entry of the merged request: the last word on a symbol wins. */
struct uml_kplan_entry {
	const char *sym;
	const char *val;
	const char *origin;
};

/* What a build asks of the kernel config, merged from all sources. */
struct uml_kplan {
	struct uml_kopt *base;	/* library defaults and preset lines (owned) */
	size_t n_base;
	struct uml_kplan_entry *m;	/* merged view, in first-mention order */
	size_t n;
	struct uml_buf text;	/* the merged fragment as written to the build dir */
};

/*
 * Parses one .config-style line.  Returns 1 and sets sym and val (malloced)
 * for "CONFIG_X=v" or "# CONFIG_X is not set" (val "n"), 0 for blank lines
 * and other comments, -EINVAL for anything else.
 */
int uml_kconfig_parse_line(const char *line, size_t len, char **sym, char **val);
void uml_kopt_free(struct uml_kopt *o);
/* The text of a shipped preset, or NULL. */
const char *uml_preset_text(const char *name);
/*
 * Library defaults, the preset's lines, then the build's fragments and
 * options in order; records conflicts in b->conflicts.
 */
int uml_kplan_make(struct uml_kernel_build *b, struct uml_kplan *p);
void uml_kplan_free(struct uml_kplan *p);
/* Replaces the lines of every planned symbol in the .config with the plan's. */
int uml_kconfig_merge(const char *config_path, const struct uml_kplan *p);
/* Checks the final .config against the plan; sets b->dropped. */
int uml_kconfig_verify(struct uml_kernel_build *b, const char *config_path,
		       const struct uml_kplan *p);

/* The shipped config presets, generated from libuml/presets/NAME.config. */
struct uml_preset_text {
	const char *name;
	const char *text;
};
extern const struct uml_preset_text uml_preset_texts[];
extern const size_t uml_preset_texts_count;

/* ---- rootfs.c (images), cow.c (COW overlays) ---------------------------- */

struct uml_rootfs {
	int refcount;
	struct uml_ctx *ctx;
	char *path;			/* absolute image path (the COW file for overlays) */
	char *backing;			/* absolute backing image of a COW overlay, else NULL */
	uint64_t size;			/* bytes, for images created by libuml */
	enum uml_fs_type fs_type;
	const char *ready_marker;	/* static string, or NULL */
	bool root_rw;			/* its init wants / mounted rw (libuml's busybox /init) */
	char *last_error;
	struct uml_rootfs_entry *listing;	/* of uml_rootfs_list_dir(), with its names */
	size_t n_listing;
	bool size_set;			/* uml_rootfs_set_size() was called */
	struct rootfs_guest *guest;	/* debootstrap/configure/mount settings, or NULL */
	/* set by rootfs-mount.c while a loop mount is up: undoes it when the object goes */
	void (*unmount)(struct uml_rootfs *rootfs);
};

struct uml_ctx *uml_rootfs_get_ctx(struct uml_rootfs *rootfs);
/*
 * The ubdN= value for this disk: "PATH" or, for a COW overlay,
 * "COWPATH,BACKING".  Allocated; the caller frees it.
 */
char *uml_rootfs_ubd_spec(struct uml_rootfs *rootfs);
/* The ready marker guests made by this rootfs print, or NULL. */
const char *uml_rootfs_get_ready_marker(struct uml_rootfs *rootfs);
/* uml_rootfs_cow_check() of cow, failing into slot. */
int uml_rootfs_cow_check_into(struct uml_rootfs *cow, char **slot);
/* Whether its init wants the root mounted rw from the start ("rw" on the kernel line). */
bool uml_rootfs_get_root_rw(struct uml_rootfs *rootfs);

/* ---- spawn.c ----------------------------------------------------------- */

struct uml_spawn {
	pid_t pid;
	int pidfd;
	pid_t watchdog;		/* kills the process group if the caller dies */
	int watchdog_fd;	/* closing it (or dying) fires the watchdog */
};
struct uml_sandbox;

/* How to start a process. */
struct uml_spawn_opts {
	char *const *argv;		/* argv[0] is the program's path */
	char *const *envp;
	const int *keep_fds;		/* kept at the same numbers (cleared of O_CLOEXEC) */
	size_t n_keep;
	int out_fd;			/* stdout and stderr, or /dev/null when < 0 */
	char *const *cleanup;		/* NULL-terminated: files before their dirs */
	const struct uml_sandbox *sandbox;	/* prepared, or NULL */
};

/*
 * Starts o->argv[0] with every fd but the kept ones closed, its own
 * process group, default signal dispositions, an empty signal mask and
 * stdin on /dev/null, in the sandbox if one is given.  A watchdog process
 * kills the child's process group if the caller dies, then removes the
 * paths in o->cleanup.  Failures go to slot.
 */
int uml_spawn(struct uml_ctx *ctx, char **slot, const struct uml_spawn_opts *o,
	      struct uml_spawn *ret);
/* Waits (bounded) until a process group has no members left but zombies. */
void uml_spawn_wait_group_gone(pid_t pgid, int timeout_ms);
/* After the process was reaped: stops the watchdog, closes the fds. */
void uml_spawn_release(struct uml_spawn *sp);
/* Runs argv to completion capturing stdout and stderr together; exit status in *status. */
int uml_spawn_capture(struct uml_ctx *ctx, char **slot, char *const argv[], char **out,
		      size_t *out_len, int *status, int timeout_ms);

#endif

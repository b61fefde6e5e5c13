/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Internal interfaces shared by the libuml sources.  Not installed. */
#ifndef LIBUML_PRIVATE_H
#define LIBUML_PRIVATE_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/types.h>

#include "uml/libuml.h"

#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))
/* For _cleanup_(uml_freep) char *s = NULL; */
static inline void uml_freep(void *p)
{
	free(*(void **)p);
}
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

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

/* Creates the runtime directory if needed (mode 0700). */
int uml_ctx_ensure_runtime_dir(struct uml_ctx *ctx);

/* ---- small helpers (ctx.c) -------------------------------------------- */

uint64_t uml_now_usec(void);			/* CLOCK_MONOTONIC */
int uml_mkdir_p(const char *path, mode_t mode);
int uml_rm_rf(const char *path);		/* files and dirs below path, then path */
int uml_read_file(const char *path, char **ret, size_t *len);	/* NUL-terminated */
int uml_write_all(int fd, const void *buf, size_t len);
int uml_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Reads up to len bytes at off (fewer only at the end of the file); bytes read. */
ssize_t uml_pread_all(int fd, void *buf, size_t len, uint64_t off);
int uml_path_absolute(const char *path, char **ret);	/* relative -> cwd-based */
bool uml_has_space_or_ctrl(const char *s);
/* Replaces *slot by a copy of value (NULL clears it); -ENOMEM leaves it. */
int uml_set_string(char **slot, const char *value);
/* Finds an executable on $PATH (or takes a name with a '/'); -ENOENT if none. */
int uml_find_program(const char *name, char **ret);

/* A growable byte buffer, always NUL-terminated. */
struct uml_buf {
	char *data;
	size_t len;
	size_t cap;
};
int uml_buf_append(struct uml_buf *b, const void *data, size_t len);
void uml_buf_drop_front(struct uml_buf *b, size_t n);
void uml_buf_free(struct uml_buf *b);

/* ---- kernel.c ---------------------------------------------------------- */

struct uml_ctx *uml_kernel_get_ctx(struct uml_kernel *kernel);

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
/* Writes a file through a temporary and rename(), so readers never see half. */
int uml_write_file(const char *path, const char *data, size_t len);

/* $XDG_CACHE_HOME/libuml, else ~/.cache/libuml (allocated). */
char *uml_default_cache_dir(void);
/* Opens (creating) path and takes an exclusive flock; the fd, or -errno. */
int uml_lock_file(const char *path);
/* FNV-1a: identifies inputs of stamps and cache entries, not a security hash. */
#define UML_HASH_INIT 0xcbf29ce484222325ULL
uint64_t uml_hash_bytes(uint64_t h, const void *data, size_t len);
uint64_t uml_hash_str(uint64_t h, const char *s);	/* with its NUL */

/* The shipped config presets, generated from libuml/presets/NAME.config. */
struct uml_preset_text {
	const char *name;
	const char *text;
};
extern const struct uml_preset_text uml_preset_texts[];
extern const size_t uml_preset_texts_count;

/*
 * Loops per jiffy of UML's delay loop on this host (HZ=100), for the lpj=
 * kernel argument: it skips the ~90 ms "Calibrating delay loop" at boot.
 * Measured in about 1-2 ms; 0 where unknown (not x86-64).
 */
unsigned long uml_host_lpj(void);

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
};

struct uml_ctx *uml_rootfs_get_ctx(struct uml_rootfs *rootfs);
/*
 * The ubdN= value for this disk: "PATH" or, for a COW overlay,
 * "COWPATH,BACKING".  Allocated; the caller frees it.
 */
char *uml_rootfs_ubd_spec(struct uml_rootfs *rootfs);
/* The ready marker guests made by this rootfs print, or NULL. */
const char *uml_rootfs_get_ready_marker(struct uml_rootfs *rootfs);
/* Whether its init wants the root mounted rw from the start ("rw" on the kernel line). */
bool uml_rootfs_get_root_rw(struct uml_rootfs *rootfs);

/* ---- instance.c ------------------------------------------------------- */

struct uml_ctx *uml_instance_get_ctx(struct uml_instance *inst);
/* The guest's mconsole socket path while it runs, else NULL. */
const char *uml_instance_get_mconsole_path(struct uml_instance *inst);
/* Where uml_fail() keeps the instance's last error. */
char **uml_instance_last_error_slot(struct uml_instance *inst);

/* ---- exec.c: the exec channel (agent) of an instance ---------------------- */

struct uml_exec_chan;
/* instance.c: where the instance keeps its channel (NULL until enabled) */
struct uml_exec_chan **uml_instance_exec_chan_slot(struct uml_instance *inst);
struct uml_kernel *uml_instance_get_kernel(struct uml_instance *inst);
/* instance.c: the agent said hello; the guest is ready once its marker (if any) was seen */
void uml_instance_agent_up(struct uml_instance *inst);

void uml_exec_chan_free(struct uml_exec_chan *c);
/* At boot: makes the socketpair and the agent's initramfs; keep[] gets the kernel's two fds. */
int uml_exec_chan_prepare(struct uml_exec_chan *c, int keep[2]);
/* The three kernel arguments (allocated); placeholders before prepare. */
int uml_exec_chan_args(struct uml_exec_chan *c, char *args[3]);
/* After the spawn, ok or not: closes the kernel's ends; returns our fd to poll (or -1). */
int uml_exec_chan_started(struct uml_exec_chan *c);
/* Reads and handles what the agent sent (from uml_instance_process()); 1 if anything came. */
int uml_exec_chan_process(struct uml_exec_chan *c);
/* The agent said hello. */
bool uml_exec_chan_is_up(struct uml_exec_chan *c);
/* The guest ended: takes what is left, fails a request in flight. */
void uml_exec_chan_ended(struct uml_exec_chan *c);
/*
 * Hands bytes to the frame parser as if the agent had sent them, with a
 * command of our own in flight if own_request is set and none is queued
 * (for the fuzzer).  Returns 0, -EPROTO once the channel is broken, -ENOMEM.
 */
int uml_exec_chan_feed(struct uml_exec_chan *c, const void *data, size_t len, bool own_request);

/* ---- hostcompat.c ------------------------------------------------------ */

bool uml_hostcompat_needed(void);
/*
 * Returns an fd (not O_CLOEXEC-free: the caller dup2()s it in the child)
 * of a memfd that holds the ptrace interposer library, or a negative errno.
 */
int uml_hostcompat_preload_fd(struct uml_ctx *ctx);

/* ---- spawn.c ----------------------------------------------------------- */

struct uml_spawn {
	pid_t pid;
	int pidfd;
	pid_t watchdog;		/* kills the process group if the caller dies */
	int watchdog_fd;	/* closing it (or dying) fires the watchdog */
};
/*
 * Forks and execs argv[0] with envp.  keep_fds[i] is dup2()ed to
 * keep_fds[i] in the child (cleared of O_CLOEXEC); every other fd is
 * closed.  The child gets its own process group, SIGKILL when the caller
 * dies, default signal dispositions and an empty signal mask, and stdin on
 * /dev/null.  stdout/stderr go to out_fd (or /dev/null when < 0).  A
 * watchdog process kills the child's process group if the caller dies, then
 * removes the paths in cleanup (NULL-terminated, files before their dirs).
 */
int uml_spawn(struct uml_ctx *ctx, char *const argv[], char *const envp[],
	      const int *keep_fds, size_t n_keep, int out_fd, char *const *cleanup,
	      struct uml_spawn *ret);
/* Waits (bounded) until a process group has no members left but zombies. */
void uml_spawn_wait_group_gone(pid_t pgid, int timeout_ms);
/* After the process was reaped: stops the watchdog, closes the fds. */
void uml_spawn_release(struct uml_spawn *sp);
/* Runs argv to completion capturing stdout and stderr together; exit status in *status. */
int uml_spawn_capture(struct uml_ctx *ctx, char *const argv[], char **out, size_t *out_len,
		      int *status, int timeout_ms);

/* ---- mconsole.c -------------------------------------------------------- */

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

/* ---- console.c --------------------------------------------------------- */

/* Classification of one console line. */
enum uml_console_class {
	UML_CONSOLE_PLAIN = 0,
	UML_CONSOLE_PANIC,		/* "Kernel panic - not syncing: MSG" */
	UML_CONSOLE_POWEROFF,		/* "reboot: Power down" */
	UML_CONSOLE_HALT,		/* "reboot: System halted" */
	UML_CONSOLE_REBOOT,		/* "reboot: Restarting system" */
	UML_CONSOLE_FP_REGS,		/* "ptrace set fp regs failed" */
	UML_CONSOLE_NO_INIT,
	UML_CONSOLE_NO_ROOT,
	UML_CONSOLE_NO_CONSOLE,
	UML_CONSOLE_OOM,
};
enum uml_console_class uml_console_classify(const char *line, size_t len);
int uml_console_class_rank(enum uml_console_class c);

/* ---- net.c: network interfaces (hooks called by instance.c) ------------ */

struct uml_net;
/* instance.c: where an instance keeps its network state (NULL until used) */
struct uml_net **uml_instance_net_slot(struct uml_instance *inst);
/* Most fds uml_net_boot_prepare() adds to the kernel's keep list. */
#define UML_NET_MAX_FDS 16
/* How many kernel arguments uml_net_build_args() adds. */
int uml_net_count_args(struct uml_instance *inst);
/* Appends the interfaces' kernel arguments at argv[*n]... (allocated). */
int uml_net_build_args(struct uml_instance *inst, char **argv, size_t *n);
/* Starts switches, creates taps, appends link sockets to keep[*n_keep]. */
int uml_net_boot_prepare(struct uml_instance *inst, int *keep, size_t *n_keep);
/* Undoes uml_net_boot_prepare() after a failed boot (deletes created taps). */
void uml_net_boot_failed(struct uml_instance *inst);
/* The guest ended: drops switches and links, deletes created taps. */
void uml_net_guest_ended(struct uml_instance *inst);
/* Shell lines that set the addresses in one-shot mode (allocated), or NULL. */
char *uml_net_run_prologue(struct uml_instance *inst);
void uml_net_free(struct uml_instance *inst);

#endif

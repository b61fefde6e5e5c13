/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libuml - build, configure, boot and monitor User Mode Linux guests.
 *
 * Conventions, for every function below unless its comment says otherwise:
 *  - Functions returning int return 0 (or a documented non-negative value)
 *    on success and a negative errno on failure.  -EINVAL means a bad
 *    argument.  A human-readable message for the failure is kept on the
 *    object (uml_*_last_error()) and logged through the context.
 *  - Constructors leave *ret untouched on failure.
 *  - uml_*_ref() returns its argument; uml_*_unref() returns NULL and
 *    accepts NULL.  Children hold references on their parents (an instance
 *    keeps its kernel, rootfs and context alive).
 *  - Strings passed in are copied.  Strings returned are owned by the object
 *    and stay valid until the object changes them or is freed.
 *  - One object may be used by one thread at a time; different objects may
 *    be used from different threads at once, also when they share a context.
 *    Callbacks run only inside the call that triggers them (for instances:
 *    uml_instance_process() and the uml_instance_wait*() helpers).
 *  - libuml installs no signal handlers, starts no threads and keeps no
 *    global state.
 */
#ifndef LIBUML_H
#define LIBUML_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define UML_EXPORT __attribute__((visibility("default")))
#else
#define UML_EXPORT
#endif

struct uml_ctx;
struct uml_kernel;
struct uml_rootfs;
struct uml_instance;

/* ------------------------------------------------------------------ */
/* Context                                                             */
/* ------------------------------------------------------------------ */

/**
 * uml_log_fn:
 * @userdata: the pointer given to uml_ctx_set_log_fn()
 * @priority: a syslog priority (LOG_ERR, LOG_INFO, LOG_DEBUG, ...)
 * @msg: the formatted message, without a trailing newline; valid only
 *       during the call
 */
typedef void (*uml_log_fn)(void *userdata, int priority, const char *msg);

/**
 * struct uml_progress - progress of a long operation (image population,
 * kernel build, debootstrap).
 * @phase: a short name of what is being done now ("populate", "build" ...)
 * @done: units done so far
 * @total: units in all, or 0 when unknown (then treat it as a pulse)
 */
struct uml_progress {
	const char *phase;
	uint64_t done;
	uint64_t total;
};

/**
 * uml_progress_fn:
 * Called during long operations of any object of the context.  Return 0 to
 * continue; a non-zero return cancels the operation where it supports
 * cancellation (it then fails with -ECANCELED).
 */
typedef int (*uml_progress_fn)(void *userdata, const struct uml_progress *p);

/**
 * uml_ctx_new:
 * @ret: the new context
 *
 * Creates a library context.  It holds logging, the runtime directory and
 * defaults.  The log priority starts at LOG_ERR, or at the level named by
 * the environment variable UML_LOG ("err", "info", "debug" or a number).
 * The runtime directory starts as $UML_DIR, else ~/.uml (where UML and
 * uml_mconsole look).
 *
 * Returns: 0, or -ENOMEM.
 * Since: 0.1
 */
UML_EXPORT int uml_ctx_new(struct uml_ctx **ret);

/**
 * uml_ctx_ref:
 * Takes a reference.  Returns: @ctx.
 * Since: 0.1
 */
UML_EXPORT struct uml_ctx *uml_ctx_ref(struct uml_ctx *ctx);

/**
 * uml_ctx_unref:
 * Drops a reference; frees the context with the last one.
 * Returns: NULL.
 * Since: 0.1
 */
UML_EXPORT struct uml_ctx *uml_ctx_unref(struct uml_ctx *ctx);

/**
 * uml_ctx_set_log_fn:
 * @fn: the log function, or NULL to restore the default (stderr)
 * @userdata: passed to @fn
 *
 * Routes all messages at or above the log priority to @fn.
 * Since: 0.1
 */
UML_EXPORT void uml_ctx_set_log_fn(struct uml_ctx *ctx, uml_log_fn fn, void *userdata);

/**
 * uml_ctx_set_log_priority:
 * Sets the most verbose syslog priority that is logged.
 * Since: 0.1
 */
UML_EXPORT void uml_ctx_set_log_priority(struct uml_ctx *ctx, int priority);

/**
 * uml_ctx_get_log_priority:
 * Returns: the current log priority.
 * Since: 0.1
 */
UML_EXPORT int uml_ctx_get_log_priority(struct uml_ctx *ctx);

/**
 * uml_ctx_set_progress_fn:
 * @fn: called with progress of long operations, or NULL
 * @userdata: passed to @fn
 * Since: 0.1
 */
UML_EXPORT void uml_ctx_set_progress_fn(struct uml_ctx *ctx, uml_progress_fn fn, void *userdata);

/**
 * uml_ctx_set_runtime_dir:
 * @dir: an absolute path; created (mode 0700) at the first boot if missing
 *
 * Sets the directory passed to guests as uml_dir=.  Each guest keeps its
 * pid file and mconsole socket in @dir/UMID/, which libuml removes when the
 * guest ends.
 *
 * Returns: 0, -EINVAL if @dir is not absolute, -ENAMETOOLONG if it leaves
 * no room for a socket path below it.
 * Since: 0.1
 */
UML_EXPORT int uml_ctx_set_runtime_dir(struct uml_ctx *ctx, const char *dir);

/**
 * uml_ctx_get_runtime_dir:
 * Returns: the runtime directory, owned by @ctx.
 * Since: 0.1
 */
UML_EXPORT const char *uml_ctx_get_runtime_dir(struct uml_ctx *ctx);

/**
 * enum uml_hostcompat - how libuml handles host quirks that kill stock
 * UML kernels (today: hosts with AMX, where UML <= 6.12 dies at PID 1
 * with "ptrace set fp regs failed").
 * @UML_HOSTCOMPAT_AUTO: apply a fix when the host needs it (default)
 * @UML_HOSTCOMPAT_OFF: never apply one (environment: UML_HOSTCOMPAT=off)
 * @UML_HOSTCOMPAT_FORCE: always apply it (environment: UML_HOSTCOMPAT=force)
 */
enum uml_hostcompat {
	UML_HOSTCOMPAT_AUTO = 0,
	UML_HOSTCOMPAT_OFF = 1,
	UML_HOSTCOMPAT_FORCE = 2,
};

/**
 * uml_ctx_set_hostcompat:
 * Chooses how guests booted afterwards handle host quirks.
 * Returns: 0, or -EINVAL for an unknown mode.
 * Since: 0.1
 */
UML_EXPORT int uml_ctx_set_hostcompat(struct uml_ctx *ctx, enum uml_hostcompat mode);

/**
 * uml_ctx_host_needs_compat:
 * Returns: 1 if this host needs the compatibility fix for stock UML
 * kernels (it has AMX tile state enabled), 0 if not.
 * Since: 0.1
 */
UML_EXPORT int uml_ctx_host_needs_compat(struct uml_ctx *ctx);

/**
 * uml_ctx_last_error:
 * Returns: the message of the last failure of a context-level call, or of
 * any object of this context, or NULL.  Owned by @ctx; with several threads
 * prefer the per-object getters.
 * Since: 0.1
 */
UML_EXPORT const char *uml_ctx_last_error(struct uml_ctx *ctx);

/* ------------------------------------------------------------------ */
/* Kernels                                                             */
/* ------------------------------------------------------------------ */

/**
 * uml_kernel_new_from_path:
 * @path: a UML kernel binary (the "linux" a `make ARCH=um` produces)
 * @ret: the new kernel object
 *
 * Checks that @path is an executable x86-64 ELF built as User Mode Linux,
 * without running it.
 *
 * Returns: 0; -ENOENT if @path does not exist; -EISDIR for a directory;
 * -EACCES if it is not executable; -ENOEXEC if it is not an ELF binary
 * (a script, a text file); -EMEDIUMTYPE if it is an ELF binary but not a
 * UML kernel; -EINVAL for a NULL or empty @path.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_new_from_path(struct uml_ctx *ctx, const char *path,
					struct uml_kernel **ret);

/**
 * uml_kernel_new_default:
 * Finds the default kernel: $UML_KERNEL, else /usr/bin/linux.uml (Debian's
 * user-mode-linux package), else `linux` on $PATH; then checks it as
 * uml_kernel_new_from_path() does.
 *
 * Returns: 0; -ENOENT if none was found (the message lists where it
 * looked); the errors of uml_kernel_new_from_path() for a bad candidate.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_new_default(struct uml_ctx *ctx, struct uml_kernel **ret);

/** uml_kernel_ref: Returns: @kernel. Since: 0.1 */
UML_EXPORT struct uml_kernel *uml_kernel_ref(struct uml_kernel *kernel);
/** uml_kernel_unref: Returns: NULL. Since: 0.1 */
UML_EXPORT struct uml_kernel *uml_kernel_unref(struct uml_kernel *kernel);

/**
 * uml_kernel_get_path:
 * Returns: the absolute path of the kernel binary, owned by @kernel.
 * Since: 0.1
 */
UML_EXPORT const char *uml_kernel_get_path(struct uml_kernel *kernel);

/**
 * uml_kernel_get_version:
 * @ret: the version string (e.g. "6.1.176"), owned by @kernel
 *
 * Runs the kernel with --version once and caches the answer.
 *
 * Returns: 0, or -EIO if the kernel printed no version.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_get_version(struct uml_kernel *kernel, const char **ret);

/**
 * uml_kernel_get_config:
 * @option: a Kconfig symbol, with or without the CONFIG_ prefix
 * @ret: its value ("y", "m", a number or a quoted string), owned by @kernel
 *
 * Runs the kernel with --showconfig once and caches the configuration.
 *
 * Returns: 0; -ENOENT if the option is not set; -ENODATA if the kernel
 * was built without an embedded configuration; -EINVAL for a bad @option.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_get_config(struct uml_kernel *kernel, const char *option,
				     const char **ret);

/**
 * uml_kernel_is_static:
 * Returns: 1 if the kernel is a statically linked binary (host
 * compatibility fixes cannot be applied to it), 0 if dynamically linked.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_is_static(struct uml_kernel *kernel);

/**
 * uml_kernel_last_error:
 * Returns: the message of the last failure on @kernel, or NULL.
 * Since: 0.1
 */
UML_EXPORT const char *uml_kernel_last_error(struct uml_kernel *kernel);

/* ------------------------------------------------------------------ */
/* Root filesystems                                                    */
/* ------------------------------------------------------------------ */

/**
 * enum uml_fs_type - filesystem of an image made by libuml.
 */
enum uml_fs_type {
	UML_FS_EXT4 = 0,
	UML_FS_EXT3 = 1,
	UML_FS_EXT2 = 2,
};

/**
 * enum uml_rootfs_create_flags - flags for the uml_rootfs_create_*() calls.
 * @UML_ROOTFS_CREATE_OVERWRITE: replace an existing image file (by default
 *     an existing file is refused with -EEXIST and left as it is)
 */
enum uml_rootfs_create_flags {
	UML_ROOTFS_CREATE_OVERWRITE = 1u << 0,
};

/**
 * uml_rootfs_new:
 * @image: path of the disk image, existing or to be created
 * @ret: the new rootfs object
 *
 * Describes a disk image.  Nothing is read or written until an action
 * (uml_rootfs_open(), uml_rootfs_create_from_dir(),
 * uml_rootfs_create_busybox()) or a boot uses it.
 *
 * Returns: 0, -EINVAL for a NULL or empty @image, -ENOMEM.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_new(struct uml_ctx *ctx, const char *image, struct uml_rootfs **ret);

/** uml_rootfs_ref: Returns: @rootfs. Since: 0.1 */
UML_EXPORT struct uml_rootfs *uml_rootfs_ref(struct uml_rootfs *rootfs);
/** uml_rootfs_unref: Returns: NULL. Since: 0.1 */
UML_EXPORT struct uml_rootfs *uml_rootfs_unref(struct uml_rootfs *rootfs);

/**
 * uml_rootfs_get_path:
 * Returns: the absolute image path, owned by @rootfs.
 * Since: 0.1
 */
UML_EXPORT const char *uml_rootfs_get_path(struct uml_rootfs *rootfs);

/**
 * uml_rootfs_set_size:
 * @bytes: size of images created afterwards; a multiple of 1 KiB, at least
 *         1 MiB.  The default is 64 MiB.
 * Returns: 0, -ERANGE when too small, too large or not a multiple of 1 KiB.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_set_size(struct uml_rootfs *rootfs, uint64_t bytes);

/**
 * uml_rootfs_set_fs_type:
 * Filesystem of images created afterwards (default UML_FS_EXT4).
 * Returns: 0, -EINVAL for an unknown type.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_set_fs_type(struct uml_rootfs *rootfs, enum uml_fs_type type);

/**
 * uml_rootfs_open:
 * Checks that the image exists and holds an ext2/3/4 filesystem.
 * Returns: 0, -ENOENT, -EISDIR, -EMEDIUMTYPE if no ext2/3/4 filesystem was
 * found in it.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_open(struct uml_rootfs *rootfs);

/**
 * uml_rootfs_create_from_dir:
 * @dir: host directory whose contents become the filesystem's root
 * @flags: enum uml_rootfs_create_flags
 *
 * Creates the image with libext2fs, no mount, no root, no mkfs process:
 * regular files, directories, symlinks, hard links, device nodes, FIFOs
 * and sockets with their modes, owners and timestamps.  The image is built
 * in a temporary file next to @image and renamed over it only when
 * complete, so a failure leaves no half-made image behind.  Reports
 * progress ("populate", files done/total) through the context.
 *
 * Returns: 0; -EEXIST if the image exists and no OVERWRITE flag was given;
 * -ENOENT/-ENOTDIR for a bad @dir; -ENOSPC if the tree does not fit in the
 * image size; -ECANCELED when the progress callback cancelled.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_create_from_dir(struct uml_rootfs *rootfs, const char *dir,
					  unsigned flags);

/**
 * uml_rootfs_create_busybox:
 * @busybox: path of a statically linked busybox, or NULL for the one of
 *           Debian's busybox-static package (/bin/busybox)
 * @flags: enum uml_rootfs_create_flags
 *
 * Creates a minimal guest: busybox with its applet links, an /init that
 * mounts /proc, /sys and /dev, remounts / read-write, prints
 * UML_BUSYBOX_READY_MARKER on the console and starts a shell there,
 * device nodes for the console and /dev/ubda, and an fstab with /dev/ubda
 * as root.
 *
 * Returns: as uml_rootfs_create_from_dir(); -ENOENT if busybox is missing,
 * -ENOEXEC if it is not a static binary.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_create_busybox(struct uml_rootfs *rootfs, const char *busybox,
					 unsigned flags);

/**
 * UML_BUSYBOX_READY_MARKER:
 * The line the /init of uml_rootfs_create_busybox() guests prints on the
 * console once userspace is up; it is their default ready marker.
 */
#define UML_BUSYBOX_READY_MARKER "libuml: guest ready"

/**
 * uml_rootfs_last_error:
 * Returns: the message of the last failure on @rootfs, or NULL.
 * Since: 0.1
 */
UML_EXPORT const char *uml_rootfs_last_error(struct uml_rootfs *rootfs);

/* ------------------------------------------------------------------ */
/* Instances                                                           */
/* ------------------------------------------------------------------ */

/**
 * enum uml_state - where an instance is in its life.
 */
enum uml_state {
	UML_STATE_CONFIGURING = 0,	/* not booted yet */
	UML_STATE_BOOTING = 1,		/* process started, not ready yet */
	UML_STATE_RUNNING = 2,		/* ready */
	UML_STATE_EXITED = 3,		/* process ended and reaped */
};

/**
 * enum uml_exit_reason - why a guest ended.  Append-only.
 */
enum uml_exit_reason {
	UML_EXIT_NONE = 0,		/* still configuring or running */
	UML_EXIT_POWEROFF = 1,		/* the guest powered off */
	UML_EXIT_HALT = 2,		/* the guest halted (or was halted by uml_instance_halt()) */
	UML_EXIT_REBOOT = 3,		/* the guest rebooted; libuml ends it there */
	UML_EXIT_PANIC = 4,		/* kernel panic; see uml_instance_get_panic_message() */
	UML_EXIT_KILLED = 5,		/* ended by a signal; see uml_instance_get_exit_signal() */
	UML_EXIT_TIMEOUT = 6,		/* ran past uml_instance_set_timeout() and was killed */
	UML_EXIT_FAILED_TO_START = 7,	/* the kernel could not be started or exited at once */
	UML_EXIT_HOST_INCOMPATIBLE = 8,	/* died with "ptrace set fp regs failed" (AMX hosts) */
	UML_EXIT_NO_INIT = 9,		/* "No working init found" / "No init found" */
	UML_EXIT_NO_ROOT = 10,		/* "VFS: Unable to mount root fs" / waiting for root */
	UML_EXIT_NO_CONSOLE = 11,	/* "Failed to open console" / no initial console */
	UML_EXIT_OUT_OF_MEMORY = 12,	/* out of memory while booting */
	UML_EXIT_CRASHED = 13,		/* UML exited non-zero for another reason */
};

/**
 * uml_exit_reason_to_string:
 * Returns: a static lower-case name ("poweroff", "panic" ...), or NULL for
 * an unknown value.
 * Since: 0.1
 */
UML_EXPORT const char *uml_exit_reason_to_string(enum uml_exit_reason reason);

/**
 * enum uml_event_type - what an event reports.  Append-only.
 * @UML_EVENT_CONSOLE_LINE: a line the guest wrote on its console (text
 *     without the line end; CR before LF removed)
 * @UML_EVENT_KERNEL_UP: the kernel answered on mconsole (text: the
 *     mconsole socket path)
 * @UML_EVENT_READY: the ready condition was met
 * @UML_EVENT_NOTIFY: the guest wrote to /proc/mconsole (text: what it wrote)
 * @UML_EVENT_PANIC: the kernel panicked (text: the panic message)
 * @UML_EVENT_EXITED: the process ended (text: the exit reason's name)
 */
enum uml_event_type {
	UML_EVENT_CONSOLE_LINE = 0,
	UML_EVENT_KERNEL_UP = 1,
	UML_EVENT_READY = 2,
	UML_EVENT_NOTIFY = 3,
	UML_EVENT_PANIC = 4,
	UML_EVENT_EXITED = 5,
};

/**
 * struct uml_event - an event of an instance; valid only during the
 * callback.
 * @type: enum uml_event_type
 * @text: NUL-terminated text (may contain NULs before @len for notify data)
 * @len: bytes in @text, without the terminating NUL
 */
struct uml_event {
	enum uml_event_type type;
	const char *text;
	size_t len;
};

typedef void (*uml_event_fn)(void *userdata, struct uml_instance *inst,
			     const struct uml_event *ev);

/**
 * uml_instance_new:
 * @kernel: the kernel to boot; the instance keeps a reference
 * @ret: the new instance
 *
 * Creates a guest description with a unique umid ("uml-PID-N-RANDOM"),
 * 64 MiB of memory and no disks.
 *
 * Returns: 0, -EINVAL, -ENOMEM.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_new(struct uml_kernel *kernel, struct uml_instance **ret);

/** uml_instance_ref: Returns: @inst. Since: 0.1 */
UML_EXPORT struct uml_instance *uml_instance_ref(struct uml_instance *inst);

/**
 * uml_instance_unref:
 * Drops a reference.  With the last one a guest that still runs is killed
 * (SIGKILL to its process group), reaped, and its runtime files removed.
 * Returns: NULL.
 * Since: 0.1
 */
UML_EXPORT struct uml_instance *uml_instance_unref(struct uml_instance *inst);

/**
 * uml_instance_set_rootfs:
 * Uses @rootfs as ubd0 and boots from it (root=/dev/ubda).  The instance
 * keeps a reference.
 * Returns: 0, -EBUSY once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_set_rootfs(struct uml_instance *inst, struct uml_rootfs *rootfs);

/**
 * uml_instance_set_memory:
 * @bytes: guest RAM; at least 16 MiB, at most 1 TiB, a multiple of 1 MiB
 * Returns: 0, -ERANGE, -EBUSY once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_set_memory(struct uml_instance *inst, uint64_t bytes);

/**
 * uml_instance_set_umid:
 * @umid: 1 to 63 characters from [A-Za-z0-9._-], not "." or ".."
 * Returns: 0, -EINVAL for a bad name (the message says why),
 * -ENAMETOOLONG if the socket path below the runtime directory would not
 * fit, -EBUSY once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_set_umid(struct uml_instance *inst, const char *umid);

/**
 * uml_instance_get_umid:
 * Returns: the umid, owned by @inst.
 * Since: 0.1
 */
UML_EXPORT const char *uml_instance_get_umid(struct uml_instance *inst);

/**
 * uml_instance_append_arg:
 * @arg: one kernel command line argument, e.g. "loglevel=4"
 *
 * Arguments that libuml sets itself (mem=, ubd0=, umid=, uml_dir=, con0=,
 * con=, ssl=, mconsole=, root=, init=) are refused; use their setters.
 *
 * Returns: 0; -EINVAL for an empty argument, one with white space, a
 * control character or a reserved name; -E2BIG past 4 KiB in all;
 * -EBUSY once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_append_arg(struct uml_instance *inst, const char *arg);

/**
 * uml_instance_set_init:
 * @path: absolute path of the guest's init, or NULL for the kernel's choice
 * Returns: 0, -EINVAL if not absolute or it contains white space or
 * control characters, -EBUSY once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_set_init(struct uml_instance *inst, const char *path);

/**
 * uml_instance_set_ready_marker:
 * @text: a console text whose appearance makes the guest ready, or NULL.
 *
 * Without a marker the instance is ready when the kernel is up (mconsole
 * notify).  Guests of uml_rootfs_create_busybox() default to
 * UML_BUSYBOX_READY_MARKER.
 *
 * Returns: 0, -EINVAL for an empty text or one with a newline, -EBUSY
 * once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_set_ready_marker(struct uml_instance *inst, const char *text);

/**
 * uml_instance_set_timeout:
 * @timeout_ms: how long the guest may run from boot before libuml kills it
 *              (exit reason UML_EXIT_TIMEOUT); 0 means no limit (default)
 * Returns: 0, -ERANGE for a negative value.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_set_timeout(struct uml_instance *inst, int64_t timeout_ms);

/**
 * uml_instance_set_run_command:
 * @command: a shell command, or NULL to boot normally
 *
 * One-shot mode: the guest boots with /bin/sh as init, runs @command,
 * and is halted when it finishes; uml_instance_get_run_status() and
 * uml_instance_get_run_output() then give its exit status and its output
 * (stdout and stderr together, line ends as LF).  Works on any rootfs
 * with /bin/sh.  The command travels through the console's line
 * discipline, so it may hold newlines and tabs but no other control
 * characters, and no line may exceed 1024 bytes.
 *
 * Returns: 0; -EINVAL for control characters; -E2BIG for a line past 1024
 * bytes or more than 64 KiB in all; -EBUSY once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_set_run_command(struct uml_instance *inst, const char *command);

/**
 * uml_instance_set_event_fn:
 * Sets the event callback (see enum uml_event_type), or NULL.
 * Since: 0.1
 */
UML_EXPORT void uml_instance_set_event_fn(struct uml_instance *inst, uml_event_fn fn,
					  void *userdata);

/**
 * uml_instance_get_argv:
 * Builds the kernel's argument vector as uml_instance_boot() would, with
 * placeholders for file descriptor numbers not yet known.
 * Returns: a NULL-terminated array owned by @inst (valid until the next
 * call or change), or NULL on failure (see uml_instance_last_error()).
 * Since: 0.1
 */
UML_EXPORT const char *const *uml_instance_get_argv(struct uml_instance *inst);

/**
 * uml_instance_boot:
 * Starts the guest: creates the runtime directory, spawns the kernel in
 * its own process group with only the file descriptors it needs, arranges
 * for it to die with the calling process, and applies host compatibility
 * fixes when needed.  Returns once the process runs; use
 * uml_instance_wait_ready() or the event loop calls to follow it.
 *
 * Returns: 0; -EBUSY if already booted; -ENOENT if the root image is
 * missing; -EEXIST if a guest with this umid runs in the runtime
 * directory; errors of fork/exec as negative errno.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_boot(struct uml_instance *inst);

/**
 * uml_instance_get_fd:
 * Returns: an O_CLOEXEC epoll file descriptor, owned by @inst, that polls
 * readable when uml_instance_process() has work; -ENOTCONN before boot.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_get_fd(struct uml_instance *inst);

/**
 * uml_instance_get_timeout:
 * @ret_usec: CLOCK_MONOTONIC time in microseconds at which
 *            uml_instance_process() must be called even without fd
 *            activity, or UINT64_MAX for none
 * Returns: 0.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_get_timeout(struct uml_instance *inst, uint64_t *ret_usec);

/**
 * uml_instance_process:
 * Handles pending console output, notifications, deadlines and process
 * exit without blocking; runs the event callback.
 * Returns: 1 if something was handled, 0 if nothing was pending, or a
 * negative errno.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_process(struct uml_instance *inst);

/**
 * uml_instance_wait_ready:
 * @timeout_ms: how long to wait; negative waits without limit
 * Blocks until the guest is ready (see uml_instance_set_ready_marker()).
 * Returns: 0 when ready; -ETIMEDOUT (the guest keeps running);
 * -ECHILD if the guest ended first (see uml_instance_get_exit_reason());
 * -ENOTCONN if not booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_wait_ready(struct uml_instance *inst, int timeout_ms);

/**
 * uml_instance_wait:
 * @timeout_ms: how long to wait; negative waits without limit
 * Blocks until the guest process has ended and was reaped.
 * Returns: 0; -ETIMEDOUT (the guest keeps running); -ENOTCONN if not booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_wait(struct uml_instance *inst, int timeout_ms);

/**
 * uml_instance_halt:
 * @timeout_ms: how long each step may take (negative: 5000)
 * Asks the kernel to halt through mconsole; if it has not ended after
 * @timeout_ms, sends SIGTERM; after another @timeout_ms, SIGKILL to the
 * whole process group.  Returns after the process was reaped.
 * Returns: 0, -ENOTCONN if not booted.  An instance that already ended
 * returns 0.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_halt(struct uml_instance *inst, int timeout_ms);

/**
 * uml_instance_kill:
 * Sends SIGKILL to the guest's process group and reaps it.
 * Returns: 0, -ENOTCONN if not booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_kill(struct uml_instance *inst);

/**
 * uml_instance_get_state:
 * Returns: the enum uml_state.
 * Since: 0.1
 */
UML_EXPORT enum uml_state uml_instance_get_state(struct uml_instance *inst);

/**
 * uml_instance_get_pid:
 * Returns: the kernel's host pid while it runs, else 0.
 * Since: 0.1
 */
UML_EXPORT pid_t uml_instance_get_pid(struct uml_instance *inst);

/**
 * uml_instance_get_exit_reason:
 * Returns: why the guest ended, UML_EXIT_NONE while it runs.
 * Since: 0.1
 */
UML_EXPORT enum uml_exit_reason uml_instance_get_exit_reason(struct uml_instance *inst);

/**
 * uml_instance_get_exit_detail:
 * Returns: the console line or message that decided the exit reason
 * (for a panic, the panic message), owned by @inst, or NULL.
 * Since: 0.1
 */
UML_EXPORT const char *uml_instance_get_exit_detail(struct uml_instance *inst);

/**
 * uml_instance_get_panic_message:
 * Returns: the kernel's panic message if the guest panicked (also for the
 * named boot failures that end in a panic), owned by @inst, else NULL.
 * Since: 0.1
 */
UML_EXPORT const char *uml_instance_get_panic_message(struct uml_instance *inst);

/**
 * uml_instance_get_exit_signal:
 * Returns: the signal that ended the kernel process, or 0.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_get_exit_signal(struct uml_instance *inst);

/**
 * uml_instance_get_exit_code:
 * Returns: the kernel process's exit code if it exited, or -1.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_get_exit_code(struct uml_instance *inst);

/**
 * uml_instance_get_console_log:
 * @len: if not NULL, receives the length
 * Returns: everything the guest wrote on its console so far (CR before LF
 * removed; capped at the last 8 MiB), owned by @inst.
 * Since: 0.1
 */
UML_EXPORT const char *uml_instance_get_console_log(struct uml_instance *inst, size_t *len);

/**
 * uml_instance_write_console:
 * Writes @len bytes of @data to the guest's console input.
 * Returns: bytes written, -EAGAIN if the console is full, -ENOTCONN.
 * Since: 0.1
 */
UML_EXPORT ssize_t uml_instance_write_console(struct uml_instance *inst, const void *data,
					      size_t len);

/**
 * uml_instance_get_run_status:
 * @ret: the one-shot command's exit status (0-255)
 * Returns: 0; -ENODATA if no run command finished (the guest ended before
 * it did, or none was set).
 * Since: 0.1
 */
UML_EXPORT int uml_instance_get_run_status(struct uml_instance *inst, int *ret);

/**
 * uml_instance_get_run_output:
 * @len: if not NULL, receives the length
 * Returns: what the one-shot command printed so far, owned by @inst, or
 * NULL without a run command.
 * Since: 0.1
 */
UML_EXPORT const char *uml_instance_get_run_output(struct uml_instance *inst, size_t *len);

/**
 * uml_instance_get_hostcompat_applied:
 * Returns: 1 if the running or ended guest was started with a host
 * compatibility fix, 0 if not.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_get_hostcompat_applied(struct uml_instance *inst);

/**
 * uml_instance_last_error:
 * Returns: the message of the last failure on @inst, or NULL.
 * Since: 0.1
 */
UML_EXPORT const char *uml_instance_last_error(struct uml_instance *inst);

/* ------------------------------------------------------------------ */
/* Running commands in a guest                                         */
/* ------------------------------------------------------------------ */

/*
 * The exec channel.  uml_instance_enable_exec() before boot makes libuml
 * boot the guest through a small agent of its own (built with libuml and
 * embedded in it): the kernel gets an initramfs holding only the agent
 * (initrd=, rdinit=), which mounts the root the kernel names (root=,
 * rootfstype=, rootflags=, ro/rw) and the hostfs shares, forks itself off
 * as a server on the serial line ssl1 (/dev/ttyS1 in the guest, a
 * socketpair on the host), and then execs the guest's own init (init=, or
 * /sbin/init, /etc/init, /bin/init, /bin/sh as the kernel would).  The
 * image is never modified and the guest needs nothing installed: busybox
 * and Debian guests work alike.  The kernel needs CONFIG_BLK_DEV_INITRD and
 * CONFIG_SSL (CONFIG_HOSTFS for shares); the kernel arguments ssl1=,
 * initrd= and rdinit= then belong to libuml.
 *
 * Readiness: with the exec channel the guest becomes ready when the agent
 * says hello and, if a ready marker is set (busybox guests have one), the
 * marker was seen too.  Without a marker it is ready as soon as the agent
 * runs, which may be before the guest's init has mounted /proc or made the
 * root writable.
 *
 * Requests are served one at a time, in order: uml_instance_exec() and
 * the copy calls block until the guest answers; several may follow each
 * other quickly (one round trip is a few milliseconds).  While blocked
 * they keep handling the instance's console, notifications and exit, and
 * the event callback runs from inside them; do not call them from the
 * event callback (-EBUSY).  Commands run with their own stdin, stdout and
 * stderr pipes, as root, in a new session, with PATH set to
 * /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin and
 * HOME=/root, in /root (else /).  A command is finished when its process
 * exits; what it left in its pipes is collected, but background processes
 * it started are not waited for.
 *
 * The wire protocol (frames of type, length and payload over the raw tty)
 * is private to libuml and its agent.
 */

struct uml_exec;

/**
 * uml_instance_enable_exec:
 * Gives the guest booted next an exec channel (see above).  Calling it
 * again does nothing.
 * Returns: 0; -EBUSY once booted; -EOPNOTSUPP if the kernel's embedded
 * configuration lacks CONFIG_BLK_DEV_INITRD or CONFIG_SSL; -ENOMEM.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_enable_exec(struct uml_instance *inst);

/**
 * enum uml_hostfs_flags - flags for uml_instance_add_hostfs().
 * @UML_HOSTFS_READONLY: mount the share read-only in the guest.  The guest
 *     kernel enforces it (writes fail with EROFS); a guest root user could
 *     remount it read-write, so protect host data that matters with host
 *     permissions too.
 */
enum uml_hostfs_flags {
	UML_HOSTFS_READONLY = 1u << 0,
};

/**
 * uml_instance_add_hostfs:
 * @host_dir: an existing host directory (made absolute against the
 *            current directory)
 * @guest_path: absolute path in the guest where it appears; created if
 *              missing (the agent briefly remounts a read-only root
 *              read-write for that)
 * @flags: enum uml_hostfs_flags
 *
 * Shares @host_dir with the guest booted next through hostfs.  The agent
 * mounts it before the guest's init starts, so it enables the exec channel
 * too.  Files the guest creates belong to the host user running the
 * kernel.  A share that cannot be mounted does not stop the boot; it is
 * reported through uml_instance_last_error() and the log once the agent is
 * up.
 *
 * Returns: 0; -EINVAL for a relative @guest_path, "/", a newline or
 * unknown @flags; -ENOENT / -ENOTDIR for a bad @host_dir; -EOPNOTSUPP if
 * the kernel lacks CONFIG_HOSTFS (or what uml_instance_enable_exec()
 * needs); -EBUSY once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_add_hostfs(struct uml_instance *inst, const char *host_dir,
				       const char *guest_path, unsigned flags);

/**
 * uml_instance_exec:
 * @argv: the command and its arguments, NULL-terminated; argv[0] is looked
 *        up in the guest's PATH unless it contains a '/'
 * @stdin_data: bytes for the command's stdin (closed after them), or NULL
 * @stdin_len: length of @stdin_data (at most 256 MiB with @argv)
 * @timeout_ms: the guest kills the command's process group (SIGKILL) after
 *              this long; 0 or negative: no limit
 * @ret: the result (exit status or signal, stdout, stderr); free it with
 *       uml_exec_unref()
 *
 * Runs a command in the booted guest and waits for it.  If the guest is
 * still booting, waits for its agent first (the wait counts against the
 * timeout's grace period below).  Output may hold any bytes; all of it is
 * kept in memory.  A command that ran and failed, was killed or timed out
 * is a success of this call: look at the result.  If the agent does not
 * answer within @timeout_ms plus 30 s, the call gives up with -ETIMEDOUT
 * and the channel is unusable afterwards (-EIO).
 *
 * Returns: 0; -ENOENT (or another errno from the guest's execve(), e.g.
 * -EACCES) if the command could not be started; -ENOTCONN if the instance
 * has no exec channel, was not booted or has ended; -ECONNRESET if the
 * guest ended while the command ran; -EBUSY when called from the event
 * callback during another request; -ETIMEDOUT; -EIO if the channel broke
 * earlier; -E2BIG past 256 MiB; -EINVAL for an empty @argv.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_exec(struct uml_instance *inst, const char *const *argv,
				 const void *stdin_data, size_t stdin_len, int timeout_ms,
				 struct uml_exec **ret);

/** uml_exec_ref: Returns: @exec. Since: 0.1 */
UML_EXPORT struct uml_exec *uml_exec_ref(struct uml_exec *exec);
/** uml_exec_unref: Returns: NULL. Since: 0.1 */
UML_EXPORT struct uml_exec *uml_exec_unref(struct uml_exec *exec);

/**
 * uml_exec_get_status:
 * Returns: the command's exit status (0-255), or -1 if a signal killed it
 * (see uml_exec_get_signal()).
 * Since: 0.1
 */
UML_EXPORT int uml_exec_get_status(struct uml_exec *exec);

/**
 * uml_exec_get_signal:
 * Returns: the signal that killed the command (SIGKILL after a timeout),
 * or 0 if it exited.
 * Since: 0.1
 */
UML_EXPORT int uml_exec_get_signal(struct uml_exec *exec);

/**
 * uml_exec_get_timed_out:
 * Returns: 1 if the command ran past its timeout and was killed, else 0.
 * Since: 0.1
 */
UML_EXPORT int uml_exec_get_timed_out(struct uml_exec *exec);

/**
 * uml_exec_get_stdout:
 * @len: if not NULL, receives the length
 * Returns: everything the command wrote to stdout, byte for byte (with a
 * NUL after it, not counted), owned by @exec.
 * Since: 0.1
 */
UML_EXPORT const char *uml_exec_get_stdout(struct uml_exec *exec, size_t *len);

/**
 * uml_exec_get_stderr:
 * @len: if not NULL, receives the length
 * Returns: everything the command wrote to stderr, as uml_exec_get_stdout().
 * Since: 0.1
 */
UML_EXPORT const char *uml_exec_get_stderr(struct uml_exec *exec, size_t *len);

/**
 * uml_instance_copy_in:
 * @host_path: a regular host file, at most 256 MiB
 * @guest_path: absolute path of the file in the guest; created or
 *              replaced, with the host file's permission bits
 *
 * Copies a file into the running guest through the exec channel.
 *
 * Returns: 0; -ENOENT, -EISDIR or -EINVAL (not a regular file) for
 * @host_path; -EFBIG past 256 MiB; errors from the guest as negative
 * errno (-ENOENT for a missing directory, -EROFS, -ENOSPC ...); the
 * channel errors of uml_instance_exec().
 * Since: 0.1
 */
UML_EXPORT int uml_instance_copy_in(struct uml_instance *inst, const char *host_path,
				    const char *guest_path);

/**
 * uml_instance_copy_out:
 * @guest_path: absolute path of a regular file in the guest
 * @host_path: where to write it on the host (created or truncated, with
 *             the guest file's permission bits when created)
 *
 * Copies a file out of the running guest through the exec channel.
 *
 * Returns: 0; errors from the guest as negative errno (-ENOENT, -EISDIR,
 * -EINVAL for a file that is not regular); host errors creating or writing
 * @host_path; the channel errors of uml_instance_exec().
 * Since: 0.1
 */
UML_EXPORT int uml_instance_copy_out(struct uml_instance *inst, const char *guest_path,
				     const char *host_path);

#ifdef __cplusplus
}
#endif

#endif /* LIBUML_H */

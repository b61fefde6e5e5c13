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
 * enum uml_sandbox_mode - where a guest's kernel process runs.
 * @UML_SANDBOX_AUTO: in a sandbox where the host allows it (the default):
 *     new user, mount, pid, ipc and network namespaces, no capabilities,
 *     no_new_privs, and a view of only the files the guest was given (its
 *     kernel and what that loads, its disks and backing files, its hostfs
 *     shares, its runtime files); as root, under the uid nobody where those
 *     files allow it.  Where the host forbids user namespaces the guest runs
 *     unsandboxed and the reason is logged (LOG_WARNING).  The environment
 *     variable UML_SANDBOX=off|on|require sets the context's default.
 * @UML_SANDBOX_OFF: never (the kernel process sees what the caller sees)
 * @UML_SANDBOX_REQUIRE: always; booting fails with -EPERM where the host
 *     does not allow it
 *
 * docs/security.md says what each mode guarantees.  Since: 0.2
 */
enum uml_sandbox_mode {
	UML_SANDBOX_AUTO = 0,
	UML_SANDBOX_OFF = 1,
	UML_SANDBOX_REQUIRE = 2,
};

/**
 * uml_ctx_set_sandbox:
 * Chooses where guests of @ctx booted afterwards run, unless an instance
 * chose for itself (uml_instance_set_sandbox()).
 * Returns: 0, or -EINVAL for an unknown mode.
 * Since: 0.2
 */
UML_EXPORT int uml_ctx_set_sandbox(struct uml_ctx *ctx, enum uml_sandbox_mode mode);

/**
 * uml_ctx_get_sandbox:
 * Returns: the context's sandbox mode (UML_SANDBOX_AUTO for NULL).
 * Since: 0.2
 */
UML_EXPORT enum uml_sandbox_mode uml_ctx_get_sandbox(struct uml_ctx *ctx);

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
/* Kernel builds                                                       */
/* ------------------------------------------------------------------ */

struct uml_kernel_build;

/**
 * enum uml_kernel_build_flags - flags for uml_kernel_build_set_flags().
 * @UML_KERNEL_BUILD_ALLOW_DROPPED: build even when requested options are
 *     not set in the final configuration (they are still listed by
 *     uml_kernel_build_get_dropped_options() and logged as a warning)
 * @UML_KERNEL_BUILD_FAIL_ON_CONFLICT: fail when two fragments or options
 *     set one symbol to different values (by default the later one wins
 *     and the conflict is logged and listed by uml_kernel_build_get_conflicts())
 * @UML_KERNEL_BUILD_CONFIGURE_ONLY: uml_kernel_build_run() stops once the
 *     .config is written and checked, without make (Since: 0.2)
 */
enum uml_kernel_build_flags {
	UML_KERNEL_BUILD_ALLOW_DROPPED = 1u << 0,
	UML_KERNEL_BUILD_FAIL_ON_CONFLICT = 1u << 1,
	UML_KERNEL_BUILD_CONFIGURE_ONLY = 1u << 2,
};

/**
 * uml_kernel_build_new:
 * @ret: the new build description
 *
 * Describes a build of a UML kernel from source: set the source with
 * uml_kernel_build_set_source(), optionally a preset, fragments, options,
 * the build dir and jobs, then call uml_kernel_build_run().  The preset
 * starts as "fast".
 *
 * Returns: 0, -EINVAL for a NULL argument, -ENOMEM.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_build_new(struct uml_ctx *ctx, struct uml_kernel_build **ret);

/** uml_kernel_build_ref: Returns: @build. Since: 0.1 */
UML_EXPORT struct uml_kernel_build *uml_kernel_build_ref(struct uml_kernel_build *build);
/** uml_kernel_build_unref: Returns: NULL. Since: 0.1 */
UML_EXPORT struct uml_kernel_build *uml_kernel_build_unref(struct uml_kernel_build *build);

/**
 * uml_kernel_build_set_source:
 * @path: an unpacked Linux source tree (with arch/um), or a tarball of one
 *        (.tar, .tar.xz, .tar.gz, .tar.bz2, .tar.zst; e.g. Debian's
 *        /usr/src/linux-source-6.12.tar.xz)
 *
 * A tarball is unpacked once into the cache dir (see
 * uml_kernel_build_set_cache_dir()), keyed by its path, size and mtime;
 * builds of any configuration share that tree.  A source tree must not be
 * configured in place (no .config): builds are always out of tree.
 * Nothing is checked until uml_kernel_build_run().
 *
 * Returns: 0, -EINVAL for a NULL or empty @path.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_build_set_source(struct uml_kernel_build *build, const char *path);

/**
 * uml_kernel_build_set_build_dir:
 * @dir: the out-of-tree build directory (make O=), created if missing
 *
 * Without one, the build goes to CACHE/builds/PRESET-HASH, where HASH
 * covers the source path, the preset, the fragments and the options.
 * One build dir holds one configuration; a build dir used by a running
 * build is waited for (a lock file).
 *
 * Returns: 0, -EINVAL for a NULL or empty @dir.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_build_set_build_dir(struct uml_kernel_build *build, const char *dir);

/**
 * uml_kernel_build_set_cache_dir:
 * @dir: where tarballs are unpacked and default build dirs live
 *
 * Defaults to $XDG_CACHE_HOME/libuml, else ~/.cache/libuml.
 *
 * Returns: 0, -EINVAL for a NULL or empty @dir.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_build_set_cache_dir(struct uml_kernel_build *build, const char *dir);

/**
 * uml_kernel_build_set_jobs:
 * @jobs: parallel make jobs (make -j); 0 (the default) for the number of
 *        online CPUs
 *
 * Returns: 0, -ERANGE above 1024.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_build_set_jobs(struct uml_kernel_build *build, unsigned jobs);

/**
 * uml_kernel_build_set_preset:
 * @name: "defconfig" (the kernel's UML defconfig), "tinyconfig" (the
 *        kernel's smallest config) or "fast" (the default: tinyconfig plus
 *        libuml's shipped fragment with everything libuml uses - ubd with
 *        COW, ext2/3/4, hostfs, tmpfs, devtmpfs, mconsole, the console
 *        channels, UML networking, IPv4 - and little else, for fast boots;
 *        see uml_kernel_build_get_preset_text()), or "none" (since 0.2: the
 *        .config starts empty and holds only the fragments and options, and
 *        every other option takes its Kconfig default, as kunit.py
 *        configures kernels)
 *
 * On x86-64 hosts every preset gets CONFIG_64BIT=y (tinyconfig would pick
 * a 32-bit kernel), and every preset gets CONFIG_STATIC_LINK off, so host
 * compatibility fixes apply to the kernel; fragments may override both.
 *
 * Returns: 0, -EINVAL for an unknown preset (the message lists the known
 * ones).
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_build_set_preset(struct uml_kernel_build *build, const char *name);

/**
 * uml_kernel_build_get_preset_text:
 * @name: a shipped preset ("fast")
 *
 * Returns: the preset's config fragment (applied on top of tinyconfig), a
 * static string; NULL for an unknown name and for "defconfig" and
 * "tinyconfig", which come from the kernel source.
 * Since: 0.1
 */
UML_EXPORT const char *uml_kernel_build_get_preset_text(const char *name);

/**
 * uml_kernel_build_add_fragment_file:
 * @path: a config fragment: lines "CONFIG_NAME=VALUE" and
 *        "# CONFIG_NAME is not set", blank lines and other comments
 *
 * Reads the fragment now.  Fragments and options are applied in the order
 * they were added, after the preset; a later value for a symbol replaces an
 * earlier one (see UML_KERNEL_BUILD_FAIL_ON_CONFLICT).
 *
 * Returns: 0; -ENOENT (or another errno of open/read) if @path cannot be
 * read; -EINVAL for a line that is neither (the message names file and
 * line), in which case nothing of the file is added.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_build_add_fragment_file(struct uml_kernel_build *build,
						  const char *path);

/**
 * uml_kernel_build_add_option:
 * @option: one line as in a fragment, e.g. "CONFIG_KUNIT=y" or
 *          "# CONFIG_IPV6 is not set" ("CONFIG_IPV6=n" works too)
 *
 * Returns: 0, -EINVAL for a malformed option.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_build_add_option(struct uml_kernel_build *build, const char *option);

/**
 * uml_kernel_build_set_flags:
 * @flags: enum uml_kernel_build_flags
 * Returns: 0, -EINVAL for unknown bits.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_build_set_flags(struct uml_kernel_build *build, unsigned flags);

/**
 * uml_kernel_build_run:
 * @ret: if not NULL, receives the built kernel
 *
 * Builds the kernel: unpacks a tarball source (once), configures the
 * build dir (`make ARCH=um defconfig` or `tinyconfig`, the preset's and
 * the caller's options merged in, `make olddefconfig`), checks that every
 * requested option is set in the final .config, and runs make.  Reports
 * progress through the context: "unpack" and "configure" as pulses, then
 * "build" with kbuild steps done of an estimated total; a progress
 * callback returning non-zero stops the build (the whole make process
 * group is killed).  Output of every make run goes to
 * uml_kernel_build_get_log_path().
 *
 * A build whose source and resulting configuration match the last
 * successful build in that build dir runs no make at all (see
 * uml_kernel_build_was_up_to_date()); tarball sources are identified by
 * path, size and mtime, source trees by a scan of their files' mtimes.
 *
 * Returns: 0; -EINVAL with no source set, or when conflicts were found and
 * UML_KERNEL_BUILD_FAIL_ON_CONFLICT is set; -ENOENT if the source does not
 * exist or is not a Linux source tree (the message names the path);
 * -EMEDIUMTYPE if a tarball holds no Linux source tree; -EBUSY if the source
 * tree is configured in place; -ENOPKG if host tools are missing (the
 * message names them and their Debian packages: make, gcc, binutils, flex,
 * bison, bc; tar and the decompressor for a tarball; libelf-dev and
 * dwarves for BTF debug info, libssl-dev for signed modules); -ENOTSUP if requested
 * options were dropped by the kernel's config (unknown symbols or unmet
 * dependencies; see uml_kernel_build_get_dropped_options()) and
 * UML_KERNEL_BUILD_ALLOW_DROPPED is not set; -EIO if make or tar failed
 * (the message quotes the end of the log); -ECANCELED if the progress
 * callback cancelled; errors of uml_kernel_new_from_path() for the result.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_build_run(struct uml_kernel_build *build, struct uml_kernel **ret);

/**
 * uml_kernel_build_get_source_tree:
 * @ret: the path of the source tree, owned by @build until the next call
 *       or the last unref
 *
 * Resolves the source: a tree is returned as it is; a tarball is unpacked
 * into the cache first (once, as uml_kernel_build_run() does), so callers
 * can read files the kernel ships (config fragments, kunit.py's configs)
 * before a build.
 *
 * Returns: 0; the source errors of uml_kernel_build_run() (-EINVAL with no
 * source, -ENOENT, -EMEDIUMTYPE, -ENOPKG, -EIO).
 * Since: 0.2
 */
UML_EXPORT int uml_kernel_build_get_source_tree(struct uml_kernel_build *build, const char **ret);

/**
 * uml_kernel_build_get_build_dir:
 * Returns: the build dir of the last run (also a failed one), owned by
 * @build, or NULL before a run got that far.
 * Since: 0.1
 */
UML_EXPORT const char *uml_kernel_build_get_build_dir(struct uml_kernel_build *build);

/**
 * uml_kernel_build_get_kernel_path:
 * Returns: the path of the kernel binary the last run built or would
 * build (BUILD_DIR/linux), owned by @build, or NULL before a run.
 * Since: 0.1
 */
UML_EXPORT const char *uml_kernel_build_get_kernel_path(struct uml_kernel_build *build);

/**
 * uml_kernel_build_get_log_path:
 * Returns: the build log of the last run (BUILD_DIR/libuml-build.log),
 * owned by @build, or NULL before a run got that far.
 * Since: 0.1
 */
UML_EXPORT const char *uml_kernel_build_get_log_path(struct uml_kernel_build *build);

/**
 * uml_kernel_build_get_dropped_options:
 * Returns: the requested options the last run found not set as asked in
 * the final configuration, as space-separated names ("CONFIG_FOO
 * CONFIG_BAR"), owned by @build; NULL if there were none.  The error
 * message says for each what was asked and what the kernel did.
 * Since: 0.1
 */
UML_EXPORT const char *uml_kernel_build_get_dropped_options(struct uml_kernel_build *build);

/**
 * uml_kernel_build_get_conflicts:
 * Returns: a description of the conflicting fragments and options of the
 * last run ("CONFIG_X=n (b.config:3) conflicts with CONFIG_X=y
 * (a.config:1)", joined by "; "), owned by @build; NULL if none.
 * Since: 0.1
 */
UML_EXPORT const char *uml_kernel_build_get_conflicts(struct uml_kernel_build *build);

/**
 * uml_kernel_build_was_up_to_date:
 * Returns: 1 if the last successful run found the kernel up to date and
 * ran no make, 0 otherwise.
 * Since: 0.1
 */
UML_EXPORT int uml_kernel_build_was_up_to_date(struct uml_kernel_build *build);

/**
 * uml_kernel_build_last_error:
 * Returns: the message of the last failure on @build, or NULL.
 * Since: 0.1
 */
UML_EXPORT const char *uml_kernel_build_last_error(struct uml_kernel_build *build);

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
 * regular files (holes kept), directories, symlinks, hard links, device
 * nodes, FIFOs and sockets with their modes, owners and timestamps (with
 * nanoseconds).  The features and geometry are mke2fs's defaults for the
 * size (1 KiB blocks below 512 MiB, 4 KiB from there; ext4 with extents,
 * flex_bg, 64bit and metadata_csum), with more inodes when the tree needs
 * them, and a lost+found (the tree's own, if it has one).  The image is
 * built in a temporary file next to @image and renamed over it only when
 * complete, so a failure leaves no half-made image behind and an existing
 * image untouched.  Reports progress ("populate", entries done/total)
 * through the context.
 *
 * Returns: 0; -EEXIST if the image exists and no OVERWRITE flag was given;
 * -EISDIR if @image is a directory; -ENOENT/-ENOTDIR for a bad @dir;
 * -ENOSPC if the tree does not fit in the image size (blocks or inodes);
 * -ECANCELED when the progress callback cancelled; -EINVAL for unknown
 * @flags or a lost+found in the tree that is not a directory; -EMLINK for
 * more links than ext2/3 can count; -ENAMETOOLONG for a symlink target
 * longer than a block; the errno of reading the tree (-EACCES ...).
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
 * Creates a minimal guest: busybox with its applet links, an /init (also
 * reached as /sbin/init, where the kernel looks) that mounts /proc, /sys
 * and /dev, remounts / read-write unless it is already (instances boot
 * this rootfs with "rw"), sets the hostname, prints
 * UML_BUSYBOX_READY_MARKER on the console and keeps a shell there,
 * device nodes for the consoles, serial lines and /dev/ubda../dev/ubdd,
 * an fstab with /dev/ubda as root, passwd and group with root.  Everything
 * is owned by root whoever runs this.  Instances booting this rootfs wait
 * for the marker unless given another one.
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
/* Root filesystems: files in and out                                  */
/* ------------------------------------------------------------------ */

/*
 * These work on an existing ext2/3/4 image (not a COW overlay) through
 * libext2fs, without mounting it.  Guest paths are absolute; symlinks in
 * them are followed inside the image, except in the last component where
 * a call says otherwise.  The image must not be in use by a running guest.
 */

/**
 * enum uml_rootfs_copy_flags - flags for uml_rootfs_copy_in().
 * @UML_ROOTFS_COPY_OVERWRITE: replace files, symlinks and special files
 *     that are in the way (by default they fail the copy with -EEXIST)
 */
enum uml_rootfs_copy_flags {
	UML_ROOTFS_COPY_OVERWRITE = 1u << 0,
};

/**
 * uml_rootfs_copy_in:
 * @host_src: a host file, symlink, special file or directory tree
 * @guest_dst: the path the copy gets in the image; its parent must exist.
 *     A directory copied onto an existing directory (also "/") is merged
 *     into it; existing directories keep their own attributes.
 * @flags: enum uml_rootfs_copy_flags
 *
 * Copies into the image with modes, owners, timestamps, hard links inside
 * the tree and holes kept.  Space and inodes are checked before anything
 * is written; should the image still run out, what was copied so far
 * stays and the call fails with -ENOSPC.  Reports progress ("populate")
 * through the context.
 *
 * Returns: 0; -EINVAL for a relative @guest_dst or unknown @flags;
 * -ENOENT if @host_src or the parent of @guest_dst is missing; -ENOTDIR if
 * that parent is not a directory; -EEXIST if a non-directory is in the way
 * and no OVERWRITE flag was given; -EISDIR if a non-directory would replace
 * a directory; -ENOSPC; -ECANCELED; -EMEDIUMTYPE if the image holds no
 * ext2/3/4 filesystem; -EBUSY if the filesystem is mounted or was not
 * cleanly unmounted (its journal needs replaying: run e2fsck -fy or boot
 * it once); -EOPNOTSUPP for a COW overlay.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_copy_in(struct uml_rootfs *rootfs, const char *host_src,
				  const char *guest_dst, unsigned flags);

/**
 * uml_rootfs_read_file:
 * @guest_path: a regular file in the image (a symlink to one is followed)
 * @data: receives the contents, NUL-terminated; the caller free()s it
 * @len: receives the length without the NUL, or NULL
 *
 * Returns: 0; -ENOENT; -EISDIR for a directory; -EINVAL for another
 * non-regular file or a relative path; -EFBIG past 1 GiB; -EMEDIUMTYPE;
 * -EOPNOTSUPP for a COW overlay.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_read_file(struct uml_rootfs *rootfs, const char *guest_path,
				    char **data, size_t *len);

/**
 * struct uml_rootfs_entry - one entry of uml_rootfs_list_dir().
 * @name: the entry's name
 * @mode: type and permission bits, as st_mode
 * @uid: owner
 * @gid: group
 * @size: size in bytes
 * @mtime: modification time, seconds since the epoch
 * @mtime_nsec: nanoseconds of @mtime
 * @nlink: link count
 */
struct uml_rootfs_entry {
	const char *name;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	uint64_t size;
	int64_t mtime;
	uint32_t mtime_nsec;
	unsigned nlink;
};

/**
 * uml_rootfs_list_dir:
 * @guest_path: a directory in the image (a symlink to one is followed)
 * @ret: receives the entries sorted by name, without "." and "..", owned
 *       by @rootfs until the next uml_rootfs_list_dir() or the last unref
 * @n: receives the number of entries
 *
 * Returns: 0; -ENOENT; -ENOTDIR; -EINVAL for a relative path;
 * -EMEDIUMTYPE; -EOPNOTSUPP for a COW overlay.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_list_dir(struct uml_rootfs *rootfs, const char *guest_path,
				   const struct uml_rootfs_entry **ret, size_t *n);

/**
 * uml_rootfs_remove:
 * @guest_path: what to remove; a directory goes with everything below it;
 *     a symlink is removed itself, not what it points to
 *
 * Frees the blocks and inodes that are no longer linked (hard links
 * elsewhere keep theirs).
 *
 * Returns: 0; -ENOENT; -EBUSY for "/" and as for uml_rootfs_copy_in();
 * -EINVAL for a relative path; -EMEDIUMTYPE; -EOPNOTSUPP for a COW overlay.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_remove(struct uml_rootfs *rootfs, const char *guest_path);

/**
 * uml_rootfs_resize:
 * @new_size: the new image size in bytes, a multiple of 1 KiB, not
 *            smaller than the filesystem
 *
 * Grows the image file and its filesystem offline (with e2fsprogs'
 * resize2fs).  If that fails the file gets its old size back.  Images made
 * afterwards by this object also get @new_size.
 *
 * Returns: 0 (also when the size is already @new_size); -ERANGE to shrink
 * or for an invalid size; -ENOENT; -EMEDIUMTYPE; -EBUSY as for
 * uml_rootfs_copy_in(); -ENOEXEC if resize2fs is missing; -EIO if it failed
 * (the message holds its output); -EOPNOTSUPP for a COW overlay.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_resize(struct uml_rootfs *rootfs, uint64_t new_size);

/* ------------------------------------------------------------------ */
/* COW overlays                                                        */
/* ------------------------------------------------------------------ */

/*
 * A COW (copy-on-write) overlay lets many guests share one read-only
 * backing image: each guest writes only to its own overlay file.  libuml
 * reads and writes UML's own format (version 3, as `ubd0=COW,BACKING` and
 * uml_mkcow create it), so overlays made here boot with any UML kernel and
 * merge with uml_moo, and overlays made by those open here.  An overlay is
 * a struct uml_rootfs whose uml_rootfs_get_backing() is not NULL; pass it
 * to uml_instance_set_rootfs() like any image.
 *
 * UML refuses an overlay whose backing file changed size or modification
 * time since the overlay was made; uml_rootfs_cow_check() reports that
 * before a boot.  Never modify a backing image that has overlays: merge
 * them into new images instead.
 */

/**
 * uml_rootfs_new_cow:
 * @backing: the image to share; its file must exist.  It is never written
 *           to, and it may not itself be an overlay (UML cannot stack them)
 * @cow_path: the overlay file to create
 * @flags: enum uml_rootfs_create_flags (UML_ROOTFS_CREATE_OVERWRITE
 *         replaces an existing @cow_path)
 * @ret: the new overlay, with the context of @backing
 *
 * Creates an overlay exactly as UML does: a version 3 header naming the
 * absolute path of @backing (directories resolved as UML resolves them)
 * with its size and modification time, sector size 512, alignment 4096,
 * an empty bitmap, and a data area as large as @backing.  Bitmap and data
 * are left as holes, so a new overlay takes a few KiB of disk.  The file
 * (mode 0644 less the umask) is built under a temporary name and renamed
 * into place when complete.  The overlay's size is that of @backing; it
 * inherits the ready marker of @backing.  On failure the message is kept
 * on @backing (uml_rootfs_last_error()).
 *
 * Returns: 0; -EEXIST if @cow_path exists and no OVERWRITE flag was
 * given; -ENOENT if the backing file (or the directory of @cow_path) does
 * not exist; -EISDIR if one is a directory; -EINVAL for bad arguments, when
 * @backing is an overlay, @cow_path names the backing file itself, or
 * either absolute path holds ',' or ':' (UML's ubd= option splits paths
 * there) or white space; -EMEDIUMTYPE if the backing file is a COW file or neither a regular file
 * nor a block device; -ENODATA if it is empty; -EFBIG if it is larger than
 * an overlay can cover (about 8 TiB); -EOVERFLOW if its modification time
 * does not fit the header's 32 bits (UML would refuse the overlay);
 * -ENAMETOOLONG if its absolute path exceeds 4095 bytes.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_new_cow(struct uml_rootfs *backing, const char *cow_path,
				  unsigned flags, struct uml_rootfs **ret);

/**
 * uml_rootfs_open_cow:
 * @cow_path: an existing overlay (made by libuml, uml_mkcow or the kernel)
 * @ret: the overlay
 *
 * Reads and checks the overlay's header; the backing path comes from it.
 * Versions 2 and 3 are read, including version 3 files in the old 64-bit
 * layout, as the kernel reads them.  Every field is checked before use,
 * so hostile files are refused, never trusted.  The backing file is not
 * looked at: use uml_rootfs_cow_check() for that.
 *
 * Returns: 0; -EINVAL for bad arguments; -ENOENT and other open() errors;
 * -EISDIR for a directory; -EMEDIUMTYPE if @cow_path is not a regular file
 * or not a COW file at all (wrong magic); -EPROTONOSUPPORT for a version
 * other than 2 or 3 (including little-endian version 1 files) or an unknown
 * cow_format; -ENODATA if the file is truncated (shorter than its header,
 * or than the bitmap and data area its header promises); -EBADMSG for a
 * header field out of range (sector size other than 512, alignment not a
 * power of two from 512 to 1 MiB, size 0 or beyond about 8 TiB, a backing
 * path that is not absolute or holds control characters); -ENAMETOOLONG
 * if the backing path is not NUL-terminated within its 4096 bytes.  The
 * message names the file and the field.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_open_cow(struct uml_ctx *ctx, const char *cow_path,
				   struct uml_rootfs **ret);

/**
 * uml_rootfs_get_backing:
 * Returns: the absolute path of the backing file of an overlay, owned by
 * @rootfs; NULL for an image that is not an overlay.
 * Since: 0.1
 */
UML_EXPORT const char *uml_rootfs_get_backing(struct uml_rootfs *rootfs);

/**
 * uml_rootfs_cow_check:
 * @cow: an overlay
 *
 * Re-reads the overlay's header and compares the backing file with it the
 * way UML does at boot: its size must equal the recorded size and its
 * modification time (all of st_mtime) the recorded 32-bit mtime.  Call it
 * before a boot to get a clear error instead of a guest that cannot mount
 * its root.
 *
 * Returns: 0 if UML would accept the pair; -ESTALE if the backing file
 * changed (the message names the file and both sizes or both mtimes);
 * -ENOENT (or another open() error) if the backing file is gone;
 * -EMEDIUMTYPE if it is neither a regular file nor a block device; the
 * errors of uml_rootfs_open_cow() if the overlay's header is bad; -EINVAL
 * if @cow is not an overlay.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_cow_check(struct uml_rootfs *cow);

/**
 * uml_rootfs_cow_get_written:
 * @cow: an overlay
 * @ret_bytes: bytes of the device the overlay holds (written by guests)
 *
 * Counts the sectors the overlay's bitmap marks as written.
 *
 * Returns: 0; -EINVAL if @cow is not an overlay; the header errors of
 * uml_rootfs_open_cow().
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_cow_get_written(struct uml_rootfs *cow, uint64_t *ret_bytes);

/**
 * uml_rootfs_cow_merge:
 * @cow: an overlay
 * @out_image: the standalone image to create
 * @flags: enum uml_rootfs_create_flags (UML_ROOTFS_CREATE_OVERWRITE
 *         replaces an existing @out_image)
 *
 * Writes a new image holding the backing file with the overlay's written
 * sectors applied, as `uml_moo COW NEW` does; the results are byte for
 * byte the same.  Neither the backing file nor the overlay is modified.
 * Holes of the backing file stay holes.  The image is written under a
 * temporary name next to @out_image, synced and renamed into place, so a
 * failure leaves nothing behind.  Reports progress ("copy" in bytes, then
 * "merge" in sectors) through the context.  The overlay must not be in use
 * by a running guest (UML holds a write lock on it).
 *
 * Returns: 0; -ESTALE if the backing file changed since the overlay was
 * made (merging would produce garbage); -EBUSY if a guest holds the
 * overlay; -EEXIST if @out_image exists and no OVERWRITE flag was given;
 * -EINVAL for bad arguments, if @cow is not an overlay or @out_image is
 * the overlay or its backing file; -EISDIR if @out_image is a directory;
 * -ECANCELED when the progress callback cancelled; the errors of
 * uml_rootfs_cow_check() for a missing or odd backing file; -ENOSPC and
 * other I/O errors; the header errors of uml_rootfs_open_cow().
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_cow_merge(struct uml_rootfs *cow, const char *out_image,
				    unsigned flags);

/* ------------------------------------------------------------------ */
/* Root filesystems: Debian guests (debootstrap)                       */
/* ------------------------------------------------------------------ */

/*
 * uml_rootfs_create_debootstrap() runs Debian's debootstrap into a
 * staging directory next to the image and turns the tree into the image
 * with libext2fs.  Per recipe (suite, architecture, variant, extra packages,
 * mirror and filesystem type) the cache keeps the packages debootstrap
 * downloaded (its tarball) and the installed image before configuration,
 * so a second build of the same recipe is a copy of that image plus the
 * configuration: no network, no debootstrap.  debootstrap needs root.
 */

/**
 * enum uml_rootfs_debootstrap_flags - flags for
 * uml_rootfs_create_debootstrap(), besides enum uml_rootfs_create_flags.
 * @UML_ROOTFS_DEBOOTSTRAP_REFRESH: download and install the packages again
 *     even when the cache has them (the cache entries are replaced)
 * @UML_ROOTFS_DEBOOTSTRAP_NO_CONFIGURE: leave the image as debootstrap
 *     made it; by default uml_rootfs_configure() runs on it
 */
enum uml_rootfs_debootstrap_flags {
	UML_ROOTFS_DEBOOTSTRAP_REFRESH = 1u << 8,
	UML_ROOTFS_DEBOOTSTRAP_NO_CONFIGURE = 1u << 9,
};

/**
 * uml_rootfs_set_mirror:
 * @url: an http:// or https:// Debian mirror, e.g.
 *       "http://deb.debian.org/debian", or NULL for the default: the first
 *       mirror apt on this machine uses for Debian (from
 *       /etc/apt/sources.list.d/\*.sources and /etc/apt/sources.list), else
 *       http://deb.debian.org/debian
 * Returns: 0; -EINVAL for another scheme, white space, control characters
 * or a leading '-'.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_set_mirror(struct uml_rootfs *rootfs, const char *url);

/**
 * uml_rootfs_get_mirror:
 * Returns: the mirror uml_rootfs_create_debootstrap() uses: the one set,
 * else the default found as uml_rootfs_set_mirror() describes; owned by
 * @rootfs.  NULL only for a NULL @rootfs or without memory.
 * Since: 0.1
 */
UML_EXPORT const char *uml_rootfs_get_mirror(struct uml_rootfs *rootfs);

/**
 * uml_rootfs_set_arch:
 * @arch: a Debian architecture ("amd64", "i386"), or NULL for the host's
 *        (dpkg --print-architecture)
 * Returns: 0, -EINVAL for a name other than [a-z0-9-]+.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_set_arch(struct uml_rootfs *rootfs, const char *arch);

/**
 * uml_rootfs_set_variant:
 * @variant: "minbase" (essential packages and apt), "buildd", or NULL for
 *           debootstrap's default (priority required and important)
 * Returns: 0, -EINVAL for another variant.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_set_variant(struct uml_rootfs *rootfs, const char *variant);

/**
 * uml_rootfs_add_package:
 * @name: a Debian package name to install as well (debootstrap
 *        --include), e.g. "systemd-sysv"; adding a name twice adds it once
 * Returns: 0; -EINVAL for a name that is not a valid Debian package name
 * (lower case letters, digits, '+', '-', '.'; at least two characters,
 * starting with a letter or digit); -E2BIG past 1024 packages.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_add_package(struct uml_rootfs *rootfs, const char *name);

/**
 * uml_rootfs_set_cache_dir:
 * @dir: where downloaded packages are kept, or NULL for the default:
 *       $XDG_CACHE_HOME/libuml, else ~/.cache/libuml (the tarballs go to
 *       DIR/debootstrap/)
 * Returns: 0, -EINVAL for an empty @dir.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_set_cache_dir(struct uml_rootfs *rootfs, const char *dir);

/**
 * uml_rootfs_create_debootstrap:
 * @suite: a Debian suite or code name ("bookworm", "stable", "sid")
 * @flags: enum uml_rootfs_create_flags and enum uml_rootfs_debootstrap_flags
 *
 * Builds a Debian guest.  When the cache holds the installed image of this
 * recipe (and no size smaller than it was set), the image is a sparse copy
 * of it, grown to the size set.  Otherwise: takes the packages from the
 * cache or downloads them into it (debootstrap --make-tarball), installs
 * them into a staging directory next to the image (debootstrap
 * --unpack-tarball), creates the image from it as
 * uml_rootfs_create_from_dir() does, keeps a copy in the cache and removes
 * the staging directory.  Then, unless UML_ROOTFS_DEBOOTSTRAP_NO_CONFIGURE
 * is given, runs uml_rootfs_configure().  The image gets the size set with
 * uml_rootfs_set_size(); without one, the tree's size plus 512 MiB of free
 * space, at least 1 GiB (the file is sparse).  Images copied from the
 * cache share their filesystem UUID.  Reports progress through the
 * context: "copy" (a pulse) for a cached image; else "download" (packages
 * retrieved, total unknown), then "extract", "unpack" and "configure"
 * (packages done of all), then "populate" (image entries).  A progress
 * callback returning non-zero stops debootstrap (its whole process group
 * is killed).  Concurrent builds of one recipe wait for each other (a
 * lock in the cache), so they share one download.
 *
 * Nothing is left behind on failure: no image, no staging directory, no
 * mounts; a failed download leaves no cache entry.
 *
 * Returns: 0; -EINVAL for a bad @suite or unknown @flags; -EEXIST, -EISDIR
 * as uml_rootfs_create_from_dir(); -EPERM when not running as root (the
 * message says why debootstrap needs it); -ENOPKG if debootstrap is not
 * installed; -EIO if debootstrap failed (the message holds its error and
 * the end of its log: an unknown suite or package, an unreachable mirror);
 * -ENOSPC if the disk of the staging directory or the image filled up;
 * -ECANCELED if the progress callback cancelled; the errors of
 * uml_rootfs_configure().
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_create_debootstrap(struct uml_rootfs *rootfs, const char *suite,
					     unsigned flags);

/**
 * uml_rootfs_debootstrap_was_cached:
 * Returns: 1 if the last successful uml_rootfs_create_debootstrap() took
 * its packages or its installed image from the cache (no download), 0
 * otherwise.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_debootstrap_was_cached(struct uml_rootfs *rootfs);

/* ------------------------------------------------------------------ */
/* Root filesystems: guest configuration                               */
/* ------------------------------------------------------------------ */

/*
 * uml_rootfs_configure() applies what a guest needs to boot under UML to
 * an existing ext2/3/4 image (made by libuml or anywhere else, e.g. an old
 * root_fs), through libext2fs without mounting it: an fstab with
 * /dev/ubda as root and /proc, the device nodes the kernel and init need
 * before devtmpfs (/dev/console, /dev/null, /dev/tty0, /dev/ubda ...), a
 * getty on the UML console, and whatever the setters below asked for.
 * Each fixup is written in the guest's own style, after detecting its init
 * system.  Settings not set leave the image's own files alone.
 */

/**
 * enum uml_init_system - the init system of a guest.
 * @UML_INIT_UNKNOWN: none found, or not recognised; as a setting: detect
 * @UML_INIT_SYSTEMD: systemd (getty: console-getty.service; network:
 *     systemd-networkd)
 * @UML_INIT_SYSVINIT: sysvinit (getty: /etc/inittab; network: ifupdown)
 * @UML_INIT_UPSTART: upstart (getty: /etc/init/; network: ifupdown)
 * @UML_INIT_BUSYBOX: busybox init, or the /init of
 *     uml_rootfs_create_busybox() guests (getty: /etc/inittab; network:
 *     busybox ifup with /etc/network/interfaces)
 */
enum uml_init_system {
	UML_INIT_UNKNOWN = 0,
	UML_INIT_SYSTEMD = 1,
	UML_INIT_SYSVINIT = 2,
	UML_INIT_UPSTART = 3,
	UML_INIT_BUSYBOX = 4,
};

/**
 * uml_init_system_to_string:
 * Returns: a static lower-case name ("systemd", "sysvinit", "upstart",
 * "busybox", "unknown"), or NULL for a value out of range.
 * Since: 0.1
 */
UML_EXPORT const char *uml_init_system_to_string(enum uml_init_system init);

/**
 * uml_rootfs_set_hostname:
 * @name: the guest's host name: dot-separated labels of letters, digits
 *        and '-' (not at either end of a label), at most 63 characters
 *        each and 253 in all; NULL leaves the image's name alone
 * Written to /etc/hostname and /etc/hosts by uml_rootfs_configure().
 * Returns: 0, -EINVAL for an invalid name.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_set_hostname(struct uml_rootfs *rootfs, const char *name);

/**
 * uml_rootfs_set_network:
 * @spec: "none" (loopback only), "dhcp" (the first interface by DHCP:
 *        eth0, or vec0 for NAT and links), or
 *        "static:ADDR/PREFIX[,GATEWAY[,DNS]]" with IPv4 addresses, e.g.
 *        "static:10.0.2.15/24,10.0.2.2,10.0.2.3"; NULL leaves the image's
 *        network configuration alone
 * uml_rootfs_configure() writes it in the guest's style: a .network file
 * for systemd-networkd (and enables it), /etc/network/interfaces for
 * ifupdown and busybox; a DNS server goes to /etc/resolv.conf.
 * Returns: 0, -EINVAL for a malformed @spec (the message says which part).
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_set_network(struct uml_rootfs *rootfs, const char *spec);

/**
 * uml_rootfs_set_root_password:
 * @password: the root password, or NULL for none (root logs in without
 *            one); it is stored hashed (yescrypt, or SHA-512 crypt for
 *            busybox guests, whose login knows no yescrypt)
 * Without this call the image's /etc/shadow is left alone.
 * Returns: 0; -EINVAL for a password with control characters.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_set_root_password(struct uml_rootfs *rootfs, const char *password);

/**
 * uml_rootfs_set_autologin:
 * @enable: non-zero: the console getty logs root in without asking
 * Returns: 0.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_set_autologin(struct uml_rootfs *rootfs, int enable);

/**
 * uml_rootfs_set_init:
 * @init: the init system the guest should boot with, or UML_INIT_UNKNOWN
 *        (the default) to keep the one the image has.  A chosen init must
 *        be installed in the image; uml_rootfs_configure() points /sbin/init
 *        at it.
 * Returns: 0, -EINVAL for an unknown value.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_set_init(struct uml_rootfs *rootfs, enum uml_init_system init);

/**
 * uml_rootfs_configure:
 * @flags: 0 (reserved)
 *
 * Applies the fixups described above to the image and logs (LOG_INFO)
 * which init system it found and configured.  Afterwards the ready marker
 * of guests booted from @rootfs is "login:" for systemd, sysvinit and
 * upstart guests and UML_BUSYBOX_READY_MARKER for busybox guests.
 *
 * Returns: 0; -EINVAL for unknown @flags; -ENOENT if the image has no
 * init at all (/sbin/init missing: the kernel would stop with "No working
 * init found"; the message names packages that provide one) or lacks the
 * one chosen with uml_rootfs_set_init(); -EMEDIUMTYPE, -EBUSY,
 * -EOPNOTSUPP as uml_rootfs_copy_in(); -ENOSPC if the image is full;
 * -ENOTSUP if a password cannot be hashed (libcrypt lacks the method).
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_configure(struct uml_rootfs *rootfs, unsigned flags);

/**
 * uml_rootfs_get_init_system:
 * @ret: the init system of the image
 *
 * Looks at the image's /sbin/init (and the files around it) without
 * changing anything.
 *
 * Returns: 0 (*@ret is UML_INIT_UNKNOWN if none was recognised);
 * -EMEDIUMTYPE; -EOPNOTSUPP for a COW overlay; -EINVAL.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_get_init_system(struct uml_rootfs *rootfs, enum uml_init_system *ret);

/* ------------------------------------------------------------------ */
/* Root filesystems: loop mounts (root only)                           */
/* ------------------------------------------------------------------ */

/**
 * enum uml_rootfs_mount_flags - flags for uml_rootfs_mount().
 * @UML_ROOTFS_MOUNT_READONLY: mount read-only
 * @UML_ROOTFS_MOUNT_NOEXEC: nothing on it may be executed (Since: 0.2)
 */
enum uml_rootfs_mount_flags {
	UML_ROOTFS_MOUNT_READONLY = 1u << 0,
	UML_ROOTFS_MOUNT_NOEXEC = 1u << 1,
};

/**
 * uml_rootfs_mount:
 * @mountpoint: an existing empty directory
 * @flags: enum uml_rootfs_mount_flags
 *
 * Mounts the image on a loop device through libmount, for filesystems
 * libext2fs cannot write and for steps that need a live tree (chroot
 * hooks).  The loop device is set up to detach itself when unmounted.
 * Always nosuid and nodev: what a guest wrote (setuid files, device nodes)
 * gives no one on the host more rights.
 * The image must not be in use by a running guest.  An image still mounted
 * when @rootfs is freed is unmounted then.
 *
 * Returns: 0; -EPERM when not running as root; -EBUSY if @rootfs is
 * already mounted; -ENOENT, -ENOTDIR for a bad @mountpoint; -EOPNOTSUPP
 * for a COW overlay; -EIO (with libmount's message) if the mount failed.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_mount(struct uml_rootfs *rootfs, const char *mountpoint,
				unsigned flags);

/**
 * uml_rootfs_get_mountpoint:
 * Returns: where uml_rootfs_mount() mounted @rootfs, owned by @rootfs, or
 * NULL when not mounted.
 * Since: 0.1
 */
UML_EXPORT const char *uml_rootfs_get_mountpoint(struct uml_rootfs *rootfs);

/**
 * uml_rootfs_umount:
 * Unmounts what uml_rootfs_mount() mounted and detaches its loop device;
 * when a process still uses the tree, the mount is detached lazily.
 * Returns: 0; -ENOTCONN if not mounted; -EIO with libmount's message.
 * Since: 0.1
 */
UML_EXPORT int uml_rootfs_umount(struct uml_rootfs *rootfs);

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
 * @UML_EVENT_CONSOLE_OUTPUT: raw console bytes as they arrive, before
 *     line splitting (prompts without a newline, escape sequences); for
 *     terminals attached to the guest.  @text may hold NULs.
 */
enum uml_event_type {
	UML_EVENT_CONSOLE_LINE = 0,
	UML_EVENT_KERNEL_UP = 1,
	UML_EVENT_READY = 2,
	UML_EVENT_NOTIFY = 3,
	UML_EVENT_PANIC = 4,
	UML_EVENT_EXITED = 5,
	UML_EVENT_CONSOLE_OUTPUT = 6,
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
 * Uses @rootfs as ubd0 and boots from it (root=/dev/ubda, plus "rw" for
 * a uml_rootfs_create_busybox() guest or an overlay of one, unless in
 * one-shot mode; an "ro" appended with uml_instance_append_arg() wins).
 * The instance keeps a reference.
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
 * libuml also passes lpj= (the host's delay-loop speed, which skips the
 * kernel's ~90 ms calibration) unless an "lpj=" argument is given here.
 *
 * Returns: 0; -EINVAL for an empty argument, one with white space, a
 * control character or a reserved name; -E2BIG past 4 KiB in all;
 * -EBUSY once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_append_arg(struct uml_instance *inst, const char *arg);

/**
 * uml_instance_set_boot_profile:
 * @enable: 1 (the default) to pass the boot profile, 0 to boot without it
 *
 * The boot profile is a set of kernel arguments that skip boot work no
 * libuml guest needs, each passed only when the kernel's embedded
 * configuration (--showconfig, probed once per #uml_kernel) has the option
 * it concerns: on Debian's 6.1 kernel, initcall_blacklist=raid6_select_algo
 * (the RAID6 algorithm benchmark) and pty.legacy_count=0 (512 BSD pty
 * devices), which take a busybox boot from about 1.3 s to about 0.3 s.
 * What each cut disables and how it was checked is in
 * docs/boot-profile.md; turn the profile off for guests that use md
 * RAID4/5/6, btrfs RAID5/6 or BSD ptys.  A kernel without an embedded
 * configuration boots without the profile.  uml_instance_get_argv() shows
 * what is passed; an argument of the caller's (uml_instance_append_arg())
 * for the same parameter wins.
 *
 * Returns: 0, -EINVAL for a NULL @inst, -EBUSY once booted.
 * Since: 0.2
 */
UML_EXPORT int uml_instance_set_boot_profile(struct uml_instance *inst, int enable);

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
 * uml_instance_set_sandbox:
 * Chooses where this guest's kernel runs (see enum uml_sandbox_mode); by
 * default the context's mode applies.  Before boot only.
 * Returns: 0, -EINVAL for an unknown mode, -EBUSY once booted.
 * Since: 0.2
 */
UML_EXPORT int uml_instance_set_sandbox(struct uml_instance *inst, enum uml_sandbox_mode mode);

/**
 * uml_instance_get_sandboxed:
 * Returns: 1 if the guest's kernel runs (or ran, for its last boot) in a
 * sandbox, 0 if not or never booted.
 * Since: 0.2
 */
UML_EXPORT int uml_instance_get_sandboxed(struct uml_instance *inst);

/**
 * uml_instance_set_run_command:
 * @command: a shell command, or NULL to boot normally
 *
 * One-shot mode: the guest boots with /bin/sh as init, mounts /proc and
 * /sys where the guest has those directories, runs @command, and is halted
 * when it finishes; uml_instance_get_run_status() and
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
 * Returns: 0; -EBUSY if already booted, or if a disk image is in use by
 * another guest or mounted on the host; -ENOENT if the root image is
 * missing; -EISDIR if it is a directory; -EACCES or -EROFS if the guest
 * could not write to it; -ESTALE if the backing file of a COW overlay
 * changed; -EEXIST if a guest with this umid runs in the runtime
 * directory; errors of fork/exec as negative errno.  docs/bad-input.md
 * lists every refused input with its errno and message.
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
/* Management console (mconsole)                                       */
/* ------------------------------------------------------------------ */

/*
 * Every running UML kernel listens on a unix datagram socket,
 * RUNTIME_DIR/UMID/mconsole, for management commands (see the kernel's
 * "help" command).  The calls below send one command and return the
 * kernel's answer.  When the kernel refuses a command (it sets the error
 * flag of its reply) they fail with -EREMOTEIO and the last error is the
 * kernel's own message, e.g. "Not stopped" or "Device is currently open"
 * (or a message naming the command when the kernel sent none).
 *
 * Errors common to all of them: -EINVAL for bad arguments (the message
 * says which); -E2BIG when the command would not fit the 511 bytes the
 * protocol carries; -ENOTCONN (instance calls) when the guest does not
 * run; -ENOENT when no socket exists for the guest; -ECONNREFUSED when
 * the socket exists but nothing listens (a guest that died); -ETIMEDOUT
 * when the answer did not come in time; -EBADMSG for a malformed answer;
 * -EMSGSIZE for an answer past 16 MiB; -ENOMEM.  Returned text is
 * allocated and NUL-terminated; the caller frees it with free().
 */

/**
 * UML_MCONSOLE_TIMEOUT_MS:
 * How long the uml_instance_mconsole*() calls wait for the whole answer.
 */
#define UML_MCONSOLE_TIMEOUT_MS 10000

/**
 * uml_ctx_mconsole:
 * @umid: the umid of a guest running in the context's runtime directory
 *        (any name without '/' other than "." and ".."), or the absolute
 *        path of an mconsole socket
 * @command: the command line, e.g. "version" or "config ubd1=/img"
 * @timeout_ms: how long to wait for the whole answer; negative waits
 *              without limit
 * @reply: the answer text (may hold NULs; always NUL-terminated)
 * @reply_len: if not NULL, receives the answer's length
 *
 * Sends @command to any UML guest, also ones libuml did not start, found
 * by its umid.  Does not need a struct uml_instance.
 *
 * Returns: 0; -EREMOTEIO when the kernel refused the command (the last
 * error of @ctx is its message); -ENAMETOOLONG when the socket path does
 * not fit a unix socket address; the common mconsole errors above.
 * *@reply is untouched on failure.
 * Since: 0.1
 */
UML_EXPORT int uml_ctx_mconsole(struct uml_ctx *ctx, const char *umid, const char *command,
				int timeout_ms, char **reply, size_t *reply_len);

/**
 * uml_instance_mconsole:
 * @command: the command line, e.g. "proc meminfo"
 * @reply: the answer text (may hold NULs; always NUL-terminated)
 * @reply_len: if not NULL, receives the answer's length
 *
 * Sends @command to the running guest and waits up to
 * UML_MCONSOLE_TIMEOUT_MS for the answer.  The typed helpers below check
 * their arguments and are preferred where one fits.
 *
 * Returns: 0; -EREMOTEIO when the kernel refused the command (see
 * uml_instance_last_error() for its message); -EINVAL for an empty
 * command; the common mconsole errors above.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole(struct uml_instance *inst, const char *command,
				     char **reply, size_t *reply_len);

/**
 * uml_instance_mconsole_version:
 * @ret: the kernel's uname line ("Linux (none) 6.1.176 #1 ... x86_64")
 * Returns: 0, or the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_version(struct uml_instance *inst, char **ret);

/**
 * uml_instance_mconsole_help:
 * @ret: the kernel's list of mconsole commands
 * Returns: 0, or the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_help(struct uml_instance *inst, char **ret);

/**
 * uml_instance_mconsole_halt:
 * Asks the kernel to halt at once (no shutdown of guest userspace); the
 * process then exits.  Unlike uml_instance_halt() it does not wait and
 * never escalates to signals.
 * Returns: 0 when the kernel acknowledged, or the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_halt(struct uml_instance *inst);

/**
 * uml_instance_mconsole_reboot:
 * Asks the kernel to restart at once.  UML restarts by executing itself
 * again in the same process, so the pid stays and the guest boots anew.
 * Returns: 0 when the kernel acknowledged, or the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_reboot(struct uml_instance *inst);

/**
 * uml_instance_mconsole_cad:
 * Sends Ctrl-Alt-Del: the kernel restarts, or signals init if the guest
 * turned Ctrl-Alt-Del handling over to it.
 * Returns: 0, or the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_cad(struct uml_instance *inst);

/**
 * uml_instance_mconsole_stop:
 * Freezes the guest: it runs nothing but the mconsole until
 * uml_instance_mconsole_go().
 * Returns: 0; -EREMOTEIO if already stopped; the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_stop(struct uml_instance *inst);

/**
 * uml_instance_mconsole_go:
 * Resumes a guest frozen by uml_instance_mconsole_stop().
 * Returns: 0; -EREMOTEIO if it was not stopped; the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_go(struct uml_instance *inst);

/**
 * uml_instance_mconsole_sysrq:
 * @key: the SysRq letter (a printable character other than space), e.g.
 *       's' (sync), 'm' (memory info), 't' (tasks), 'c' (crash)
 * @output: if not NULL, receives the kernel messages the request printed
 *          (may be empty: newer kernels print them later)
 *
 * 'c' crashes the kernel, which then never answers: the call waits (up to
 * UML_MCONSOLE_TIMEOUT_MS) for the guest to end, which it does with exit
 * reason UML_EXIT_PANIC, and returns 0 with *@output NULL.
 *
 * Returns: 0; -EINVAL for a bad @key; -EREMOTEIO if the kernel lacks
 * SysRq support; the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_sysrq(struct uml_instance *inst, char key, char **output);

/**
 * uml_instance_mconsole_log:
 * @text: one line for the guest's kernel log (priority KERN_WARNING);
 *        libuml ends it with the newline printk needs to emit it
 * Returns: 0; -EINVAL for control characters (newlines included);
 * -E2BIG past 506 bytes; the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_log(struct uml_instance *inst, const char *text);

/**
 * uml_instance_mconsole_proc:
 * @path: a file below the guest's /proc, e.g. "meminfo" or
 *        "sys/kernel/hostname" (a leading "/proc/" is accepted)
 * @data: the file's contents
 * @len: if not NULL, receives their length
 *
 * Reads a /proc file of the guest without any guest userspace; works
 * even before /proc is mounted inside.
 *
 * Returns: 0; -EINVAL for an empty path or one with white space or
 * control characters; -EREMOTEIO if the kernel cannot open or read it;
 * the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_proc(struct uml_instance *inst, const char *path,
					  char **data, size_t *len);

/**
 * uml_instance_mconsole_stack:
 * @pid: a guest pid (> 0)
 * @output: if not NULL, receives what the kernel printed (may be empty:
 *          newer kernels print the trace to the kernel log later)
 * Dumps the kernel stack of guest process @pid to the kernel log.
 * Returns: 0; -EINVAL for @pid <= 0; -EREMOTEIO if no such process; the
 * common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_stack(struct uml_instance *inst, pid_t pid, char **output);

/**
 * uml_instance_mconsole_config:
 * @spec: a device setting with the kernel command line's syntax,
 *        "DEV=VALUE", e.g. "ubd1=/srv/disk.img" or "eth0=tuntap,tap0"
 *
 * Adds or changes a device of the running guest.
 *
 * Returns: 0; -EINVAL if @spec has no '=' before its value, is empty or
 * holds white space or control characters; -EREMOTEIO with the kernel's
 * reason when it refused (unknown device, already configured ...); the
 * common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_config(struct uml_instance *inst, const char *spec);

/**
 * uml_instance_mconsole_config_get:
 * @dev: a device name, e.g. "ubd1" or "con0"
 * @ret: its current configuration (empty when unconfigured)
 * Returns: 0; -EINVAL for an empty @dev or one with '=', white space or
 * control characters; -EREMOTEIO for an unknown device; the common
 * mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_config_get(struct uml_instance *inst, const char *dev,
						char **ret);

/**
 * uml_instance_mconsole_remove:
 * @dev: a device name, e.g. "ubd1"
 * Removes a device from the running guest.
 * Returns: 0; -EINVAL as for uml_instance_mconsole_config_get();
 * -EREMOTEIO with the kernel's reason ("Device is currently open",
 * "Device doesn't exist" ...); the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_mconsole_remove(struct uml_instance *inst, const char *dev);

/**
 * enum uml_disk_live_flags - flags for uml_instance_add_disk_live().
 * @UML_DISK_LIVE_READONLY: the guest may only read the disk
 */
enum uml_disk_live_flags {
	UML_DISK_LIVE_READONLY = 1u << 0,
};

/**
 * uml_instance_add_disk_live:
 * @index: the ubd unit, 0 to 15 (0 is the root disk of libuml's guests);
 *         the guest sees unit N as /dev/ubd followed by the letter 'a' + N
 * @image: a disk image on the host; relative paths are made absolute
 * @flags: enum uml_disk_live_flags
 *
 * Hot-adds a disk to the running guest ("config ubdN=IMAGE").
 *
 * Returns: 0; -EINVAL for a bad @index, unknown @flags, or an @image
 * path with white space, control characters, ',' or ':' (which the
 * kernel would split at); -ENOENT if @image does not exist; -EBUSY if
 * the unit is in use; the guest kernel's errno when it cannot open the
 * image; -EREMOTEIO for other refusals; the common mconsole errors.  The
 * last error holds the kernel's message.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_add_disk_live(struct uml_instance *inst, unsigned index,
					  const char *image, unsigned flags);

/**
 * uml_instance_remove_disk_live:
 * @index: the ubd unit, 0 to 15
 * Removes a disk added with uml_instance_add_disk_live() (or at boot).
 * Returns: 0; -EINVAL for a bad @index; -EBUSY if the guest has it open
 * (mounted); -ENODEV if no disk has that unit; the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_remove_disk_live(struct uml_instance *inst, unsigned index);

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
 * says hello, which it does before the guest's own init runs: it has
 * mounted the root, devtmpfs on /dev, /proc, /sys and the shares by then.
 * A marker set with uml_instance_set_ready_marker() must be seen too; the
 * marker an image brings (busybox guests) does not count (since 0.2).  So
 * commands may run before the guest's init has, say, made the root
 * writable (libuml's busybox guests boot it writable).
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
 * uml_ctx_exec:
 * @umid: the umid of a guest booted with an exec channel, in the
 *        context's runtime directory
 * @argv, @stdin_data, @stdin_len, @timeout_ms, @ret: as uml_instance_exec()
 *
 * Runs a command in a guest that another process (or this one) booted
 * with uml_instance_enable_exec(), found by its umid; uml-ctl's `exec`
 * uses it.  The process owning the guest serves these requests through
 * the socket RUNTIME_DIR/.UMID.exec from inside uml_instance_process()
 * (and the uml_instance_wait*() helpers and its own exec calls), so it
 * must be running its event loop; requests from all processes are queued
 * and run one at a time.
 *
 * Returns: 0; -ENOTCONN if no such guest serves an exec socket; -ECONNRESET
 * if the guest (or its owner) ended before the command finished; the
 * errors of the command's start as in uml_instance_exec(); -ETIMEDOUT;
 * -EINVAL.  The message is kept as the context's last error.
 * Since: 0.1
 */
UML_EXPORT int uml_ctx_exec(struct uml_ctx *ctx, const char *umid, const char *const *argv,
			    const void *stdin_data, size_t stdin_len, int timeout_ms,
			    struct uml_exec **ret);

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
 * @host_path: where to write it on the host
 *
 * Copies a file out of the running guest through the exec channel.  The
 * guest says what the file holds and its mode, so neither is trusted: the
 * data goes to a new temporary file next to @host_path that is renamed
 * over it when complete (a symlink at @host_path is replaced, never
 * followed), with the guest file's permission bits limited to 0777 and the
 * umask (never setuid, setgid or sticky).
 *
 * Returns: 0; errors from the guest as negative errno (-ENOENT, -EISDIR,
 * -EINVAL for a file that is not regular); host errors creating or writing
 * @host_path; the channel errors of uml_instance_exec().
 * Since: 0.1
 */
UML_EXPORT int uml_instance_copy_out(struct uml_instance *inst, const char *guest_path,
				     const char *host_path);

/* ------------------------------------------------------------------ */
/* Networking                                                          */
/* ------------------------------------------------------------------ */

/*
 * Network interfaces of a guest, added before boot (or, for NAT, switch
 * ports and taps, to a running guest; a sandboxed guest sees only what it
 * booted with, so there NAT and switches it had no port on at boot are
 * refused with -EOPNOTSUPP).  Each call returns the interface's
 * index on the instance (0, 1, ... in the order added); the guest sees it
 * under the name uml_instance_get_iface_name() reports: "ethN" for switch
 * ports and taps, "vecN" for NAT and links (UML's vector driver).  Kernels
 * need CONFIG_UML_NET_VECTOR (NAT, links), CONFIG_UML_NET_VDE (switches)
 * and CONFIG_UML_NET_TUNTAP (taps); Debian's user-mode-linux kernel has
 * all three, the "fast" preset the vector driver and taps.
 *
 * Addresses: busybox guests made by uml_rootfs_create_busybox() set the
 * addresses given with uml_instance_set_iface_address() (and NAT's
 * defaults) at boot, before their ready marker; in one-shot mode
 * (uml_instance_set_run_command()) libuml sets them with `ip` before the
 * command runs, on any rootfs with an `ip` command.  Other guests get the
 * settings on their kernel command line as libuml.ip=IF,ADDR/LEN[,GW] and
 * libuml.dns=ADDR and configure themselves (Debian guests: see the rootfs
 * configuration).  Interfaces added to a running guest come up unconfigured.
 *
 * Guests exchange frames directly, kernel to kernel, but each instance
 * still needs its event loop driven: with several guests, poll all their
 * fds and call uml_instance_process() on each (a one-shot guest, for one,
 * gets its command only when its instance is processed).
 *
 * Everything libuml starts for a guest's network ends with the guest: the
 * NAT helper stops, created taps are deleted and switch and link
 * references dropped when the guest ends; the NAT helper and switches also
 * die with the calling process.
 */

struct uml_link;
struct uml_switch;

/**
 * enum uml_tap_flags - flags for uml_instance_add_tap().
 * @UML_TAP_CREATE: create the tap device at boot (needs root or
 *     CAP_NET_ADMIN) and delete it when the guest ends; without it the
 *     device must exist and be usable by the caller (e.g. made by
 *     `ip tuntap add dev DEV mode tap user USER`)
 */
enum uml_tap_flags {
	UML_TAP_CREATE = 1u << 0,
};

/**
 * uml_instance_add_nat:
 * @ret_index: if not NULL, receives the interface's index
 *
 * Adds an interface with NAT to the host, without root: the same as
 * uml_instance_add_nat_with_flags() with no flags.  The guest gets
 * QEMU's user-networking addresses: 10.0.2.15/24, gateway 10.0.2.2 (which
 * reaches the host's own 127.0.0.1 - every service listening on the
 * host's loopback is reachable from the guest unless
 * UML_NAT_NO_HOST_LOOPBACK is given), DNS 10.0.2.3 (forwarded to the
 * host's resolver); change the guest side with
 * uml_instance_set_iface_address() (within 10.0.2.0/24).  One per guest.
 *
 * Returns: 0; -EEXIST if the guest has a NAT interface; -ENOSPC past 16
 * interfaces; -EBUSY if the guest has ended; when hot-adding, the errors
 * of the helper's start (see uml_instance_add_nat_with_flags()) and of
 * uml_instance_mconsole_config().
 * Since: 0.1
 */
UML_EXPORT int uml_instance_add_nat(struct uml_instance *inst, unsigned *ret_index);

/**
 * enum uml_nat_flags - flags for uml_instance_add_nat_with_flags().
 * @UML_NAT_IPV6: IPv6 too, as QEMU has it: the guest configures itself in
 *     fec0::/64 from router advertisements, the gateway is fec0::2, DNS
 *     fec0::3 (needs a kernel with IPv6: Debian's, the "fast" preset)
 * @UML_NAT_RESTRICT: no outbound connections at all (the host's loopback
 *     and DNS included); only forwards reach the guest and only guest
 *     forwards leave it
 * @UML_NAT_NO_HOST_LOOPBACK: 10.0.2.2 does not reach the host's 127.0.0.1
 */
enum uml_nat_flags {
	UML_NAT_IPV6 = 1u << 0,
	UML_NAT_RESTRICT = 1u << 1,
	UML_NAT_NO_HOST_LOOPBACK = 1u << 2,
};

/**
 * uml_instance_add_nat_with_flags:
 * @flags: enum uml_nat_flags
 * @ret_index: if not NULL, receives the interface's index
 *
 * Adds a NAT interface (see uml_instance_add_nat()).  The guest's packets
 * are handled by libslirp in a helper process libuml starts at boot (the
 * program uml-nat, installed in libuml's libexec directory; $UML_NAT_HELPER
 * names another), never in the calling process: libslirp parses what the
 * guest sends, and the guest is not trusted.  The helper confines itself
 * once set up (a user and mount namespace with no view of the host's
 * files, no capabilities, no_new_privs, no new processes, a seccomp
 * filter, a memory limit: uml_instance_set_nat_memory_limit()) but stays in
 * the host's network namespace; it ends with the guest, with the
 * interface's removal, and with the calling process.  Other processes of
 * the same user reach it through RUNTIME_DIR/.UMID.nat (uml_ctx_add_port_forward()).
 *
 * On a running guest the interface is hot-added: a running kernel cannot
 * receive file descriptors, so it connects to a socket of the helper at
 * RUNTIME_DIR/.UMID.vecN (the vector driver's "bess" transport); it comes
 * up unconfigured (`ip addr add 10.0.2.15/24 dev vecN`).
 *
 * Returns: as uml_instance_add_nat(); -EINVAL for unknown flags; -ENOPKG
 * if the helper is not installed (at boot, or now when hot-adding).
 * Since: 0.2
 */
UML_EXPORT int uml_instance_add_nat_with_flags(struct uml_instance *inst, unsigned flags,
					       unsigned *ret_index);

/**
 * uml_instance_set_nat_memory_limit:
 * @iface: the NAT interface's index
 * @bytes: the helper's address space limit, at least 16 MiB (default
 *         64 MiB); a guest that makes the helper need more loses its NAT
 *         (the helper ends), nothing else
 *
 * Returns: 0; -ENOENT for an unknown @iface; -EINVAL if it is not NAT or
 * @bytes is too small; -EBUSY while the helper runs.
 * Since: 0.2
 */
UML_EXPORT int uml_instance_set_nat_memory_limit(struct uml_instance *inst, unsigned iface,
						 uint64_t bytes);

/**
 * enum uml_fwd_proto - the protocol of a port forward.
 * @UML_FWD_TCP: TCP
 * @UML_FWD_UDP: UDP
 */
enum uml_fwd_proto {
	UML_FWD_TCP = 0,
	UML_FWD_UDP = 1,
};

/**
 * uml_instance_add_port_forward:
 * @iface: the NAT interface's index
 * @proto: UML_FWD_TCP or UML_FWD_UDP
 * @host_addr: the host address to listen on, numeric IPv4 or IPv6
 *             ("127.0.0.1", "0.0.0.0", "::1"); NULL for 127.0.0.1
 * @host_port: the host port, or 0 for any free one (then
 *             uml_instance_get_port_forward() tells which, once the guest
 *             booted)
 * @guest_port: the port in the guest (at the NAT interface's address)
 * @ret_index: if not NULL, receives the forward's index for
 *             uml_instance_get_port_forward()
 *
 * Forwards connections (TCP) or datagrams (UDP) to a host port into the
 * guest.  Before boot it takes effect when the guest boots (a port in use
 * then fails the boot with -EADDRINUSE); on a running guest, now.  Host
 * ports below 1024 need privileges the helper keeps only until the guest
 * booted: forward them before boot, as root.
 *
 * Returns: 0; -ENOENT for an unknown @iface; -EINVAL if it is not NAT, or
 * for a bad address, port or protocol; -EEXIST if that host port is
 * forwarded already; -EADDRINUSE if it is in use on the host, -EACCES if
 * it needs privileges (running guest); -ENOTCONN if the interface was
 * removed or the guest ended; -ENOSPC past 128 forwards.
 * Since: 0.2
 */
UML_EXPORT int uml_instance_add_port_forward(struct uml_instance *inst, unsigned iface,
					     enum uml_fwd_proto proto, const char *host_addr,
					     unsigned host_port, unsigned guest_port,
					     unsigned *ret_index);

/**
 * uml_instance_remove_port_forward:
 * @iface: the NAT interface's index
 * @proto: UML_FWD_TCP or UML_FWD_UDP
 * @host_addr: as given when added (NULL for 127.0.0.1)
 * @host_port: the host port (the bound one for a forward added with 0)
 *
 * Removes a forward, also one another process added to the running guest.
 * Indexes of the forwards after it shift down by one.
 *
 * Returns: 0; -ENOENT if there is no such forward (or interface); -EINVAL
 * if @iface is not NAT or the address or port is malformed.
 * Since: 0.2
 */
UML_EXPORT int uml_instance_remove_port_forward(struct uml_instance *inst, unsigned iface,
						enum uml_fwd_proto proto, const char *host_addr,
						unsigned host_port);

/**
 * uml_instance_list_port_forwards:
 * @iface: the NAT interface's index
 * @ret_count: receives the number of forwards
 *
 * Counts the interface's host-to-guest forwards; while the guest runs the
 * list is read from the helper first, so it includes forwards other
 * processes added (uml-ctl) and its indexes may change.
 *
 * Returns: 0; -ENOENT, -EINVAL as uml_instance_add_port_forward(); the
 * helper's errors.
 * Since: 0.2
 */
UML_EXPORT int uml_instance_list_port_forwards(struct uml_instance *inst, unsigned iface,
					       unsigned *ret_count);

/**
 * uml_instance_get_port_forward:
 * @iface: the NAT interface's index
 * @index: a forward, 0 to the count of uml_instance_list_port_forwards() - 1
 * @proto: if not NULL, receives the protocol
 * @host_addr: if not NULL, receives the host address, owned by @inst until
 *             the next change or listing of the forwards
 * @host_port: if not NULL, receives the host port: the one bound while the
 *             guest runs (also when 0 was asked), else the one asked for
 * @guest_port: if not NULL, receives the guest port
 *
 * Returns: 0; -ENOENT for an unknown forward or interface; -EINVAL if
 * @iface is not NAT.
 * Since: 0.2
 */
UML_EXPORT int uml_instance_get_port_forward(struct uml_instance *inst, unsigned iface,
					     unsigned index, enum uml_fwd_proto *proto,
					     const char **host_addr, unsigned *host_port,
					     unsigned *guest_port);

/**
 * uml_instance_add_guest_forward:
 * @iface: the NAT interface's index
 * @guest_addr: an unused address of 10.0.2.0/24 (not .2, .3 or the
 *              guest's own), e.g. "10.0.2.100"
 * @guest_port: the TCP port the guest connects to there
 * @host: where the connections go: a numeric host address with
 *        @host_port, or the absolute path of a unix stream socket
 *        (@host_port ignored)
 * @host_port: the host port for an address
 *
 * Forwards the guest's TCP connections to @guest_addr:@guest_port to a
 * host address and port, or to a unix socket (also with
 * UML_NAT_RESTRICT).  Unix sockets are bound into the helper's sandbox at
 * boot, so they are given before boot; address targets also on a running
 * guest.
 *
 * Returns: 0; -ENOENT, -EINVAL as uml_instance_add_port_forward(), and
 * for a bad guest address or target; -ENOTSOCK if @host is not a unix
 * socket; -EEXIST if the guest address and port are forwarded already;
 * -EBUSY for a unix socket on a running guest.
 * Since: 0.2
 */
UML_EXPORT int uml_instance_add_guest_forward(struct uml_instance *inst, unsigned iface,
					      const char *guest_addr, unsigned guest_port,
					      const char *host, unsigned host_port);

/**
 * uml_ctx_add_port_forward:
 * @umid: a running guest with NAT, started by any process of this user
 *        with the same runtime directory
 * @proto, @host_addr, @host_port, @guest_port: as for
 *        uml_instance_add_port_forward() (the guest side is the address
 *        the NAT interface had at boot)
 * @ret_host_port: if not NULL, receives the bound host port
 *
 * Adds a forward to another process's guest through its NAT helper's
 * socket (what `uml-ctl UMID hostfwd add` does).
 *
 * Returns: 0; -EINVAL for bad arguments; -ENOTCONN if there is no such
 * guest with NAT; -EADDRINUSE, -EEXIST, -EACCES as for
 * uml_instance_add_port_forward(); -ETIMEDOUT if the helper does not
 * answer within 5 s.
 * Since: 0.2
 */
UML_EXPORT int uml_ctx_add_port_forward(struct uml_ctx *ctx, const char *umid,
					enum uml_fwd_proto proto, const char *host_addr,
					unsigned host_port, unsigned guest_port,
					unsigned *ret_host_port);

/**
 * uml_ctx_remove_port_forward:
 * Removes a forward of another process's guest (see uml_ctx_add_port_forward()).
 * Returns: 0; -ENOENT if there is no such forward; otherwise as
 * uml_ctx_add_port_forward().
 * Since: 0.2
 */
UML_EXPORT int uml_ctx_remove_port_forward(struct uml_ctx *ctx, const char *umid,
					   enum uml_fwd_proto proto, const char *host_addr,
					   unsigned host_port);

/**
 * uml_ctx_list_port_forwards:
 * @ret: receives the list, allocated (free() it): one line per forward,
 *       "hostfwd PROTO HOST_ADDR HOST_PORT GUEST_ADDR GUEST_PORT" and
 *       "guestfwd GUEST_ADDR GUEST_PORT tcp HOST_ADDR HOST_PORT" or
 *       "guestfwd GUEST_ADDR GUEST_PORT unix PATH"
 *
 * Lists the forwards of a running guest's NAT (see uml_ctx_add_port_forward()).
 * Returns: 0; as uml_ctx_add_port_forward().
 * Since: 0.2
 */
UML_EXPORT int uml_ctx_list_port_forwards(struct uml_ctx *ctx, const char *umid, char **ret);

/**
 * uml_link_new:
 * @ret: the new link
 *
 * Creates a point-to-point "cable" between two guests: a socketpair whose
 * ends become one vector interface in each of the two instances passed to
 * uml_instance_add_link().  No root, no switch process.  Frames sent
 * while the other guest is not up yet are buffered or dropped like on a
 * cable.
 *
 * Returns: 0, -EINVAL, -ENOMEM, -EMFILE/-ENFILE when out of file
 * descriptors.
 * Since: 0.1
 */
UML_EXPORT int uml_link_new(struct uml_ctx *ctx, struct uml_link **ret);

/** uml_link_ref: Returns: @link. Since: 0.1 */
UML_EXPORT struct uml_link *uml_link_ref(struct uml_link *link);
/**
 * uml_link_unref:
 * Drops a reference; instances using the link hold their own until their
 * guest ends.  Returns: NULL.
 * Since: 0.1
 */
UML_EXPORT struct uml_link *uml_link_unref(struct uml_link *link);

/**
 * uml_instance_add_link:
 * @link: a link with a free end; the first instance gets one end, the
 *        second the other
 * @ret_index: if not NULL, receives the interface's index
 *
 * Plugs @inst into @link.  Both instances may be configured and booted in
 * any order.  Links exist only from boot: the kernel must hold its socket
 * when it starts; for the same reason the guest cannot take the interface
 * down and up again (UML closes the socket when it goes down).
 *
 * Returns: 0; -EBUSY if both ends are taken, or the guest was booted
 * (use a switch port to hot-add); -ENOSPC past 16 interfaces.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_add_link(struct uml_instance *inst, struct uml_link *link,
				     unsigned *ret_index);

/**
 * uml_switch_new:
 * @name: 1 to 32 characters from [A-Za-z0-9._-]
 * @ret: the new switch
 *
 * Describes an Ethernet switch many guests plug into: a vde_switch (Debian
 * package vde2) with its control directory at RUNTIME_DIR/switch-NAME.
 * libuml starts it at the first boot of a guest with a port on it (or at
 * uml_switch_start()) in its own process group, guarded like guests (it
 * dies with the calling process), and stops it with the last reference:
 * the caller's and those of guests using it, which they drop when they
 * end.  If a switch of another process already listens at that
 * directory, guests plug into that one and libuml leaves it alone.
 *
 * Returns: 0; -EINVAL for a bad @name; -ENAMETOOLONG when the runtime
 * directory leaves no room for vde's socket paths; -ENOMEM.
 * Since: 0.1
 */
UML_EXPORT int uml_switch_new(struct uml_ctx *ctx, const char *name, struct uml_switch **ret);

/** uml_switch_ref: Returns: @sw. Since: 0.1 */
UML_EXPORT struct uml_switch *uml_switch_ref(struct uml_switch *sw);
/**
 * uml_switch_unref:
 * Drops a reference; with the last one a switch libuml started is stopped
 * and reaped and its directory removed.  Returns: NULL.
 * Since: 0.1
 */
UML_EXPORT struct uml_switch *uml_switch_unref(struct uml_switch *sw);

/**
 * uml_switch_start:
 * Starts the switch now instead of at the first guest's boot; waits until
 * it accepts connections.  Does nothing if it runs.
 * Returns: 0; -ENOPKG if vde_switch is not installed; -EIO if it exited or
 * did not open its control socket within 5 s; errors of fork/exec.
 * Since: 0.1
 */
UML_EXPORT int uml_switch_start(struct uml_switch *sw);

/**
 * uml_switch_get_path:
 * Returns: the switch's control directory (what `vde_plug DIR` and
 * `ethN=vde,DIR` take), owned by @sw.
 * Since: 0.1
 */
UML_EXPORT const char *uml_switch_get_path(struct uml_switch *sw);

/**
 * uml_switch_get_pid:
 * Returns: the pid of the vde_switch libuml started, or 0 if it does not
 * run (or is another process's switch).
 * Since: 0.1
 */
UML_EXPORT pid_t uml_switch_get_pid(struct uml_switch *sw);

/**
 * uml_switch_last_error:
 * Returns: the message of the last failure on @sw, or NULL.
 * Since: 0.1
 */
UML_EXPORT const char *uml_switch_last_error(struct uml_switch *sw);

/**
 * uml_instance_add_switch_port:
 * @sw: the switch; the instance keeps a reference until its guest ends
 * @ret_index: if not NULL, receives the interface's index
 *
 * Plugs @inst into a port of @sw.  On a running guest the switch is
 * started if needed and the interface hot-added.
 *
 * Returns: 0; -ENOSPC past 16 interfaces; -EBUSY if the guest has ended;
 * when hot-adding, the errors of uml_switch_start() and of
 * uml_instance_mconsole_config().
 * Since: 0.1
 */
UML_EXPORT int uml_instance_add_switch_port(struct uml_instance *inst, struct uml_switch *sw,
					    unsigned *ret_index);

/**
 * uml_instance_add_tap:
 * @dev: the host's tap device name (at most 15 characters; with
 *       UML_TAP_CREATE a kernel pattern such as "umltap%d" is not accepted:
 *       give a name)
 * @flags: enum uml_tap_flags
 * @ret_index: if not NULL, receives the interface's index
 *
 * Connects the guest to a host tap device.  The host side's address and
 * routing are the caller's business (`ip addr add ... dev DEV`).  On a
 * running guest the interface is hot-added.
 *
 * Returns: 0; -EINVAL for a bad name or flags; -ENODEV if @dev does not
 * exist (without UML_TAP_CREATE); -EPERM if creating it needs privileges
 * the caller lacks; -EEXIST if UML_TAP_CREATE names an existing device;
 * the last three at boot for a guest not yet booted (not running as
 * root: -ENODEV already here).
 * Since: 0.1
 */
UML_EXPORT int uml_instance_add_tap(struct uml_instance *inst, const char *dev, unsigned flags,
				    unsigned *ret_index);

/**
 * uml_instance_set_iface_mac:
 * @index: an interface of @inst
 * @mac: "xx:xx:xx:xx:xx:xx", a unicast address
 *
 * Without one an interface gets a locally administered address derived
 * from the umid and the interface name: stable for a guest with a fixed
 * umid.
 *
 * Returns: 0; -ENOENT for an unknown @index; -EINVAL for a malformed or
 * multicast address; -EBUSY once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_set_iface_mac(struct uml_instance *inst, unsigned index,
					  const char *mac);

/**
 * uml_instance_set_iface_address:
 * @index: an interface of @inst
 * @address: "A.B.C.D/LEN" for the guest side, or NULL for none
 * @gateway: a default route through this interface, or NULL
 *
 * Sets what the guest configures at boot (see the section's notes).
 *
 * Returns: 0; -ENOENT for an unknown @index; -EINVAL for a malformed
 * address or a gateway without an address; -EBUSY once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_set_iface_address(struct uml_instance *inst, unsigned index,
					      const char *address, const char *gateway);

/**
 * uml_instance_set_dns:
 * @server: the IPv4 address of the guest's name server, or NULL; a NAT
 *          interface sets 10.0.2.3 unless one was set
 * Returns: 0; -EINVAL for a malformed address; -EBUSY once booted.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_set_dns(struct uml_instance *inst, const char *server);

/**
 * uml_instance_get_iface_count:
 * Returns: the number of interfaces added (removed ones included: indexes
 * never change).
 * Since: 0.1
 */
UML_EXPORT unsigned uml_instance_get_iface_count(struct uml_instance *inst);

/**
 * uml_instance_get_iface_name:
 * Returns: the name the guest gives interface @index ("eth0", "vec0"),
 * owned by @inst, or NULL for an unknown index.
 * Since: 0.1
 */
UML_EXPORT const char *uml_instance_get_iface_name(struct uml_instance *inst, unsigned index);

/**
 * uml_instance_get_iface_mac:
 * Returns: the MAC address of interface @index ("02:..."), owned by @inst
 * until the next change of it or of the umid, or NULL for an unknown index.
 * Since: 0.1
 */
UML_EXPORT const char *uml_instance_get_iface_mac(struct uml_instance *inst, unsigned index);

/**
 * uml_instance_remove_iface:
 * @index: an interface of @inst
 *
 * Hot-removes the interface from the running guest (mconsole "remove")
 * and releases what it used on the host (its switch reference, link end,
 * created tap).  Its index stays taken.
 *
 * Returns: 0; -ENOENT for an unknown @index; -ENOTCONN if the guest does
 * not run; -ENODEV if it was removed already; -EREMOTEIO when the kernel
 * refused (e.g. the interface is up); the common mconsole errors.
 * Since: 0.1
 */
UML_EXPORT int uml_instance_remove_iface(struct uml_instance *inst, unsigned index);

/* ------------------------------------------------------------------ */
/* KTAP results (KUnit's output)                                       */
/* ------------------------------------------------------------------ */

/*
 * A struct uml_ktap reads KTAP (Documentation/dev-tools/ktap.rst: KTAP v1,
 * TAP 13 and 14) out of kernel console output fed to it in pieces as they
 * arrive, and builds a tree of tests: the top-level test ("main"), its
 * suites, their cases, and deeper levels for parameterised cases.  It
 * follows kunit.py's parser (tools/testing/kunit/kunit_parser.py) rule for
 * rule, so the same input gives the same tree, statuses, counts and
 * errors: the KTAP starts at the first "KTAP version N" or "TAP version N"
 * line and ends at "reboot: System halted", "Kernel panic - not syncing:
 * VFS:" or "List of all partitions:"; whatever stood before "KTAP version"
 * on its line (console prefixes, printk timestamps) is cut from every
 * following line; a test whose plan promised more subtests than came is
 * given crashed subtests with empty names; a test with no subtests and no
 * result has no tests run.  Input is decoded as UTF-8 with invalid bytes
 * written as "\xNN" (as kunit.py reads it); lines end at LF, CR or CR LF.
 *
 * Bounds (the input is untrusted): lines are cut at 64 KiB, at most
 * 131 072 tests and 64 MiB of log lines are kept; past that the counts
 * stay exact but further nodes and lines are dropped and
 * uml_ktap_get_truncated() reports it.
 */

struct uml_ktap;
struct uml_ktap_test;

/**
 * enum uml_ktap_status - the status of a test, as kunit.py names it.
 * @UML_KTAP_PASS: passed ("ok"); kunit.py SUCCESS, JSON "PASS"
 * @UML_KTAP_FAIL: failed ("not ok"); JSON "FAIL"
 * @UML_KTAP_SKIP: skipped ("# SKIP"); JSON "SKIP"
 * @UML_KTAP_CRASHED: never finished: its result line or promised
 *     subtests are missing (the kernel crashed, hung or the log was cut);
 *     kunit.py TEST_CRASHED, JSON "ERROR"
 * @UML_KTAP_NO_TESTS: a test with a header but no subtests; JSON "FAIL"
 * @UML_KTAP_NO_KTAP: the input held no KTAP at all (only the top-level
 *     test gets it); kunit.py FAILURE_TO_PARSE_TESTS
 */
enum uml_ktap_status {
	UML_KTAP_PASS = 0,
	UML_KTAP_FAIL = 1,
	UML_KTAP_SKIP = 2,
	UML_KTAP_CRASHED = 3,
	UML_KTAP_NO_TESTS = 4,
	UML_KTAP_NO_KTAP = 5,
};

/**
 * enum uml_ktap_count - what uml_ktap_test_get_count() counts.  Counts
 * cover the test cases (tests without subtests) at and below a test;
 * errors are the parse errors kunit.py reports ("missing expected
 * subtest!", "0 tests run!" ...).
 */
enum uml_ktap_count {
	UML_KTAP_COUNT_PASSED = 0,
	UML_KTAP_COUNT_FAILED = 1,
	UML_KTAP_COUNT_CRASHED = 2,
	UML_KTAP_COUNT_SKIPPED = 3,
	UML_KTAP_COUNT_ERRORS = 4,
};

/**
 * enum uml_ktap_event_type - what a KTAP event reports.  Append-only.
 * @UML_KTAP_EVENT_LINE: a KTAP line, with the console prefix cut (@text)
 * @UML_KTAP_EVENT_SUITE_START: a test with a header ("# Subtest:" or a
 *     nested "KTAP version") and its plan was read (@test)
 * @UML_KTAP_EVENT_TEST_END: a test is complete (@test): a case got its
 *     result line, a suite its result line or its end
 * @UML_KTAP_EVENT_ERROR: a parse error of @test, message in @text
 */
enum uml_ktap_event_type {
	UML_KTAP_EVENT_LINE = 0,
	UML_KTAP_EVENT_SUITE_START = 1,
	UML_KTAP_EVENT_TEST_END = 2,
	UML_KTAP_EVENT_ERROR = 3,
};

/**
 * struct uml_ktap_event - an event of the parser; valid during the callback.
 * @type: enum uml_ktap_event_type
 * @test: the test concerned, or NULL for UML_KTAP_EVENT_LINE
 * @text: the line or message, or NULL
 * @depth: nesting of @test: 0 for the top-level test, 1 for suites ...
 */
struct uml_ktap_event {
	enum uml_ktap_event_type type;
	const struct uml_ktap_test *test;
	const char *text;
	unsigned depth;
};

typedef void (*uml_ktap_event_fn)(void *userdata, const struct uml_ktap_event *ev);

/**
 * enum uml_ktap_flags - flags for uml_ktap_set_flags().
 * @UML_KTAP_LIVE: the input arrives as the kernel writes it: time lines
 *     by their arrival (CLOCK_MONOTONIC) when they carry no printk
 *     timestamp, so tests get durations
 */
enum uml_ktap_flags {
	UML_KTAP_LIVE = 1u << 0,
};

/**
 * uml_ktap_new:
 * @ret: the new parser, with no input yet
 * Returns: 0, -EINVAL, -ENOMEM.
 * Since: 0.2
 */
UML_EXPORT int uml_ktap_new(struct uml_ctx *ctx, struct uml_ktap **ret);

/** uml_ktap_ref: Returns: @ktap. Since: 0.2 */
UML_EXPORT struct uml_ktap *uml_ktap_ref(struct uml_ktap *ktap);
/** uml_ktap_unref: Returns: NULL. Since: 0.2 */
UML_EXPORT struct uml_ktap *uml_ktap_unref(struct uml_ktap *ktap);

/**
 * uml_ktap_set_flags:
 * @flags: enum uml_ktap_flags; set before the first uml_ktap_feed()
 * Returns: 0; -EINVAL for unknown bits; -EBUSY after input was fed.
 * Since: 0.2
 */
UML_EXPORT int uml_ktap_set_flags(struct uml_ktap *ktap, unsigned flags);

/**
 * uml_ktap_set_event_fn:
 * Sets a callback that runs inside uml_ktap_feed() and uml_ktap_finish()
 * as lines are read and tests start and end (what kunit.py prints as it
 * goes), or NULL.  The callback must not feed the same parser.
 * Since: 0.2
 */
UML_EXPORT void uml_ktap_set_event_fn(struct uml_ktap *ktap, uml_ktap_event_fn fn,
				      void *userdata);

/**
 * uml_ktap_feed:
 * @data: console output, any bytes, split anywhere
 * @len: bytes in @data
 *
 * Parses what @data completes; an unfinished last line waits for more.
 * After the end of the KTAP (see above) further input is ignored.
 *
 * Returns: 0; -EINVAL for a NULL @data with a length; -EBUSY after
 * uml_ktap_finish(); -ENOMEM.
 * Since: 0.2
 */
UML_EXPORT int uml_ktap_feed(struct uml_ktap *ktap, const void *data, size_t len);

/**
 * uml_ktap_finish:
 * Ends the input: parses an unfinished last line and completes the tree as
 * kunit.py does at the end of a log (missing subtests crashed, missing
 * result lines reported).  Calling it again does nothing.
 * Returns: 0, -EINVAL, -ENOMEM.
 * Since: 0.2
 */
UML_EXPORT int uml_ktap_finish(struct uml_ktap *ktap);

/**
 * uml_ktap_get_root:
 * Returns: the top-level test ("main"; "<missing>" with status
 * UML_KTAP_NO_KTAP when the finished input held no KTAP), owned by @ktap
 * and valid until it is freed; NULL before any KTAP was read.  Its status
 * is that of the whole run (kunit.py's, from the counts of all cases);
 * before uml_ktap_finish() the tree is what was read so far.
 * Since: 0.2
 */
UML_EXPORT const struct uml_ktap_test *uml_ktap_get_root(struct uml_ktap *ktap);

/**
 * uml_ktap_get_status:
 * Returns: the status of the root (UML_KTAP_NO_KTAP without one).
 * Since: 0.2
 */
UML_EXPORT enum uml_ktap_status uml_ktap_get_status(struct uml_ktap *ktap);

/**
 * uml_ktap_get_truncated:
 * Returns: 1 if the bounds above dropped tests or log lines, else 0.
 * Since: 0.2
 */
UML_EXPORT int uml_ktap_get_truncated(struct uml_ktap *ktap);

/**
 * uml_ktap_status_to_string:
 * Returns: a static name as kunit.py's JSON writes it ("PASS", "FAIL",
 * "SKIP", "ERROR" for crashed, "FAIL" for no tests and no KTAP), or NULL
 * for an unknown value.
 * Since: 0.2
 */
UML_EXPORT const char *uml_ktap_status_to_string(enum uml_ktap_status status);

/**
 * uml_ktap_test_get_name:
 * Returns: the test's name (may be empty: crashed placeholders), owned by
 * its struct uml_ktap.
 * Since: 0.2
 */
UML_EXPORT const char *uml_ktap_test_get_name(const struct uml_ktap_test *test);

/**
 * uml_ktap_test_get_status:
 * Returns: the test's status.
 * Since: 0.2
 */
UML_EXPORT enum uml_ktap_status uml_ktap_test_get_status(const struct uml_ktap_test *test);

/**
 * uml_ktap_test_get_count:
 * Returns: the count @which of @test (see enum uml_ktap_count); 0 for an
 * unknown @which.
 * Since: 0.2
 */
UML_EXPORT uint64_t uml_ktap_test_get_count(const struct uml_ktap_test *test,
					    enum uml_ktap_count which);

/**
 * uml_ktap_test_get_expected:
 * Returns: the number of subtests the test's plan ("1..N") promised, or
 * -1 if it had no plan.
 * Since: 0.2
 */
UML_EXPORT int64_t uml_ktap_test_get_expected(const struct uml_ktap_test *test);

/**
 * uml_ktap_test_get_n_subtests:
 * Returns: the number of subtests (0 for a test case).
 * Since: 0.2
 */
UML_EXPORT size_t uml_ktap_test_get_n_subtests(const struct uml_ktap_test *test);

/**
 * uml_ktap_test_get_subtest:
 * Returns: subtest @index (in output order), or NULL past the end.
 * Since: 0.2
 */
UML_EXPORT const struct uml_ktap_test *uml_ktap_test_get_subtest(const struct uml_ktap_test *test,
								 size_t index);

/**
 * uml_ktap_test_get_parent:
 * Returns: the test @test is a subtest of, or NULL for the root.
 * Since: 0.2
 */
UML_EXPORT const struct uml_ktap_test *uml_ktap_test_get_parent(const struct uml_ktap_test *test);

/**
 * uml_ktap_test_get_n_log:
 * Returns: the number of log lines of the test: the diagnostics and
 * kernel output read while it ran ("# module: ...", "Expected x == y"),
 * as kunit.py keeps them.
 * Since: 0.2
 */
UML_EXPORT size_t uml_ktap_test_get_n_log(const struct uml_ktap_test *test);

/**
 * uml_ktap_test_get_log:
 * Returns: log line @index (without its line end), or NULL past the end.
 * Since: 0.2
 */
UML_EXPORT const char *uml_ktap_test_get_log(const struct uml_ktap_test *test, size_t index);

/**
 * uml_ktap_test_get_duration_us:
 * Returns: how long the test ran in microseconds, from printk timestamps
 * in the console prefix or, with UML_KTAP_LIVE, from the arrival of its
 * lines; -1 when unknown.
 * Since: 0.2
 */
UML_EXPORT int64_t uml_ktap_test_get_duration_us(const struct uml_ktap_test *test);

/**
 * uml_ktap_test_get_reason:
 * Returns: why a crashed test did not finish when the caller that made the
 * tree knows it (uml_kunit_run(): "kernel panic: ...", "timed out after
 * 30 s"), else NULL.
 * Since: 0.2
 */
UML_EXPORT const char *uml_ktap_test_get_reason(const struct uml_ktap_test *test);

/**
 * uml_ktap_get_json:
 * @arch, @defconfig, @build_dir: the "arch", "defconfig" and
 *     "build_environment" fields (NULL: empty, as `kunit.py parse` writes)
 * @ret: the JSON text, allocated; the caller frees it with free()
 *
 * Writes the tree as kunit.py's --json does (the KernelCI test group
 * shape, same keys, same status names, indented by 4).
 *
 * Returns: 0; -ENODATA before any KTAP was read; -ENOMEM.
 * Since: 0.2
 */
UML_EXPORT int uml_ktap_get_json(struct uml_ktap *ktap, const char *arch, const char *defconfig,
				 const char *build_dir, char **ret);

/**
 * uml_ktap_get_junit:
 * @name: the name of the <testsuites> element, or NULL for "KUnit"
 * @ret: the XML text, allocated; the caller frees it with free()
 *
 * Writes the tree as JUnit XML: a <testsuite> per suite, a <testcase> per
 * test case (cases of parameterised tests named "case.param"), with
 * <failure> for failed, <error> for crashed and <skipped> for skipped
 * cases (their log in the element), and tests, failures, errors, skipped
 * and time counts that add up to the tree's.
 *
 * Returns: 0; -ENODATA before any KTAP was read; -ENOMEM.
 * Since: 0.2
 */
UML_EXPORT int uml_ktap_get_junit(struct uml_ktap *ktap, const char *name, char **ret);

/**
 * uml_ktap_load_json:
 * @text: a results file written by uml_ktap_get_json() or kunit.py --json
 *
 * Replaces the tree of @ktap (which must not have been fed) by the one the
 * JSON describes: names and statuses, no logs.  Used to pick the failed
 * tests of an earlier run.
 *
 * Returns: 0; -EBADMSG for malformed JSON or a different shape (the
 * message says where); -EBUSY if input was fed; -ENOMEM.
 * Since: 0.2
 */
UML_EXPORT int uml_ktap_load_json(struct uml_ktap *ktap, const char *text);

/**
 * uml_ktap_last_error:
 * Returns: the message of the last failure on @ktap, or NULL.
 * Since: 0.2
 */
UML_EXPORT const char *uml_ktap_last_error(struct uml_ktap *ktap);

/* ------------------------------------------------------------------ */
/* KUnit                                                               */
/* ------------------------------------------------------------------ */

/*
 * A struct uml_kunit builds a UML kernel for KUnit the way kunit.py does
 * and runs its tests in parallel guests.
 *
 * Building (uml_kunit_config(), uml_kunit_build()): the .config starts
 * empty (preset "none" of uml_kernel_build_set_preset()) and gets the
 * tree's tools/testing/kunit/configs/arch_uml.config, with --alltests its
 * all_tests.config, the kunitconfig files (without any: BUILD_DIR/
 * .kunitconfig, else the tree's configs/default.config, copied there) and
 * the extra options, in that order; `make olddefconfig` does the rest and
 * every requested option is checked in the result.
 *
 * Running (uml_kunit_run()): the tests are listed once (kunit.action=
 * list_attr, cached per kernel), the selected ones are cut into shards
 * that each one kunit.filter_glob selects exactly (a suite, a test, or
 * names sharing a prefix), balanced by the tests' known durations (from
 * earlier runs, else "speed: slow" attributes), and the shards run in up
 * to uml_kunit_set_parallel() guests at once, heaviest first, each guest
 * with kunit.enable=1 kunit_shutdown=halt, 1 GiB of memory, no disk.  A
 * guest that crashed or timed out costs only the test that was running:
 * that test is run once more alone (its result then stands, with the
 * reason), and the tests after it are run again in new shards.  The
 * results form one struct uml_ktap, as one kunit.py run would have given
 * without the crash.
 */

struct uml_kunit;

/**
 * enum uml_kunit_flags - flags for uml_kunit_set_flags().
 * @UML_KUNIT_ALLTESTS: build with tools/testing/kunit/configs/
 *     all_tests.config first (kunit.py --alltests)
 */
enum uml_kunit_flags {
	UML_KUNIT_ALLTESTS = 1u << 0,
};

/**
 * uml_kunit_new:
 * @ret: the new runner: the source is Debian's
 *       /usr/src/linux-source-6.12.tar.xz, the timeout 300 s (kunit.py's),
 *       as many guests at once as there are CPUs
 * Returns: 0, -EINVAL, -ENOMEM.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_new(struct uml_ctx *ctx, struct uml_kunit **ret);

/** uml_kunit_ref: Returns: @kunit. Since: 0.2 */
UML_EXPORT struct uml_kunit *uml_kunit_ref(struct uml_kunit *kunit);
/**
 * uml_kunit_unref:
 * Drops a reference; with the last one any guest still running is killed.
 * Returns: NULL.
 * Since: 0.2
 */
UML_EXPORT struct uml_kunit *uml_kunit_unref(struct uml_kunit *kunit);

/**
 * uml_kunit_set_source:
 * @path: a Linux source tree or a tarball of one, as for
 *        uml_kernel_build_set_source()
 * Returns: 0, -EINVAL for a NULL or empty @path.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_source(struct uml_kunit *kunit, const char *path);

/**
 * uml_kunit_set_build_dir:
 * @dir: the build directory (kunit.py --build_dir); without one, the
 *       library's cache picks it as for uml_kernel_build_set_build_dir()
 * Returns: 0, -EINVAL.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_build_dir(struct uml_kunit *kunit, const char *dir);

/**
 * uml_kunit_set_cache_dir:
 * @dir: where tarballs are unpacked and test lists and durations are kept
 *       (default as uml_kernel_build_set_cache_dir())
 * Returns: 0, -EINVAL.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_cache_dir(struct uml_kunit *kunit, const char *dir);

/**
 * uml_kunit_set_jobs:
 * @jobs: make -j for builds (kunit.py --jobs); 0 for the CPU count
 * Returns: 0, -ERANGE above 1024.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_jobs(struct uml_kunit *kunit, unsigned jobs);

/**
 * uml_kunit_add_kunitconfig:
 * @path: a kunitconfig fragment, or a directory holding one as
 *        .kunitconfig (kunit.py --kunitconfig, repeatable).  A relative
 *        path is taken from the current directory, else from the source
 *        tree (kunit.py runs in the tree: --kunitconfig=lib/kunit)
 * Returns: 0, -EINVAL.  The file is read by uml_kunit_config().
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_add_kunitconfig(struct uml_kunit *kunit, const char *path);

/**
 * uml_kunit_add_kconfig:
 * @option: one more option, "CONFIG_X=y" (kunit.py --kconfig_add)
 * Returns: 0, -EINVAL for a malformed option.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_add_kconfig(struct uml_kunit *kunit, const char *option);

/**
 * uml_kunit_set_flags:
 * @flags: enum uml_kunit_flags
 * Returns: 0, -EINVAL for unknown bits.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_flags(struct uml_kunit *kunit, unsigned flags);

/**
 * uml_kunit_config:
 * Writes and checks the build dir's .config as described above, without
 * building (kunit.py config).
 *
 * Returns: 0; -ENOENT for a missing kunitconfig (the message names it);
 * -EINVAL for a malformed one, or two that set an option to different
 * values; -ENOTSUP when requested options are not in the final .config
 * (unknown, or unmet dependencies: the message names them); the source
 * and tool errors of uml_kernel_build_run().
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_config(struct uml_kunit *kunit);

/**
 * uml_kunit_build:
 * Configures as uml_kunit_config() and builds the kernel (kunit.py
 * build); a build dir that is up to date runs no make.  Progress goes to
 * the context as for uml_kernel_build_run().  Later runs use this kernel.
 * Returns: 0; the errors of uml_kunit_config() and uml_kernel_build_run().
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_build(struct uml_kunit *kunit);

/**
 * uml_kunit_get_build_dir:
 * Returns: the build dir of the last uml_kunit_config() or
 * uml_kunit_build(), owned by @kunit, or NULL.
 * Since: 0.2
 */
UML_EXPORT const char *uml_kunit_get_build_dir(struct uml_kunit *kunit);

/**
 * uml_kunit_set_kernel:
 * @kernel: a KUnit kernel to run instead of one built here (kunit.py exec
 *          runs BUILD_DIR/linux); @kunit keeps a reference
 * Returns: 0, -EINVAL.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_kernel(struct uml_kunit *kunit, struct uml_kernel *kernel);

/**
 * uml_kunit_set_parallel:
 * @guests: how many guests run at once; 0 for the number of CPUs
 * Returns: 0, -ERANGE above 1024.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_parallel(struct uml_kunit *kunit, unsigned guests);

/**
 * uml_kunit_set_timeout:
 * @timeout_ms: the whole run, listing included (kunit.py --timeout); tests
 *     that have no result by then are crashed with the reason "timed out";
 *     0 for no limit
 * Returns: 0, -ERANGE for a negative value.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_timeout(struct uml_kunit *kunit, int64_t timeout_ms);

/**
 * uml_kunit_set_shard_timeout:
 * @timeout_ms: how long one guest may run; the test it was running counts
 *     as timed out and the tests after it run again; 0 (the default) for
 *     no limit but the run's
 * Returns: 0, -ERANGE for a negative value.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_shard_timeout(struct uml_kunit *kunit, int64_t timeout_ms);

/**
 * uml_kunit_set_filter_glob:
 * @glob: "suite_glob" or "suite_glob.test_glob" as kunit.filter_glob takes
 *        it (kunit.py's filter_glob argument), or NULL for all tests
 * Returns: 0, -EINVAL for white space or control characters.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_filter_glob(struct uml_kunit *kunit, const char *glob);

/**
 * uml_kunit_set_filter:
 * @filter: an attribute filter as kunit.filter takes it (kunit.py
 *          --filter, e.g. "speed>slow"), or NULL
 * Returns: 0, -EINVAL for white space or control characters.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_filter(struct uml_kunit *kunit, const char *filter);

/**
 * uml_kunit_add_kernel_arg:
 * @arg: one more kernel argument for every guest (kunit.py --kernel_args)
 * Returns: 0; -EINVAL as uml_instance_append_arg() refuses it.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_add_kernel_arg(struct uml_kunit *kunit, const char *arg);

/**
 * uml_kunit_set_rerun:
 * @previous: the results of an earlier run (uml_kunit_get_result(), or
 *     uml_ktap_load_json() of a results file), or NULL
 *
 * Makes uml_kunit_run() run only the tests that failed or crashed in
 * @previous (and that the filter glob selects).  @kunit keeps a
 * reference.
 *
 * Returns: 0, -EINVAL.
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_set_rerun(struct uml_kunit *kunit, struct uml_ktap *previous);

/**
 * uml_kunit_list:
 * @ret: the selected tests as "suite.test", in the kernel's order, owned by
 *       @kunit until the next list or run
 * @n: receives their number
 *
 * Lists the tests of the kernel that the filters select, booting it once
 * with kunit.action=list_attr unless the list is cached for this kernel.
 *
 * Returns: 0; -ENOENT without a kernel (no uml_kunit_build() or
 * uml_kunit_set_kernel()); -EIO if the kernel printed no list (the message
 * quotes the end of its console); the errors of uml_instance_boot().
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_list(struct uml_kunit *kunit, const char *const **ret, size_t *n);

/**
 * uml_kunit_run:
 * Runs the selected tests as described above and waits for them.  Reports
 * progress ("kunit", tests done of all) through the context; a progress
 * callback returning non-zero stops the run (its guests are killed).  A
 * test that fails is a result, not an error of this call.
 *
 * Returns: 0 (see uml_kunit_get_result()); -ENOENT without a kernel;
 * -ECANCELED; the errors of uml_kunit_list().
 * Since: 0.2
 */
UML_EXPORT int uml_kunit_run(struct uml_kunit *kunit);

/**
 * uml_kunit_get_result:
 * Returns: the results of the last run, owned by @kunit (take a reference
 * to keep them), or NULL before one.
 * Since: 0.2
 */
UML_EXPORT struct uml_ktap *uml_kunit_get_result(struct uml_kunit *kunit);

/**
 * uml_kunit_get_n_shards:
 * Returns: the number of guests the last run booted (reruns included).
 * Since: 0.2
 */
UML_EXPORT size_t uml_kunit_get_n_shards(struct uml_kunit *kunit);

/**
 * uml_kunit_get_shard_glob:
 * Returns: the kunit.filter_glob of guest @index of the last run, owned by
 * @kunit, or NULL past the end.
 * Since: 0.2
 */
UML_EXPORT const char *uml_kunit_get_shard_glob(struct uml_kunit *kunit, size_t index);

/**
 * uml_kunit_get_shard_output:
 * @len: if not NULL, receives the length
 * Returns: the console output of guest @index of the last run, owned by
 * @kunit, or NULL past the end.
 * Since: 0.2
 */
UML_EXPORT const char *uml_kunit_get_shard_output(struct uml_kunit *kunit, size_t index,
						   size_t *len);

/**
 * uml_kunit_last_error:
 * Returns: the message of the last failure on @kunit, or NULL.
 * Since: 0.2
 */
UML_EXPORT const char *uml_kunit_last_error(struct uml_kunit *kunit);

#ifdef __cplusplus
}
#endif

#endif /* LIBUML_H */

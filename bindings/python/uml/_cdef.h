/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cffi declarations of the public API in include/uml/libuml.h.
 * Plain declarations, no preprocessor: cffi compiles them against the
 * real header (API mode), so types, struct layouts and enum values are
 * checked by the compiler and at import.  Regenerate after a header
 * change with bindings/python/cdefgen.py; the tests fail when the two
 * disagree.
 */
struct uml_ctx;
struct uml_kernel;
struct uml_rootfs;
struct uml_instance;
typedef void (*uml_log_fn)(void *userdata, int priority, const char *msg);

struct uml_progress {
	const char *phase;
	uint64_t done;
	uint64_t total;
};
typedef int (*uml_progress_fn)(void *userdata, const struct uml_progress *p);
int uml_ctx_new(struct uml_ctx **ret);
struct uml_ctx *uml_ctx_ref(struct uml_ctx *ctx);
struct uml_ctx *uml_ctx_unref(struct uml_ctx *ctx);
void uml_ctx_set_log_fn(struct uml_ctx *ctx, uml_log_fn fn, void *userdata);
void uml_ctx_set_log_priority(struct uml_ctx *ctx, int priority);
int uml_ctx_get_log_priority(struct uml_ctx *ctx);
void uml_ctx_set_progress_fn(struct uml_ctx *ctx, uml_progress_fn fn, void *userdata);
int uml_ctx_set_runtime_dir(struct uml_ctx *ctx, const char *dir);
const char *uml_ctx_get_runtime_dir(struct uml_ctx *ctx);

enum uml_hostcompat {
	UML_HOSTCOMPAT_AUTO = 0,
	UML_HOSTCOMPAT_OFF = 1,
	UML_HOSTCOMPAT_FORCE = 2,
};
int uml_ctx_set_hostcompat(struct uml_ctx *ctx, enum uml_hostcompat mode);
int uml_ctx_host_needs_compat(struct uml_ctx *ctx);
const char *uml_ctx_last_error(struct uml_ctx *ctx);
int uml_kernel_new_from_path(struct uml_ctx *ctx, const char *path, struct uml_kernel **ret);
int uml_kernel_new_default(struct uml_ctx *ctx, struct uml_kernel **ret);
struct uml_kernel *uml_kernel_ref(struct uml_kernel *kernel);
struct uml_kernel *uml_kernel_unref(struct uml_kernel *kernel);
const char *uml_kernel_get_path(struct uml_kernel *kernel);
int uml_kernel_get_version(struct uml_kernel *kernel, const char **ret);
int uml_kernel_get_config(struct uml_kernel *kernel, const char *option, const char **ret);
int uml_kernel_is_static(struct uml_kernel *kernel);
const char *uml_kernel_last_error(struct uml_kernel *kernel);

enum uml_fs_type {
	UML_FS_EXT4 = 0,
	UML_FS_EXT3 = 1,
	UML_FS_EXT2 = 2,
};

enum uml_rootfs_create_flags {
	UML_ROOTFS_CREATE_OVERWRITE = 1u << 0,
};
int uml_rootfs_new(struct uml_ctx *ctx, const char *image, struct uml_rootfs **ret);
struct uml_rootfs *uml_rootfs_ref(struct uml_rootfs *rootfs);
struct uml_rootfs *uml_rootfs_unref(struct uml_rootfs *rootfs);
const char *uml_rootfs_get_path(struct uml_rootfs *rootfs);
int uml_rootfs_set_size(struct uml_rootfs *rootfs, uint64_t bytes);
int uml_rootfs_set_fs_type(struct uml_rootfs *rootfs, enum uml_fs_type type);
int uml_rootfs_open(struct uml_rootfs *rootfs);
int uml_rootfs_create_from_dir(struct uml_rootfs *rootfs, const char *dir, unsigned flags);
int uml_rootfs_create_busybox(struct uml_rootfs *rootfs, const char *busybox, unsigned flags);
const char *uml_rootfs_last_error(struct uml_rootfs *rootfs);

enum uml_state {
	UML_STATE_CONFIGURING = 0,
	UML_STATE_BOOTING = 1,
	UML_STATE_RUNNING = 2,
	UML_STATE_EXITED = 3,
};

enum uml_exit_reason {
	UML_EXIT_NONE = 0,
	UML_EXIT_POWEROFF = 1,
	UML_EXIT_HALT = 2,
	UML_EXIT_REBOOT = 3,
	UML_EXIT_PANIC = 4,
	UML_EXIT_KILLED = 5,
	UML_EXIT_TIMEOUT = 6,
	UML_EXIT_FAILED_TO_START = 7,
	UML_EXIT_HOST_INCOMPATIBLE = 8,
	UML_EXIT_NO_INIT = 9,
	UML_EXIT_NO_ROOT = 10,
	UML_EXIT_NO_CONSOLE = 11,
	UML_EXIT_OUT_OF_MEMORY = 12,
	UML_EXIT_CRASHED = 13,
};
const char *uml_exit_reason_to_string(enum uml_exit_reason reason);

enum uml_event_type {
	UML_EVENT_CONSOLE_LINE = 0,
	UML_EVENT_KERNEL_UP = 1,
	UML_EVENT_READY = 2,
	UML_EVENT_NOTIFY = 3,
	UML_EVENT_PANIC = 4,
	UML_EVENT_EXITED = 5,
};

struct uml_event {
	enum uml_event_type type;
	const char *text;
	size_t len;
};
typedef void (*uml_event_fn)(void *userdata, struct uml_instance *inst, const struct uml_event *ev);
int uml_instance_new(struct uml_kernel *kernel, struct uml_instance **ret);
struct uml_instance *uml_instance_ref(struct uml_instance *inst);
struct uml_instance *uml_instance_unref(struct uml_instance *inst);
int uml_instance_set_rootfs(struct uml_instance *inst, struct uml_rootfs *rootfs);
int uml_instance_set_memory(struct uml_instance *inst, uint64_t bytes);
int uml_instance_set_umid(struct uml_instance *inst, const char *umid);
const char *uml_instance_get_umid(struct uml_instance *inst);
int uml_instance_append_arg(struct uml_instance *inst, const char *arg);
int uml_instance_set_init(struct uml_instance *inst, const char *path);
int uml_instance_set_ready_marker(struct uml_instance *inst, const char *text);
int uml_instance_set_timeout(struct uml_instance *inst, int64_t timeout_ms);
int uml_instance_set_run_command(struct uml_instance *inst, const char *command);
void uml_instance_set_event_fn(struct uml_instance *inst, uml_event_fn fn, void *userdata);
const char *const *uml_instance_get_argv(struct uml_instance *inst);
int uml_instance_boot(struct uml_instance *inst);
int uml_instance_get_fd(struct uml_instance *inst);
int uml_instance_get_timeout(struct uml_instance *inst, uint64_t *ret_usec);
int uml_instance_process(struct uml_instance *inst);
int uml_instance_wait_ready(struct uml_instance *inst, int timeout_ms);
int uml_instance_wait(struct uml_instance *inst, int timeout_ms);
int uml_instance_halt(struct uml_instance *inst, int timeout_ms);
int uml_instance_kill(struct uml_instance *inst);
enum uml_state uml_instance_get_state(struct uml_instance *inst);
pid_t uml_instance_get_pid(struct uml_instance *inst);
enum uml_exit_reason uml_instance_get_exit_reason(struct uml_instance *inst);
const char *uml_instance_get_exit_detail(struct uml_instance *inst);
const char *uml_instance_get_panic_message(struct uml_instance *inst);
int uml_instance_get_exit_signal(struct uml_instance *inst);
int uml_instance_get_exit_code(struct uml_instance *inst);
const char *uml_instance_get_console_log(struct uml_instance *inst, size_t *len);
ssize_t uml_instance_write_console(struct uml_instance *inst, const void *data, size_t len);
int uml_instance_get_run_status(struct uml_instance *inst, int *ret);
const char *uml_instance_get_run_output(struct uml_instance *inst, size_t *len);
int uml_instance_get_hostcompat_applied(struct uml_instance *inst);
const char *uml_instance_last_error(struct uml_instance *inst);
static const char *const UML_BUSYBOX_READY_MARKER;

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

enum uml_sandbox_mode {
	UML_SANDBOX_AUTO = 0,
	UML_SANDBOX_OFF = 1,
	UML_SANDBOX_REQUIRE = 2,
};
int uml_ctx_set_sandbox(struct uml_ctx *ctx, enum uml_sandbox_mode mode);
enum uml_sandbox_mode uml_ctx_get_sandbox(struct uml_ctx *ctx);
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
struct uml_kernel_build;

enum uml_kernel_build_flags {
	UML_KERNEL_BUILD_ALLOW_DROPPED = 1u << 0,
	UML_KERNEL_BUILD_FAIL_ON_CONFLICT = 1u << 1,
	UML_KERNEL_BUILD_CONFIGURE_ONLY = 1u << 2,
};
int uml_kernel_build_new(struct uml_ctx *ctx, struct uml_kernel_build **ret);
struct uml_kernel_build *uml_kernel_build_ref(struct uml_kernel_build *build);
struct uml_kernel_build *uml_kernel_build_unref(struct uml_kernel_build *build);
int uml_kernel_build_set_source(struct uml_kernel_build *build, const char *path);
int uml_kernel_build_set_build_dir(struct uml_kernel_build *build, const char *dir);
int uml_kernel_build_set_cache_dir(struct uml_kernel_build *build, const char *dir);
int uml_kernel_build_set_jobs(struct uml_kernel_build *build, unsigned jobs);
int uml_kernel_build_set_preset(struct uml_kernel_build *build, const char *name);
const char *uml_kernel_build_get_preset_text(const char *name);
int uml_kernel_build_add_fragment_file(struct uml_kernel_build *build, const char *path);
int uml_kernel_build_add_option(struct uml_kernel_build *build, const char *option);
int uml_kernel_build_set_flags(struct uml_kernel_build *build, unsigned flags);
int uml_kernel_build_run(struct uml_kernel_build *build, struct uml_kernel **ret);
int uml_kernel_build_get_source_tree(struct uml_kernel_build *build, const char **ret);
const char *uml_kernel_build_get_build_dir(struct uml_kernel_build *build);
const char *uml_kernel_build_get_kernel_path(struct uml_kernel_build *build);
const char *uml_kernel_build_get_log_path(struct uml_kernel_build *build);
const char *uml_kernel_build_get_dropped_options(struct uml_kernel_build *build);
const char *uml_kernel_build_get_conflicts(struct uml_kernel_build *build);
int uml_kernel_build_was_up_to_date(struct uml_kernel_build *build);
const char *uml_kernel_build_last_error(struct uml_kernel_build *build);

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

enum uml_rootfs_copy_flags {
	UML_ROOTFS_COPY_OVERWRITE = 1u << 0,
};
int uml_rootfs_copy_in(struct uml_rootfs *rootfs, const char *host_src, const char *guest_dst, unsigned flags);
int uml_rootfs_read_file(struct uml_rootfs *rootfs, const char *guest_path, char **data, size_t *len);

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
int uml_rootfs_list_dir(struct uml_rootfs *rootfs, const char *guest_path, const struct uml_rootfs_entry **ret, size_t *n);
int uml_rootfs_remove(struct uml_rootfs *rootfs, const char *guest_path);
int uml_rootfs_resize(struct uml_rootfs *rootfs, uint64_t new_size);
int uml_rootfs_new_cow(struct uml_rootfs *backing, const char *cow_path, unsigned flags, struct uml_rootfs **ret);
int uml_rootfs_open_cow(struct uml_ctx *ctx, const char *cow_path, struct uml_rootfs **ret);
const char *uml_rootfs_get_backing(struct uml_rootfs *rootfs);
int uml_rootfs_cow_check(struct uml_rootfs *cow);
int uml_rootfs_cow_get_written(struct uml_rootfs *cow, uint64_t *ret_bytes);
int uml_rootfs_cow_merge(struct uml_rootfs *cow, const char *out_image, unsigned flags);

enum uml_rootfs_debootstrap_flags {
	UML_ROOTFS_DEBOOTSTRAP_REFRESH = 1u << 8,
	UML_ROOTFS_DEBOOTSTRAP_NO_CONFIGURE = 1u << 9,
};
int uml_rootfs_set_mirror(struct uml_rootfs *rootfs, const char *url);
const char *uml_rootfs_get_mirror(struct uml_rootfs *rootfs);
int uml_rootfs_set_arch(struct uml_rootfs *rootfs, const char *arch);
int uml_rootfs_set_variant(struct uml_rootfs *rootfs, const char *variant);
int uml_rootfs_add_package(struct uml_rootfs *rootfs, const char *name);
int uml_rootfs_set_cache_dir(struct uml_rootfs *rootfs, const char *dir);
int uml_rootfs_create_debootstrap(struct uml_rootfs *rootfs, const char *suite, unsigned flags);
int uml_rootfs_debootstrap_was_cached(struct uml_rootfs *rootfs);

enum uml_init_system {
	UML_INIT_UNKNOWN = 0,
	UML_INIT_SYSTEMD = 1,
	UML_INIT_SYSVINIT = 2,
	UML_INIT_UPSTART = 3,
	UML_INIT_BUSYBOX = 4,
};
const char *uml_init_system_to_string(enum uml_init_system init);
int uml_rootfs_set_hostname(struct uml_rootfs *rootfs, const char *name);
int uml_rootfs_set_network(struct uml_rootfs *rootfs, const char *spec);
int uml_rootfs_set_root_password(struct uml_rootfs *rootfs, const char *password);
int uml_rootfs_set_autologin(struct uml_rootfs *rootfs, int enable);
int uml_rootfs_set_init(struct uml_rootfs *rootfs, enum uml_init_system init);
int uml_rootfs_configure(struct uml_rootfs *rootfs, unsigned flags);
int uml_rootfs_get_init_system(struct uml_rootfs *rootfs, enum uml_init_system *ret);

enum uml_rootfs_mount_flags {
	UML_ROOTFS_MOUNT_READONLY = 1u << 0,
	UML_ROOTFS_MOUNT_NOEXEC = 1u << 1,
};
int uml_rootfs_mount(struct uml_rootfs *rootfs, const char *mountpoint, unsigned flags);
const char *uml_rootfs_get_mountpoint(struct uml_rootfs *rootfs);
int uml_rootfs_umount(struct uml_rootfs *rootfs);

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
	UML_EVENT_CONSOLE_OUTPUT = 6,
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
int uml_instance_set_boot_profile(struct uml_instance *inst, int enable);
int uml_instance_set_init(struct uml_instance *inst, const char *path);
int uml_instance_set_ready_marker(struct uml_instance *inst, const char *text);
int uml_instance_set_timeout(struct uml_instance *inst, int64_t timeout_ms);
int uml_instance_set_sandbox(struct uml_instance *inst, enum uml_sandbox_mode mode);
int uml_instance_get_sandboxed(struct uml_instance *inst);
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
int uml_ctx_mconsole(struct uml_ctx *ctx, const char *umid, const char *command, int timeout_ms, char **reply, size_t *reply_len);
int uml_instance_mconsole(struct uml_instance *inst, const char *command, char **reply, size_t *reply_len);
int uml_instance_mconsole_version(struct uml_instance *inst, char **ret);
int uml_instance_mconsole_help(struct uml_instance *inst, char **ret);
int uml_instance_mconsole_halt(struct uml_instance *inst);
int uml_instance_mconsole_reboot(struct uml_instance *inst);
int uml_instance_mconsole_cad(struct uml_instance *inst);
int uml_instance_mconsole_stop(struct uml_instance *inst);
int uml_instance_mconsole_go(struct uml_instance *inst);
int uml_instance_mconsole_sysrq(struct uml_instance *inst, char key, char **output);
int uml_instance_mconsole_log(struct uml_instance *inst, const char *text);
int uml_instance_mconsole_proc(struct uml_instance *inst, const char *path, char **data, size_t *len);
int uml_instance_mconsole_stack(struct uml_instance *inst, pid_t pid, char **output);
int uml_instance_mconsole_config(struct uml_instance *inst, const char *spec);
int uml_instance_mconsole_config_get(struct uml_instance *inst, const char *dev, char **ret);
int uml_instance_mconsole_remove(struct uml_instance *inst, const char *dev);

enum uml_disk_live_flags {
	UML_DISK_LIVE_READONLY = 1u << 0,
};
int uml_instance_add_disk_live(struct uml_instance *inst, unsigned index, const char *image, unsigned flags);
int uml_instance_remove_disk_live(struct uml_instance *inst, unsigned index);
struct uml_exec;
int uml_instance_enable_exec(struct uml_instance *inst);

enum uml_hostfs_flags {
	UML_HOSTFS_READONLY = 1u << 0,
};
int uml_instance_add_hostfs(struct uml_instance *inst, const char *host_dir, const char *guest_path, unsigned flags);
int uml_instance_exec(struct uml_instance *inst, const char *const *argv, const void *stdin_data, size_t stdin_len, int timeout_ms, struct uml_exec **ret);
struct uml_exec *uml_exec_ref(struct uml_exec *exec);
struct uml_exec *uml_exec_unref(struct uml_exec *exec);
int uml_exec_get_status(struct uml_exec *exec);
int uml_exec_get_signal(struct uml_exec *exec);
int uml_exec_get_timed_out(struct uml_exec *exec);
const char *uml_exec_get_stdout(struct uml_exec *exec, size_t *len);
const char *uml_exec_get_stderr(struct uml_exec *exec, size_t *len);
int uml_ctx_exec(struct uml_ctx *ctx, const char *umid, const char *const *argv, const void *stdin_data, size_t stdin_len, int timeout_ms, struct uml_exec **ret);
int uml_instance_copy_in(struct uml_instance *inst, const char *host_path, const char *guest_path);
int uml_instance_copy_out(struct uml_instance *inst, const char *guest_path, const char *host_path);
struct uml_link;
struct uml_switch;

enum uml_tap_flags {
	UML_TAP_CREATE = 1u << 0,
};
int uml_instance_add_nat(struct uml_instance *inst, unsigned *ret_index);

enum uml_nat_flags {
	UML_NAT_IPV6 = 1u << 0,
	UML_NAT_RESTRICT = 1u << 1,
	UML_NAT_NO_HOST_LOOPBACK = 1u << 2,
};
int uml_instance_add_nat_with_flags(struct uml_instance *inst, unsigned flags, unsigned *ret_index);
int uml_instance_set_nat_memory_limit(struct uml_instance *inst, unsigned iface, uint64_t bytes);

enum uml_fwd_proto {
	UML_FWD_TCP = 0,
	UML_FWD_UDP = 1,
};
int uml_instance_add_port_forward(struct uml_instance *inst, unsigned iface, enum uml_fwd_proto proto, const char *host_addr, unsigned host_port, unsigned guest_port, unsigned *ret_index);
int uml_instance_remove_port_forward(struct uml_instance *inst, unsigned iface, enum uml_fwd_proto proto, const char *host_addr, unsigned host_port);
int uml_instance_list_port_forwards(struct uml_instance *inst, unsigned iface, unsigned *ret_count);
int uml_instance_get_port_forward(struct uml_instance *inst, unsigned iface, unsigned index, enum uml_fwd_proto *proto, const char **host_addr, unsigned *host_port, unsigned *guest_port);
int uml_instance_add_guest_forward(struct uml_instance *inst, unsigned iface, const char *guest_addr, unsigned guest_port, const char *host, unsigned host_port);
int uml_ctx_add_port_forward(struct uml_ctx *ctx, const char *umid, enum uml_fwd_proto proto, const char *host_addr, unsigned host_port, unsigned guest_port, unsigned *ret_host_port);
int uml_ctx_remove_port_forward(struct uml_ctx *ctx, const char *umid, enum uml_fwd_proto proto, const char *host_addr, unsigned host_port);
int uml_ctx_list_port_forwards(struct uml_ctx *ctx, const char *umid, char **ret);
int uml_link_new(struct uml_ctx *ctx, struct uml_link **ret);
struct uml_link *uml_link_ref(struct uml_link *link);
struct uml_link *uml_link_unref(struct uml_link *link);
int uml_instance_add_link(struct uml_instance *inst, struct uml_link *link, unsigned *ret_index);
int uml_switch_new(struct uml_ctx *ctx, const char *name, struct uml_switch **ret);
struct uml_switch *uml_switch_ref(struct uml_switch *sw);
struct uml_switch *uml_switch_unref(struct uml_switch *sw);
int uml_switch_start(struct uml_switch *sw);
const char *uml_switch_get_path(struct uml_switch *sw);
pid_t uml_switch_get_pid(struct uml_switch *sw);
const char *uml_switch_last_error(struct uml_switch *sw);
int uml_instance_add_switch_port(struct uml_instance *inst, struct uml_switch *sw, unsigned *ret_index);
int uml_instance_add_tap(struct uml_instance *inst, const char *dev, unsigned flags, unsigned *ret_index);
int uml_instance_set_iface_mac(struct uml_instance *inst, unsigned index, const char *mac);
int uml_instance_set_iface_address(struct uml_instance *inst, unsigned index, const char *address, const char *gateway);
int uml_instance_set_dns(struct uml_instance *inst, const char *server);
unsigned uml_instance_get_iface_count(struct uml_instance *inst);
const char *uml_instance_get_iface_name(struct uml_instance *inst, unsigned index);
const char *uml_instance_get_iface_mac(struct uml_instance *inst, unsigned index);
int uml_instance_remove_iface(struct uml_instance *inst, unsigned index);
struct uml_ktap;
struct uml_ktap_test;

enum uml_ktap_status {
	UML_KTAP_PASS = 0,
	UML_KTAP_FAIL = 1,
	UML_KTAP_SKIP = 2,
	UML_KTAP_CRASHED = 3,
	UML_KTAP_NO_TESTS = 4,
	UML_KTAP_NO_KTAP = 5,
};

enum uml_ktap_count {
	UML_KTAP_COUNT_PASSED = 0,
	UML_KTAP_COUNT_FAILED = 1,
	UML_KTAP_COUNT_CRASHED = 2,
	UML_KTAP_COUNT_SKIPPED = 3,
	UML_KTAP_COUNT_ERRORS = 4,
};

enum uml_ktap_event_type {
	UML_KTAP_EVENT_LINE = 0,
	UML_KTAP_EVENT_SUITE_START = 1,
	UML_KTAP_EVENT_TEST_END = 2,
	UML_KTAP_EVENT_ERROR = 3,
};

struct uml_ktap_event {
	enum uml_ktap_event_type type;
	const struct uml_ktap_test *test;
	const char *text;
	unsigned depth;
};
typedef void (*uml_ktap_event_fn)(void *userdata, const struct uml_ktap_event *ev);

enum uml_ktap_flags {
	UML_KTAP_LIVE = 1u << 0,
};
int uml_ktap_new(struct uml_ctx *ctx, struct uml_ktap **ret);
struct uml_ktap *uml_ktap_ref(struct uml_ktap *ktap);
struct uml_ktap *uml_ktap_unref(struct uml_ktap *ktap);
int uml_ktap_set_flags(struct uml_ktap *ktap, unsigned flags);
void uml_ktap_set_event_fn(struct uml_ktap *ktap, uml_ktap_event_fn fn, void *userdata);
int uml_ktap_feed(struct uml_ktap *ktap, const void *data, size_t len);
int uml_ktap_finish(struct uml_ktap *ktap);
const struct uml_ktap_test *uml_ktap_get_root(struct uml_ktap *ktap);
enum uml_ktap_status uml_ktap_get_status(struct uml_ktap *ktap);
int uml_ktap_get_truncated(struct uml_ktap *ktap);
const char *uml_ktap_status_to_string(enum uml_ktap_status status);
const char *uml_ktap_test_get_name(const struct uml_ktap_test *test);
enum uml_ktap_status uml_ktap_test_get_status(const struct uml_ktap_test *test);
uint64_t uml_ktap_test_get_count(const struct uml_ktap_test *test, enum uml_ktap_count which);
int64_t uml_ktap_test_get_expected(const struct uml_ktap_test *test);
size_t uml_ktap_test_get_n_subtests(const struct uml_ktap_test *test);
const struct uml_ktap_test *uml_ktap_test_get_subtest(const struct uml_ktap_test *test, size_t index);
const struct uml_ktap_test *uml_ktap_test_get_parent(const struct uml_ktap_test *test);
size_t uml_ktap_test_get_n_log(const struct uml_ktap_test *test);
const char *uml_ktap_test_get_log(const struct uml_ktap_test *test, size_t index);
int64_t uml_ktap_test_get_duration_us(const struct uml_ktap_test *test);
const char *uml_ktap_test_get_reason(const struct uml_ktap_test *test);
int uml_ktap_get_json(struct uml_ktap *ktap, const char *arch, const char *defconfig, const char *build_dir, char **ret);
int uml_ktap_get_junit(struct uml_ktap *ktap, const char *name, char **ret);
int uml_ktap_load_json(struct uml_ktap *ktap, const char *text);
const char *uml_ktap_last_error(struct uml_ktap *ktap);
struct uml_kunit;

enum uml_kunit_flags {
	UML_KUNIT_ALLTESTS = 1u << 0,
};
int uml_kunit_new(struct uml_ctx *ctx, struct uml_kunit **ret);
struct uml_kunit *uml_kunit_ref(struct uml_kunit *kunit);
struct uml_kunit *uml_kunit_unref(struct uml_kunit *kunit);
int uml_kunit_set_source(struct uml_kunit *kunit, const char *path);
int uml_kunit_set_build_dir(struct uml_kunit *kunit, const char *dir);
int uml_kunit_set_cache_dir(struct uml_kunit *kunit, const char *dir);
int uml_kunit_set_jobs(struct uml_kunit *kunit, unsigned jobs);
int uml_kunit_add_kunitconfig(struct uml_kunit *kunit, const char *path);
int uml_kunit_add_kconfig(struct uml_kunit *kunit, const char *option);
int uml_kunit_set_flags(struct uml_kunit *kunit, unsigned flags);
int uml_kunit_config(struct uml_kunit *kunit);
int uml_kunit_build(struct uml_kunit *kunit);
const char *uml_kunit_get_build_dir(struct uml_kunit *kunit);
int uml_kunit_set_kernel(struct uml_kunit *kunit, struct uml_kernel *kernel);
int uml_kunit_set_parallel(struct uml_kunit *kunit, unsigned guests);
int uml_kunit_set_timeout(struct uml_kunit *kunit, int64_t timeout_ms);
int uml_kunit_set_shard_timeout(struct uml_kunit *kunit, int64_t timeout_ms);
int uml_kunit_set_filter_glob(struct uml_kunit *kunit, const char *glob);
int uml_kunit_set_filter(struct uml_kunit *kunit, const char *filter);
int uml_kunit_add_kernel_arg(struct uml_kunit *kunit, const char *arg);
int uml_kunit_set_rerun(struct uml_kunit *kunit, struct uml_ktap *previous);
int uml_kunit_list(struct uml_kunit *kunit, const char *const **ret, size_t *n);
int uml_kunit_run(struct uml_kunit *kunit);
struct uml_ktap *uml_kunit_get_result(struct uml_kunit *kunit);
size_t uml_kunit_get_n_shards(struct uml_kunit *kunit);
const char *uml_kunit_get_shard_glob(struct uml_kunit *kunit, size_t index);
const char *uml_kunit_get_shard_output(struct uml_kunit *kunit, size_t index, size_t *len);
const char *uml_kunit_last_error(struct uml_kunit *kunit);
static const char *const UML_BUSYBOX_READY_MARKER;
static const int UML_MCONSOLE_TIMEOUT_MS;

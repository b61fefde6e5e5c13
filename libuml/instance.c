/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A guest: configuration -> argv -> process -> console, notify, exit reason.
 *
 * Channels of a running guest, all in one epoll set the caller can poll:
 *   pidfd       the kernel process ended
 *   console     host end of a socketpair wired to con0 (output and input)
 *   stdio       a pipe with the kernel process's own stdout and stderr
 *   notify      a datagram socket given as mconsole=notify: (kernel up,
 *               panic text, guest writes to /proc/mconsole)
 * plus whatever fds the guest's parts watch (instance-internal.h).
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libmount.h>

#include "host.h"
#include "instance-internal.h"
#include "mconsole-proto.h"

#define DEFAULT_MEMORY (64ull << 20)
#define MIN_MEMORY (16ull << 20)
#define MAX_MEMORY (1ull << 40)
#define MAX_ARGS_BYTES 4096
#define MAX_UMID 63
#define CONSOLE_LOG_MAX (8u << 20)
#define DEFAULT_HALT_STEP_MS 5000
#define MCONSOLE_TIMEOUT_MS 2000
/* where a sandboxed kernel finds its runtime dir and the notify socket */
#define SANDBOX_RUNTIME_DIR "/run/uml"
#define SANDBOX_NOTIFY "/run/uml-notify"

/*
 * Kernel arguments libuml relies on; callers use the setters instead.  A
 * trailing '#' stands for a unit number (eth0=, vec1: ...).
 */
static const char *const reserved_args[] = {
	"mem=", "ubd", "umid=", "uml_dir=", "con=", "con0=", "ssl=", "ssl0=", "ssl1=",
	"mconsole=", "root=", "init=", "initrd=", "rdinit=", "hostfs=", "libuml.", "eth#",
	"vec#",
};

static bool is_reserved_arg(const char *arg)
{
	for (size_t i = 0; i < ARRAY_SIZE(reserved_args); i++) {
		const char *r = reserved_args[i];
		size_t n = strlen(r);

		if (r[n - 1] == '#' ? strncmp(arg, r, n - 1) == 0 &&
				      arg[n - 1] >= '0' && arg[n - 1] <= '9' :
				      strncmp(arg, r, n) == 0)
			return true;
	}
	return false;
}

UML_EXPORT int uml_instance_new(struct uml_kernel *kernel, struct uml_instance **ret)
{
	struct uml_instance *inst;
	char id[13];

	if (!kernel || !ret)
		return -EINVAL;
	if (uml_random_hex(id, 12) < 0)
		return -EIO;
	inst = calloc(1, sizeof(*inst));
	if (!inst)
		return -ENOMEM;
	inst->refcount = 1;
	inst->ctx = uml_ctx_ref(uml_kernel_get_ctx(kernel));
	inst->kernel = uml_kernel_ref(kernel);
	inst->memory = DEFAULT_MEMORY;
	inst->proc.pidfd = inst->proc.watchdog_fd = -1;
	inst->epfd = inst->console_fd = inst->stdio_fd = inst->notify_fd = -1;
	inst->keeper.sock = -1;
	inst->exit_code = -1;
	if (asprintf(&inst->umid, "uml-%s", id) < 0) {
		inst->umid = NULL;
		uml_instance_unref(inst);
		return -ENOMEM;
	}
	*ret = inst;
	return 0;
}

static void stop_and_reap(struct uml_instance *inst);

static void instance_free(struct uml_instance *inst)
{
	stop_and_reap(inst);
	for (size_t i = 0; i < inst->n_parts; i++)
		if (inst->parts[i].ops->free)
			inst->parts[i].ops->free(inst->parts[i].data);
	free(inst->parts);
	uml_strv_free(&inst->args);
	uml_strv_free_array(inst->argv);
	free(inst->umid);
	free(inst->init);
	free(inst->ready_marker);
	free(inst->marker);
	free(inst->end_line);
	free(inst->panic_message);
	free(inst->last_error);
	uml_buf_free(&inst->console_log);
	uml_buf_free(&inst->console_out);
	uml_buf_free(&inst->console_lines.partial);
	uml_buf_free(&inst->stdio_lines.partial);
	uml_rootfs_unref(inst->rootfs);
	uml_kernel_unref(inst->kernel);
	uml_ctx_unref(inst->ctx);
	free(inst);
}

UML_DEFINE_REF_UNREF(uml_instance, uml_instance, instance_free)

/* ---- parts ---------------------------------------------------------------- */

int uml_instance_add_part(struct uml_instance *inst, const struct uml_part_ops *ops, void *data)
{
	struct uml_part *p = realloc(inst->parts, (inst->n_parts + 1) * sizeof(*p));

	if (!p) {
		if (ops->free)
			ops->free(data);
		return -ENOMEM;
	}
	inst->parts = p;
	inst->parts[inst->n_parts++] = (struct uml_part){ .ops = ops, .data = data };
	return 0;
}

void *uml_instance_get_part(struct uml_instance *inst, const struct uml_part_ops *ops)
{
	for (size_t i = 0; i < inst->n_parts; i++)
		if (inst->parts[i].ops == ops)
			return inst->parts[i].data;
	return NULL;
}

void uml_instance_remove_part(struct uml_instance *inst, const struct uml_part_ops *ops)
{
	for (size_t i = 0; i < inst->n_parts; i++) {
		if (inst->parts[i].ops != ops)
			continue;
		if (ops->free)
			ops->free(inst->parts[i].data);
		memmove(inst->parts + i, inst->parts + i + 1,
			(inst->n_parts - i - 1) * sizeof(*inst->parts));
		inst->n_parts--;
		return;
	}
}

/* Every part of inst (parts is NULL until the first is added, and NULL + 0 is undefined). */
#define FOR_PARTS(inst, p) \
	for (struct uml_part *p = (inst)->parts, *p##_end_ = p ? p + (inst)->n_parts : NULL; \
	     p && p < p##_end_; p++)

/* Calls run_prologue on every part that has it; stops at the first negative return. */
int uml_instance_run_prologue(struct uml_instance *inst, struct uml_buf *script)
{
	FOR_PARTS(inst, p) {
		int r = p->ops->run_prologue ? p->ops->run_prologue(inst, p->data, script) : 0;

		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- simple getters -------------------------------------------------------- */

UML_DEFINE_GETTER(const char *, uml_instance_last_error, uml_instance, p->last_error, NULL)
UML_DEFINE_GETTER(const char *, uml_instance_get_umid, uml_instance, p->umid, NULL)
UML_DEFINE_GETTER(enum uml_state, uml_instance_get_state, uml_instance, p->state,
		  UML_STATE_CONFIGURING)
UML_DEFINE_GETTER(pid_t, uml_instance_get_pid, uml_instance,
		  uml_instance_running(p) ? p->proc.pid : 0, 0)
UML_DEFINE_GETTER(enum uml_exit_reason, uml_instance_get_exit_reason, uml_instance, p->reason,
		  UML_EXIT_NONE)
UML_DEFINE_GETTER(const char *, uml_instance_get_exit_detail, uml_instance, p->end_line, NULL)
UML_DEFINE_GETTER(const char *, uml_instance_get_panic_message, uml_instance, p->panic_message,
		  NULL)
UML_DEFINE_GETTER(int, uml_instance_get_exit_signal, uml_instance, p->exit_signal, 0)
UML_DEFINE_GETTER(int, uml_instance_get_exit_code, uml_instance, p->exit_code, -1)
UML_DEFINE_GETTER(int, uml_instance_get_hostcompat_applied, uml_instance,
		  p->hostcompat_applied ? 1 : 0, 0)

bool uml_instance_running(struct uml_instance *inst)
{
	return inst->state == UML_STATE_BOOTING || inst->state == UML_STATE_RUNNING;
}

/* ---- configuration ------------------------------------------------------ */

int uml_instance_check_configuring(struct uml_instance *inst, const char *what)
{
	if (inst->state != UML_STATE_CONFIGURING)
		return ifail(inst, -EBUSY, "cannot %s for guest '%s': it was booted already",
			     what, inst->umid);
	return 0;
}

UML_EXPORT int uml_instance_set_rootfs(struct uml_instance *inst, struct uml_rootfs *rootfs)
{
	int r;

	if (!inst || !rootfs)
		return -EINVAL;
	r = uml_instance_check_configuring(inst, "set the root disk");
	if (r < 0)
		return r;
	uml_rootfs_unref(inst->rootfs);
	inst->rootfs = uml_rootfs_ref(rootfs);
	return 0;
}

UML_EXPORT int uml_instance_set_memory(struct uml_instance *inst, uint64_t bytes)
{
	int r;

	if (!inst)
		return -EINVAL;
	r = uml_instance_check_configuring(inst, "set the memory size");
	if (r < 0)
		return r;
	if (bytes < MIN_MEMORY || bytes > MAX_MEMORY || bytes % (1u << 20))
		return ifail(inst, -ERANGE,
			     "memory size %" PRIu64 " bytes is out of range (16 MiB to 1 TiB, "
			     "whole MiB)", bytes);
	inst->memory = bytes;
	return 0;
}

static int check_umid(struct uml_instance *inst, const char *umid)
{
	const char *dir = uml_ctx_get_runtime_dir(inst->ctx);
	size_t len = strlen(umid);

	if (len == 0)
		return ifail(inst, -EINVAL, "umid is empty");
	if (len > MAX_UMID)
		return ifail(inst, -EINVAL, "umid '%.20s...' is longer than %d characters",
			     umid, MAX_UMID);
	if (strcmp(umid, ".") == 0 || strcmp(umid, "..") == 0)
		return ifail(inst, -EINVAL, "umid '%s' is not a name", umid);
	if (!uml_valid_name(umid, MAX_UMID))
		return ifail(inst, -EINVAL,
			     "umid '%s' has a character outside [A-Za-z0-9._-] (no '/' or spaces)",
			     umid);
	if (strlen(dir) + 1 + len + sizeof("/mconsole") > sizeof(((struct sockaddr_un *)0)->sun_path))
		return ifail(inst, -ENAMETOOLONG,
			     "umid '%s' under runtime dir '%s' makes a socket path too long",
			     umid, dir);
	return 0;
}

UML_EXPORT int uml_instance_set_umid(struct uml_instance *inst, const char *umid)
{
	int r;

	if (!inst || !umid)
		return -EINVAL;
	r = uml_instance_check_configuring(inst, "set the umid");
	if (r < 0)
		return r;
	r = check_umid(inst, umid);
	if (r < 0)
		return r;
	return uml_set_string(&inst->umid, umid);
}

UML_EXPORT int uml_instance_append_arg(struct uml_instance *inst, const char *arg)
{
	size_t total = 0;
	int r;

	if (!inst || !arg)
		return -EINVAL;
	r = uml_instance_check_configuring(inst, "add kernel arguments");
	if (r < 0)
		return r;
	if (!*arg)
		return ifail(inst, -EINVAL, "kernel argument is empty");
	if (uml_has_space_or_ctrl(arg))
		return ifail(inst, -EINVAL,
			     "kernel argument '%s' has white space or a control character; "
			     "it would split the command line", arg);
	if (is_reserved_arg(arg))
		return ifail(inst, -EINVAL,
			     "kernel argument '%s' is set by libuml; use its setter", arg);
	for (size_t i = 0; i < inst->args.n; i++)
		total += strlen(inst->args.v[i]) + 1;
	if (total + strlen(arg) + 1 > MAX_ARGS_BYTES)
		return ifail(inst, -E2BIG, "kernel arguments exceed %d bytes", MAX_ARGS_BYTES);
	return uml_strv_add(&inst->args, arg);
}

UML_EXPORT int uml_instance_set_init(struct uml_instance *inst, const char *path)
{
	int r;

	if (!inst)
		return -EINVAL;
	r = uml_instance_check_configuring(inst, "set init");
	if (r < 0)
		return r;
	if (path && (path[0] != '/' || uml_has_space_or_ctrl(path)))
		return ifail(inst, -EINVAL,
			     "init '%s' must be an absolute path without white space", path);
	return uml_set_string(&inst->init, path);
}

UML_EXPORT int uml_instance_set_ready_marker(struct uml_instance *inst, const char *text)
{
	int r;

	if (!inst)
		return -EINVAL;
	r = uml_instance_check_configuring(inst, "set the ready marker");
	if (r < 0)
		return r;
	if (text && (!*text || strpbrk(text, "\r\n")))
		return ifail(inst, -EINVAL, "ready marker must be a non-empty text on one line");
	return uml_set_string(&inst->ready_marker, text);
}

UML_EXPORT int uml_instance_set_timeout(struct uml_instance *inst, int64_t timeout_ms)
{
	if (!inst)
		return -EINVAL;
	if (timeout_ms < 0)
		return ifail(inst, -ERANGE, "timeout %" PRId64 " ms is negative", timeout_ms);
	inst->timeout_ms = timeout_ms;
	if (uml_instance_running(inst))
		inst->deadline_usec = timeout_ms ? uml_now_usec() + (uint64_t)timeout_ms * 1000u : 0;
	return 0;
}

UML_EXPORT void uml_instance_set_event_fn(struct uml_instance *inst, uml_event_fn fn,
					  void *userdata)
{
	if (!inst)
		return;
	inst->event_fn = fn;
	inst->event_data = userdata;
}

/* ---- the launch: argv, environment, fds ------------------------------------ */

static void launch_free(struct uml_launch *l)
{
	uml_strv_free(&l->args);
	uml_strv_free(&l->env);
	uml_strv_free(&l->cleanup);
	uml_intv_free(&l->keep_fds);
	uml_sandbox_free(l->sandbox);
	l->sandbox = NULL;
}

int uml_launch_add_path(struct uml_launch *l, const char *path, unsigned flags)
{
	return l->sandbox ? uml_sandbox_add_path(l->sandbox, path, flags) : 0;
}

void uml_launch_use_host_network(struct uml_launch *l)
{
	if (l->sandbox)
		uml_sandbox_set_host_network(l->sandbox);
}

static bool has_arg(struct uml_instance *inst, const char *prefix)
{
	for (size_t i = 0; i < inst->args.n; i++)
		if (strncmp(inst->args.v[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/*
 * Asks every part for its share of the launch, then writes the kernel's
 * argv: its own arguments, the parts', the caller's.  console_fd < 0 and
 * l->dry_run: placeholders for what boot would create.
 */
static int build_argv(struct uml_instance *inst, struct uml_launch *l, int console_fd,
		      char ***ret)
{
	const char *dir = uml_ctx_get_runtime_dir(inst->ctx);
	struct uml_strv argv = { 0 };
	_cleanup_(uml_freep) char *ubd = NULL;
	int r = 0;

	l->init = inst->init;
	l->ready_marker = inst->ready_marker ? inst->ready_marker :
			  inst->rootfs ? uml_rootfs_get_ready_marker(inst->rootfs) : NULL;
	/* saves its init a remount (a process) before the guest is ready */
	l->root_rw = inst->rootfs && uml_rootfs_get_root_rw(inst->rootfs);
	FOR_PARTS(inst, p) {
		r = p->ops->launch ? p->ops->launch(inst, p->data, l) : 0;
		if (r < 0)
			return r;
	}

	r |= uml_strv_add(&argv, uml_kernel_get_path(inst->kernel));
	r |= uml_strv_addf(&argv, "mem=%" PRIu64 "M", inst->memory >> 20);
	if (inst->rootfs) {
		ubd = uml_rootfs_ubd_spec(inst->rootfs);
		r |= ubd ? uml_strv_addf(&argv, "ubd0=%s", ubd) : -ENOMEM;
		r |= uml_strv_add(&argv, "root=/dev/ubda");
		if (l->root_rw)
			r |= uml_strv_add(&argv, "rw");
	}
	r |= uml_strv_addf(&argv, "umid=%s", inst->umid);
	/* a sandboxed kernel finds its runtime files where its sandbox binds them */
	if (inst->sandboxed)
		r |= uml_strv_add(&argv, "uml_dir=" SANDBOX_RUNTIME_DIR);
	else
		r |= uml_strv_addf(&argv, "uml_dir=%s", dir);
	/* every other console and serial line goes nowhere (never an xterm) */
	r |= uml_strv_add(&argv, "con=null");
	r |= uml_strv_add(&argv, "ssl=null");
	if (console_fd >= 0)
		r |= uml_strv_addf(&argv, "con0=fd:%d,fd:%d", console_fd, console_fd);
	else
		r |= uml_strv_add(&argv, "con0=fd:N,fd:N");
	if (inst->sandboxed)
		r |= uml_strv_add(&argv, "mconsole=notify:" SANDBOX_NOTIFY);
	else
		r |= uml_strv_addf(&argv, "mconsole=notify:%s/.%s.notify", dir, inst->umid);
	if (l->init)
		r |= uml_strv_addf(&argv, "init=%s", l->init);
	/* skip the ~90 ms delay-loop calibration unless the caller chose a value */
	if (!has_arg(inst, "lpj=") && uml_ctx_get_lpj(inst->ctx))
		r |= uml_strv_addf(&argv, "lpj=%lu", uml_ctx_get_lpj(inst->ctx));
	r |= uml_boot_profile_args(inst, &argv);
	for (size_t i = 0; i < l->args.n; i++)
		r |= uml_strv_add(&argv, l->args.v[i]);
	for (size_t i = 0; i < inst->args.n; i++)
		r |= uml_strv_add(&argv, inst->args.v[i]);
	if (r < 0) {
		uml_strv_free(&argv);
		return -ENOMEM;
	}
	*ret = argv.v;
	return 0;
}

UML_EXPORT const char *const *uml_instance_get_argv(struct uml_instance *inst)
{
	struct uml_launch l = { 0 };
	char **argv;
	int r;

	if (!inst)
		return NULL;
	l.dry_run = !uml_instance_running(inst);
	r = build_argv(inst, &l, inst->console_fd, &argv);
	launch_free(&l);
	if (r < 0) {
		if (r == -ENOMEM)
			ifail(inst, r, "out of memory building the kernel command line");
		return NULL;
	}
	uml_strv_free_array(inst->argv);
	inst->argv = argv;
	return (const char *const *)argv;
}

static bool want_hostcompat(struct uml_instance *inst)
{
	switch (uml_ctx_get_hostcompat(inst->ctx)) {
	case UML_HOSTCOMPAT_OFF:
		return false;
	case UML_HOSTCOMPAT_FORCE:
		return true;
	case UML_HOSTCOMPAT_AUTO:
		break;
	}
	return uml_host_needs_compat();
}

/*
 * The ptrace interposer for AMX hosts (host.c), loaded into the kernel
 * process from a memfd: the fd it keeps and the LD_PRELOAD it gets.
 */
static int add_hostcompat(struct uml_instance *inst, struct uml_launch *l, int *ret_fd)
{
	const char *old = getenv("LD_PRELOAD");
	int fd, r;

	if (!want_hostcompat(inst))
		return 0;
	if (uml_kernel_is_static(inst->kernel)) {
		uml_info(inst->ctx, "kernel %s is static: the host compatibility fix cannot be "
			 "applied and it may die at PID 1 on this host",
			 uml_kernel_get_path(inst->kernel));
		return 0;
	}
	fd = uml_host_compat_library_fd();
	if (fd < 0)
		return ifail(inst, fd, "cannot make the host compatibility library: %s",
			     strerror(-fd));
	*ret_fd = fd;
	r = uml_intv_add(&l->keep_fds, fd);
	if (r == 0 && l->sandbox) {
		struct uml_strv files = { 0 };
		size_t size;
		const void *lib = uml_host_compat_library(&size);

		r = uml_host_program_files(lib, size, &files);
		for (size_t i = 0; r == 0 && i < files.n; i++)
			r = uml_launch_add_path(l, files.v[i], 0);
		uml_strv_free(&files);
	}
	if (r == 0)
		r = uml_strv_addf(&l->env, "LD_PRELOAD=/proc/self/fd/%d%s%s", fd,
				  old && *old ? ":" : "", old && *old ? old : "");
	if (r < 0)
		return r;
	inst->hostcompat_applied = true;
	return 0;
}

/* The environment for the kernel: ours, with the launch's entries in place of ours. */
static char **build_env(const struct uml_launch *l)
{
	extern char **environ;
	struct uml_strv env = { 0 };
	int r = 0;

	for (char **e = environ; *e && r == 0; e++) {
		bool replaced = false;

		for (size_t i = 0; i < l->env.n && !replaced; i++)
			replaced = strncmp(*e, l->env.v[i], strcspn(l->env.v[i], "=") + 1) == 0;
		if (!replaced)
			r = uml_strv_add(&env, *e);
	}
	for (size_t i = 0; i < l->env.n && r == 0; i++)
		r = uml_strv_add(&env, l->env.v[i]);
	if (r == 0 && !env.v)
		r = uml_strv_take(&env, NULL);	/* an empty environment */
	if (r < 0) {
		uml_strv_free(&env);
		return NULL;
	}
	return env.v;
}

/* ---- events and console ------------------------------------------------- */

static void emit(struct uml_instance *inst, enum uml_event_type type, const char *text, size_t len)
{
	struct uml_event ev = { .type = type, .text = text ? text : "", .len = text ? len : 0 };

	FOR_PARTS(inst, p)
		if (p->ops->event)
			p->ops->event(inst, p->data, &ev);
	if (inst->event_fn)
		inst->event_fn(inst->event_data, inst, &ev);
}

/*
 * Ready when every gate is open: the ready marker (if any) was seen and
 * every part with a say agrees.  With no gate at all, kernel-up opens it.
 */
void uml_instance_update_ready(struct uml_instance *inst)
{
	bool gated = inst->marker != NULL;

	if (inst->state != UML_STATE_BOOTING)
		return;
	if (inst->marker && !inst->marker_seen)
		return;
	FOR_PARTS(inst, p) {
		if (!p->ops->ready)
			continue;
		gated = true;
		if (!p->ops->ready(inst, p->data))
			return;
	}
	if (!gated && !inst->kernel_up)
		return;
	inst->state = UML_STATE_RUNNING;
	inst->was_ready = true;
	uml_dbg(inst->ctx, "guest %s is ready", inst->umid);
	emit(inst, UML_EVENT_READY, NULL, 0);
}

int uml_instance_console_input(struct uml_instance *inst, const char *data, size_t len)
{
	int r = uml_buf_append(&inst->console_out, data, len);

	while (r == 0 && inst->console_out.len > 0 && inst->console_fd >= 0) {
		ssize_t n = write(inst->console_fd, inst->console_out.data, inst->console_out.len);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -errno;
		uml_buf_drop_front(&inst->console_out, (size_t)n);
	}
	return r;
}

static void note_end_line(struct uml_instance *inst, enum uml_exit_reason reason,
			  const char *line, size_t len)
{
	if (uml_exit_reason_rank(reason) <= uml_exit_reason_rank(inst->line_reason))
		return;
	if (reason == UML_EXIT_PANIC && inst->halt_acked) {
		uml_info(inst->ctx, "guest %s crashed in UML's teardown after it halted: %.*s",
			 inst->umid, (int)len, line);
		return;
	}
	inst->line_reason = reason;
	free(inst->end_line);
	inst->end_line = strndup(line, len);
	if (reason == UML_EXIT_PANIC && !inst->panic_message) {
		const char *msg = memmem(line, len, "not syncing: ", 13);

		msg = msg ? msg + 13 : line;
		inst->panic_message = strndup(msg, len - (size_t)(msg - line));
		if (inst->panic_message)
			emit(inst, UML_EVENT_PANIC, inst->panic_message,
			     strlen(inst->panic_message));
	}
}

/* Kills the kernel process now: its guest's life has ended (reboot, panic). */
static void end_guest_now(struct uml_instance *inst)
{
	if (inst->proc.pid > 0 && !inst->end_killed) {
		inst->end_killed = true;
		kill(-inst->proc.pid, SIGKILL);
	}
}

static void handle_line(struct uml_instance *inst, const char *line, size_t len, bool console)
{
	enum uml_exit_reason reason = uml_exit_reason_of_line(line, len);

	if (reason != UML_EXIT_NONE) {
		note_end_line(inst, reason, line, len);
		if (uml_exit_reason_flags(reason) & UML_EXIT_ROW_ENDS_GUEST)
			end_guest_now(inst);
	}
	if (!console)
		return;
	emit(inst, UML_EVENT_CONSOLE_LINE, line, len);
	if (inst->marker && !inst->marker_seen && memmem(line, len, inst->marker,
							  strlen(inst->marker))) {
		inst->marker_seen = true;
		uml_instance_update_ready(inst);
	}
}

static void log_append(struct uml_instance *inst, const char *data, size_t len)
{
	if (inst->console_log.len + len > CONSOLE_LOG_MAX)
		uml_buf_drop_front(&inst->console_log,
				   inst->console_log.len + len - CONSOLE_LOG_MAX + (1u << 20));
	if (len > CONSOLE_LOG_MAX)
		data += len - CONSOLE_LOG_MAX, len = CONSOLE_LOG_MAX;
	uml_buf_append(&inst->console_log, data, len);
}

/* Splits text into lines ("\r\n" and "\n"), handing each to handle_line(). */
static void feed_lines(struct uml_instance *inst, struct uml_line_splitter *ls, const char *data,
		       size_t len, bool console, bool flush)
{
	struct uml_buf *p = &ls->partial;
	size_t start = 0, tail;

	uml_buf_append(p, data, len);
	for (size_t i = 0; i < p->len; i++) {
		size_t end = i;

		if (p->data[i] != '\n')
			continue;
		while (end > start && p->data[end - 1] == '\r')
			end--;
		p->data[end] = '\0';
		/* the front of the first line may be in the log already */
		if (start == 0 && ls->logged < end)
			log_append(inst, p->data + ls->logged, end - ls->logged);
		else if (start > 0)
			log_append(inst, p->data + start, end - start);
		log_append(inst, "\n", 1);
		ls->logged = 0;
		handle_line(inst, p->data + start, end - start, console);
		start = i + 1;
	}
	uml_buf_drop_front(p, start);
	/*
	 * The unfinished line goes into the log now (but for CRs that may
	 * still turn out to end it): a prompt ("login: ") ends without a
	 * newline and may be the ready marker, and whoever waited for it
	 * finds it in the log.
	 */
	for (tail = p->len; tail > 0 && p->data[tail - 1] == '\r'; tail--)
		;
	if (tail > ls->logged) {
		log_append(inst, p->data + ls->logged, tail - ls->logged);
		ls->logged = tail;
	}
	if (console && inst->marker && !inst->marker_seen && p->len &&
	    memmem(p->data, p->len, inst->marker, strlen(inst->marker))) {
		inst->marker_seen = true;
		uml_instance_update_ready(inst);
	}
	/* a guest printing without newlines must not grow us without bound */
	if ((flush && p->len > 0) || p->len > 65536) {
		if (p->len > ls->logged)
			log_append(inst, p->data + ls->logged, p->len - ls->logged);
		handle_line(inst, p->data, p->len, console);
		uml_buf_drop_front(p, p->len);
		ls->logged = 0;
	}
}

static int drain(struct uml_instance *inst, int *fd, struct uml_line_splitter *ls, bool console,
		 bool flush)
{
	char chunk[65536 + 1];	/* room for a NUL after what was read */
	int handled = 0;

	while (*fd >= 0) {
		ssize_t n = read(*fd, chunk, sizeof(chunk) - 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* EOF or error: the kernel closed it; stop polling it */
			epoll_ctl(inst->epfd, EPOLL_CTL_DEL, *fd, NULL);
			uml_close_fd(fd);
			flush = true;
			break;
		}
		handled = 1;
		if (console) {
			chunk[n] = '\0';
			emit(inst, UML_EVENT_CONSOLE_OUTPUT, chunk, (size_t)n);
		}
		feed_lines(inst, ls, chunk, (size_t)n, console, false);
		/* keep one busy guest from starving the caller's other work */
		if (n < (ssize_t)sizeof(chunk) - 1)
			break;
	}
	if (flush && ls->partial.len)
		feed_lines(inst, ls, "", 0, console, true);
	return handled;
}

void uml_instance_take_notify(struct uml_instance *inst, const void *buf, size_t n)
{
	char data[UML_MCONSOLE_MAX_DATA + 1];	/* the payload, NUL-terminated for events */
	const char *raw;
	size_t len;
	int type;

	if (uml_mconsole_parse_notify(buf, n, &type, &raw, &len) < 0 || len >= sizeof(data)) {
		uml_dbg(inst->ctx, "guest %s: ignoring a malformed notification", inst->umid);
		return;
	}
	memcpy(data, raw, len);
	data[len] = '\0';
	switch (type) {
	case UML_MCONSOLE_NOTIFY_SOCKET:
		if (inst->kernel_up && !inst->end_killed) {
			/*
			 * A second "kernel up": UML rebooted by exec'ing itself
			 * (mconsole reboot prints no reboot line).
			 */
			note_end_line(inst, UML_EXIT_REBOOT, "reboot", 6);
			end_guest_now(inst);
		}
		if (!inst->kernel_up) {
			inst->kernel_up = true;
			emit(inst, UML_EVENT_KERNEL_UP, data, len);
			uml_instance_update_ready(inst);
		}
		break;
	case UML_MCONSOLE_NOTIFY_PANIC:
		if (inst->halt_acked)
			uml_info(inst->ctx, "guest %s crashed in UML's teardown after it halted: %.*s",
				 inst->umid, (int)strnlen(data, len), data);
		else if (!inst->panic_message) {
			inst->panic_message = strndup(data, len);
			if (inst->panic_message) {
				inst->panic_message[strcspn(inst->panic_message, "\n")] = '\0';
				emit(inst, UML_EVENT_PANIC, inst->panic_message,
				     strlen(inst->panic_message));
			}
		}
		/*
		 * The kernel notifies before it aborts, with its console
		 * written: nothing is left to wait for.  As PID 1 of its
		 * sandbox it could not abort at all.
		 */
		end_guest_now(inst);
		break;
	case UML_MCONSOLE_NOTIFY_USER:
		emit(inst, UML_EVENT_NOTIFY, data, len);
		break;
	default:
		break;
	}
}

static void handle_notify(struct uml_instance *inst)
{
	for (;;) {
		unsigned char buf[sizeof(uint32_t) * 4 + UML_MCONSOLE_MAX_DATA + 16];
		ssize_t n = recv(inst->notify_fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0)
			break;
		uml_instance_take_notify(inst, buf, (size_t)n);
	}
}

/* ---- exit --------------------------------------------------------------- */

static void free_runtime_names(struct uml_instance *inst)
{
	free(inst->box_dir);
	free(inst->umid_link);
	free(inst->umid_dir);
	free(inst->mconsole_path);
	free(inst->notify_path);
	inst->box_dir = inst->umid_link = inst->umid_dir = NULL;
	inst->mconsole_path = inst->notify_path = NULL;
}

/* The target of RUNTIME/UMID for a sandboxed guest: its box's umid dir, relative. */
static int link_target(struct uml_instance *inst, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", strrchr(inst->box_dir, '/') + 1, inst->umid);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static void remove_runtime_files(struct uml_instance *inst)
{
	char want[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	if (inst->box_dir) {
		/* the link only while it is still ours: another guest may have the umid now */
		if (link_target(inst, want, sizeof(want)) == 0 &&
		    (n = readlink(inst->umid_link, target, sizeof(target) - 1)) > 0) {
			target[n] = '\0';
			if (strcmp(target, want) == 0)
				unlink(inst->umid_link);
		}
		uml_rm_rf(inst->box_dir);
	} else if (inst->umid_dir) {
		uml_rm_rf(inst->umid_dir);
	}
	if (inst->notify_path)
		unlink(inst->notify_path);
	free_runtime_names(inst);
}

static void close_channels(struct uml_instance *inst)
{
	uml_close_fd(&inst->keeper.sock);
	uml_close_fd(&inst->console_fd);
	uml_close_fd(&inst->stdio_fd);
	uml_close_fd(&inst->notify_fd);
	uml_close_fd(&inst->epfd);
	uml_spawn_release(&inst->proc);
}

/* The kernel process ended (pidfd readable): read what is left, reap, name. */
static void finish(struct uml_instance *inst)
{
	struct uml_exit_evidence ev = { 0 };
	siginfo_t si = { 0 };
	const char *name;

	/* kill UML's helpers while its pid still pins the process group id */
	kill(-inst->proc.pid, SIGKILL);
	drain(inst, &inst->console_fd, &inst->console_lines, true, true);
	drain(inst, &inst->stdio_fd, &inst->stdio_lines, false, true);
	if (inst->notify_fd >= 0)
		handle_notify(inst);
	while (waitid(P_PIDFD, (id_t)inst->proc.pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	/*
	 * UML's helpers share the kernel's file table, so its disk locks live
	 * until the last of them is gone: the image is free again only then.
	 */
	uml_spawn_wait_group_gone(inst->proc.pid, 2000);
	FOR_PARTS(inst, p)
		if (p->ops->ended)
			p->ops->ended(inst, p->data);
	ev.timed_out = inst->timed_out;
	ev.line_reason = inst->line_reason;
	ev.panicked = inst->panic_message != NULL;
	ev.by_signal = si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED;
	ev.status = si.si_status;
	ev.kernel_up = inst->kernel_up;
	ev.halt_acked = inst->halt_acked;
	inst->reason = uml_exit_reason_decide(&ev);
	if (si.si_code == CLD_EXITED)
		inst->exit_code = si.si_status;
	else
		inst->exit_signal = si.si_status;
	close_channels(inst);
	remove_runtime_files(inst);
	inst->state = UML_STATE_EXITED;
	inst->proc.pid = 0;
	name = uml_exit_reason_to_string(inst->reason);
	uml_dbg(inst->ctx, "guest %s ended: %s", inst->umid, name);
	emit(inst, UML_EVENT_EXITED, name, strlen(name));
}

static bool process_exited(struct uml_instance *inst)
{
	siginfo_t si = { 0 };

	if (inst->proc.pidfd < 0)
		return false;
	if (waitid(P_PIDFD, (id_t)inst->proc.pidfd, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return false;
	return si.si_pid != 0;
}

static void stop_and_reap(struct uml_instance *inst)
{
	if (!uml_instance_running(inst))
		return;
	kill(-inst->proc.pid, SIGKILL);
	inst->signal_sent = SIGKILL;
	finish(inst);
}

/* ---- boot --------------------------------------------------------------- */

/*
 * The runtime files.  UML makes RUNTIME/UMID/{pid,mconsole}, where
 * uml_mconsole and our tools look, and we bind RUNTIME/.UMID.notify.  A
 * sandboxed kernel gets a box instead, RUNTIME/.box-ID bound as its
 * runtime dir, and RUNTIME/UMID links to the umid dir in the box.
 * -EEXIST if a live guest has the umid.
 */
static int make_runtime_files(struct uml_instance *inst)
{
	const char *dir = uml_ctx_get_runtime_dir(inst->ctx);
	char id[13], target[PATH_MAX], *pidfile = NULL, *content = NULL;
	struct stat st;
	int r = 0;

	if (uml_random_hex(id, 12) < 0)
		return -EIO;
	if (asprintf(&inst->umid_link, "%s/%s", dir, inst->umid) < 0 ||
	    asprintf(&inst->mconsole_path, "%s/mconsole", inst->umid_link) < 0 ||
	    asprintf(&inst->notify_path, "%s/.%s.notify", dir, inst->umid) < 0 ||
	    asprintf(&pidfile, "%s/pid", inst->umid_link) < 0 ||
	    (inst->sandboxed && asprintf(&inst->box_dir, "%s/.box-%s", dir, id) < 0) ||
	    asprintf(&inst->umid_dir, "%s/%s", inst->sandboxed ? inst->box_dir : dir,
		     inst->umid) < 0) {
		free(pidfile);
		free_runtime_names(inst);	/* asprintf leaves the failed one undefined */
		return -ENOMEM;
	}
	r = uml_read_file(pidfile, &content, NULL);
	free(pidfile);
	if (r == 0) {
		long pid = strtol(content, NULL, 10);

		free(content);
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
			r = ifail(inst, -EEXIST, "a guest with umid '%s' runs already (pid %ld)",
				  inst->umid, pid);
			free_runtime_names(inst);
			return r;
		}
	}
	r = 0;
	if (!inst->sandboxed)
		return 0;	/* UML takes over what a dead guest left */
	/* what a guest that is gone left: a link, or a dir */
	if (lstat(inst->umid_link, &st) == 0)
		uml_rm_rf(inst->umid_link);
	r = link_target(inst, target, sizeof(target));
	if (r == 0 && mkdir(inst->box_dir, 0700) < 0)
		r = -errno;
	if (r == 0 && symlink(target, inst->umid_link) < 0) {
		r = -errno;
		rmdir(inst->box_dir);
	}
	if (r < 0) {
		r = ifail(inst, r, "cannot make the runtime files of guest '%s' in '%s': %s",
			  inst->umid, dir, strerror(-r));
		free_runtime_names(inst);
	}
	return r;
}

/* Whether this boot runs in a sandbox: inst->sandboxed, or -EPERM if it must and cannot. */
static int choose_sandbox(struct uml_instance *inst)
{
	enum uml_sandbox_mode mode = inst->sandbox_mode_set ? inst->sandbox_mode :
				     uml_ctx_get_sandbox(inst->ctx);
	const char *why = NULL;
	int state;

	inst->sandboxed = false;
	if (mode == UML_SANDBOX_OFF)
		return 0;
	state = uml_ctx_get_sandbox_host(inst->ctx, &why);
	if (state == 0) {
		state = uml_sandbox_check_host(&why) == 0 ? 1 : -EPERM;
		uml_ctx_set_sandbox_host(inst->ctx, state, why);
		if (state < 0 && mode == UML_SANDBOX_AUTO)
			uml_log(inst->ctx, LOG_WARNING, "guests run without a sandbox: %s "
				"(UML_SANDBOX=off silences this)", why);
	}
	if (state < 0)
		return mode == UML_SANDBOX_REQUIRE ?
		       ifail(inst, -EPERM, "guest '%s' must run in a sandbox, but %s", inst->umid,
			     why) : 0;
	inst->sandboxed = true;
	return 0;
}

/*
 * The sandbox this boot runs in (l->sandbox), holding what the instance
 * itself makes the kernel open; none when the mode or the host says so.
 */
static int plan_sandbox(struct uml_instance *inst, struct uml_launch *l)
{
	int r;

	if (!inst->sandboxed)
		return 0;
	l->sandbox = uml_sandbox_new();
	if (!l->sandbox)
		return -ENOMEM;
	r = uml_launch_add_path(l, uml_kernel_get_path(inst->kernel), UML_SB_EXEC);
	if (r == 0 && inst->rootfs)
		r = uml_launch_add_path(l, uml_rootfs_get_path(inst->rootfs), UML_SB_WRITE);
	if (r == 0 && inst->rootfs && uml_rootfs_get_backing(inst->rootfs))
		r = uml_launch_add_path(l, uml_rootfs_get_backing(inst->rootfs), 0);
	if (r == 0)
		r = uml_sandbox_add_bind(l->sandbox, inst->box_dir, SANDBOX_RUNTIME_DIR,
					 UML_SB_WRITE | UML_SB_HANDED_OVER);
	/* also at its own path: mconsole clients bind their reply sockets there */
	if (r == 0)
		r = uml_launch_add_path(l, inst->box_dir, UML_SB_WRITE | UML_SB_HANDED_OVER);
	if (r == 0)
		r = uml_sandbox_add_bind(l->sandbox, inst->notify_path, SANDBOX_NOTIFY,
					 UML_SB_WRITE | UML_SB_HANDED_OVER);
	/* UML's memory file: a private tmpfs, a little larger than the guest's memory */
	if (r == 0)
		r = uml_strv_add(&l->env, "TMPDIR=/tmp");
	uml_sandbox_set_tmp_size(l->sandbox, inst->memory + (64ull << 20));
	return r;
}

/* After the plan is complete: resolve it; as nobody, the box must be nobody's. */
static int finish_sandbox(struct uml_instance *inst, struct uml_launch *l)
{
	uid_t uid;
	gid_t gid;
	int r;

	if (!l->sandbox)
		return 0;
	r = uml_sandbox_prepare(inst->ctx, &inst->last_error, l->sandbox);
	if (r < 0)
		return r;
	uid = inst->sandbox_uid = uml_sandbox_get_uid(l->sandbox);
	gid = inst->sandbox_gid = uml_sandbox_get_gid(l->sandbox);
	if (uid != geteuid() && (lchown(inst->box_dir, uid, gid) < 0 ||
				 lchown(inst->notify_path, uid, gid) < 0))
		return ifail(inst, -errno, "cannot hand the runtime files of guest '%s' to uid %u: %m",
			     inst->umid, (unsigned)uid);
	return 0;
}

int uml_instance_reach_path(struct uml_instance *inst, const char *path, char **ret)
{
	int r;

	if (!inst->sandboxed) {
		*ret = strdup(path);
		return *ret ? 0 : -ENOMEM;
	}
	if (inst->keeper.sock < 0) {
		r = uml_sandbox_keeper_start(inst->proc.pid, inst->sandbox_uid, inst->sandbox_gid,
					     &inst->keeper);
		if (r < 0)
			return ifail(inst, r, "guest '%s': cannot reach into its sandbox: %s",
				     inst->umid, strerror(-r));
	}
	r = uml_sandbox_keeper_hold(&inst->keeper, path, ret);
	if (r < 0)
		return ifail(inst, r, "guest '%s': cannot hand '%s' into its sandbox: %s",
			     inst->umid, path, strerror(-r));
	return 0;
}

UML_EXPORT int uml_instance_set_sandbox(struct uml_instance *inst, enum uml_sandbox_mode mode)
{
	int r;

	if (!inst)
		return -EINVAL;
	r = uml_instance_check_configuring(inst, "choose the sandbox");
	if (r < 0)
		return r;
	if (mode != UML_SANDBOX_AUTO && mode != UML_SANDBOX_OFF && mode != UML_SANDBOX_REQUIRE)
		return ifail(inst, -EINVAL, "unknown sandbox mode %d", (int)mode);
	inst->sandbox_mode = mode;
	inst->sandbox_mode_set = true;
	return 0;
}

UML_DEFINE_GETTER(int, uml_instance_get_sandboxed, uml_instance, p->sandboxed ? 1 : 0, 0)

static int open_notify_socket(struct uml_instance *inst)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(inst->notify_path) >= sizeof(sa.sun_path))
		return ifail(inst, -ENAMETOOLONG, "notify socket path '%s' is too long",
			     inst->notify_path);
	strcpy(sa.sun_path, inst->notify_path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ifail(inst, -errno, "socket: %m");
	unlink(inst->notify_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return ifail(inst, r, "cannot bind notify socket '%s': %s", inst->notify_path,
			     strerror(-r));
	}
	/* only we (and the kernel, which gets it in its sandbox) may send there */
	if (chmod(inst->notify_path, 0600) < 0) {
		int r = -errno;

		close(fd);
		return ifail(inst, r, "cannot protect notify socket '%s': %s", inst->notify_path,
			     strerror(-r));
	}
	inst->notify_fd = fd;
	return 0;
}

/* Another process (another guest) holds a lock UML would need: its pid. */
static pid_t image_locked_by(const char *path, bool for_write)
{
	struct flock lk = { .l_type = for_write ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	pid_t pid = 0;

	if (fd < 0)
		return 0;
	if (fcntl(fd, F_GETLK, &lk) == 0 && lk.l_type != F_UNLCK)
		pid = lk.l_pid;
	close(fd);
	return pid;
}

/* Is the image mounted on the host, directly or through a loop device? */
static bool image_mounted(const char *path, char **ret_target)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	struct stat img;
	bool found = false;

	if (!tb || !it || stat(path, &img) < 0)
		goto out;
	while (!found && mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *src = mnt_fs_get_srcpath(fs);
		char backing_path[128], *backing = NULL;
		struct stat st;

		if (!src || strncmp(src, "/dev/loop", 9) != 0)
			continue;
		snprintf(backing_path, sizeof(backing_path), "/sys/block/%s/loop/backing_file",
			 src + 5);
		if (uml_read_file(backing_path, &backing, NULL) < 0)
			continue;
		backing[strcspn(backing, "\n")] = '\0';
		if (stat(backing, &st) == 0 && st.st_dev == img.st_dev && st.st_ino == img.st_ino) {
			found = true;
			*ret_target = strdup(mnt_fs_get_target(fs) ? mnt_fs_get_target(fs) : src);
		}
		free(backing);
	}
out:
	mnt_free_iter(it);
	mnt_unref_table(tb);
	return found;
}

/* What would break the guest or the image: missing, in use, mounted. */
static int check_disk(struct uml_instance *inst, const char *path, bool writable)
{
	struct stat st;
	char *target = NULL;
	pid_t holder;

	/* ubdN= splits at ',' (COW,BACKING) and ':' (options); the command line at blanks */
	if (strpbrk(path, ",:") || uml_has_space_or_ctrl(path))
		return ifail(inst, -EINVAL, "disk image path '%s' has a ',', ':', blank or control "
			     "character, which the kernel's ubd= option cannot carry", path);
	if (stat(path, &st) < 0)
		return ifail(inst, -errno, "disk image '%s': %m", path);
	if (S_ISDIR(st.st_mode))
		return ifail(inst, -EISDIR, "disk image '%s' is a directory", path);
	/* UML would quietly fall back to a read-only disk the guest cannot use */
	if (writable && access(path, W_OK) < 0)
		return ifail(inst, -errno, "disk image '%s' is read-only (%m); the guest needs "
			     "to write to it", path);
	holder = image_locked_by(path, writable);
	if (holder > 0)
		return ifail(inst, -EBUSY, "disk image '%s' is in use by another guest (pid %d)",
			     path, (int)holder);
	if (image_mounted(path, &target)) {
		int r = ifail(inst, -EBUSY, "disk image '%s' is mounted on the host at '%s'; "
			      "booting it would corrupt it", path, target ? target : "?");
		free(target);
		return r;
	}
	return 0;
}

static int check_root_image(struct uml_instance *inst)
{
	const char *backing;
	int r;

	if (!inst->rootfs)
		return 0;
	backing = uml_rootfs_get_backing(inst->rootfs);
	r = check_disk(inst, uml_rootfs_get_path(inst->rootfs), true);
	if (r == 0 && backing)
		r = check_disk(inst, backing, false);
	/* a changed backing file: UML would refuse the overlay at mount time */
	if (r == 0 && backing)
		r = uml_rootfs_cow_check_into(inst->rootfs, &inst->last_error);
	return r;
}

int uml_instance_watch_fd(struct uml_instance *inst, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(inst->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return ifail(inst, -errno, "epoll_ctl: %m");
	return 0;
}

static void parts_started(struct uml_instance *inst, bool ok)
{
	FOR_PARTS(inst, p)
		if (p->ops->started)
			p->ops->started(inst, p->data, ok);
}

UML_EXPORT int uml_instance_boot(struct uml_instance *inst)
{
	struct uml_launch l = { 0 };
	char **argv = NULL, **env = NULL;
	int cons[2] = { -1, -1 }, out[2] = { -1, -1 }, preload_fd = -1;
	size_t n_prepared = 0;
	struct uml_spawn sp;
	int r;

	if (!inst)
		return -EINVAL;
	if (inst->state != UML_STATE_CONFIGURING)
		return ifail(inst, -EBUSY, "guest '%s' was booted already", inst->umid);
	r = check_umid(inst, inst->umid);
	if (r < 0)
		return r;
	r = check_root_image(inst);
	if (r < 0)
		return r;
	r = uml_ctx_check_runtime_dir(inst->ctx, &inst->last_error, true);
	if (r < 0)
		return r;
	r = choose_sandbox(inst);
	if (r < 0)
		return r;
	r = make_runtime_files(inst);
	if (r < 0)
		return r;

	inst->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (inst->epfd < 0) {
		r = ifail(inst, -errno, "epoll_create1: %m");
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cons) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0) {
		r = ifail(inst, -errno, "cannot create the console channels: %m");
		goto fail;
	}
	r = open_notify_socket(inst);
	if (r < 0)
		goto fail;
	for (; n_prepared < inst->n_parts; n_prepared++) {
		struct uml_part *p = &inst->parts[n_prepared];

		r = p->ops->prepare ? p->ops->prepare(inst, p->data) : 0;
		if (r < 0)
			goto fail;
	}
	r = plan_sandbox(inst, &l);
	if (r == 0)
		r = uml_intv_add(&l.keep_fds, cons[1]);
	if (r == 0)
		r = add_hostcompat(inst, &l, &preload_fd);
	if (r == 0)
		r = build_argv(inst, &l, cons[1], &argv);
	if (r == 0)
		r = finish_sandbox(inst, &l);
	if (r == 0 && !(env = build_env(&l)))
		r = -ENOMEM;
	/* for the watchdog, should we die: files before their dirs */
	if (r == 0)
		r = uml_strv_addf(&l.cleanup, "%s/pid", inst->umid_dir);
	if (r == 0)
		r = uml_strv_add(&l.cleanup, inst->mconsole_path);
	if (r == 0)
		r = uml_strv_add(&l.cleanup, inst->umid_dir);
	if (r == 0)
		r = uml_strv_add(&l.cleanup, inst->notify_path);
	if (r == 0 && inst->box_dir)
		r = uml_strv_add(&l.cleanup, inst->box_dir);
	if (r == 0 && inst->box_dir)
		r = uml_strv_add(&l.cleanup, inst->umid_link);
	if (r < 0)
		goto fail;
	if (l.ready_marker && !(inst->marker = strdup(l.ready_marker))) {
		r = -ENOMEM;
		goto fail;
	}

	r = uml_spawn(inst->ctx, &inst->last_error, &(struct uml_spawn_opts){
			.argv = argv, .envp = env, .keep_fds = l.keep_fds.v, .n_keep = l.keep_fds.n,
			.out_fd = out[1], .cleanup = l.cleanup.v, .sandbox = l.sandbox }, &sp);
	if (r < 0)
		goto fail;
	uml_close_fd(&cons[1]);
	uml_close_fd(&out[1]);
	uml_close_fd(&preload_fd);
	inst->proc = sp;
	inst->console_fd = cons[0];
	inst->stdio_fd = out[0];
	fcntl(inst->console_fd, F_SETFL, O_NONBLOCK);
	fcntl(inst->stdio_fd, F_SETFL, O_NONBLOCK);
	inst->state = UML_STATE_BOOTING;
	inst->deadline_usec = inst->timeout_ms ?
			      uml_now_usec() + (uint64_t)inst->timeout_ms * 1000u : 0;
	uml_strv_free_array(inst->argv);
	inst->argv = argv;
	uml_strv_free_array(env);
	launch_free(&l);
	parts_started(inst, true);
	if (uml_instance_watch_fd(inst, inst->proc.pidfd) < 0 ||
	    uml_instance_watch_fd(inst, inst->console_fd) < 0 ||
	    uml_instance_watch_fd(inst, inst->stdio_fd) < 0 ||
	    uml_instance_watch_fd(inst, inst->notify_fd) < 0) {
		stop_and_reap(inst);
		return -EIO;
	}
	uml_info(inst->ctx, "guest %s booting (pid %d%s%s)", inst->umid, (int)sp.pid,
		 inst->sandboxed ? ", sandboxed" : "",
		 inst->hostcompat_applied ? ", host compatibility fix applied" : "");
	return 0;

fail:
	uml_strv_free_array(argv);
	uml_strv_free_array(env);
	launch_free(&l);
	uml_close_fd(&cons[0]);
	uml_close_fd(&cons[1]);
	uml_close_fd(&out[0]);
	uml_close_fd(&out[1]);
	uml_close_fd(&preload_fd);
	/* undo what the parts prepared (n_prepared of them) */
	for (size_t i = 0; i < n_prepared; i++)
		if (inst->parts[i].ops->started)
			inst->parts[i].ops->started(inst, inst->parts[i].data, false);
	close_channels(inst);
	free(inst->marker);
	inst->marker = NULL;
	inst->hostcompat_applied = inst->sandboxed = false;
	remove_runtime_files(inst);
	return r;
}

/* ---- event loop --------------------------------------------------------- */

UML_EXPORT int uml_instance_get_fd(struct uml_instance *inst)
{
	if (!inst)
		return -EINVAL;
	return inst->epfd >= 0 ? inst->epfd : -ENOTCONN;
}

/* The earliest of the guest's deadline and its parts'. */
static uint64_t next_deadline(struct uml_instance *inst)
{
	uint64_t when = inst->deadline_usec ? inst->deadline_usec : UINT64_MAX;

	FOR_PARTS(inst, p) {
		uint64_t t = p->ops->deadline ? p->ops->deadline(inst, p->data) : UINT64_MAX;

		if (t < when)
			when = t;
	}
	return when;
}

UML_EXPORT int uml_instance_get_timeout(struct uml_instance *inst, uint64_t *ret_usec)
{
	if (!inst || !ret_usec)
		return -EINVAL;
	*ret_usec = uml_instance_running(inst) ? next_deadline(inst) : UINT64_MAX;
	return 0;
}

UML_EXPORT int uml_instance_process(struct uml_instance *inst)
{
	int handled = 0;

	if (!inst)
		return -EINVAL;
	if (!uml_instance_running(inst))
		return 0;
	if (inst->notify_fd >= 0)
		handle_notify(inst);
	handled |= drain(inst, &inst->console_fd, &inst->console_lines, true, false);
	handled |= drain(inst, &inst->stdio_fd, &inst->stdio_lines, false, false);
	FOR_PARTS(inst, p)
		if (p->ops->process && uml_instance_running(inst))
			handled |= p->ops->process(inst, p->data);
	if (inst->console_out.len > 0)
		uml_instance_console_input(inst, "", 0);
	if (inst->deadline_usec && uml_now_usec() >= inst->deadline_usec && !inst->timed_out) {
		uml_info(inst->ctx, "guest %s ran past its timeout; killing it", inst->umid);
		inst->timed_out = true;
		kill(-inst->proc.pid, SIGKILL);
		inst->signal_sent = SIGKILL;
		handled = 1;
	}
	if (process_exited(inst)) {
		finish(inst);
		handled = 1;
	}
	return handled;
}

/* Waits for fd activity or the next deadline, at most until `until`. */
static int wait_once(struct uml_instance *inst, uint64_t until)
{
	struct epoll_event ev[4];
	uint64_t wake = next_deadline(inst);

	if (until < wake)
		wake = until;
	if (epoll_wait(inst->epfd, ev, ARRAY_SIZE(ev), uml_ms_until(wake)) < 0 && errno != EINTR)
		return -errno;
	return uml_instance_process(inst);
}

static uint64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? UINT64_MAX : uml_now_usec() + (uint64_t)timeout_ms * 1000u;
}

UML_EXPORT int uml_instance_wait_ready(struct uml_instance *inst, int timeout_ms)
{
	uint64_t until = deadline_after(timeout_ms);

	if (!inst)
		return -EINVAL;
	if (inst->state == UML_STATE_CONFIGURING)
		return ifail(inst, -ENOTCONN, "guest '%s' was not booted", inst->umid);
	while (inst->state == UML_STATE_BOOTING) {
		int r;

		if (uml_now_usec() >= until)
			return ifail(inst, -ETIMEDOUT, "guest '%s' not ready within %d ms",
				     inst->umid, timeout_ms);
		r = wait_once(inst, until);
		if (r < 0)
			return r;
	}
	if (inst->state == UML_STATE_EXITED && !inst->was_ready)
		return ifail(inst, -ECHILD, "guest '%s' ended before it was ready: %s%s%s",
			     inst->umid, uml_exit_reason_to_string(inst->reason),
			     inst->end_line ? ": " : "", inst->end_line ? inst->end_line : "");
	return 0;
}

UML_EXPORT int uml_instance_wait(struct uml_instance *inst, int timeout_ms)
{
	uint64_t until = deadline_after(timeout_ms);

	if (!inst)
		return -EINVAL;
	if (inst->state == UML_STATE_CONFIGURING)
		return ifail(inst, -ENOTCONN, "guest '%s' was not booted", inst->umid);
	while (uml_instance_running(inst)) {
		int r;

		if (uml_now_usec() >= until)
			return ifail(inst, -ETIMEDOUT, "guest '%s' still runs after %d ms",
				     inst->umid, timeout_ms);
		r = wait_once(inst, until);
		if (r < 0)
			return r;
	}
	return 0;
}

int uml_instance_request_halt(struct uml_instance *inst)
{
	char *reply = NULL;
	int err = 0, r;

	inst->halt_requested = true;
	r = uml_mconsole_call(inst->mconsole_path, "halt", MCONSOLE_TIMEOUT_MS, &reply, NULL, &err);
	free(reply);
	if (r == 0 && err)
		r = -EREMOTEIO;
	if (r < 0)
		uml_dbg(inst->ctx, "guest %s: mconsole halt failed (%s)", inst->umid, strerror(-r));
	else
		inst->halt_acked = true;
	return r;
}

UML_EXPORT int uml_instance_halt(struct uml_instance *inst, int timeout_ms)
{
	if (!inst)
		return -EINVAL;
	if (inst->state == UML_STATE_CONFIGURING)
		return ifail(inst, -ENOTCONN, "guest '%s' was not booted", inst->umid);
	if (timeout_ms < 0)
		timeout_ms = DEFAULT_HALT_STEP_MS;
	if (!uml_instance_running(inst))
		return 0;
	if (uml_instance_request_halt(inst) == 0 && uml_instance_wait(inst, timeout_ms) == 0)
		return 0;
	if (uml_instance_running(inst)) {
		uml_info(inst->ctx, "guest %s did not halt; sending SIGTERM", inst->umid);
		inst->signal_sent = SIGTERM;
		kill(inst->proc.pid, SIGTERM);
		if (uml_instance_wait(inst, timeout_ms) == 0)
			return 0;
	}
	if (uml_instance_running(inst)) {
		uml_info(inst->ctx, "guest %s ignored SIGTERM; sending SIGKILL", inst->umid);
		stop_and_reap(inst);
	}
	return 0;
}

UML_EXPORT int uml_instance_kill(struct uml_instance *inst)
{
	if (!inst)
		return -EINVAL;
	if (inst->state == UML_STATE_CONFIGURING)
		return ifail(inst, -ENOTCONN, "guest '%s' was not booted", inst->umid);
	stop_and_reap(inst);
	return 0;
}

/* ---- console ------------------------------------------------------------ */

UML_EXPORT const char *uml_instance_get_console_log(struct uml_instance *inst, size_t *len)
{
	if (!inst)
		return NULL;
	if (len)
		*len = inst->console_log.len;
	return inst->console_log.data ? inst->console_log.data : "";
}

UML_EXPORT ssize_t uml_instance_write_console(struct uml_instance *inst, const void *data,
					      size_t len)
{
	ssize_t n;

	if (!inst || (!data && len))
		return -EINVAL;
	if (!uml_instance_running(inst) || inst->console_fd < 0)
		return ifail(inst, -ENOTCONN, "guest '%s' has no console to write to", inst->umid);
	n = write(inst->console_fd, data, len);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : ifail(inst, -errno, "console write: %m");
	return n;
}

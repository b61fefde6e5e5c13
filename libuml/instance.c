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
 */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libmount.h>

#include "libuml-private.h"

#define DEFAULT_MEMORY (64ull << 20)
#define MIN_MEMORY (16ull << 20)
#define MAX_MEMORY (1ull << 40)
#define MAX_ARGS_BYTES 4096
#define MAX_UMID 63
#define CONSOLE_LOG_MAX (8u << 20)
#define RUN_COMMAND_MAX (64u << 10)
#define RUN_LINE_MAX 1000
#define DEFAULT_HALT_STEP_MS 5000
#define MCONSOLE_TIMEOUT_MS 2000

/* kernel arguments libuml owns; callers use the setters instead */
static const char *const reserved_args[] = {
	"mem=", "ubd", "umid=", "uml_dir=", "con=", "con0=", "ssl=", "ssl0=", "mconsole=",
	"root=", "init=",
};

struct line_splitter {
	struct uml_buf partial;
	size_t logged;		/* bytes of the partial line already in the log */
};

struct uml_instance {
	int refcount;
	struct uml_ctx *ctx;
	struct uml_kernel *kernel;
	struct uml_rootfs *rootfs;

	/* configuration */
	uint64_t memory;
	char *umid;
	char **args;
	size_t n_args;
	char *init;
	char *ready_marker;
	int64_t timeout_ms;
	char *run_command;
	uml_event_fn event_fn;
	void *event_data;
	char **argv;		/* last built argv */

	/* a running guest */
	enum uml_state state;
	struct uml_spawn proc;		/* the kernel process and its watchdog */
	int epfd, console_fd, stdio_fd, notify_fd;
	char *umid_dir, *notify_path, *mconsole_path;
	struct line_splitter console_lines, stdio_lines;
	struct uml_buf console_log;
	struct uml_buf console_out;	/* input for the guest not yet written */
	uint64_t deadline_usec;
	bool kernel_up, timed_out, halt_requested, hostcompat_applied, reboot_killed;
	int signal_sent;

	/* how it ended */
	enum uml_console_class end_class;
	char *end_line;
	char *panic_message;
	enum uml_exit_reason reason;
	int exit_signal, exit_code;

	/* one-shot command */
	char run_nonce[33];
	char *run_begin, *run_end;	/* the marker texts the guest prints */
	bool run_sent, run_started, run_done;
	int run_status;
	struct uml_buf run_output;

	char *last_error;

	/* exec channel (exec.c) */
	struct uml_exec_chan *exec;
	bool marker_seen;
	/* ---- net: network interfaces (net.c) ---- */
	struct uml_net *net;
	/* ---- end net ---- */
};

#define ifail(inst, err, ...) uml_fail((inst)->ctx, &(inst)->last_error, err, __VA_ARGS__)

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static int random_hex(char *out, size_t n_hex)
{
	unsigned char raw[32];
	size_t n = (n_hex + 1) / 2;

	if (n > sizeof(raw) || getrandom(raw, n, 0) != (ssize_t)n)
		return -EIO;
	for (size_t i = 0; i < n_hex; i++)
		out[i] = "0123456789abcdef"[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
	out[n_hex] = '\0';
	return 0;
}

UML_EXPORT int uml_instance_new(struct uml_kernel *kernel, struct uml_instance **ret)
{
	struct uml_instance *inst;
	char id[13];

	if (!kernel || !ret)
		return -EINVAL;
	if (random_hex(id, 12) < 0)
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
	inst->exit_code = -1;
	if (asprintf(&inst->umid, "uml-%s", id) < 0) {
		inst->umid = NULL;
		uml_instance_unref(inst);
		return -ENOMEM;
	}
	*ret = inst;
	return 0;
}

UML_EXPORT struct uml_instance *uml_instance_ref(struct uml_instance *inst)
{
	if (inst)
		__atomic_add_fetch(&inst->refcount, 1, __ATOMIC_RELAXED);
	return inst;
}

static void free_argv(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

static void stop_and_reap(struct uml_instance *inst);

UML_EXPORT struct uml_instance *uml_instance_unref(struct uml_instance *inst)
{
	if (!inst || __atomic_sub_fetch(&inst->refcount, 1, __ATOMIC_ACQ_REL) > 0)
		return NULL;
	stop_and_reap(inst);
	uml_exec_chan_free(inst->exec);
	uml_net_free(inst);	/* net */
	for (size_t i = 0; i < inst->n_args; i++)
		free(inst->args[i]);
	free(inst->args);
	free_argv(inst->argv);
	free(inst->umid);
	free(inst->init);
	free(inst->ready_marker);
	free(inst->run_command);
	free(inst->run_begin);
	free(inst->run_end);
	free(inst->end_line);
	free(inst->panic_message);
	free(inst->last_error);
	uml_buf_free(&inst->console_log);
	uml_buf_free(&inst->console_out);
	uml_buf_free(&inst->run_output);
	uml_buf_free(&inst->console_lines.partial);
	uml_buf_free(&inst->stdio_lines.partial);
	uml_rootfs_unref(inst->rootfs);
	uml_kernel_unref(inst->kernel);
	uml_ctx_unref(inst->ctx);
	free(inst);
	return NULL;
}

struct uml_ctx *uml_instance_get_ctx(struct uml_instance *inst)
{
	return inst->ctx;
}

const char *uml_instance_get_mconsole_path(struct uml_instance *inst)
{
	return inst->state == UML_STATE_BOOTING || inst->state == UML_STATE_RUNNING ?
	       inst->mconsole_path : NULL;
}

char **uml_instance_last_error_slot(struct uml_instance *inst)
{
	return &inst->last_error;
}

/* ---- exec channel hooks (exec.c) ---- */
struct uml_exec_chan **uml_instance_exec_chan_slot(struct uml_instance *inst)
{
	return &inst->exec;
}

struct uml_kernel *uml_instance_get_kernel(struct uml_instance *inst)
{
	return inst->kernel;
}

static void set_ready(struct uml_instance *inst);

void uml_instance_agent_up(struct uml_instance *inst)
{
	if (!inst->run_command && (!inst->ready_marker || inst->marker_seen))
		set_ready(inst);
}
/* ---- end exec channel hooks ---- */
/* ---- net ---- */
struct uml_net **uml_instance_net_slot(struct uml_instance *inst)
{
	return &inst->net;
}
/* ---- end net ---- */

UML_EXPORT const char *uml_instance_last_error(struct uml_instance *inst)
{
	return inst ? inst->last_error : NULL;
}

/* ---- configuration ------------------------------------------------------ */

static int check_configuring(struct uml_instance *inst, const char *what)
{
	if (inst->state != UML_STATE_CONFIGURING)
		return ifail(inst, -EBUSY, "cannot set %s of guest '%s': it was booted already",
			     what, inst->umid);
	return 0;
}

UML_EXPORT int uml_instance_set_rootfs(struct uml_instance *inst, struct uml_rootfs *rootfs)
{
	int r;

	if (!inst || !rootfs)
		return -EINVAL;
	r = check_configuring(inst, "the root disk");
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
	r = check_configuring(inst, "the memory size");
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
	if (umid[strspn(umid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789._-")] != '\0')
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
	char *copy;
	int r;

	if (!inst || !umid)
		return -EINVAL;
	r = check_configuring(inst, "the umid");
	if (r < 0)
		return r;
	r = check_umid(inst, umid);
	if (r < 0)
		return r;
	copy = strdup(umid);
	if (!copy)
		return -ENOMEM;
	free(inst->umid);
	inst->umid = copy;
	return 0;
}

UML_EXPORT const char *uml_instance_get_umid(struct uml_instance *inst)
{
	return inst ? inst->umid : NULL;
}

UML_EXPORT int uml_instance_append_arg(struct uml_instance *inst, const char *arg)
{
	size_t total = 0;
	char **args, *copy;
	int r;

	if (!inst || !arg)
		return -EINVAL;
	r = check_configuring(inst, "kernel arguments");
	if (r < 0)
		return r;
	if (!*arg)
		return ifail(inst, -EINVAL, "kernel argument is empty");
	if (uml_has_space_or_ctrl(arg))
		return ifail(inst, -EINVAL,
			     "kernel argument '%s' has white space or a control character; "
			     "it would split the command line", arg);
	for (size_t i = 0; i < ARRAY_SIZE(reserved_args); i++)
		if (strncmp(arg, reserved_args[i], strlen(reserved_args[i])) == 0)
			return ifail(inst, -EINVAL,
				     "kernel argument '%s' is set by libuml; use its setter", arg);
	for (size_t i = 0; i < inst->n_args; i++)
		total += strlen(inst->args[i]) + 1;
	if (total + strlen(arg) + 1 > MAX_ARGS_BYTES)
		return ifail(inst, -E2BIG, "kernel arguments exceed %d bytes", MAX_ARGS_BYTES);
	copy = strdup(arg);
	args = realloc(inst->args, (inst->n_args + 1) * sizeof(*args));
	if (!copy || !args) {
		free(copy);
		if (args)
			inst->args = args;
		return -ENOMEM;
	}
	inst->args = args;
	inst->args[inst->n_args++] = copy;
	return 0;
}

UML_EXPORT int uml_instance_set_init(struct uml_instance *inst, const char *path)
{
	int r;

	if (!inst)
		return -EINVAL;
	r = check_configuring(inst, "init");
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
	r = check_configuring(inst, "the ready marker");
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
	if (inst->state == UML_STATE_BOOTING || inst->state == UML_STATE_RUNNING)
		inst->deadline_usec = timeout_ms ? uml_now_usec() + (uint64_t)timeout_ms * 1000u : 0;
	return 0;
}

UML_EXPORT int uml_instance_set_run_command(struct uml_instance *inst, const char *command)
{
	size_t line = 0;
	int r;

	if (!inst)
		return -EINVAL;
	r = check_configuring(inst, "the run command");
	if (r < 0)
		return r;
	if (command) {
		if (strlen(command) > RUN_COMMAND_MAX)
			return ifail(inst, -E2BIG, "run command is longer than %u bytes",
				     RUN_COMMAND_MAX);
		for (const char *p = command; *p; p++) {
			unsigned char c = (unsigned char)*p;

			if (c == '\n') {
				line = 0;
				continue;
			}
			if ((c < ' ' && c != '\t') || c == 0x7f)
				return ifail(inst, -EINVAL,
					     "run command has control character 0x%02x; only "
					     "newlines and tabs pass the console", c);
			line += c == '\'' ? 4 : 1;	/* quoted as '\'' */
			if (line > RUN_LINE_MAX)
				return ifail(inst, -E2BIG,
					     "a line of the run command is longer than %d bytes",
					     RUN_LINE_MAX);
		}
	}
	return uml_set_string(&inst->run_command, command);
}

UML_EXPORT void uml_instance_set_event_fn(struct uml_instance *inst, uml_event_fn fn,
					  void *userdata)
{
	if (!inst)
		return;
	inst->event_fn = fn;
	inst->event_data = userdata;
}

/* ---- argv --------------------------------------------------------------- */

static bool has_arg(struct uml_instance *inst, const char *prefix)
{
	for (size_t i = 0; i < inst->n_args; i++)
		if (strncmp(inst->args[i], prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

static int build_argv(struct uml_instance *inst, int console_fd, char ***ret)
{
	const char *dir = uml_ctx_get_runtime_dir(inst->ctx);
	size_t n = 0, max = 19 + inst->n_args + (size_t)uml_net_count_args(inst) /* net */;
	char **argv = calloc(max + 1, sizeof(char *));
	char *ubd = NULL;
	int r = -ENOMEM;

#define ADD(...) do { if (asprintf(&argv[n], __VA_ARGS__) < 0) { argv[n] = NULL; goto fail; } n++; } while (0)
	if (!argv)
		return -ENOMEM;
	ADD("%s", uml_kernel_get_path(inst->kernel));
	ADD("mem=%" PRIu64 "M", inst->memory >> 20);
	if (inst->rootfs) {
		ubd = uml_rootfs_ubd_spec(inst->rootfs);
		if (!ubd)
			goto fail;
		ADD("ubd0=%s", ubd);
		ADD("root=/dev/ubda");
		/* saves its init a remount (a process) before the guest is ready */
		if (uml_rootfs_get_root_rw(inst->rootfs) && !inst->run_command)
			ADD("rw");
	}
	ADD("umid=%s", inst->umid);
	ADD("uml_dir=%s", dir);
	/* every other console and serial line goes nowhere (never an xterm) */
	ADD("con=null");
	ADD("ssl=null");
	if (console_fd >= 0)
		ADD("con0=fd:%d,fd:%d", console_fd, console_fd);
	else
		ADD("con0=fd:N,fd:N");
	ADD("mconsole=notify:%s/.%s.notify", dir, inst->umid);
	if (inst->run_command)
		ADD("init=/bin/sh");
	else if (inst->init)
		ADD("init=%s", inst->init);
	if (inst->exec) {
		char *exec_args[3];

		if (uml_exec_chan_args(inst->exec, exec_args) < 0)
			goto fail;
		for (int i = 0; i < 3; i++)
			argv[n++] = exec_args[i];
	}
	/* skip the ~90 ms delay-loop calibration unless the caller chose a value */
	if (!has_arg(inst, "lpj=") && uml_ctx_get_lpj(inst->ctx))
		ADD("lpj=%lu", uml_ctx_get_lpj(inst->ctx));
	/* ---- net ---- */
	r = uml_net_build_args(inst, argv, &n);
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	/* ---- end net ---- */
	for (size_t i = 0; i < inst->n_args; i++)
		ADD("%s", inst->args[i]);
#undef ADD
	free(ubd);
	*ret = argv;
	return 0;
fail:
	free(ubd);
	free_argv(argv);
	return r;
}

UML_EXPORT const char *const *uml_instance_get_argv(struct uml_instance *inst)
{
	char **argv;

	if (!inst)
		return NULL;
	if (build_argv(inst, inst->console_fd, &argv) < 0) {
		if (!inst->last_error)	/* net may have said why */
			ifail(inst, -ENOMEM, "out of memory building the kernel command line");
		return NULL;
	}
	free_argv(inst->argv);
	inst->argv = argv;
	return (const char *const *)argv;
}

/* ---- events and console ------------------------------------------------- */

static void emit(struct uml_instance *inst, enum uml_event_type type, const char *text, size_t len)
{
	struct uml_event ev = { .type = type, .text = text ? text : "", .len = text ? len : 0 };

	if (inst->event_fn)
		inst->event_fn(inst->event_data, inst, &ev);
}

static void set_ready(struct uml_instance *inst)
{
	if (inst->state != UML_STATE_BOOTING)
		return;
	inst->state = UML_STATE_RUNNING;
	uml_dbg(inst->ctx, "guest %s is ready", inst->umid);
	emit(inst, UML_EVENT_READY, NULL, 0);
}

static int queue_console_input(struct uml_instance *inst, const char *data, size_t len)
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

/* The one-shot script: markers are built from pieces so the echo of the
 * script itself never matches them. */
static int send_run_script(struct uml_instance *inst)
{
	const char *parts[] = {
		"stty -echo 2>&-\n",
		/* a fresh Linux has /proc and /sys; errors mean the guest has no such dirs */
		"mount -t proc proc /proc 2>&-; mount -t sysfs sysfs /sys 2>&-\n",
		"echo ", inst->run_nonce, "\"B\"; ( [ -c /dev/null ] && exec </dev/null; eval '\n",
	};
	const char *tail[] = {
		"\n' ) 2>&1; s=$?; sync 2>&-; printf '\\n%sE%d\\n' ", inst->run_nonce, "\"\" \"$s\"\n",
	};
	struct uml_buf s = { 0 };
	char *net = uml_net_run_prologue(inst);	/* net: interface addresses */
	int r = 0;

	inst->run_sent = true;
	if (net)
		r |= uml_buf_append(&s, net, strlen(net));
	free(net);
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		r |= uml_buf_append(&s, parts[i], strlen(parts[i]));
	/* inside single quotes, a quote is written as '\'' */
	for (const char *p = inst->run_command; *p; p++)
		r |= *p == '\'' ? uml_buf_append(&s, "'\\''", 4) : uml_buf_append(&s, p, 1);
	for (size_t i = 0; i < ARRAY_SIZE(tail); i++)
		r |= uml_buf_append(&s, tail[i], strlen(tail[i]));
	if (r == 0)
		r = queue_console_input(inst, s.data, s.len);
	uml_buf_free(&s);
	return r < 0 ? r : 0;
}

/* Does line end with suffix?  Prompts may stand before a marker. */
static bool ends_with(const char *line, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(line + len - n, suffix, n) == 0;
}

static int request_halt(struct uml_instance *inst);

static void handle_run_line(struct uml_instance *inst, const char *line, size_t len)
{
	if (!inst->run_sent) {
		/* the kernel opened the console and starts /bin/sh */
		if (memmem(line, len, "as init process", 15))
			send_run_script(inst);
		return;
	}
	if (!inst->run_started) {
		if (ends_with(line, len, inst->run_begin)) {
			inst->run_started = true;
			set_ready(inst);
		}
		return;
	}
	if (inst->run_done)
		return;
	const char *marker = memmem(line, len, inst->run_end, strlen(inst->run_end));

	if (marker) {
		const char *num = marker + strlen(inst->run_end);
		char *end;
		long st = strtol(num, &end, 10);

		if (end != num && *end == '\0' && st >= 0 && st <= 255) {
			inst->run_done = true;
			inst->run_status = (int)st;
			/* the newline before the marker is ours, not the command's */
			if (inst->run_output.len > 0)
				inst->run_output.data[--inst->run_output.len] = '\0';
			request_halt(inst);
			return;
		}
	}
	uml_buf_append(&inst->run_output, line, len);
	uml_buf_append(&inst->run_output, "\n", 1);
}

static void note_end_line(struct uml_instance *inst, enum uml_console_class c, const char *line,
			  size_t len)
{
	if (uml_console_class_rank(c) <= uml_console_class_rank(inst->end_class))
		return;
	inst->end_class = c;
	free(inst->end_line);
	inst->end_line = strndup(line, len);
	if (c == UML_CONSOLE_PANIC && !inst->panic_message) {
		const char *msg = memmem(line, len, "not syncing: ", 13);

		msg = msg ? msg + 13 : line;
		inst->panic_message = strndup(msg, len - (size_t)(msg - line));
		emit(inst, UML_EVENT_PANIC, inst->panic_message, strlen(inst->panic_message));
	}
}

static void handle_line(struct uml_instance *inst, const char *line, size_t len, bool console)
{
	enum uml_console_class c = uml_console_classify(line, len);

	if (c != UML_CONSOLE_PLAIN)
		note_end_line(inst, c, line, len);
	if (c == UML_CONSOLE_REBOOT && inst->proc.pid > 0 && !inst->reboot_killed) {
		/* UML reboots by exec'ing itself again; the guest's life ends here */
		inst->reboot_killed = true;
		kill(-inst->proc.pid, SIGKILL);
	}
	if (console) {
		emit(inst, UML_EVENT_CONSOLE_LINE, line, len);
		if (inst->run_command)
			handle_run_line(inst, line, len);
		else if (inst->ready_marker && memmem(line, len, inst->ready_marker,
							strlen(inst->ready_marker))) {
			inst->marker_seen = true;
			/* with an exec channel, also wait for the agent */
			if (!inst->exec || uml_exec_chan_is_up(inst->exec))
				set_ready(inst);
		}
	}
}

static void log_append(struct uml_instance *inst, const char *data, size_t len)
{
	if (inst->console_log.len + len > CONSOLE_LOG_MAX)
		uml_buf_drop_front(&inst->console_log, inst->console_log.len + len - CONSOLE_LOG_MAX + (1u << 20));
	if (len > CONSOLE_LOG_MAX)
		data += len - CONSOLE_LOG_MAX, len = CONSOLE_LOG_MAX;
	uml_buf_append(&inst->console_log, data, len);
}

/* Splits text into lines ("\r\n" and "\n"), handing each to handle_line(). */
static void feed_lines(struct uml_instance *inst, struct line_splitter *ls, const char *data,
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
	if (console && !inst->run_command && inst->ready_marker && p->len &&
	    memmem(p->data, p->len, inst->ready_marker, strlen(inst->ready_marker)))
		set_ready(inst);
	/* a guest printing without newlines must not grow us without bound */
	if ((flush && p->len > 0) || p->len > 65536) {
		if (p->len > ls->logged)
			log_append(inst, p->data + ls->logged, p->len - ls->logged);
		handle_line(inst, p->data, p->len, console);
		uml_buf_drop_front(p, p->len);
		ls->logged = 0;
	}
}

static int drain(struct uml_instance *inst, int *fd, struct line_splitter *ls, bool console,
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
			close_fd(fd);
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

static void handle_notify(struct uml_instance *inst)
{
	for (;;) {
		unsigned char buf[sizeof(uint32_t) * 4 + UML_MCONSOLE_MAX_DATA + 16];
		const char *data;
		size_t len;
		int type;
		ssize_t n = recv(inst->notify_fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0)
			break;
		if (uml_mconsole_parse_notify(buf, (size_t)n, &type, &data, &len) < 0) {
			uml_dbg(inst->ctx, "guest %s: ignoring a malformed notification", inst->umid);
			continue;
		}
		switch (type) {
		case UML_MCONSOLE_NOTIFY_SOCKET:
			if (inst->kernel_up && !inst->reboot_killed) {
				/*
				 * A second "kernel up": UML rebooted by exec'ing
				 * itself (mconsole reboot prints no reboot line).
				 */
				note_end_line(inst, UML_CONSOLE_REBOOT, "reboot", 6);
				inst->reboot_killed = true;
				kill(-inst->proc.pid, SIGKILL);
			}
			if (!inst->kernel_up) {
				inst->kernel_up = true;
				emit(inst, UML_EVENT_KERNEL_UP, data, len);
				if (!inst->ready_marker && !inst->run_command && !inst->exec)
					set_ready(inst);
				/*
				 * The init line is KERN_INFO, which "quiet" or a low
				 * loglevel hides; kernel-up comes regardless, and the
				 * console socket keeps the script until the tty reads it.
				 */
				if (inst->run_command && !inst->run_sent)
					send_run_script(inst);
			}
			break;
		case UML_MCONSOLE_NOTIFY_PANIC:
			if (!inst->panic_message) {
				inst->panic_message = strndup(data, strcspn(data, "\n"));
				if (inst->panic_message)
					emit(inst, UML_EVENT_PANIC, inst->panic_message,
					     strlen(inst->panic_message));
			}
			break;
		case UML_MCONSOLE_NOTIFY_USER:
			emit(inst, UML_EVENT_NOTIFY, data, len);
			break;
		default:
			break;
		}
	}
}

/* ---- exit --------------------------------------------------------------- */

static enum uml_exit_reason decide_reason(struct uml_instance *inst, const siginfo_t *si)
{
	bool by_signal = si->si_code == CLD_KILLED || si->si_code == CLD_DUMPED;

	if (inst->timed_out)
		return UML_EXIT_TIMEOUT;
	switch (inst->end_class) {
	case UML_CONSOLE_FP_REGS:
		return UML_EXIT_HOST_INCOMPATIBLE;
	case UML_CONSOLE_NO_INIT:
		return UML_EXIT_NO_INIT;
	case UML_CONSOLE_NO_ROOT:
		return UML_EXIT_NO_ROOT;
	case UML_CONSOLE_NO_CONSOLE:
		return UML_EXIT_NO_CONSOLE;
	case UML_CONSOLE_OOM:
		return UML_EXIT_OUT_OF_MEMORY;
	case UML_CONSOLE_PANIC:
		return UML_EXIT_PANIC;
	case UML_CONSOLE_REBOOT:
		return UML_EXIT_REBOOT;
	default:
		break;
	}
	if (inst->panic_message)
		return UML_EXIT_PANIC;
	if (by_signal)
		return UML_EXIT_KILLED;
	if (si->si_status == 0) {
		if (inst->end_class == UML_CONSOLE_POWEROFF)
			return UML_EXIT_POWEROFF;
		return UML_EXIT_HALT;
	}
	return inst->kernel_up ? UML_EXIT_CRASHED : UML_EXIT_FAILED_TO_START;
}

static void remove_runtime_files(struct uml_instance *inst)
{
	if (inst->umid_dir)
		uml_rm_rf(inst->umid_dir);
	if (inst->notify_path)
		unlink(inst->notify_path);
	free(inst->umid_dir);
	free(inst->notify_path);
	free(inst->mconsole_path);
	inst->umid_dir = inst->notify_path = inst->mconsole_path = NULL;
}

static void close_channels(struct uml_instance *inst)
{
	close_fd(&inst->console_fd);
	close_fd(&inst->stdio_fd);
	close_fd(&inst->notify_fd);
	close_fd(&inst->epfd);
	uml_spawn_release(&inst->proc);
}

/* The kernel process ended (pidfd readable): read what is left, reap, name. */
static void finish(struct uml_instance *inst)
{
	siginfo_t si = { 0 };
	const char *name;

	/* kill UML's helpers while its pid still pins the process group id */
	kill(-inst->proc.pid, SIGKILL);
	drain(inst, &inst->console_fd, &inst->console_lines, true, true);
	drain(inst, &inst->stdio_fd, &inst->stdio_lines, false, true);
	if (inst->notify_fd >= 0)
		handle_notify(inst);
	if (inst->exec)
		uml_exec_chan_ended(inst->exec);
	while (waitid(P_PIDFD, (id_t)inst->proc.pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	/*
	 * UML's helpers share the kernel's file table, so its disk locks live
	 * until the last of them is gone: the image is free again only then.
	 */
	uml_spawn_wait_group_gone(inst->proc.pid, 2000);
	inst->reason = decide_reason(inst, &si);
	if (si.si_code == CLD_EXITED)
		inst->exit_code = si.si_status;
	else
		inst->exit_signal = si.si_status;
	close_channels(inst);
	remove_runtime_files(inst);
	uml_net_guest_ended(inst);	/* net: drop switches and links, delete taps */
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
	if (inst->state != UML_STATE_BOOTING && inst->state != UML_STATE_RUNNING)
		return;
	kill(-inst->proc.pid, SIGKILL);
	inst->signal_sent = SIGKILL;
	finish(inst);
}

/* ---- boot --------------------------------------------------------------- */

static int check_umid_free(struct uml_instance *inst)
{
	char *pidfile, *content = NULL;
	int r;

	if (asprintf(&pidfile, "%s/pid", inst->umid_dir) < 0)
		return -ENOMEM;
	r = uml_read_file(pidfile, &content, NULL);
	free(pidfile);
	if (r == 0) {
		long pid = strtol(content, NULL, 10);

		free(content);
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
			return ifail(inst, -EEXIST, "a guest with umid '%s' runs already (pid %ld)",
				     inst->umid, pid);
	}
	return 0;
}

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
	int r;

	if (!inst->rootfs)
		return 0;
	r = check_disk(inst, uml_rootfs_get_path(inst->rootfs), true);
	if (r == 0 && inst->rootfs->backing)
		r = check_disk(inst, inst->rootfs->backing, false);
	/* a changed backing file: UML would refuse the overlay at mount time */
	if (r == 0 && inst->rootfs->backing) {
		r = uml_rootfs_cow_check(inst->rootfs);
		if (r < 0)
			r = ifail(inst, r, "%s", uml_rootfs_last_error(inst->rootfs));
	}
	return r;
}

static int epoll_watch(struct uml_instance *inst, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	if (epoll_ctl(inst->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return ifail(inst, -errno, "epoll_ctl: %m");
	return 0;
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
	return uml_hostcompat_needed();
}

/* The environment for the kernel: ours, plus the host compatibility preload. */
static int build_env(struct uml_instance *inst, int preload_fd, char ***ret)
{
	extern char **environ;
	size_t n = 0;
	char **env;
	const char *old = getenv("LD_PRELOAD");

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(char *));
	if (!env)
		return -ENOMEM;
	n = 0;
	for (char **e = environ; *e; e++)
		if (preload_fd < 0 || strncmp(*e, "LD_PRELOAD=", 11) != 0)
			if (!(env[n++] = strdup(*e)))
				goto fail;
	if (preload_fd >= 0 &&
	    asprintf(&env[n++], "LD_PRELOAD=/proc/self/fd/%d%s%s", preload_fd,
		     old && *old ? ":" : "", old && *old ? old : "") < 0) {
		env[n - 1] = NULL;
		goto fail;
	}
	*ret = env;
	return 0;
fail:
	free_argv(env);
	return -ENOMEM;
}

UML_EXPORT int uml_instance_boot(struct uml_instance *inst)
{
	const char *dir;
	char **argv = NULL, **env = NULL;
	int cons[2] = { -1, -1 }, out[2] = { -1, -1 }, preload_fd = -1;
	int keep[4 + UML_NET_MAX_FDS];	/* console, preload, exec channel, net links */
	char *cleanup[5] = { NULL };	/* for the watchdog, should we die */
	size_t n_keep = 0;
	struct uml_spawn sp;
	int r, exec_fd;

	if (!inst)
		return -EINVAL;
	if (inst->state != UML_STATE_CONFIGURING)
		return ifail(inst, -EBUSY, "guest '%s' was booted already", inst->umid);
	dir = uml_ctx_get_runtime_dir(inst->ctx);
	r = check_umid(inst, inst->umid);
	if (r < 0)
		return r;
	r = check_root_image(inst);
	if (r < 0)
		return r;
	r = uml_ctx_ensure_runtime_dir(inst->ctx);
	if (r < 0)
		return ifail(inst, r, "%s", uml_ctx_last_error(inst->ctx));
	if (asprintf(&inst->umid_dir, "%s/%s", dir, inst->umid) < 0 ||
	    asprintf(&inst->notify_path, "%s/.%s.notify", dir, inst->umid) < 0 ||
	    asprintf(&inst->mconsole_path, "%s/%s/mconsole", dir, inst->umid) < 0) {
		r = -ENOMEM;
		goto fail_names;
	}
	r = check_umid_free(inst);
	if (r < 0)
		goto fail_names;
	if (inst->run_command) {
		if (random_hex(inst->run_nonce, 24) < 0 ||
		    asprintf(&inst->run_begin, "%sB", inst->run_nonce) < 0 ||
		    asprintf(&inst->run_end, "%sE", inst->run_nonce) < 0) {
			r = -ENOMEM;
			goto fail_names;
		}
	}
	if (!inst->ready_marker && !inst->run_command && inst->rootfs &&
	    uml_rootfs_get_ready_marker(inst->rootfs)) {
		r = uml_set_string(&inst->ready_marker, uml_rootfs_get_ready_marker(inst->rootfs));
		if (r < 0)
			goto fail_names;
	}

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
	keep[n_keep++] = cons[1];
	if (inst->exec) {
		r = uml_exec_chan_prepare(inst->exec, keep + n_keep);
		if (r < 0)
			goto fail;
		n_keep += 2;
	}
	if (want_hostcompat(inst)) {
		if (uml_kernel_is_static(inst->kernel)) {
			uml_info(inst->ctx, "kernel %s is static: the host compatibility fix cannot "
				 "be applied and it may die at PID 1 on this host",
				 uml_kernel_get_path(inst->kernel));
		} else {
			preload_fd = uml_hostcompat_preload_fd(inst->ctx);
			if (preload_fd < 0) {
				r = ifail(inst, preload_fd, "%s", uml_ctx_last_error(inst->ctx));
				goto fail;
			}
			keep[n_keep++] = preload_fd;
			inst->hostcompat_applied = true;
		}
	}
	/* ---- net: switches, taps, link sockets ---- */
	r = uml_net_boot_prepare(inst, keep, &n_keep);
	if (r < 0)
		goto fail;
	/* ---- end net ---- */
	r = build_argv(inst, cons[1], &argv);
	if (r < 0)
		goto fail;
	r = build_env(inst, preload_fd, &env);
	if (r < 0)
		goto fail;
	if (asprintf(&cleanup[0], "%s/pid", inst->umid_dir) < 0 ||
	    asprintf(&cleanup[1], "%s/%s", inst->umid_dir, "mconsole") < 0) {
		r = -ENOMEM;
		goto fail;
	}
	cleanup[2] = inst->umid_dir;
	cleanup[3] = inst->notify_path;

	r = uml_spawn(inst->ctx, argv, env, keep, n_keep, out[1], cleanup, &sp);
	if (r < 0) {
		ifail(inst, r, "%s", uml_ctx_last_error(inst->ctx));
		goto fail;
	}
	close_fd(&cons[1]);
	close_fd(&out[1]);
	close_fd(&preload_fd);
	exec_fd = inst->exec ? uml_exec_chan_started(inst->exec) : -1;
	inst->proc = sp;
	inst->console_fd = cons[0];
	inst->stdio_fd = out[0];
	fcntl(inst->console_fd, F_SETFL, O_NONBLOCK);
	fcntl(inst->stdio_fd, F_SETFL, O_NONBLOCK);
	inst->state = UML_STATE_BOOTING;
	inst->deadline_usec = inst->timeout_ms ?
			      uml_now_usec() + (uint64_t)inst->timeout_ms * 1000u : 0;
	free_argv(inst->argv);
	inst->argv = argv;
	free_argv(env);
	free(cleanup[0]);
	free(cleanup[1]);
	if (epoll_watch(inst, inst->proc.pidfd) < 0 || epoll_watch(inst, inst->console_fd) < 0 ||
	    epoll_watch(inst, inst->stdio_fd) < 0 || epoll_watch(inst, inst->notify_fd) < 0 ||
	    (exec_fd >= 0 && epoll_watch(inst, exec_fd) < 0)) {
		r = -errno;
		stop_and_reap(inst);
		return r ? r : -EIO;
	}
	uml_info(inst->ctx, "guest %s booting (pid %d%s)", inst->umid, (int)sp.pid,
		 inst->hostcompat_applied ? ", host compatibility fix applied" : "");
	return 0;

fail:
	free_argv(argv);
	free_argv(env);
	free(cleanup[0]);
	free(cleanup[1]);
	close_fd(&cons[0]);
	close_fd(&cons[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&preload_fd);
	if (inst->exec) {
		uml_exec_chan_started(inst->exec);
		uml_exec_chan_ended(inst->exec);	/* also removes its socket */
	}
	close_channels(inst);
	uml_net_boot_failed(inst);	/* net */
	inst->hostcompat_applied = false;
	if (inst->notify_path)
		unlink(inst->notify_path);
fail_names:
	free(inst->umid_dir);
	free(inst->notify_path);
	free(inst->mconsole_path);
	inst->umid_dir = inst->notify_path = inst->mconsole_path = NULL;
	return r;
}

/* ---- event loop --------------------------------------------------------- */

static bool running(struct uml_instance *inst)
{
	return inst->state == UML_STATE_BOOTING || inst->state == UML_STATE_RUNNING;
}

UML_EXPORT int uml_instance_get_fd(struct uml_instance *inst)
{
	if (!inst)
		return -EINVAL;
	return inst->epfd >= 0 ? inst->epfd : -ENOTCONN;
}

UML_EXPORT int uml_instance_get_timeout(struct uml_instance *inst, uint64_t *ret_usec)
{
	if (!inst || !ret_usec)
		return -EINVAL;
	*ret_usec = running(inst) && inst->deadline_usec ? inst->deadline_usec : UINT64_MAX;
	return 0;
}

UML_EXPORT int uml_instance_process(struct uml_instance *inst)
{
	int handled = 0;

	if (!inst)
		return -EINVAL;
	if (!running(inst))
		return 0;
	if (inst->notify_fd >= 0)
		handle_notify(inst);
	handled |= drain(inst, &inst->console_fd, &inst->console_lines, true, false);
	handled |= drain(inst, &inst->stdio_fd, &inst->stdio_lines, false, false);
	if (inst->exec)
		handled |= uml_exec_chan_process(inst->exec);
	if (inst->console_out.len > 0)
		queue_console_input(inst, "", 0);
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

/* Waits for fd activity or the guest's deadline, at most until `until`. */
static int wait_once(struct uml_instance *inst, uint64_t until)
{
	struct epoll_event ev[4];
	uint64_t now = uml_now_usec(), wake = until;
	int ms;

	if (inst->deadline_usec && inst->deadline_usec < wake)
		wake = inst->deadline_usec;
	ms = wake == UINT64_MAX ? -1 : wake <= now ? 0 : (int)((wake - now + 999) / 1000);
	if (epoll_wait(inst->epfd, ev, ARRAY_SIZE(ev), ms) < 0 && errno != EINTR)
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
	if (inst->state == UML_STATE_EXITED && inst->reason != UML_EXIT_NONE &&
	    !(inst->run_command && inst->run_started))
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
	while (running(inst)) {
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

static int request_halt(struct uml_instance *inst)
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
	if (!running(inst))
		return 0;
	if (request_halt(inst) == 0 && uml_instance_wait(inst, timeout_ms) == 0)
		return 0;
	if (running(inst)) {
		uml_info(inst->ctx, "guest %s did not halt; sending SIGTERM", inst->umid);
		inst->signal_sent = SIGTERM;
		kill(inst->proc.pid, SIGTERM);
		if (uml_instance_wait(inst, timeout_ms) == 0)
			return 0;
	}
	if (running(inst)) {
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

/* ---- getters ------------------------------------------------------------ */

UML_EXPORT enum uml_state uml_instance_get_state(struct uml_instance *inst)
{
	return inst ? inst->state : UML_STATE_CONFIGURING;
}

UML_EXPORT pid_t uml_instance_get_pid(struct uml_instance *inst)
{
	return inst && running(inst) ? inst->proc.pid : 0;
}

UML_EXPORT enum uml_exit_reason uml_instance_get_exit_reason(struct uml_instance *inst)
{
	return inst ? inst->reason : UML_EXIT_NONE;
}

UML_EXPORT const char *uml_instance_get_exit_detail(struct uml_instance *inst)
{
	return inst ? inst->end_line : NULL;
}

UML_EXPORT const char *uml_instance_get_panic_message(struct uml_instance *inst)
{
	return inst ? inst->panic_message : NULL;
}

UML_EXPORT int uml_instance_get_exit_signal(struct uml_instance *inst)
{
	return inst ? inst->exit_signal : 0;
}

UML_EXPORT int uml_instance_get_exit_code(struct uml_instance *inst)
{
	return inst ? inst->exit_code : -1;
}

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
	if (!running(inst) || inst->console_fd < 0)
		return ifail(inst, -ENOTCONN, "guest '%s' has no console to write to", inst->umid);
	n = write(inst->console_fd, data, len);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : ifail(inst, -errno, "console write: %m");
	return n;
}

UML_EXPORT int uml_instance_get_run_status(struct uml_instance *inst, int *ret)
{
	if (!inst || !ret)
		return -EINVAL;
	if (!inst->run_done)
		return -ENODATA;
	*ret = inst->run_status;
	return 0;
}

UML_EXPORT const char *uml_instance_get_run_output(struct uml_instance *inst, size_t *len)
{
	if (!inst || !inst->run_command)
		return NULL;
	if (len)
		*len = inst->run_output.len;
	return inst->run_output.data ? inst->run_output.data : "";
}

UML_EXPORT int uml_instance_get_hostcompat_applied(struct uml_instance *inst)
{
	return inst && inst->hostcompat_applied ? 1 : 0;
}

UML_EXPORT const char *uml_exit_reason_to_string(enum uml_exit_reason reason)
{
	static const char *const names[] = {
		[UML_EXIT_NONE] = "none",
		[UML_EXIT_POWEROFF] = "poweroff",
		[UML_EXIT_HALT] = "halt",
		[UML_EXIT_REBOOT] = "reboot",
		[UML_EXIT_PANIC] = "panic",
		[UML_EXIT_KILLED] = "killed",
		[UML_EXIT_TIMEOUT] = "timeout",
		[UML_EXIT_FAILED_TO_START] = "failed-to-start",
		[UML_EXIT_HOST_INCOMPATIBLE] = "host-incompatible",
		[UML_EXIT_NO_INIT] = "no-init",
		[UML_EXIT_NO_ROOT] = "no-root",
		[UML_EXIT_NO_CONSOLE] = "no-console",
		[UML_EXIT_OUT_OF_MEMORY] = "out-of-memory",
		[UML_EXIT_CRASHED] = "crashed",
	};

	if ((unsigned)reason >= ARRAY_SIZE(names))
		return NULL;
	return names[reason];
}

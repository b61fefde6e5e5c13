/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The UML management console (mconsole) client: requests over the guest's
 * unix datagram socket (arch/um/drivers/mconsole_user.c is the peer), the
 * typed calls of the public API, and the checks of their arguments.  The
 * wire format lives in mconsole-proto.c.
 */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "instance-internal.h"
#include "mconsole-proto.h"

/* Where a request goes and where its failure is recorded. */
struct mc_peer {
	struct uml_ctx *ctx;
	char **slot;			/* the object's last error, or NULL for the ctx's */
	const char *name;		/* umid or socket path, for messages */
	const char *path;		/* the mconsole socket */
	int timeout_ms;
};

static int mc_fail_io(const struct mc_peer *p, const char *command, int r)
{
	switch (r) {
	case -ENOENT:
		return uml_fail(p->ctx, p->slot, r, "no mconsole socket at '%s': is guest '%s' running?",
				p->path, p->name);
	case -ECONNREFUSED:
		return uml_fail(p->ctx, p->slot, r,
				"nothing listens on '%s': guest '%s' has ended (stale socket)",
				p->path, p->name);
	case -ETIMEDOUT:
		return uml_fail(p->ctx, p->slot, r, "guest '%s' did not answer '%.64s' within %d ms",
				p->name, command, p->timeout_ms);
	case -EBADMSG:
		return uml_fail(p->ctx, p->slot, r, "malformed mconsole reply from '%s' to '%.64s'",
				p->path, command);
	case -EMSGSIZE:
		return uml_fail(p->ctx, p->slot, r,
				"mconsole reply from '%s' to '%.64s' exceeds %u bytes",
				p->path, command, UML_MCONSOLE_MAX_REPLY);
	case -E2BIG:
		return uml_fail(p->ctx, p->slot, r,
				"mconsole command of %zu bytes is too long (at most %d): '%.64s...'",
				strlen(command), UML_MCONSOLE_MAX_DATA - 1, command);
	case -ENAMETOOLONG:
		return uml_fail(p->ctx, p->slot, r, "mconsole socket path too long: '%s'", p->path);
	default:
		return uml_fail(p->ctx, p->slot, r, "mconsole '%.64s' to '%s' failed: %s", command,
				p->path, strerror(-r));
	}
}

/*
 * Runs one command.  On a kernel refusal the last error is the kernel's
 * message and *kerr its error value; the return is -EREMOTEIO.
 */
static int mc_run(const struct mc_peer *p, const char *command, char **reply, size_t *len,
		  int *kerr)
{
	char *text = NULL;
	size_t n = 0;
	int err = 0, r;

	uml_dbg(p->ctx, "mconsole %s: %s", p->name, command);
	r = uml_mconsole_call(p->path, command, p->timeout_ms, &text, &n, &err);
	if (r < 0)
		return mc_fail_io(p, command, r);
	if (kerr)
		*kerr = err;
	if (err) {
		if (text[0])
			r = uml_fail(p->ctx, p->slot, -EREMOTEIO, "%s", text);
		else
			r = uml_fail(p->ctx, p->slot, -EREMOTEIO,
				     "guest '%s' refused mconsole command '%.64s'", p->name, command);
		free(text);
		return r;
	}
	if (reply)
		*reply = text;
	else
		free(text);
	if (len)
		*len = n;
	return 0;
}

UML_EXPORT int uml_ctx_mconsole(struct uml_ctx *ctx, const char *umid, const char *command,
				int timeout_ms, char **reply, size_t *reply_len)
{
	struct mc_peer p = { .ctx = ctx, .name = umid, .timeout_ms = timeout_ms };
	char *path = NULL;
	int r;

	if (!ctx)
		return -EINVAL;
	if (!umid || !umid[0] || !command || !command[0] || !reply)
		return uml_fail(ctx, NULL, -EINVAL, "uml_ctx_mconsole: %s missing",
				!umid || !umid[0] ? "umid" : !command || !command[0] ?
				"command" : "reply pointer");
	if (umid[0] == '/') {
		path = strdup(umid);
		if (!path)
			return -ENOMEM;
	} else {
		/* guests libuml did not start may use any umid: refuse only what escapes */
		if (strchr(umid, '/') || strcmp(umid, ".") == 0 || strcmp(umid, "..") == 0)
			return uml_fail(ctx, NULL, -EINVAL,
					"bad umid '%s': not a name (nor an absolute socket path)",
					umid);
		r = uml_ctx_check_runtime_dir(ctx, NULL, false);
		if (r < 0)
			return r;
		if (asprintf(&path, "%s/%s/mconsole", uml_ctx_get_runtime_dir(ctx), umid) < 0)
			return -ENOMEM;
	}
	p.path = path;
	r = mc_run(&p, command, reply, reply_len, NULL);
	free(path);
	return r;
}

/* Fills p for a running instance; -EINVAL without one, -ENOTCONN if not running. */
static int inst_peer(struct uml_instance *inst, struct mc_peer *p)
{
	if (!inst)
		return -EINVAL;
	p->ctx = inst->ctx;
	p->slot = &inst->last_error;
	p->name = inst->umid;
	p->path = uml_instance_running(inst) ? inst->mconsole_path : NULL;
	p->timeout_ms = UML_MCONSOLE_TIMEOUT_MS;
	if (!p->path)
		return uml_fail(p->ctx, p->slot, -ENOTCONN, "guest '%s' is not running", p->name);
	return 0;
}

/* A word the kernel takes up to the end of the line: no blanks, no controls. */
static int mc_check_word(const struct mc_peer *p, const char *what, const char *s)
{
	if (!s || !s[0])
		return uml_fail(p->ctx, p->slot, -EINVAL, "mconsole %s missing", what);
	if (uml_has_space_or_ctrl(s))
		return uml_fail(p->ctx, p->slot, -EINVAL,
				"mconsole %s '%s' holds white space or control characters", what, s);
	return 0;
}

/* A device name for config queries and remove. */
static int mc_check_dev(const struct mc_peer *p, const char *what, const char *dev)
{
	int r = mc_check_word(p, what, dev);

	if (r == 0 && strchr(dev, '='))
		r = uml_fail(p->ctx, p->slot, -EINVAL, "bad mconsole device name '%s'", dev);
	return r;
}

/* DEV=VALUE: without '=' the kernel would answer a query instead. */
static int mc_check_setting(const struct mc_peer *p, const char *what, const char *spec)
{
	int r = mc_check_word(p, what, spec);
	const char *eq;

	if (r < 0)
		return r;
	eq = strchr(spec, '=');
	if (!eq || eq == spec)
		return uml_fail(p->ctx, p->slot, -EINVAL, "mconsole %s '%s' is not DEV=VALUE",
				what, spec);
	return 0;
}

/* Text for the kernel log: spaces are fine, control characters are not. */
static int mc_check_text(const struct mc_peer *p, const char *what, const char *text)
{
	if (!text)
		return uml_fail(p->ctx, p->slot, -EINVAL, "mconsole %s missing", what);
	for (const char *s = text; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return uml_fail(p->ctx, p->slot, -EINVAL,
					"mconsole %s holds control character 0x%02x", what,
					(unsigned char)*s);
	return 0;
}

/* The kernel takes the first non-blank character after "sysrq". */
static int mc_check_key(const struct mc_peer *p, const char *what, const char *key)
{
	if (!key[0] || uml_has_space_or_ctrl(key) || (unsigned char)key[0] >= 0x7f)
		return uml_fail(p->ctx, p->slot, -EINVAL, "bad %s 0x%02x: need a printable letter",
				what, (unsigned char)key[0]);
	return 0;
}

static int mc_check_pid(const struct mc_peer *p, const char *what, const char *pid)
{
	if (atoi(pid) <= 0)
		return uml_fail(p->ctx, p->slot, -EINVAL, "bad %s %s", what, pid);
	return 0;
}

/* How one kernel command is built and checked. */
struct mc_cmd {
	const char *verb;
	const char *what;		/* its argument, in messages */
	int (*check)(const struct mc_peer *p, const char *what, const char *arg);
	const char *end;		/* appended after the argument */
};

static const struct mc_cmd
	CMD_VERSION = { .verb = "version" },
	CMD_HELP = { .verb = "help" },
	CMD_HALT = { .verb = "halt" },
	CMD_REBOOT = { .verb = "reboot" },
	CMD_CAD = { .verb = "cad" },
	CMD_STOP = { .verb = "stop" },
	CMD_GO = { .verb = "go" },
	CMD_SYSRQ = { .verb = "sysrq", .what = "SysRq key", .check = mc_check_key },
	/* printk holds a line back until its newline comes */
	CMD_LOG = { .verb = "log", .what = "log text", .check = mc_check_text, .end = "\n" },
	CMD_PROC = { .verb = "proc", .what = "proc path", .check = mc_check_word },
	CMD_STACK = { .verb = "stack", .what = "guest pid", .check = mc_check_pid },
	CMD_CONFIG = { .verb = "config", .what = "config setting", .check = mc_check_setting },
	CMD_CONFIG_GET = { .verb = "config", .what = "device name", .check = mc_check_dev },
	CMD_REMOVE = { .verb = "remove", .what = "device name", .check = mc_check_dev };

/* Checks arg (NULL for commands without one), builds the command, runs it. */
static int inst_run(struct uml_instance *inst, const struct mc_cmd *c, const char *arg,
		    char **reply, size_t *len)
{
	char cmd[UML_MCONSOLE_MAX_DATA];
	struct mc_peer p;
	int n, r = inst_peer(inst, &p);

	if (r < 0)
		return r;
	if (c->check) {
		r = c->check(&p, c->what, arg);
		if (r < 0)
			return r;
	}
	n = snprintf(cmd, sizeof(cmd), "%s%s%s%s", c->verb, arg ? " " : "", arg ? arg : "",
		     c->end ? c->end : "");
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return uml_fail(p.ctx, p.slot, -E2BIG,
				"mconsole %s too long: the command may hold %d bytes",
				c->what ? c->what : c->verb, UML_MCONSOLE_MAX_DATA - 1);
	return mc_run(&p, cmd, reply, len, NULL);
}

UML_EXPORT int uml_instance_mconsole(struct uml_instance *inst, const char *command,
				     char **reply, size_t *reply_len)
{
	struct mc_cmd raw = { .verb = command };

	if (!inst)
		return -EINVAL;
	if (!command || !command[0] || !reply)
		return ifail(inst, -EINVAL, "uml_instance_mconsole: %s missing",
				!command || !command[0] ? "command" : "reply pointer");
	return inst_run(inst, &raw, NULL, reply, reply_len);
}

UML_EXPORT int uml_instance_mconsole_version(struct uml_instance *inst, char **ret)
{
	return ret ? inst_run(inst, &CMD_VERSION, NULL, ret, NULL) : -EINVAL;
}

UML_EXPORT int uml_instance_mconsole_help(struct uml_instance *inst, char **ret)
{
	return ret ? inst_run(inst, &CMD_HELP, NULL, ret, NULL) : -EINVAL;
}

UML_EXPORT int uml_instance_mconsole_halt(struct uml_instance *inst)
{
	int r = inst_run(inst, &CMD_HALT, NULL, NULL, NULL);

	/* evidence for the exit reason: the kernel took the halt */
	if (r == 0)
		inst->halt_acked = true;
	return r;
}

UML_EXPORT int uml_instance_mconsole_reboot(struct uml_instance *inst)
{
	return inst_run(inst, &CMD_REBOOT, NULL, NULL, NULL);
}

UML_EXPORT int uml_instance_mconsole_cad(struct uml_instance *inst)
{
	return inst_run(inst, &CMD_CAD, NULL, NULL, NULL);
}

UML_EXPORT int uml_instance_mconsole_stop(struct uml_instance *inst)
{
	return inst_run(inst, &CMD_STOP, NULL, NULL, NULL);
}

UML_EXPORT int uml_instance_mconsole_go(struct uml_instance *inst)
{
	return inst_run(inst, &CMD_GO, NULL, NULL, NULL);
}

/* How long the kernel gets to answer a crash request before its end is awaited instead. */
#define SYSRQ_CRASH_REPLY_MS 1000

UML_EXPORT int uml_instance_mconsole_sysrq(struct uml_instance *inst, char key, char **output)
{
	char arg[2] = { key, '\0' };
	struct mc_peer p;
	char *text = NULL;
	int err = 0, r;

	if (key != 'c')
		return inst_run(inst, &CMD_SYSRQ, arg, output, NULL);
	/*
	 * A crash: the kernel panics instead of answering.  Its panic
	 * notification ends the guest (exit reason PANIC); that is the answer.
	 */
	r = inst_peer(inst, &p);
	if (r < 0)
		return r;
	p.timeout_ms = SYSRQ_CRASH_REPLY_MS;
	r = uml_mconsole_call(p.path, "sysrq c", p.timeout_ms, &text, NULL, &err);
	if (r == 0) {
		/* it answered: no crash (SysRq off), or a refusal */
		if (err)
			r = uml_fail(p.ctx, p.slot, -EREMOTEIO, "%s", text[0] ? text : "sysrq c refused");
		if (r == 0 && output)
			*output = text;
		else
			free(text);
		return r;
	}
	r = uml_instance_wait(inst, UML_MCONSOLE_TIMEOUT_MS);
	if (r == -ETIMEDOUT)
		r = uml_fail(p.ctx, p.slot, r, "guest '%s' did not crash on sysrq c", p.name);
	if (r == 0 && output)
		*output = NULL;
	return r;
}

UML_EXPORT int uml_instance_mconsole_log(struct uml_instance *inst, const char *text)
{
	return inst_run(inst, &CMD_LOG, text, NULL, NULL);
}

UML_EXPORT int uml_instance_mconsole_proc(struct uml_instance *inst, const char *path,
					  char **data, size_t *len)
{
	char *text;
	size_t n;
	int r;

	if (!data)
		return -EINVAL;
	if (path && strncmp(path, "/proc/", 6) == 0)
		path += 6;
	r = inst_run(inst, &CMD_PROC, path, &text, &n);
	if (r < 0)
		return r;
	/* the kernel starts the contents "on their own line" */
	if (n > 0 && text[0] == '\n') {
		memmove(text, text + 1, n);	/* with the NUL */
		n--;
	}
	*data = text;
	if (len)
		*len = n;
	return 0;
}

UML_EXPORT int uml_instance_mconsole_stack(struct uml_instance *inst, pid_t pid, char **output)
{
	char arg[24];

	snprintf(arg, sizeof(arg), "%d", (int)pid);
	return inst_run(inst, &CMD_STACK, arg, output, NULL);
}

UML_EXPORT int uml_instance_mconsole_config(struct uml_instance *inst, const char *spec)
{
	return inst_run(inst, &CMD_CONFIG, spec, NULL, NULL);
}

UML_EXPORT int uml_instance_mconsole_config_get(struct uml_instance *inst, const char *dev,
						char **ret)
{
	return ret ? inst_run(inst, &CMD_CONFIG_GET, dev, ret, NULL) : -EINVAL;
}

UML_EXPORT int uml_instance_mconsole_remove(struct uml_instance *inst, const char *dev)
{
	return inst_run(inst, &CMD_REMOVE, dev, NULL, NULL);
}

/* ubd units the kernel knows (MAX_DEV in ubd_kern.c) */
#define MC_UBD_UNITS 16

static int mc_check_unit(const struct mc_peer *p, unsigned index)
{
	if (index >= MC_UBD_UNITS)
		return uml_fail(p->ctx, p->slot, -EINVAL, "bad ubd unit %u: use 0 to %d", index,
				MC_UBD_UNITS - 1);
	return 0;
}

/* Runs a ubd command; a refusal carrying a negative errno becomes that errno. */
static int mc_run_ubd(const struct mc_peer *p, const char *cmd)
{
	int kerr = 0, r = mc_run(p, cmd, NULL, NULL, &kerr);

	if (r == -EREMOTEIO && kerr < 0 && kerr >= -4095)
		return kerr;
	return r;
}

UML_EXPORT int uml_instance_add_disk_live(struct uml_instance *inst, unsigned index,
					  const char *image, unsigned flags)
{
	char cmd[UML_MCONSOLE_MAX_DATA];
	struct mc_peer p;
	char *abs = NULL, *inside = NULL;
	int n, r = inst_peer(inst, &p);

	if (r == 0)
		r = mc_check_unit(&p, index);
	if (r == 0)
		r = mc_check_word(&p, "disk image path", image);
	if (r < 0)
		return r;
	if (flags & ~(unsigned)UML_DISK_LIVE_READONLY)
		return uml_fail(p.ctx, p.slot, -EINVAL, "unknown disk flags 0x%x", flags);
	/* ubdN=FILE,BACKING,SERIAL: the kernel splits at ',' and ':' */
	if (strpbrk(image, ",:"))
		return uml_fail(p.ctx, p.slot, -EINVAL,
				"disk image path '%s' holds ',' or ':', which the kernel splits at",
				image);
	/* the kernel resolves relative paths against its own cwd, not ours */
	r = uml_path_absolute(image, &abs);
	if (r < 0)
		return uml_fail(p.ctx, p.slot, r, "cannot make '%s' absolute: %s", image,
				strerror(-r));
	if (access(abs, F_OK) < 0) {
		r = uml_fail(p.ctx, p.slot, -errno, "disk image '%s': %s", abs, strerror(errno));
	} else if ((r = uml_instance_reach_path(inst, abs, &inside)) == 0) {
		n = snprintf(cmd, sizeof(cmd), "config ubd%u%s=%s", index,
			     flags & UML_DISK_LIVE_READONLY ? "r" : "", inside);
		if (n < 0 || (size_t)n >= sizeof(cmd))
			r = uml_fail(p.ctx, p.slot, -E2BIG,
				     "disk image path '%s' too long for an mconsole command", abs);
		else
			r = mc_run_ubd(&p, cmd);
	}
	free(abs);
	free(inside);
	return r;
}

UML_EXPORT int uml_instance_remove_disk_live(struct uml_instance *inst, unsigned index)
{
	char cmd[UML_MCONSOLE_MAX_DATA];
	struct mc_peer p;
	int r = inst_peer(inst, &p);

	if (r == 0)
		r = mc_check_unit(&p, index);
	if (r < 0)
		return r;
	snprintf(cmd, sizeof(cmd), "remove ubd%u", index);
	return mc_run_ubd(&p, cmd);
}

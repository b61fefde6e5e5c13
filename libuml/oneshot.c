/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One-shot guests (uml_instance_set_run_command()): /bin/sh is init, the
 * command goes in over the console between markers its own echo cannot
 * match, and its output and exit status come back before the guest halts.
 * A part of the instance (instance-internal.h).
 */
#include "config.h"

#include "instance-internal.h"

#define RUN_COMMAND_MAX (64u << 10)
#define RUN_LINE_MAX 1000

struct oneshot {
	char *command;
	char nonce[33];
	char *begin, *end;		/* the marker texts the guest prints */
	bool sent, started, done;
	int status;
	struct uml_buf output;
};

static void oneshot_free(void *data)
{
	struct oneshot *o = data;

	free(o->command);
	free(o->begin);
	free(o->end);
	uml_buf_free(&o->output);
	free(o);
}

static int oneshot_prepare(struct uml_instance *inst, void *data)
{
	struct oneshot *o = data;

	free(o->begin);
	free(o->end);
	o->begin = o->end = NULL;
	if (uml_random_hex(o->nonce, 24) < 0 || asprintf(&o->begin, "%sB", o->nonce) < 0 ||
	    asprintf(&o->end, "%sE", o->nonce) < 0) {
		o->begin = o->end = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int oneshot_launch(struct uml_instance *inst, void *data, struct uml_launch *l)
{
	l->init = "/bin/sh";
	l->ready_marker = NULL;		/* ready when the command starts */
	l->root_rw = false;
	return 0;
}

/* The script: markers are built from pieces so its own echo never matches them. */
static int send_script(struct uml_instance *inst, struct oneshot *o)
{
	const char *parts[] = {
		"stty -echo 2>&-\n",
		/* a fresh Linux has /proc and /sys; errors mean the guest has no such dirs */
		"mount -t proc proc /proc 2>&-; mount -t sysfs sysfs /sys 2>&-\n",
		"echo ", o->nonce, "\"B\"; ( [ -c /dev/null ] && exec </dev/null; eval '\n",
	};
	const char *tail[] = {
		"\n' ) 2>&1; s=$?; sync 2>&-; printf '\\n%sE%d\\n' ", o->nonce, "\"\" \"$s\"\n",
	};
	struct uml_buf s = { 0 };
	int r;

	o->sent = true;
	r = uml_instance_run_prologue(inst, &s);
	for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
		r |= uml_buf_append(&s, parts[i], strlen(parts[i]));
	/* inside single quotes, a quote is written as '\'' */
	for (const char *p = o->command; *p; p++)
		r |= *p == '\'' ? uml_buf_append(&s, "'\\''", 4) : uml_buf_append(&s, p, 1);
	for (size_t i = 0; i < ARRAY_SIZE(tail); i++)
		r |= uml_buf_append(&s, tail[i], strlen(tail[i]));
	if (r == 0)
		r = uml_instance_console_input(inst, s.data, s.len);
	uml_buf_free(&s);
	return r < 0 ? r : 0;
}

/* Does line end with suffix?  Prompts may stand before a marker. */
static bool ends_with(const char *line, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(line + len - n, suffix, n) == 0;
}

static void take_line(struct uml_instance *inst, struct oneshot *o, const char *line, size_t len)
{
	const char *marker;

	if (!o->sent) {
		/* the kernel opened the console and starts /bin/sh */
		if (memmem(line, len, "as init process", 15))
			send_script(inst, o);
		return;
	}
	if (!o->started) {
		if (ends_with(line, len, o->begin)) {
			o->started = true;
			uml_instance_update_ready(inst);
		}
		return;
	}
	if (o->done)
		return;
	marker = memmem(line, len, o->end, strlen(o->end));
	if (marker) {
		const char *num = marker + strlen(o->end);
		char *end;
		long st = strtol(num, &end, 10);

		if (end != num && *end == '\0' && st >= 0 && st <= 255) {
			o->done = true;
			o->status = (int)st;
			/* the newline before the marker is ours, not the command's */
			if (o->output.len > 0)
				o->output.data[--o->output.len] = '\0';
			uml_instance_request_halt(inst);
			return;
		}
	}
	uml_buf_append(&o->output, line, len);
	uml_buf_append(&o->output, "\n", 1);
}

static void oneshot_event(struct uml_instance *inst, void *data, const struct uml_event *ev)
{
	struct oneshot *o = data;

	switch (ev->type) {
	case UML_EVENT_CONSOLE_LINE:
		take_line(inst, o, ev->text, ev->len);
		break;
	case UML_EVENT_KERNEL_UP:
		/*
		 * The init line is KERN_INFO, which "quiet" or a low loglevel
		 * hides; kernel-up comes regardless, and the console socket
		 * keeps the script until the tty reads it.
		 */
		if (!o->sent)
			send_script(inst, o);
		break;
	default:
		break;
	}
}

static bool oneshot_ready(struct uml_instance *inst, void *data)
{
	return ((struct oneshot *)data)->started;
}

static const struct uml_part_ops oneshot_ops = {
	.name = "one-shot command",
	.prepare = oneshot_prepare,
	.launch = oneshot_launch,
	.event = oneshot_event,
	.ready = oneshot_ready,
	.free = oneshot_free,
};

static int check_command(struct uml_instance *inst, const char *command)
{
	size_t line = 0;

	if (strlen(command) > RUN_COMMAND_MAX)
		return ifail(inst, -E2BIG, "run command is longer than %u bytes", RUN_COMMAND_MAX);
	for (const char *p = command; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\n') {
			line = 0;
			continue;
		}
		if ((c < ' ' && c != '\t') || c == 0x7f)
			return ifail(inst, -EINVAL, "run command has control character 0x%02x; only "
				     "newlines and tabs pass the console", c);
		line += c == '\'' ? 4 : 1;	/* quoted as '\'' */
		if (line > RUN_LINE_MAX)
			return ifail(inst, -E2BIG, "a line of the run command is longer than %d bytes",
				     RUN_LINE_MAX);
	}
	return 0;
}

UML_EXPORT int uml_instance_set_run_command(struct uml_instance *inst, const char *command)
{
	struct oneshot *o;
	int r;

	if (!inst)
		return -EINVAL;
	r = uml_instance_check_configuring(inst, "set the run command");
	if (r < 0)
		return r;
	if (!command) {
		uml_instance_remove_part(inst, &oneshot_ops);
		return 0;
	}
	r = check_command(inst, command);
	if (r < 0)
		return r;
	o = uml_instance_get_part(inst, &oneshot_ops);
	if (o)
		return uml_set_string(&o->command, command);
	o = calloc(1, sizeof(*o));
	if (!o || !(o->command = strdup(command))) {
		free(o);
		return -ENOMEM;
	}
	return uml_instance_add_part(inst, &oneshot_ops, o);
}

UML_EXPORT int uml_instance_get_run_status(struct uml_instance *inst, int *ret)
{
	struct oneshot *o;

	if (!inst || !ret)
		return -EINVAL;
	o = uml_instance_get_part(inst, &oneshot_ops);
	if (!o || !o->done)
		return -ENODATA;
	*ret = o->status;
	return 0;
}

UML_EXPORT const char *uml_instance_get_run_output(struct uml_instance *inst, size_t *len)
{
	struct oneshot *o = inst ? uml_instance_get_part(inst, &oneshot_ops) : NULL;

	if (!o)
		return NULL;
	if (len)
		*len = o->output.len;
	return o->output.data ? o->output.data : "";
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uml-ctl - send a management console command to a running UML guest.
 *
 *   uml-ctl [--uml-dir DIR] [--json] [--timeout MS] UMID COMMAND [ARGS...]
 *   uml-ctl [--uml-dir DIR] [--timeout MS] UMID exec -- CMD [ARGS...]
 *   uml-ctl [--uml-dir DIR] UMID hostfwd add [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT
 *   uml-ctl [--uml-dir DIR] UMID hostfwd remove [tcp|udp]:[HOSTADDR]:HOSTPORT
 *   uml-ctl [--uml-dir DIR] UMID hostfwd list
 *
 * `exec` runs CMD in a guest booted with an exec channel (by a process that
 * keeps its event loop running, e.g. uml-run) and exits with its status
 * (128 + signal if it was killed; 127 if CMD was not found, 126 if it could
 * not be run), its stdout and stderr passed through.  `hostfwd` talks to the
 * guest's NAT helper (QEMU's syntax; `add` prints the host port, the picked
 * one for port 0; `list` one forward per line).
 *
 * Exit status: 0 success, 1 the kernel refused the command, 2 usage error,
 * 3 the guest cannot be reached (no such guest, no answer, bad answer).
 */
#include "config.h"

#include <errno.h>
#include <popt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "hostfwd.h"

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

/* Errors are reported by the tool itself; pass on only what UML_LOG asks for. */
static void log_fn(void *userdata, int priority, const char *msg)
{
	if (priority > LOG_ERR)
		fprintf(stderr, "libuml: %s\n", msg);
}

/* Length of a valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = s[0] & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and past U+10FFFF are not UTF-8 */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/*
 * Writes s as a JSON string.  Bytes that are not valid UTF-8 are written as
 * the code point of the same value, so any reply gives valid JSON.
 */
static void json_string(FILE *f, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		size_t u;

		switch (c) {
		case '"': fputs("\\\"", f); continue;
		case '\\': fputs("\\\\", f); continue;
		case '\n': fputs("\\n", f); continue;
		case '\r': fputs("\\r", f); continue;
		case '\t': fputs("\\t", f); continue;
		case '\b': fputs("\\b", f); continue;
		case '\f': fputs("\\f", f); continue;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
		} else if (c < 0x80) {
			fputc(c, f);
		} else if ((u = utf8_len(s + i, n - i)) > 0) {
			fwrite(s + i, 1, u, f);
			i += u - 1;
		} else {
			fprintf(f, "\\u%04x", c);
		}
	}
	fputc('"', f);
}

static int exit_code(int r)
{
	switch (r) {
	case 0:
		return EXIT_OK;
	case -EREMOTEIO:
		return EXIT_REFUSED;
	case -EINVAL:
	case -E2BIG:
	case -ENAMETOOLONG:
		return EXIT_USAGE;
	default:
		return EXIT_UNREACHABLE;
	}
}

/*
 * `exec`: runs argv in the guest over its exec channel.  --timeout, when
 * given, bounds the command (the guest kills it); stdin is not passed on.
 */
static int exec_in_guest(struct uml_ctx *ctx, const char *umid, const char **argv, int timeout_ms)
{
	struct uml_exec *e = NULL;
	const char *data;
	size_t len;
	int r, code;

	r = uml_ctx_exec(ctx, umid, argv, NULL, 0, timeout_ms, &e);
	if (r < 0) {
		const char *msg = uml_ctx_last_error(ctx);

		fprintf(stderr, "uml-ctl: %s: %s\n", umid, msg ? msg : strerror(-r));
		/* as shells do: 127 not found, 126 found but not runnable */
		return r == -EINVAL ? EXIT_USAGE : r == -ENOENT ? 127 : r == -EACCES ? 126 :
		       EXIT_UNREACHABLE;
	}
	data = uml_exec_get_stdout(e, &len);
	fwrite(data, 1, len, stdout);
	fflush(stdout);
	data = uml_exec_get_stderr(e, &len);
	fwrite(data, 1, len, stderr);
	if (uml_exec_get_timed_out(e))
		fprintf(stderr, "uml-ctl: %s: the command ran past its timeout and was killed\n", umid);
	code = uml_exec_get_signal(e) ? 128 + uml_exec_get_signal(e) : uml_exec_get_status(e);
	uml_exec_unref(e);
	return code;
}

/* `hostfwd add|remove|list` of a guest's NAT. */
static int hostfwd(struct uml_ctx *ctx, const char *umid, const char **args)
{
	struct hostfwd f;
	unsigned port = 0;
	char *list = NULL;
	int r;

	if (args[0] && strcmp(args[0], "list") == 0 && !args[1]) {
		r = uml_ctx_list_port_forwards(ctx, umid, &list);
		if (r == 0)
			fputs(list, stdout);
		free(list);
	} else if (args[0] && args[1] && !args[2] && strcmp(args[0], "add") == 0) {
		if (hostfwd_parse(args[1], 1, &f) < 0)
			goto bad;
		r = uml_ctx_add_port_forward(ctx, umid, f.proto, f.host[0] ? f.host : NULL,
					     f.host_port, f.guest_port, &port);
		if (r == 0)
			printf("%u\n", port);
	} else if (args[0] && args[1] && !args[2] && strcmp(args[0], "remove") == 0) {
		if (hostfwd_parse(args[1], 0, &f) < 0)
			goto bad;
		r = uml_ctx_remove_port_forward(ctx, umid, f.proto, f.host[0] ? f.host : NULL,
						f.host_port);
	} else {
		goto bad;
	}
	if (r < 0) {
		const char *msg = uml_ctx_last_error(ctx);

		fprintf(stderr, "uml-ctl: %s: %s\n", umid, msg ? msg : strerror(-r));
		/* refused by the helper (port in use, no such forward ...) vs. not reached */
		return r == -ENOTCONN || r == -ETIMEDOUT || r == -ECONNRESET ? EXIT_UNREACHABLE :
		       r == -EINVAL ? EXIT_USAGE : EXIT_REFUSED;
	}
	return EXIT_OK;
bad:
	fprintf(stderr, "uml-ctl: usage: UMID hostfwd add [tcp|udp]:[HOSTADDR]:HOSTPORT-"
		"[GUESTADDR]:GUESTPORT | remove [tcp|udp]:[HOSTADDR]:HOSTPORT | list\n");
	return EXIT_USAGE;
}

static void usage(poptContext pc, const char *msg)
{
	if (msg)
		fprintf(stderr, "uml-ctl: %s\n", msg);
	poptPrintUsage(pc, stderr, 0);
}

/* --uml-dir, relative to the current directory if not absolute. */
static int set_dir(struct uml_ctx *ctx, const char *uml_dir, char **abs_dir)
{
	if (!uml_dir)
		return EXIT_OK;
	if (uml_dir[0] != '/') {
		char cwd[4096];

		if (!getcwd(cwd, sizeof(cwd)) || asprintf(abs_dir, "%s/%s", cwd, uml_dir) < 0) {
			fprintf(stderr, "uml-ctl: cannot resolve '%s'\n", uml_dir);
			return EXIT_USAGE;
		}
	}
	if (uml_ctx_set_runtime_dir(ctx, *abs_dir ? *abs_dir : uml_dir) < 0) {
		fprintf(stderr, "uml-ctl: %s\n", uml_ctx_last_error(ctx));
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int main(int argc, const char **argv)
{
	char *uml_dir = NULL, *command = NULL, *reply = NULL, *abs_dir = NULL;
	int json = 0, timeout_ms = UML_MCONSOLE_TIMEOUT_MS, show_version = 0;
	struct poptOption options[] = {
		{ "uml-dir", 'd', POPT_ARG_STRING, &uml_dir, 0,
		  "runtime directory of the guests (default: $UML_DIR or ~/.uml)", "DIR" },
		{ "json", 'j', POPT_ARG_NONE, &json, 0,
		  "print one JSON object with the outcome on stdout", NULL },
		{ "timeout", 't', POPT_ARG_INT, &timeout_ms, 0,
		  "milliseconds to wait for the answer; negative waits without limit", "MS" },
		{ "version", 'V', POPT_ARG_NONE, &show_version, 0, "print the version and exit",
		  NULL },
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	struct uml_ctx *ctx = NULL;
	const char **args, *umid;
	size_t reply_len = 0, cmd_len = 0;
	poptContext pc;
	int opt, r, ret = EXIT_USAGE;

	/* everything after UMID belongs to the guest's command, dashes too */
	pc = poptGetContext("uml-ctl", argc, argv, options, POPT_CONTEXT_POSIXMEHARDER);
	poptSetOtherOptionHelp(pc, "[OPTION...] UMID COMMAND [ARGS...]");
	while ((opt = poptGetNextOpt(pc)) > 0)
		;
	if (opt < -1) {
		fprintf(stderr, "uml-ctl: %s: %s\n", poptBadOption(pc, POPT_BADOPTION_NOALIAS),
			poptStrerror(opt));
		goto out;
	}
	if (show_version) {
		printf("uml-ctl %s\n", PACKAGE_VERSION);
		ret = EXIT_OK;
		goto out;
	}
	args = poptGetArgs(pc);
	if (!args || !args[0] || !args[1]) {
		usage(pc, "need a UMID and a COMMAND");
		goto out;
	}
	umid = args[0];
	if (strcmp(args[1], "exec") == 0 || strcmp(args[1], "hostfwd") == 0) {
		const char **cmd = args + 2;
		bool timeout_given = false, exec = strcmp(args[1], "exec") == 0;

		if (exec && *cmd && strcmp(*cmd, "--") == 0)
			cmd++;
		if (exec && !*cmd) {
			usage(pc, "exec needs a command: UMID exec -- CMD [ARGS...]");
			goto out;
		}
		for (int i = 1; i < argc && argv[i] != args[0]; i++)
			timeout_given |= strncmp(argv[i], "-t", 2) == 0 ||
					 strncmp(argv[i], "--timeout", 9) == 0;
		if (uml_ctx_new(&ctx) < 0) {
			ret = EXIT_UNREACHABLE;
			goto out;
		}
		uml_ctx_set_log_fn(ctx, log_fn, NULL);
		ret = set_dir(ctx, uml_dir, &abs_dir);
		if (ret == EXIT_OK)
			ret = exec ? exec_in_guest(ctx, umid, cmd, timeout_given ? timeout_ms : 0)
				   : hostfwd(ctx, umid, cmd);
		goto out;
	}
	for (size_t i = 1; args[i]; i++)
		cmd_len += strlen(args[i]) + 1;
	command = malloc(cmd_len);
	if (!command) {
		fprintf(stderr, "uml-ctl: out of memory\n");
		ret = EXIT_UNREACHABLE;
		goto out;
	}
	command[0] = '\0';
	for (size_t i = 1; args[i]; i++) {
		if (i > 1)
			strcat(command, " ");
		strcat(command, args[i]);
	}

	r = uml_ctx_new(&ctx);
	if (r < 0) {
		fprintf(stderr, "uml-ctl: cannot create a libuml context: %s\n", strerror(-r));
		ret = EXIT_UNREACHABLE;
		goto out;
	}
	uml_ctx_set_log_fn(ctx, log_fn, NULL);
	ret = set_dir(ctx, uml_dir, &abs_dir);
	if (ret != EXIT_OK)
		goto out;
	ret = EXIT_USAGE;

	r = uml_ctx_mconsole(ctx, umid, command, timeout_ms, &reply, &reply_len);
	ret = exit_code(r);
	if (json) {
		fputs("{\"umid\":", stdout);
		json_string(stdout, umid, strlen(umid));
		fputs(",\"command\":", stdout);
		json_string(stdout, command, strlen(command));
		if (r == 0) {
			fputs(",\"ok\":true,\"reply\":", stdout);
			json_string(stdout, reply, reply_len);
		} else {
			const char *msg = uml_ctx_last_error(ctx);

			if (!msg)
				msg = strerror(-r);
			fputs(",\"ok\":false,\"error\":", stdout);
			json_string(stdout, msg, strlen(msg));
		}
		fputs("}\n", stdout);
	} else if (r == 0) {
		fwrite(reply, 1, reply_len, stdout);
		if (reply_len > 0 && reply[reply_len - 1] != '\n')
			fputc('\n', stdout);
	} else {
		const char *msg = uml_ctx_last_error(ctx);

		fprintf(stderr, "uml-ctl: %s: %s\n", umid, msg ? msg : strerror(-r));
	}
	if (fflush(stdout) != 0 && ret == EXIT_OK) {
		fprintf(stderr, "uml-ctl: writing the reply failed: %s\n", strerror(errno));
		ret = EXIT_UNREACHABLE;
	}
out:
	free(reply);
	free(command);
	free(abs_dir);
	free(uml_dir);		/* popt's copy */
	uml_ctx_unref(ctx);
	poptFreeContext(pc);
	return ret;
}

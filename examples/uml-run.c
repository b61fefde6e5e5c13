/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uml-run - boot a User Mode Linux guest, stream its console, or run one
 * command in it and hand back its output and exit status.
 */
#include <errno.h>
#include <inttypes.h>
#include <popt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "hostfwd.h"

/* exit codes besides 0 and the --run command's own status (see uml-run(1)) */
enum {
	EXIT_USAGE = 2,
	EXIT_ABNORMAL = 122,	/* killed, crashed, rebooted, or a named boot failure */
	EXIT_PANIC = 123,
	EXIT_TIMEOUT = 124,
	EXIT_START = 125,	/* could not set up or start the guest */
};

struct options {
	char *kernel;
	char *rootfs;
	int busybox;
	char *mem;
	char *umid;
	char *wait_for;
	int timeout_sec;
	char *run;
	char *exec;	/* --exec: a shell command over the exec channel */
	int exec_channel;	/* --exec-channel: for `uml-ctl UMID exec` */
	int console;
	int attach;
	int quiet;
	int version;
	char **append;
	size_t n_append;
	char **net;		/* --net specs */
	size_t n_net;
};

static void on_event(void *userdata, struct uml_instance *inst, const struct uml_event *ev)
{
	const struct options *o = userdata;

	if (ev->type == UML_EVENT_CONSOLE_OUTPUT && o->attach) {
		(void)!write(STDOUT_FILENO, ev->text, ev->len);
		return;
	}
	if (ev->type == UML_EVENT_CONSOLE_LINE && o->console) {
		fwrite(ev->text, 1, ev->len, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
}

static int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || s[0] == '-')
		return -EINVAL;
	switch (*end) {
	case 'G': case 'g': v <<= 30; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'K': case 'k': v <<= 10; end++; break;
	case '\0': v <<= 20; break;	/* plain numbers are MiB, as mem= */
	default: return -EINVAL;
	}
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

#define ESCAPE_KEY 0x1d	/* ^] as in telnet and virsh console */

/*
 * The terminal talks to the guest's console directly: raw mode here, the
 * guest's tty does echo and line editing.  ^] halts the guest and returns.
 */
static void attach(struct uml_instance *inst)
{
	struct termios saved, raw;
	bool restored = false;

	if (tcgetattr(STDIN_FILENO, &saved) < 0)
		return;
	raw = saved;
	cfmakeraw(&raw);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	fprintf(stderr, "uml-run: attached to %s; ^] halts the guest\r\n",
		uml_instance_get_umid(inst));
	while (uml_instance_get_state(inst) != UML_STATE_EXITED) {
		struct pollfd p[2] = {
			{ .fd = STDIN_FILENO, .events = POLLIN },
			{ .fd = uml_instance_get_fd(inst), .events = POLLIN },
		};
		char buf[4096];
		ssize_t n;

		if (poll(p, 2, 1000) < 0 && errno != EINTR)
			break;
		if (p[0].revents & (POLLIN | POLLHUP)) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0 || memchr(buf, ESCAPE_KEY, (size_t)n)) {
				tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
				restored = true;
				uml_instance_halt(inst, -1);
				break;
			}
			uml_instance_write_console(inst, buf, (size_t)n);
		}
		uml_instance_process(inst);
	}
	if (!restored)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	fputc('\n', stderr);
}

static int exit_code_for(struct uml_instance *inst, const struct options *o)
{
	enum uml_exit_reason reason = uml_instance_get_exit_reason(inst);
	int status;

	if (o->run && uml_instance_get_run_status(inst, &status) == 0)
		return status;
	switch (reason) {
	case UML_EXIT_POWEROFF:
	case UML_EXIT_HALT:
		return 0;
	case UML_EXIT_PANIC:
		return EXIT_PANIC;
	case UML_EXIT_TIMEOUT:
		return EXIT_TIMEOUT;
	case UML_EXIT_FAILED_TO_START:
	case UML_EXIT_HOST_INCOMPATIBLE:
		return EXIT_START;
	default:
		return EXIT_ABNORMAL;
	}
}

static void report_end(struct uml_instance *inst, int quiet)
{
	enum uml_exit_reason reason = uml_instance_get_exit_reason(inst);
	const char *detail = uml_instance_get_exit_detail(inst);

	if (quiet || reason == UML_EXIT_POWEROFF || reason == UML_EXIT_HALT)
		return;
	fprintf(stderr, "uml-run: guest ended: %s%s%s\n", uml_exit_reason_to_string(reason),
		detail ? ": " : "", detail ? detail : "");
}

/*
 * --exec: once the guest is up, runs COMMAND with /bin/sh -c over the exec
 * channel, copies its stdout and stderr to ours, halts the guest.  Returns
 * the command's status (128 + signal if killed), or -1 if it did not run.
 */
static int exec_command(struct uml_instance *inst, const char *command)
{
	const char *argv[] = { "/bin/sh", "-c", command, NULL };
	struct uml_exec *e = NULL;
	const char *data;
	size_t len;
	int code;

	if (uml_instance_wait_ready(inst, -1) < 0 ||
	    uml_instance_exec(inst, argv, NULL, 0, 0, &e) < 0) {
		fprintf(stderr, "uml-run: %s\n", uml_instance_last_error(inst));
		if (uml_instance_get_state(inst) != UML_STATE_EXITED)
			uml_instance_halt(inst, -1);
		return -1;
	}
	data = uml_exec_get_stdout(e, &len);
	fwrite(data, 1, len, stdout);
	fflush(stdout);
	data = uml_exec_get_stderr(e, &len);
	fwrite(data, 1, len, stderr);
	code = uml_exec_get_signal(e) ? 128 + uml_exec_get_signal(e) : uml_exec_get_status(e);
	uml_exec_unref(e);
	uml_instance_halt(inst, -1);
	return code;
}

/*
 * A guestfwd= of --net nat (QEMU's syntax): tcp:GUESTADDR:GUESTPORT-tcp:HOSTADDR:HOSTPORT
 * or tcp:GUESTADDR:GUESTPORT-unix:PATH.
 */
static int add_guestfwd(struct uml_instance *inst, unsigned idx, const char *spec)
{
	char gaddr[32], target[256];
	unsigned gport, hport = 0;
	int n = -1;

	if (strncmp(spec, "tcp:", 4) == 0)
		spec += 4;
	if (sscanf(spec, "%31[0-9.]:%u-%n", gaddr, &gport, &n) == 2 && n > 0) {
		const char *t = spec + n;

		if (strncmp(t, "unix:", 5) == 0 && strlen(t + 5) < sizeof(target)) {
			snprintf(target, sizeof(target), "%s", t + 5);
			return uml_instance_add_guest_forward(inst, idx, gaddr, gport, target, 0);
		}
		if (sscanf(t, "tcp:%63[0-9.]:%u%n", target, &hport, &n) == 2 && !t[n])
			return uml_instance_add_guest_forward(inst, idx, gaddr, gport, target, hport);
	}
	fprintf(stderr, "uml-run: bad guestfwd '%s' (tcp:GUESTADDR:PORT-tcp:HOSTADDR:PORT or "
		"-unix:PATH)\n", spec);
	return -EINVAL;
}

/*
 * --net KIND[:ARG][,ip=ADDR/LEN][,gw=GW][,mac=MAC]; nat also takes ipv6,
 * restrict, no-host-loopback, hostfwd=... and guestfwd=... (QEMU's syntax).
 */
static int add_net(struct uml_ctx *ctx, struct uml_instance *inst, const char *spec,
		   int *nat_index)
{
	char *copy = strdup(spec), *opts, *arg, *ip = NULL, *gw = NULL, *mac = NULL;
	struct uml_switch *sw = NULL;
	const char *fwds[32], *gfwds[8];
	size_t n_fwds = 0, n_gfwds = 0;
	unsigned idx, nat_flags = 0;
	int r = -EINVAL;

	if (!copy)
		return -ENOMEM;
	opts = strchr(copy, ',');
	if (opts)
		*opts++ = '\0';
	arg = strchr(copy, ':');
	if (arg)
		*arg++ = '\0';
	for (char *o = opts, *next; o && *o; o = next) {
		next = strchr(o, ',');
		if (next)
			*next++ = '\0';
		if (strncmp(o, "ip=", 3) == 0)
			ip = o + 3;
		else if (strncmp(o, "gw=", 3) == 0)
			gw = o + 3;
		else if (strncmp(o, "mac=", 4) == 0)
			mac = o + 4;
		else if (strncmp(o, "hostfwd=", 8) == 0 && n_fwds < 32)
			fwds[n_fwds++] = o + 8;
		else if (strncmp(o, "guestfwd=", 9) == 0 && n_gfwds < 8)
			gfwds[n_gfwds++] = o + 9;
		else if (strcmp(o, "ipv6") == 0)
			nat_flags |= UML_NAT_IPV6;
		else if (strcmp(o, "restrict") == 0)
			nat_flags |= UML_NAT_RESTRICT;
		else if (strcmp(o, "no-host-loopback") == 0)
			nat_flags |= UML_NAT_NO_HOST_LOOPBACK;
		else
			goto bad;
	}
	if (strcmp(copy, "nat") != 0 && (n_fwds || n_gfwds || nat_flags))
		goto bad;
	if (strcmp(copy, "nat") == 0 && !arg) {
		r = uml_instance_add_nat_with_flags(inst, nat_flags, &idx);
		for (size_t i = 0; r == 0 && i < n_fwds; i++) {
			struct hostfwd f;

			if (hostfwd_parse(fwds[i], 1, &f) < 0) {
				fprintf(stderr, "uml-run: bad hostfwd '%s' (QEMU's syntax: "
					"[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT)\n", fwds[i]);
				free(copy);
				return -EINVAL;
			}
			r = uml_instance_add_port_forward(inst, idx, f.proto, f.host[0] ? f.host : NULL,
							  f.host_port, f.guest_port, NULL);
		}
		for (size_t i = 0; r == 0 && i < n_gfwds; i++)
			r = add_guestfwd(inst, idx, gfwds[i]);
		if (r == 0)
			*nat_index = (int)idx;
	} else if (strcmp(copy, "switch") == 0 && arg && *arg) {
		r = uml_switch_new(ctx, arg, &sw);
		if (r == 0)
			r = uml_instance_add_switch_port(inst, sw, &idx);
		uml_switch_unref(sw);	/* the guest holds it */
	} else if (strcmp(copy, "tap") == 0 && arg && *arg) {
		char sys[64];

		/* an existing tap is used; a missing one is created (root) */
		snprintf(sys, sizeof(sys), "/sys/class/net/%s", arg);
		r = uml_instance_add_tap(inst, arg, access(sys, F_OK) == 0 ? 0 : UML_TAP_CREATE,
					 &idx);
	} else {
		goto bad;
	}
	if (r == 0 && (ip || gw))
		r = uml_instance_set_iface_address(inst, idx, ip, gw);
	if (r == 0 && mac)
		r = uml_instance_set_iface_mac(inst, idx, mac);
	free(copy);
	return r;
bad:
	fprintf(stderr, "uml-run: bad --net '%s' (nat, switch:NAME or tap:DEV, then optional "
		",ip=A.B.C.D/LEN ,gw=A.B.C.D ,mac=xx:xx:xx:xx:xx:xx; nat also ,ipv6 ,restrict "
		",no-host-loopback ,hostfwd=tcp:127.0.0.1:8080-:80 ,guestfwd=tcp:10.0.2.100:80-"
		"tcp:127.0.0.1:8000)\n", spec);
	free(copy);
	return -EINVAL;
}

/* Tells the host ports of the NAT forwards, picked at boot when 0 was asked. */
static void report_forwards(struct uml_instance *inst, int nat_index)
{
	unsigned n = 0, hport, gport;
	enum uml_fwd_proto proto;
	const char *host;

	if (nat_index < 0 || uml_instance_list_port_forwards(inst, (unsigned)nat_index, &n) < 0)
		return;
	for (unsigned k = 0; k < n; k++)
		if (uml_instance_get_port_forward(inst, (unsigned)nat_index, k, &proto, &host, &hport,
						  &gport) == 0)
			fprintf(stderr, "uml-run: hostfwd %s %s%s%s:%u -> guest port %u\n",
				proto == UML_FWD_UDP ? "udp" : "tcp", strchr(host, ':') ? "[" : "", host,
				strchr(host, ':') ? "]" : "", hport, gport);
}

static int run(struct options *o, struct uml_ctx *ctx, const char *tmpdir)
{
	struct uml_kernel *kernel = NULL;
	struct uml_rootfs *rootfs = NULL;
	struct uml_instance *inst = NULL;
	int code = EXIT_START, nat_index = -1, r;

	r = o->kernel ? uml_kernel_new_from_path(ctx, o->kernel, &kernel)
		      : uml_kernel_new_default(ctx, &kernel);
	if (r < 0)
		goto out;
	if (o->busybox) {
		char image[4096];

		snprintf(image, sizeof(image), "%s/busybox.img", tmpdir);
		r = uml_rootfs_new(ctx, image, &rootfs);
		if (r == 0)
			r = uml_rootfs_create_busybox(rootfs, NULL, 0);
	} else if (o->rootfs) {
		r = uml_rootfs_new(ctx, o->rootfs, &rootfs);
	}
	if (r < 0)
		goto out;
	r = uml_instance_new(kernel, &inst);
	if (r < 0)
		goto out;
	uml_instance_set_event_fn(inst, on_event, o);
	if (rootfs)
		r = uml_instance_set_rootfs(inst, rootfs);
	if (r == 0 && o->mem) {
		uint64_t bytes;

		r = parse_size(o->mem, &bytes);
		if (r < 0)
			fprintf(stderr, "uml-run: bad --mem '%s' (use e.g. 128M or 1G)\n", o->mem);
		else
			r = uml_instance_set_memory(inst, bytes);
	}
	if (r == 0 && o->umid)
		r = uml_instance_set_umid(inst, o->umid);
	for (size_t i = 0; r == 0 && i < o->n_append; i++)
		r = uml_instance_append_arg(inst, o->append[i]);
	if (r == 0 && o->wait_for)
		r = uml_instance_set_ready_marker(inst, o->wait_for);
	if (r == 0 && o->run)
		r = uml_instance_set_run_command(inst, o->run);
	if (r == 0 && (o->exec || o->exec_channel))
		r = uml_instance_enable_exec(inst);
	if (r == 0 && o->timeout_sec > 0)
		r = uml_instance_set_timeout(inst, (int64_t)o->timeout_sec * 1000);
	for (size_t i = 0; r == 0 && i < o->n_net; i++)	/* net */
		r = add_net(ctx, inst, o->net[i], &nat_index);
	if (r == 0)
		r = uml_instance_boot(inst);
	if (r < 0)
		goto out;
	report_forwards(inst, nat_index);

	if (o->attach) {
		attach(inst);
		uml_instance_wait(inst, -1);
	}
	if (o->exec) {
		code = exec_command(inst, o->exec);
		if (code >= 0)
			goto out;
		code = EXIT_START;	/* the guest ended or the channel failed: say why */
	}
	if (o->wait_for && !o->run && !o->exec) {
		/* success is the text appearing; then the guest is not needed */
		r = uml_instance_wait_ready(inst, -1);
		if (r == 0) {
			uml_instance_halt(inst, -1);
			code = 0;
			goto out;
		}
	}
	uml_instance_wait(inst, -1);
	if (o->run) {
		size_t len;
		const char *out = uml_instance_get_run_output(inst, &len);

		fwrite(out, 1, len, stdout);
		fflush(stdout);
	}
	report_end(inst, o->quiet);
	code = exit_code_for(inst, o);
	r = 0;
out:
	if (r < 0) {
		const char *msg = uml_ctx_last_error(ctx);

		fprintf(stderr, "uml-run: %s\n", msg ? msg : strerror(-r));
	}
	uml_instance_unref(inst);
	uml_rootfs_unref(rootfs);
	uml_kernel_unref(kernel);
	return code;
}

int main(int argc, const char **argv)
{
	struct options o = { 0 };
	char *append_arg = NULL, *net_arg = NULL;
	struct poptOption table[] = {
		{ "kernel", 'k', POPT_ARG_STRING, &o.kernel, 0,
		  "UML kernel binary (default: $UML_KERNEL, /usr/bin/linux.uml, linux on PATH)", "PATH" },
		{ "rootfs", 'r', POPT_ARG_STRING, &o.rootfs, 0, "root disk image (ubd0)", "IMAGE" },
		{ "busybox", 'b', POPT_ARG_NONE, &o.busybox, 0,
		  "boot a throwaway busybox guest made from /bin/busybox", NULL },
		{ "mem", 'm', POPT_ARG_STRING, &o.mem, 0, "guest memory (default 64M)", "SIZE" },
		{ "umid", 'u', POPT_ARG_STRING, &o.umid, 0, "guest name for mconsole tools", "NAME" },
		{ "append", 'a', POPT_ARG_STRING, &append_arg, 'a',
		  "extra kernel argument (repeatable)", "ARG" },
		{ "net", 'n', POPT_ARG_STRING, &net_arg, 'n',
		  "network interface: nat, switch:NAME or tap:DEV, optionally followed by "
		  ",ip=A.B.C.D/LEN,gw=A.B.C.D,mac=MAC; nat also by ,ipv6 ,restrict "
		  ",no-host-loopback ,hostfwd=[tcp|udp]:[HOSTADDR]:PORT-:PORT "
		  ",guestfwd=tcp:ADDR:PORT-tcp:HOSTADDR:PORT|unix:PATH (repeatable)", "SPEC" },
		{ "wait-for", 'w', POPT_ARG_STRING, &o.wait_for, 0,
		  "succeed once TEXT appears on the console, then halt the guest", "TEXT" },
		{ "timeout", 't', POPT_ARG_INT, &o.timeout_sec, 0,
		  "kill the guest after SEC seconds (exit code 124)", "SEC" },
		{ "run", 'c', POPT_ARG_STRING, &o.run, 0,
		  "run a shell command as the guest's workload; exit with its status", "COMMAND" },
		{ "exec", 'e', POPT_ARG_STRING, &o.exec, 0,
		  "boot, run a shell command through the exec channel (stdout and stderr "
		  "apart), halt; exit with its status", "COMMAND" },
		{ "exec-channel", 0, POPT_ARG_NONE, &o.exec_channel, 0,
		  "boot with the exec channel, so `uml-ctl UMID exec -- CMD` reaches the guest",
		  NULL },
		{ "console", 0, POPT_ARG_NONE, &o.console, 0,
		  "with --run or --exec, also show the guest's console", NULL },
		{ "attach", 'A', POPT_ARG_NONE, &o.attach, 0,
		  "interactive console on this terminal; ^] halts the guest", NULL },
		{ "quiet", 'q', POPT_ARG_NONE, &o.quiet, 0, "no console, no end report", NULL },
		{ "version", 'V', POPT_ARG_NONE, &o.version, 0, "show the version and exit", NULL },
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	poptContext pc = poptGetContext("uml-run", argc, argv, table, 0);
	struct uml_ctx *ctx = NULL;
	char tmpdir[] = "/tmp/uml-run-XXXXXX";
	int rc, code;

	while ((rc = poptGetNextOpt(pc)) > 0) {
		if (rc == 'n') {	/* net */
			char **n = realloc(o.net, (o.n_net + 1) * sizeof(*n));

			if (!n)
				return EXIT_START;
			o.net = n;
			o.net[o.n_net++] = net_arg;
			continue;
		}
		char **a = realloc(o.append, (o.n_append + 1) * sizeof(*a));

		if (!a)
			return EXIT_START;
		o.append = a;
		o.append[o.n_append++] = append_arg;
	}
	if (rc < -1 || poptPeekArg(pc)) {
		fprintf(stderr, "uml-run: %s: %s\n",
			rc < -1 ? poptBadOption(pc, POPT_BADOPTION_NOALIAS) : poptPeekArg(pc),
			rc < -1 ? poptStrerror(rc) : "unexpected argument");
		poptPrintUsage(pc, stderr, 0);
		poptFreeContext(pc);
		return EXIT_USAGE;
	}
	if (o.version) {
		printf("uml-run %s\n", PACKAGE_VERSION);
		poptFreeContext(pc);
		return 0;
	}
	if (o.busybox && o.rootfs) {
		fprintf(stderr, "uml-run: --busybox and --rootfs exclude each other\n");
		poptFreeContext(pc);
		return EXIT_USAGE;
	}
	if (o.exec && (o.run || o.attach)) {
		fprintf(stderr, "uml-run: --exec excludes --run and --attach\n");
		poptFreeContext(pc);
		return EXIT_USAGE;
	}
	if (o.attach && (o.run || o.wait_for || !isatty(STDIN_FILENO))) {
		fprintf(stderr, "uml-run: --attach needs a terminal and excludes --run and --wait-for\n");
		poptFreeContext(pc);
		return EXIT_USAGE;
	}
	if (o.timeout_sec < 0) {
		fprintf(stderr, "uml-run: --timeout must not be negative\n");
		poptFreeContext(pc);
		return EXIT_USAGE;
	}
	o.console = !o.quiet && !o.attach && (o.console || (!o.run && !o.exec));

	if (uml_ctx_new(&ctx) < 0 || (o.busybox && !mkdtemp(tmpdir))) {
		fprintf(stderr, "uml-run: cannot set up: %s\n", strerror(errno));
		uml_ctx_unref(ctx);
		poptFreeContext(pc);
		return EXIT_START;
	}
	/* a closed stdout must not kill us before the guest is cleaned up */
	signal(SIGPIPE, SIG_IGN);
	code = run(&o, ctx, tmpdir);
	if (o.busybox) {
		char image[sizeof(tmpdir) + 16];

		snprintf(image, sizeof(image), "%s/busybox.img", tmpdir);
		unlink(image);
		rmdir(tmpdir);
	}
	uml_ctx_unref(ctx);
	/* popt hands out its strings; free them so leak checkers stay quiet */
	for (size_t i = 0; i < o.n_append; i++)
		free(o.append[i]);
	free(o.append);
	free(o.kernel);
	free(o.rootfs);
	free(o.mem);
	free(o.umid);
	free(o.wait_for);
	free(o.run);
	free(o.net);
	poptFreeContext(pc);
	return code;
}

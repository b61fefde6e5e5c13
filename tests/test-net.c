/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Networking: kernel arguments and validation, then real guests on links,
 * a switch, NAT to a server on the host's loopback, and a tap (root).
 * Only 127.0.0.1 and addresses inside the guests' own links are used.
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "testhelp.h"

#define RUN_MS 120000
#define MAX_GUESTS 3
/* The peer may boot later: retry until it answers (bounded), then ping. */
/* (a subshell: on a console, "exit" would end the guest's shell) */
#define PING(addr) "(n=0; until ping -c 1 -W 1 " addr " >/dev/null; do n=$((n+1)); " \
	"[ $n -lt 120 ] || exit 1; done; ping -c 2 " addr ")"

static struct uml_ctx *ctx;
static struct uml_kernel *kernel;
static struct uml_instance *g[MAX_GUESTS];
static struct uml_rootfs *disks[MAX_GUESTS];
static pid_t pgids[MAX_GUESTS];

static void setup(void)
{
	ctx = th_ctx();
	kernel = th_kernel(ctx);
}

/*
 * Live processes whose process group is pgid (UML's helpers, slirp).
 * Zombies do not count: they are dead, and the orphans among them wait for
 * whatever reaps orphans on this machine, which libuml does not control.
 */
static int count_group(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		char path[300], buf[1024], *p;
		FILE *f;
		int pg;
		char state;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
		    sscanf(p + 2, "%c %*d %d", &state, &pg) == 2 && pg == pgid && state != 'Z')
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

static void teardown(void)
{
	for (int i = 0; i < MAX_GUESTS; i++) {
		g[i] = uml_instance_unref(g[i]);
		disks[i] = uml_rootfs_unref(disks[i]);
		/* no UML helper (slirp included) outlives its guest */
		if (pgids[i] > 0)
			ck_assert_int_eq(count_group(pgids[i]), 0);
		pgids[i] = 0;
	}
	ck_assert_int_eq(th_count_entries(uml_ctx_get_runtime_dir(ctx)), 0);
	uml_kernel_unref(kernel);
	uml_ctx_unref(ctx);
}

/* Guest i: its own COW overlay on the shared busybox image. */
static struct uml_instance *guest(int i, const char *command)
{
	struct uml_rootfs *base;
	char path[256], umid[32];

	ck_assert_int_eq(uml_rootfs_new(ctx, th_busybox_image(), &base), 0);
	snprintf(path, sizeof(path), "%s/net-%d-%d.cow", th_tmpdir(), (int)getpid(), i);
	ck_assert_int_eq(uml_rootfs_new_cow(base, path, UML_ROOTFS_CREATE_OVERWRITE, &disks[i]), 0);
	uml_rootfs_unref(base);
	ck_assert_int_eq(uml_instance_new(kernel, &g[i]), 0);
	snprintf(umid, sizeof(umid), "net-%d-%d", (int)getpid(), i);
	ck_assert_int_eq(uml_instance_set_umid(g[i], umid), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(g[i], disks[i]), 0);
	ck_assert_int_eq(uml_instance_set_timeout(g[i], RUN_MS), 0);
	if (command)
		ck_assert_int_eq(uml_instance_set_run_command(g[i], command), 0);
	return g[i];
}

static void boot(int i)
{
	ck_assert_msg(uml_instance_boot(g[i]) == 0, "boot: %s", uml_instance_last_error(g[i]));
	pgids[i] = uml_instance_get_pid(g[i]);
}

/* Waits for a one-shot guest; asserts its command succeeded. */
static void expect_run_ok(int i, const char *needle)
{
	const char *out;
	int st = -1;

	ck_assert_int_eq(uml_instance_wait(g[i], RUN_MS), 0);
	out = uml_instance_get_run_output(g[i], NULL);
	if (uml_instance_get_run_status(g[i], &st) < 0 || st != 0) {
		size_t len;
		const char *log = uml_instance_get_console_log(g[i], &len);

		fprintf(stderr, "guest %d console:\n%s\n", i, len > 3000 ? log + len - 3000 : log);
		ck_abort_msg("guest %d: status %d (%s), output:\n%.1500s", i, st,
			     uml_exit_reason_to_string(uml_instance_get_exit_reason(g[i])), out);
	}
	if (needle)
		ck_assert_msg(strstr(out, needle), "guest %d output lacks '%s':\n%s", i, needle, th_tail(out));
}

/* Runs cmd on the console shell of a booted guest; its output (allocated). */
static char *console_run(int i, const char *cmd)
{
	size_t start, len;
	const char *log;
	char line[512];
	time_t until = time(NULL) + 180;

	uml_instance_get_console_log(g[i], &start);
	/* the marker's echo differs from its output: 42 only appears as output */
	snprintf(line, sizeof(line), "%s; echo done-$((6*7))\n", cmd);
	ck_assert_int_eq(uml_instance_write_console(g[i], line, strlen(line)),
			 (ssize_t)strlen(line));
	while (time(NULL) < until) {
		struct pollfd p = { .fd = uml_instance_get_fd(g[i]), .events = POLLIN };

		log = uml_instance_get_console_log(g[i], &len);
		if (len > start && strstr(log + start, "done-42"))
			return strndup(log + start, len - start);
		poll(&p, 1, 100);
		uml_instance_process(g[i]);
	}
	log = uml_instance_get_console_log(g[i], &len);
	fprintf(stderr, "guest %d console:\n%s\n", i, len > 3000 ? log + len - 3000 : log);
	ck_abort_msg("guest %d did not finish '%s' (state %d)", i, cmd,
		     (int)uml_instance_get_state(g[i]));
	return NULL;
}

static bool argv_has(const char *const *argv, const char *arg)
{
	for (; *argv; argv++)
		if (strcmp(*argv, arg) == 0)
			return true;
	return false;
}

static bool argv_has_prefix(const char *const *argv, const char *prefix)
{
	for (; *argv; argv++)
		if (strncmp(*argv, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/* ---- NAT: helpers ------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Drives every guest's event loop for ms milliseconds. */
static void pump(int ms)
{
	uint64_t until = now_ms() + (uint64_t)ms;

	do {
		struct pollfd p[MAX_GUESTS];
		nfds_t n = 0;

		for (int i = 0; i < MAX_GUESTS; i++)
			if (g[i] && uml_instance_get_state(g[i]) != UML_STATE_EXITED)
				p[n++] = (struct pollfd){ .fd = uml_instance_get_fd(g[i]), .events = POLLIN };
		poll(p, n, 20);
		for (int i = 0; i < MAX_GUESTS; i++)
			if (g[i])
				uml_instance_process(g[i]);
	} while (now_ms() < until);
}

/* Is pid a live uml-nat started by this process (or, with any_parent, by anyone)? */
static bool nat_helper(pid_t pid, bool any_parent)
{
	char path[64], buf[512], *p, state;
	long ppid;
	FILE *f;
	bool yes = false;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fgets(buf, sizeof(buf), f) && strstr(buf, "(uml-nat)") && (p = strrchr(buf, ')')) &&
	    sscanf(p + 1, " %c %ld", &state, &ppid) == 2 && state != 'Z')
		yes = any_parent || ppid == (long)getpid();
	fclose(f);
	return yes;
}

/* The NAT helpers this process started that still run; the first one's pid in *first. */
static int nat_helpers(pid_t *first)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' && nat_helper(atoi(de->d_name), false)) {
			if (first && n == 0)
				*first = atoi(de->d_name);
			n++;
		}
	closedir(d);
	return n;
}

static int count_nat_helpers(void)
{
	return nat_helpers(NULL);
}

/*
 * GET / from 127.0.0.1:port while the guests run; the response (allocated),
 * or NULL if the connection failed or nothing came within timeout_ms.
 */
static char *http_get(int port, int timeout_ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	uint64_t until = now_ms() + (uint64_t)timeout_ms;
	char *out = calloc(1, 65536);
	size_t len = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(out);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		goto fail;
	for (bool sent = false; now_ms() < until;) {
		struct pollfd p = { .fd = fd, .events = sent ? POLLIN : POLLOUT };
		ssize_t n;

		pump(0);
		if (poll(&p, 1, 50) <= 0)
			continue;
		if (!sent) {
			if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != sizeof(req) - 1)
				goto fail;
			sent = true;
			continue;
		}
		n = read(fd, out + len, 65535 - len);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0) {
			close(fd);
			return len ? out : (free(out), NULL);
		}
		len += (size_t)n;
	}
fail:
	close(fd);
	free(out);
	return NULL;
}

/* Fetches from 127.0.0.1:port until the response holds needle (the guest's server may start late). */
static void expect_http(int port, const char *needle)
{
	uint64_t until = now_ms() + RUN_MS;
	char *out = NULL;

	while (now_ms() < until) {
		out = http_get(port, 5000);
		if (out && strstr(out, needle))
			break;
		free(out);
		out = NULL;
		pump(200);
	}
	ck_assert_msg(out, "no answer with '%s' from 127.0.0.1:%d", needle, port);
	free(out);
}

/* Can nothing connect to 127.0.0.1:port? */
static bool port_closed(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool closed = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == ECONNREFUSED;

	close(fd);
	return closed;
}

/* The host port of forward fwd of guest i's NAT interface (picked at boot when 0 was asked). */
static int fwd_port(int i, unsigned iface, unsigned fwd)
{
	unsigned port = 0;

	ck_assert_int_eq(uml_instance_get_port_forward(g[i], iface, fwd, NULL, NULL, &port, NULL), 0);
	ck_assert_uint_gt(port, 0);
	return (int)port;
}

/* Guest i, normal boot with NAT (flags) and a forward of a free host port to its port 80. */
static unsigned nat_guest_serving(int i, unsigned flags, unsigned *ret_fwd)
{
	unsigned idx;

	guest(i, NULL);
	ck_assert_int_eq(uml_instance_add_nat_with_flags(g[i], flags, &idx), 0);
	if (ret_fwd)
		ck_assert_int_eq(uml_instance_add_port_forward(g[i], idx, UML_FWD_TCP, "127.0.0.1", 0,
							       80, ret_fwd), 0);
	return idx;
}

/* Starts busybox httpd on port 80 of guest i, serving "text". */
static void guest_httpd(int i, const char *text)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "mount -t tmpfs t /mnt && echo %s >/mnt/index.html && "
		 "httpd -p 80 -h /mnt", text);
	free(console_run(i, cmd));
}

/* ---- configuration, no boot -------------------------------------------- */

START_TEST(args_and_names)
{
	struct uml_instance *a = guest(0, NULL), *b = guest(1, NULL);
	struct uml_link *link;
	struct uml_switch *sw;
	const char *const *argv, *host;
	unsigned nat, ln, port, fwd, n, port_no, gport;
	enum uml_fwd_proto proto;
	char expect[512], mac[18];

	ck_assert_int_eq(uml_link_new(ctx, &link), 0);
	ck_assert_int_eq(uml_switch_new(ctx, "sw0", &sw), 0);
	ck_assert_int_eq(uml_instance_add_nat(a, &nat), 0);
	ck_assert_int_eq(uml_instance_add_link(a, link, &ln), 0);
	ck_assert_int_eq(uml_instance_add_switch_port(a, sw, &port), 0);
	ck_assert_uint_eq(nat, 0);
	ck_assert_uint_eq(ln, 1);
	ck_assert_uint_eq(port, 2);
	ck_assert_uint_eq(uml_instance_get_iface_count(a), 3);
	ck_assert_str_eq(uml_instance_get_iface_name(a, 0), "vec0");
	ck_assert_str_eq(uml_instance_get_iface_name(a, 1), "vec1");
	ck_assert_str_eq(uml_instance_get_iface_name(a, 2), "eth0");
	ck_assert_ptr_null(uml_instance_get_iface_name(a, 3));

	/* MACs: locally administered, distinct, stable, settable */
	snprintf(mac, sizeof(mac), "%s", uml_instance_get_iface_mac(a, 0));
	ck_assert_int_eq(strncmp(mac, "02:", 3), 0);
	ck_assert_str_eq(uml_instance_get_iface_mac(a, 0), mac);
	ck_assert_str_ne(uml_instance_get_iface_mac(a, 1), mac);
	ck_assert_int_eq(uml_instance_set_iface_mac(a, 2, "52:54:00:AB:cd:01"), 0);
	ck_assert_str_eq(uml_instance_get_iface_mac(a, 2), "52:54:00:ab:cd:01");
	ck_assert_int_eq(uml_instance_set_iface_mac(a, 2, "01:00:5e:00:00:01"), -EINVAL);
	ck_assert_int_eq(uml_instance_set_iface_mac(a, 2, "52:54:00:ab:cd"), -EINVAL);
	ck_assert_int_eq(uml_instance_set_iface_mac(a, 9, "52:54:00:ab:cd:02"), -ENOENT);

	ck_assert_int_eq(uml_instance_set_iface_address(a, 1, "10.1.0.1/24", NULL), 0);
	ck_assert_int_eq(uml_instance_set_iface_address(a, 2, "10.2.0.1/33", NULL), -EINVAL);
	ck_assert_int_eq(uml_instance_set_iface_address(a, 2, "10.2.0/24", NULL), -EINVAL);
	ck_assert_int_eq(uml_instance_set_iface_address(a, 2, NULL, "10.2.0.9"), -EINVAL);
	ck_assert_int_eq(uml_instance_add_nat(a, NULL), -EEXIST);

	argv = uml_instance_get_argv(a);
	ck_assert_ptr_nonnull(argv);
	/* NAT: a vector interface on a socketpair with the helper (made at boot) */
	snprintf(expect, sizeof(expect), "vec0:transport=fd,fd=-1,vec=0,mac=%s", mac);
	ck_assert(argv_has(argv, expect));
	ck_assert(argv_has_prefix(argv, "vec1:transport=fd,fd="));
	snprintf(expect, sizeof(expect), "eth0=vde,%s,52:54:00:ab:cd:01", uml_switch_get_path(sw));
	ck_assert(argv_has(argv, expect));
	ck_assert(argv_has(argv, "libuml.ip=vec0,10.0.2.15/24,10.0.2.2"));
	ck_assert(argv_has(argv, "libuml.ip=vec1,10.1.0.1/24"));
	ck_assert(argv_has(argv, "libuml.dns=10.0.2.3"));

	/* forwards: on NAT interfaces only, checked before boot */
	ck_assert_int_eq(uml_instance_add_port_forward(a, 1, UML_FWD_TCP, NULL, 8080, 80, NULL),
			 -EINVAL);
	ck_assert_int_eq(uml_instance_add_port_forward(a, 7, UML_FWD_TCP, NULL, 8080, 80, NULL),
			 -ENOENT);
	ck_assert_int_eq(uml_instance_add_port_forward(a, 0, UML_FWD_TCP, "localhost", 8080, 80,
						       NULL), -EINVAL);
	ck_assert_int_eq(uml_instance_add_port_forward(a, 0, UML_FWD_TCP, NULL, 65536, 80, NULL),
			 -EINVAL);
	ck_assert_int_eq(uml_instance_add_port_forward(a, 0, UML_FWD_TCP, NULL, 8080, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(uml_instance_add_port_forward(a, 0, (enum uml_fwd_proto)7, NULL, 8080, 80,
						       NULL), -EINVAL);
	ck_assert_int_eq(uml_instance_add_port_forward(a, 0, UML_FWD_TCP, NULL, 8080, 80, &fwd), 0);
	ck_assert_uint_eq(fwd, 0);
	ck_assert_int_eq(uml_instance_add_port_forward(a, 0, UML_FWD_TCP, "127.0.0.1", 8080, 81,
						       NULL), -EEXIST);
	ck_assert_int_eq(uml_instance_add_port_forward(a, 0, UML_FWD_UDP, "::1", 0, 53, &fwd), 0);
	ck_assert_int_eq(uml_instance_list_port_forwards(a, 0, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(uml_instance_get_port_forward(a, 0, 1, &proto, &host, &port_no, &gport), 0);
	ck_assert_int_eq(proto, UML_FWD_UDP);
	ck_assert_str_eq(host, "::1");
	ck_assert_uint_eq(port_no, 0);	/* picked at boot */
	ck_assert_uint_eq(gport, 53);
	ck_assert_int_eq(uml_instance_get_port_forward(a, 0, 2, NULL, NULL, NULL, NULL), -ENOENT);
	ck_assert_int_eq(uml_instance_remove_port_forward(a, 0, UML_FWD_UDP, "::1", 9), -ENOENT);
	ck_assert_int_eq(uml_instance_remove_port_forward(a, 0, UML_FWD_TCP, NULL, 8080), 0);
	ck_assert_int_eq(uml_instance_list_port_forwards(a, 0, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(uml_instance_add_guest_forward(a, 0, "10.0.2.2", 80, "127.0.0.1", 80),
			 -EINVAL);
	ck_assert_int_eq(uml_instance_add_guest_forward(a, 0, "10.0.3.9", 80, "127.0.0.1", 80),
			 -EINVAL);
	ck_assert_int_eq(uml_instance_add_guest_forward(a, 0, "10.0.2.100", 80, "example.org", 80),
			 -EINVAL);
	ck_assert_int_eq(uml_instance_add_guest_forward(a, 0, "10.0.2.100", 80, "/nonexistent/s", 0),
			 -ENOENT);
	ck_assert_int_eq(uml_instance_add_guest_forward(a, 0, "10.0.2.100", 80, "/etc/passwd", 0),
			 -ENOTSOCK);
	ck_assert_int_eq(uml_instance_add_guest_forward(a, 0, "10.0.2.100", 80, "127.0.0.1", 8000), 0);
	ck_assert_int_eq(uml_instance_add_guest_forward(a, 0, "10.0.2.100", 80, "127.0.0.1", 8001),
			 -EEXIST);
	ck_assert_int_eq(uml_instance_set_nat_memory_limit(a, 0, 1 << 20), -EINVAL);
	ck_assert_int_eq(uml_instance_set_nat_memory_limit(a, 0, 32 << 20), 0);
	ck_assert_int_eq(uml_instance_add_nat_with_flags(b, 0x80, NULL), -EINVAL);

	/* a link has two ends */
	ck_assert_int_eq(uml_instance_add_link(b, link, NULL), 0);
	ck_assert_int_eq(uml_instance_add_link(b, link, NULL), -EBUSY);
	ck_assert_str_eq(uml_instance_get_iface_name(b, 0), "vec0");

	ck_assert_int_eq(uml_switch_new(ctx, "a/b", &sw), -EINVAL);
	ck_assert_int_eq(uml_switch_new(ctx, "", &sw), -EINVAL);
	ck_assert_int_eq(uml_instance_add_tap(a, "bad name", 0, NULL), -EINVAL);
	ck_assert_int_eq(uml_instance_add_tap(a, "x", 0x80, NULL), -EINVAL);
	uml_link_unref(link);
	uml_switch_unref(sw);
}
END_TEST

/* ---- real guests -------------------------------------------------------- */

/* Pings addr from the console of guest i; asserts the replies came. */
static void console_ping(int i, const char *addr)
{
	char cmd[512], *out;

	snprintf(cmd, sizeof(cmd), PING("%s"), addr, addr);
	out = console_run(i, cmd);
	ck_assert_msg(strstr(out, "2 packets received"), "guest %d ping %s:\n%s", i, addr, th_tail(out));
	free(out);
}

/* Guests 0..n-1, normal boots, on link or sw as NET.(i+1)/24. */
static void plugged_guests(int n, const char *net, struct uml_link *link, struct uml_switch *sw)
{
	for (int i = 0; i < n; i++) {
		char addr[32];

		guest(i, NULL);
		snprintf(addr, sizeof(addr), "%s.%d/24", net, i + 1);
		ck_assert_int_eq(link ? uml_instance_add_link(g[i], link, NULL)
				      : uml_instance_add_switch_port(g[i], sw, NULL), 0);
		ck_assert_int_eq(uml_instance_set_iface_address(g[i], 0, addr, NULL), 0);
	}
}

START_TEST(link_ping)
{
	struct uml_link *link;

	ck_assert_int_eq(uml_link_new(ctx, &link), 0);
	plugged_guests(2, "10.1.0", link, NULL);
	uml_link_unref(link);	/* the guests hold it */
	boot(0);
	boot(1);
	/* a link is plugged in at boot only */
	ck_assert_int_eq(uml_instance_add_link(g[0], link, NULL), -EBUSY);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(uml_instance_wait_ready(g[i], RUN_MS), 0);
	console_ping(0, "10.1.0.2");
	console_ping(1, "10.1.0.1");
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(uml_instance_halt(g[i], -1), 0);
}
END_TEST

START_TEST(switch_three_guests)
{
	struct uml_switch *sw;
	pid_t pid;

	ck_assert_int_eq(uml_switch_new(ctx, "three", &sw), 0);
	plugged_guests(3, "10.3.0", NULL, sw);
	ck_assert_int_eq(uml_switch_get_pid(sw), 0);	/* started lazily */
	for (int i = 0; i < 3; i++)
		boot(i);
	pid = uml_switch_get_pid(sw);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(kill(pid, 0), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uml_instance_wait_ready(g[i], RUN_MS), 0);
	console_ping(0, "10.3.0.2");
	console_ping(0, "10.3.0.3");
	console_ping(1, "10.3.0.3");
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(uml_instance_halt(g[i], -1), 0);
	/* the guests ended and dropped theirs: the last reference stops it */
	uml_switch_unref(sw);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(th_count_processes("vde_switch"), 0);
}
END_TEST

/* A child answering every connection on the listening fd with reply; fd is closed here. */
static pid_t serve_forever(int fd, const char *reply)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (;;) {
			char buf[4096];
			int c = accept(fd, NULL, NULL);

			if (c < 0)
				continue;
			(void)!read(c, buf, sizeof(buf));
			(void)!write(c, reply, strlen(reply));
			close(c);
		}
	}
	close(fd);
	return pid;
}

/* A one-connection-at-a-time HTTP server on 127.0.0.1, in a child process. */
static pid_t http_server(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return serve_forever(fd, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
			     "Content-Length: 19\r\n\r\nhello-from-the-host");
}

START_TEST(nat_reaches_host_loopback)
{
	char cmd[256];
	int port;
	pid_t server = http_server(&port);

	snprintf(cmd, sizeof(cmd), "wget -q -O - http://10.0.2.2:%d/x", port);
	guest(0, cmd);
	ck_assert_int_eq(uml_instance_add_nat(g[0], NULL), 0);
	boot(0);
	expect_run_ok(0, "hello-from-the-host");
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
}
END_TEST

/* A normal boot: the busybox /init sets the addresses before it is ready. */
START_TEST(busybox_init_sets_address)
{
	struct uml_link *link;
	char *out;

	ck_assert_int_eq(uml_link_new(ctx, &link), 0);
	guest(0, NULL);
	ck_assert_int_eq(uml_instance_add_link(g[0], link, NULL), 0);
	ck_assert_int_eq(uml_instance_set_iface_address(g[0], 0, "10.4.0.7/24", "10.4.0.1"), 0);
	ck_assert_int_eq(uml_instance_set_dns(g[0], "10.4.0.53"), 0);
	uml_link_unref(link);
	boot(0);
	ck_assert_msg(uml_instance_wait_ready(g[0], RUN_MS) == 0, "%s",
		      uml_instance_last_error(g[0]));
	out = console_run(0, "ip -4 addr show dev vec0; ip route; cat /etc/resolv.conf");
	ck_assert_msg(strstr(out, "inet 10.4.0.7/24"), "no address:\n%s", th_tail(out));
	ck_assert_msg(strstr(out, "default via 10.4.0.1 dev vec0"), "no default route:\n%s", th_tail(out));
	ck_assert_msg(strstr(out, "nameserver 10.4.0.53"), "no name server:\n%s", th_tail(out));
	free(out);
	ck_assert_int_eq(uml_instance_halt(g[0], -1), 0);
}
END_TEST

START_TEST(hot_add_and_remove)
{
	struct uml_switch *sw, *other;
	char *dev = NULL;
	unsigned idx, nat;
	int r;

	ck_assert_int_eq(uml_switch_new(ctx, "hot", &sw), 0);
	ck_assert_int_eq(uml_switch_new(ctx, "cold", &other), 0);
	guest(0, NULL);
	ck_assert_int_eq(uml_instance_add_switch_port(g[0], sw, &idx), 0);
	boot(0);
	ck_assert_int_eq(uml_instance_wait_ready(g[0], RUN_MS), 0);
	dev = console_run(0, "ls /sys/class/net");
	ck_assert_ptr_nonnull(strstr(dev, "eth0"));
	ck_assert_ptr_null(strstr(dev, "eth1"));
	free(dev);

	/* a second port on the switch it booted with: its link comes up */
	ck_assert_msg(uml_instance_add_switch_port(g[0], sw, &idx) == 0, "%s",
		      uml_instance_last_error(g[0]));
	ck_assert_uint_eq(idx, 1);
	ck_assert_str_eq(uml_instance_get_iface_name(g[0], idx), "eth1");
	dev = console_run(0, "ip link set eth1 up && echo eth1-is-up; ip link set eth1 down");
	ck_assert_msg(strstr(dev, "eth1-is-up\n"), "eth1 does not come up:\n%s", th_tail(dev));
	free(dev);
	/* a sandboxed kernel sees only the switches it booted with */
	r = uml_instance_add_switch_port(g[0], other, &idx);
	if (uml_instance_get_sandboxed(g[0])) {
		ck_assert_int_eq(r, -EOPNOTSUPP);
		ck_assert_ptr_nonnull(strstr(uml_instance_last_error(g[0]), "before boot"));
	} else {
		ck_assert_int_eq(r, 0);
		ck_assert_str_eq(uml_instance_get_iface_name(g[0], idx), "eth2");
	}
	/*
	 * NAT on a running guest: the kernel cannot take an fd now, so it
	 * connects to the helper's socket (the vector driver's bess transport)
	 */
	r = uml_instance_add_nat(g[0], &nat);
	if (r == -EOPNOTSUPP) {
		/* only into a sandbox of our own uid: the socket is handed over by no path */
		ck_assert(uml_instance_get_sandboxed(g[0]));
		ck_assert_ptr_nonnull(strstr(uml_instance_last_error(g[0]), "another user"));
	} else {
		ck_assert_msg(r == 0, "%s", uml_instance_last_error(g[0]));
		ck_assert_str_eq(uml_instance_get_iface_name(g[0], nat), "vec0");
		free(console_run(0, "ip link set vec0 up; ip addr add 10.0.2.15/24 dev vec0"));
		console_ping(0, "10.0.2.2");	/* fails unless the hot-added NAT carries frames */
	}

	ck_assert_int_eq(uml_instance_remove_iface(g[0], 1), 0);
	ck_assert_int_eq(uml_instance_remove_iface(g[0], 1), -ENODEV);
	dev = console_run(0, "ls /sys/class/net");
	ck_assert_msg(!strstr(dev, "eth1"), "eth1 still in the guest:\n%s", th_tail(dev));
	ck_assert_ptr_nonnull(strstr(dev, "eth0"));
	if (r == 0)
		ck_assert_ptr_nonnull(strstr(dev, "vec0"));
	free(dev);
	/* and taken away again: the helper ends with the interface */
	if (r == 0) {
		free(console_run(0, "ip link set vec0 down"));
		ck_assert_int_eq(uml_instance_remove_iface(g[0], nat), 0);
	}
	ck_assert_int_eq(count_nat_helpers(), 0);
	ck_assert_int_eq(uml_instance_halt(g[0], -1), 0);
	uml_switch_unref(sw);
	uml_switch_unref(other);
	ck_assert_int_eq(th_count_processes("vde_switch"), 0);
}
END_TEST

/* Gone, or a zombie nobody has reaped yet. */
static bool process_gone(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	bool gone = true;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f) {
		gone = fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[2] == 'Z';
		fclose(f);
	}
	return gone;
}

/* The caller dies without cleaning up: its switch must not outlive it. */
START_TEST(switch_dies_with_caller)
{
	int p[2];
	pid_t child, sw_pid = 0;
	char path[256];

	ck_assert_int_eq(pipe(p), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct uml_switch *sw;
		pid_t pid;

		if (uml_switch_new(ctx, "orphan", &sw) < 0 || uml_switch_start(sw) < 0)
			_exit(1);
		pid = uml_switch_get_pid(sw);
		(void)!write(p[1], &pid, sizeof(pid));
		raise(SIGKILL);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &sw_pid, sizeof(sw_pid)), (ssize_t)sizeof(sw_pid));
	close(p[0]);
	waitpid(child, NULL, 0);
	ck_assert_int_gt(sw_pid, 0);
	for (int i = 0; i < 100 && !process_gone(sw_pid); i++)
		usleep(50000);
	ck_assert_msg(process_gone(sw_pid), "vde_switch %d outlived its caller", (int)sw_pid);
	snprintf(path, sizeof(path), "%s/switch-orphan", uml_ctx_get_runtime_dir(ctx));
	for (int i = 0; i < 100 && access(path, F_OK) == 0; i++)
		usleep(50000);
	ck_assert_msg(access(path, F_OK) != 0, "%s was left behind", path);
}
END_TEST

START_TEST(tap_pings_host_side)
{
	char tap[16], sys[64], cmd[128];

	if (geteuid() != 0) {
		fprintf(stderr, "tap_pings_host_side: skipped, needs root to create a tap\n");
		return;
	}
	snprintf(tap, sizeof(tap), "umlt%d", (int)getpid() % 100000);
	snprintf(sys, sizeof(sys), "/sys/class/net/%s", tap);
	guest(0, PING("10.213.7.1"));
	ck_assert_int_eq(uml_instance_add_tap(g[0], tap, UML_TAP_CREATE, NULL), 0);
	ck_assert_int_eq(uml_instance_set_iface_address(g[0], 0, "10.213.7.2/24", NULL), 0);
	ck_assert_int_ne(access(sys, F_OK), 0);
	boot(0);
	ck_assert_int_eq(access(sys, F_OK), 0);	/* created at boot */
	snprintf(cmd, sizeof(cmd), "ip addr add 10.213.7.1/24 dev %s && ip link set %s up",
		 tap, tap);
	ck_assert_int_eq(th_system("%s", cmd), 0);
	expect_run_ok(0, "bytes from 10.213.7.1");
	ck_assert_int_ne(access(sys, F_OK), 0);	/* deleted with the guest */
}
END_TEST

START_TEST(tap_missing_device)
{
	guest(0, "true");
	ck_assert_int_eq(uml_instance_add_tap(g[0], "umlnonexist0", 0, NULL), geteuid() ? -ENODEV : 0);
	if (geteuid() == 0)
		ck_assert_int_eq(uml_instance_boot(g[0]), -ENODEV);
	ck_assert_int_eq(uml_instance_get_state(g[0]), UML_STATE_CONFIGURING);
}
END_TEST

/* ---- NAT through the uml-nat helper: forwards, IPv6, limits ------------------- */

static void stop_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A busybox httpd in the guest, fetched from the host through a forward of a free port. */
START_TEST(nat_forward_into_guest)
{
	unsigned fwd, n;
	int port;

	nat_guest_serving(0, 0, &fwd);
	boot(0);
	ck_assert_int_eq(count_nat_helpers(), 1);
	port = fwd_port(0, 0, fwd);
	ck_assert_int_eq(uml_instance_wait_ready(g[0], RUN_MS), 0);
	guest_httpd(0, "hello-from-the-guest");
	expect_http(port, "hello-from-the-guest");
	ck_assert_int_eq(uml_instance_list_port_forwards(g[0], 0, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(uml_instance_remove_port_forward(g[0], 0, UML_FWD_TCP, NULL, (unsigned)port), 0);
	ck_assert(port_closed(port));
	ck_assert_int_eq(uml_instance_list_port_forwards(g[0], 0, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(uml_instance_remove_port_forward(g[0], 0, UML_FWD_TCP, NULL, (unsigned)port),
			 -ENOENT);
	ck_assert_int_eq(uml_instance_halt(g[0], -1), 0);
	/* the guest ended: so did its helper, and the forward's port is free */
	ck_assert_int_eq(count_nat_helpers(), 0);
}
END_TEST

/* A child echoing UDP datagrams ("echo:" TEXT) on 127.0.0.1. */
static pid_t udp_echo_server(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (;;) {
			char buf[1500] = "echo:";
			struct sockaddr_in from;
			socklen_t flen = sizeof(from);
			ssize_t n = recvfrom(fd, buf + 5, sizeof(buf) - 5, 0, (struct sockaddr *)&from, &flen);

			if (n > 0)
				sendto(fd, buf, (size_t)n + 5, 0, (struct sockaddr *)&from, flen);
		}
	}
	close(fd);
	return pid;
}

/* UDP both ways: the guest's datagram to the host's echo, the host's through a forward to the guest's. */
START_TEST(nat_udp_echo_both_ways)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char cmd[512], buf[256];
	int echo_port, fd;
	unsigned fwd;
	pid_t echo = udp_echo_server(&echo_port);
	uint64_t until;
	ssize_t n = -1;

	snprintf(cmd, sizeof(cmd),
		 "{ /mnt/guest-udp serve 7 & /mnt/guest-udp send 10.0.2.2 %d from-the-guest; wait; }",
		 echo_port);
	guest(0, cmd);
	/* a share the sandbox shows the kernel, mounted before the command runs */
	ck_assert_int_eq(uml_instance_add_hostfs(g[0], TEST_BUILDDIR "/tests", "/mnt",
						 UML_HOSTFS_READONLY), 0);
	ck_assert_int_eq(uml_instance_add_nat(g[0], NULL), 0);
	ck_assert_int_eq(uml_instance_add_port_forward(g[0], 0, UML_FWD_UDP, NULL, 0, 7, &fwd), 0);
	boot(0);
	sa.sin_port = htons((uint16_t)fwd_port(0, 0, fwd));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	/* until the guest's server is up, datagrams to it are lost: send again */
	for (until = now_ms() + RUN_MS; now_ms() < until && uml_instance_get_state(g[0]) != UML_STATE_EXITED;) {
		ck_assert_int_eq(sendto(fd, "from-the-host", 13, 0, (struct sockaddr *)&sa, sizeof(sa)), 13);
		pump(300);
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0)
			break;
	}
	if (n <= 0) {
		uml_instance_halt(g[0], -1);
		ck_abort_msg("no UDP answer through the forward; the guest printed:\n%s",
			     th_tail(uml_instance_get_run_output(g[0], NULL)));
	}
	buf[n] = '\0';
	ck_assert_str_eq(buf, "echo:from-the-host");
	close(fd);
	expect_run_ok(0, "reply echo:from-the-guest");
	ck_assert_ptr_nonnull(strstr(uml_instance_get_run_output(g[0], NULL), "served from-the-host"));
	stop_child(echo);
}
END_TEST

/* Two guests at once, each with its own forward, its own server, its own helper. */
START_TEST(nat_two_guests_own_forwards)
{
	unsigned fwd[2];
	int port[2];

	for (int i = 0; i < 2; i++) {
		nat_guest_serving(i, 0, &fwd[i]);
		boot(i);
		port[i] = fwd_port(i, 0, fwd[i]);
	}
	ck_assert_int_ne(port[0], port[1]);
	ck_assert_int_eq(count_nat_helpers(), 2);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(uml_instance_wait_ready(g[i], RUN_MS), 0);
	guest_httpd(0, "i-am-guest-zero");
	guest_httpd(1, "i-am-guest-one");
	expect_http(port[0], "i-am-guest-zero");
	expect_http(port[1], "i-am-guest-one");
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(uml_instance_halt(g[i], -1), 0);
	ck_assert_int_eq(count_nat_helpers(), 0);
}
END_TEST

/*
 * Forwards added to a running guest: by the instance, by another process
 * (uml_ctx_*, what uml-ctl does), and a guest-to-host forward.
 */
START_TEST(nat_forwards_added_while_running)
{
	const char *umid;
	char *list = NULL, cmd[256], *out;
	unsigned fwd, other, n;
	int host_port;
	pid_t server = http_server(&host_port);

	nat_guest_serving(0, 0, NULL);
	boot(0);
	umid = uml_instance_get_umid(g[0]);
	ck_assert_int_eq(uml_instance_wait_ready(g[0], RUN_MS), 0);
	guest_httpd(0, "added-later");
	ck_assert_msg(uml_instance_add_port_forward(g[0], 0, UML_FWD_TCP, NULL, 0, 80, &fwd) == 0,
		      "%s", uml_instance_last_error(g[0]));
	expect_http(fwd_port(0, 0, fwd), "added-later");
	ck_assert_msg(uml_ctx_add_port_forward(ctx, umid, UML_FWD_TCP, "127.0.0.1", 0, 80, &other) == 0,
		      "%s", uml_ctx_last_error(ctx));
	ck_assert_uint_gt(other, 0);
	expect_http((int)other, "added-later");
	/* the instance's list includes the other process's forward */
	ck_assert_int_eq(uml_instance_list_port_forwards(g[0], 0, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(uml_ctx_list_port_forwards(ctx, umid, &list), 0);
	snprintf(cmd, sizeof(cmd), "hostfwd tcp 127.0.0.1 %u 10.0.2.15 80", other);
	ck_assert_msg(strstr(list, cmd), "list lacks '%s':\n%s", cmd, list);
	free(list);
	ck_assert_int_eq(uml_ctx_remove_port_forward(ctx, umid, UML_FWD_TCP, NULL, other), 0);
	ck_assert(port_closed((int)other));
	ck_assert_int_eq(uml_ctx_remove_port_forward(ctx, umid, UML_FWD_TCP, NULL, other), -ENOENT);
	ck_assert_int_eq(uml_ctx_add_port_forward(ctx, "no-such-guest", UML_FWD_TCP, NULL, 0, 80, NULL),
			 -ENOTCONN);

	/* guest to host: 10.0.2.100:80 in the guest is the host's server */
	ck_assert_msg(uml_instance_add_guest_forward(g[0], 0, "10.0.2.100", 80, "127.0.0.1",
						     (unsigned)host_port) == 0, "%s",
		      uml_instance_last_error(g[0]));
	out = console_run(0, "wget -q -O - http://10.0.2.100/x");
	ck_assert_msg(strstr(out, "hello-from-the-host"), "guest forward:\n%s", th_tail(out));
	free(out);
	ck_assert_int_eq(uml_instance_halt(g[0], -1), 0);
	stop_child(server);
}
END_TEST

/* An HTTP server on a unix socket at path, in a child. */
static pid_t unix_http_server(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	return serve_forever(fd, "HTTP/1.0 200 OK\r\nContent-Length: 16\r\n\r\nhello-over-unix!");
}

/* A guest-to-host forward to a unix socket, and restrict mode, which lets only forwards through. */
START_TEST(nat_restrict_and_unix_forward)
{
	char sock[256], cmd[512];
	int port;
	pid_t server = http_server(&port), userver;
	const char *out;

	snprintf(sock, sizeof(sock), "%s/http-%d.sock", th_tmpdir(), (int)getpid());
	userver = unix_http_server(sock);
	/* busybox 1.35's wget -T segfaults (rc 139), so timeout bounds the blocked fetch */
	snprintf(cmd, sizeof(cmd), "wget -q -O - http://10.0.2.100:8080/; echo; "
		 "timeout 20 wget -q -O - http://10.0.2.2:%d/; echo \"rc=$?.\"", port);
	guest(0, cmd);
	ck_assert_int_eq(uml_instance_add_nat_with_flags(g[0], UML_NAT_RESTRICT, NULL), 0);
	ck_assert_int_eq(uml_instance_add_guest_forward(g[0], 0, "10.0.2.100", 8080, sock, 0), 0);
	boot(0);
	expect_run_ok(0, "hello-over-unix!");
	out = uml_instance_get_run_output(g[0], NULL);
	ck_assert_msg(!strstr(out, "hello-from-the-host") && strstr(out, "rc=") &&
		      !strstr(out, "rc=0."), "restricted guest reached the host:\n%s", th_tail(out));
	stop_child(userver);
	stop_child(server);
	unlink(sock);
}
END_TEST

/* Without host loopback, 10.0.2.2 is not the host's 127.0.0.1 any more. */
START_TEST(nat_no_host_loopback)
{
	char cmd[256];
	int port;
	pid_t server = http_server(&port);

	snprintf(cmd, sizeof(cmd), "timeout 20 wget -q -O - http://10.0.2.2:%d/; echo \"rc=$?.\"",
		 port);
	guest(0, cmd);
	ck_assert_int_eq(uml_instance_add_nat_with_flags(g[0], UML_NAT_NO_HOST_LOOPBACK, NULL), 0);
	boot(0);
	expect_run_ok(0, "rc=");
	ck_assert_ptr_null(strstr(uml_instance_get_run_output(g[0], NULL), "hello-from-the-host"));
	ck_assert_ptr_null(strstr(uml_instance_get_run_output(g[0], NULL), "rc=0."));
	stop_child(server);
}
END_TEST

/* IPv6: the guest configures itself from the helper's router advertisements and pings fec0::2. */
START_TEST(nat_ipv6_ping_gateway)
{
	const char *version = NULL, *ipv6 = NULL;
	char cmd[1024], mods[256] = "";
	unsigned idx;

	if (uml_kernel_get_config(kernel, "CONFIG_IPV6", &ipv6) < 0 || !ipv6 ||
	    (strcmp(ipv6, "y") && strcmp(ipv6, "m"))) {
		fprintf(stderr, "SKIP nat_ipv6_ping_gateway: kernel %s has no IPv6\n",
			uml_kernel_get_path(kernel));
		return;
	}
	if (strcmp(ipv6, "m") == 0) {
		/* Debian's kernel: the module from its package, shared in by hostfs */
		ck_assert_int_eq(uml_kernel_get_version(kernel, &version), 0);
		snprintf(mods, sizeof(mods), "/usr/lib/uml/modules/%s/kernel", version);
		if (access(mods, F_OK) < 0) {
			fprintf(stderr, "SKIP nat_ipv6_ping_gateway: IPv6 is a module and %s is "
				"missing\n", mods);
			return;
		}
	}
	/* the interface comes up after IPv6 is there, so it autoconfigures */
	snprintf(cmd, sizeof(cmd), "%s"
		 "ip link set vec0 up && ip addr add 10.0.2.15/24 dev vec0 && "
		 "n=0; until ip -6 addr show dev vec0 | grep -q 'inet6 fec0::'; do "
		 "n=$((n+1)); [ $n -lt 60 ] || break; sleep 1; done; ip -6 addr show dev vec0; "
		 "ping6 -c 2 fec0::2",
		 mods[0] ? "insmod /mnt/lib/crc-ccitt.ko && insmod /mnt/net/ipv6/ipv6.ko && " : "");
	guest(0, cmd);
	if (mods[0])
		ck_assert_int_eq(uml_instance_add_hostfs(g[0], mods, "/mnt", UML_HOSTFS_READONLY), 0);
	ck_assert_int_eq(uml_instance_add_nat_with_flags(g[0], UML_NAT_IPV6, &idx), 0);
	ck_assert_int_eq(uml_instance_set_iface_address(g[0], idx, NULL, NULL), 0);
	boot(0);
	expect_run_ok(0, "2 packets received");
	ck_assert_ptr_nonnull(strstr(uml_instance_get_run_output(g[0], NULL), "inet6 fec0::"));
}
END_TEST

/* A forward of a port in use: the boot fails with -EADDRINUSE naming it, and so does a late add. */
START_TEST(nat_forward_port_in_use)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;
	char port[16];

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(port, sizeof(port), "port %d", ntohs(sa.sin_port));
	guest(0, NULL);
	ck_assert_int_eq(uml_instance_add_nat(g[0], NULL), 0);
	ck_assert_int_eq(uml_instance_add_port_forward(g[0], 0, UML_FWD_TCP, NULL, ntohs(sa.sin_port),
						       80, NULL), 0);
	r = uml_instance_boot(g[0]);
	ck_assert_int_eq(r, -EADDRINUSE);
	ck_assert_msg(strstr(uml_instance_last_error(g[0]), port), "%s", uml_instance_last_error(g[0]));
	ck_assert_int_eq(uml_instance_get_state(g[0]), UML_STATE_CONFIGURING);
	ck_assert_int_eq(count_nat_helpers(), 0);	/* nothing left behind */
	ck_assert_int_eq(th_count_entries(uml_ctx_get_runtime_dir(ctx)), 0);

	ck_assert_int_eq(uml_instance_remove_port_forward(g[0], 0, UML_FWD_TCP, NULL, ntohs(sa.sin_port)), 0);
	boot(0);
	r = uml_instance_add_port_forward(g[0], 0, UML_FWD_TCP, NULL, ntohs(sa.sin_port), 80, NULL);
	ck_assert_int_eq(r, -EADDRINUSE);
	ck_assert_msg(strstr(uml_instance_last_error(g[0]), port), "%s", uml_instance_last_error(g[0]));
	ck_assert_int_eq(uml_instance_halt(g[0], -1), 0);
	close(fd);
}
END_TEST

/* A field of /proc/PID/status in kB, or -1 (gone). */
static long status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0 && line[len] == ':')
			v = atol(line + len + 1);
	fclose(f);
	return v;
}

/*
 * A guest floods its NAT with connections that hold buffers (the host side
 * accepts and never reads): the helper stays within its memory limit (and
 * ends when the guest wants more), the calling process does not grow, and
 * the guest lives on.
 */
START_TEST(nat_flood_held_by_memory_limit)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	const unsigned limit_mib = 16;
	long rss0, max_vm = 0, vm;
	char cmd[512];
	pid_t helper = 0;
	unsigned idx;

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4096), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(cmd, sizeof(cmd), "i=0; while [ $i -lt 150 ]; do nc 10.0.2.2 %d </dev/zero "
		 ">/dev/null 2>&1 & i=$((i+1)); done; sleep 20; echo the-guest-lives-on",
		 ntohs(sa.sin_port));
	guest(0, cmd);
	ck_assert_int_eq(uml_instance_set_memory(g[0], 256ull << 20), 0);
	ck_assert_int_eq(uml_instance_add_nat(g[0], &idx), 0);
	ck_assert_int_eq(uml_instance_set_nat_memory_limit(g[0], idx, (uint64_t)limit_mib << 20), 0);
	boot(0);
	ck_assert_int_eq(nat_helpers(&helper), 1);
	ck_assert_int_eq(uml_instance_set_nat_memory_limit(g[0], idx, 32 << 20), -EBUSY);
	rss0 = status_kb(getpid(), "VmRSS");
	while (uml_instance_get_state(g[0]) != UML_STATE_EXITED) {
		pump(200);
		vm = status_kb(helper, "VmSize");
		if (vm > max_vm)
			max_vm = vm;
	}
	expect_run_ok(0, "the-guest-lives-on");
	ck_assert_msg(max_vm > 0 && max_vm <= (long)limit_mib * 1024, "helper used %ld kB", max_vm);
	/* the flood needed more than the limit: the helper ended, nothing else did */
	ck_assert_msg(!nat_helper(helper, true), "helper %d survived the flood (%ld kB)",
		      (int)helper, max_vm);
	ck_assert_msg(status_kb(getpid(), "VmRSS") - rss0 < 4096, "the caller grew from %ld kB to %ld kB",
		      rss0, status_kb(getpid(), "VmRSS"));
	close(fd);
}
END_TEST

/* The embedding process dies by SIGKILL: its guest's NAT helper goes too. */
START_TEST(nat_helper_dies_with_caller)
{
	int p[2];
	pid_t child, pids[2] = { 0, 0 };

	ck_assert_int_eq(pipe(p), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		guest(0, "sleep 600");
		if (uml_instance_add_nat(g[0], NULL) < 0 || uml_instance_boot(g[0]) < 0 ||
		    nat_helpers(&pids[0]) != 1)
			_exit(1);
		pids[1] = uml_instance_get_pid(g[0]);
		(void)!write(p[1], pids, sizeof(pids));
		raise(SIGKILL);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], pids, sizeof(pids)), (ssize_t)sizeof(pids));
	close(p[0]);
	waitpid(child, NULL, 0);
	for (int i = 0; i < 200 && (nat_helper(pids[0], true) || !process_gone(pids[1])); i++)
		usleep(50000);
	ck_assert_msg(!nat_helper(pids[0], true), "NAT helper %d outlived its caller", (int)pids[0]);
	ck_assert_msg(process_gone(pids[1]), "guest %d outlived its caller", (int)pids[1]);
	/* the watchdogs remove the sockets right after the kill */
	for (int i = 0; i < 100 && th_count_entries(uml_ctx_get_runtime_dir(ctx)); i++)
		usleep(50000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("net");
	TCase *cfg = tcase_create("config"), *run = tcase_create("guests");
	TCase *nat = tcase_create("nat");

	tcase_add_checked_fixture(cfg, setup, teardown);
	tcase_set_timeout(cfg, 60);	/* no guests, but a switch to start on a loaded host */
	tcase_add_test(cfg, args_and_names);
	tcase_add_test(cfg, tap_missing_device);
	tcase_add_test(cfg, switch_dies_with_caller);
	suite_add_tcase(s, cfg);
	tcase_add_checked_fixture(run, setup, teardown);
	tcase_set_timeout(run, 300);
	tcase_add_test(run, link_ping);
	tcase_add_test(run, switch_three_guests);
	tcase_add_test(run, nat_reaches_host_loopback);
	tcase_add_test(run, busybox_init_sets_address);
	tcase_add_test(run, hot_add_and_remove);
	tcase_add_test(run, tap_pings_host_side);
	suite_add_tcase(s, run);
	tcase_add_checked_fixture(nat, setup, teardown);
	tcase_set_timeout(nat, 300);
	tcase_add_test(nat, nat_forward_into_guest);
	tcase_add_test(nat, nat_udp_echo_both_ways);
	tcase_add_test(nat, nat_two_guests_own_forwards);
	tcase_add_test(nat, nat_forwards_added_while_running);
	tcase_add_test(nat, nat_restrict_and_unix_forward);
	tcase_add_test(nat, nat_no_host_loopback);
	tcase_add_test(nat, nat_ipv6_ping_gateway);
	tcase_add_test(nat, nat_forward_port_in_use);
	tcase_add_test(nat, nat_helper_dies_with_caller);
	tcase_add_test(nat, nat_flood_held_by_memory_limit);
	suite_add_tcase(s, nat);
	return th_run(s);
}

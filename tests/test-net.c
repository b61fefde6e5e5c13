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

/* ---- configuration, no boot -------------------------------------------- */

START_TEST(args_and_names)
{
	struct uml_instance *a = guest(0, NULL), *b = guest(1, NULL);
	struct uml_link *link;
	struct uml_switch *sw;
	const char *const *argv;
	unsigned nat, ln, port;
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
	ck_assert_str_eq(uml_instance_get_iface_name(a, 0), "eth0");
	ck_assert_str_eq(uml_instance_get_iface_name(a, 1), "vec0");
	ck_assert_str_eq(uml_instance_get_iface_name(a, 2), "eth1");
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
	snprintf(expect, sizeof(expect), "eth0=slirp,%s,", mac);
	ck_assert(argv_has_prefix(argv, expect));
	ck_assert(argv_has_prefix(argv, "vec0:transport=fd,fd="));
	snprintf(expect, sizeof(expect), "eth1=vde,%s,52:54:00:ab:cd:01", uml_switch_get_path(sw));
	ck_assert(argv_has(argv, expect));
	ck_assert(argv_has(argv, "libuml.ip=eth0,10.0.2.15/24,10.0.2.2"));
	ck_assert(argv_has(argv, "libuml.ip=vec0,10.1.0.1/24"));
	ck_assert(argv_has(argv, "libuml.dns=10.0.2.3"));

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

/* A one-connection-at-a-time HTTP server on 127.0.0.1, in a child process. */
static pid_t http_server(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
					    "Content-Length: 19\r\n\r\nhello-from-the-host";
		for (;;) {
			char buf[4096];
			int c = accept(fd, NULL, NULL);

			if (c < 0)
				continue;
			(void)!read(c, buf, sizeof(buf));
			(void)!write(c, reply, sizeof(reply) - 1);
			close(c);
		}
	}
	close(fd);
	return pid;
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
	unsigned idx;
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
	/*
	 * A sandboxed kernel sees only what it booted with: a new switch, or
	 * NAT (slirp needs the host network), must be there at boot.
	 */
	r = uml_instance_add_switch_port(g[0], other, &idx);
	if (uml_instance_get_sandboxed(g[0])) {
		ck_assert_int_eq(r, -EOPNOTSUPP);
		ck_assert_ptr_nonnull(strstr(uml_instance_last_error(g[0]), "before boot"));
		ck_assert_int_eq(uml_instance_add_nat(g[0], &idx), -EOPNOTSUPP);
		ck_assert_ptr_nonnull(strstr(uml_instance_last_error(g[0]), "before boot"));
	} else {
		ck_assert_int_eq(r, 0);
		ck_assert_str_eq(uml_instance_get_iface_name(g[0], idx), "eth2");
	}

	ck_assert_int_eq(uml_instance_remove_iface(g[0], 1), 0);
	ck_assert_int_eq(uml_instance_remove_iface(g[0], 1), -ENODEV);
	dev = console_run(0, "ls /sys/class/net");
	ck_assert_msg(!strstr(dev, "eth1"), "eth1 still in the guest:\n%s", th_tail(dev));
	ck_assert_ptr_nonnull(strstr(dev, "eth0"));
	free(dev);
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

int main(void)
{
	Suite *s = suite_create("net");
	TCase *cfg = tcase_create("config"), *run = tcase_create("guests");

	tcase_add_checked_fixture(cfg, setup, teardown);
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
	return th_run(s);
}

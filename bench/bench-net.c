/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest networking: ping round trip and TCP throughput (busybox wget from
 * busybox httpd, and busybox nc) between two guests on a link and on a
 * switch; NAT both ways (guest wget from a server on the host's 127.0.0.1,
 * guest nc to a sink there) through libuml's uml-nat helper against Debian's
 * slirp binary started by this program with the same guest
 * (ethN=slirp,,/usr/bin/slirp-fullbolt), with the NAT process's CPU time
 * per MB moved; and HTTP request latency through a port forward against the
 * same request to a server on the host's loopback.  The nc baseline is the
 * same busybox nc transfer over the host's own loopback.  busybox nc moves
 * data in small chunks, so inside UML (a ptrace round trip per system call)
 * its rate shows the guest's system call cost more than the network.
 * Rows a kernel cannot run (no vde on the "fast" preset, no slirp) say so.
 * Prints one table.
 *
 *   bench-net [MIB] [KERNEL]     (default 32 MiB per transfer)
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <uml/libuml.h>

#include "stats.h"

static struct uml_ctx *ctx;
static struct uml_kernel *kernel;
static char dir[] = "/tmp/bench-net-XXXXXX";
static char image[128];
static unsigned mib = 32;

static struct uml_instance *guest(int i, const char *command, struct uml_rootfs **disk)
{
	struct uml_rootfs *base;
	struct uml_instance *vm;
	char cow[256];

	snprintf(cow, sizeof(cow), "%s/g%d.cow", dir, i);
	if (uml_rootfs_new(ctx, image, &base) < 0 ||
	    uml_rootfs_new_cow(base, cow, UML_ROOTFS_CREATE_OVERWRITE, disk) < 0 ||
	    uml_instance_new(kernel, &vm) < 0 || uml_instance_set_rootfs(vm, *disk) < 0 ||
	    uml_instance_set_memory(vm, 128ull << 20) < 0 ||
	    uml_instance_set_run_command(vm, command) < 0 || uml_instance_set_timeout(vm, 300000) < 0) {
		fprintf(stderr, "setup: %s\n", uml_ctx_last_error(ctx));
		exit(1);
	}
	uml_rootfs_unref(base);
	return vm;
}

/* Called about every 100 ms while guests run (NAT CPU sampling), or NULL. */
static void (*sampler)(struct uml_instance *vm);

/* Boots the guests and drives all of them until every one has ended. */
static void run_all(struct uml_instance **vm, int n)
{
	for (int i = 0; i < n; i++)
		if (uml_instance_boot(vm[i]) < 0) {
			fprintf(stderr, "boot: %s\n", uml_instance_last_error(vm[i]));
			exit(1);
		}
	for (;;) {
		struct pollfd p[4];
		int live = 0;

		for (int i = 0; i < n; i++) {
			p[i] = (struct pollfd){ .fd = uml_instance_get_fd(vm[i]), .events = POLLIN };
			if (uml_instance_get_state(vm[i]) != UML_STATE_EXITED)
				live++;
			else
				p[i].fd = -1;
		}
		if (!live)
			break;
		poll(p, (nfds_t)n, 100);
		for (int i = 0; i < n; i++)
			uml_instance_process(vm[i]);
		if (sampler)
			sampler(vm[0]);
	}
}

static const char *output(struct uml_instance *vm)
{
	int st = -1;
	const char *out = uml_instance_get_run_output(vm, NULL);

	if (uml_instance_get_run_status(vm, &st) < 0 || st != 0) {
		fprintf(stderr, "guest failed (status %d): %s\n", st, out ? out : "");
		exit(1);
	}
	return out;
}

/* "round-trip min/avg/max = a/b/c ms" -> b */
static double ping_avg(const char *out)
{
	const char *p = strstr(out, "min/avg/max = ");
	double mn, avg;

	if (!p || sscanf(p + 14, "%lf/%lf", &mn, &avg) != 2)
		return -1;
	return avg;
}

/* busybox time: the nth "real\t0m 1.23s" -> seconds */
static double real_time(const char *out, int nth)
{
	const char *p = out;
	double m, s;

	for (int i = 0; p && i <= nth; i++)
		if ((p = strstr(p, "real")))
			p += 4;
	if (!p || sscanf(p, " %lfm %lfs", &m, &s) != 2)
		return -1;
	return m * 60 + s;
}

#define PEER_WAIT(addr) "n=0; until ping -c 1 -W 1 " addr " >/dev/null; do n=$((n+1)); " \
	"[ $n -lt 60 ] || exit 1; done; "

/*
 * Guest 0 (10.9.0.1) serves a file of MIB mebibytes over HTTP (busybox
 * httpd, from tmpfs) and then nc; guest 1 (10.9.0.2) pings it, fetches the
 * file and sends MIB mebibytes through nc.  plug() connects both.  Returns
 * rtt (ms), HTTP MB/s and nc MB/s.
 */
static void pair(void (*plug)(struct uml_instance **vm, void *data), void *data, double *rtt,
		 double *http, double *mbs)
{
	struct uml_instance *vm[2];
	struct uml_rootfs *disk[2];
	char client[512], server[256];
	double secs;

	snprintf(client, sizeof(client),
		 PEER_WAIT("10.9.0.1") "ping -c 20 -i 0.2 10.9.0.1 | tail -1; "
		 "time wget -q -O /dev/null http://10.9.0.1/z; "
		 "time sh -c 'dd if=/dev/zero bs=64k count=%u 2>/dev/null | nc 10.9.0.1 5001'",
		 mib * 16);
	/* the server's stdin is /dev/null: -e keeps nc from ending at its EOF */
	snprintf(server, sizeof(server), "mount -t tmpfs t /mnt && "
		 "dd if=/dev/zero of=/mnt/z bs=1M count=%u 2>/dev/null && httpd -p 80 -h /mnt && "
		 "nc -l -p 5001 -e wc -c", mib);
	vm[0] = guest(0, server, &disk[0]);
	vm[1] = guest(1, client, &disk[1]);
	plug(vm, data);
	for (int i = 0; i < 2; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "10.9.0.%d/24", i + 1);
		uml_instance_set_iface_address(vm[i], 0, addr, NULL);
	}
	run_all(vm, 2);
	output(vm[0]);
	/* the server answers with the byte count it received */
	snprintf(client, sizeof(client), "\n%llu\n", (unsigned long long)mib << 20);
	if (!strstr(output(vm[1]), client)) {
		fprintf(stderr, "the receiver did not get %u MiB:\n%s\n", mib, output(vm[1]));
		exit(1);
	}
	*rtt = ping_avg(output(vm[1]));
	secs = real_time(output(vm[1]), 0);
	*http = secs > 0 ? mib * 1.048576 / secs : -1;
	secs = real_time(output(vm[1]), 1);
	*mbs = secs > 0 ? mib * 1.048576 / secs : -1;
	for (int i = 0; i < 2; i++) {
		uml_instance_unref(vm[i]);
		uml_rootfs_unref(disk[i]);
	}
}

static void plug_link(struct uml_instance **vm, void *data)
{
	struct uml_link *link;

	(void)data;
	if (uml_link_new(ctx, &link) < 0 || uml_instance_add_link(vm[0], link, NULL) < 0 ||
	    uml_instance_add_link(vm[1], link, NULL) < 0)
		exit(1);
	uml_link_unref(link);
}

static void plug_switch(struct uml_instance **vm, void *data)
{
	struct uml_switch *sw = data;

	if (uml_instance_add_switch_port(vm[0], sw, NULL) < 0 ||
	    uml_instance_add_switch_port(vm[1], sw, NULL) < 0)
		exit(1);
}

/* A listening TCP socket on a free port of 127.0.0.1. */
static int listen_loopback(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		exit(1);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A child serving `bytes` of zeros to every HTTP request on 127.0.0.1. */
static pid_t http_server(size_t bytes, int *port)
{
	int fd = listen_loopback(port);
	pid_t pid = fork();
	if (pid == 0) {
		static char zeros[65536];

		for (;;) {
			char head[128], req[4096];
			int c = accept(fd, NULL, NULL);
			size_t left = bytes;

			if (c < 0)
				continue;
			(void)!read(c, req, sizeof(req));
			snprintf(head, sizeof(head), "HTTP/1.0 200 OK\r\nContent-Length: %zu\r\n\r\n",
				 bytes);
			(void)!write(c, head, strlen(head));
			while (left > 0) {
				ssize_t n = write(c, zeros, left < sizeof(zeros) ? left : sizeof(zeros));

				if (n <= 0)
					break;
				left -= (size_t)n;
			}
			close(c);
		}
	}
	close(fd);
	return pid;
}

/* A child that reads one connection to its end on 127.0.0.1 and answers with the byte count. */
static pid_t sink_server(int *port)
{
	int fd = listen_loopback(port);
	pid_t pid = fork();
	if (pid == 0) {
		static char buf[65536];
		unsigned long long total = 0;
		int c = accept(fd, NULL, NULL);
		ssize_t n;

		while ((n = read(c, buf, sizeof(buf))) > 0)
			total += (unsigned long long)n;
		n = snprintf(buf, sizeof(buf), "%llu\n", total);
		(void)!write(c, buf, (size_t)n);
		_exit(0);
	}
	close(fd);
	return pid;
}

/* CPU time (ms) of the NAT process of the guest that runs, sampled while it lives. */
static struct {
	bool slirp_binary;		/* Debian's slirp: forked by the kernel; else uml-nat, ours */
	pid_t pid;
	double cpu_ms;
} nat_proc;

static double proc_cpu_ms(pid_t pid, char comm[32], long *ppid, long *pgrp)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	p = ok ? strrchr(buf, ')') : NULL;
	if (!p || sscanf(p + 2, "%*c %ld %ld %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", ppid, pgrp,
			 &ut, &st) != 4)
		return -1;
	if (comm) {
		char *open = strchr(buf, '(');

		snprintf(comm, 32, "%.*s", open ? (int)(p - open - 1) : 0, open ? open + 1 : "");
	}
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static void sample_nat(struct uml_instance *vm)
{
	double ms;
	long ppid, pgrp;

	if (nat_proc.pid <= 0) {
		DIR *d = opendir("/proc");
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char comm[32];
			pid_t pid = atoi(de->d_name);

			if (pid <= 0 || proc_cpu_ms(pid, comm, &ppid, &pgrp) < 0)
				continue;
			if (nat_proc.slirp_binary ? strncmp(comm, "slirp", 5) == 0 &&
						    pgrp == uml_instance_get_pid(vm)
						  : strcmp(comm, "uml-nat") == 0 && ppid == getpid())
				nat_proc.pid = pid;
		}
		if (d)
			closedir(d);
	}
	ms = nat_proc.pid > 0 ? proc_cpu_ms(nat_proc.pid, NULL, &ppid, &pgrp) : -1;
	if (ms >= 0)
		nat_proc.cpu_ms = ms;
}

/*
 * One guest moves MIB MiB each way over NAT: wget from an HTTP server on the
 * host's 127.0.0.1 (host->guest), dd | nc to a sink there (guest->host).
 * With slirp_binary the guest's eth0 is Debian's slirp started by the kernel
 * (the guest sets its own address), else libuml's NAT.  MB/s each way and
 * the NAT process's CPU ms per MB moved.
 */
static void nat_transfer(bool slirp_binary, double *down, double *up, double *cpu_per_mb)
{
	struct uml_instance *vm;
	struct uml_rootfs *disk;
	char cmd[768], count[32];
	int port, sink_port;
	pid_t server = http_server((size_t)mib << 20, &port), sink = sink_server(&sink_port);
	double secs;

	snprintf(cmd, sizeof(cmd), "%stime wget -q -O /dev/null http://10.0.2.2:%d/; "
		 "time sh -c 'dd if=/dev/zero bs=64k count=%u 2>/dev/null | nc 10.0.2.2 %d'",
		 slirp_binary ? "ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && "
				"ip route add default via 10.0.2.2 && " : "",
		 port, mib * 16, sink_port);
	vm = guest(0, cmd, &disk);
	if (slirp_binary ? uml_instance_append_arg(vm, "eth0=slirp,,/usr/bin/slirp-fullbolt")
			 : uml_instance_add_nat(vm, NULL)) {
		fprintf(stderr, "setup: %s\n", uml_instance_last_error(vm));
		exit(1);
	}
	nat_proc.slirp_binary = slirp_binary;
	nat_proc.pid = 0;
	nat_proc.cpu_ms = 0;
	sampler = sample_nat;
	run_all(&vm, 1);
	sampler = NULL;
	snprintf(count, sizeof(count), "\n%llu\n", (unsigned long long)mib << 20);
	if (!strstr(output(vm), count)) {
		fprintf(stderr, "the host's sink did not get %u MiB:\n%s\n", mib, output(vm));
		exit(1);
	}
	secs = real_time(output(vm), 0);
	*down = secs > 0 ? mib * 1.048576 / secs : -1;
	secs = real_time(output(vm), 1);
	*up = secs > 0 ? mib * 1.048576 / secs : -1;
	*cpu_per_mb = nat_proc.pid > 0 ? nat_proc.cpu_ms / (2 * mib * 1.048576) : -1;
	uml_instance_unref(vm);
	uml_rootfs_unref(disk);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	kill(sink, SIGKILL);
	waitpid(sink, NULL, 0);
}

/* ms for one HTTP/1.0 GET of a small page from 127.0.0.1:port (connect to last byte), or -1. */
static double http_request_ms(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	char buf[4096];
	double t = bench_now_s();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ssize_t n, total = 0;

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	close(fd);
	return total > 0 ? (bench_now_s() - t) * 1000 : -1;
}

#define LATENCY_RUNS 50

/*
 * Median HTTP request latency through a forward into a guest's httpd, and
 * to a server on the host's own loopback (the baseline).
 */
static void forward_latency(double *fwd_ms, double *host_ms)
{
	struct uml_instance *vm;
	struct uml_rootfs *disk;
	double v[LATENCY_RUNS], t = -1;
	unsigned fwd, port = 0;
	int host_port, n = 0;
	pid_t server;

	vm = guest(0, "mount -t tmpfs t /mnt && echo hello >/mnt/index.html && httpd -p 80 -h /mnt "
		   "&& sleep 3600", &disk);
	if (uml_instance_add_nat(vm, NULL) < 0 ||
	    uml_instance_add_port_forward(vm, 0, UML_FWD_TCP, NULL, 0, 80, &fwd) < 0 ||
	    uml_instance_boot(vm) < 0 ||
	    uml_instance_get_port_forward(vm, 0, fwd, NULL, NULL, &port, NULL) < 0) {
		fprintf(stderr, "forward: %s\n", uml_instance_last_error(vm));
		exit(1);
	}
	/* until the guest's httpd answers */
	for (double until = bench_now_s() + 300; t < 0 && bench_now_s() < until;) {
		struct pollfd p = { .fd = uml_instance_get_fd(vm), .events = POLLIN };

		poll(&p, 1, 200);
		uml_instance_process(vm);
		t = http_request_ms((int)port);
	}
	for (int i = 0; t >= 0 && i < LATENCY_RUNS; i++) {
		uml_instance_process(vm);
		if ((t = http_request_ms((int)port)) >= 0)
			v[n++] = t;
	}
	*fwd_ms = n ? bench_median(v, n) : -1;
	uml_instance_halt(vm, -1);
	uml_instance_unref(vm);
	uml_rootfs_unref(disk);

	server = http_server(6, &host_port);
	for (n = 0; n < LATENCY_RUNS; n++)
		if ((v[n] = http_request_ms(host_port)) < 0)
			break;
	*host_ms = n ? bench_median(v, n) : -1;
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
}

/* The same busybox nc transfer on the host's loopback. */
static double host_loopback(void)
{
	char cmd[512];
	double t;

	if (system("busybox nc -l -p 5093 >/dev/null &") != 0)
		return -1;
	usleep(300000);
	snprintf(cmd, sizeof(cmd), "dd if=/dev/zero bs=64k count=%u 2>/dev/null | "
		 "busybox nc 127.0.0.1 5093", mib * 16);
	t = bench_now_s();
	if (system(cmd) != 0)
		return -1;
	t = bench_now_s() - t;
	return mib * 1.048576 / t;
}

/* Does the kernel have CONFIG_sym (y)? */
static bool kernel_has(const char *sym)
{
	const char *v = NULL;

	return uml_kernel_get_config(kernel, sym, &v) == 0 && v && strcmp(v, "y") == 0;
}

/* ratio: 1 higher is better, -1 lower is better, 0 none (the baseline is not the same work) */
static void row_ratio(const char *metric, double v, double base, const char *unit,
		      const char *base_name, int ratio, const char *target)
{
	char vs[32], bs[48], rs[16];

	snprintf(vs, sizeof(vs), v >= 0 ? "%.1f %s" : "n/a", v, unit);
	snprintf(bs, sizeof(bs), base >= 0 ? "%.1f %s %s" : "n/a", base, unit, base_name);
	snprintf(rs, sizeof(rs), v > 0 && base > 0 && ratio ? "%.2f" : "",
		 ratio > 0 ? v / base : base / v);
	printf("%-48s | %12s | %s | %s | %s\n", metric, vs, bs, rs, target);
}

int main(int argc, char **argv)
{
	struct uml_rootfs *img;
	struct uml_switch *sw = NULL;
	double rtt_link, http_link, mbs_link, rtt_sw = -1, http_sw = -1, mbs_sw = -1, base;
	double down, up, cpu, sdown = -1, sup = -1, scpu = -1, fwd_ms, host_ms;
	bool vde, slirp;

	if (argc > 1)
		mib = (unsigned)atoi(argv[1]);
	if (mib == 0 || mib > 4096) {
		fprintf(stderr, "usage: bench-net [MIB] [KERNEL]\n");
		return 2;
	}
	if (!mkdtemp(dir))
		return 1;
	snprintf(image, sizeof(image), "%s/busybox.img", dir);
	bench_busybox_setup(dir, argc > 2 ? argv[2] : NULL, &ctx, &kernel, &img);
	/*
	 * A guest plugged into a switch its kernel cannot reach never sees its
	 * peer: the server waits for a connection until its timeout (that is
	 * how this program made no progress on the "fast" preset, which has no
	 * vde).  Such rows are skipped and say why.
	 */
	vde = kernel_has("CONFIG_UML_NET_VDE") && system("command -v vde_switch >/dev/null") == 0;
	slirp = kernel_has("CONFIG_UML_NET_SLIRP") && access("/usr/bin/slirp-fullbolt", X_OK) == 0;
	pair(plug_link, NULL, &rtt_link, &http_link, &mbs_link);
	if (vde) {
		if (uml_switch_new(ctx, "bench", &sw) < 0) {
			fprintf(stderr, "setup: %s\n", uml_ctx_last_error(ctx));
			return 1;
		}
		pair(plug_switch, sw, &rtt_sw, &http_sw, &mbs_sw);
	}
	nat_transfer(false, &down, &up, &cpu);
	if (slirp)
		nat_transfer(true, &sdown, &sup, &scpu);
	forward_latency(&fwd_ms, &host_ms);
	base = host_loopback();

	printf("%-48s | %12s | %s | %s | %s\n", "metric", "value", "baseline", "ratio", "target");
	printf("%-48s | %9.3f ms |\n", "ping rtt avg, link (vector fd socketpair)", rtt_link);
	if (vde)
		printf("%-48s | %9.3f ms |\n", "ping rtt avg, vde_switch", rtt_sw);
	printf("%-48s | %7.1f MB/s |\n", "http wget guest->guest, link", http_link);
	if (vde)
		printf("%-48s | %7.1f MB/s |\n", "http wget guest->guest, vde_switch", http_sw);
	printf("%-48s | %7.1f MB/s | %7.1f MB/s host loopback\n", "tcp nc guest->guest, link",
	       mbs_link, base);
	if (vde)
		printf("%-48s | %7.1f MB/s | %7.1f MB/s host loopback\n",
		       "tcp nc guest->guest, vde_switch", mbs_sw, base);
	row_ratio("NAT host->guest (wget), uml-nat vs slirp", down, sdown, "MB/s", "slirp", 1,
		  ">= 1.0");
	row_ratio("NAT guest->host (nc), uml-nat vs slirp", up, sup, "MB/s", "slirp", 1, ">= 1.0");
	row_ratio("NAT process CPU per MB moved, uml-nat vs slirp", cpu, scpu, "ms/MB", "slirp", -1,
		  "");
	/* the guest's busybox httpd forks per request: the baseline is only a floor */
	row_ratio("HTTP request through a port forward (median)", fwd_ms, host_ms, "ms",
		  "host loopback", 0, "");
	printf("(%u MiB per transfer, 20 pings at 0.2 s, %d requests, kernel %s; guests 128 MiB, "
	       "busybox%s%s)\n", mib, LATENCY_RUNS, uml_kernel_get_path(kernel),
	       vde ? "" : "; no vde_switch rows: the kernel has no CONFIG_UML_NET_VDE or vde2 is "
			  "missing",
	       slirp ? "" : "; no slirp baseline: the kernel has no CONFIG_UML_NET_SLIRP or "
			    "/usr/bin/slirp-fullbolt is missing");

	uml_switch_unref(sw);
	uml_rootfs_unref(img);
	uml_kernel_unref(kernel);
	uml_ctx_unref(ctx);
	return bench_rm_rf(dir) == 0 ? 0 : 1;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest networking: ping round trip and TCP throughput (busybox wget from
 * busybox httpd, and busybox nc) between two guests on a link and on a switch, and HTTP download through NAT from a
 * server on the host's 127.0.0.1.  The baseline is the same busybox nc
 * transfer over the host's own loopback.  busybox nc moves data in small
 * chunks, so inside UML (a ptrace round trip per system call) its rate
 * shows the guest's system call cost more than the network.  Prints one table.
 *
 *   bench-net [MIB] [KERNEL]     (default 32 MiB per transfer)
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
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

/* A child serving `bytes` of zeros to every HTTP request on 127.0.0.1. */
static pid_t http_server(size_t bytes, int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid;

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		exit(1);
	*port = ntohs(sa.sin_port);
	pid = fork();
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

static double nat_download(void)
{
	struct uml_instance *vm;
	struct uml_rootfs *disk;
	char cmd[256];
	int port;
	pid_t server = http_server((size_t)mib << 20, &port);
	double secs;

	snprintf(cmd, sizeof(cmd), "time wget -q -O /dev/null http://10.0.2.2:%d/", port);
	vm = guest(0, cmd, &disk);
	if (uml_instance_add_nat(vm, NULL) < 0)
		exit(1);
	run_all(&vm, 1);
	secs = real_time(output(vm), 0);
	uml_instance_unref(vm);
	uml_rootfs_unref(disk);
	kill(server, SIGKILL);
	waitpid(server, NULL, 0);
	return secs > 0 ? mib * 1.048576 / secs : -1;
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

int main(int argc, char **argv)
{
	struct uml_rootfs *img;
	struct uml_switch *sw;
	double rtt_link, http_link, mbs_link, rtt_sw, http_sw, mbs_sw, nat, base;

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
	if (uml_switch_new(ctx, "bench", &sw) < 0) {
		fprintf(stderr, "setup: %s\n", uml_ctx_last_error(ctx));
		return 1;
	}
	pair(plug_link, NULL, &rtt_link, &http_link, &mbs_link);
	pair(plug_switch, sw, &rtt_sw, &http_sw, &mbs_sw);
	nat = nat_download();
	base = host_loopback();

	printf("%-48s | %12s | %s\n", "metric", "value", "baseline");
	printf("%-48s | %9.3f ms |\n", "ping rtt avg, link (vector fd socketpair)", rtt_link);
	printf("%-48s | %9.3f ms |\n", "ping rtt avg, vde_switch", rtt_sw);
	printf("%-48s | %7.1f MB/s |\n", "http wget guest->guest, link", http_link);
	printf("%-48s | %7.1f MB/s |\n", "http wget guest->guest, vde_switch", http_sw);
	printf("%-48s | %7.1f MB/s | %7.1f MB/s host loopback\n", "tcp nc guest->guest, link",
	       mbs_link, base);
	printf("%-48s | %7.1f MB/s | %7.1f MB/s host loopback\n", "tcp nc guest->guest, vde_switch",
	       mbs_sw, base);
	printf("%-48s | %7.1f MB/s |\n", "http download host->guest through NAT (slirp)", nat);
	printf("(%u MiB per transfer, 20 pings at 0.2 s, kernel %s; guests 128 MiB, busybox)\n",
	       mib, uml_kernel_get_path(kernel));

	uml_switch_unref(sw);
	uml_rootfs_unref(img);
	uml_kernel_unref(kernel);
	uml_ctx_unref(ctx);
	return bench_rm_rf(dir) == 0 ? 0 : 1;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Many guests at once: N busybox guests booted together from one process,
 * each on its own COW overlay of one image.  Measures the time until all
 * are ready and the host memory each one costs (PSS of all its processes,
 * from /proc/PID/smaps_rollup), through libuml and, as the baseline, by
 * exec'ing the same kernel with the same arguments directly.  Also where
 * the CPU goes: the guests' own (every process of each guest's process
 * group, and the guest processes its kernel reaped), at the moment all are
 * ready, and libuml's in this process; and, for scale, the kernel alone
 * (exec to its no-root panic and exit) and the busybox /init's processes.
 *
 *   bench-many [-n N] [-k KERNEL] [-m MEM_MIB] [-P]
 *     -P: load the ptrace interposer on both sides even where the host does
 *         not need it (it also drops register writes that change nothing)
 *     default: 256 guests, the fast kernel of the test cache if built
 *     (/var/cache/libuml-test/fast/linux), else the default kernel; 32 MiB
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "stats.h"

static int n_guests = 256;
static unsigned mem_mib = 32;
static int no_aslr = 1;	/* as libuml starts kernels; -R: with ASLR */

/* Reads /proc/PID/NAME into buf as a string; false if it is gone or empty. */
static bool read_proc(const char *pid, const char *name, char *buf, size_t size)
{
	char path[300];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/*
 * PSS in KiB of every process in process group pgid; *cpu_ms (if not NULL)
 * gets their CPU time, with what they reaped.
 */
static long group_pss_kib(pid_t pgid, double *cpu_ms)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	long total = 0;
	double ms = 0;

	while (d && (de = readdir(d))) {
		char buf[4096];
		long pg;
		char *p;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (!read_proc(de->d_name, "stat", buf, sizeof(buf)))
			continue;
		/* field 5 (pgrp) comes after the ")" that ends the command name */
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 2, "%*c %*d %ld", &pg) != 1 || pg != pgid)
			continue;
		if (bench_stat_cpu_ms(buf) > 0)
			ms += bench_stat_cpu_ms(buf);
		if (!read_proc(de->d_name, "smaps_rollup", buf, sizeof(buf)))
			continue;
		p = strstr(buf, "\nPss:");
		if (p)
			total += strtol(p + 5, NULL, 10);
	}
	if (d)
		closedir(d);
	if (cpu_ms)
		*cpu_ms = ms;
	return total;
}

/* CPU time of this process so far, in ms */
static double self_cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
	       ru.ru_stime.tv_usec / 1e3;
}

struct result {
	double all_ready_ms;
	double pss_mib;
	double guest_cpu_ms;	/* per guest, until all were ready */
	double host_cpu_ms;	/* per guest: this process (libuml) */
};

static struct result run_libuml(struct uml_kernel *k, struct uml_rootfs *base, const char *dir)
{
	struct uml_instance **vm = calloc((size_t)n_guests, sizeof(*vm));
	struct uml_rootfs **cow = calloc((size_t)n_guests, sizeof(*cow));
	int ep = epoll_create1(EPOLL_CLOEXEC), ready = 0;
	struct result res = { 0 };
	double t0, c0, cpu = 0;
	long pss = 0;

	for (int i = 0; i < n_guests; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/lib-%d.cow", dir, i);
		if (uml_rootfs_new_cow(base, path, UML_ROOTFS_CREATE_OVERWRITE, &cow[i]) < 0 ||
		    uml_instance_new(k, &vm[i]) < 0 || uml_instance_set_rootfs(vm[i], cow[i]) < 0 ||
		    uml_instance_set_memory(vm[i], (uint64_t)mem_mib << 20) < 0)
			exit(1);
	}
	t0 = bench_now_ms();
	c0 = self_cpu_ms();
	for (int i = 0; i < n_guests; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		if (uml_instance_boot(vm[i]) < 0 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, uml_instance_get_fd(vm[i]), &ev) < 0) {
			fprintf(stderr, "boot %d: %s\n", i, uml_instance_last_error(vm[i]));
			exit(1);
		}
	}
	while (ready < n_guests) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 120000);

		if (n <= 0) {
			fprintf(stderr, "libuml: only %d of %d guests ready\n", ready, n_guests);
			exit(1);
		}
		for (int i = 0; i < n; i++) {
			struct uml_instance *v = vm[evs[i].data.u32];
			int was = uml_instance_get_state(v) == UML_STATE_RUNNING;

			uml_instance_process(v);
			if (uml_instance_get_state(v) == UML_STATE_EXITED) {
				fprintf(stderr, "guest ended: %s\n", uml_instance_get_exit_detail(v));
				exit(1);
			}
			if (!was && uml_instance_get_state(v) == UML_STATE_RUNNING)
				ready++;
		}
	}
	res.all_ready_ms = bench_now_ms() - t0;
	res.host_cpu_ms = (self_cpu_ms() - c0) / n_guests;
	for (int i = 0; i < n_guests; i++) {
		double c;

		pss += group_pss_kib(uml_instance_get_pid(vm[i]), &c);
		cpu += c;
	}
	res.pss_mib = pss / 1024.0 / n_guests;
	res.guest_cpu_ms = cpu / n_guests;
	for (int i = 0; i < n_guests; i++) {
		uml_instance_kill(vm[i]);
		uml_instance_unref(vm[i]);
		uml_rootfs_unref(cow[i]);
	}
	close(ep);
	free(vm);
	free(cow);
	return res;
}

/*
 * Starts a kernel as libuml does (own process group, no ASLR unless -R),
 * output to /dev/null, with env ("LD_PRELOAD=..."; an empty value: none)
 * and keep_fd (>= 0) inherited; its pid, or -1.
 */
static pid_t spawn_kernel(char **argv, char *env, int keep_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		char *envp[] = { env, NULL };
		int null = open("/dev/null", O_RDWR);

		setpgid(0, 0);
		if (keep_fd >= 0)
			fcntl(keep_fd, F_SETFD, 0);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (no_aslr)
			personality(ADDR_NO_RANDOMIZE);
		execve(argv[0], argv, strcmp(env, "LD_PRELOAD=") ? envp : (char *[]){ NULL });
		_exit(127);
	}
	return pid;
}

/* The baseline: the same kernel and arguments exec'd directly. */
static struct result run_raw(const char *kernel, const char *base, const char *dir,
			     const char *preload, unsigned long lpj)
{
	pid_t *pid = calloc((size_t)n_guests, sizeof(*pid));
	int *fd = calloc((size_t)n_guests, sizeof(*fd));
	char **seen = calloc((size_t)n_guests, sizeof(*seen));
	size_t *seen_len = calloc((size_t)n_guests, sizeof(*seen_len));
	int ready = 0, *done = calloc((size_t)n_guests, sizeof(int));
	struct result res = { 0 };
	long pss = 0;
	double t0 = bench_now_ms(), c0 = self_cpu_ms(), cpu = 0;

	for (int i = 0; i < n_guests; i++) {
		char ubd[8192], umid[64], udir[4200], con[64], mem[32], lpjarg[64], env[4200];
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			exit(1);
		snprintf(ubd, sizeof(ubd), "ubd0=%s/raw-%d.cow,%s", dir, i, base);
		snprintf(umid, sizeof(umid), "umid=raw-%d-%d", (int)getpid(), i);
		snprintf(udir, sizeof(udir), "uml_dir=%s/run", dir);
		snprintf(con, sizeof(con), "con0=fd:%d,fd:%d", sv[1], sv[1]);
		snprintf(mem, sizeof(mem), "mem=%uM", mem_mib);
		snprintf(lpjarg, sizeof(lpjarg), "lpj=%lu", lpj);
		snprintf(env, sizeof(env), "LD_PRELOAD=%s", preload);
		{
			char *argv[] = { (char *)kernel, mem, ubd, "root=/dev/ubda", umid, udir,
					 "con=null", "ssl=null", con, lpjarg, NULL };

			pid[i] = spawn_kernel(argv, env, sv[1]);
		}
		close(sv[1]);
		fd[i] = sv[0];
		fcntl(fd[i], F_SETFL, O_NONBLOCK);
	}
	while (ready < n_guests) {
		struct pollfd *p = calloc((size_t)n_guests, sizeof(*p));

		for (int i = 0; i < n_guests; i++)
			p[i] = (struct pollfd){ .fd = done[i] ? -1 : fd[i], .events = POLLIN };
		if (poll(p, (nfds_t)n_guests, 120000) <= 0) {
			fprintf(stderr, "raw: only %d of %d guests ready\n", ready, n_guests);
			exit(1);
		}
		for (int i = 0; i < n_guests; i++) {
			char buf[65536];
			ssize_t n;

			if (!(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(fd[i], buf, sizeof(buf));
			if (n <= 0) {
				fprintf(stderr, "raw guest %d closed its console\n", i);
				exit(1);
			}
			seen[i] = realloc(seen[i], seen_len[i] + (size_t)n + 1);
			memcpy(seen[i] + seen_len[i], buf, (size_t)n);
			seen_len[i] += (size_t)n;
			seen[i][seen_len[i]] = '\0';
			if (strstr(seen[i], UML_BUSYBOX_READY_MARKER)) {
				done[i] = 1;
				ready++;
			}
		}
		free(p);
	}
	res.all_ready_ms = bench_now_ms() - t0;
	res.host_cpu_ms = (self_cpu_ms() - c0) / n_guests;
	for (int i = 0; i < n_guests; i++) {
		double c;

		pss += group_pss_kib(pid[i], &c);
		cpu += c;
	}
	res.pss_mib = pss / 1024.0 / n_guests;
	res.guest_cpu_ms = cpu / n_guests;
	for (int i = 0; i < n_guests; i++) {
		kill(-pid[i], SIGKILL);
		waitpid(pid[i], NULL, 0);
		close(fd[i]);
		free(seen[i]);
	}
	free(pid);
	free(fd);
	free(seen);
	free(seen_len);
	free(done);
	return res;
}

/* Median CPU ms of the kernel alone: exec to its no-root panic and exit. */
static double kernel_alone_cpu_ms(const char *kernel, const char *dir, const char *preload,
				  unsigned long lpj)
{
	double v[7];

	for (int i = 0; i < 7; i++) {
		char umid[64], udir[4200], mem[32], lpjarg[64], env[4200];
		char *argv[] = { (char *)kernel, mem, umid, udir, "con=null", "ssl=null",
				 "con0=null,null", lpjarg, NULL };
		struct rusage ru;
		int status;
		pid_t pid;

		snprintf(umid, sizeof(umid), "umid=alone-%d-%d", (int)getpid(), i);
		snprintf(udir, sizeof(udir), "uml_dir=%s/run", dir);
		snprintf(mem, sizeof(mem), "mem=%uM", mem_mib);
		snprintf(lpjarg, sizeof(lpjarg), "lpj=%lu", lpj);
		snprintf(env, sizeof(env), "LD_PRELOAD=%s", preload);
		pid = spawn_kernel(argv, env, -1);
		if (pid < 0 || wait4(pid, &status, 0, &ru) != pid)
			exit(1);
		/* its helpers may outlive it a moment */
		kill(-pid, SIGKILL);
		v[i] = ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
		       ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
	}
	return bench_median(v, 7);
}

int main(int argc, char **argv)
{
	const char *kernel_path = NULL, *builddir = getenv("UML_TEST_BUILDDIR");
	char dir[] = "/var/tmp/bench-many-XXXXXX", path[4096], preload[4096];
	struct uml_ctx *ctx;
	struct uml_kernel *k;
	struct uml_rootfs *base;
	struct result lib, raw;
	double alone;
	int opt, force_preload = 0;

	while ((opt = getopt(argc, argv, "n:k:m:RP")) != -1) {
		if (opt == 'n')
			n_guests = atoi(optarg);
		else if (opt == 'k')
			kernel_path = optarg;
		else if (opt == 'm')
			mem_mib = (unsigned)atoi(optarg);
		else if (opt == 'R')
			no_aslr = 0;
		else if (opt == 'P')
			force_preload = 1;
		else
			return 2;
	}
	if (!kernel_path && access("/var/cache/libuml-test/fast/linux", X_OK) == 0)
		kernel_path = "/var/cache/libuml-test/fast/linux";
	if (n_guests < 1 || !mkdtemp(dir) || uml_ctx_new(&ctx) < 0)
		return 1;
	snprintf(path, sizeof(path), "%s/run", dir);
	snprintf(preload, sizeof(preload), "%s/libuml/uml-hostcompat.so", builddir ? builddir : ".");
	if (force_preload)
		uml_ctx_set_hostcompat(ctx, UML_HOSTCOMPAT_FORCE);
	if (!uml_ctx_host_needs_compat(ctx) && !force_preload)
		preload[0] = '\0';
	else if (access(preload, R_OK) < 0) {
		fprintf(stderr, "the baseline needs %s (run from the build dir)\n", preload);
		return 1;
	}
	uml_ctx_set_runtime_dir(ctx, path);
	snprintf(path, sizeof(path), "%s/base.img", dir);
	if ((kernel_path ? uml_kernel_new_from_path(ctx, kernel_path, &k)
			 : uml_kernel_new_default(ctx, &k)) < 0 ||
	    uml_rootfs_new(ctx, path, &base) < 0 || uml_rootfs_create_busybox(base, NULL, 0) < 0) {
		fprintf(stderr, "setup: %s\n", uml_ctx_last_error(ctx));
		return 1;
	}
	{
		/* the lpj= libuml passes, so both sides boot alike */
		struct uml_instance *probe;
		const char *const *a;
		unsigned long lpj = 0;

		uml_instance_new(k, &probe);
		for (a = uml_instance_get_argv(probe); a && *a; a++)
			if (strncmp(*a, "lpj=", 4) == 0)
				lpj = strtoul(*a + 4, NULL, 10);
		uml_instance_unref(probe);
		alone = kernel_alone_cpu_ms(uml_kernel_get_path(k), dir, preload, lpj);
		raw = run_raw(uml_kernel_get_path(k), path, dir, preload, lpj);
	}
	lib = run_libuml(k, base, dir);

	printf("%-44s | %10s | %10s | %6s | %s\n", "metric", "libuml", "baseline", "ratio", "target");
	printf("%-44s | %7.0f ms | %7.0f ms | %6.2f | %s\n", "guests at once: time until all ready", lib.all_ready_ms, raw.all_ready_ms,
	       lib.all_ready_ms / raw.all_ready_ms, "<= 5000 ms");
	printf("%-44s | %6.1f MiB | %6.1f MiB | %6.2f | %s\n", "host memory per guest (PSS)", lib.pss_mib, raw.pss_mib,
	       lib.pss_mib / raw.pss_mib, "<= 16 MiB");
	printf("%-44s | %7.1f ms | %7.1f ms | %6.2f | %s\n", "CPU per guest until all ready",
	       lib.guest_cpu_ms + lib.host_cpu_ms, raw.guest_cpu_ms + raw.host_cpu_ms,
	       (lib.guest_cpu_ms + lib.host_cpu_ms) / (raw.guest_cpu_ms + raw.host_cpu_ms),
	       "<= 39 ms (2 cores x 5 s / 256)");
	printf("%-44s | %7.1f ms | %7.1f ms |        |\n", "  of which the guest (kernel, /init, shell)",
	       lib.guest_cpu_ms, raw.guest_cpu_ms);
	printf("%-44s | %7.1f ms | %7.1f ms |        |\n", "  of which host-side libuml (this process)",
	       lib.host_cpu_ms, raw.host_cpu_ms);
	printf("%-44s | %7.1f ms | %10s |        | exec to no-root panic, median of 7\n",
	       "  for scale: the kernel alone", alone, "-");
	printf("(%d guests, mem=%uM, kernel %s, COW overlays of one busybox image; interposer %s)\n",
	       n_guests, mem_mib, uml_kernel_get_path(k), preload[0] ? preload : "none");
	uml_rootfs_unref(base);
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
	return bench_rm_rf(dir) == 0 ? 0 : 1;
}

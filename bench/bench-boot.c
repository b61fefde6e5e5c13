/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Boot-to-ready of a busybox guest through libuml versus exec'ing the same
 * kernel with the same arguments directly and watching its console for the
 * same marker.  Prints one table: metric | libuml | baseline | ratio | target.
 *
 *   bench-boot [RUNS] [KERNEL]      (default 20 runs, the default kernel)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "stats.h"

static double boot_libuml(struct uml_kernel *k, struct uml_rootfs *img)
{
	struct uml_instance *vm;
	double t0, t;

	if (uml_instance_new(k, &vm) < 0 || uml_instance_set_rootfs(vm, img) < 0)
		exit(1);
	t0 = bench_now_ms();
	if (uml_instance_boot(vm) < 0 || uml_instance_wait_ready(vm, 60000) < 0) {
		fprintf(stderr, "libuml boot failed: %s\n", uml_instance_last_error(vm));
		exit(1);
	}
	t = bench_now_ms() - t0;
	uml_instance_kill(vm);
	uml_instance_unref(vm);
	return t;
}

/* UML's helpers hold the disk lock a moment after the kernel died. */
static void wait_unlocked(const char *image)
{
	for (int i = 0; i < 2000; i++) {
		struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = open(image, O_RDONLY);
		int busy = fd >= 0 && fcntl(fd, F_GETLK, &lk) == 0 && lk.l_type != F_UNLCK;

		if (fd >= 0)
			close(fd);
		if (!busy)
			return;
		usleep(1000);
	}
}

/* The same kernel, arguments and marker, without libuml. */
static double boot_raw(const char *kernel, const char *image, const char *rundir,
		       const char *preload, const char *lpj, const char *rw, int i)
{
	char a_ubd[4096], a_umid[64], a_dir[4096], a_con[64], env_preload[4200];
	char *argv[] = { (char *)kernel, "mem=64M", a_ubd, "root=/dev/ubda", a_umid, a_dir,
			 "con=null", "ssl=null", a_con, (char *)lpj, (char *)rw, NULL };
	char *envp[] = { env_preload, NULL };
	struct uml_buf_s { char data[1 << 16]; size_t len; } *buf = calloc(1, sizeof(*buf));
	int sv[2];
	double t0, t = -1;
	pid_t pid;

	snprintf(a_ubd, sizeof(a_ubd), "ubd0=%s", image);
	snprintf(a_umid, sizeof(a_umid), "umid=bench-raw-%d-%d", (int)getpid(), i);
	snprintf(a_dir, sizeof(a_dir), "uml_dir=%s", rundir);
	snprintf(env_preload, sizeof(env_preload), "LD_PRELOAD=%s", preload ? preload : "");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		exit(1);
	snprintf(a_con, sizeof(a_con), "con0=fd:%d,fd:%d", sv[1], sv[1]);
	t0 = bench_now_ms();
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		close(sv[0]);
		dup2(null, 1);
		dup2(null, 2);
		setpgid(0, 0);
		/* as libuml starts kernels (see spawn.c) */
		personality(ADDR_NO_RANDOMIZE);
		execve(kernel, argv, preload ? envp : (char *[]){ NULL });
		_exit(127);
	}
	close(sv[1]);
	while (buf->len < sizeof(buf->data) - 1) {
		struct pollfd p = { .fd = sv[0], .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 60000) <= 0)
			break;
		n = read(sv[0], buf->data + buf->len, sizeof(buf->data) - 1 - buf->len);
		if (n <= 0)
			break;
		buf->len += (size_t)n;
		buf->data[buf->len] = '\0';
		if (strstr(buf->data, UML_BUSYBOX_READY_MARKER)) {
			t = bench_now_ms() - t0;
			break;
		}
	}
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(sv[0]);
	/* UML's helpers hold the disk's lock until the last of them is gone */
	for (int w = 0; w < 30000 && kill(-pid, 0) == 0; w++)
		usleep(1000);
	wait_unlocked(image);
	free(buf);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", rundir, a_umid + 5);
	if (system(cmd) != 0)
		exit(1);
	if (t < 0) {
		fprintf(stderr, "raw boot did not reach the marker\n");
		exit(1);
	}
	return t;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 20;
	char dir[] = "/tmp/bench-boot-XXXXXX";
	const char *builddir = getenv("UML_TEST_BUILDDIR");
	char preload[4096], lpj[64] = "lpj=0";
	const char *rw = NULL;
	struct uml_ctx *ctx;
	struct uml_kernel *k;
	struct uml_rootfs *img;
	double *lib, *raw, ml, mr;

	if (runs < 1 || !mkdtemp(dir))
		return 1;
	snprintf(preload, sizeof(preload), "%s/libuml/uml-hostcompat.so", builddir ? builddir : ".");
	bench_busybox_setup(dir, argc > 2 ? argv[2] : NULL, &ctx, &k, &img);
	if (uml_ctx_host_needs_compat(ctx) && access(preload, R_OK) < 0) {
		fprintf(stderr, "the baseline needs %s (run from the build dir)\n", preload);
		return 1;
	}
	{
		/* the lpj= (and rw) libuml passes, so both sides boot alike */
		struct uml_instance *probe;

		uml_instance_new(k, &probe);
		uml_instance_set_rootfs(probe, img);
		for (const char *const *a = uml_instance_get_argv(probe); a && *a; a++) {
			if (strncmp(*a, "lpj=", 4) == 0)
				snprintf(lpj, sizeof(lpj), "%s", *a);
			if (strcmp(*a, "rw") == 0)
				rw = "rw";
		}
		uml_instance_unref(probe);
	}
	lib = calloc((size_t)runs, sizeof(double));
	raw = calloc((size_t)runs, sizeof(double));
	/* interleave so drift on the machine hits both sides alike */
	for (int i = 0; i < runs; i++) {
		raw[i] = boot_raw(uml_kernel_get_path(k), uml_rootfs_get_path(img),
				  uml_ctx_get_runtime_dir(ctx),
				  uml_ctx_host_needs_compat(ctx) ? preload : NULL, lpj, rw, i);
		lib[i] = boot_libuml(k, img);
	}
	ml = bench_median(lib, runs);
	mr = bench_median(raw, runs);
	printf("%-44s | %10s | %10s | %6s | %s\n", "metric", "libuml", "baseline", "ratio", "target");
	printf("%-44s | %8.1f ms | %8.1f ms | %6.3f | %s\n",
	       "busybox boot-to-ready, median", ml, mr, ml / mr, "<= 1.03");
	printf("%-44s | %8.1f ms | %8.1f ms |        |\n", "  min", lib[0], raw[0]);
	printf("(%d runs each, kernel %s; baseline: the same argv exec'd directly)\n", runs,
	       uml_kernel_get_path(k));
	uml_rootfs_unref(img);
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
	return bench_rm_rf(dir) == 0 ? 0 : 1;
}

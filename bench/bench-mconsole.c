/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * mconsole round trips: libuml in-process (uml_ctx_mconsole) against
 * running uml-utilities' uml_mconsole, the way scripts do it today.  Boots
 * one busybox guest of Debian's linux.uml, then prints one table.
 *
 *   bench-mconsole [ITERATIONS]     (default 300, at least 200)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "stats.h"
#include "busybox-image.h"

#define KERNEL "/usr/bin/linux.uml"
#define BASELINE "/usr/bin/uml_mconsole"
#define MARKER "bench: up 42"
#define TARGET_MS 0.3

static const char init_script[] =
	"#!/bin/sh\n"
	"mount -t proc proc /proc\n"
	"echo \"bench: up $((6*7))\"\n"
	"while :; do sleep 1; done\n";

/* One uml_mconsole run: fork, exec, its own socket and request, exit. */
static int run_baseline(const char *sock, const char *command, int null_fd)
{
	char *argv[] = { BASELINE, (char *)sock, (char *)command, NULL };
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(null_fd, 1);
		dup2(null_fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

struct row {
	const char *name;
	const char *command;
	double lib_ms, base_ms;
};

static int measure(struct uml_ctx *ctx, const char *umid, const char *sock, struct row *row,
		   int n, double *samples, int null_fd)
{
	char *reply;
	int r;

	/* warm caches and the guest's paths first */
	for (int i = 0; i < 20; i++) {
		r = uml_ctx_mconsole(ctx, umid, row->command, 5000, &reply, NULL);
		if (r < 0)
			return r;
		/* measure real answers only */
		if (strlen(reply) < 20) {
			fprintf(stderr, "bench-mconsole: short reply to '%s': '%s'\n", row->command,
				reply);
			free(reply);
			return -EBADMSG;
		}
		free(reply);
		if (run_baseline(sock, row->command, null_fd) < 0)
			return -EIO;
	}
	for (int i = 0; i < n; i++) {
		double t0 = bench_now_ms();

		r = uml_ctx_mconsole(ctx, umid, row->command, 5000, &reply, NULL);
		samples[i] = bench_now_ms() - t0;
		if (r < 0)
			return r;
		free(reply);
	}
	row->lib_ms = bench_median(samples, n);
	for (int i = 0; i < n; i++) {
		double t0 = bench_now_ms();

		r = run_baseline(sock, row->command, null_fd);
		samples[i] = bench_now_ms() - t0;
		if (r < 0) {
			fprintf(stderr, "bench-mconsole: %s %s %s failed\n", BASELINE, sock,
				row->command);
			return r;
		}
	}
	row->base_ms = bench_median(samples, n);
	return 0;
}

int main(int argc, char **argv)
{
	struct row rows[] = {
		{ "mconsole round trip, 'version' (1 datagram)", "version", 0, 0 },
		{ "mconsole round trip, 'proc meminfo' (4 datagrams)", "proc meminfo", 0, 0 },
	};
	char tmpl[] = "/tmp/bench-mconsole-XXXXXX", run_dir[256], sock[512];
	struct uml_ctx *ctx = NULL;
	struct uml_kernel *kernel = NULL;
	struct uml_rootfs *rootfs = NULL;
	struct uml_instance *inst = NULL;
	int n = argc > 1 ? atoi(argv[1]) : 300, null_fd, ret = 1, r;
	double *samples;
	char *img = NULL;

	if (n < 200)
		n = 200;
	samples = calloc((size_t)n, sizeof(*samples));
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (!samples || null_fd < 0 || access(BASELINE, X_OK) < 0 || !mkdtemp(tmpl)) {
		fprintf(stderr, "bench-mconsole: setup failed (is uml-utilities installed?)\n");
		return 1;
	}
	r = busybox_image_make(tmpl, init_script, &img);
	if (r < 0) {
		fprintf(stderr, "bench-mconsole: cannot make the guest image: %s\n", strerror(-r));
		goto out;
	}
	snprintf(run_dir, sizeof(run_dir), "%s/run", tmpl);
	if (uml_ctx_new(&ctx) < 0 || uml_ctx_set_runtime_dir(ctx, run_dir) < 0 ||
	    uml_kernel_new_from_path(ctx, KERNEL, &kernel) < 0 ||
	    uml_rootfs_new(ctx, img, &rootfs) < 0 || uml_instance_new(kernel, &inst) < 0 ||
	    uml_instance_set_rootfs(inst, rootfs) < 0 || uml_instance_set_init(inst, "/init") < 0 ||
	    uml_instance_set_ready_marker(inst, MARKER) < 0 || uml_instance_boot(inst) < 0 ||
	    uml_instance_wait_ready(inst, 60000) < 0) {
		fprintf(stderr, "bench-mconsole: cannot boot the guest: %s\n",
			ctx && uml_ctx_last_error(ctx) ? uml_ctx_last_error(ctx) : "?");
		goto out;
	}
	snprintf(sock, sizeof(sock), "%s/%s/mconsole", run_dir, uml_instance_get_umid(inst));

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = measure(ctx, uml_instance_get_umid(inst), sock, &rows[i], n, samples, null_fd);
		if (r < 0) {
			fprintf(stderr, "bench-mconsole: '%s' failed: %s\n", rows[i].command,
				uml_ctx_last_error(ctx) ? uml_ctx_last_error(ctx) : strerror(-r));
			goto out;
		}
	}

	printf("%-52s | %10s | %10s | %7s | %s\n", "metric (median of each)", "libuml",
	       "baseline", "ratio", "target");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		printf("%-52s | %7.3f ms | %7.3f ms | %7.3f | <= %.1f ms %s\n", rows[i].name,
		       rows[i].lib_ms, rows[i].base_ms, rows[i].lib_ms / rows[i].base_ms,
		       TARGET_MS, rows[i].lib_ms <= TARGET_MS ? "(met)" : "(missed)");
	printf("baseline: %s SOCKET COMMAND, a process per call; %d samples each; kernel %s\n",
	       BASELINE, n, KERNEL);
	ret = 0;
out:
	if (inst)
		uml_instance_halt(inst, 5000);
	uml_instance_unref(inst);
	uml_rootfs_unref(rootfs);
	uml_kernel_unref(kernel);
	uml_ctx_unref(ctx);
	{
		/* the image and the tree, without a shell */
		char *rm[] = { "/bin/rm", "-rf", tmpl, NULL };
		pid_t pid = fork();

		if (pid == 0) {
			execv(rm[0], rm);
			_exit(127);
		}
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
	free(img);
	free(samples);
	close(null_fd);
	return ret;
}

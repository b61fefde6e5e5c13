/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Boot-to-ready of a busybox guest through libuml versus exec'ing the same
 * kernel directly and watching its console for the same marker: with the
 * arguments libuml 0.1 passed (recorded below: what the boot profile is
 * measured against) and with the arguments libuml passes now (what libuml
 * itself costs).  Then a guest with the exec channel, ready at its agent's
 * hello, against the same kernel's exec-to-exit without a root disk (its
 * "VFS: Unable to mount root fs" panic): how close to the kernel alone a
 * guest is ready.  And the same libuml boot without the sandbox: what the
 * sandbox costs.  All interleaved in one run.  Prints one table:
 * metric | libuml | baseline | ratio | target.
 *
 *   bench-boot [RUNS] [KERNEL]      (default 20 runs, the default kernel)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
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

static double boot_libuml(struct uml_kernel *k, struct uml_rootfs *img, bool exec,
			  enum uml_sandbox_mode sandbox)
{
	struct uml_instance *vm;
	double t0, t;

	if (uml_instance_new(k, &vm) < 0 || uml_instance_set_rootfs(vm, img) < 0 ||
	    uml_instance_set_sandbox(vm, sandbox) < 0 || (exec && uml_instance_enable_exec(vm) < 0))
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

/*
 * The argv libuml 0.1 passed for a busybox guest (build_argv() at the
 * start of the boot-profile work), recorded once: "%I" is the image, "%U"
 * the umid, "%D" the runtime dir, "%C" the console fd, "%L" the lpj= value.
 */
static const char *const argv_0_1[] = {
	"mem=64M", "ubd0=%I", "root=/dev/ubda", "rw", "umid=%U", "uml_dir=%D", "con=null",
	"ssl=null", "con0=fd:%C,fd:%C", "mconsole=notify:%D/.%U.notify", "%L", NULL
};

struct raw {
	const char *kernel, *image, *rundir, *preload, *lpj;
	const char *const *extra;	/* after the 0.1 argv, or NULL */
	bool no_root;			/* no disk: run to the kernel's panic and exit */
};

/* s with the % codes above filled in */
static char *fill(const char *s, const struct raw *r, const char *umid, int con)
{
	char *out = malloc(8192), *o = out;

	for (; *s && o < out + 8000; s++) {
		if (*s != '%' || !s[1]) {
			*o++ = *s;
			continue;
		}
		s++;
		o += *s == 'I' ? sprintf(o, "%s", r->image) :
		     *s == 'U' ? sprintf(o, "%s", umid) :
		     *s == 'D' ? sprintf(o, "%s", r->rundir) :
		     *s == 'C' ? sprintf(o, "%d", con) :
		     *s == 'L' ? sprintf(o, "%s", r->lpj) : 0;
	}
	*o = '\0';
	return out;
}

/* The kernel exec'd directly: ms until the marker (or until it exited). */
static double boot_raw(const struct raw *r, int i)
{
	char umid[64], env_preload[4200];
	char *argv[64];
	char *envp[] = { env_preload, NULL };
	struct uml_buf_s { char data[1 << 16]; size_t len; } *buf = calloc(1, sizeof(*buf));
	int sv[2], n = 0, status;
	double t0, t = -1;
	pid_t pid;

	snprintf(umid, sizeof(umid), "bench-raw-%d-%d", (int)getpid(), i);
	snprintf(env_preload, sizeof(env_preload), "LD_PRELOAD=%s", r->preload ? r->preload : "");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		exit(1);
	argv[n++] = (char *)r->kernel;
	for (const char *const *a = argv_0_1; *a; a++) {
		/* without a disk: no ubd0=, root= or rw; the kernel panics at its root mount */
		if (r->no_root && (strncmp(*a, "ubd0=", 5) == 0 || strncmp(*a, "root=", 5) == 0 ||
				   strcmp(*a, "rw") == 0))
			continue;
		argv[n++] = fill(*a, r, umid, sv[1]);
	}
	for (const char *const *a = r->extra; a && *a && n < 62; a++)
		argv[n++] = strdup(*a);
	argv[n] = NULL;
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
		execve(r->kernel, argv, r->preload ? envp : (char *[]){ NULL });
		_exit(127);
	}
	close(sv[1]);
	while (!r->no_root && buf->len < sizeof(buf->data) - 1) {
		struct pollfd p = { .fd = sv[0], .events = POLLIN };
		ssize_t got;

		if (poll(&p, 1, 60000) <= 0)
			break;
		got = read(sv[0], buf->data + buf->len, sizeof(buf->data) - 1 - buf->len);
		if (got <= 0)
			break;
		buf->len += (size_t)got;
		buf->data[buf->len] = '\0';
		if (strstr(buf->data, UML_BUSYBOX_READY_MARKER)) {
			t = bench_now_ms() - t0;
			break;
		}
	}
	if (r->no_root) {
		/* drain the console so the kernel never blocks on it */
		while (waitpid(pid, &status, WNOHANG) == 0) {
			struct pollfd p = { .fd = sv[0], .events = POLLIN };

			if (poll(&p, 1, 10) > 0 && read(sv[0], buf->data, sizeof(buf->data)) < 0)
				break;
		}
		t = bench_now_ms() - t0;
	} else {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	close(sv[0]);
	/* UML's helpers hold the disk's lock until the last of them is gone */
	for (int w = 0; w < 30000 && kill(-pid, 0) == 0; w++)
		usleep(1000);
	if (!r->no_root)
		wait_unlocked(r->image);
	free(buf);
	for (int a = 1; a < n; a++)
		free(argv[a]);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s' '%s/.%s.notify'", r->rundir, umid, r->rundir, umid);
	if (system(cmd) != 0)
		exit(1);
	if (t < 0) {
		fprintf(stderr, "raw boot did not reach the marker\n");
		exit(1);
	}
	return t;
}

static void row(const char *metric, double a, double b, const char *target)
{
	printf("%-44s | %8.1f ms | %8.1f ms | %6.3f | %s\n", metric, a, b, a / b, target);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 20;
	char dir[] = "/tmp/bench-boot-XXXXXX";
	const char *builddir = getenv("UML_TEST_BUILDDIR");
	char preload[4096], lpj[64] = "lpj=0";
	const char *extra[16] = { NULL };
	int n_extra = 0;
	struct uml_ctx *ctx;
	struct uml_kernel *k;
	struct uml_rootfs *img;
	double *v[6];
	enum { LIB, OLD, NOW, EXEC, KONLY, UNBOXED };

	if (runs < 1 || !mkdtemp(dir))
		return 1;
	snprintf(preload, sizeof(preload), "%s/libuml/uml-hostcompat.so", builddir ? builddir : ".");
	bench_busybox_setup(dir, argc > 2 ? argv[2] : NULL, &ctx, &k, &img);
	if (uml_ctx_host_needs_compat(ctx) && access(preload, R_OK) < 0) {
		fprintf(stderr, "the baseline needs %s (run from the build dir)\n", preload);
		return 1;
	}
	{
		/* libuml's lpj=, and what it passes after it now (the boot profile) */
		struct uml_instance *probe;
		bool after_lpj = false;

		uml_instance_new(k, &probe);
		uml_instance_set_rootfs(probe, img);
		for (const char *const *a = uml_instance_get_argv(probe); a && *a; a++) {
			if (after_lpj && n_extra < 15)
				extra[n_extra++] = strdup(*a);
			if (strncmp(*a, "lpj=", 4) == 0) {
				snprintf(lpj, sizeof(lpj), "%s", *a);
				after_lpj = true;
			}
		}
		uml_instance_unref(probe);
	}
	struct raw old = { uml_kernel_get_path(k), uml_rootfs_get_path(img),
			   uml_ctx_get_runtime_dir(ctx),
			   uml_ctx_host_needs_compat(ctx) ? preload : NULL, lpj, NULL, false };
	struct raw now = old, konly = old;

	now.extra = konly.extra = extra;
	konly.no_root = true;
	for (int i = 0; i < 6; i++)
		v[i] = calloc((size_t)runs, sizeof(double));
	/* interleave so drift on the machine hits every side alike */
	for (int i = 0; i < runs; i++) {
		v[OLD][i] = boot_raw(&old, i);
		v[LIB][i] = boot_libuml(k, img, false, UML_SANDBOX_REQUIRE);
		v[NOW][i] = boot_raw(&now, i);
		v[KONLY][i] = boot_raw(&konly, i);
		v[EXEC][i] = boot_libuml(k, img, true, UML_SANDBOX_REQUIRE);
		v[UNBOXED][i] = boot_libuml(k, img, false, UML_SANDBOX_OFF);
	}
	double m[6], lo[6];

	for (int i = 0; i < 6; i++) {
		m[i] = bench_median(v[i], runs);
		lo[i] = v[i][0];
	}
	printf("%-44s | %11s | %11s | %6s | %s\n", "metric", "libuml", "baseline", "ratio", "target");
	row("busybox boot-to-ready, median", m[LIB], m[OLD], "<= 0.40 (baseline: 0.1's argv)");
	row("  min", lo[LIB], lo[OLD], "");
	row("  libuml's own cost, median", m[LIB], m[NOW], "<= 1.03 (baseline: its argv, exec'd)");
	row("exec-ready (agent hello), median", m[EXEC], m[KONLY],
	    "<= 3.0 (baseline: kernel exec-to-exit)");
	row("  min", lo[EXEC], lo[KONLY], "");
	row("sandboxed boot-to-ready, median", m[LIB], m[UNBOXED], "");
	printf("%-44s | %+8.1f ms | %11s | %6s | %s\n", "  sandbox overhead (medians' difference)",
	       m[LIB] - m[UNBOXED], "", "", "<= +5 ms");
	printf("(%d runs each, interleaved, kernel %s; 0.1's argv: libuml's before the boot "
	       "profile; now adds:", runs, uml_kernel_get_path(k));
	for (int i = 0; i < n_extra; i++)
		printf(" %s", extra[i]);
	printf(")\n");
	uml_rootfs_unref(img);
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
	return bench_rm_rf(dir) == 0 ? 0 : 1;
}

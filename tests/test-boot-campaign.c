/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A boot campaign under host load: busybox guests on the default kernel
 * (Debian's 6.1 unless $UML_KERNEL says otherwise), booted to the ready
 * marker and halted, a few at a time, while this program keeps the host
 * busy with CPU hogs and a compiler loop, as a CI machine is.  Every boot
 * must reach the ready marker and end halted: a harness cannot live with a
 * guest that dies in early boot now and then.  Each failure is counted by
 * kind, its console is written to stderr and, when UML_TEST_LOG_DIR is set,
 * kept there as boot-N.log.
 *
 *   UML_TEST_BOOTS     boots (default 24, the CI size; 600 for a campaign)
 *   UML_TEST_PARALLEL  guests booting at once (default 2)
 *   UML_TEST_HOGS      `yes >/dev/null` processes (default 1)
 *   UML_TEST_COMPILERS compiler loops over libuml's sources (default 1)
 *   UML_TEST_LOG_DIR   where to keep the consoles of failed boots
 *
 * A guest that accepted the halt and then crashed in UML's own teardown
 * ("Segfault with no mm", about 1 in 150 boots here before libuml judged
 * that by the halt) counts as halted: it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testhelp.h"

#define MAX_PARALLEL 16
#define MAX_LOAD 32
#define BOOT_MS 300000

/* what a failed boot looks like; a boot counts once, by its first kind */
enum outcome { OK, EARLY_BOOT, NOT_READY, BAD_END, N_OUTCOMES };
static const char *const outcome_name[N_OUTCOMES] = {
	[OK] = "ok",
	[EARLY_BOOT] = "died before init ran",
	[NOT_READY] = "init ran, never ready",
	[BAD_END] = "ready, did not end halted",
};

static pid_t load[MAX_LOAD];
static int n_load;

/* The load processes die with this one (the test runs in a forked child). */
static void start_load(char *const argv[], bool loop)
{
	pid_t pid;

	ck_assert_int_lt(n_load, MAX_LOAD);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		dup2(null, 2);
		/* a compiler loop: one compiler at a time, dying with the loop */
		while (loop) {
			pid_t cc = fork();

			if (cc == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				execvp(argv[0], argv);
				_exit(127);
			}
			if (cc < 0 || waitpid(cc, NULL, 0) < 0)
				_exit(1);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	load[n_load++] = pid;
}

static void stop_load(void)
{
	for (int i = 0; i < n_load; i++) {
		kill(load[i], SIGKILL);
		waitpid(load[i], NULL, 0);
	}
	n_load = 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void keep_console(long boot, struct uml_instance *vm, enum outcome o)
{
	const char *dir = getenv("UML_TEST_LOG_DIR");
	size_t len;
	const char *log = uml_instance_get_console_log(vm, &len);
	const char *panic = uml_instance_get_panic_message(vm);

	fprintf(stderr, "boot %ld: %s (%s: %s%s%s)\n", boot, outcome_name[o],
		uml_exit_reason_to_string(uml_instance_get_exit_reason(vm)),
		uml_instance_get_exit_detail(vm) ? uml_instance_get_exit_detail(vm) : "",
		panic ? "; panic: " : "", panic ? panic : "");
	fprintf(stderr, "---- console of boot %ld\n%.*s\n---- end of boot %ld\n", boot,
		(int)len, log ? log : "", boot);
	if (dir && *dir) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/boot-%ld.log", dir, boot);
		f = fopen(path, "we");
		if (f) {
			fwrite(log ? log : "", 1, log ? len : 0, f);
			fclose(f);
		}
	}
}

/* How a guest that was booted, waited for and halted came out. */
static enum outcome judge(struct uml_instance *vm, int ready)
{
	size_t len;
	const char *log = uml_instance_get_console_log(vm, &len);

	if (ready != 0)
		return log && memmem(log, len, " as init process", 16) ? NOT_READY : EARLY_BOOT;
	return uml_instance_get_exit_reason(vm) == UML_EXIT_HALT ? OK : BAD_END;
}

START_TEST(boots_under_load)
{
	long boots = th_env_long("UML_TEST_BOOTS", 24);
	long parallel = th_env_long("UML_TEST_PARALLEL", 2);
	long hogs = th_env_long("UML_TEST_HOGS", 1);
	long compilers = th_env_long("UML_TEST_COMPILERS", 1);
	struct uml_ctx *ctx;
	struct uml_kernel *kernel;
	struct uml_rootfs *img[MAX_PARALLEL];
	long count[N_OUTCOMES] = { 0 };
	char *yes[] = { "yes", NULL };
	char *cc[] = { "cc", "-O2", "-I" TEST_BUILDDIR, "-I" TEST_SRCDIR "/include",
		       "-I" TEST_SRCDIR "/libuml", "-c", "-o", "/dev/null",
		       TEST_SRCDIR "/libuml/instance.c", NULL };
	double start;

	if (th_no_boot("boots_under_load"))
		return;
	/* it loads the host on purpose: once per CI run, in the plain stage */
	if (getenv("UML_TEST_SKIP_PLAIN_ONLY")) {
		fprintf(stderr, "SKIP boots_under_load: plain CI stage only (UML_TEST_SKIP_PLAIN_ONLY)\n");
		return;
	}
	ck_assert(parallel >= 1 && parallel <= MAX_PARALLEL);
	ck_assert(hogs >= 0 && compilers >= 0 && hogs + compilers <= MAX_LOAD);
	ctx = th_ctx();
	kernel = th_kernel(ctx);
	for (long i = 0; i < parallel; i++) {
		char path[256];

		snprintf(path, sizeof(path), "%s/guest%ld.img", th_tmpdir(), i);
		ck_assert_int_eq(th_system("cp --sparse=always '%s' '%s'", th_busybox_image(), path), 0);
		ck_assert_int_eq(uml_rootfs_new(ctx, path, &img[i]), 0);
	}
	for (long i = 0; i < hogs; i++)
		start_load(yes, false);
	for (long i = 0; i < compilers; i++)
		start_load(cc, true);

	start = now_s();
	for (long done = 0; done < boots;) {
		struct uml_instance *vm[MAX_PARALLEL];
		long n = boots - done < parallel ? boots - done : parallel;

		for (long i = 0; i < n; i++) {
			ck_assert_int_eq(uml_instance_new(kernel, &vm[i]), 0);
			ck_assert_int_eq(uml_instance_set_rootfs(vm[i], img[i]), 0);
			ck_assert_int_eq(uml_instance_set_ready_marker(vm[i], UML_BUSYBOX_READY_MARKER), 0);
			ck_assert_msg(uml_instance_boot(vm[i]) == 0, "boot: %s",
				      uml_instance_last_error(vm[i]));
		}
		for (long i = 0; i < n; i++) {
			int ready = uml_instance_wait_ready(vm[i], BOOT_MS);
			enum outcome o;

			ck_assert_int_eq(uml_instance_halt(vm[i], 10000), 0);
			o = judge(vm[i], ready);
			count[o]++;
			if (o != OK)
				keep_console(done + i, vm[i], o);
			uml_instance_unref(vm[i]);
		}
		done += n;
	}
	stop_load();

	fprintf(stderr, "%ld boots, %ld at a time, %ld hogs, %ld compiler loops, %.0f s:", boots,
		parallel, hogs, compilers, now_s() - start);
	for (int o = 0; o < N_OUTCOMES; o++)
		fprintf(stderr, " %s %ld%s", outcome_name[o], count[o], o + 1 < N_OUTCOMES ? "," : "\n");
	ck_assert_msg(count[OK] == boots, "%ld of %ld boots failed (%ld before init ran)",
		      boots - count[OK], boots, count[EARLY_BOOT]);
	ck_assert_int_eq(th_count_children(), 0);
	for (long i = 0; i < parallel; i++)
		uml_rootfs_unref(img[i]);
	uml_kernel_unref(kernel);
	uml_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("boot-campaign");
	TCase *tc = tcase_create("load");

	/* a guard against hangs only: a full campaign takes many minutes */
	tcase_set_timeout(tc, 4 * 3600);
	tcase_add_test(tc, boots_under_load);
	suite_add_tcase(s, tc);
	return th_run(s);
}

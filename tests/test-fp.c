/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Floating-point and vector state stays exact in guests: guest-fpcheck
 * (x87, SSE, AVX, AVX-512 across syscalls, thread switches and signals)
 * prints the same digest in a guest as on the host.  The guests boot with
 * the ptrace interposer forced on, so its shortcuts (hostcompat-preload.c)
 * are what is tested, on hosts with and without AMX alike.
 *
 * UML_TEST_FP_ITERATIONS sets the work per thread (default 3000, four
 * threads: some 12 000 guest syscalls and a few hundred signals).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testhelp.h"

#define FPCHECK TEST_BUILDDIR "/tests/guest-fpcheck"
#define BOOT_MS 120000
#define THREADS "4"

static long iterations(void)
{
	const char *env = getenv("UML_TEST_FP_ITERATIONS");
	long n = env ? atol(env) : 0;

	return n > 0 ? n : 3000;
}

/* The host's own answer: the "digest ..." line. */
static char *host_digest(void)
{
	char cmd[512], line[256] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s %s %ld", FPCHECK, THREADS, iterations());
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	ck_assert_int_eq(pclose(p), 0);
	ck_assert_ptr_nonnull(strstr(line, "digest "));
	return strndup(line, strcspn(line, "\n"));
}

static void check_kernel(struct uml_ctx *ctx, struct uml_kernel *k, const char *name)
{
	char img[512], count[32];
	const char *argv[] = { "/fpcheck", THREADS, count, NULL };
	struct uml_rootfs *rootfs;
	struct uml_instance *vm;
	struct uml_exec *e = NULL;
	char *want = host_digest();
	const char *out, *sig;
	int r;

	snprintf(count, sizeof(count), "%ld", iterations());
	snprintf(img, sizeof(img), "%s/fp-%s.img", th_tmpdir(), name);
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	ck_assert_int_eq(uml_rootfs_create_busybox(rootfs, NULL, UML_ROOTFS_CREATE_OVERWRITE), 0);
	ck_assert_int_eq(uml_rootfs_copy_in(rootfs, FPCHECK, "/fpcheck", 0), 0);
	ck_assert_int_eq(uml_ctx_set_hostcompat(ctx, UML_HOSTCOMPAT_FORCE), 0);
	ck_assert_int_eq(uml_instance_new(k, &vm), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(vm, rootfs), 0);
	ck_assert_int_eq(uml_instance_enable_exec(vm), 0);
	ck_assert_int_eq(uml_instance_boot(vm), 0);
	r = uml_instance_wait_ready(vm, BOOT_MS);
	ck_assert_msg(r == 0, "%s: not ready: %s", name, uml_instance_last_error(vm));
	ck_assert_int_eq(uml_instance_get_hostcompat_applied(vm), !uml_kernel_is_static(k));
	r = uml_instance_exec(vm, argv, NULL, 0, 0, &e);
	ck_assert_msg(r == 0, "%s: exec: %d %s", name, r, uml_instance_last_error(vm));
	out = uml_exec_get_stdout(e, NULL);
	ck_assert_msg(uml_exec_get_status(e) == 0, "%s: fpcheck failed (%d): %s", name,
		      uml_exec_get_status(e), th_tail(uml_exec_get_stderr(e, NULL)));
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0 && out[strlen(want)] == '\n',
		      "%s: the guest computed otherwise than the host:\n guest: %s host: %s",
		      name, th_tail(out), want);
	/* the handler must really have run in the guest, or it proves nothing */
	sig = strstr(out, "signals ");
	ck_assert_ptr_nonnull(sig);
	ck_assert_msg(atol(sig + 8) >= 10, "%s: only %ld signals in the guest", name,
		      atol(sig + 8));
	uml_exec_unref(e);
	ck_assert_int_eq(uml_instance_halt(vm, BOOT_MS), 0);
	uml_instance_unref(vm);
	uml_rootfs_unref(rootfs);
	free(want);
}

START_TEST(fp_state_exact_default_kernel)
{
	struct uml_ctx *ctx;
	struct uml_kernel *k;

	if (th_no_boot("fp_state_exact_default_kernel"))
		return;
	ctx = th_ctx();
	k = th_kernel(ctx);
	check_kernel(ctx, k, "default");
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(fp_state_exact_fast_kernel)
{
	struct uml_ctx *ctx;
	struct uml_kernel *k;

	if (th_no_boot("fp_state_exact_fast_kernel"))
		return;
	ctx = th_ctx();
	k = th_fast_kernel(ctx, "fp_state_exact_fast_kernel");
	if (k)
		check_kernel(ctx, k, "fast");
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fp");
	TCase *tc = tcase_create("fp");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, fp_state_exact_default_kernel);
	tcase_add_test(tc, fp_state_exact_fast_kernel);
	suite_add_tcase(s, tc);
	return th_run(s);
}

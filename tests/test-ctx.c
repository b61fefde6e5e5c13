/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The context: refcounting, logging, runtime dir, errors, host compat. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "testhelp.h"

struct logged {
	int count;
	int last_prio;
	char last[512];
};

static void log_fn(void *ud, int prio, const char *msg)
{
	struct logged *l = ud;

	l->count++;
	l->last_prio = prio;
	snprintf(l->last, sizeof(l->last), "%s", msg);
}

START_TEST(ref_unref)
{
	struct uml_ctx *ctx = NULL;

	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_ptr_eq(uml_ctx_ref(ctx), ctx);
	ck_assert_ptr_null(uml_ctx_unref(ctx));
	ck_assert_ptr_null(uml_ctx_unref(ctx));
	ck_assert_ptr_null(uml_ctx_unref(NULL));
	ck_assert_int_eq(uml_ctx_new(NULL), -EINVAL);
}
END_TEST

START_TEST(log_priority_from_env)
{
	struct uml_ctx *ctx;

	unsetenv("UML_LOG");
	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	ck_assert_int_eq(uml_ctx_get_log_priority(ctx), LOG_ERR);
	uml_ctx_unref(ctx);
	setenv("UML_LOG", "debug", 1);
	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	ck_assert_int_eq(uml_ctx_get_log_priority(ctx), LOG_DEBUG);
	uml_ctx_unref(ctx);
	setenv("UML_LOG", "6", 1);
	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	ck_assert_int_eq(uml_ctx_get_log_priority(ctx), LOG_INFO);
	uml_ctx_unref(ctx);
	unsetenv("UML_LOG");
}
END_TEST

START_TEST(errors_are_logged_and_kept)
{
	struct uml_ctx *ctx;
	struct logged l = { 0 };

	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	uml_ctx_set_log_fn(ctx, log_fn, &l);
	ck_assert_ptr_null(uml_ctx_last_error(ctx));
	ck_assert_int_eq(uml_ctx_set_runtime_dir(ctx, "relative/dir"), -EINVAL);
	ck_assert_int_eq(l.count, 1);
	ck_assert_int_eq(l.last_prio, LOG_ERR);
	ck_assert_ptr_nonnull(strstr(l.last, "relative/dir"));
	ck_assert_str_eq(uml_ctx_last_error(ctx), l.last);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(debug_messages_only_when_asked)
{
	struct uml_ctx *ctx;
	struct uml_kernel *k;
	struct logged l = { 0 };

	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	uml_ctx_set_log_fn(ctx, log_fn, &l);
	k = th_kernel(ctx);
	uml_kernel_unref(k);
	ck_assert_int_eq(l.count, 0);
	uml_ctx_set_log_priority(ctx, LOG_DEBUG);
	k = th_kernel(ctx);
	uml_kernel_unref(k);
	ck_assert_int_gt(l.count, 0);
	ck_assert_int_eq(l.last_prio, LOG_DEBUG);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(runtime_dir_defaults)
{
	struct uml_ctx *ctx;
	char expect[4096];

	unsetenv("UML_DIR");
	setenv("HOME", "/home/someone", 1);
	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	ck_assert_str_eq(uml_ctx_get_runtime_dir(ctx), "/home/someone/.uml");
	uml_ctx_unref(ctx);
	setenv("UML_DIR", "/run/uml-here", 1);
	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	ck_assert_str_eq(uml_ctx_get_runtime_dir(ctx), "/run/uml-here");
	ck_assert_int_eq(uml_ctx_set_runtime_dir(ctx, "/x/y"), 0);
	ck_assert_str_eq(uml_ctx_get_runtime_dir(ctx), "/x/y");
	memset(expect, 'a', 200);
	expect[0] = '/';
	expect[200] = '\0';
	ck_assert_int_eq(uml_ctx_set_runtime_dir(ctx, expect), -ENAMETOOLONG);
	ck_assert_str_eq(uml_ctx_get_runtime_dir(ctx), "/x/y");
	ck_assert_int_eq(uml_ctx_set_runtime_dir(ctx, NULL), -EINVAL);
	uml_ctx_unref(ctx);
	unsetenv("UML_DIR");
}
END_TEST

START_TEST(hostcompat_modes)
{
	struct uml_ctx *ctx;

	/* valgrind's CPU has no AMX */
	if (th_no_boot("hostcompat_modes"))
		return;
	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	ck_assert_int_eq(uml_ctx_set_hostcompat(ctx, UML_HOSTCOMPAT_OFF), 0);
	ck_assert_int_eq(uml_ctx_set_hostcompat(ctx, UML_HOSTCOMPAT_FORCE), 0);
	ck_assert_int_eq(uml_ctx_set_hostcompat(ctx, (enum uml_hostcompat)7), -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_ctx_last_error(ctx), "7"));
	/* these hosts have AMX: /proc/cpuinfo and libuml must agree */
	ck_assert_int_eq(uml_ctx_host_needs_compat(ctx),
			 th_system("grep -qw amx_tile /proc/cpuinfo") == 0);
	uml_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctx");
	TCase *tc = tcase_create("ctx");

	tcase_set_timeout(tc, 60);	/* no guests, but a loaded CI host is slow */
	tcase_add_test(tc, ref_unref);
	tcase_add_test(tc, log_priority_from_env);
	tcase_add_test(tc, errors_are_logged_and_kept);
	tcase_add_test(tc, debug_messages_only_when_asked);
	tcase_add_test(tc, runtime_dir_defaults);
	tcase_add_test(tc, hostcompat_modes);
	suite_add_tcase(s, tc);
	return th_run(s);
}

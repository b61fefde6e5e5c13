/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel binaries: found, checked, refused, probed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhelp.h"

static void expect_refused(const char *path, int err)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel *k = (struct uml_kernel *)0x1;

	ck_assert_int_eq(uml_kernel_new_from_path(ctx, path, &k), err);
	ck_assert_ptr_eq(k, (struct uml_kernel *)0x1);	/* untouched on failure */
	ck_assert_msg(strstr(uml_ctx_last_error(ctx), path), "message '%s' names no path",
		      uml_ctx_last_error(ctx));
	uml_ctx_unref(ctx);
}

static const char *make_file(const char *name, const char *content, mode_t mode)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", th_tmpdir(), name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

START_TEST(missing_kernel)
{
	expect_refused("/nonexistent/linux", -ENOENT);
}
END_TEST

START_TEST(directory_kernel)
{
	expect_refused(th_tmpdir(), -EISDIR);
}
END_TEST

START_TEST(script_kernel)
{
	expect_refused(make_file("script", "#!/bin/sh\necho 6.1\n", 0755), -ENOEXEC);
}
END_TEST

START_TEST(not_executable_kernel)
{
	/* no x bit at all: refused even for root */
	expect_refused(make_file("noexec", "\177ELF", 0644), -EACCES);
}
END_TEST

START_TEST(non_uml_elf)
{
	expect_refused("/bin/true", -EMEDIUMTYPE);
}
END_TEST

START_TEST(empty_and_null_path)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel *k;

	ck_assert_int_eq(uml_kernel_new_from_path(ctx, "", &k), -EINVAL);
	ck_assert_int_eq(uml_kernel_new_from_path(ctx, NULL, &k), -EINVAL);
	ck_assert_int_eq(uml_kernel_new_from_path(NULL, "/usr/bin/linux.uml", &k), -EINVAL);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(default_kernel_from_env)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel *k;

	setenv("UML_KERNEL", "/bin/true", 1);
	ck_assert_int_eq(uml_kernel_new_default(ctx, &k), -EMEDIUMTYPE);
	setenv("UML_KERNEL", "/usr/bin/linux.uml", 1);
	ck_assert_int_eq(uml_kernel_new_default(ctx, &k), 0);
	ck_assert_str_eq(uml_kernel_get_path(k), "/usr/bin/linux.uml");
	uml_kernel_unref(k);
	unsetenv("UML_KERNEL");
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(version_matches_the_binary)
{
	if (th_no_boot("version_matches_the_binary"))
		return;
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel *k = th_kernel(ctx);
	const char *v1, *v2;
	char cmd[512], expect[128] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "'%s' --version", uml_kernel_get_path(k));
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(expect, sizeof(expect), p));
	pclose(p);
	expect[strcspn(expect, "\n")] = '\0';
	ck_assert_int_eq(uml_kernel_get_version(k, &v1), 0);
	ck_assert_str_eq(v1, expect);
	ck_assert_int_eq(uml_kernel_get_version(k, &v2), 0);
	ck_assert_ptr_eq(v1, v2);	/* cached */
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(config_lookup)
{
	if (th_no_boot("config_lookup"))
		return;
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel *k = th_kernel(ctx);
	const char *v;

	ck_assert_int_eq(uml_kernel_get_config(k, "CONFIG_UML", &v), 0);
	ck_assert_str_eq(v, "y");
	ck_assert_int_eq(uml_kernel_get_config(k, "BLK_DEV_UBD", &v), 0);
	ck_assert_str_eq(v, "y");
	ck_assert_int_eq(uml_kernel_get_config(k, "CONFIG_NO_SUCH_OPTION_X", &v), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_kernel_last_error(k), "CONFIG_NO_SUCH_OPTION_X"));
	ck_assert_int_eq(uml_kernel_get_config(k, "CONFIG_UML=y", &v), -EINVAL);
	ck_assert_int_eq(uml_kernel_get_config(k, "", &v), -EINVAL);
	ck_assert_int_eq(uml_kernel_is_static(k), 0);
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(relative_path_made_absolute)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel *k;

	ck_assert_int_eq(chdir("/usr/bin"), 0);
	ck_assert_int_eq(uml_kernel_new_from_path(ctx, "linux.uml", &k), 0);
	ck_assert_str_eq(uml_kernel_get_path(k), "/usr/bin/linux.uml");
	ck_assert_ptr_eq(uml_kernel_ref(k), k);
	uml_kernel_unref(k);
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kernel");
	TCase *tc = tcase_create("kernel");

	th_tmpdir();
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, missing_kernel);
	tcase_add_test(tc, directory_kernel);
	tcase_add_test(tc, script_kernel);
	tcase_add_test(tc, not_executable_kernel);
	tcase_add_test(tc, non_uml_elf);
	tcase_add_test(tc, empty_and_null_path);
	tcase_add_test(tc, default_kernel_from_env);
	tcase_add_test(tc, version_matches_the_binary);
	tcase_add_test(tc, config_lookup);
	tcase_add_test(tc, relative_path_made_absolute);
	suite_add_tcase(s, tc);
	return th_run(s);
}

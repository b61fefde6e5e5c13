/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel builds from Debian's linux-source tarball.  The fast preset is
 * built once into a cache that survives between runs ($UML_TEST_CACHE,
 * else /var/cache/libuml-test, else ~/.cache/libuml-test); the first run on
 * a machine builds it cold (a few minutes on 2 cores).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhelp.h"

#define TARBALL "/usr/src/linux-source-6.12.tar.xz"
#define BOOT_MS 60000

static char fast_dir[600];

static const char *test_cache(void)
{
	if (!fast_dir[0])
		snprintf(fast_dir, sizeof(fast_dir), "%s/fast", th_cache_dir());
	return th_cache_dir();
}

static void need_tarball(void)
{
	ck_assert_msg(access(TARBALL, R_OK) == 0,
		      "%s is missing (apt-get install linux-source-6.12)", TARBALL);
}

static struct uml_kernel_build *new_build(struct uml_ctx *ctx, const char *build_dir)
{
	struct uml_kernel_build *kb;

	ck_assert_int_eq(uml_kernel_build_new(ctx, &kb), 0);
	ck_assert_int_eq(uml_kernel_build_set_source(kb, TARBALL), 0);
	ck_assert_int_eq(uml_kernel_build_set_cache_dir(kb, test_cache()), 0);
	ck_assert_int_eq(uml_kernel_build_set_build_dir(kb, build_dir), 0);
	ck_assert_int_eq(uml_kernel_build_set_jobs(kb, 2), 0);
	return kb;
}

static int count_progress(void *userdata, const struct uml_progress *p)
{
	unsigned *n = userdata;

	if (strcmp(p->phase, "build") == 0 && p->total > 0) {
		ck_assert_uint_le(p->done, p->total);
		(*n)++;
	}
	return 0;
}

/* The cached fast kernel, built if needed. */
static struct uml_kernel *fast_kernel(struct uml_ctx *ctx, struct uml_kernel_build **ret_kb)
{
	struct uml_kernel_build *kb;
	struct uml_kernel *k = NULL;
	int r;

	need_tarball();
	test_cache();
	kb = new_build(ctx, fast_dir);
	ck_assert_int_eq(uml_kernel_build_set_preset(kb, "fast"), 0);
	r = uml_kernel_build_run(kb, &k);
	ck_assert_msg(r == 0, "fast build failed: %s", uml_kernel_build_last_error(kb));
	ck_assert_ptr_nonnull(k);
	if (ret_kb)
		*ret_kb = kb;
	else
		uml_kernel_build_unref(kb);
	return k;
}

/* ---- the fast preset, built and booted -------------------------------------- */

START_TEST(fast_preset_builds_and_boots)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel_build *kb;
	struct uml_kernel *k;
	struct uml_rootfs *rootfs;
	struct uml_instance *inst;
	const char *version, *value, *out;
	char expect[128];
	unsigned events = 0;
	int status = -1;

	uml_ctx_set_progress_fn(ctx, count_progress, &events);
	k = fast_kernel(ctx, &kb);
	ck_assert_str_eq(uml_kernel_get_path(k), uml_kernel_build_get_kernel_path(kb));
	ck_assert_ptr_nonnull(uml_kernel_build_get_log_path(kb));
	ck_assert_int_eq(access(uml_kernel_build_get_log_path(kb), R_OK), 0);
	ck_assert_ptr_null(uml_kernel_build_get_dropped_options(kb));
	/* a cold build reports kbuild steps; a cached one reports none */
	if (!uml_kernel_build_was_up_to_date(kb))
		ck_assert_uint_gt(events, 100);

	ck_assert_int_eq(uml_kernel_get_version(k, &version), 0);
	ck_assert_msg(strncmp(version, "6.12.", 5) == 0, "version %s", version);
	/* what libuml relies on made it into the kernel, dynamically linked */
	ck_assert_int_eq(uml_kernel_is_static(k), 0);
	ck_assert_int_eq(uml_kernel_get_config(k, "CONFIG_BLK_DEV_UBD", &value), 0);
	ck_assert_str_eq(value, "y");
	ck_assert_int_eq(uml_kernel_get_config(k, "HOSTFS", &value), 0);
	ck_assert_int_eq(uml_kernel_get_config(k, "UML_NET_VECTOR", &value), 0);
	ck_assert_int_eq(uml_kernel_get_config(k, "CONFIG_IPV6", &value), 0);	/* NAT's IPv6 */
	ck_assert_str_eq(value, "y");
	ck_assert_int_eq(uml_kernel_get_config(k, "CONFIG_UML_NET_VDE", &value), -ENOENT);

	ck_assert_int_eq(uml_rootfs_new(ctx, th_busybox_image(), &rootfs), 0);
	ck_assert_int_eq(uml_instance_new(k, &inst), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(inst, rootfs), 0);
	ck_assert_int_eq(uml_instance_set_run_command(inst, "uname -r; uname -v"), 0);
	ck_assert_int_eq(uml_instance_boot(inst), 0);
	ck_assert_int_eq(uml_instance_wait(inst, BOOT_MS), 0);
	ck_assert_msg(uml_instance_get_run_status(inst, &status) == 0,
		      "no run status; exit %s: %s",
		      uml_exit_reason_to_string(uml_instance_get_exit_reason(inst)),
		      th_tail(uml_instance_get_console_log(inst, NULL)));
	out = uml_instance_get_run_output(inst, NULL);
	ck_assert_msg(status == 0, "status %d, output '%s'", status, th_tail(out));
	/* "#N": N counts the builds in this build dir, incremental ones too */
	snprintf(expect, sizeof(expect), "%s\n#", version);
	ck_assert_msg(strncmp(out, expect, strlen(expect)) == 0, "guest said '%s'", out);

	uml_instance_unref(inst);
	uml_rootfs_unref(rootfs);
	uml_kernel_unref(k);
	uml_kernel_build_unref(kb);
	uml_ctx_unref(ctx);
}
END_TEST

/* Newest mtime of the build's object files and of the kernel. */
static void newest_object(const char *dir, struct timespec *newest, unsigned *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[4096];
		struct stat st;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' && (len == 1 || (len == 2 && de->d_name[1] == '.')))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			newest_object(path, newest, count);
			continue;
		}
		if (!(len > 2 && strcmp(de->d_name + len - 2, ".o") == 0) &&
		    strcmp(de->d_name, "linux") != 0 && strcmp(de->d_name, ".config") != 0)
			continue;
		(*count)++;
		if (st.st_mtim.tv_sec > newest->tv_sec ||
		    (st.st_mtim.tv_sec == newest->tv_sec && st.st_mtim.tv_nsec > newest->tv_nsec))
			*newest = st.st_mtim;
	}
	closedir(d);
}

START_TEST(noop_rebuild_runs_no_make)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel_build *kb;
	struct uml_kernel *k;
	struct timespec before = { 0 }, after = { 0 };
	unsigned n_before = 0, n_after = 0;
	struct stat log_before, log_after;
	char log[700];

	k = fast_kernel(ctx, NULL);
	uml_kernel_unref(k);
	newest_object(fast_dir, &before, &n_before);
	ck_assert_uint_gt(n_before, 100);
	snprintf(log, sizeof(log), "%s/libuml-build.log", fast_dir);
	ck_assert_int_eq(stat(log, &log_before), 0);

	k = fast_kernel(ctx, &kb);
	ck_assert_int_eq(uml_kernel_build_was_up_to_date(kb), 1);
	newest_object(fast_dir, &after, &n_after);
	ck_assert_uint_eq(n_after, n_before);
	ck_assert_int_eq(after.tv_sec, before.tv_sec);
	ck_assert_int_eq(after.tv_nsec, before.tv_nsec);
	/* no make ran: the log of the last real build is untouched */
	ck_assert_str_eq(uml_kernel_build_get_log_path(kb), log);
	ck_assert_int_eq(stat(log, &log_after), 0);
	ck_assert_int_eq(log_after.st_size, log_before.st_size);
	ck_assert_int_eq(log_after.st_mtim.tv_sec, log_before.st_mtim.tv_sec);
	ck_assert_int_eq(log_after.st_mtim.tv_nsec, log_before.st_mtim.tv_nsec);
	uml_kernel_unref(k);
	uml_kernel_build_unref(kb);
	uml_ctx_unref(ctx);
}
END_TEST

/* ---- configuration errors ---------------------------------------------------- */

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(unknown_option_is_named)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel_build *kb;
	struct uml_kernel *k = NULL;
	char frag[512], a[512], b[512], dir[512];
	const char *err, *dropped, *conflicts;

	need_tarball();
	snprintf(frag, sizeof(frag), "%s/unknown.config", th_tmpdir());
	snprintf(a, sizeof(a), "%s/a.config", th_tmpdir());
	snprintf(b, sizeof(b), "%s/b.config", th_tmpdir());
	snprintf(dir, sizeof(dir), "%s/build-unknown", th_tmpdir());
	write_text(frag, "# comment\nCONFIG_LIBUML_NO_SUCH_OPTION=y\nCONFIG_HOSTFS=y\n");
	write_text(a, "CONFIG_TMPFS=y\n");
	write_text(b, "# CONFIG_TMPFS is not set\n");
	kb = new_build(ctx, dir);
	ck_assert_int_eq(uml_kernel_build_add_fragment_file(kb, frag), 0);
	ck_assert_int_eq(uml_kernel_build_add_fragment_file(kb, a), 0);
	ck_assert_int_eq(uml_kernel_build_add_fragment_file(kb, b), 0);
	/* a dependency the kernel cannot satisfy: UML has no PCI without virtio */
	ck_assert_int_eq(uml_kernel_build_add_option(kb, "CONFIG_E1000=y"), 0);

	ck_assert_int_eq(uml_kernel_build_run(kb, &k), -ENOTSUP);
	ck_assert_ptr_null(k);
	dropped = uml_kernel_build_get_dropped_options(kb);
	ck_assert_ptr_nonnull(dropped);
	ck_assert_str_eq(dropped, "CONFIG_LIBUML_NO_SUCH_OPTION CONFIG_E1000");
	err = uml_kernel_build_last_error(kb);
	ck_assert_ptr_nonnull(strstr(err, "CONFIG_LIBUML_NO_SUCH_OPTION=y"));
	ck_assert_ptr_nonnull(strstr(err, "unknown.config:2"));
	/* the later fragment won; the conflict is reported with both places */
	conflicts = uml_kernel_build_get_conflicts(kb);
	ck_assert_ptr_nonnull(conflicts);
	ck_assert_ptr_nonnull(strstr(conflicts, "CONFIG_TMPFS=n"));
	ck_assert_ptr_nonnull(strstr(conflicts, "b.config:1"));
	ck_assert_ptr_nonnull(strstr(conflicts, "a.config:1"));
	/* no compiler ran: the build stopped after configuring */
	ck_assert_int_eq(access(uml_kernel_build_get_kernel_path(kb), F_OK), -1);

	uml_kernel_build_unref(kb);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(conflict_fails_when_strict)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel_build *kb;
	char a[512], b[512], dir[512];
	const char *err;

	need_tarball();
	snprintf(a, sizeof(a), "%s/a.config", th_tmpdir());
	snprintf(b, sizeof(b), "%s/b.config", th_tmpdir());
	snprintf(dir, sizeof(dir), "%s/build-strict", th_tmpdir());
	write_text(a, "CONFIG_HOSTFS=y\nCONFIG_TMPFS=y\n");
	write_text(b, "\n# CONFIG_HOSTFS is not set\n");
	kb = new_build(ctx, dir);
	ck_assert_int_eq(uml_kernel_build_set_flags(kb, UML_KERNEL_BUILD_FAIL_ON_CONFLICT), 0);
	ck_assert_int_eq(uml_kernel_build_add_fragment_file(kb, a), 0);
	ck_assert_int_eq(uml_kernel_build_add_fragment_file(kb, b), 0);
	/* the same value twice is no conflict */
	ck_assert_int_eq(uml_kernel_build_add_option(kb, "CONFIG_TMPFS=y"), 0);
	ck_assert_int_eq(uml_kernel_build_run(kb, NULL), -EINVAL);
	err = uml_kernel_build_last_error(kb);
	ck_assert_ptr_nonnull(strstr(err, "CONFIG_HOSTFS=n"));
	ck_assert_ptr_nonnull(strstr(err, "b.config:2"));
	ck_assert_ptr_nonnull(strstr(err, "a.config:1"));
	ck_assert_ptr_null(strstr(err, "TMPFS"));
	uml_kernel_build_unref(kb);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(bad_arguments)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel_build *kb;
	char frag[512];

	snprintf(frag, sizeof(frag), "%s/bad.config", th_tmpdir());
	write_text(frag, "CONFIG_A=y\nthis is not a config line\n");
	ck_assert_int_eq(uml_kernel_build_new(NULL, &kb), -EINVAL);
	ck_assert_int_eq(uml_kernel_build_new(ctx, &kb), 0);
	ck_assert_int_eq(uml_kernel_build_set_preset(kb, "hugeconfig"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_kernel_build_last_error(kb), "fast"));
	ck_assert_int_eq(uml_kernel_build_set_preset(kb, "tinyconfig"), 0);
	ck_assert_int_eq(uml_kernel_build_set_preset(kb, "defconfig"), 0);
	ck_assert_int_eq(uml_kernel_build_add_option(kb, "KUNIT=y"), -EINVAL);
	ck_assert_int_eq(uml_kernel_build_add_option(kb, "CONFIG_KUNIT"), -EINVAL);
	ck_assert_int_eq(uml_kernel_build_add_option(kb, "CONFIG_A=y\nCONFIG_B=y"), -EINVAL);
	ck_assert_int_eq(uml_kernel_build_add_option(kb, "CONFIG_KUNIT=y"), 0);
	ck_assert_int_eq(uml_kernel_build_add_option(kb, "# CONFIG_IPV6 is not set"), 0);
	ck_assert_int_eq(uml_kernel_build_add_fragment_file(kb, frag), -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_kernel_build_last_error(kb), "bad.config:2"));
	ck_assert_int_eq(uml_kernel_build_add_fragment_file(kb, "/nonexistent/x.config"), -ENOENT);
	ck_assert_int_eq(uml_kernel_build_set_jobs(kb, 5000), -ERANGE);
	ck_assert_int_eq(uml_kernel_build_set_flags(kb, 1u << 20), -EINVAL);
	ck_assert_int_eq(uml_kernel_build_set_source(kb, ""), -EINVAL);
	/* no source set */
	ck_assert_int_eq(uml_kernel_build_run(kb, NULL), -EINVAL);
	ck_assert_ptr_nonnull(uml_kernel_build_get_preset_text("fast"));
	ck_assert_ptr_nonnull(strstr(uml_kernel_build_get_preset_text("fast"), "CONFIG_BLK_DEV_UBD=y"));
	ck_assert_ptr_null(uml_kernel_build_get_preset_text("defconfig"));
	ck_assert_ptr_null(uml_kernel_build_unref(kb));
	ck_assert_ptr_null(uml_kernel_build_unref(NULL));
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(broken_source_fails_clearly)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel_build *kb;
	char dir[512], notree[512];

	snprintf(dir, sizeof(dir), "%s/build-broken", th_tmpdir());
	snprintf(notree, sizeof(notree), "%s/not-a-tree", th_tmpdir());
	ck_assert_int_eq(mkdir(notree, 0755), 0);
	kb = new_build(ctx, dir);
	ck_assert_int_eq(uml_kernel_build_set_source(kb, "/nonexistent/linux-9.9.tar.xz"), 0);
	ck_assert_int_eq(uml_kernel_build_run(kb, NULL), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_kernel_build_last_error(kb), "/nonexistent/linux-9.9.tar.xz"));
	ck_assert_int_eq(uml_kernel_build_set_source(kb, notree), 0);
	ck_assert_int_eq(uml_kernel_build_run(kb, NULL), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_kernel_build_last_error(kb), notree));
	ck_assert_ptr_nonnull(strstr(uml_kernel_build_last_error(kb), "not a Linux source tree"));
	uml_kernel_build_unref(kb);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(missing_tools_are_named)
{
	static const char *const keep[] = { "make", "flex", "bison", "ld", "tar", "xz", "sh" };
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel_build *kb;
	char bin[512], dir[512];
	const char *err;

	need_tarball();
	/* a PATH with the real tools but without gcc and bc */
	snprintf(bin, sizeof(bin), "%s/bin", th_tmpdir());
	snprintf(dir, sizeof(dir), "%s/build-tools", th_tmpdir());
	ck_assert_int_eq(mkdir(bin, 0755), 0);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		ck_assert_int_eq(th_system("ln -s \"$(command -v %s)\" %s/%s", keep[i], bin, keep[i]), 0);
	kb = new_build(ctx, dir);
	ck_assert_int_eq(setenv("PATH", bin, 1), 0);
	ck_assert_int_eq(uml_kernel_build_run(kb, NULL), -ENOPKG);
	err = uml_kernel_build_last_error(kb);
	ck_assert_msg(strstr(err, "gcc, bc (on Debian: apt-get install gcc bc)"), "message: %s", err);
	ck_assert_ptr_null(strstr(err, "flex"));
	uml_kernel_build_unref(kb);
	uml_ctx_unref(ctx);
}
END_TEST

static int cancel_early(void *userdata, const struct uml_progress *p)
{
	unsigned *steps = userdata;

	if (strcmp(p->phase, "build") == 0 && p->done >= 20) {
		*steps = (unsigned)p->done;
		return 1;
	}
	return 0;
}

START_TEST(cancel_kills_make)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel_build *kb;
	char dir[512];
	unsigned steps = 0;

	need_tarball();
	snprintf(dir, sizeof(dir), "%s/build-cancel", th_tmpdir());
	kb = new_build(ctx, dir);
	ck_assert_int_eq(uml_kernel_build_set_preset(kb, "tinyconfig"), 0);
	uml_ctx_set_progress_fn(ctx, cancel_early, &steps);
	ck_assert_int_eq(uml_kernel_build_run(kb, NULL), -ECANCELED);
	ck_assert_uint_ge(steps, 20);
	/* no make or compiler of that build is left */
	ck_assert_int_eq(th_count_processes(dir), 0);
	ck_assert_int_eq(access(uml_kernel_build_get_kernel_path(kb), F_OK), -1);
	uml_kernel_build_unref(kb);
	uml_ctx_unref(ctx);
}
END_TEST

static Suite *kernel_build_suite(void)
{
	Suite *s = suite_create("kernel-build");
	TCase *args = tcase_create("arguments");
	TCase *config = tcase_create("configuration");
	TCase *build = tcase_create("build");

	tcase_add_test(args, bad_arguments);
	tcase_add_test(args, broken_source_fails_clearly);
	suite_add_tcase(s, args);

	/* these unpack the tarball into the cache the first time (~30 s) */
	tcase_set_timeout(args, 60);	/* no builds, but a loaded CI host is slow */
	tcase_set_timeout(config, 300);
	tcase_add_test(config, conflict_fails_when_strict);
	tcase_add_test(config, missing_tools_are_named);
	tcase_add_test(config, unknown_option_is_named);
	tcase_add_test(config, cancel_kills_make);
	suite_add_tcase(s, config);

	/* a cold build of the fast preset takes minutes on 2 cores */
	tcase_set_timeout(build, 1800);
	tcase_add_test(build, fast_preset_builds_and_boots);
	tcase_add_test(build, noop_rebuild_runs_no_make);
	suite_add_tcase(s, build);
	return s;
}

int main(void)
{
	/* fixtures made before the tests fork, so they share them */
	th_tmpdir();
	th_busybox_image();
	return th_run(kernel_build_suite());
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Boot profiles (libuml/boot-profile.c): the arguments follow the kernel's
 * configuration, the flag turns them off, a caller's own value wins, and
 * what they cut is really gone while what guests use still works (a
 * single-device btrfs mounts, Unix98 ptys are there).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testhelp.h"

#define BOOT_MS 120000
#define CMD_MS 60000

static bool argv_has(struct uml_instance *inst, const char *arg)
{
	for (const char *const *a = uml_instance_get_argv(inst); a && *a; a++)
		if (strcmp(*a, arg) == 0)
			return true;
	return false;
}

static bool argv_has_prefix(struct uml_instance *inst, const char *prefix)
{
	for (const char *const *a = uml_instance_get_argv(inst); a && *a; a++)
		if (strncmp(*a, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}

/* Is CONFIG_<sym> y or m in the kernel? */
static bool has_config(struct uml_kernel *k, const char *sym)
{
	const char *v;

	return uml_kernel_get_config(k, sym, &v) == 0 && (strcmp(v, "y") == 0 || strcmp(v, "m") == 0);
}

START_TEST(profile_follows_config)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel *k = th_kernel(ctx);
	struct uml_rootfs *img;
	struct uml_instance *inst;
	bool raid6, ptys;

	raid6 = has_config(k, "RAID6_PQ_BENCHMARK");
	ptys = has_config(k, "LEGACY_PTYS");
	ck_assert_int_eq(uml_rootfs_new(ctx, th_busybox_image(), &img), 0);
	ck_assert_int_eq(uml_instance_new(k, &inst), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(inst, img), 0);
	ck_assert_int_eq(argv_has(inst, "initcall_blacklist=raid6_select_algo"), raid6);
	ck_assert_int_eq(argv_has(inst, "pty.legacy_count=0"), ptys);

	/* off with one flag */
	ck_assert_int_eq(uml_instance_set_boot_profile(inst, 0), 0);
	ck_assert(!argv_has_prefix(inst, "initcall_blacklist="));
	ck_assert(!argv_has_prefix(inst, "pty.legacy_count="));
	ck_assert_int_eq(uml_instance_set_boot_profile(inst, 1), 0);
	ck_assert_int_eq(argv_has(inst, "pty.legacy_count=0"), ptys);

	/* the caller's value for a parameter wins */
	ck_assert_int_eq(uml_instance_append_arg(inst, "pty.legacy_count=4"), 0);
	ck_assert(!argv_has(inst, "pty.legacy_count=0"));
	ck_assert(argv_has(inst, "pty.legacy_count=4"));
	ck_assert_int_eq(argv_has(inst, "initcall_blacklist=raid6_select_algo"), raid6);

	ck_assert_int_eq(uml_instance_set_boot_profile(NULL, 1), -EINVAL);
	uml_instance_unref(inst);
	uml_rootfs_unref(img);
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

/* A kernel without the options (libuml's fast build) gets none of the profile. */
START_TEST(profile_empty_without_options)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel *k = th_fast_kernel(ctx, "profile_empty_without_options");
	struct uml_instance *inst;

	if (k) {
		ck_assert(!has_config(k, "RAID6_PQ_BENCHMARK"));
		ck_assert(!has_config(k, "LEGACY_PTYS"));
		ck_assert_int_eq(uml_instance_new(k, &inst), 0);
		ck_assert(!argv_has_prefix(inst, "initcall_blacklist="));
		ck_assert(!argv_has_prefix(inst, "pty.legacy_count="));
		uml_instance_unref(inst);
	}
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

static struct uml_instance *boot(struct uml_ctx *ctx, struct uml_kernel *k,
				 struct uml_rootfs *img, int profile)
{
	struct uml_instance *inst;
	int r;

	ck_assert_int_eq(uml_instance_new(k, &inst), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(inst, img), 0);
	ck_assert_int_eq(uml_instance_set_memory(inst, 128ull << 20), 0);
	ck_assert_int_eq(uml_instance_set_boot_profile(inst, profile), 0);
	ck_assert_int_eq(uml_instance_enable_exec(inst), 0);
	ck_assert_int_eq(uml_instance_boot(inst), 0);
	r = uml_instance_wait_ready(inst, BOOT_MS);
	ck_assert_msg(r == 0, "not ready: %s", uml_instance_last_error(inst));
	ck_assert_int_eq(uml_instance_set_boot_profile(inst, 1), -EBUSY);
	return inst;
}

static char *sh(struct uml_instance *inst, const char *script)
{
	const char *argv[] = { "sh", "-c", script, NULL };
	struct uml_exec *e = NULL;
	char *out;
	int r = uml_instance_exec(inst, argv, NULL, 0, CMD_MS, &e);

	ck_assert_msg(r == 0, "exec '%s': %d %s", script, r, uml_instance_last_error(inst));
	ck_assert_msg(uml_exec_get_status(e) == 0, "'%s' failed: %s %s", script,
		      th_tail(uml_exec_get_stdout(e, NULL)), th_tail(uml_exec_get_stderr(e, NULL)));
	out = strdup(uml_exec_get_stdout(e, NULL));
	uml_exec_unref(e);
	return out;
}

/*
 * What the cuts disable is gone, what guests use works; the same guest
 * booted without the profile shows the check would notice.
 */
START_TEST(cuts_gone_guest_works)
{
	struct uml_ctx *ctx;
	struct uml_kernel *k;
	struct uml_rootfs *img;
	struct uml_instance *inst;
	char btrfs[512], *out;
	const char *log;
	int profile;

	if (th_no_boot("cuts_gone_guest_works"))
		return;
	ctx = th_ctx();
	k = th_kernel(ctx);
	if (!has_config(k, "RAID6_PQ_BENCHMARK") || !has_config(k, "LEGACY_PTYS")) {
		fprintf(stderr, "SKIP cuts_gone_guest_works: %s has neither cut\n",
			uml_kernel_get_path(k));
		uml_kernel_unref(k);
		uml_ctx_unref(ctx);
		return;
	}
	ck_assert_int_eq(uml_rootfs_new(ctx, th_busybox_image(), &img), 0);
	for (profile = 1; profile >= 0; profile--) {
		inst = boot(ctx, k, img, profile);
		log = uml_instance_get_console_log(inst, NULL);
		/* the RAID6 benchmark prints one "raid6: ALGO gen() N MB/s" line per algorithm */
		ck_assert_msg((strstr(log, "gen()") == NULL) == profile,
			      "profile %d, console: %s", profile, th_tail(log));
		out = sh(inst, "ls /dev; [ -c /dev/ptmx ] && grep -c devpts /proc/filesystems");
		ck_assert_msg((strstr(out, "ptyp0") == NULL) == profile, "profile %d, /dev: %s",
			      profile, th_tail(out));
		ck_assert_ptr_nonnull(strstr(out, "\n1\n"));
		free(out);
		if (profile && access("/usr/sbin/mkfs.btrfs", X_OK) == 0) {
			/* btrfs (built in, linked to RAID6) still mounts a single device */
			snprintf(btrfs, sizeof(btrfs), "%s/btrfs.img", th_tmpdir());
			ck_assert_int_eq(th_system("truncate -s 128M '%s' && mkfs.btrfs -q '%s' "
						   ">/dev/null", btrfs, btrfs), 0);
			ck_assert_int_eq(uml_instance_add_disk_live(inst, 1, btrfs, 0), 0);
			out = sh(inst, "mount -t btrfs /dev/ubdb /mnt && echo written >/mnt/f && "
				       "cat /mnt/f && umount /mnt");
			ck_assert_str_eq(out, "written\n");
			free(out);
		} else if (profile) {
			fprintf(stderr, "cuts_gone_guest_works: no mkfs.btrfs (btrfs-progs), "
					"btrfs part skipped\n");
		}
		ck_assert_int_eq(uml_instance_halt(inst, BOOT_MS), 0);
		uml_instance_unref(inst);
	}
	uml_rootfs_unref(img);
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("boot-profile");
	TCase *tc = tcase_create("boot-profile");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, profile_follows_config);
	tcase_add_test(tc, profile_empty_without_options);
	tcase_add_test(tc, cuts_gone_guest_works);
	suite_add_tcase(s, tc);
	return th_run(s);
}

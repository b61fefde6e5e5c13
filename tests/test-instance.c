/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Instances: argument building and validation, then real guests. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhelp.h"

#define BOOT_MS 60000

struct fixture {
	struct uml_ctx *ctx;
	struct uml_kernel *kernel;
	struct uml_rootfs *rootfs;
	struct uml_instance *inst;
};

static struct fixture f;

static void setup(void)
{
	f.ctx = th_ctx();
	f.kernel = th_kernel(f.ctx);
	ck_assert_int_eq(uml_rootfs_new(f.ctx, th_busybox_image(), &f.rootfs), 0);
	ck_assert_int_eq(uml_instance_new(f.kernel, &f.inst), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(f.inst, f.rootfs), 0);
	ck_assert_int_eq(uml_instance_set_ready_marker(f.inst, UML_BUSYBOX_READY_MARKER), 0);
}

static void teardown(void)
{
	char umid_dir[512], umid_arg[128];

	snprintf(umid_dir, sizeof(umid_dir), "%s/%s", uml_ctx_get_runtime_dir(f.ctx),
		 uml_instance_get_umid(f.inst));
	/* the kernel's processes, sandboxed or not, carry its umid= argument */
	snprintf(umid_arg, sizeof(umid_arg), "umid=%s ", uml_instance_get_umid(f.inst));
	uml_instance_unref(f.inst);
	/* no guest process and no runtime files survive any test */
	ck_assert_int_eq(th_count_processes(umid_arg), 0);
	ck_assert_int_eq(access(umid_dir, F_OK), -1);
	ck_assert_int_eq(th_count_entries(uml_ctx_get_runtime_dir(f.ctx)), 0);
	uml_rootfs_unref(f.rootfs);
	uml_kernel_unref(f.kernel);
	uml_ctx_unref(f.ctx);
}

static bool argv_has(const char *const *argv, const char *arg)
{
	for (; *argv; argv++)
		if (strcmp(*argv, arg) == 0)
			return true;
	return false;
}

/* ---- configuration, no boot ---------------------------------------------- */

START_TEST(argv_reflects_settings)
{
	const char *const *argv;
	char expect[512];

	ck_assert_int_eq(uml_instance_set_memory(f.inst, 96ull << 20), 0);
	ck_assert_int_eq(uml_instance_set_umid(f.inst, "guest-1.test_x"), 0);
	ck_assert_int_eq(uml_instance_append_arg(f.inst, "loglevel=3"), 0);
	ck_assert_int_eq(uml_instance_set_init(f.inst, "/sbin/myinit"), 0);
	argv = uml_instance_get_argv(f.inst);
	ck_assert_ptr_nonnull(argv);
	ck_assert_str_eq(argv[0], uml_kernel_get_path(f.kernel));
	ck_assert(argv_has(argv, "mem=96M"));
	ck_assert(argv_has(argv, "umid=guest-1.test_x"));
	ck_assert(argv_has(argv, "loglevel=3"));
	ck_assert(argv_has(argv, "init=/sbin/myinit"));
	ck_assert(argv_has(argv, "root=/dev/ubda"));
	snprintf(expect, sizeof(expect), "ubd0=%s", th_busybox_image());
	ck_assert(argv_has(argv, expect));
	snprintf(expect, sizeof(expect), "uml_dir=%s", uml_ctx_get_runtime_dir(f.ctx));
	ck_assert(argv_has(argv, expect));
	ck_assert(argv_has(argv, "con=null"));
	/* lpj= is passed for the host unless the caller gives one */
	for (const char *const *a = argv; *a; a++)
		if (strncmp(*a, "lpj=", 4) == 0)
			ck_assert_int_gt(atol(*a + 4), 1000);
	ck_assert_int_eq(uml_instance_append_arg(f.inst, "lpj=12345"), 0);
	argv = uml_instance_get_argv(f.inst);
	ck_assert(argv_has(argv, "lpj=12345"));
	for (const char *const *a = argv; *a; a++)
		ck_assert(strncmp(*a, "lpj=", 4) != 0 || strcmp(*a, "lpj=12345") == 0);
	ck_assert(argv_has(argv, "ssl=null"));
	/* the one-shot mode replaces init by the shell */
	ck_assert_int_eq(uml_instance_set_run_command(f.inst, "true"), 0);
	argv = uml_instance_get_argv(f.inst);
	ck_assert(argv_has(argv, "init=/bin/sh"));
	ck_assert(!argv_has(argv, "init=/sbin/myinit"));
}
END_TEST

START_TEST(default_umid_is_unique_and_valid)
{
	struct uml_instance *other;

	ck_assert_int_eq(uml_instance_new(f.kernel, &other), 0);
	ck_assert_str_ne(uml_instance_get_umid(other), uml_instance_get_umid(f.inst));
	ck_assert_int_eq(uml_instance_set_umid(other, uml_instance_get_umid(f.inst)), 0);
	uml_instance_unref(other);
}
END_TEST

START_TEST(bad_umids)
{
	static const char *const bad[] = { "", "a/b", "..", ".", "has space", "new\nline", "ü" };
	char longname[80], rundir[256];

	snprintf(rundir, sizeof(rundir), "%s", uml_ctx_get_runtime_dir(f.ctx));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(uml_instance_set_umid(f.inst, bad[i]), -EINVAL);
		ck_assert_ptr_nonnull(uml_instance_last_error(f.inst));
	}
	memset(longname, 'a', 64);
	longname[64] = '\0';
	ck_assert_int_eq(uml_instance_set_umid(f.inst, longname), -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(f.inst), "63"));
	longname[63] = '\0';
	ck_assert_int_eq(uml_instance_set_umid(f.inst, longname), 0);
	/* 63 is fine for UML, but not under a long runtime dir: no room for the socket */
	ck_assert_int_eq(uml_ctx_set_runtime_dir(f.ctx, "/tmp/a-rather-long-runtime-directory-name"), 0);
	ck_assert_int_eq(uml_instance_set_umid(f.inst, longname), -ENAMETOOLONG);
	ck_assert_int_eq(uml_instance_boot(f.inst), -ENAMETOOLONG);
	ck_assert_int_eq(uml_ctx_set_runtime_dir(f.ctx, rundir), 0);
	ck_assert_int_eq(uml_instance_set_umid(f.inst, "short"), 0);
	ck_assert_int_eq(uml_instance_set_umid(f.inst, NULL), -EINVAL);
}
END_TEST

START_TEST(bad_kernel_args)
{
	static const char *const bad[] = {
		"", "two words", "new\nline", "tab\there", "mem=1G", "ubd1=x", "umid=x",
		"uml_dir=/x", "con0=null", "init=/x", "root=/dev/x", "mconsole=notify:/x",
	};
	char big[1200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(uml_instance_append_arg(f.inst, bad[i]) == -EINVAL,
			      "'%s' was accepted", bad[i]);
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(f.inst), "mconsole=notify:/x"));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(uml_instance_append_arg(f.inst, big), 0);
	ck_assert_int_eq(uml_instance_append_arg(f.inst, big), 0);
	ck_assert_int_eq(uml_instance_append_arg(f.inst, big), 0);
	ck_assert_int_eq(uml_instance_append_arg(f.inst, big), -E2BIG);
	ck_assert_int_eq(uml_instance_append_arg(f.inst, NULL), -EINVAL);
}
END_TEST

START_TEST(bad_sizes_and_paths)
{
	ck_assert_int_eq(uml_instance_set_memory(f.inst, 0), -ERANGE);
	ck_assert_int_eq(uml_instance_set_memory(f.inst, 15ull << 20), -ERANGE);
	ck_assert_int_eq(uml_instance_set_memory(f.inst, (64ull << 20) + 1), -ERANGE);
	ck_assert_int_eq(uml_instance_set_memory(f.inst, UINT64_MAX), -ERANGE);
	ck_assert_int_eq(uml_instance_set_memory(f.inst, 16ull << 20), 0);
	ck_assert_int_eq(uml_instance_set_init(f.inst, "sbin/init"), -EINVAL);
	ck_assert_int_eq(uml_instance_set_init(f.inst, "/sbin/in it"), -EINVAL);
	ck_assert_int_eq(uml_instance_set_init(f.inst, NULL), 0);
	ck_assert_int_eq(uml_instance_set_ready_marker(f.inst, ""), -EINVAL);
	ck_assert_int_eq(uml_instance_set_ready_marker(f.inst, "two\nlines"), -EINVAL);
	ck_assert_int_eq(uml_instance_set_timeout(f.inst, -1), -ERANGE);
}
END_TEST

START_TEST(bad_run_commands)
{
	char line[1100];

	ck_assert_int_eq(uml_instance_set_run_command(f.inst, "echo \003"), -EINVAL);
	ck_assert_int_eq(uml_instance_set_run_command(f.inst, "echo \033[1m"), -EINVAL);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	ck_assert_int_eq(uml_instance_set_run_command(f.inst, line), -E2BIG);
	ck_assert_int_eq(uml_instance_set_run_command(f.inst, "a\tb\nc 'd'"), 0);
}
END_TEST

START_TEST(missing_root_image)
{
	struct uml_rootfs *missing;
	char path[256];

	snprintf(path, sizeof(path), "%s/no-such.img", th_tmpdir());
	ck_assert_int_eq(uml_rootfs_new(f.ctx, path, &missing), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(f.inst, missing), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(f.inst), path));
	ck_assert_int_eq(uml_instance_get_state(f.inst), UML_STATE_CONFIGURING);
	uml_rootfs_unref(missing);
}
END_TEST

START_TEST(calls_before_boot)
{
	uint64_t t;

	ck_assert_int_eq(uml_instance_wait(f.inst, 0), -ENOTCONN);
	ck_assert_int_eq(uml_instance_wait_ready(f.inst, 0), -ENOTCONN);
	ck_assert_int_eq(uml_instance_halt(f.inst, 0), -ENOTCONN);
	ck_assert_int_eq(uml_instance_kill(f.inst), -ENOTCONN);
	ck_assert_int_eq(uml_instance_get_fd(f.inst), -ENOTCONN);
	ck_assert_int_eq(uml_instance_get_timeout(f.inst, &t), 0);
	ck_assert(t == UINT64_MAX);
	ck_assert_int_eq(uml_instance_get_pid(f.inst), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(f.inst), UML_EXIT_NONE);
	ck_assert_int_eq(uml_instance_get_run_status(f.inst, (int[]){ 0 }), -ENODATA);
	ck_assert_int_eq(uml_instance_write_console(f.inst, "x", 1), -ENOTCONN);
}
END_TEST

/* ---- real guests --------------------------------------------------------- */

struct seen {
	int lines, kernel_up, ready, exited, panic;
	size_t output_bytes;
	int order_ok;
	char exited_text[64];
};

static void on_event(void *ud, struct uml_instance *inst, const struct uml_event *ev)
{
	struct seen *s = ud;

	ck_assert_ptr_eq(inst, f.inst);
	if (ev->type != UML_EVENT_CONSOLE_OUTPUT)
		ck_assert_uint_eq(strlen(ev->text), ev->len);
	switch (ev->type) {
	case UML_EVENT_CONSOLE_OUTPUT:
		s->output_bytes += ev->len;
		break;
	case UML_EVENT_CONSOLE_LINE:
		ck_assert_ptr_null(memchr(ev->text, '\n', ev->len));
		s->lines++;
		break;
	case UML_EVENT_KERNEL_UP:
		s->kernel_up++;
		break;
	case UML_EVENT_READY:
		s->ready++;
		s->order_ok = s->kernel_up == 1 && s->lines > 0;
		break;
	case UML_EVENT_PANIC:
		s->panic++;
		break;
	case UML_EVENT_EXITED:
		s->exited++;
		snprintf(s->exited_text, sizeof(s->exited_text), "%s", ev->text);
		break;
	default:
		break;
	}
}

START_TEST(boot_ready_halt)
{
	struct seen s = { 0 };
	size_t len;
	const char *log;

	uml_instance_set_event_fn(f.inst, on_event, &s);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), -EBUSY);
	ck_assert_int_eq(uml_instance_set_memory(f.inst, 32ull << 20), -EBUSY);
	ck_assert_int_gt(uml_instance_get_pid(f.inst), 0);
	ck_assert_int_ge(uml_instance_get_fd(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait_ready(f.inst, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_get_state(f.inst), UML_STATE_RUNNING);
	ck_assert_int_eq(s.ready, 1);
	ck_assert_msg(s.order_ok, "ready came before kernel-up or any console line");
	ck_assert_int_eq(uml_instance_get_hostcompat_applied(f.inst),
			 uml_ctx_host_needs_compat(f.ctx));
	log = uml_instance_get_console_log(f.inst, &len);
	ck_assert_ptr_nonnull(strstr(log, UML_BUSYBOX_READY_MARKER));
	ck_assert_uint_eq(strlen(log), len);
	/* the raw console bytes came too */
	ck_assert_uint_gt(s.output_bytes, strlen(UML_BUSYBOX_READY_MARKER));
	ck_assert_int_eq(uml_instance_halt(f.inst, 10000), 0);
	ck_assert_int_eq(uml_instance_get_state(f.inst), UML_STATE_EXITED);
	ck_assert_int_eq(uml_instance_get_exit_reason(f.inst), UML_EXIT_HALT);
	ck_assert_int_eq(uml_instance_get_exit_code(f.inst), 0);
	ck_assert_int_eq(uml_instance_get_pid(f.inst), 0);
	ck_assert_int_eq(s.exited, 1);
	ck_assert_str_eq(s.exited_text, "halt");
	ck_assert_int_eq(uml_instance_halt(f.inst, 10000), 0);	/* ended already: fine */
}
END_TEST

START_TEST(one_shot_command)
{
	const char *version, *out;
	char expect[256];
	int status = -1;
	size_t len;

	ck_assert_int_eq(uml_kernel_get_version(f.kernel, &version), 0);
	ck_assert_int_eq(uml_instance_set_run_command(f.inst,
		"uname -r; echo \"it's\" 'quoted'; echo err >&2\nprintf 'no newline'; exit 7"), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait(f.inst, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_get_run_status(f.inst, &status), 0);
	ck_assert_int_eq(status, 7);
	out = uml_instance_get_run_output(f.inst, &len);
	snprintf(expect, sizeof(expect), "%s\nit's quoted\nerr\nno newline", version);
	ck_assert_str_eq(out, expect);
	ck_assert_uint_eq(len, strlen(expect));
	ck_assert_int_eq(uml_instance_get_exit_reason(f.inst), UML_EXIT_HALT);
}
END_TEST

START_TEST(one_shot_success_and_empty_output)
{
	int status = -1;
	size_t len = 99;

	ck_assert_int_eq(uml_instance_set_run_command(f.inst, "true"), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait_ready(f.inst, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_wait(f.inst, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_get_run_status(f.inst, &status), 0);
	ck_assert_int_eq(status, 0);
	ck_assert_str_eq(uml_instance_get_run_output(f.inst, &len), "");
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(one_shot_with_quiet_kernel)
{
	int status = -1;

	/* "quiet" hides the kernel's "Run /bin/sh as init process" line */
	ck_assert_int_eq(uml_instance_append_arg(f.inst, "quiet"), 0);
	ck_assert_int_eq(uml_instance_set_run_command(f.inst, "echo hi; exit 4"), 0);
	ck_assert_int_eq(uml_instance_set_timeout(f.inst, 60000), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait(f.inst, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_get_run_status(f.inst, &status), 0);
	ck_assert_int_eq(status, 4);
	ck_assert_str_eq(uml_instance_get_run_output(f.inst, NULL), "hi\n");
}
END_TEST

START_TEST(poweroff_from_the_guest)
{
	int status;

	ck_assert_int_eq(uml_instance_set_run_command(f.inst, "poweroff -f"), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait(f.inst, BOOT_MS), 0);
	/* kernels without a power-off handler (Debian's 6.1 UML) turn it into a halt */
	ck_assert(uml_instance_get_exit_reason(f.inst) == UML_EXIT_POWEROFF ||
		  uml_instance_get_exit_reason(f.inst) == UML_EXIT_HALT);
	/* the guest's own doing: the kernel's line is the detail */
	ck_assert_ptr_nonnull(uml_instance_get_exit_detail(f.inst));
	ck_assert_ptr_nonnull(strstr(uml_instance_get_exit_detail(f.inst), "reboot: "));
	ck_assert_int_eq(uml_instance_get_run_status(f.inst, &status), -ENODATA);
}
END_TEST

START_TEST(reboot_from_the_guest)
{
	ck_assert_int_eq(uml_instance_set_run_command(f.inst, "reboot -f"), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait(f.inst, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(f.inst), UML_EXIT_REBOOT);
}
END_TEST

START_TEST(panic_is_named)
{
	struct seen s = { 0 };
	const char *msg;

	uml_instance_set_event_fn(f.inst, on_event, &s);
	ck_assert_int_eq(uml_instance_set_run_command(f.inst,
		"echo c > /proc/sysrq-trigger"), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait(f.inst, BOOT_MS), 0);
	ck_assert_str_eq(uml_exit_reason_to_string(uml_instance_get_exit_reason(f.inst)), "panic");
	msg = uml_instance_get_panic_message(f.inst);
	ck_assert_ptr_nonnull(msg);
	ck_assert_msg(strstr(msg, "sysrq"), "panic message '%s'", msg);
	ck_assert_int_ge(s.panic, 1);
	ck_assert_str_eq(s.exited_text, "panic");
}
END_TEST

START_TEST(hang_times_out_and_is_reaped)
{
	ck_assert_int_eq(uml_instance_set_run_command(f.inst, "sleep 1000"), 0);
	ck_assert_int_eq(uml_instance_set_timeout(f.inst, 4000), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait(f.inst, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(f.inst), UML_EXIT_TIMEOUT);
	ck_assert_int_eq(uml_instance_get_exit_signal(f.inst), SIGKILL);
}
END_TEST

START_TEST(wait_timeout_leaves_guest_running)
{
	ck_assert_int_eq(uml_instance_set_run_command(f.inst, "sleep 1000"), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait_ready(f.inst, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_wait(f.inst, 200), -ETIMEDOUT);
	ck_assert_int_eq(uml_instance_get_state(f.inst), UML_STATE_RUNNING);
	ck_assert_int_eq(kill(uml_instance_get_pid(f.inst), 0), 0);
	ck_assert_int_eq(uml_instance_kill(f.inst), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(f.inst), UML_EXIT_KILLED);
}
END_TEST

START_TEST(unref_kills_a_running_guest)
{
	char umid_dir[512];
	pid_t pid;

	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait_ready(f.inst, BOOT_MS), 0);
	pid = uml_instance_get_pid(f.inst);
	snprintf(umid_dir, sizeof(umid_dir), "%s/%s", uml_ctx_get_runtime_dir(f.ctx),
		 uml_instance_get_umid(f.inst));
	ck_assert_int_eq(access(umid_dir, F_OK), 0);
	uml_instance_unref(f.inst);
	ck_assert_int_eq(kill(pid, 0), -1);
	ck_assert_int_eq(access(umid_dir, F_OK), -1);
	/* teardown checks the same instance; give it a fresh one */
	ck_assert_int_eq(uml_instance_new(f.kernel, &f.inst), 0);
}
END_TEST

START_TEST(same_umid_twice_is_refused)
{
	struct uml_instance *second;

	ck_assert_int_eq(uml_instance_set_umid(f.inst, "twin"), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait_ready(f.inst, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_new(f.kernel, &second), 0);
	ck_assert_int_eq(uml_instance_set_umid(second, "twin"), 0);
	ck_assert_int_eq(uml_instance_boot(second), -EEXIST);
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(second), "twin"));
	uml_instance_unref(second);
	/* the first guest is unharmed */
	ck_assert_int_eq(uml_instance_get_state(f.inst), UML_STATE_RUNNING);
	ck_assert_int_eq(uml_instance_halt(f.inst, 10000), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(f.inst), UML_EXIT_HALT);
}
END_TEST

START_TEST(missing_root_device_is_named)
{
	struct uml_instance *bare;

	/* no disk at all: the kernel cannot mount a root */
	ck_assert_int_eq(uml_instance_new(f.kernel, &bare), 0);
	uml_instance_unref(f.inst);
	f.inst = bare;
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait(f.inst, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(f.inst), UML_EXIT_NO_ROOT);
	ck_assert_ptr_nonnull(uml_instance_get_exit_detail(f.inst));
}
END_TEST

START_TEST(missing_init_is_named)
{
	ck_assert_int_eq(uml_instance_set_init(f.inst, "/no/such/init"), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait_ready(f.inst, BOOT_MS), -ECHILD);
	ck_assert_int_eq(uml_instance_get_exit_reason(f.inst), UML_EXIT_NO_INIT);
	ck_assert_ptr_nonnull(strstr(uml_instance_get_exit_detail(f.inst), "/no/such/init"));
}
END_TEST

START_TEST(amx_host_without_fix_is_named)
{
	if (!uml_ctx_host_needs_compat(f.ctx)) {
		fprintf(stderr, "SKIP amx_host_without_fix_is_named: host has no AMX\n");
		return;
	}
	ck_assert_int_eq(uml_ctx_set_hostcompat(f.ctx, UML_HOSTCOMPAT_OFF), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	ck_assert_int_eq(uml_instance_get_hostcompat_applied(f.inst), 0);
	ck_assert_int_eq(uml_instance_wait(f.inst, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(f.inst), UML_EXIT_HOST_INCOMPATIBLE);
	ck_assert_ptr_nonnull(strstr(uml_instance_get_exit_detail(f.inst), "fp regs"));
}
END_TEST

START_TEST(event_loop_drives_the_guest)
{
	struct seen s = { 0 };
	int fd;

	uml_instance_set_event_fn(f.inst, on_event, &s);
	ck_assert_int_eq(uml_instance_set_run_command(f.inst, "echo hi"), 0);
	ck_assert_int_eq(uml_instance_boot(f.inst), 0);
	fd = uml_instance_get_fd(f.inst);
	while (uml_instance_get_state(f.inst) != UML_STATE_EXITED) {
		fd_set rd;
		struct timeval tv = { .tv_sec = 60 };

		FD_ZERO(&rd);
		FD_SET(fd, &rd);
		ck_assert_int_ge(select(fd + 1, &rd, NULL, NULL, &tv), 1);
		ck_assert_int_ge(uml_instance_process(f.inst), 0);
	}
	ck_assert_int_eq(s.exited, 1);
	ck_assert_int_eq(s.kernel_up, 1);
	ck_assert_str_eq(uml_instance_get_run_output(f.inst, NULL), "hi\n");
	/* after the end, the fd is gone and process() has nothing to do */
	ck_assert_int_eq(uml_instance_get_fd(f.inst), -ENOTCONN);
	ck_assert_int_eq(uml_instance_process(f.inst), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("instance");
	TCase *cfg = tcase_create("configure");
	TCase *boot = tcase_create("boot");

	th_busybox_image();
	tcase_add_checked_fixture(cfg, setup, teardown);
	tcase_add_test(cfg, argv_reflects_settings);
	tcase_add_test(cfg, default_umid_is_unique_and_valid);
	tcase_add_test(cfg, bad_umids);
	tcase_add_test(cfg, bad_kernel_args);
	tcase_add_test(cfg, bad_sizes_and_paths);
	tcase_add_test(cfg, bad_run_commands);
	tcase_add_test(cfg, missing_root_image);
	tcase_add_test(cfg, calls_before_boot);
	suite_add_tcase(s, cfg);

	tcase_add_checked_fixture(boot, setup, teardown);
	tcase_set_timeout(cfg, 60);	/* no guests, but a loaded CI host is slow */
	tcase_set_timeout(boot, 120);
	tcase_add_test(boot, boot_ready_halt);
	tcase_add_test(boot, one_shot_command);
	tcase_add_test(boot, one_shot_success_and_empty_output);
	tcase_add_test(boot, one_shot_with_quiet_kernel);
	tcase_add_test(boot, poweroff_from_the_guest);
	tcase_add_test(boot, reboot_from_the_guest);
	tcase_add_test(boot, panic_is_named);
	tcase_add_test(boot, hang_times_out_and_is_reaped);
	tcase_add_test(boot, wait_timeout_leaves_guest_running);
	tcase_add_test(boot, unref_kills_a_running_guest);
	tcase_add_test(boot, same_umid_twice_is_refused);
	tcase_add_test(boot, missing_root_device_is_named);
	tcase_add_test(boot, missing_init_is_named);
	tcase_add_test(boot, amx_host_without_fix_is_named);
	tcase_add_test(boot, event_loop_drives_the_guest);
	suite_add_tcase(s, boot);
	return th_run(s);
}

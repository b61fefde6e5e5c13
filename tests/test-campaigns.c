/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Campaigns with real guests: many boots in one process without leaking
 * anything, and guests that hang, ignore halt, lose their kernel binary,
 * disk or runtime dir while running, flood the console or send garbage.
 * Each must end with a named reason, leave nothing running and keep the
 * host process small and responsive.  (The embedding process being killed
 * with guests running is covered by test-lifecycle.)
 *
 * UML_TEST_CYCLES sets the number of boot/halt cycles (default 200);
 * UML_TEST_FLOOD_MB the console flood (default 64: eight times the console
 * log cap, enough to show the host stays bounded; UML's console moves only
 * ~1 MB/s, so 1024 takes a quarter of an hour).  UML_KERNEL picks a faster
 * kernel for all of it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "testhelp.h"

#define BOOT_MS 120000
/* a guard against hangs only: no test asserts how fast anything is */
#define HANG_GUARD_MS 600000

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static struct uml_ctx *ctx;
static struct uml_kernel *kernel;

static void setup(void)
{
	ctx = th_ctx();
	kernel = th_kernel(ctx);
}

static void teardown(void)
{
	/* nothing of any guest is left in the runtime dir */
	ck_assert_int_eq(th_count_entries(uml_ctx_get_runtime_dir(ctx)), 0);
	uml_kernel_unref(kernel);
	uml_ctx_unref(ctx);
}

static int count_fds(void)
{
	return th_count_entries("/proc/self/fd");
}

static long rss_kib(void)
{
	char *line = NULL;
	size_t cap = 0;
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "re");

	ck_assert_ptr_nonnull(f);
	while (getline(&line, &cap, f) > 0)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	free(line);
	fclose(f);
	return kib;
}

static struct uml_rootfs *image_copy(const char *name)
{
	struct uml_rootfs *r;
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", th_tmpdir(), name);
	ck_assert_int_eq(th_system("cp --sparse=always '%s' '%s'", th_busybox_image(), path), 0);
	ck_assert_int_eq(uml_rootfs_new(ctx, path, &r), 0);
	return r;
}

static struct uml_instance *guest_on(struct uml_kernel *k, struct uml_rootfs *r)
{
	struct uml_instance *vm;

	ck_assert_int_eq(uml_instance_new(k, &vm), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(vm, r), 0);
	ck_assert_int_eq(uml_instance_set_ready_marker(vm, UML_BUSYBOX_READY_MARKER), 0);
	return vm;
}

static void boot_ready(struct uml_instance *vm)
{
	ck_assert_msg(uml_instance_boot(vm) == 0, "boot: %s", uml_instance_last_error(vm));
	if (uml_instance_wait_ready(vm, BOOT_MS) != 0) {
		size_t len;
		const char *log = uml_instance_get_console_log(vm, &len);

		fprintf(stderr, "console (last 2000 bytes):\n%s\n", log + (len > 2000 ? len - 2000 : 0));
		ck_abort_msg("ready: %s", uml_instance_last_error(vm));
	}
}

/* Console lines are watched for one text; every line and byte is counted. */
struct watch {
	const char *want;
	bool seen;
	uint64_t lines, bytes, notifies;
};

static void on_event(void *ud, struct uml_instance *vm, const struct uml_event *ev)
{
	struct watch *w = ud;

	switch (ev->type) {
	case UML_EVENT_CONSOLE_LINE:
		w->lines++;
		if (w->want && memmem(ev->text, ev->len, w->want, strlen(w->want)))
			w->seen = true;
		break;
	case UML_EVENT_CONSOLE_OUTPUT:
		w->bytes += ev->len;
		break;
	case UML_EVENT_NOTIFY:
		w->notifies++;
		break;
	default:
		break;
	}
}

/* A ready guest on a fresh copy of the busybox image, events to w if set. */
static struct uml_instance *started(const char *image, struct watch *w, struct uml_rootfs **r)
{
	struct uml_instance *vm;

	*r = image_copy(image);
	vm = guest_on(kernel, *r);
	if (w)
		uml_instance_set_event_fn(vm, on_event, w);
	boot_ready(vm);
	return vm;
}

static void done(struct uml_instance *vm, struct uml_rootfs *r)
{
	uml_instance_unref(vm);
	uml_rootfs_unref(r);
}

static void say(struct uml_instance *vm, const char *cmd)
{
	size_t len = strlen(cmd);

	ck_assert_int_eq(uml_instance_write_console(vm, cmd, len), (ssize_t)len);
}

/*
 * Runs the guest's event loop until w->want was seen or the guest ended.
 * Between rounds, calls probe (if any) to show the process still answers.
 */
static void run_until_seen(struct uml_instance *vm, struct watch *w,
			   void (*probe)(struct uml_instance *vm))
{
	int ep = uml_instance_get_fd(vm);
	uint64_t rounds = 0;

	ck_assert_int_ge(ep, 0);
	for (int waited = 0; !w->seen && waited < HANG_GUARD_MS; ) {
		struct epoll_event ev;
		int n = epoll_wait(ep, &ev, 1, 100);

		if (n == 0)
			waited += 100;
		ck_assert_int_ge(uml_instance_process(vm), 0);
		if (uml_instance_get_state(vm) == UML_STATE_EXITED)
			break;
		if (probe && ++rounds % 2000 == 0)
			probe(vm);
	}
	ck_assert_msg(w->seen, "'%s' never came; guest %s", w->want,
		      uml_exit_reason_to_string(uml_instance_get_exit_reason(vm)));
}

static void ends_named(struct uml_instance *vm)
{
	pid_t pid = uml_instance_get_pid(vm);

	ck_assert_int_eq(uml_instance_halt(vm, 2000), 0);
	ck_assert_int_eq(uml_instance_get_state(vm), UML_STATE_EXITED);
	ck_assert_int_ne(uml_instance_get_exit_reason(vm), UML_EXIT_NONE);
	ck_assert_ptr_nonnull(uml_exit_reason_to_string(uml_instance_get_exit_reason(vm)));
	/*
	 * the whole process group is gone: libuml waits up to 2 s for the
	 * helpers it killed; under heavy load their teardown takes longer
	 */
	for (int i = 0; i < 30000 && kill(-pid, 0) == 0; i++)
		usleep(1000);
	ck_assert_int_eq(kill(-pid, 0), -1);
	ck_assert_int_eq(th_count_children(), 0);
}

START_TEST(boot_halt_cycles_leak_nothing)
{
	long cycles = th_env_long("UML_TEST_CYCLES", 200), warmup = cycles < 10 ? 1 : 5;
	struct uml_rootfs *r = image_copy("cycles.img");
	int fds = -1;
	long rss = -1;

	for (long i = 0; i < cycles; i++) {
		struct uml_instance *vm = guest_on(kernel, r);

		if (i == warmup) {
			fds = count_fds();
			rss = rss_kib();
		}
		boot_ready(vm);
		ck_assert_int_eq(uml_instance_halt(vm, 10000), 0);
		if (uml_instance_get_exit_reason(vm) != UML_EXIT_HALT) {
			size_t len;
			const char *log = uml_instance_get_console_log(vm, &len);

			fprintf(stderr, "console (last 3000 bytes):\n%s\n",
				log + (len > 3000 ? len - 3000 : 0));
		}
		ck_assert_msg(uml_instance_get_exit_reason(vm) == UML_EXIT_HALT, "cycle %ld: %s: %s (%s)", i,
			      uml_exit_reason_to_string(uml_instance_get_exit_reason(vm)),
			      uml_instance_get_exit_detail(vm), uml_instance_get_panic_message(vm));
		uml_instance_unref(vm);
		ck_assert_int_eq(th_count_children(), 0);
		ck_assert_int_eq(th_count_entries(uml_ctx_get_runtime_dir(ctx)), 0);
	}
	ck_assert_int_eq(count_fds(), fds);
	fprintf(stderr, "%ld boot/halt cycles: fds %d, RSS %ld -> %ld KiB\n", cycles, fds, rss,
		rss_kib());
#ifndef UNDER_ASAN
	/* ASan keeps freed memory in quarantine; it checks leaks itself at exit */
	ck_assert_msg(rss_kib() - rss < 8 * 1024, "RSS grew from %ld to %ld KiB", rss, rss_kib());
#endif
	uml_rootfs_unref(r);
}
END_TEST

START_TEST(guest_ignoring_halt_is_killed)
{
	struct uml_rootfs *r;
	struct uml_instance *vm = started("stopped.img", NULL, &r);

	/* a guest that answers nothing: the whole process group stopped */
	ck_assert_int_eq(kill(-uml_instance_get_pid(vm), SIGSTOP), 0);
	ends_named(vm);
	ck_assert_int_eq(uml_instance_get_exit_reason(vm), UML_EXIT_KILLED);
	ck_assert_int_eq(uml_instance_get_exit_signal(vm), SIGKILL);
	done(vm, r);
}
END_TEST

START_TEST(hung_guest_times_out)
{
	struct uml_rootfs *r;
	struct uml_instance *vm = started("hung.img", NULL, &r);

	/* userspace spins; the kernel still runs */
	say(vm, "while :; do :; done\n");
	ck_assert_int_eq(uml_instance_set_timeout(vm, 1500), 0);
	ck_assert_int_eq(uml_instance_wait(vm, HANG_GUARD_MS), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(vm), UML_EXIT_TIMEOUT);
	ck_assert_int_eq(th_count_children(), 0);
	done(vm, r);
}
END_TEST

START_TEST(kernel_binary_deleted_while_running)
{
	struct uml_rootfs *r = image_copy("nokernel.img");
	struct uml_kernel *copy;
	struct uml_instance *vm, *again;
	char path[256];

	snprintf(path, sizeof(path), "%s/linux-copy", th_tmpdir());
	ck_assert_int_eq(th_system("cp '%s' '%s'", uml_kernel_get_path(kernel), path), 0);
	ck_assert_int_eq(uml_kernel_new_from_path(ctx, path, &copy), 0);
	vm = guest_on(copy, r);
	boot_ready(vm);
	ck_assert_int_eq(unlink(path), 0);
	/* the running guest does not notice: it halts as usual */
	say(vm, "echo still-here\n");
	ck_assert_int_eq(uml_instance_halt(vm, 10000), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(vm), UML_EXIT_HALT);
	/* the next boot from that kernel fails with a reason */
	again = guest_on(copy, r);
	ck_assert_int_eq(uml_instance_boot(again), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(again), path));
	ck_assert_int_eq(th_count_children(), 0);
	uml_instance_unref(again);
	uml_instance_unref(vm);
	uml_kernel_unref(copy);
	uml_rootfs_unref(r);
}
END_TEST

START_TEST(disk_truncated_while_running)
{
	struct watch w = { .want = "after-truncate" };
	struct uml_rootfs *r;
	struct uml_instance *vm = started("truncated.img", &w, &r);
	struct stat st;

	ck_assert_int_eq(truncate(uml_rootfs_get_path(r), 0), 0);
	/* reads past the end of the disk fail in the guest; it goes on */
	say(vm, "cat /bin/* >/dev/null 2>&1; sync; echo after-truncate\n");
	run_until_seen(vm, &w, NULL);
	ends_named(vm);
	/* the image is still the caller's file, untouched by libuml */
	ck_assert_int_eq(stat(uml_rootfs_get_path(r), &st), 0);
	done(vm, r);
}
END_TEST

START_TEST(runtime_dir_removed_under_a_guest)
{
	struct uml_rootfs *r;
	struct uml_instance *vm = started("nodir.img", NULL, &r);
	char keep[256];

	snprintf(keep, sizeof(keep), "%s/keep", th_tmpdir());
	ck_assert_int_eq(th_system("touch '%s'", keep), 0);
	ck_assert_int_eq(th_system("rm -rf '%s'", uml_ctx_get_runtime_dir(ctx)), 0);
	/* no mconsole socket any more: halt must escalate, not hang */
	ck_assert_int_eq(uml_instance_mconsole_version(vm, (char *[]){ NULL }), -ENOENT);
	ends_named(vm);
	/* nothing outside the runtime dir was touched; the dir is not recreated */
	ck_assert_int_eq(access(keep, F_OK), 0);
	ck_assert_int_eq(access(uml_ctx_get_runtime_dir(ctx), F_OK), -1);
	done(vm, r);
}
END_TEST

static void probe_mconsole(struct uml_instance *vm)
{
	char *v = NULL;

	ck_assert_msg(uml_instance_mconsole_version(vm, &v) == 0, "mconsole: %s",
		      uml_instance_last_error(vm));
	free(v);
}

START_TEST(console_flood_stays_bounded)
{
	long mb = th_env_long("UML_TEST_FLOOD_MB", 64);
	struct watch w = { .want = "flood-done" };
	struct uml_rootfs *r;
	struct uml_instance *vm = started("flood.img", &w, &r);
	char cmd[256];
	size_t log_len;
	long rss;

	rss = rss_kib();
	/* long lines and one line without end, through the console */
	snprintf(cmd, sizeof(cmd),
		 "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c %ld; "
		 "head -c 300000 /dev/zero | tr '\\0' x; echo; echo flood-''done\n", mb << 20);
	say(vm, cmd);
	run_until_seen(vm, &w, probe_mconsole);
	uml_instance_get_console_log(vm, &log_len);
	fprintf(stderr, "console flood: %" PRIu64 " bytes, %" PRIu64 " lines; RSS %ld -> %ld KiB, "
		"log %zu bytes\n", w.bytes, w.lines, rss, rss_kib(), log_len);
	ck_assert_uint_ge(w.bytes, (uint64_t)mb << 20);
	ck_assert_uint_le(log_len, 8u << 20);
#ifndef UNDER_ASAN
	ck_assert_msg(rss_kib() - rss < 32 * 1024, "RSS grew from %ld to %ld KiB", rss, rss_kib());
#endif
	ck_assert_int_eq(uml_instance_halt(vm, 10000), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(vm), UML_EXIT_HALT);
	done(vm, r);
}
END_TEST

START_TEST(garbage_on_the_notify_channels)
{
	struct watch w = { .want = "garbage-done" };
	struct uml_rootfs *r;
	struct uml_instance *vm = started("garbage.img", &w, &r);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned char junk[2048];
	long rss;
	int fd;

	rss = rss_kib();
	/* anything local can write to the notify socket: random datagrams */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.%s.notify", uml_ctx_get_runtime_dir(ctx),
		 uml_instance_get_umid(vm));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand() % (int)sizeof(junk));

		for (size_t j = 0; j < n; j++)
			junk[j] = (unsigned char)rand();
		if (i % 3 == 0 && n >= 16)	/* a valid header with a lying length */
			memcpy(junk, (uint32_t[]){ 0xcafebabe, 2, 3, 100000 }, 16);
		if (sendto(fd, junk, n, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
		    errno == EAGAIN)
			ck_assert_int_ge(uml_instance_process(vm), 0);
	}
	close(fd);
	/* and the guest writes its own notifications, many and long */
	say(vm, "i=0; while [ $i -lt 2000 ]; do head -c 4000 /dev/urandom > /proc/mconsole; "
		"i=$((i+1)); done 2>/dev/null; echo garbage-''done\n");
	/* (the guest's kernel may be too busy to answer mconsole meanwhile) */
	run_until_seen(vm, &w, NULL);
	fprintf(stderr, "notify garbage: %" PRIu64 " guest notifications; RSS %ld -> %ld KiB\n",
		w.notifies, rss, rss_kib());
#ifndef UNDER_ASAN
	ck_assert_msg(rss_kib() - rss < 16 * 1024, "RSS grew from %ld to %ld KiB", rss, rss_kib());
#endif
	ck_assert_int_eq(uml_instance_halt(vm, 10000), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(vm), UML_EXIT_HALT);
	done(vm, r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("campaigns");
	TCase *tc = tcase_create("campaigns");

	th_busybox_image();	/* once, before the tests fork */
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 1800);
	tcase_add_test(tc, boot_halt_cycles_leak_nothing);
	tcase_add_test(tc, guest_ignoring_halt_is_killed);
	tcase_add_test(tc, hung_guest_times_out);
	tcase_add_test(tc, kernel_binary_deleted_while_running);
	tcase_add_test(tc, disk_truncated_while_running);
	tcase_add_test(tc, runtime_dir_removed_under_a_guest);
	tcase_add_test(tc, console_flood_stays_bounded);
	tcase_add_test(tc, garbage_on_the_notify_channels);
	suite_add_tcase(s, tc);
	return th_run(s);
}

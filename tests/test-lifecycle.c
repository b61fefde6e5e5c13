/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Many guests, guests in the way of each other, and the embedding process dying. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testhelp.h"

#define BOOT_MS 120000

static struct uml_ctx *ctx;
static struct uml_kernel *kernel;

static void setup(void)
{
	ctx = th_ctx();
	kernel = th_kernel(ctx);
}

static void teardown(void)
{
	ck_assert_int_eq(th_count_entries(uml_ctx_get_runtime_dir(ctx)), 0);
	uml_kernel_unref(kernel);
	uml_ctx_unref(ctx);
}

/* A private copy of the busybox image: UML locks its disks. */
static struct uml_rootfs *image_copy(int i)
{
	struct uml_rootfs *r;
	char path[256];

	snprintf(path, sizeof(path), "%s/copy-%d.img", th_tmpdir(), i);
	ck_assert_int_eq(th_system("cp --sparse=always '%s' '%s'", th_busybox_image(), path), 0);
	ck_assert_int_eq(uml_rootfs_new(ctx, path, &r), 0);
	return r;
}

static struct uml_instance *guest(struct uml_rootfs *r)
{
	struct uml_instance *vm;

	ck_assert_int_eq(uml_instance_new(kernel, &vm), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(vm, r), 0);
	ck_assert_int_eq(uml_instance_set_ready_marker(vm, UML_BUSYBOX_READY_MARKER), 0);
	return vm;
}

/* Boots vm in a thread of its own that then ends. */
static void *boot_and_exit(void *vm)
{
	return (void *)(long)uml_instance_boot(vm);
}

/*
 * The header promises objects may move between threads: a guest outlives
 * the thread that booted it (PR_SET_PDEATHSIG followed that thread and
 * SIGKILLed the kernel when it ended), and still dies with the process.
 */
START_TEST(guest_outlives_its_booting_thread)
{
	struct uml_rootfs *r = image_copy(0);
	struct uml_instance *vm = guest(r);
	pthread_t t;
	void *ret;

	ck_assert_int_eq(pthread_create(&t, NULL, boot_and_exit, vm), 0);
	ck_assert_int_eq(pthread_join(t, &ret), 0);
	ck_assert_int_eq((long)ret, 0);
	ck_assert_msg(uml_instance_wait_ready(vm, BOOT_MS) == 0, "not ready after its thread ended: %s (%s)",
		      uml_instance_last_error(vm),
		      uml_exit_reason_to_string(uml_instance_get_exit_reason(vm)));
	/* still there a while later, and then halted by this thread */
	ck_assert_int_eq(uml_instance_wait(vm, 1000), -ETIMEDOUT);
	ck_assert_int_eq(uml_instance_get_state(vm), UML_STATE_RUNNING);
	ck_assert_int_eq(uml_instance_halt(vm, 10000), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(vm), UML_EXIT_HALT);
	uml_instance_unref(vm);
	uml_rootfs_unref(r);
}
END_TEST

START_TEST(image_in_use_is_refused)
{
	struct uml_rootfs *r = image_copy(0);
	struct uml_instance *first = guest(r), *second = guest(r);
	char *msg;

	ck_assert_int_eq(uml_instance_boot(first), 0);
	ck_assert_int_eq(uml_instance_wait_ready(first, BOOT_MS), 0);
	ck_assert_int_eq(uml_instance_boot(second), -EBUSY);
	msg = strstr(uml_instance_last_error(second), "pid ");
	ck_assert_msg(msg && atoi(msg + 4) > 0, "no pid in '%s'", uml_instance_last_error(second));
	ck_assert_int_eq(uml_instance_get_state(second), UML_STATE_CONFIGURING);
	/* the first guest is unharmed */
	ck_assert_int_eq(uml_instance_get_state(first), UML_STATE_RUNNING);
	ck_assert_int_eq(uml_instance_halt(first, 10000), 0);
	ck_assert_int_eq(uml_instance_get_exit_reason(first), UML_EXIT_HALT);
	/* and once it is gone, the image is free again */
	ck_assert_int_eq(uml_instance_boot(second), 0);
	ck_assert_int_eq(uml_instance_wait_ready(second, BOOT_MS), 0);
	uml_instance_unref(second);
	uml_instance_unref(first);
	uml_rootfs_unref(r);
}
END_TEST

START_TEST(mounted_image_is_refused)
{
	struct uml_rootfs *r;
	struct uml_instance *vm;
	char mnt[256];

	if (geteuid() != 0) {
		fprintf(stderr, "SKIP mounted_image_is_refused: loop mounts need root\n");
		return;
	}
	r = image_copy(1);
	snprintf(mnt, sizeof(mnt), "%s/mnt", th_tmpdir());
	ck_assert_int_eq(th_system("mkdir -p '%s'", mnt), 0);
	if (th_system("mount -o loop,ro '%s' '%s' 2>/dev/null", uml_rootfs_get_path(r), mnt) != 0) {
		fprintf(stderr, "SKIP mounted_image_is_refused: no loop devices here\n");
		uml_rootfs_unref(r);
		return;
	}
	vm = guest(r);
	ck_assert_int_eq(uml_instance_boot(vm), -EBUSY);
	ck_assert_ptr_nonnull(strstr(uml_instance_last_error(vm), mnt));
	ck_assert_int_eq(th_system("umount '%s'", mnt), 0);
	ck_assert_int_eq(uml_instance_boot(vm), 0);
	uml_instance_unref(vm);
	uml_rootfs_unref(r);
}
END_TEST

/* 16 guests driven from one epoll loop, as an embedding tool would. */
START_TEST(sixteen_guests_one_loop)
{
	enum { N = 16 };
	struct uml_rootfs *r[N];
	struct uml_instance *vm[N];
	int ep = epoll_create1(EPOLL_CLOEXEC), ready = 0, ended = 0;

	for (int i = 0; i < N; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		r[i] = image_copy(100 + i);
		vm[i] = guest(r[i]);
		ck_assert_int_eq(uml_instance_boot(vm[i]), 0);
		ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, uml_instance_get_fd(vm[i]), &ev), 0);
	}
	while (ready < N) {
		struct epoll_event ev[N];
		int n = epoll_wait(ep, ev, N, BOOT_MS);

		ck_assert_int_gt(n, 0);
		for (int j = 0; j < n; j++) {
			struct uml_instance *v = vm[ev[j].data.u32];
			bool was = uml_instance_get_state(v) == UML_STATE_RUNNING;

			ck_assert_int_ge(uml_instance_process(v), 0);
			ck_assert_int_ne(uml_instance_get_state(v), UML_STATE_EXITED);
			if (!was && uml_instance_get_state(v) == UML_STATE_RUNNING)
				ready++;
		}
	}
	for (int i = 0; i < N; i++)
		ck_assert_int_ge(th_count_processes(uml_instance_get_umid(vm[i])), 1);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(uml_instance_halt(vm[i], 10000), 0);
		ck_assert_int_eq(uml_instance_get_exit_reason(vm[i]), UML_EXIT_HALT);
		ended++;
		uml_instance_unref(vm[i]);
		uml_rootfs_unref(r[i]);
	}
	ck_assert_int_eq(ended, N);
	close(ep);
}
END_TEST

/* The embedding process is SIGKILLed with 8 guests running: all go within 2 s. */
START_TEST(embedder_killed_leaves_nothing)
{
	char rundir[512], disks[512];
	int sync_pipe[2];
	pid_t child;
	char c;

	snprintf(rundir, sizeof(rundir), "%s", uml_ctx_get_runtime_dir(ctx));
	/* the guests' processes, by their disks (their uml_dir is their sandbox's) */
	snprintf(disks, sizeof(disks), "ubd0=%s/copy-20", th_tmpdir());
	for (int i = 0; i < 8; i++)
		uml_rootfs_unref(image_copy(200 + i));
	ck_assert_int_eq(pipe(sync_pipe), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		struct uml_instance *vm[8];

		for (int i = 0; i < 8; i++) {
			struct uml_rootfs *r;
			char path[256];

			snprintf(path, sizeof(path), "%s/copy-%d.img", th_tmpdir(), 200 + i);
			if (uml_rootfs_new(ctx, path, &r) < 0 || uml_instance_new(kernel, &vm[i]) < 0 ||
			    uml_instance_set_rootfs(vm[i], r) < 0 ||
			    uml_instance_set_ready_marker(vm[i], UML_BUSYBOX_READY_MARKER) < 0 ||
			    uml_instance_boot(vm[i]) < 0)
				_exit(1);
		}
		for (int i = 0; i < 8; i++)
			if (uml_instance_wait_ready(vm[i], BOOT_MS) < 0)
				_exit(1);
		(void)!write(sync_pipe[1], "r", 1);
		pause();
		_exit(0);
	}
	close(sync_pipe[1]);
	ck_assert_int_eq(read(sync_pipe[0], &c, 1), 1);
	ck_assert_int_eq(th_count_processes(disks) > 8, 1);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	for (int i = 0; i < 20 && (th_count_processes(disks) > 0 || th_count_entries(rundir) > 0); i++)
		usleep(100000);
	ck_assert_int_eq(th_count_processes(disks), 0);
	ck_assert_int_eq(th_count_entries(rundir), 0);
	close(sync_pipe[0]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("lifecycle");

	th_busybox_image();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, image_in_use_is_refused);
	tcase_add_test(tc, mounted_image_is_refused);
	tcase_add_test(tc, sixteen_guests_one_loop);
	tcase_add_test(tc, embedder_killed_leaves_nothing);
	tcase_add_test(tc, guest_outlives_its_booting_thread);
	suite_add_tcase(s, tc);
	return th_run(s);
}

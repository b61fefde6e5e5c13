/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uml-many - boot N busybox guests at once from one event loop, the way a
 * larger tool embeds libuml: every guest's fd in one epoll set, its events
 * through one callback, each on its own COW overlay over one shared image.
 * Prints when each guest is ready and how each ended.
 */
#include <errno.h>
#include <popt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <uml/libuml.h>

struct guest {
	struct uml_instance *vm;
	struct uml_rootfs *overlay;
	double ready_ms;
	int index;
	int halting;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double start_ms;

static void on_event(void *userdata, struct uml_instance *vm, const struct uml_event *ev)
{
	struct guest *g = userdata;

	if (ev->type == UML_EVENT_READY) {
		g->ready_ms = now_ms() - start_ms;
		printf("guest %3d %s ready after %.0f ms\n", g->index, uml_instance_get_umid(vm),
		       g->ready_ms);
	} else if (ev->type == UML_EVENT_EXITED) {
		const char *detail = uml_instance_get_exit_detail(vm);

		printf("guest %3d %s ended: %s%s%s\n", g->index, uml_instance_get_umid(vm), ev->text,
		       detail ? ": " : "", detail ? detail : "");
	}
}

int main(int argc, const char **argv)
{
	int count = 8, timeout_sec = 120, status = 0;
	char *kernel_path = NULL, *run = NULL, *mem = NULL;
	struct poptOption table[] = {
		{ "count", 'n', POPT_ARG_INT, &count, 0, "number of guests (default 8)", "N" },
		{ "kernel", 'k', POPT_ARG_STRING, &kernel_path, 0, "UML kernel binary", "PATH" },
		{ "mem", 'm', POPT_ARG_STRING, &mem, 0, "memory per guest in MiB (default 64)", "MIB" },
		{ "run", 'c', POPT_ARG_STRING, &run, 0,
		  "run this shell command in every guest, then halt it (default: halt once ready)",
		  "COMMAND" },
		{ "timeout", 't', POPT_ARG_INT, &timeout_sec, 0, "per-guest limit (default 120)", "SEC" },
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	poptContext pc = poptGetContext("uml-many", argc, argv, table, 0);
	char dir[] = "/tmp/uml-many-XXXXXX", path[4096];
	struct uml_ctx *ctx = NULL;
	struct uml_kernel *kernel = NULL;
	struct uml_rootfs *base = NULL;
	struct guest *guests = NULL;
	int rc, ep = -1, running = 0;

	if ((rc = poptGetNextOpt(pc)) < -1 || count < 1 || count > 4096) {
		fprintf(stderr, "uml-many: bad arguments (see --help)\n");
		poptFreeContext(pc);
		return 2;
	}
	if (!mkdtemp(dir) || uml_ctx_new(&ctx) < 0)
		return 1;
	guests = calloc((size_t)count, sizeof(*guests));
	ep = epoll_create1(EPOLL_CLOEXEC);
	snprintf(path, sizeof(path), "%s/base.img", dir);
	if (!guests || ep < 0 ||
	    (kernel_path ? uml_kernel_new_from_path(ctx, kernel_path, &kernel)
			 : uml_kernel_new_default(ctx, &kernel)) < 0 ||
	    uml_rootfs_new(ctx, path, &base) < 0 || uml_rootfs_create_busybox(base, NULL, 0) < 0)
		goto fail;

	start_ms = now_ms();
	for (int i = 0; i < count; i++) {
		struct guest *g = &guests[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = g };

		g->index = i;
		snprintf(path, sizeof(path), "%s/guest-%d.cow", dir, i);
		if (uml_rootfs_new_cow(base, path, 0, &g->overlay) < 0 ||
		    uml_instance_new(kernel, &g->vm) < 0 ||
		    uml_instance_set_rootfs(g->vm, g->overlay) < 0 ||
		    uml_instance_set_timeout(g->vm, (int64_t)timeout_sec * 1000) < 0 ||
		    (mem && uml_instance_set_memory(g->vm, strtoull(mem, NULL, 10) << 20) < 0) ||
		    (run && uml_instance_set_run_command(g->vm, run) < 0))
			goto fail;
		uml_instance_set_event_fn(g->vm, on_event, g);
		if (uml_instance_boot(g->vm) < 0 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, uml_instance_get_fd(g->vm), &ev) < 0)
			goto fail;
		running++;
	}

	while (running > 0) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 1000);

		for (int i = 0; i < n; i++) {
			struct guest *g = evs[i].data.ptr;

			uml_instance_process(g->vm);
			/* without a command, a ready guest has done its job; ask it to
			 * halt without blocking the loop (its exit comes as an event) */
			if (!run && !g->halting &&
			    uml_instance_get_state(g->vm) == UML_STATE_RUNNING) {
				g->halting = 1;
				uml_instance_mconsole_halt(g->vm);
			}
			if (uml_instance_get_state(g->vm) == UML_STATE_EXITED) {
				running--;
				if (uml_instance_get_exit_reason(g->vm) != UML_EXIT_HALT &&
				    uml_instance_get_exit_reason(g->vm) != UML_EXIT_POWEROFF)
					status = 1;
			}
		}
		/* deadlines of guests without fd activity */
		for (int i = 0; n == 0 && i < count; i++)
			if (uml_instance_get_state(guests[i].vm) != UML_STATE_EXITED &&
			    uml_instance_process(guests[i].vm) >= 0 &&
			    uml_instance_get_state(guests[i].vm) == UML_STATE_EXITED) {
				running--;
				status = 1;
			}
	}
	printf("%d guests, all done after %.0f ms\n", count, now_ms() - start_ms);
	goto out;
fail:
	fprintf(stderr, "uml-many: %s\n", uml_ctx_last_error(ctx) ? uml_ctx_last_error(ctx)
								  : strerror(errno));
	status = 1;
out:
	for (int i = 0; guests && i < count; i++) {
		uml_instance_unref(guests[i].vm);
		uml_rootfs_unref(guests[i].overlay);
		snprintf(path, sizeof(path), "%s/guest-%d.cow", dir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/base.img", dir);
	unlink(path);
	rmdir(dir);
	free(guests);
	if (ep >= 0)
		close(ep);
	uml_rootfs_unref(base);
	uml_kernel_unref(kernel);
	uml_ctx_unref(ctx);
	poptFreeContext(pc);
	return status;
}

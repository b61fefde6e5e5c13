/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The instance as its parts see it.
 *
 * instance.c owns a guest's life: configuration -> argv -> process ->
 * console, notify -> exit reason.  Everything else a guest may have - the
 * exec channel, network interfaces, a one-shot command - is a part: an
 * ops table and its state, added to the instance by the part's own public
 * calls (uml_instance_enable_exec(), uml_instance_add_nat() ...).  The
 * instance walks its list of parts at each stage of the guest's life and
 * knows none of them by name; parts reach the instance only through this
 * header.  The model is util-linux libmount's hooksets.
 */
#ifndef LIBUML_INSTANCE_INTERNAL_H
#define LIBUML_INSTANCE_INTERNAL_H

#include "libuml-private.h"
#include "exit-reason.h"
#include "sandbox.h"

struct uml_instance;

/*
 * What the kernel process starts with.  The instance fills in its own
 * (kernel, memory, disks, consoles, mconsole); each part adds what it needs.
 */
struct uml_launch {
	struct uml_strv args;		/* kernel arguments */
	struct uml_strv env;		/* NAME=VALUE entries added to the kernel's environment */
	struct uml_intv keep_fds;	/* fds the kernel process keeps, at the same numbers */
	struct uml_strv cleanup;	/* paths the watchdog removes if the caller dies */
	struct uml_sandbox *sandbox;	/* where the kernel runs, or NULL: see uml_launch_add_path() */
	bool dry_run;			/* only for uml_instance_get_argv(): nothing was prepared */

	/* settings a part may override before the instance writes them */
	const char *init;		/* init=, or NULL for the kernel's default */
	const char *ready_marker;	/* console text that makes the guest ready, or NULL */
	bool root_rw;			/* "rw" on the kernel line */
};

/*
 * One kind of part.  Every hook is optional; `data` is what the part
 * registered.  Hooks run in the order parts were added.
 */
struct uml_part_ops {
	const char *name;
	/* At boot, before the launch: create what the guest will use (sockets, helpers). */
	int (*prepare)(struct uml_instance *inst, void *data);
	/*
	 * Adds kernel arguments, fds, environment, cleanup and host paths to l.
	 * Also runs for uml_instance_get_argv() without prepare (l->dry_run):
	 * fds not made yet are written as placeholders.
	 */
	int (*launch)(struct uml_instance *inst, void *data, struct uml_launch *l);
	/* After the spawn (ok) or a failed boot (!ok): close the kernel's ends, watch fds. */
	void (*started)(struct uml_instance *inst, void *data, bool ok);
	/* From uml_instance_process(): 1 if it handled anything, else 0. */
	int (*process)(struct uml_instance *inst, void *data);
	/* The part's next deadline (CLOCK_MONOTONIC usec), or UINT64_MAX. */
	uint64_t (*deadline)(struct uml_instance *inst, void *data);
	/* An event of the guest, before the caller's event callback sees it. */
	void (*event)(struct uml_instance *inst, void *data, const struct uml_event *ev);
	/* Whether this part lets the guest count as ready (NULL: it has no say). */
	bool (*ready)(struct uml_instance *inst, void *data);
	/* Shell lines a one-shot command runs first (e.g. interface addresses). */
	int (*run_prologue)(struct uml_instance *inst, void *data, struct uml_buf *script);
	/* The kernel process ended: take what is left, release what the guest used. */
	void (*ended)(struct uml_instance *inst, void *data);
	void (*free)(void *data);
};

struct uml_part {
	const struct uml_part_ops *ops;
	void *data;
};

/* Splits a byte stream into lines. */
struct uml_line_splitter {
	struct uml_buf partial;
	size_t logged;		/* bytes of the partial line already in the log */
};

struct uml_instance {
	int refcount;
	struct uml_ctx *ctx;
	struct uml_kernel *kernel;
	struct uml_rootfs *rootfs;
	char *last_error;

	/* configuration */
	uint64_t memory;
	char *umid;
	struct uml_strv args;		/* the caller's kernel arguments */
	char *init;
	char *ready_marker;
	int64_t timeout_ms;
	enum uml_sandbox_mode sandbox_mode;
	bool sandbox_mode_set;		/* else the ctx's mode applies */
	uml_event_fn event_fn;
	void *event_data;
	char **argv;			/* last built argv */
	struct uml_part *parts;
	size_t n_parts;

	/* a running guest */
	enum uml_state state;
	struct uml_spawn proc;		/* the kernel process and its watchdog */
	int epfd, console_fd, stdio_fd, notify_fd;
	/*
	 * Runtime files: the kernel's uml_dir is a private box (bound into
	 * its sandbox) holding UMID/{pid,mconsole} and the notify socket;
	 * RUNTIME/UMID links to the box's UMID so other tools find the guest.
	 */
	char *box_dir, *umid_link, *umid_dir, *mconsole_path, *notify_path;
	bool sandboxed;			/* this boot runs in a sandbox */
	uid_t sandbox_uid;		/* the kernel's uid and gid on the host */
	gid_t sandbox_gid;
	struct uml_sandbox_keeper keeper;	/* sock -1 until a path is handed in */
	struct uml_line_splitter console_lines, stdio_lines;
	struct uml_buf console_log;
	struct uml_buf console_out;	/* input for the guest not yet written */
	char *marker;			/* the ready marker of this boot, or NULL */
	uint64_t deadline_usec;
	bool kernel_up, timed_out, halt_requested, hostcompat_applied, end_killed;
	bool halt_acked;		/* the kernel answered our mconsole halt */
	bool marker_seen, was_ready;
	int signal_sent;
	bool no_boot_profile;		/* uml_instance_set_boot_profile(inst, 0) */

	/* how it ended */
	enum uml_exit_reason line_reason;	/* the most telling console line */
	char *end_line;
	char *panic_message;
	enum uml_exit_reason reason;
	int exit_signal, exit_code;
};

/* Records a failure of inst (its last error, one log line); returns err. */
#define ifail(inst, err, ...) uml_fail((inst)->ctx, &(inst)->last_error, err, __VA_ARGS__)

/* Adds a part; the instance frees data with ops->free when it goes.  -ENOMEM frees data. */
int uml_instance_add_part(struct uml_instance *inst, const struct uml_part_ops *ops, void *data);
/* The data of the instance's part of this kind, or NULL. */
void *uml_instance_get_part(struct uml_instance *inst, const struct uml_part_ops *ops);
/* Frees and drops the instance's part of this kind, if any (before boot only). */
void uml_instance_remove_part(struct uml_instance *inst, const struct uml_part_ops *ops);

/* Booting or running. */
bool uml_instance_running(struct uml_instance *inst);
/* 0 while configuring, else -EBUSY with a message: "cannot WHAT for guest ...". */
int uml_instance_check_configuring(struct uml_instance *inst, const char *what);
/* Watches fd (readable) in the instance's epoll set, which uml_instance_get_fd() returns. */
int uml_instance_watch_fd(struct uml_instance *inst, int fd);
/* A part's ready() may have changed: the guest becomes ready if everything agrees. */
void uml_instance_update_ready(struct uml_instance *inst);
/* Queues bytes for the guest's console (written as it takes them). */
int uml_instance_console_input(struct uml_instance *inst, const char *data, size_t len);
/* Asks the kernel to halt (mconsole); the process ends later. */
int uml_instance_request_halt(struct uml_instance *inst);
/*
 * The kernel process opens path (as flags say: UML_SB_WRITE, UML_SB_EXEC,
 * UML_SB_DEVICE, UML_SB_OPTIONAL): its sandbox binds it.  A no-op without
 * a sandbox.  0 or -ENOMEM.
 */
int uml_launch_add_path(struct uml_launch *l, const char *path, unsigned flags);
/* The kernel process needs the host's network (it starts a helper that does). */
void uml_launch_use_host_network(struct uml_launch *l);
/*
 * The path at which the running kernel reaches the host's path (allocated
 * in *ret): path itself without a sandbox, else a way into the sandbox made
 * now.  Failures go to the instance's last error.
 */
int uml_instance_reach_path(struct uml_instance *inst, const char *path, char **ret);
/* Handles one datagram of the notify socket (for the fuzzer, too). */
void uml_instance_take_notify(struct uml_instance *inst, const void *buf, size_t n);
/* Appends every part's one-shot prologue to script. */
int uml_instance_run_prologue(struct uml_instance *inst, struct uml_buf *script);

/* boot-profile.c: adds the kernel's boot profile to argv (nothing if it is off); -ENOMEM. */
int uml_boot_profile_args(struct uml_instance *inst, struct uml_strv *argv);

#endif

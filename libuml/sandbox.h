/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sandbox a guest's kernel runs in; see sandbox.c.  Built in the
 * parent (uml_sandbox_add_path(), uml_sandbox_prepare()), entered by the
 * child between clone and exec (uml_sandbox_enter(): no allocation, only
 * system calls).
 */
#ifndef LIBUML_SANDBOX_H
#define LIBUML_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct uml_ctx;

/* What a path in the sandbox is for. */
enum {
	UML_SB_WRITE = 1u << 0,		/* read-write (else read-only) */
	UML_SB_EXEC = 1u << 1,		/* a program: also its loader and libraries */
	UML_SB_DEVICE = 1u << 2,	/* a device node (the bind keeps dev) */
	UML_SB_OPTIONAL = 1u << 3,	/* skip it if it does not exist */
	UML_SB_HANDED_OVER = 1u << 4,	/* the caller gives it to the sandbox's uid (chown) */
};

struct uml_sandbox;

struct uml_sandbox *uml_sandbox_new(void);
void uml_sandbox_free(struct uml_sandbox *sb);
/* The kernel process may open path (absolute), as flags say.  -ENOMEM. */
int uml_sandbox_add_path(struct uml_sandbox *sb, const char *path, unsigned flags);
/* Binds the host's src at path in the sandbox. */
int uml_sandbox_add_bind(struct uml_sandbox *sb, const char *src, const char *path, unsigned flags);
/* Keep the host's network namespace (a tap, a helper the kernel starts). */
void uml_sandbox_set_host_network(struct uml_sandbox *sb);
/* Size limit of the sandbox's /tmp, where UML keeps the guest's memory. */
void uml_sandbox_set_tmp_size(struct uml_sandbox *sb, uint64_t bytes);
/*
 * Resolves the paths, adds the libraries of programs, decides the uid the
 * kernel runs as (as root: nobody when every path allows it, else root
 * without capabilities) and builds what the child does.  Failures go to
 * slot.  Returns 0 or a negative errno.
 */
int uml_sandbox_prepare(struct uml_ctx *ctx, char **slot, struct uml_sandbox *sb);
/* The host uid and gid the kernel will run as (after prepare). */
uid_t uml_sandbox_get_uid(const struct uml_sandbox *sb);
gid_t uml_sandbox_get_gid(const struct uml_sandbox *sb);
/* clone3() flags for the namespaces. */
uint64_t uml_sandbox_clone_flags(const struct uml_sandbox *sb);
/* Parent, after clone: writes the child's uid and gid maps. */
int uml_sandbox_write_maps(const struct uml_sandbox *sb, pid_t child);
/* Child: builds its view and drops its privileges.  0 or -errno. */
int uml_sandbox_enter(const struct uml_sandbox *sb);

/* A process in a running sandbox that holds fds for its kernel. */
struct uml_sandbox_keeper {
	int sock;		/* hands it fds; closing it ends the keeper */
	pid_t inside_pid;	/* its pid in the sandbox */
};
/* Starts the keeper of the sandbox the kernel kpid runs in, as uid/gid. */
int uml_sandbox_keeper_start(pid_t kpid, uid_t uid, gid_t gid, struct uml_sandbox_keeper *k);
/* Makes the host's path reachable in the sandbox; *ret is its path there (allocated). */
int uml_sandbox_keeper_hold(struct uml_sandbox_keeper *k, const char *path, char **ret);

/*
 * Whether this host lets us create the namespaces the sandbox needs (user,
 * mount, pid, ipc, net).  0 if so, else a negative errno and *why.
 */
int uml_sandbox_check_host(const char **why);

#endif

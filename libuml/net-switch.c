/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Switch ports: ethN=vde,DIR,MAC, a port on a vde_switch (vde2) that
 * libuml starts at the first boot and stops with the last reference; the
 * kernel links libvdeplug in statically.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net-internal.h"

#define MAX_SWITCH_NAME 32
#define SWITCH_START_TIMEOUT_MS 5000
#define SWITCH_STOP_TIMEOUT_MS 2000

struct uml_switch {
	int refcount;
	struct uml_ctx *ctx;
	char *name;
	char *dir;			/* vde_switch's control directory */
	struct uml_spawn proc;
	int stdin_fd;			/* closing it makes vde_switch exit */
	bool running;			/* started by us */
	bool foreign;			/* a switch of another process listens there */
	char *last_error;
};


UML_EXPORT int uml_switch_new(struct uml_ctx *ctx, const char *name, struct uml_switch **ret)
{
	struct uml_switch *sw;
	const char *dir;

	if (!ctx || !name || !ret)
		return -EINVAL;
	if (!uml_valid_name(name, MAX_SWITCH_NAME))
		return uml_fail(ctx, NULL, -EINVAL, "switch name '%s' must be 1 to %d characters "
				"from [A-Za-z0-9._-]", name, MAX_SWITCH_NAME);
	dir = uml_ctx_get_runtime_dir(ctx);
	/* vde clients bind DIR/.NNNNN-NNNNN next to DIR/ctl */
	if (strlen(dir) + strlen(name) + 32 > sizeof(((struct sockaddr_un *)0)->sun_path))
		return uml_fail(ctx, NULL, -ENAMETOOLONG, "switch '%s' under runtime dir '%s' "
				"makes a socket path too long", name, dir);
	sw = calloc(1, sizeof(*sw));
	if (!sw)
		return -ENOMEM;
	sw->refcount = 1;
	sw->ctx = uml_ctx_ref(ctx);
	sw->stdin_fd = sw->proc.pidfd = sw->proc.watchdog_fd = -1;
	if (!(sw->name = strdup(name)) || asprintf(&sw->dir, "%s/switch-%s", dir, name) < 0) {
		sw->dir = NULL;
		uml_switch_unref(sw);
		return -ENOMEM;
	}
	*ret = sw;
	return 0;
}

static void switch_stop(struct uml_switch *sw)
{
	siginfo_t si = { 0 };
	struct pollfd p = { .fd = sw->proc.pidfd, .events = POLLIN };

	if (!sw->running)
		return;
	/* EOF on its stdin: vde_switch removes its sockets and exits */
	close(sw->stdin_fd);
	sw->stdin_fd = -1;
	if (poll(&p, 1, SWITCH_STOP_TIMEOUT_MS) <= 0)
		uml_info(sw->ctx, "switch %s did not stop; killing it", sw->name);
	kill(-sw->proc.pid, SIGKILL);
	while (waitid(P_PIDFD, (id_t)sw->proc.pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	uml_spawn_release(&sw->proc);
	uml_rm_rf(sw->dir);
	sw->running = false;
	uml_dbg(sw->ctx, "switch %s stopped", sw->name);
}

static void switch_free(struct uml_switch *sw)
{
	switch_stop(sw);
	uml_ctx_unref(sw->ctx);
	free(sw->name);
	free(sw->dir);
	free(sw->last_error);
	free(sw);
}

UML_DEFINE_REF_UNREF(uml_switch, uml_switch, switch_free)

/* Does something accept connections on DIR/ctl? */
static bool ctl_listening(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl", dir);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Starts the switch unless it runs; a failure goes to slot (the switch's or a guest's). */
static int switch_start(struct uml_switch *sw, char **slot)
{
	extern char **environ;
	/* vde_switch exits on EOF of its stdin: give it a pipe only we write */
	char script[64], *vde = NULL, *ctl = NULL;
	char *cleanup[3] = { NULL };
	int p[2] = { -1, -1 }, r;
	uint64_t until;

	if (sw->running || sw->foreign)
		return 0;
	r = uml_ctx_check_runtime_dir(sw->ctx, slot, true);
	if (r < 0)
		return r;
	if (ctl_listening(sw->dir)) {
		uml_info(sw->ctx, "switch %s: using the switch already running at %s", sw->name,
			 sw->dir);
		sw->foreign = true;
		return 0;
	}
	r = uml_find_program("vde_switch", &vde);
	if (r < 0)
		return uml_fail(sw->ctx, slot, -ENOPKG, "cannot start switch '%s': vde_switch not "
				"found (Debian package vde2)", sw->name);
	uml_rm_rf(sw->dir);	/* sockets left by a switch that died */
	if (pipe2(p, O_CLOEXEC) < 0) {
		r = uml_fail(sw->ctx, slot, -errno, "pipe: %m");
		goto out;
	}
	/* dash takes only fds 0-9 in "<&N": reopen the pipe through /proc */
	snprintf(script, sizeof(script), "exec \"$0\" \"$@\" </proc/self/fd/%d", p[0]);
	if (asprintf(&ctl, "%s/ctl", sw->dir) < 0) {
		ctl = NULL;
		r = -ENOMEM;
		goto out;
	}
	cleanup[0] = ctl;
	cleanup[1] = sw->dir;
	r = uml_spawn(sw->ctx, slot, &(struct uml_spawn_opts){
			.argv = (char *[]){ "/bin/sh", "-c", script, vde, "-s", sw->dir, NULL },
			.envp = environ, .keep_fds = &p[0], .n_keep = 1, .out_fd = -1,
			.cleanup = cleanup }, &sw->proc);
	if (r < 0)
		goto out;
	sw->stdin_fd = p[1];
	p[1] = -1;
	sw->running = true;
	until = uml_now_usec() + SWITCH_START_TIMEOUT_MS * 1000ull;
	while (!ctl_listening(sw->dir)) {
		struct pollfd pfd = { .fd = sw->proc.pidfd, .events = POLLIN };

		if (poll(&pfd, 1, 5) > 0 || uml_now_usec() > until) {
			switch_stop(sw);
			r = uml_fail(sw->ctx, slot, -EIO, "switch '%s': vde_switch %s without "
				     "opening %s", sw->name, pfd.revents ? "exited" : "timed out", ctl);
			goto out;
		}
	}
	uml_info(sw->ctx, "switch %s running (vde_switch pid %d, %s)", sw->name,
		 (int)sw->proc.pid, sw->dir);
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	free(vde);
	free(ctl);
	return r;
}

UML_EXPORT int uml_switch_start(struct uml_switch *sw)
{
	if (!sw)
		return -EINVAL;
	return switch_start(sw, &sw->last_error);
}

UML_EXPORT const char *uml_switch_get_path(struct uml_switch *sw)
{
	return sw ? sw->dir : NULL;
}

UML_EXPORT pid_t uml_switch_get_pid(struct uml_switch *sw)
{
	return sw && sw->running ? sw->proc.pid : 0;
}

UML_EXPORT const char *uml_switch_last_error(struct uml_switch *sw)
{
	return sw ? sw->last_error : NULL;
}

/* ---- as an interface of a guest ------------------------------------------ */

static int port_prepare(struct uml_instance *inst, struct uml_iface *ifc)
{
	return switch_start(ifc->priv, &inst->last_error);
}

static const struct uml_iface_kind switch_kind;

static int port_arg(struct uml_instance *inst, struct uml_iface *ifc, char **ret)
{
	struct uml_switch *sw = ifc->priv;

	/*
	 * vde_plug tells the switch the path of its own socket, which it binds
	 * in the switch's dir: that path must mean the same to both, so a
	 * sandboxed kernel can reach only the switches bound at boot.
	 */
	if (sw && uml_instance_running(inst) && inst->sandboxed &&
	    !uml_net_find_booted(inst, &switch_kind, sw))
		return ifail(inst, -EOPNOTSUPP, "switch '%s' cannot be plugged into running sandboxed "
			     "guest '%s': give it a port on that switch before boot", sw->name,
			     inst->umid);
	return asprintf(ret, "eth%u=vde,%s,%s", ifc->unit, sw ? sw->dir : "", ifc->mac) < 0 ?
	    -ENOMEM : 0;
}

/*
 * The kernel's libvdeplug (vdeplug4's static one) runs vde_plug from $PATH
 * as its helper, which loads two plugins - seqpacket for the kernel's end,
 * vde for the switch's - and binds its own socket next to the switch's.
 */
#define VDE_PLUGINS "/lib/x86_64-linux-gnu/vdeplug/"
static const char *const vde_files[] = {
	"/usr/bin/vde_plug", VDE_PLUGINS "libvdeplug_vde.so", VDE_PLUGINS "libvdeplug_seqpacket.so",
};

static int port_launch(struct uml_instance *inst, struct uml_iface *ifc, struct uml_launch *l)
{
	struct uml_switch *sw = ifc->priv;
	int r = 0;

	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(vde_files); i++)
		r = uml_launch_add_path(l, vde_files[i], UML_SB_EXEC | UML_SB_OPTIONAL);
	return r == 0 && sw ? uml_launch_add_path(l, sw->dir, UML_SB_WRITE) : r;
}

static void port_release(struct uml_iface *ifc)
{
	ifc->priv = uml_switch_unref(ifc->priv);
}

static const struct uml_iface_kind switch_kind = {
	.name = "switch port",
	.hot_add = true,
	.prepare = port_prepare,
	.arg = port_arg,
	.launch = port_launch,
	.release = port_release,
};

UML_EXPORT int uml_instance_add_switch_port(struct uml_instance *inst, struct uml_switch *sw,
					    unsigned *ret_index)
{
	if (!inst || !sw)
		return -EINVAL;
	return uml_net_add_iface(inst, &switch_kind, uml_switch_ref(sw), NULL, NULL, ret_index);
}

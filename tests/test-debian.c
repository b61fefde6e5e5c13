/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Debian and busybox guests: built, configured, checked with e2fsck -fn
 * and booted on Debian's UML kernel to their login prompt.
 *
 * debootstrap needs root and the mirror apt uses.  Its packages are cached
 * across runs (th_cache_dir()), so only the first run on a machine downloads.
 * Tests that need root or the mirror say SKIP and why when either is
 * missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "testhelp.h"

#define SUITE		"bookworm"
#define BOOT_MS		180000
#define PROMPT_MS	60000
/* boot to sshd of a systemd guest: over a minute here when the host is busy */
#define SSH_MS		600000

static bool need_root(const char *test)
{
	if (geteuid() == 0)
		return true;
	fprintf(stderr, "SKIP %s: needs root\n", test);
	return false;
}

/* Can we reach the mirror's host?  (TCP connect, a few seconds at most.) */
static bool mirror_reachable(const char *url)
{
	char host[256], port[8] = "80";
	const char *h = strstr(url, "://"), *end;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	bool ok = false;

	if (!h)
		return false;
	h += 3;
	end = h + strcspn(h, ":/");
	snprintf(host, sizeof(host), "%.*s", (int)(end - h), h);
	if (strncmp(url, "https", 5) == 0)
		strcpy(port, "443");
	if (*end == ':')
		snprintf(port, sizeof(port), "%.*s", (int)strcspn(end + 1, "/"), end + 1);
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return false;
	for (ai = res; ai && !ok; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int err = 0;
		socklen_t el = sizeof(err);

		if (fd < 0)
			continue;
		if ((connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) &&
		    poll(&pfd, 1, 5000) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0)
			ok = true;
		close(fd);
	}
	freeaddrinfo(res);
	return ok;
}

/* The recipe of the Debian tests: bookworm minbase with systemd as init. */
static void debian_recipe(struct uml_rootfs *rootfs)
{
	ck_assert_int_eq(uml_rootfs_set_cache_dir(rootfs, th_cache_dir()), 0);
	ck_assert_int_eq(uml_rootfs_set_variant(rootfs, "minbase"), 0);
	ck_assert_int_eq(uml_rootfs_add_package(rootfs, "systemd-sysv"), 0);
}

/* Root and (unless the recipe is cached) the mirror. */
static bool need_debootstrap(const char *test, struct uml_rootfs *rootfs)
{
	char *cmd;
	int cached;

	if (!need_root(test))
		return false;
	if (access("/usr/sbin/debootstrap", X_OK) != 0) {
		fprintf(stderr, "SKIP %s: debootstrap is not installed\n", test);
		return false;
	}
	ck_assert_int_gt(asprintf(&cmd, "ls %s/debootstrap/" SUITE "-*-minbase-*.tgz >/dev/null "
				  "2>&1", th_cache_dir()), 0);
	cached = th_system("%s", cmd) == 0;
	free(cmd);
	if (!cached && !mirror_reachable(uml_rootfs_get_mirror(rootfs))) {
		fprintf(stderr, "SKIP %s: mirror %s is not reachable and nothing is cached\n", test,
			uml_rootfs_get_mirror(rootfs));
		return false;
	}
	return true;
}

static int e2fsck_clean(const char *image)
{
	return th_system("e2fsck -fn '%s' >/dev/null 2>&1", image);
}

/* Everything the guest wrote on its console, prompts without a newline included. */
static struct uml_buf_t {
	char *data;
	size_t len;
} cons;

static void on_event(void *userdata, struct uml_instance *inst, const struct uml_event *ev)
{
	char *p;

	if (ev->type != UML_EVENT_CONSOLE_OUTPUT)
		return;
	p = realloc(cons.data, cons.len + ev->len + 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p + cons.len, ev->text, ev->len);
	cons.data = p;
	cons.len += ev->len;
	cons.data[cons.len] = '\0';
}

/* Waits until text shows up in the console output after offset `from`. */
static bool wait_console(struct uml_instance *inst, const char *text, size_t from, int timeout_ms)
{
	int waited = 0;

	for (;;) {
		struct pollfd pfd = { .fd = uml_instance_get_fd(inst), .events = POLLIN };

		if (cons.len > from && memmem(cons.data + from, cons.len - from, text, strlen(text)))
			return true;
		if (waited >= timeout_ms || uml_instance_get_state(inst) == UML_STATE_EXITED)
			return false;
		poll(&pfd, 1, 100);
		waited += 100;
		uml_instance_process(inst);
	}
}

/* The end of the console output, for messages. */
static const char *tail(struct uml_instance *inst)
{
	return th_tail(cons.data);
}

static size_t console_len(struct uml_instance *inst)
{
	return cons.len;
}

/* Types a line on the guest's console. */
static void type(struct uml_instance *inst, const char *line)
{
	ck_assert_int_eq(uml_instance_write_console(inst, line, strlen(line)), (int)strlen(line));
}

/*
 * Shuts the logged-in guest down from inside (an mconsole halt would not
 * unmount); UML ends that as a halt or a power-down, depending on the init.
 */
static void power_off(struct uml_instance *inst, int timeout_ms)
{
	enum uml_exit_reason why;

	type(inst, "poweroff\n");
	ck_assert_int_eq(uml_instance_wait(inst, timeout_ms), 0);
	why = uml_instance_get_exit_reason(inst);
	ck_assert_msg(why == UML_EXIT_POWEROFF || why == UML_EXIT_HALT, "ended: %s: %s",
		      uml_exit_reason_to_string(why), tail(inst));
}

static struct uml_instance *boot(struct uml_ctx *ctx, struct uml_rootfs *rootfs, uint64_t mem,
				 const char *marker)
{
	struct uml_kernel *k = th_kernel(ctx);
	struct uml_instance *inst;
	int r;

	ck_assert_int_eq(uml_instance_new(k, &inst), 0);
	uml_kernel_unref(k);
	free(cons.data);
	cons.data = NULL;
	cons.len = 0;
	uml_instance_set_event_fn(inst, on_event, NULL);
	ck_assert_int_eq(uml_instance_set_rootfs(inst, rootfs), 0);
	ck_assert_int_eq(uml_instance_set_memory(inst, mem), 0);
	if (marker)
		ck_assert_int_eq(uml_instance_set_ready_marker(inst, marker), 0);
	ck_assert_int_eq(uml_instance_boot(inst), 0);
	r = uml_instance_wait_ready(inst, BOOT_MS);
	ck_assert_msg(r == 0, "guest not ready (%d, %s): %s", r,
		      uml_exit_reason_to_string(uml_instance_get_exit_reason(inst)),
		      tail(inst));
	return inst;
}

/* ---- settings (no root) ------------------------------------------------------------ */

START_TEST(settings_are_checked)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_rootfs *rootfs;
	char img[256];

	snprintf(img, sizeof(img), "%s/never.img", th_tmpdir());
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	ck_assert_int_eq(uml_rootfs_set_hostname(rootfs, "bad_name"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "bad_name"));
	ck_assert_int_eq(uml_rootfs_set_hostname(rootfs, "-lead"), -EINVAL);
	ck_assert_int_eq(uml_rootfs_set_hostname(rootfs, "a.b-c.example"), 0);
	ck_assert_int_eq(uml_rootfs_set_network(rootfs, "static:10.0.2.15"), -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "PREFIX"));
	ck_assert_int_eq(uml_rootfs_set_network(rootfs, "static:10.0.2.15/33"), -EINVAL);
	ck_assert_int_eq(uml_rootfs_set_network(rootfs, "static:10.0.2.15/24,10.0.2.300"),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "gateway"));
	ck_assert_int_eq(uml_rootfs_set_network(rootfs, "static:10.0.2.15/24,10.0.2.2,1.1.1.1"),
			 0);
	ck_assert_int_eq(uml_rootfs_set_network(rootfs, "dhcp"), 0);
	ck_assert_int_eq(uml_rootfs_set_network(rootfs, "wifi"), -EINVAL);
	ck_assert_int_eq(uml_rootfs_set_root_password(rootfs, "a\nb"), -EINVAL);
	ck_assert_int_eq(uml_rootfs_set_init(rootfs, (enum uml_init_system)42), -EINVAL);
	ck_assert_int_eq(uml_rootfs_add_package(rootfs, "Bad"), -EINVAL);
	ck_assert_int_eq(uml_rootfs_add_package(rootfs, "x;rm"), -EINVAL);
	ck_assert_int_eq(uml_rootfs_add_package(rootfs, "libc6"), 0);
	ck_assert_int_eq(uml_rootfs_set_variant(rootfs, "everything"), -EINVAL);
	ck_assert_int_eq(uml_rootfs_set_arch(rootfs, "--foreign"), -EINVAL);
	ck_assert_int_eq(uml_rootfs_set_mirror(rootfs, "ftp://example.org/debian"), -EINVAL);
	ck_assert_int_eq(uml_rootfs_set_mirror(rootfs, "http://x/ debian"), -EINVAL);
	ck_assert_int_eq(uml_rootfs_create_debootstrap(rootfs, "--help", 0), -EINVAL);
	ck_assert_int_eq(uml_rootfs_create_debootstrap(rootfs, "bookworm", 1u << 20), -EINVAL);
	ck_assert_int_eq(uml_rootfs_configure(rootfs, 1), -EINVAL);
	ck_assert_str_eq(uml_init_system_to_string(UML_INIT_SYSTEMD), "systemd");
	ck_assert_str_eq(uml_init_system_to_string(UML_INIT_BUSYBOX), "busybox");
	ck_assert_ptr_null(uml_init_system_to_string((enum uml_init_system)99));
	ck_assert_int_eq(uml_rootfs_umount(rootfs), -ENOTCONN);
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
}
END_TEST

/* The default mirror is the one apt uses here. */
START_TEST(default_mirror_is_apts)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_rootfs *rootfs;
	char img[256], *out = NULL;
	size_t n = 0;
	FILE *f;

	snprintf(img, sizeof(img), "%s/never.img", th_tmpdir());
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	ck_assert_ptr_nonnull(uml_rootfs_get_mirror(rootfs));
	/* what apt-get itself would fetch from */
	f = popen("apt-get indextargets --format '$(REPO_URI)' 2>/dev/null | grep -v security "
		  "| head -n1", "r");
	ck_assert_ptr_nonnull(f);
	if (getline(&out, &n, f) > 0) {
		out[strcspn(out, "\n")] = '\0';
		if (out[0] && out[strlen(out) - 1] == '/')
			out[strlen(out) - 1] = '\0';
		ck_assert_str_eq(uml_rootfs_get_mirror(rootfs), out);
	} else {
		fprintf(stderr, "note: apt has no index targets; mirror is %s\n",
			uml_rootfs_get_mirror(rootfs));
	}
	pclose(f);
	free(out);
	ck_assert_int_eq(uml_rootfs_set_mirror(rootfs, "http://mirror.example/debian/"), 0);
	ck_assert_str_eq(uml_rootfs_get_mirror(rootfs), "http://mirror.example/debian/");
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
}
END_TEST

/* An image without an init is refused with the reason, not booted into a panic. */
START_TEST(image_without_init_is_refused)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_rootfs *rootfs;
	enum uml_init_system init = UML_INIT_SYSTEMD;
	char dir[256], img[256];

	snprintf(dir, sizeof(dir), "%s/noinit", th_tmpdir());
	snprintf(img, sizeof(img), "%s/noinit.img", th_tmpdir());
	ck_assert_int_eq(th_system("mkdir -p %s/etc %s/sbin && echo x > %s/etc/motd", dir, dir,
				   dir), 0);
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	ck_assert_int_eq(uml_rootfs_create_from_dir(rootfs, dir, 0), 0);
	ck_assert_int_eq(uml_rootfs_get_init_system(rootfs, &init), 0);
	ck_assert_int_eq(init, UML_INIT_UNKNOWN);
	ck_assert_int_eq(uml_rootfs_configure(rootfs, 0), -ENOENT);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "No working init found"));
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "systemd-sysv"));
	ck_assert_int_eq(e2fsck_clean(img), 0);
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
}
END_TEST

/* ---- busybox guests ---------------------------------------------------------------- */

START_TEST(busybox_configured_boots_to_login)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_rootfs *rootfs;
	struct uml_instance *inst;
	enum uml_init_system init;
	char img[256], host[256], *data;
	size_t from;

	snprintf(img, sizeof(img), "%s/bb.img", th_tmpdir());
	snprintf(host, sizeof(host), "%s/injected.txt", th_tmpdir());
	ck_assert_int_eq(th_system("echo 'injected by the host' > %s", host), 0);
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	ck_assert_int_eq(uml_rootfs_create_busybox(rootfs, NULL, 0), 0);
	ck_assert_int_eq(uml_rootfs_copy_in(rootfs, host, "/root/injected.txt", 0), 0);
	ck_assert_int_eq(uml_rootfs_set_hostname(rootfs, "bbguest"), 0);
	ck_assert_int_eq(uml_rootfs_set_network(rootfs, "static:10.0.2.15/24,10.0.2.2,10.0.2.3"),
			 0);
	ck_assert_int_eq(uml_rootfs_set_root_password(rootfs, "s3cret"), 0);
	ck_assert_int_eq(uml_rootfs_configure(rootfs, 0), 0);
	ck_assert_int_eq(uml_rootfs_get_init_system(rootfs, &init), 0);
	ck_assert_int_eq(init, UML_INIT_BUSYBOX);
	ck_assert_int_eq(uml_rootfs_read_file(rootfs, "/etc/hostname", &data, NULL), 0);
	ck_assert_str_eq(data, "bbguest\n");
	free(data);
	ck_assert_int_eq(uml_rootfs_read_file(rootfs, "/etc/network/interfaces", &data, NULL), 0);
	ck_assert_ptr_nonnull(strstr(data, "address 10.0.2.15"));
	ck_assert_ptr_nonnull(strstr(data, "netmask 255.255.255.0"));
	ck_assert_ptr_nonnull(strstr(data, "gateway 10.0.2.2"));
	free(data);
	ck_assert_int_eq(uml_rootfs_read_file(rootfs, "/etc/shadow", &data, NULL), 0);
	ck_assert_msg(strncmp(data, "root:$6$", 8) == 0, "shadow: %s", data);
	free(data);
	/* configuring twice changes nothing that matters */
	ck_assert_int_eq(uml_rootfs_configure(rootfs, 0), 0);
	ck_assert_int_eq(e2fsck_clean(img), 0);

	inst = boot(ctx, rootfs, 64ull << 20, "login:");
	from = console_len(inst);
	/* log in with the password; the injected file and the host name are there */
	type(inst, "root\n");
	ck_assert_msg(wait_console(inst, "assword", from, PROMPT_MS), "no password prompt: %s",
		      tail(inst));
	from = console_len(inst);
	type(inst, "s3cret\n");
	ck_assert_msg(wait_console(inst, "bbguest:", from, PROMPT_MS), "no shell after login: %s",
		      tail(inst));
	from = console_len(inst);
	type(inst, "echo H=$(hostname); cat /root/injected.txt; cat /etc/resolv.conf\n");
	ck_assert_msg(wait_console(inst, "injected by the host", from, PROMPT_MS),
		      "injected file not read: %s", tail(inst));
	ck_assert(wait_console(inst, "H=bbguest", from, PROMPT_MS));
	ck_assert(wait_console(inst, "nameserver 10.0.2.3", from, PROMPT_MS));
	/* busybox init's shutdown unmounts: the filesystem stays clean */
	power_off(inst, PROMPT_MS);
	uml_instance_unref(inst);
	ck_assert_int_eq(e2fsck_clean(img), 0);
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(busybox_autologin)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_rootfs *rootfs;
	struct uml_instance *inst;
	char img[256];
	size_t from;

	snprintf(img, sizeof(img), "%s/bb-auto.img", th_tmpdir());
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	ck_assert_int_eq(uml_rootfs_create_busybox(rootfs, NULL, 0), 0);
	ck_assert_int_eq(uml_rootfs_set_autologin(rootfs, 1), 0);
	ck_assert_int_eq(uml_rootfs_set_network(rootfs, "dhcp"), 0);
	ck_assert_int_eq(uml_rootfs_configure(rootfs, 0), 0);
	inst = boot(ctx, rootfs, 64ull << 20, NULL);	/* the rootfs's marker */
	from = console_len(inst);
	type(inst, "echo U=$(id -u)\n");
	ck_assert_msg(wait_console(inst, "U=0", from, PROMPT_MS), "no root shell: %s",
		      tail(inst));
	ck_assert_int_eq(uml_instance_halt(inst, 5000), 0);
	uml_instance_unref(inst);
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
}
END_TEST

/* ---- Debian guests ------------------------------------------------------------------ */

START_TEST(debian_builds_configures_and_boots)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_rootfs *rootfs;
	struct uml_instance *inst;
	enum uml_init_system init;
	char img[256], *data;
	size_t from;
	int r;

	snprintf(img, sizeof(img), "%s/debian.img", th_tmpdir());
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	if (!need_debootstrap("debian_builds_configures_and_boots", rootfs))
		goto out;
	debian_recipe(rootfs);
	ck_assert_int_eq(uml_rootfs_set_hostname(rootfs, "debian-uml"), 0);
	ck_assert_int_eq(uml_rootfs_set_network(rootfs, "dhcp"), 0);
	ck_assert_int_eq(uml_rootfs_set_root_password(rootfs, "libuml"), 0);
	r = uml_rootfs_create_debootstrap(rootfs, SUITE, 0);
	ck_assert_msg(r == 0, "debootstrap: %d %s", r, uml_rootfs_last_error(rootfs));
	ck_assert_int_eq(th_count_entries(th_tmpdir()) > 0, 1);
	/* no staging directory stays */
	ck_assert_int_ne(th_system("ls -a %s | grep -q debootstrap", th_tmpdir()), 0);
	ck_assert_int_eq(uml_rootfs_get_init_system(rootfs, &init), 0);
	ck_assert_int_eq(init, UML_INIT_SYSTEMD);
	ck_assert_int_eq(uml_rootfs_read_file(rootfs, "/etc/fstab", &data, NULL), 0);
	ck_assert_ptr_nonnull(strstr(data, "/dev/ubda\t/\text4"));
	ck_assert_ptr_nonnull(strstr(data, "proc\t/proc"));
	free(data);
	ck_assert_int_eq(uml_rootfs_read_file(rootfs, "/etc/systemd/network/80-libuml-eth0.network",
					      &data, NULL), 0);
	ck_assert_ptr_nonnull(strstr(data, "DHCP=ipv4"));
	free(data);
	ck_assert_int_eq(uml_rootfs_read_file(rootfs, "/etc/shadow", &data, NULL), 0);
	ck_assert_msg(strncmp(data, "root:$y$", 8) == 0, "shadow: %.40s", data);
	free(data);
	ck_assert_int_eq(e2fsck_clean(img), 0);

	inst = boot(ctx, rootfs, 256ull << 20, NULL);	/* the rootfs's marker: "login:" */
	ck_assert_msg(wait_console(inst, "debian-uml login:", 0, PROMPT_MS), "%s", tail(inst));
	from = console_len(inst);
	type(inst, "root\n");
	ck_assert_msg(wait_console(inst, "assword", from, PROMPT_MS), "no password prompt: %s",
		      tail(inst));
	from = console_len(inst);
	type(inst, "libuml\n");
	ck_assert_msg(wait_console(inst, "root@debian-uml:~#", from, PROMPT_MS),
		      "no shell after login: %s", tail(inst));
	from = console_len(inst);
	type(inst, "echo S=$(hostname)-$(systemctl is-system-running)\n");
	ck_assert_msg(wait_console(inst, "S=debian-uml-", from, PROMPT_MS), "no answer: %s",
		      tail(inst));
	/* a clean shutdown from inside leaves a clean filesystem */
	power_off(inst, BOOT_MS);
	uml_instance_unref(inst);
	ck_assert_int_eq(e2fsck_clean(img), 0);
out:
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
}
END_TEST

static int count_progress(void *userdata, const struct uml_progress *p)
{
	unsigned *n = userdata;

	if (strcmp(p->phase, "download") == 0)
		n[0]++;
	else if (strcmp(p->phase, "copy") == 0)
		n[2]++;
	else if (strcmp(p->phase, "unpack") == 0 || strcmp(p->phase, "configure") == 0) {
		ck_assert_uint_gt(p->total, 0);
		ck_assert_uint_le(p->done, p->total);
		n[1]++;
	}
	return 0;
}

/* A second build of a recipe takes its packages from the cache. */
START_TEST(debian_second_build_is_cached)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_rootfs *rootfs;
	enum uml_init_system init;
	unsigned events[3] = { 0, 0, 0 };
	char img[256], *data;
	int r;

	snprintf(img, sizeof(img), "%s/debian2.img", th_tmpdir());
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	if (!need_debootstrap("debian_second_build_is_cached", rootfs))
		goto out;
	debian_recipe(rootfs);
	r = uml_rootfs_create_debootstrap(rootfs, SUITE, UML_ROOTFS_DEBOOTSTRAP_NO_CONFIGURE);
	ck_assert_msg(r == 0, "first: %s", uml_rootfs_last_error(rootfs));
	uml_ctx_set_progress_fn(ctx, count_progress, events);
	r = uml_rootfs_create_debootstrap(rootfs, SUITE, UML_ROOTFS_CREATE_OVERWRITE |
					  UML_ROOTFS_DEBOOTSTRAP_NO_CONFIGURE);
	ck_assert_msg(r == 0, "second: %s", uml_rootfs_last_error(rootfs));
	ck_assert_int_eq(uml_rootfs_debootstrap_was_cached(rootfs), 1);
	ck_assert_uint_eq(events[0], 0);	/* nothing downloaded */
	/* the installed image copied from the cache: no package installed again */
	ck_assert_uint_gt(events[2], 0);
	ck_assert_uint_eq(events[1], 0);
	ck_assert_int_eq(uml_rootfs_get_init_system(rootfs, &init), 0);
	ck_assert_int_eq(init, UML_INIT_SYSTEMD);
	/* left unconfigured as asked */
	ck_assert_int_eq(uml_rootfs_read_file(rootfs, "/etc/fstab", &data, NULL), 0);
	ck_assert_ptr_nonnull(strstr(data, "UNCONFIGURED"));
	free(data);
	ck_assert_int_eq(e2fsck_clean(img), 0);
out:
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
}
END_TEST

/*
 * ssh from the host into a Debian guest with openssh-server, through a NAT
 * forward of a free host port to its port 22 (the guest takes its address
 * from the NAT's DHCP).  Plain CI stage only: .ci/run sets
 * UML_TEST_SKIP_PLAIN_ONLY for the sanitizer stage, whose slower guests
 * add nothing here.
 */
START_TEST(debian_ssh_through_forward)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_kernel *k = th_kernel(ctx);
	struct uml_rootfs *rootfs;
	struct uml_instance *inst = NULL;
	char img[256], dir[256], sshdir[300], port_s[16];
	unsigned fwd, port = 0;
	time_t until;
	int r, st = -1;

	snprintf(img, sizeof(img), "%s/debian-ssh.img", th_tmpdir());
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	if (getenv("UML_TEST_SKIP_PLAIN_ONLY")) {
		fprintf(stderr, "SKIP debian_ssh_through_forward: plain CI stage only "
			"(UML_TEST_SKIP_PLAIN_ONLY is set)\n");
		goto out;
	}
	if (access("/usr/bin/ssh", X_OK) != 0 || access("/usr/bin/ssh-keygen", X_OK) != 0) {
		fprintf(stderr, "SKIP debian_ssh_through_forward: no ssh client (openssh-client)\n");
		goto out;
	}
	if (!need_debootstrap("debian_ssh_through_forward", rootfs))
		goto out;
	debian_recipe(rootfs);
	ck_assert_int_eq(uml_rootfs_add_package(rootfs, "openssh-server"), 0);
	/* systemd-networkd leaves links "pending" until udev initialized them */
	ck_assert_int_eq(uml_rootfs_add_package(rootfs, "udev"), 0);
	ck_assert_int_eq(uml_rootfs_set_hostname(rootfs, "debian-ssh"), 0);
	ck_assert_int_eq(uml_rootfs_set_network(rootfs, "dhcp"), 0);
	r = uml_rootfs_create_debootstrap(rootfs, SUITE, 0);
	ck_assert_msg(r == 0, "debootstrap: %d %s", r, uml_rootfs_last_error(rootfs));
	/* root logs in with a key made for this test */
	snprintf(dir, sizeof(dir), "%s/ssh-home", th_tmpdir());
	ck_assert_int_eq(th_system("mkdir -p -m 700 %s/.ssh && ssh-keygen -q -t ed25519 -N '' "
				   "-f %s/key && cp %s/key.pub %s/.ssh/authorized_keys && "
				   "chmod 600 %s/.ssh/authorized_keys", dir, dir, dir, dir, dir), 0);
	snprintf(sshdir, sizeof(sshdir), "%s/.ssh", dir);
	r = uml_rootfs_copy_in(rootfs, sshdir, "/root/.ssh", UML_ROOTFS_COPY_OVERWRITE);
	ck_assert_msg(r == 0, "copy_in: %s", uml_rootfs_last_error(rootfs));

	ck_assert_int_eq(uml_instance_new(k, &inst), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(inst, rootfs), 0);
	ck_assert_int_eq(uml_instance_set_memory(inst, 256ull << 20), 0);
	ck_assert_int_eq(uml_instance_add_nat(inst, NULL), 0);
	ck_assert_int_eq(uml_instance_add_port_forward(inst, 0, UML_FWD_TCP, "127.0.0.1", 0, 22,
						       &fwd), 0);
	r = uml_instance_boot(inst);
	ck_assert_msg(r == 0, "boot: %s", uml_instance_last_error(inst));
	ck_assert_int_eq(uml_instance_get_port_forward(inst, 0, fwd, NULL, NULL, &port, NULL), 0);
	snprintf(port_s, sizeof(port_s), "%u", port);
	/* sshd comes up a while after the boot: try until it lets us in */
	for (until = time(NULL) + SSH_MS / 1000; time(NULL) < until && st != 0;) {
		pid_t pid = fork();

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			char key[300];

			snprintf(key, sizeof(key), "%s/key", dir);
			execl("/usr/bin/ssh", "ssh", "-q", "-i", key, "-p", port_s, "-o", "BatchMode=yes",
			      "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
			      "-o", "ConnectTimeout=10", "root@127.0.0.1",
			      "test \"$(hostname)\" = debian-ssh && echo ssh-$((6*7))", (char *)NULL);
			_exit(127);
		}
		/* keep the guest's console drained while ssh runs */
		for (int i = 0; i < 600 && waitpid(pid, &st, WNOHANG) == 0; i++) {
			struct pollfd p = { .fd = uml_instance_get_fd(inst), .events = POLLIN };

			poll(&p, 1, 100);
			uml_instance_process(inst);
		}
		if (waitpid(pid, &st, WNOHANG) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
		ck_assert_int_ne(uml_instance_get_state(inst), UML_STATE_EXITED);
		if (st != 0)
			sleep(2);
	}
	if (st != 0)
		fprintf(stderr, "console:\n%s\n", uml_instance_get_console_log(inst, NULL));
	ck_assert_msg(st == 0, "no ssh login through 127.0.0.1:%u within %d s", port, SSH_MS / 1000);
	ck_assert_int_eq(uml_instance_halt(inst, -1), 0);
out:
	uml_instance_unref(inst);
	uml_rootfs_unref(rootfs);
	uml_kernel_unref(k);
	uml_ctx_unref(ctx);
}
END_TEST

START_TEST(debootstrap_without_root_is_eperm)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_rootfs *rootfs;
	char img[256];

	snprintf(img, sizeof(img), "%s/noroot.img", th_tmpdir());
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	/* forked test: dropping root here does not leak into other tests */
	if (geteuid() == 0)
		ck_assert_int_eq(seteuid(65534), 0);
	ck_assert_int_eq(uml_rootfs_create_debootstrap(rootfs, SUITE, 0), -EPERM);
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "needs root"));
	ck_assert_int_eq(uml_rootfs_mount(rootfs, "/mnt", 0), -EPERM);
	ck_assert_int_ne(access(img, F_OK), 0);
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
	/*
	 * Back to root, and dumpable again (an euid change clears it):
	 * LeakSanitizer cannot inspect a process that is not.
	 */
	if (getuid() == 0) {
		ck_assert_int_eq(seteuid(0), 0);
		ck_assert_int_eq(prctl(PR_SET_DUMPABLE, 1), 0);
	}
}
END_TEST

START_TEST(unreachable_mirror_is_reported)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_rootfs *rootfs;
	char img[256], cdir[256];
	int r;

	if (!need_root("unreachable_mirror_is_reported"))
		return;
	snprintf(img, sizeof(img), "%s/nomirror.img", th_tmpdir());
	snprintf(cdir, sizeof(cdir), "%s/cache-nomirror", th_tmpdir());
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	ck_assert_int_eq(uml_rootfs_set_cache_dir(rootfs, cdir), 0);
	/* nothing listens on the discard port */
	ck_assert_int_eq(uml_rootfs_set_mirror(rootfs, "http://127.0.0.1:9/debian"), 0);
	r = uml_rootfs_create_debootstrap(rootfs, SUITE, 0);
	ck_assert_int_eq(r, -EIO);
	ck_assert_msg(strstr(uml_rootfs_last_error(rootfs), "release file") ||
		      strstr(uml_rootfs_last_error(rootfs), "Release"),
		      "message: %s", uml_rootfs_last_error(rootfs));
	ck_assert_int_ne(access(img, F_OK), 0);
	/* no half cache entry, no staging directory */
	ck_assert_int_ne(th_system("ls %s/debootstrap/ | grep -q 'tgz$'", cdir), 0);
	ck_assert_int_ne(th_system("ls -a %s | grep -q '^.nomirror.img'", th_tmpdir()), 0);
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
}
END_TEST

static char small_dir[256];

/* Also runs when an assertion ends the forked test early. */
static void unmount_small(void)
{
	if (small_dir[0])
		umount2(small_dir, MNT_DETACH);
}

/* A full disk while building: a clear error and no image that looks good. */
START_TEST(full_disk_is_reported)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_rootfs *rootfs;
	char dir[256], img[300];
	int r;

	if (!need_root("full_disk_is_reported"))
		return;
	snprintf(dir, sizeof(dir), "%s/small", th_tmpdir());
	snprintf(img, sizeof(img), "%s/guest.img", dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(mount("tmpfs", dir, "tmpfs", 0, "size=24m"), 0);
	snprintf(small_dir, sizeof(small_dir), "%s", dir);
	atexit(unmount_small);

	/* the busybox guest: image bigger than the disk */
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	ck_assert_int_eq(uml_rootfs_set_size(rootfs, 256ull << 20), 0);
	/* fill most of the disk first */
	ck_assert_int_eq(th_system("dd if=/dev/zero of=%s/fill bs=1M count=22 2>/dev/null", dir),
			 0);
	r = uml_rootfs_create_busybox(rootfs, NULL, 0);
	ck_assert_msg(r == -ENOSPC, "busybox on a full disk: %d %s", r,
		      uml_rootfs_last_error(rootfs));
	ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "space"));
	ck_assert_int_ne(access(img, F_OK), 0);
	ck_assert_int_eq(th_count_entries(dir), 1);	/* just the filler */

	/* a Debian guest: copied from the cache, then made by debootstrap itself */
	if (need_debootstrap("full_disk_is_reported (debootstrap part)", rootfs)) {
		debian_recipe(rootfs);
		for (int pass = 0; pass < 2; pass++) {
			char cdir[300];

			if (pass == 1) {
				if (!mirror_reachable(uml_rootfs_get_mirror(rootfs))) {
					fprintf(stderr, "SKIP full_disk_is_reported (download part): "
						"mirror not reachable\n");
					break;
				}
				/* an empty cache: debootstrap downloads onto the full disk */
				snprintf(cdir, sizeof(cdir), "%s/cache-full", th_tmpdir());
				ck_assert_int_eq(uml_rootfs_set_cache_dir(rootfs, cdir), 0);
			}
			r = uml_rootfs_create_debootstrap(rootfs, SUITE, 0);
			ck_assert_msg(r == -ENOSPC, "Debian guest on a full disk (pass %d): %d %s",
				      pass, r, uml_rootfs_last_error(rootfs));
			ck_assert_ptr_nonnull(strstr(uml_rootfs_last_error(rootfs), "No space left"));
			ck_assert_int_ne(access(img, F_OK), 0);
			ck_assert_int_eq(th_count_entries(dir), 1);
		}
	}
	uml_rootfs_unref(rootfs);
	ck_assert_int_eq(umount(dir), 0);
	small_dir[0] = '\0';
	uml_ctx_unref(ctx);
}
END_TEST

/* ---- loop mounts -------------------------------------------------------------------- */

START_TEST(loop_mount_and_detach)
{
	struct uml_ctx *ctx = th_ctx();
	struct uml_rootfs *rootfs;
	char img[256], mnt[256], path[300], buf[64] = "";
	FILE *f;

	if (!need_root("loop_mount_and_detach"))
		return;
	if (access("/dev/loop-control", F_OK) != 0) {
		fprintf(stderr, "SKIP loop_mount_and_detach: no loop devices here\n");
		return;
	}
	snprintf(img, sizeof(img), "%s/mnt.img", th_tmpdir());
	snprintf(mnt, sizeof(mnt), "%s/mnt", th_tmpdir());
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	ck_assert_int_eq(uml_rootfs_new(ctx, img, &rootfs), 0);
	ck_assert_int_eq(uml_rootfs_create_busybox(rootfs, NULL, 0), 0);
	ck_assert_int_eq(uml_rootfs_mount(rootfs, mnt, 0), 0);
	ck_assert_str_eq(uml_rootfs_get_mountpoint(rootfs), mnt);
	ck_assert_int_eq(uml_rootfs_mount(rootfs, mnt, 0), -EBUSY);
	/* a guest's setuid files and device nodes mean nothing on the host */
	ck_assert_int_eq(th_system("findmnt -n -o OPTIONS %s | grep -q 'nosuid.*nodev'", mnt), 0);
	snprintf(path, sizeof(path), "%s/etc/hostname", mnt);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	ck_assert_str_eq(buf, "uml\n");
	/* a live tree: write through the mount */
	ck_assert_int_eq(th_system("echo live > %s/etc/motd", mnt), 0);
	ck_assert_int_eq(th_system("losetup -j %s | grep -q loop", img), 0);
	ck_assert_int_eq(uml_rootfs_umount(rootfs), 0);
	ck_assert_ptr_null(uml_rootfs_get_mountpoint(rootfs));
	ck_assert_int_ne(th_system("grep -q ' %s ' /proc/self/mounts", mnt), 0);
	ck_assert_int_ne(th_system("losetup -j %s | grep -q loop", img), 0);
	ck_assert_int_eq(e2fsck_clean(img), 0);

	/* freed while mounted: unmounted and detached all the same */
	ck_assert_int_eq(uml_rootfs_mount(rootfs, mnt, UML_ROOTFS_MOUNT_READONLY), 0);
	uml_rootfs_unref(rootfs);
	ck_assert_int_ne(th_system("grep -q ' %s ' /proc/self/mounts", mnt), 0);
	ck_assert_int_ne(th_system("losetup -j %s | grep -q loop", img), 0);
	uml_ctx_unref(ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("debian");
	TCase *quick = tcase_create("settings"), *bb = tcase_create("busybox");
	TCase *deb = tcase_create("debian"), *root = tcase_create("root");
	TCase *ssh = tcase_create("ssh");

	/* made here, so the forked tests share it and th_run() removes it */
	th_tmpdir();
	tcase_add_test(quick, settings_are_checked);
	tcase_add_test(quick, default_mirror_is_apts);
	tcase_add_test(quick, image_without_init_is_refused);
	suite_add_tcase(s, quick);
	/* quick, but they run programs (apt-get): a loaded CI host needs more than 4 s */
	tcase_set_timeout(quick, 60);
	tcase_set_timeout(bb, 240);
	tcase_add_test(bb, busybox_configured_boots_to_login);
	tcase_add_test(bb, busybox_autologin);
	suite_add_tcase(s, bb);
	tcase_set_timeout(deb, 900);
	tcase_add_test(deb, debian_builds_configures_and_boots);
	tcase_add_test(deb, debian_second_build_is_cached);
	suite_add_tcase(s, deb);
	tcase_set_timeout(ssh, 1200);
	tcase_add_test(ssh, debian_ssh_through_forward);
	suite_add_tcase(s, ssh);
	tcase_set_timeout(root, 600);
	tcase_add_test(root, debootstrap_without_root_is_eperm);
	tcase_add_test(root, unreachable_mirror_is_reported);
	tcase_add_test(root, full_disk_is_reported);
	tcase_add_test(root, loop_mount_and_detach);
	suite_add_tcase(s, root);
	return th_run(s);
}

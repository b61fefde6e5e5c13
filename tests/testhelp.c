/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testhelp.h"

static char tmpdir[64];
static char image[128];

const char *th_tmpdir(void)
{
	if (!tmpdir[0]) {
		strcpy(tmpdir, "/tmp/libuml-test-XXXXXX");
		if (!mkdtemp(tmpdir))
			abort();
	}
	return tmpdir;
}

const char *th_cache_dir(void)
{
	static char cache[512];
	const char *env = getenv("UML_TEST_CACHE");
	const char *home = getenv("HOME");

	if (cache[0])
		return cache;
	if (env && env[0] == '/')
		snprintf(cache, sizeof(cache), "%s", env);
	else if (th_system("mkdir -p /var/cache/libuml-test 2>/dev/null") == 0 &&
		 access("/var/cache/libuml-test", W_OK) == 0)
		snprintf(cache, sizeof(cache), "/var/cache/libuml-test");
	else
		snprintf(cache, sizeof(cache), "%s/.cache/libuml-test", home ? home : "/tmp");
	return cache;
}

struct uml_ctx *th_ctx(void)
{
	struct uml_ctx *ctx;
	char run[128];

	ck_assert_int_eq(uml_ctx_new(&ctx), 0);
	snprintf(run, sizeof(run), "%s/run", th_tmpdir());
	ck_assert_int_eq(uml_ctx_set_runtime_dir(ctx, run), 0);
	return ctx;
}

const char *th_busybox_image(void)
{
	struct uml_ctx *ctx;
	struct uml_rootfs *rootfs;
	int r;

	if (image[0])
		return image;
	snprintf(image, sizeof(image), "%s/busybox.img", th_tmpdir());
	/* made already by an earlier test of this program (tests fork) */
	if (access(image, F_OK) == 0)
		return image;
	if (uml_ctx_new(&ctx) < 0 || uml_rootfs_new(ctx, image, &rootfs) < 0)
		abort();
	r = uml_rootfs_create_busybox(rootfs, NULL, 0);
	if (r < 0) {
		fprintf(stderr, "cannot make the busybox fixture: %s\n", uml_ctx_last_error(ctx));
		abort();
	}
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
	return image;
}

struct uml_kernel *th_kernel(struct uml_ctx *ctx)
{
	struct uml_kernel *k = NULL;
	int r = uml_kernel_new_default(ctx, &k);

	ck_assert_msg(r == 0, "no UML kernel: %s (apt-get install user-mode-linux)",
		      uml_ctx_last_error(ctx));
	return k;
}

int th_count_processes(const char *text)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char path[300], buf[8192];
		ssize_t len;
		int fd;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		for (ssize_t i = 0; i < len; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[len] = '\0';
		if (strstr(buf, text))
			n++;
	}
	closedir(d);
	return n;
}

int th_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

int th_system(const char *fmt, ...)
{
	char *cmd;
	va_list ap;
	int st;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	st = system(cmd);
	free(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool th_no_boot(const char *test)
{
	if (!getenv("UML_TEST_NO_BOOT"))
		return false;
	fprintf(stderr, "SKIP %s: UML_TEST_NO_BOOT is set (a valgrind run: no guests, no kernel runs, no host CPU features)\n", test);
	return true;
}

int th_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	/* made here, before the tests fork, so that every test shares one */
	th_tmpdir();
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (tmpdir[0])
		th_system("rm -rf '%s'", tmpdir);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

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

const char *th_kunit_tools(void)
{
	static char dir[700];
	const char *tarball = "/usr/src/linux-source-6.12.tar.xz";
	char top[600];
	struct stat st;

	if (dir[0])
		return dir;
	if (stat(tarball, &st) < 0) {
		fprintf(stderr, "SKIP: %s is missing (apt-get install linux-source-6.12)\n", tarball);
		return NULL;
	}
	snprintf(top, sizeof(top), "%s/kunit-tools-%lld-%lld", th_cache_dir(), (long long)st.st_size,
		 (long long)st.st_mtime);
	snprintf(dir, sizeof(dir), "%s/linux/tools/testing/kunit", top);
	if (access(dir, F_OK) == 0)
		return dir;
	/* a private directory renamed into place: concurrent runs never see half */
	if (th_system("set -e; t=$(mktemp -d '%s.XXXXXX'); "
		      "tar -xf '%s' -C \"$t\" --wildcards '*/tools/testing/kunit/*'; "
		      "mv \"$t\"/linux-source-6.12 \"$t\"/linux; "
		      "mv -T \"$t\" '%s' 2>/dev/null || rm -rf \"$t\"", top, tarball, top) != 0 ||
	    access(dir, F_OK) != 0) {
		fprintf(stderr, "cannot extract tools/testing/kunit from %s\n", tarball);
		abort();
	}
	return dir;
}

bool th_json_equal(const char *a, const char *b)
{
	return th_system("/usr/bin/python3 -c 'import json,sys; "
			 "sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "
			 "'%s' '%s'", a, b) == 0;
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

long th_env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : def;
}

struct uml_kernel *th_kernel(struct uml_ctx *ctx)
{
	struct uml_kernel *k = NULL;
	int r = uml_kernel_new_default(ctx, &k);

	ck_assert_msg(r == 0, "no UML kernel: %s (apt-get install user-mode-linux)",
		      uml_ctx_last_error(ctx));
	return k;
}

struct uml_kernel *th_fast_kernel(struct uml_ctx *ctx, const char *test)
{
	struct uml_kernel *k = NULL;
	char path[600];

	snprintf(path, sizeof(path), "%s/fast/linux", th_cache_dir());
	if (access(path, X_OK) < 0) {
		fprintf(stderr, "SKIP %s: no %s (test-kernel-build makes it)\n", test, path);
		return NULL;
	}
	ck_assert_int_eq(uml_kernel_new_from_path(ctx, path, &k), 0);
	return k;
}

/* Reads /proc/PID/FILE into buf (NUL-terminated); its length, or -1. */
static ssize_t proc_read(const char *pid, const char *file, char *buf, size_t size)
{
	char path[300];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/%s", pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = read(fd, buf, size - 1);
	close(fd);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	return len;
}

/* Counts the processes for which match(pid's name in /proc, data) is true. */
static int count_procs(bool (*match)(const char *pid, const void *data), const void *data)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' && match(de->d_name, data))
			n++;
	closedir(d);
	return n;
}

static bool cmdline_mentions(const char *pid, const void *text)
{
	char buf[8192];
	ssize_t len = proc_read(pid, "cmdline", buf, sizeof(buf));

	if (len <= 0)
		return false;
	for (ssize_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	return strstr(buf, text) != NULL;
}

int th_count_processes(const char *text)
{
	return count_procs(cmdline_mentions, text);
}

static bool is_child(const char *pid, const void *unused)
{
	char buf[512], *p;
	long ppid;

	if (proc_read(pid, "stat", buf, sizeof(buf)) <= 0)
		return false;
	/* pid (comm) state ppid: comm may hold anything but ends at the last ')' */
	p = strrchr(buf, ')');
	return p && sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == (long)getpid();
}

int th_count_children(void)
{
	return count_procs(is_child, NULL);
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

const char *th_tail(const char *text)
{
	size_t len;

	if (!text)
		return "";
	len = strlen(text);
	if (len <= 1500)
		return text;
	fprintf(stderr, "---- whole text ----\n%s\n---- end ----\n", text);
	return text + len - 1500;
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

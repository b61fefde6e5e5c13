/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "busybox-image.h"

static int run_quiet(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static int write_text(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len)
		r = -EIO;
	close(fd);
	return r;
}

/* buf = a/b; -ENAMETOOLONG if it does not fit */
static int join(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int busybox_image_make(const char *dir, const char *init_script, char **img)
{
	static const char *const dirs[] = { "tree", "tree/bin", "tree/proc", "tree/dev" };
	static const char *const applets[] = { "sh", "mount", "sleep", "cat", "echo" };
	char path[4096], tree[4096];
	char *cp[] = { "/bin/cp", "/bin/busybox", path, NULL };
	int r;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		r = join(path, sizeof(path), dir, dirs[i]);
		if (r < 0)
			return r;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	r = join(tree, sizeof(tree), dir, "tree");
	if (r == 0)
		r = join(path, sizeof(path), tree, "bin/busybox");
	if (r == 0)
		r = run_quiet(cp);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
		char name[32];

		snprintf(name, sizeof(name), "bin/%s", applets[i]);
		r = join(path, sizeof(path), tree, name);
		if (r < 0)
			return r;
		if (symlink("busybox", path) < 0 && errno != EEXIST)
			return -errno;
	}
	r = join(path, sizeof(path), tree, "init");
	if (r == 0)
		r = write_text(path, init_script, 0755);
	if (r < 0)
		return r;
	if (asprintf(img, "%s/root.img", dir) < 0)
		return -ENOMEM;
	{
		char *mke2fs[] = { "/sbin/mke2fs", "-q", "-t", "ext4", "-d", tree, *img, "32M", NULL };

		r = run_quiet(mke2fs);
	}
	if (r < 0) {
		free(*img);
		*img = NULL;
	}
	return r;
}

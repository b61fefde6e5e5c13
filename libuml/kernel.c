/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* UML kernel binaries: found, checked without running them, probed. */
#include "config.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libuml-private.h"

#define PROBE_TIMEOUT_MS 10000

struct uml_kernel {
	int refcount;
	struct uml_ctx *ctx;
	char *path;
	bool is_static;
	char *version;		/* cached --version answer */
	char *config;		/* cached --showconfig answer */
	char *config_value;	/* last value returned by uml_kernel_get_config() */
	char *last_error;
};

#define kfail(k, err, ...) uml_fail((k)->ctx, &(k)->last_error, err, __VA_ARGS__)

/*
 * Every UML kernel carries its command line setup strings; "uml_dir=" and
 * "umid=" come from arch/um/os-Linux/umid.c, which is always built.
 */
static bool image_is_uml(const void *map, size_t size)
{
	return memmem(map, size, "uml_dir=", 8) && memmem(map, size, "umid=", 5);
}

static int check_elf(struct uml_ctx *ctx, char **slot, const char *path, int fd, off_t size,
		     bool *is_static)
{
	const unsigned char *map;
	const Elf64_Ehdr *eh;
	int r = 0;

	if (size < (off_t)sizeof(Elf64_Ehdr))
		return uml_fail(ctx, slot, -ENOEXEC, "'%s' is not an ELF binary (too short)", path);
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return uml_fail(ctx, slot, -errno, "cannot map '%s': %m", path);
	eh = (const Elf64_Ehdr *)map;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0) {
		r = uml_fail(ctx, slot, -ENOEXEC, "'%s' is not an ELF binary%s", path,
			     map[0] == '#' && map[1] == '!' ? " (it is a script)" : "");
		goto out;
	}
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_X86_64 ||
	    (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)) {
		r = uml_fail(ctx, slot, -EMEDIUMTYPE,
			     "'%s' is not an x86-64 executable, so not a UML kernel for this host",
			     path);
		goto out;
	}
	if (!image_is_uml(map, (size_t)size)) {
		r = uml_fail(ctx, slot, -EMEDIUMTYPE,
			     "'%s' is an ELF binary but not a User Mode Linux kernel", path);
		goto out;
	}
	*is_static = true;
	if (eh->e_phoff < (uint64_t)size && eh->e_phentsize == sizeof(Elf64_Phdr) &&
	    eh->e_phnum <= ((uint64_t)size - eh->e_phoff) / sizeof(Elf64_Phdr)) {
		const Elf64_Phdr *ph = (const Elf64_Phdr *)(map + eh->e_phoff);

		for (unsigned i = 0; i < eh->e_phnum; i++)
			if (ph[i].p_type == PT_INTERP)
				*is_static = false;
	}
out:
	munmap((void *)map, (size_t)size);
	return r;
}

int uml_kernel_open(struct uml_ctx *ctx, char **slot, const char *path, struct uml_kernel **ret)
{
	struct uml_kernel *k;
	struct stat st;
	bool is_static = false;
	char *abs;
	int fd, r;

	if (!ctx || !ret)
		return -EINVAL;
	if (!path || !*path)
		return uml_fail(ctx, slot, -EINVAL, "kernel path is empty");
	r = uml_path_absolute(path, &abs);
	if (r < 0)
		return uml_fail(ctx, slot, r, "cannot resolve kernel path '%s'", path);
	fd = open(abs, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			r = uml_fail(ctx, slot, r, "kernel '%s' does not exist", abs);
		else
			r = uml_fail(ctx, slot, r, "cannot open kernel '%s': %s", abs, strerror(-r));
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		r = uml_fail(ctx, slot, -errno, "cannot stat kernel '%s': %m", abs);
		goto fail_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		r = uml_fail(ctx, slot, -EISDIR, "kernel '%s' is a directory", abs);
		goto fail_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		r = uml_fail(ctx, slot, -ENOEXEC, "kernel '%s' is not a regular file", abs);
		goto fail_fd;
	}
	if (access(abs, X_OK) < 0) {
		r = uml_fail(ctx, slot, -EACCES, "kernel '%s' is not executable", abs);
		goto fail_fd;
	}
	r = check_elf(ctx, slot, abs, fd, st.st_size, &is_static);
	if (r < 0)
		goto fail_fd;
	close(fd);

	k = calloc(1, sizeof(*k));
	if (!k) {
		free(abs);
		return -ENOMEM;
	}
	k->refcount = 1;
	k->ctx = uml_ctx_ref(ctx);
	k->path = abs;
	k->is_static = is_static;
	uml_dbg(ctx, "kernel %s (%s)", abs, is_static ? "static" : "dynamic");
	*ret = k;
	return 0;

fail_fd:
	close(fd);
fail:
	free(abs);
	return r;
}

UML_EXPORT int uml_kernel_new_from_path(struct uml_ctx *ctx, const char *path,
					struct uml_kernel **ret)
{
	return uml_kernel_open(ctx, NULL, path, ret);
}

UML_EXPORT int uml_kernel_new_default(struct uml_ctx *ctx, struct uml_kernel **ret)
{
	const char *env = getenv("UML_KERNEL");
	char *found = NULL;
	int r;

	if (!ctx || !ret)
		return -EINVAL;
	if (env && *env)
		return uml_kernel_new_from_path(ctx, env, ret);
	if (access("/usr/bin/linux.uml", F_OK) == 0)
		return uml_kernel_new_from_path(ctx, "/usr/bin/linux.uml", ret);
	if (uml_find_program("linux", &found) < 0)
		return uml_fail(ctx, NULL, -ENOENT,
				"no UML kernel found: $UML_KERNEL is unset, /usr/bin/linux.uml does "
				"not exist (apt-get install user-mode-linux) and there is no 'linux' "
				"on $PATH");
	r = uml_kernel_new_from_path(ctx, found, ret);
	free(found);
	return r;
}

static void kernel_free(struct uml_kernel *k)
{
	uml_ctx_unref(k->ctx);
	free(k->path);
	free(k->version);
	free(k->config);
	free(k->config_value);
	free(k->last_error);
	free(k);
}

UML_DEFINE_REF_UNREF(uml_kernel, uml_kernel, kernel_free)

struct uml_ctx *uml_kernel_get_ctx(struct uml_kernel *k)
{
	return k->ctx;
}

UML_EXPORT const char *uml_kernel_get_path(struct uml_kernel *k)
{
	return k ? k->path : NULL;
}

UML_EXPORT int uml_kernel_is_static(struct uml_kernel *k)
{
	return k && k->is_static ? 1 : 0;
}

UML_EXPORT const char *uml_kernel_last_error(struct uml_kernel *k)
{
	return k ? k->last_error : NULL;
}

/* Runs the kernel with one option; it answers and exits without booting. */
static int run_probe(struct uml_kernel *k, const char *option, char **out)
{
	char *argv[] = { k->path, (char *)option, NULL };
	int status, r;

	r = uml_spawn_capture(k->ctx, &k->last_error, argv, out, NULL, &status, PROBE_TIMEOUT_MS);
	if (r < 0)
		return r;
	if (status != 0) {
		free(*out);
		*out = NULL;
		return kfail(k, -EIO, "'%s %s' exited with status %d", k->path, option, status);
	}
	return 0;
}

UML_EXPORT int uml_kernel_get_version(struct uml_kernel *k, const char **ret)
{
	char *out, *start, *end;
	int r;

	if (!k || !ret)
		return -EINVAL;
	if (!k->version) {
		r = run_probe(k, "--version", &out);
		if (r < 0)
			return r;
		start = out + strspn(out, " \t\r\n");
		end = start + strcspn(start, "\r\n");
		if (end == start) {
			free(out);
			return kfail(k, -EIO, "'%s --version' printed no version", k->path);
		}
		k->version = strndup(start, (size_t)(end - start));
		free(out);
		if (!k->version)
			return -ENOMEM;
	}
	*ret = k->version;
	return 0;
}

/* Probes --showconfig once; 0, or a negative errno with the message kept on k. */
static int load_config(struct uml_kernel *k)
{
	int r;

	if (!k->config) {
		r = run_probe(k, "--showconfig", &k->config);
		if (r < 0)
			return r;
	}
	if (!strstr(k->config, "CONFIG_UML="))
		return kfail(k, -ENODATA, "kernel '%s' has no embedded configuration", k->path);
	return 0;
}

/* The value of CONFIG_<sym> ("CONFIG_" optional) in k->config, or NULL; *len its length. */
static const char *find_config(struct uml_kernel *k, const char *option, size_t *len)
{
	size_t plen = strncmp(option, "CONFIG_", 7) == 0 ? 0 : 7, olen = strlen(option);

	for (const char *line = k->config, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			next++;
		if ((plen && strncmp(line, "CONFIG_", 7) != 0) ||
		    strncmp(line + plen, option, olen) != 0 || line[plen + olen] != '=')
			continue;
		line += plen + olen + 1;
		*len = strcspn(line, "\r\n");
		return line;
	}
	return NULL;
}

UML_EXPORT int uml_kernel_get_config(struct uml_kernel *k, const char *option, const char **ret)
{
	const char *val;
	size_t len;
	int r;

	if (!k || !ret)
		return -EINVAL;
	if (!option || !*option || uml_has_space_or_ctrl(option) || strchr(option, '='))
		return kfail(k, -EINVAL, "bad kernel config option name '%s'", option ? option : "(null)");
	r = load_config(k);
	if (r < 0)
		return r;
	val = find_config(k, option, &len);
	if (!val)
		return kfail(k, -ENOENT, "%s%s is not set in kernel '%s'",
			     strncmp(option, "CONFIG_", 7) == 0 ? "" : "CONFIG_", option, k->path);
	free(k->config_value);
	k->config_value = strndup(val, len);
	if (!k->config_value)
		return -ENOMEM;
	*ret = k->config_value;
	return 0;
}

int uml_kernel_config_enabled(struct uml_kernel *k, const char *option)
{
	const char *val;
	size_t len;
	int r = load_config(k);

	if (r < 0)
		return r;
	val = find_config(k, option, &len);
	return val && len == 1 && (val[0] == 'y' || val[0] == 'm');
}

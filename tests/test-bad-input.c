/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bad-input table of docs/bad-input.md, row by row: each row names a
 * check below by its id; the check produces the input and makes the call,
 * and the row's errno and message text must be what comes back.  Rows and
 * checks must match one to one, so the document cannot drift from the code.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "testhelp.h"

#define BOOT_MS 60000

struct fx {
	struct uml_ctx *ctx;
	struct uml_kernel *kernel;
	struct uml_instance *inst;
	struct uml_rootfs *rootfs;
	char *msg;		/* the message that came with the refusal */
	char value[512];	/* what the message must name, if set */
	const char *skip;	/* why this row cannot run here */
};

struct row {
	char id[64];
	int err;
	char runs_as[8];
	char message[256];
};

static struct row rows[64];
static size_t n_rows;

static void take_msg(struct fx *f, const char *msg)
{
	free(f->msg);
	f->msg = msg ? strdup(msg) : NULL;
}

static int inst_result(struct fx *f, int r)
{
	take_msg(f, uml_instance_last_error(f->inst));
	return r;
}

/* Names unique to this row (each runs in its own process). */
static const char *tmp_path(const char *name)
{
	static char path[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%d-%s", th_tmpdir(), (int)getpid(), name);
	return path[i];
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	chmod(path, mode);
}

/* ---- kernels ---- */

static int kernel_path(struct fx *f, const char *path)
{
	struct uml_kernel *k = NULL;
	int r = uml_kernel_new_from_path(f->ctx, path, &k);

	uml_kernel_unref(k);
	take_msg(f, uml_ctx_last_error(f->ctx));
	snprintf(f->value, sizeof(f->value), "%s", path);
	return r;
}

static int kernel_missing(struct fx *f)
{
	return kernel_path(f, tmp_path("no-such-linux"));
}

static int kernel_dir(struct fx *f)
{
	return kernel_path(f, th_tmpdir());
}

static int kernel_script(struct fx *f)
{
	const char *p = tmp_path("script-linux");

	static const char text[] = "#!/bin/sh\n# long enough to be read as a whole ELF header\necho 6.1\n";

	write_file(p, text, sizeof(text) - 1, 0755);
	return kernel_path(f, p);
}

static int kernel_noexec(struct fx *f)
{
	const char *p = tmp_path("noexec-linux");

	write_file(p, "\177ELF", 4, 0644);
	return kernel_path(f, p);
}

static int kernel_elf(struct fx *f)
{
	return kernel_path(f, "/bin/true");
}

static int kernel_empty(struct fx *f)
{
	return kernel_path(f, "");
}

/* ---- umids ---- */

static int umid(struct fx *f, const char *u)
{
	return inst_result(f, uml_instance_set_umid(f->inst, u));
}

static int umid_slash(struct fx *f)
{
	strcpy(f->value, "'/'");
	return umid(f, "/");
}

static int umid_dotdot(struct fx *f)
{
	strcpy(f->value, "'..'");
	return umid(f, "..");
}

static int umid_long(struct fx *f)
{
	char u[65];

	memset(u, 'a', 64);
	u[64] = '\0';
	return umid(f, u);
}

static int umid_empty(struct fx *f)
{
	return umid(f, "");
}

static int umid_socket(struct fx *f)
{
	const char *dir = "/tmp/a-rather-long-runtime-directory-name-for-a-socket";
	char u[64];

	memset(u, 'u', 63);
	u[63] = '\0';
	ck_assert_int_eq(uml_ctx_set_runtime_dir(f->ctx, dir), 0);
	strcpy(f->value, dir);
	return umid(f, u);
}

/* ---- kernel arguments ---- */

static int arg(struct fx *f, const char *a)
{
	return inst_result(f, uml_instance_append_arg(f->inst, a));
}

static int arg_space(struct fx *f)
{
	strcpy(f->value, "'a b'");
	return arg(f, "a b");
}

static int arg_newline(struct fx *f)
{
	return arg(f, "a\nb");
}

static int arg_nul(struct fx *f)
{
	return arg(f, "\0hidden");
}

static int arg_reserved(struct fx *f)
{
	strcpy(f->value, "mem=1G");
	return arg(f, "mem=1G");
}

static int arg_too_long(struct fx *f)
{
	char big[1500];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(uml_instance_append_arg(f->inst, big), 0);
	ck_assert_int_eq(uml_instance_append_arg(f->inst, big), 0);
	return arg(f, big);
}

/* ---- sizes ---- */

static int mem(struct fx *f, uint64_t bytes)
{
	return inst_result(f, uml_instance_set_memory(f->inst, bytes));
}

static int mem_zero(struct fx *f)
{
	return mem(f, 0);
}

static int mem_negative(struct fx *f)
{
	return mem(f, (uint64_t)-1);
}

static int mem_overflow(struct fx *f)
{
	return mem(f, 1ull << 63);
}

static int mem_unaligned(struct fx *f)
{
	return mem(f, (64ull << 20) + 1);
}

static int timeout_negative(struct fx *f)
{
	return inst_result(f, uml_instance_set_timeout(f->inst, -1));
}

static int image_size(struct fx *f, uint64_t bytes)
{
	const char *p = tmp_path("sized.img");
	int r;

	ck_assert_int_eq(uml_rootfs_new(f->ctx, p, &f->rootfs), 0);
	r = uml_rootfs_set_size(f->rootfs, bytes);
	take_msg(f, uml_rootfs_last_error(f->rootfs));
	strcpy(f->value, p);
	return r;
}

static int image_size_zero(struct fx *f)
{
	return image_size(f, 0);
}

static int image_size_overflow(struct fx *f)
{
	return image_size(f, UINT64_MAX);
}

/* ---- images ---- */

static int boot_with(struct fx *f, const char *image)
{
	int r;

	ck_assert_int_eq(uml_rootfs_new(f->ctx, image, &f->rootfs), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(f->inst, f->rootfs), 0);
	snprintf(f->value, sizeof(f->value), "%s", uml_rootfs_get_path(f->rootfs));
	r = uml_instance_boot(f->inst);
	take_msg(f, uml_instance_last_error(f->inst));
	if (r == 0)
		uml_instance_kill(f->inst);
	return r;
}

/* A small ext4 image (made with mke2fs: no guest needs to boot it). */
static const char *ext4_image(const char *name)
{
	const char *p = tmp_path(name);

	ck_assert_int_eq(th_system("mke2fs -q -F -t ext4 '%s' 8M >/dev/null 2>&1", p), 0);
	return p;
}

static int image_missing(struct fx *f)
{
	return boot_with(f, tmp_path("no-such.img"));
}

static int image_dir(struct fx *f)
{
	return boot_with(f, th_tmpdir());
}

static int image_in_use(struct fx *f)
{
	const char *p = tmp_path("shared.img");
	struct uml_rootfs *rootfs;
	struct uml_instance *first;
	int r;

	if (th_no_boot("image-in-use")) {
		f->skip = "it boots a guest";
		return 0;
	}
	ck_assert_int_eq(th_system("cp --sparse=always '%s' '%s'", th_busybox_image(), p), 0);
	ck_assert_int_eq(uml_rootfs_new(f->ctx, p, &rootfs), 0);
	ck_assert_int_eq(uml_instance_new(f->kernel, &first), 0);
	ck_assert_int_eq(uml_instance_set_rootfs(first, rootfs), 0);
	/* ready once /init runs: the root disk is open then */
	ck_assert_int_eq(uml_instance_set_ready_marker(first, UML_BUSYBOX_READY_MARKER), 0);
	ck_assert_int_eq(uml_instance_boot(first), 0);
	ck_assert_msg(uml_instance_wait_ready(first, BOOT_MS) == 0, "first guest: %s",
		      uml_instance_last_error(first));
	r = boot_with(f, p);
	uml_instance_halt(first, -1);
	uml_instance_unref(first);
	uml_rootfs_unref(rootfs);
	return r;
}

static int image_mounted(struct fx *f)
{
	const char *p = ext4_image("mounted.img"), *mnt = tmp_path("mnt");
	int r;

	if (geteuid() != 0)
		return 0;
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	if (th_system("mount -o loop,ro '%s' '%s' 2>/dev/null", p, mnt) != 0) {
		f->skip = "cannot loop-mount an image here";
		return 0;
	}
	r = boot_with(f, p);
	ck_assert_int_eq(th_system("umount '%s'", mnt), 0);
	return r;
}

static int image_readonly(struct fx *f)
{
	const char *p = ext4_image("readonly.img");

	chmod(p, 0444);
	return boot_with(f, p);
}

static int image_readonly_fs(struct fx *f)
{
	const char *dir = tmp_path("ro"), *p = tmp_path("ro/image.img");

	if (geteuid() != 0)
		return 0;
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(th_system("mke2fs -q -F -t ext4 '%s' 8M >/dev/null 2>&1", p), 0);
	/* a read-only bind mount, private to this test's process (types are
	 * ignored for these calls; "none" rather than NULL keeps valgrind quiet) */
	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(dir, dir, "none", MS_BIND, NULL) < 0 ||
	    mount("none", dir, "none", MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
		f->skip = "cannot make a read-only mount namespace here";
		return 0;
	}
	return boot_with(f, p);
}

static int image_not_ext(struct fx *f)
{
	const char *p = tmp_path("zeros.img");
	int r;

	ck_assert_int_eq(th_system("truncate -s 1M '%s'", p), 0);
	ck_assert_int_eq(uml_rootfs_new(f->ctx, p, &f->rootfs), 0);
	r = uml_rootfs_open(f->rootfs);
	take_msg(f, uml_rootfs_last_error(f->rootfs));
	strcpy(f->value, p);
	return r;
}

/* ---- COW overlays ---- */

/* An overlay over a 1 MiB plain backing file; returns the overlay's path. */
static const char *make_cow(struct fx *f, const char *backing)
{
	const char *cow = tmp_path("overlay.cow");
	struct uml_rootfs *b;

	ck_assert_int_eq(th_system("truncate -s 1M '%s'", backing), 0);
	ck_assert_int_eq(uml_rootfs_new(f->ctx, backing, &b), 0);
	ck_assert_msg(uml_rootfs_new_cow(b, cow, 0, &f->rootfs) == 0, "%s",
		      uml_rootfs_last_error(b));
	uml_rootfs_unref(b);
	return cow;
}

static void patch(const char *path, off_t off, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, data, len, off), (ssize_t)len);
	close(fd);
}

static int open_cow(struct fx *f, const char *path)
{
	struct uml_rootfs *cow = NULL;
	int r = uml_rootfs_open_cow(f->ctx, path, &cow);

	uml_rootfs_unref(cow);
	take_msg(f, uml_ctx_last_error(f->ctx));
	strcpy(f->value, path);
	return r;
}

static int cow_magic(struct fx *f)
{
	const char *p = make_cow(f, tmp_path("backing.img"));

	patch(p, 0, "garbage!", 8);
	return open_cow(f, p);
}

static int cow_version(struct fx *f)
{
	const char *p = make_cow(f, tmp_path("backing.img"));

	patch(p, 4, "\0\0\0\7", 4);
	return open_cow(f, p);
}

static int cow_truncated(struct fx *f)
{
	const char *p = make_cow(f, tmp_path("backing.img"));

	ck_assert_int_eq(truncate(p, 100), 0);
	return open_cow(f, p);
}

static int cow_field(struct fx *f)
{
	const char *p = make_cow(f, tmp_path("backing.img"));

	/* version 3: magic, version, mtime, size (8), then the sector size */
	patch(p, 20, "\0\0\020\0", 4);
	return open_cow(f, p);
}

static int boot_cow(struct fx *f)
{
	int r;

	ck_assert_int_eq(uml_instance_set_rootfs(f->inst, f->rootfs), 0);
	r = uml_instance_boot(f->inst);
	take_msg(f, uml_instance_last_error(f->inst));
	if (r == 0)
		uml_instance_kill(f->inst);
	return r;
}

static int cow_backing_size(struct fx *f)
{
	const char *backing = tmp_path("backing.img");

	make_cow(f, backing);
	ck_assert_int_eq(th_system("truncate -s 2M '%s'", backing), 0);
	strcpy(f->value, backing);
	return boot_cow(f);
}

static int cow_backing_mtime(struct fx *f)
{
	const char *backing = tmp_path("backing.img");
	struct timeval tv[2] = { { 1000000000, 0 }, { 1000000000, 0 } };

	make_cow(f, backing);
	ck_assert_int_eq(utimes(backing, tv), 0);
	strcpy(f->value, backing);
	return boot_cow(f);
}

/* ---- the table ---- */

static const struct {
	const char *id;
	int (*fn)(struct fx *f);
} checks[] = {
	{ "kernel-missing", kernel_missing },
	{ "kernel-dir", kernel_dir },
	{ "kernel-script", kernel_script },
	{ "kernel-noexec", kernel_noexec },
	{ "kernel-elf", kernel_elf },
	{ "kernel-empty", kernel_empty },
	{ "umid-slash", umid_slash },
	{ "umid-dotdot", umid_dotdot },
	{ "umid-long", umid_long },
	{ "umid-empty", umid_empty },
	{ "umid-socket", umid_socket },
	{ "arg-space", arg_space },
	{ "arg-newline", arg_newline },
	{ "arg-nul", arg_nul },
	{ "arg-reserved", arg_reserved },
	{ "arg-too-long", arg_too_long },
	{ "mem-zero", mem_zero },
	{ "mem-negative", mem_negative },
	{ "mem-overflow", mem_overflow },
	{ "mem-unaligned", mem_unaligned },
	{ "timeout-negative", timeout_negative },
	{ "image-size-zero", image_size_zero },
	{ "image-size-overflow", image_size_overflow },
	{ "image-missing", image_missing },
	{ "image-dir", image_dir },
	{ "image-in-use", image_in_use },
	{ "image-mounted", image_mounted },
	{ "image-readonly", image_readonly },
	{ "image-readonly-fs", image_readonly_fs },
	{ "image-not-ext", image_not_ext },
	{ "cow-magic", cow_magic },
	{ "cow-version", cow_version },
	{ "cow-truncated", cow_truncated },
	{ "cow-field", cow_field },
	{ "cow-backing-size", cow_backing_size },
	{ "cow-backing-mtime", cow_backing_mtime },
};

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "EINVAL", EINVAL }, { "ENOENT", ENOENT }, { "EISDIR", EISDIR },
	{ "ENOEXEC", ENOEXEC }, { "EACCES", EACCES }, { "EMEDIUMTYPE", EMEDIUMTYPE },
	{ "ENAMETOOLONG", ENAMETOOLONG }, { "E2BIG", E2BIG }, { "ERANGE", ERANGE },
	{ "EBUSY", EBUSY }, { "EROFS", EROFS }, { "EPROTONOSUPPORT", EPROTONOSUPPORT },
	{ "ENODATA", ENODATA }, { "EBADMSG", EBADMSG }, { "ESTALE", ESTALE },
};

static int errno_value(const char *name)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (strcmp(errnos[i].name, name) == 0)
			return errnos[i].value;
	return 0;
}

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		s[--n] = '\0';
	memmove(s, s + strspn(s, " "), strlen(s + strspn(s, " ")) + 1);
}

/* Reads the rows of the table: "| id | input | call | errno | runs as | `text` |". */
static void load_table(void)
{
	char path[512], line[2048];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/docs/bad-input.md", TEST_SRCDIR);
	fp = fopen(path, "re");
	if (!fp) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(EXIT_FAILURE);
	}
	while (fgets(line, sizeof(line), fp) && n_rows < sizeof(rows) / sizeof(rows[0])) {
		char *col[7], *p = line + 1, *bt1, *bt2;
		size_t n = 0;
		struct row *r = &rows[n_rows];

		if (line[0] != '|' || strncmp(line, "| id ", 5) == 0 || strncmp(line, "|--", 3) == 0)
			continue;
		/* split on " | " only: inputs never hold it */
		while (n < 7 && p) {
			char *bar = strstr(p, " |");

			col[n++] = p;
			if (!bar)
				break;
			*bar = '\0';
			p = bar + 2;
		}
		if (n < 6)
			continue;
		for (size_t i = 0; i < 6; i++)
			trim(col[i]);
		bt1 = strchr(col[5], '`');
		bt2 = bt1 ? strrchr(col[5], '`') : NULL;
		if (!bt1 || bt2 == bt1) {
			fprintf(stderr, "row '%s': no `text` in the message column\n", col[0]);
			exit(EXIT_FAILURE);
		}
		snprintf(r->id, sizeof(r->id), "%s", col[0]);
		r->err = errno_value(col[3]);
		if (!r->err) {
			fprintf(stderr, "row '%s': unknown errno '%s'\n", col[0], col[3]);
			exit(EXIT_FAILURE);
		}
		snprintf(r->runs_as, sizeof(r->runs_as), "%s", col[4]);
		snprintf(r->message, sizeof(r->message), "%.*s", (int)(bt2 - bt1 - 1), bt1 + 1);
		n_rows++;
	}
	fclose(fp);
}

START_TEST(table_and_checks_match)
{
	for (size_t i = 0; i < n_rows; i++) {
		bool found = false;

		for (size_t j = 0; j < sizeof(checks) / sizeof(checks[0]); j++)
			found |= strcmp(rows[i].id, checks[j].id) == 0;
		ck_assert_msg(found, "row '%s' of docs/bad-input.md has no check", rows[i].id);
	}
	for (size_t j = 0; j < sizeof(checks) / sizeof(checks[0]); j++) {
		bool found = false;

		for (size_t i = 0; i < n_rows; i++)
			found |= strcmp(rows[i].id, checks[j].id) == 0;
		ck_assert_msg(found, "check '%s' has no row in docs/bad-input.md", checks[j].id);
	}
}
END_TEST

START_TEST(row)
{
	const struct row *rw = &rows[_i];
	struct fx f = { 0 };
	int (*fn)(struct fx *) = NULL;
	int r;

	for (size_t j = 0; j < sizeof(checks) / sizeof(checks[0]); j++)
		if (strcmp(rw->id, checks[j].id) == 0)
			fn = checks[j].fn;
	ck_assert_msg(fn, "row '%s' has no check", rw->id);
	if (strcmp(rw->runs_as, "root") == 0 && geteuid() != 0) {
		fprintf(stderr, "SKIP %s: needs root\n", rw->id);
		return;
	}
	if (strcmp(rw->runs_as, "user") == 0 && geteuid() == 0) {
		fprintf(stderr, "SKIP %s: root may write any file; needs an unprivileged user\n",
			rw->id);
		return;
	}
	f.ctx = th_ctx();
	uml_ctx_set_log_priority(f.ctx, 0);	/* refusals are expected here */
	f.kernel = th_kernel(f.ctx);
	ck_assert_int_eq(uml_instance_new(f.kernel, &f.inst), 0);
	r = fn(&f);
	if (f.skip) {
		fprintf(stderr, "SKIP %s: %s\n", rw->id, f.skip);
	} else {
		ck_assert_msg(r == -rw->err, "%s: returned %d (%s), the table says -%d (%s)",
			      rw->id, r, strerror(-r), rw->err, strerror(rw->err));
		ck_assert_msg(f.msg && strstr(f.msg, rw->message),
			      "%s: message '%s' lacks '%s'", rw->id, f.msg ? f.msg : "(none)",
			      rw->message);
		ck_assert_msg(!f.value[0] || strstr(f.msg, f.value),
			      "%s: message '%s' does not name '%s'", rw->id, f.msg, f.value);
	}
	free(f.msg);
	uml_instance_unref(f.inst);
	uml_rootfs_unref(f.rootfs);
	uml_kernel_unref(f.kernel);
	uml_ctx_unref(f.ctx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bad-input");
	TCase *tc = tcase_create("table");

	load_table();
	if (n_rows == 0) {
		fprintf(stderr, "docs/bad-input.md has no rows\n");
		return EXIT_FAILURE;
	}
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, table_and_checks_match);
	tcase_add_loop_test(tc, row, 0, (int)n_rows);
	suite_add_tcase(s, tc);
	return th_run(s);
}

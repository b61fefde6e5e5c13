/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Debian guests: debootstrap into a staging directory, then the image from
 * that tree.
 *
 * The packages of a recipe (suite, architecture, variant, extra packages,
 * mirror) are kept as the tarball `debootstrap --make-tarball` writes,
 * CACHE/debootstrap/SUITE-ARCH-VARIANT-KEY.tgz; every build installs from
 * such a tarball (`--unpack-tarball`), so a warm build needs no network at
 * all and a cold one is the download plus the same install.
 *
 * debootstrap runs in its normal mode: its "I:" lines on stdout give the
 * phases (Retrieving, Extracting, Unpacking, Configuring one package per
 * line); the totals come from the lists the tarball puts into the target
 * (debootstrap/required and debootstrap/base).  Its full log stays in the
 * target until the staging directory goes, and its end is quoted when it
 * fails.  The staging directory lives next to the image (the disk the
 * caller chose) and is removed on every path, after unmounting anything
 * debootstrap left mounted in it (a killed debootstrap leaves /proc).
 */
#include "config.h"

#include <ftw.h>
#include <signal.h>
#include <glob.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "rootfs-internal.h"

#define DEBOOTSTRAP_PATHS	{ "/usr/sbin/debootstrap", "/sbin/debootstrap" }
#define FALLBACK_MIRROR		"http://deb.debian.org/debian"
#define MAX_PACKAGES		1024
#define AUTO_MIN_SIZE		(1ull << 30)
#define AUTO_FREE_SPACE		(512ull << 20)

/* ---- settings ---------------------------------------------------------------- */

/* Replaces *slot by a copy of value (NULL allowed). */
static bool all_chars(const char *s, const char *extra)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s)))
			return false;
	return true;
}

static bool valid_suite(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (!len || len > 64 || s[0] == '-' || s[0] == '.')
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
			return false;
	return true;
}

/* Debian policy 5.6.7: [a-z0-9][a-z0-9+.-]+ */
static bool valid_package(const char *s)
{
	size_t len = strlen(s);

	return len >= 2 && len <= 128 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' &&
		s[0] <= '9')) && all_chars(s, "+.-");
}

UML_EXPORT int uml_rootfs_set_mirror(struct uml_rootfs *rootfs, const char *url)
{
	struct rootfs_guest *g;

	if (!rootfs)
		return -EINVAL;
	if (url && ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
		    uml_has_space_or_ctrl(url) || strlen(url) > 1024 ||
		    !url[strncmp(url, "http://", 7) == 0 ? 7 : 8]))
		return rfail(rootfs, -EINVAL, "mirror '%s' is not an http:// or https:// URL "
			     "without white space", url);
	g = rootfs_guest(rootfs);
	if (!g || uml_set_string(&g->mirror, url) < 0)
		return -ENOMEM;
	return 0;
}

UML_EXPORT int uml_rootfs_set_arch(struct uml_rootfs *rootfs, const char *arch)
{
	struct rootfs_guest *g;

	if (!rootfs)
		return -EINVAL;
	if (arch && (!arch[0] || arch[0] == '-' || strlen(arch) > 32 || !all_chars(arch, "-")))
		return rfail(rootfs, -EINVAL, "architecture '%s' is not a Debian architecture name",
			     arch);
	g = rootfs_guest(rootfs);
	if (!g || uml_set_string(&g->arch, arch) < 0)
		return -ENOMEM;
	return 0;
}

UML_EXPORT int uml_rootfs_set_variant(struct uml_rootfs *rootfs, const char *variant)
{
	struct rootfs_guest *g;

	if (!rootfs)
		return -EINVAL;
	if (variant && strcmp(variant, "minbase") != 0 && strcmp(variant, "buildd") != 0)
		return rfail(rootfs, -EINVAL, "debootstrap variant '%s' is not supported (use "
			     "\"minbase\", \"buildd\" or NULL for the default)", variant);
	g = rootfs_guest(rootfs);
	if (!g || uml_set_string(&g->variant, variant) < 0)
		return -ENOMEM;
	return 0;
}

UML_EXPORT int uml_rootfs_add_package(struct uml_rootfs *rootfs, const char *name)
{
	struct rootfs_guest *g;
	char **p, *copy;

	if (!rootfs)
		return -EINVAL;
	if (!name || !valid_package(name))
		return rfail(rootfs, -EINVAL, "'%s' is not a valid Debian package name",
			     name ? name : "(null)");
	g = rootfs_guest(rootfs);
	if (!g)
		return -ENOMEM;
	for (size_t i = 0; i < g->n_packages; i++)
		if (strcmp(g->packages[i], name) == 0)
			return 0;
	if (g->n_packages >= MAX_PACKAGES)
		return rfail(rootfs, -E2BIG, "more than %d extra packages for '%s'", MAX_PACKAGES,
			     rootfs->path);
	p = realloc(g->packages, (g->n_packages + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	g->packages = p;
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	g->packages[g->n_packages++] = copy;
	return 0;
}

UML_EXPORT int uml_rootfs_set_cache_dir(struct uml_rootfs *rootfs, const char *dir)
{
	struct rootfs_guest *g;

	if (!rootfs)
		return -EINVAL;
	if (dir && !dir[0])
		return rfail(rootfs, -EINVAL, "cache dir for '%s' is empty", rootfs->path);
	g = rootfs_guest(rootfs);
	if (!g || uml_set_string(&g->cache_dir, dir) < 0)
		return -ENOMEM;
	return 0;
}

UML_EXPORT int uml_rootfs_debootstrap_was_cached(struct uml_rootfs *rootfs)
{
	return rootfs && rootfs->guest && rootfs->guest->was_cached;
}

/* ---- the default mirror: what apt uses ------------------------------------------ */

static bool is_http(const char *s, size_t len)
{
	return (len > 7 && strncmp(s, "http://", 7) == 0) ||
	       (len > 8 && strncmp(s, "https://", 8) == 0);
}

/* A suite of the main archive, not of security or updates. */
static bool main_suite(const char *s, size_t len)
{
	static const char *const skip[] = { "-security", "/updates", "-updates", "-backports",
					    "-proposed-updates" };

	for (size_t i = 0; i < ARRAY_SIZE(skip); i++) {
		size_t l = strlen(skip[i]);

		if (len >= l && memcmp(s + len - l, skip[i], l) == 0)
			return false;
	}
	return len > 0;
}

static char *dup_word(const char *s, size_t len)
{
	char *w = strndup(s, len);

	/* a trailing slash would give debootstrap "//dists" */
	while (w && strlen(w) > 8 && w[strlen(w) - 1] == '/')
		w[strlen(w) - 1] = '\0';
	return w;
}

/* Splits off the next white-space separated word of *p (up to end). */
static bool next_word(const char **p, const char *end, const char **w, size_t *len)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	if (s >= end)
		return false;
	*w = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*len = (size_t)(s - *w);
	*p = s;
	return true;
}

/* One-line style: "deb [options] URI SUITE COMPONENTS...". */
static char *mirror_from_list(const char *text)
{
	for (const char *l = text; l && *l; ) {
		const char *end = strchr(l, '\n'), *p = l, *w, *uri;
		size_t len, ulen;

		if (!end)
			end = l + strlen(l);
		if (next_word(&p, end, &w, &len) && len == 3 && memcmp(w, "deb", 3) == 0) {
			bool ok = next_word(&p, end, &w, &len);

			if (ok && w[0] == '[') {
				/* options may hold spaces: skip to the closing bracket */
				const char *close = memchr(w, ']', (size_t)(end - w));

				p = close ? close + 1 : end;
				ok = next_word(&p, end, &w, &len);
			}
			uri = w;
			ulen = len;
			if (ok && is_http(uri, ulen) && next_word(&p, end, &w, &len) &&
			    main_suite(w, len))
				return dup_word(uri, ulen);
		}
		l = *end ? end + 1 : end;
	}
	return NULL;
}

/* The value of field name in the stanza [s, end), or NULL. */
static const char *deb822_field(const char *s, const char *end, const char *name,
				const char **vend)
{
	size_t nl = strlen(name);

	for (const char *l = s; l < end; ) {
		const char *e = memchr(l, '\n', (size_t)(end - l));

		if (!e)
			e = end;
		if ((size_t)(e - l) > nl && strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
			*vend = e;
			return l + nl + 1;
		}
		l = e + 1;
	}
	return NULL;
}

static bool has_word(const char *v, const char *vend, const char *word, bool (*pred)(const char *,
										       size_t))
{
	const char *w;
	size_t len;

	while (v && next_word(&v, vend, &w, &len))
		if (word ? (len == strlen(word) && memcmp(w, word, len) == 0) : pred(w, len))
			return true;
	return false;
}

/* deb822 style: stanzas of "Types:", "URIs:", "Suites:" ... separated by blank lines. */
static char *mirror_from_sources(const char *text)
{
	const char *s = text, *end = text + strlen(text);

	while (s < end) {
		const char *stop = strstr(s, "\n\n"), *v, *vend, *w;
		size_t len;

		if (!stop)
			stop = end;
		v = deb822_field(s, stop, "Enabled", &vend);
		if (!(v && has_word(v, vend, "no", NULL)) &&
		    (v = deb822_field(s, stop, "Types", &vend)) && has_word(v, vend, "deb", NULL) &&
		    (v = deb822_field(s, stop, "Suites", &vend)) &&
		    has_word(v, vend, NULL, main_suite) &&
		    (v = deb822_field(s, stop, "URIs", &vend))) {
			while (next_word(&v, vend, &w, &len))
				if (is_http(w, len))
					return dup_word(w, len);
		}
		s = stop + 1;
		while (s < end && *s == '\n')
			s++;
	}
	return NULL;
}

/* The first Debian mirror of apt's sources, in the order apt reads them. */
static char *apt_default_mirror(void)
{
	glob_t gl = { 0 };
	char *text, *m = NULL;

	if (uml_read_file("/etc/apt/sources.list", &text, NULL) == 0) {
		m = mirror_from_list(text);
		free(text);
	}
	if (!m && glob("/etc/apt/sources.list.d/*", 0, NULL, &gl) == 0) {
		for (size_t i = 0; !m && i < gl.gl_pathc; i++) {
			const char *p = gl.gl_pathv[i];
			size_t l = strlen(p);
			bool deb822 = l > 8 && strcmp(p + l - 8, ".sources") == 0;

			if (!deb822 && !(l > 5 && strcmp(p + l - 5, ".list") == 0))
				continue;
			if (uml_read_file(p, &text, NULL) < 0)
				continue;
			m = deb822 ? mirror_from_sources(text) : mirror_from_list(text);
			free(text);
		}
	}
	globfree(&gl);
	return m ? m : strdup(FALLBACK_MIRROR);
}

UML_EXPORT const char *uml_rootfs_get_mirror(struct uml_rootfs *rootfs)
{
	struct rootfs_guest *g;

	if (!rootfs || !(g = rootfs_guest(rootfs)))
		return NULL;
	if (g->mirror)
		return g->mirror;
	if (!g->default_mirror)
		g->default_mirror = apt_default_mirror();
	return g->default_mirror;
}

/* ---- the staging directory ----------------------------------------------------- */

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void unescape_mountinfo(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/*
 * Unmounts (lazily) whatever is mounted below dir, deepest first.  Returns
 * the number of mounts that stay, or a negative errno.
 */
static int umount_below(struct uml_ctx *ctx, const char *dir)
{
	char *info, **pts = NULL;
	size_t n = 0, dl = strlen(dir);
	int left = 0, r;

	r = uml_read_file("/proc/self/mountinfo", &info, NULL);
	if (r < 0)
		return r;
	for (char *l = info, *next; l && *l; l = next) {
		char *mp;

		next = strchr(l, '\n');
		if (next)
			*next++ = '\0';
		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ..." */
		mp = l;
		for (int i = 0; i < 4 && mp; i++) {
			mp = strchr(mp, ' ');
			if (mp)
				mp++;
		}
		if (!mp)
			continue;
		*strchrnul(mp, ' ') = '\0';
		unescape_mountinfo(mp);
		if (strncmp(mp, dir, dl) == 0 && mp[dl] == '/') {
			char **x = realloc(pts, (n + 1) * sizeof(*x));

			if (!x)
				break;
			pts = x;
			pts[n++] = mp;
		}
	}
	/* later mounts sit on top of earlier ones: undo them in reverse */
	for (size_t i = n; i-- > 0; ) {
		if (umount2(pts[i], MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL &&
		    errno != ENOENT) {
			uml_log(ctx, LOG_ERR, "cannot unmount '%s' below the staging directory: %m",
				pts[i]);
			left++;
		} else {
			uml_dbg(ctx, "unmounted leftover '%s'", pts[i]);
		}
	}
	free(pts);
	free(info);
	return left;
}

/* Removes the staging directory; never while something is mounted in it. */
static void staging_remove(struct uml_ctx *ctx, const char *dir)
{
	int r;

	if (!dir)
		return;
	r = umount_below(ctx, dir);
	if (r != 0) {
		uml_log(ctx, LOG_ERR, "leaving staging directory '%s' in place: %s", dir,
			r > 0 ? "mounts remain below it" : strerror(-r));
		return;
	}
	r = uml_rm_rf(dir);
	if (r < 0)
		uml_log(ctx, LOG_ERR, "cannot remove staging directory '%s': %s", dir, strerror(-r));
}

static uint64_t tree_bytes, tree_entries;

static int tree_size_fn(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	tree_bytes += (uint64_t)st->st_blocks * 512;
	tree_entries++;
	return 0;
}

/* Image size for a tree: its size, a quarter more, room to work; sparse anyway. */
static int auto_size(const char *dir, uint64_t *ret)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	uint64_t bytes, entries, size;
	int r;

	/* nftw() has no user pointer */
	pthread_mutex_lock(&lock);
	tree_bytes = tree_entries = 0;
	r = nftw(dir, tree_size_fn, 64, FTW_PHYS | FTW_MOUNT);
	bytes = tree_bytes;
	entries = tree_entries;
	pthread_mutex_unlock(&lock);
	if (r != 0)
		return errno ? -errno : -EIO;
	size = bytes + bytes / 4 + entries * 512 + AUTO_FREE_SPACE;
	if (size < AUTO_MIN_SIZE)
		size = AUTO_MIN_SIZE;
	*ret = (size + (1u << 20) - 1) & ~((1ull << 20) - 1);
	return 0;
}

/* ---- running debootstrap ------------------------------------------------------- */

enum run_kind { RUN_DOWNLOAD, RUN_INSTALL };

struct dbs_run {
	struct uml_rootfs *rootfs;
	enum run_kind kind;
	const char *target;		/* debootstrap's target dir */
	const char *staging;		/* the staging dir it lives in */
	uint64_t n_required, n_all;	/* from the tarball's lists, once known */
	uint64_t downloaded, extracted, unpacked, configured;
	char *error;			/* the first "E:" line */
	bool lists_read;
};

static uint64_t count_words_in(const char *path)
{
	char *text;
	uint64_t n = 0;

	if (uml_read_file(path, &text, NULL) < 0)
		return 0;
	for (char *p = strtok(text, " \t\n"); p; p = strtok(NULL, " \t\n"))
		n++;
	free(text);
	return n;
}

static void read_lists(struct dbs_run *rn)
{
	char path[PATH_MAX];

	rn->lists_read = true;
	snprintf(path, sizeof(path), "%s/debootstrap/required", rn->target);
	rn->n_required = count_words_in(path);
	snprintf(path, sizeof(path), "%s/debootstrap/base", rn->target);
	rn->n_all = rn->n_required + count_words_in(path);
}

static int report(struct dbs_run *rn, const char *phase, uint64_t *done, uint64_t total)
{
	(*done)++;
	if (total && *done > total)
		total = *done;
	return uml_progress(rn->rootfs->ctx, phase, *done, total);
}

static bool starts(const char *line, const char *prefix)
{
	return strncmp(line, prefix, strlen(prefix)) == 0;
}

/* One line of debootstrap's output; -ECANCELED when the caller cancelled. */
static int run_line(struct dbs_run *rn, const char *line)
{
	struct uml_ctx *ctx = rn->rootfs->ctx;

	uml_dbg(ctx, "debootstrap: %s", line);
	if (starts(line, "E: ")) {
		if (!rn->error)
			rn->error = strdup(line + 3);
		return 0;
	}
	if (starts(line, "W: ")) {
		uml_info(ctx, "debootstrap warning: %s", line + 3);
		return 0;
	}
	if (!starts(line, "I: "))
		return 0;
	line += 3;
	if (rn->kind == RUN_DOWNLOAD) {
		const char *sp;

		/* "Retrieving NAME VERSION"; the index files have no version */
		if (!starts(line, "Retrieving ") || !(sp = strchr(line + 11, ' ')) || !sp[1])
			return 0;
		return report(rn, "download", &rn->downloaded, 0);
	}
	if (!rn->lists_read)
		read_lists(rn);
	if (starts(line, "Extracting ")) {
		return report(rn, "extract", &rn->extracted, rn->n_required);
	} else if (starts(line, "Unpacking ") && strcmp(line, "Unpacking required packages...") &&
		   strcmp(line, "Unpacking the base system...")) {
		return report(rn, "unpack", &rn->unpacked, rn->n_all);
	} else if (starts(line, "Configuring ") &&
		   strcmp(line, "Configuring required packages...") &&
		   strcmp(line, "Configuring the base system...")) {
		return report(rn, "configure", &rn->configured, rn->n_all);
	}
	return 0;
}

/* The last n lines of debootstrap's log in target, joined by " | "; allocated. */
static char *log_tail(const char *target, int n)
{
	char path[PATH_MAX], *text, *res;
	size_t len;
	int lines = 0;
	char *p;

	snprintf(path, sizeof(path), "%s/debootstrap/debootstrap.log", target);
	if (uml_read_file(path, &text, &len) < 0)
		return strdup("");
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	p = text + len;
	while (p > text && lines < n) {
		p--;
		if (*p == '\n')
			lines++;
	}
	if (*p == '\n')
		p++;
	res = strdup(p);
	free(text);
	for (char *q = res; q && *q; q++)
		if (*q == '\n')
			*q = ';';
	return res;
}

static const char *const passthrough_env[] = {
	"http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
};

/* Runs one debootstrap to its end, reporting progress; -errno or 0. */
static int run_debootstrap(struct dbs_run *rn, char *const argv[])
{
	struct uml_rootfs *rootfs = rn->rootfs;
	struct uml_ctx *ctx = rootfs->ctx;
	char *envp[ARRAY_SIZE(passthrough_env) + 5];
	char *env_store[ARRAY_SIZE(passthrough_env)] = { 0 };
	struct uml_buf buf = { 0 };
	struct uml_spawn sp;
	siginfo_t si = { 0 };
	size_t ne = 0;
	int p[2], r = 0, status;

	envp[ne++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	envp[ne++] = "LC_ALL=C";
	envp[ne++] = "DEBIAN_FRONTEND=noninteractive";
	envp[ne++] = "HOME=/root";
	for (size_t i = 0; i < ARRAY_SIZE(passthrough_env); i++) {
		const char *v = getenv(passthrough_env[i]);

		if (v && asprintf(&env_store[i], "%s=%s", passthrough_env[i], v) > 0)
			envp[ne++] = env_store[i];
	}
	envp[ne] = NULL;

	if (pipe2(p, O_CLOEXEC) < 0) {
		r = rfail(rootfs, -errno, "pipe: %m");
		goto out;
	}
	r = uml_spawn(ctx, &rootfs->last_error,
	      &(struct uml_spawn_opts){ .argv = argv, .envp = envp, .out_fd = p[1] }, &sp);
	close(p[1]);
	if (r < 0) {
		close(p[0]);
		goto out;
	}
	for (;;) {
		char chunk[4096], *nl;
		ssize_t n = read(p[0], chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (uml_buf_append(&buf, chunk, (size_t)n) < 0) {
			r = -ENOMEM;
			break;
		}
		while (r == 0 && buf.data && (nl = memchr(buf.data, '\n', buf.len))) {
			*nl = '\0';
			r = run_line(rn, buf.data);
			uml_buf_drop_front(&buf, (size_t)(nl - buf.data) + 1);
		}
		if (r < 0)
			break;
	}
	close(p[0]);
	if (r < 0)
		kill(-sp.pid, SIGKILL);
	while (waitid(P_PIDFD, (id_t)sp.pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	/* what debootstrap started (dpkg in the chroot) must not outlive it */
	kill(-sp.pid, SIGKILL);
	uml_spawn_release(&sp);
	if (r == -ECANCELED) {
		r = rfail(rootfs, r, "debootstrap for '%s' was cancelled", rootfs->path);
		goto out;
	}
	if (r < 0)
		goto out;
	status = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	if (status != 0) {
		char *tail = log_tail(rn->target, 4);
		bool nospc = (tail && strstr(tail, "No space left")) ||
			     (rn->error && strstr(rn->error, "No space left"));
		struct statvfs sv;

		/* a full disk may not even leave room for the log that would say so */
		if (!nospc && statvfs(rn->staging, &sv) == 0 &&
		    (uint64_t)sv.f_bavail * sv.f_frsize < (4u << 20))
			nospc = true;
		r = rfail(rootfs, nospc ? -ENOSPC : -EIO, "debootstrap %s for '%s' failed (exit "
			  "status %d): %s%s%s%s", rn->kind == RUN_DOWNLOAD ? "download" : "install",
			  rootfs->path, status, rn->error ? rn->error : "no error message",
			  tail && tail[0] ? "; log: " : "", tail ? tail : "",
			  nospc ? "; No space left on the disk of the staging directory" : "");
		free(tail);
	}
out:
	uml_buf_free(&buf);
	for (size_t i = 0; i < ARRAY_SIZE(env_store); i++)
		free(env_store[i]);
	free(rn->error);
	rn->error = NULL;
	return r;
}

static const char *find_debootstrap(void)
{
	static const char *const paths[] = DEBOOTSTRAP_PATHS;

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* dpkg's idea of the host architecture, else one derived from uname. */
static char *host_arch(struct uml_ctx *ctx)
{
	char *out = NULL;
	size_t len;
	int status;

	if (access("/usr/bin/dpkg", X_OK) == 0 &&
	    uml_spawn_capture(ctx, NULL, (char *[]){ "/usr/bin/dpkg", "--print-architecture", NULL },
			      &out, &len, &status, 10000) == 0 && status == 0) {
		while (len && (out[len - 1] == '\n' || out[len - 1] == ' '))
			out[--len] = '\0';
		if (len && all_chars(out, "-"))
			return out;
	}
	free(out);
#if defined(__x86_64__)
	return strdup("amd64");
#elif defined(__i386__)
	return strdup("i386");
#else
	return NULL;
#endif
}

static int pkg_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a,b,c" of the extra packages, sorted (so the order does not split the cache). */
static char *package_list(struct rootfs_guest *g)
{
	struct uml_buf b = { 0 };
	char **sorted;

	if (!g->n_packages)
		return NULL;
	sorted = malloc(g->n_packages * sizeof(*sorted));
	if (!sorted)
		return NULL;
	memcpy(sorted, g->packages, g->n_packages * sizeof(*sorted));
	qsort(sorted, g->n_packages, sizeof(*sorted), pkg_cmp);
	for (size_t i = 0; i < g->n_packages; i++)
		if ((i && uml_buf_append(&b, ",", 1) < 0) ||
		    uml_buf_append(&b, sorted[i], strlen(sorted[i])) < 0) {
			uml_buf_free(&b);
			break;
		}
	free(sorted);
	return b.data;
}

struct recipe {
	const char *debootstrap;
	const char *suite;
	const char *mirror;
	char *arch;
	char *packages;			/* "a,b" or NULL */
	char *variant_opt;		/* "--variant=X" or NULL */
	char *arch_opt;
	char *include_opt;
	char *tarball;
	char *tarball_opt;
	char *image;			/* the installed, unconfigured image of the recipe */
	char *lock;
};

static void recipe_free(struct recipe *rc)
{
	free(rc->arch);
	free(rc->packages);
	free(rc->variant_opt);
	free(rc->arch_opt);
	free(rc->include_opt);
	free(rc->tarball);
	free(rc->tarball_opt);
	free(rc->image);
	free(rc->lock);
}

static int recipe_init(struct uml_rootfs *rootfs, const char *suite, struct recipe *rc)
{
	struct rootfs_guest *g = rootfs->guest;
	char *cache = NULL, *dir = NULL;
	const char *variant = g->variant ? g->variant : "default";
	uint64_t key = UML_HASH_INIT;
	int r;

	rc->suite = suite;
	rc->mirror = uml_rootfs_get_mirror(rootfs);
	rc->arch = g->arch ? strdup(g->arch) : host_arch(rootfs->ctx);
	if (!rc->mirror || !rc->arch)
		return rc->arch ? -ENOMEM : rfail(rootfs, -EINVAL, "cannot tell the host's Debian "
						  "architecture; set one with uml_rootfs_set_arch()");
	rc->packages = package_list(g);
	if (g->n_packages && !rc->packages)
		return -ENOMEM;
	key = uml_hash_str(key, suite);
	key = uml_hash_str(key, rc->arch);
	key = uml_hash_str(key, variant);
	key = uml_hash_str(key, rc->packages ? rc->packages : "");
	key = uml_hash_str(key, rc->mirror);
	r = uml_ctx_cache_dir(rootfs->ctx, &rootfs->last_error, g->cache_dir, &cache);
	if (r < 0)
		return r;
	if (asprintf(&dir, "%s/debootstrap", cache) < 0) {
		free(cache);
		return -ENOMEM;
	}
	r = uml_mkdir_p(dir, 0700);
	if (r < 0) {
		r = rfail(rootfs, r, "cannot create cache dir '%s': %s", dir, strerror(-r));
		goto out;
	}
	if (asprintf(&rc->tarball, "%s/%s-%s-%s-%016llx.tgz", dir, suite, rc->arch, variant,
		     (unsigned long long)key) < 0 ||
	    asprintf(&rc->lock, "%s.lock", rc->tarball) < 0 ||
	    asprintf(&rc->image, "%s/%s-%s-%s-%016llx.ext%d", dir, suite, rc->arch, variant,
		     (unsigned long long)key, rootfs->fs_type == UML_FS_EXT4 ? 4 :
		     rootfs->fs_type == UML_FS_EXT3 ? 3 : 2) < 0 ||
	    asprintf(&rc->arch_opt, "--arch=%s", rc->arch) < 0 ||
	    (g->variant && asprintf(&rc->variant_opt, "--variant=%s", g->variant) < 0) ||
	    (rc->packages && asprintf(&rc->include_opt, "--include=%s", rc->packages) < 0))
		r = -ENOMEM;
out:
	free(cache);
	free(dir);
	return r;
}

/* argv of a debootstrap run: options, then SUITE TARGET MIRROR. */
static void recipe_argv(const struct recipe *rc, const char *tarball_opt, const char *target,
			char *argv[10])
{
	size_t n = 0;

	argv[n++] = (char *)rc->debootstrap;
	argv[n++] = rc->arch_opt;
	if (rc->variant_opt)
		argv[n++] = rc->variant_opt;
	if (rc->include_opt)
		argv[n++] = rc->include_opt;
	argv[n++] = (char *)tarball_opt;
	argv[n++] = (char *)rc->suite;
	argv[n++] = (char *)target;
	argv[n++] = (char *)rc->mirror;
	argv[n] = NULL;
}

/* FILE.done holds FILE's identity: a completed write of ours, unchanged since. */
static int stamp_complete(const char *file)
{
	_cleanup_(uml_freep) char *stamp = NULL, *ident = NULL;
	int r;

	if (asprintf(&stamp, "%s.done", file) < 0)
		return -ENOMEM;
	r = uml_file_identity(file, &ident);
	return r < 0 ? r : uml_write_file(stamp, ident, strlen(ident));
}

static bool stamped_complete(const char *file)
{
	_cleanup_(uml_freep) char *stamp = NULL, *ident = NULL;

	return asprintf(&stamp, "%s.done", file) >= 0 && uml_file_identity(file, &ident) == 0 &&
	       uml_stamp_matches(stamp, ident);
}

/* Makes the recipe's tarball (under the lock); the cache entry appears only when complete. */
static int download(struct uml_rootfs *rootfs, const struct recipe *rc, const char *staging)
{
	struct dbs_run rn = { .rootfs = rootfs, .kind = RUN_DOWNLOAD, .staging = staging };
	char *tmp = NULL, *opt = NULL, *target = NULL, *argv[10];
	int r;

	if (asprintf(&tmp, "%s.part.tgz", rc->tarball) < 0 ||
	    asprintf(&opt, "--make-tarball=%s", tmp) < 0 ||
	    asprintf(&target, "%s/download", staging) < 0) {
		r = -ENOMEM;
		goto out;
	}
	rn.target = target;
	recipe_argv(rc, opt, target, argv);
	uml_info(rootfs->ctx, "downloading %s packages from %s into '%s'", rc->suite, rc->mirror,
		 rc->tarball);
	r = uml_progress(rootfs->ctx, "download", 0, 0);
	if (r == 0)
		r = run_debootstrap(&rn, argv);
	else
		r = rfail(rootfs, r, "debootstrap for '%s' was cancelled", rootfs->path);
	if (r == 0 && rename(tmp, rc->tarball) < 0)
		r = rfail(rootfs, -errno, "cannot put '%s' into the cache: %m", rc->tarball);
	if (r == 0) {
		r = stamp_complete(rc->tarball);
		if (r < 0)
			r = rfail(rootfs, r, "cannot stamp '%s' in the cache: %s", rc->tarball,
				  strerror(-r));
	}
	if (r < 0)
		unlink(tmp);
out:
	free(tmp);
	free(opt);
	free(target);
	return r;
}

/* Copies the data extents of in to out (size bytes); holes stay holes. */
static int copy_sparse(int in, int out, uint64_t size)
{
	uint64_t pos = 0;

	if (ftruncate(out, (off_t)size) < 0)
		return -errno;
	while (pos < size) {
		off_t data = lseek(in, (off_t)pos, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0)
			return -errno;
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0 || (uint64_t)hole > size)
			hole = (off_t)size;
		for (loff_t io = data, oo = data; io < hole; ) {
			ssize_t n = copy_file_range(in, &io, out, &oo, (size_t)(hole - io), 0);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : -ENODATA;
		}
		pos = (uint64_t)hole;
	}
	return fsync(out) < 0 ? -errno : 0;
}

/*
 * Copies the file src to dst through a temporary file next to dst, renamed
 * into place when complete (replacing dst only with overwrite).
 */
static int copy_image(const char *src, const char *dst, bool overwrite)
{
	const char *slash = strrchr(dst, '/');
	struct stat st;
	char *tmp;
	int in, out, r;

	if (asprintf(&tmp, "%.*s/.%s.XXXXXX", (int)(slash - dst), dst, slash + 1) < 0)
		return -ENOMEM;
	in = open(src, O_RDONLY | O_CLOEXEC);
	out = in < 0 ? -1 : mkostemp(tmp, O_CLOEXEC);
	if (in < 0 || out < 0) {
		r = -errno;
		if (in >= 0)
			close(in);
		free(tmp);
		return r;
	}
	r = fstat(in, &st) < 0 ? -errno : copy_sparse(in, out, (uint64_t)st.st_size);
	if (r == 0 && fchmod(out, 0644) < 0)
		r = -errno;
	if (r == 0 && (overwrite ? rename(tmp, dst) :
		       renameat2(AT_FDCWD, tmp, AT_FDCWD, dst, RENAME_NOREPLACE)) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	close(in);
	close(out);
	free(tmp);
	return r;
}

/* Keeps image in the cache as cached, with the stamp of a completed write. */
static int cache_image(const char *image, const char *cached)
{
	int r = copy_image(image, cached, true);

	return r < 0 ? r : stamp_complete(cached);
}

/*
 * The warm path: the recipe's installed image from the cache, grown to the
 * size asked for.  1 when taken, 0 when the cache cannot serve this build.
 */
static int image_from_cache(struct uml_rootfs *rootfs, const struct recipe *rc, unsigned flags)
{
	struct stat st;
	int r;

	if ((flags & UML_ROOTFS_DEBOOTSTRAP_REFRESH) || stat(rc->image, &st) < 0 ||
	    !S_ISREG(st.st_mode) || (rootfs->size_set && rootfs->size < (uint64_t)st.st_size))
		return 0;
	/* only an image we wrote completely, unchanged since */
	if (!stamped_complete(rc->image)) {
		uml_info(rootfs->ctx, "not using '%s': no stamp of a completed write", rc->image);
		return 0;
	}
	r = uml_progress(rootfs->ctx, "copy", 0, 0);
	if (r < 0)
		return rfail(rootfs, r, "building '%s' was cancelled", rootfs->path);
	r = copy_image(rc->image, rootfs->path, flags & UML_ROOTFS_CREATE_OVERWRITE);
	if (r < 0)
		return rfail(rootfs, r, "cannot copy the cached image '%s' to '%s': %s", rc->image,
			     rootfs->path, strerror(-r));
	uml_info(rootfs->ctx, "using the cached installed image '%s'", rc->image);
	if (rootfs->size_set && rootfs->size > (uint64_t)st.st_size) {
		r = uml_rootfs_resize(rootfs, rootfs->size);
		if (r < 0) {
			unlink(rootfs->path);
			return r;
		}
	}
	rootfs->size = rootfs->size_set ? rootfs->size : (uint64_t)st.st_size;
	rootfs->ready_marker = NULL;
	rootfs->root_rw = false;
	return 1;
}

UML_EXPORT int uml_rootfs_create_debootstrap(struct uml_rootfs *rootfs, const char *suite,
					     unsigned flags)
{
	const unsigned known = UML_ROOTFS_CREATE_OVERWRITE | UML_ROOTFS_DEBOOTSTRAP_REFRESH |
			       UML_ROOTFS_DEBOOTSTRAP_NO_CONFIGURE;
	struct recipe rc = { 0 };
	struct dbs_run rn = { 0 };
	struct rootfs_guest *g;
	char *staging = NULL, *root = NULL, *argv[10];
	bool cached = false, created = false;
	struct stat st;
	int lfd = -1, r;

	if (!rootfs)
		return -EINVAL;
	if (!valid_suite(suite))
		return rfail(rootfs, -EINVAL, "'%s' is not a Debian suite name",
			     suite ? suite : "(null)");
	if (flags & ~known)
		return rfail(rootfs, -EINVAL, "unknown flags 0x%x for creating '%s'", flags & ~known,
			     rootfs->path);
	r = rootfs_check_target(rootfs, flags & UML_ROOTFS_CREATE_OVERWRITE);
	if (r < 0)
		return r;
	if (geteuid() != 0)
		return rfail(rootfs, -EPERM, "building a Debian guest with debootstrap needs root: "
			     "it creates device nodes and runs dpkg in a chroot; run as root, or "
			     "make the tree elsewhere and use uml_rootfs_create_from_dir()");
	rc.debootstrap = find_debootstrap();
	if (!rc.debootstrap)
		return rfail(rootfs, -ENOPKG, "debootstrap not found (Debian package debootstrap)");
	g = rootfs_guest(rootfs);
	if (!g)
		return -ENOMEM;
	g->was_cached = false;
	r = recipe_init(rootfs, suite, &rc);
	if (r < 0)
		goto out;

	/* staging next to the image, on the disk the caller chose */
	{
		const char *slash = strrchr(rootfs->path, '/');

		if (asprintf(&staging, "%.*s/.%s.debootstrap.XXXXXX", (int)(slash - rootfs->path),
			     rootfs->path, slash + 1) < 0) {
			staging = NULL;
			r = -ENOMEM;
			goto out;
		}
	}
	if (!mkdtemp(staging)) {
		r = rfail(rootfs, -errno, "cannot create a staging directory next to '%s': %m",
			  rootfs->path);
		free(staging);
		staging = NULL;
		goto out;
	}
	if (asprintf(&root, "%s/root", staging) < 0) {
		r = -ENOMEM;
		goto out;
	}

	lfd = uml_lock_file(rc.lock);
	if (lfd < 0) {
		r = rfail(rootfs, lfd, "cannot lock '%s': %s", rc.lock, strerror(-lfd));
		goto out;
	}
	r = image_from_cache(rootfs, &rc, flags);
	if (r < 0)
		goto out;
	if (r > 0) {
		cached = created = true;
		r = 0;
		goto configure;
	}
	cached = !(flags & UML_ROOTFS_DEBOOTSTRAP_REFRESH) && stat(rc.tarball, &st) == 0 &&
		 S_ISREG(st.st_mode) && st.st_size > 0 && stamped_complete(rc.tarball);
	if (!cached) {
		r = download(rootfs, &rc, staging);
		if (r < 0)
			goto out;
	} else {
		uml_info(rootfs->ctx, "using cached %s packages '%s'", suite, rc.tarball);
	}

	if (asprintf(&rc.tarball_opt, "--unpack-tarball=%s", rc.tarball) < 0) {
		r = -ENOMEM;
		goto out;
	}
	rn.rootfs = rootfs;
	rn.kind = RUN_INSTALL;
	rn.target = root;
	rn.staging = staging;
	recipe_argv(&rc, rc.tarball_opt, root, argv);
	r = run_debootstrap(&rn, argv);
	if (r < 0)
		goto out;

	if (!rootfs->size_set) {
		uint64_t size = 0;

		r = auto_size(root, &size);
		if (r < 0) {
			r = rfail(rootfs, r, "cannot measure '%s': %s", root, strerror(-r));
			goto out;
		}
		rootfs->size = size;
	}
	r = uml_rootfs_create_from_dir(rootfs, root, flags & UML_ROOTFS_CREATE_OVERWRITE);
	if (r < 0)
		goto out;
	created = true;
	staging_remove(rootfs->ctx, staging);
	free(staging);
	staging = NULL;
	/* the next build of this recipe starts from here */
	r = cache_image(rootfs->path, rc.image);
	if (r < 0)
		uml_log(rootfs->ctx, LOG_WARNING, "cannot keep '%s' in the cache as '%s': %s",
			rootfs->path, rc.image, strerror(-r));
	r = 0;
configure:
	close(lfd);
	lfd = -1;
	if (!(flags & UML_ROOTFS_DEBOOTSTRAP_NO_CONFIGURE)) {
		r = uml_rootfs_configure(rootfs, 0);
		if (r < 0)
			goto out;
	}
	g->was_cached = cached;
	uml_info(rootfs->ctx, "created Debian %s guest '%s' (%s packages)", suite, rootfs->path,
		 cached ? "cached" : "downloaded");
out:
	if (lfd >= 0)
		close(lfd);
	if (staging)
		staging_remove(rootfs->ctx, staging);
	/* an image that was never configured is not one that boots */
	if (r < 0 && created)
		unlink(rootfs->path);
	if (r == -ENOMEM)
		r = rfail(rootfs, r, "out of memory building '%s'", rootfs->path);
	free(staging);
	free(root);
	recipe_free(&rc);
	return r;
}

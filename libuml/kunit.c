/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KUnit on libuml: kernels configured as kunit.py configures them (on top
 * of uml_kernel_build), and their tests listed, cut into shards that one
 * kunit.filter_glob each selects exactly, and run in parallel guests from
 * one event loop, with crashed and timed-out guests narrowed down to the
 * test that was running.  Built on the public API of kernel builds,
 * instances and the KTAP parser; the only private helpers used are the
 * generic ones and the config line parser.
 *
 * The cache dir keeps, per kernel binary (path, size, mtime):
 *   kunit/list-HASH    the list of tests (kunit.action=list_attr)
 *   kunit/times-HASH   each test's last duration, for balancing shards
 */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kunit-internal.h"

#define fail(k, err, ...) uml_fail((k)->ctx, &(k)->last_error, err, __VA_ARGS__)

/* ---- the object and its settings ---------------------------------------------- */

static void clear_tests(struct uml_kunit *k)
{
	for (size_t i = 0; i < k->n_tests; i++) {
		free(k->tests[i].suite);
		free(k->tests[i].name);
		free(k->tests[i].reason);
		uml_ktap_unref(k->tests[i].owner);
	}
	free(k->tests);
	k->tests = NULL;
	k->n_tests = k->cap_tests = 0;
	for (size_t i = 0; i < k->n_suites; i++) {
		uml_ktap_unref(k->suites[i].leaf_owner);
		uml_ktap_unref(k->suites[i].node_owner);
	}
	free(k->suites);
	k->suites = NULL;
	k->n_suites = k->cap_suites = 0;
}

static void clear_shards(struct uml_kunit *k)
{
	for (size_t i = 0; i < k->n_shards; i++)
		uml_kunit_shard_free(k->shards[i]);
	free(k->shards);
	k->shards = NULL;
	k->n_shards = k->cap_shards = 0;
}

static void kunit_free(struct uml_kunit *k)
{
	clear_shards(k);
	clear_tests(k);
	uml_ktap_unref(k->result);
	uml_ktap_unref(k->rerun);
	uml_kernel_unref(k->kernel);
	uml_strv_free(&k->kunitconfigs);
	uml_strv_free(&k->kconfigs);
	uml_strv_free(&k->kernel_args);
	uml_strv_free(&k->listed);
	free(k->source);
	free(k->build_dir);
	free(k->cache_dir);
	free(k->out_dir);
	free(k->filter_glob);
	free(k->filter);
	free(k->last_error);
	uml_ctx_unref(k->ctx);
	free(k);
}

UML_DEFINE_REF_UNREF(uml_kunit, uml_kunit, kunit_free)

UML_EXPORT int uml_kunit_new(struct uml_ctx *ctx, struct uml_kunit **ret)
{
	struct uml_kunit *k;

	if (!ctx || !ret)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->refcount = 1;
	k->ctx = uml_ctx_ref(ctx);
	k->timeout_ms = 300000;
	k->source = strdup(DEFAULT_SOURCE);
	if (!k->source) {
		kunit_free(k);
		return -ENOMEM;
	}
	*ret = k;
	return 0;
}

static int set_path(struct uml_kunit *k, char **slot, const char *path, const char *what)
{
	char *abs;
	int r;

	if (!k)
		return -EINVAL;
	if (!path || !*path)
		return fail(k, -EINVAL, "kunit: empty %s", what);
	r = uml_path_absolute(path, &abs);
	if (r < 0)
		return fail(k, r, "kunit: cannot resolve %s '%s': %s", what, path, strerror(-r));
	free(*slot);
	*slot = abs;
	return 0;
}

UML_EXPORT int uml_kunit_set_source(struct uml_kunit *k, const char *path)
{
	return set_path(k, k ? &k->source : NULL, path, "source");
}

UML_EXPORT int uml_kunit_set_build_dir(struct uml_kunit *k, const char *dir)
{
	return set_path(k, k ? &k->build_dir : NULL, dir, "build dir");
}

UML_EXPORT int uml_kunit_set_cache_dir(struct uml_kunit *k, const char *dir)
{
	return set_path(k, k ? &k->cache_dir : NULL, dir, "cache dir");
}

UML_EXPORT int uml_kunit_set_jobs(struct uml_kunit *k, unsigned jobs)
{
	if (!k)
		return -EINVAL;
	if (jobs > 1024)
		return fail(k, -ERANGE, "kunit: %u jobs is more than 1024", jobs);
	k->jobs = jobs;
	return 0;
}

UML_EXPORT int uml_kunit_add_kunitconfig(struct uml_kunit *k, const char *path)
{
	if (!k)
		return -EINVAL;
	if (!path || !*path)
		return fail(k, -EINVAL, "kunit: empty kunitconfig path");
	return uml_strv_add(&k->kunitconfigs, path);
}

UML_EXPORT int uml_kunit_add_kconfig(struct uml_kunit *k, const char *option)
{
	char *sym = NULL, *val = NULL;
	int r;

	if (!k)
		return -EINVAL;
	r = option && !strchr(option, '\n') ?
	    uml_kconfig_parse_line(option, strlen(option), &sym, &val) : -EINVAL;
	free(sym);
	free(val);
	if (r == -ENOMEM)
		return r;
	if (r != 1)
		return fail(k, -EINVAL, "kunit: bad option '%s' (want CONFIG_NAME=VALUE)",
			    option ? option : "(null)");
	return uml_strv_add(&k->kconfigs, option);
}

UML_EXPORT int uml_kunit_set_flags(struct uml_kunit *k, unsigned flags)
{
	if (!k)
		return -EINVAL;
	if (flags & ~(unsigned)UML_KUNIT_ALLTESTS)
		return fail(k, -EINVAL, "kunit: unknown flags 0x%x", flags);
	k->flags = flags;
	return 0;
}

UML_EXPORT int uml_kunit_set_kernel(struct uml_kunit *k, struct uml_kernel *kernel)
{
	if (!k || !kernel)
		return -EINVAL;
	uml_kernel_unref(k->kernel);
	k->kernel = uml_kernel_ref(kernel);
	clear_tests(k);
	return 0;
}

UML_EXPORT int uml_kunit_set_parallel(struct uml_kunit *k, unsigned guests)
{
	if (!k)
		return -EINVAL;
	if (guests > 1024)
		return fail(k, -ERANGE, "kunit: %u guests at once is more than 1024", guests);
	k->parallel = guests;
	return 0;
}

static int set_ms(struct uml_kunit *k, int64_t *slot, int64_t ms, const char *what)
{
	if (!k)
		return -EINVAL;
	if (ms < 0)
		return fail(k, -ERANGE, "kunit: negative %s", what);
	*slot = ms;
	return 0;
}

UML_EXPORT int uml_kunit_set_timeout(struct uml_kunit *k, int64_t ms)
{
	return set_ms(k, k ? &k->timeout_ms : NULL, ms, "timeout");
}

UML_EXPORT int uml_kunit_set_shard_timeout(struct uml_kunit *k, int64_t ms)
{
	return set_ms(k, k ? &k->shard_timeout_ms : NULL, ms, "shard timeout");
}

static int set_word(struct uml_kunit *k, char **slot, const char *value, const char *what)
{
	if (!k)
		return -EINVAL;
	if (value && (!*value || uml_has_space_or_ctrl(value)))
		return fail(k, -EINVAL, "kunit: %s '%s' is empty or holds white space", what, value);
	clear_tests(k);
	return uml_set_string(slot, value);
}

UML_EXPORT int uml_kunit_set_filter_glob(struct uml_kunit *k, const char *glob)
{
	return set_word(k, k ? &k->filter_glob : NULL, glob, "filter glob");
}

UML_EXPORT int uml_kunit_set_filter(struct uml_kunit *k, const char *filter)
{
	return set_word(k, k ? &k->filter : NULL, filter, "filter");
}

UML_EXPORT int uml_kunit_add_kernel_arg(struct uml_kunit *k, const char *arg)
{
	if (!k)
		return -EINVAL;
	if (!arg || !*arg || uml_has_space_or_ctrl(arg))
		return fail(k, -EINVAL, "kunit: kernel argument '%s' is empty or holds white space",
			    arg ? arg : "(null)");
	clear_tests(k);
	return uml_strv_add(&k->kernel_args, arg);
}

UML_EXPORT int uml_kunit_set_rerun(struct uml_kunit *k, struct uml_ktap *previous)
{
	if (!k)
		return -EINVAL;
	uml_ktap_unref(k->rerun);
	k->rerun = uml_ktap_ref(previous);
	return 0;
}

UML_EXPORT const char *uml_kunit_get_build_dir(struct uml_kunit *k)
{
	return k ? k->out_dir : NULL;
}

UML_EXPORT struct uml_ktap *uml_kunit_get_result(struct uml_kunit *k)
{
	return k ? k->result : NULL;
}

UML_EXPORT size_t uml_kunit_get_n_shards(struct uml_kunit *k)
{
	return k ? k->n_shards : 0;
}

UML_EXPORT const char *uml_kunit_get_shard_glob(struct uml_kunit *k, size_t i)
{
	return k && i < k->n_shards ? k->shards[i]->glob : NULL;
}

UML_EXPORT const char *uml_kunit_get_shard_output(struct uml_kunit *k, size_t i, size_t *len)
{
	if (!k || i >= k->n_shards)
		return NULL;
	if (len)
		*len = k->shards[i]->output_len;
	return k->shards[i]->output ? k->shards[i]->output : "";
}

UML_EXPORT const char *uml_kunit_last_error(struct uml_kunit *k)
{
	return k ? k->last_error : NULL;
}

/* ---- configuring and building -------------------------------------------------- */

/* A kunitconfig: a file, or DIR/.kunitconfig; relative to the cwd, else to the tree. */
static int find_kunitconfig(struct uml_kunit *k, const char *tree, const char *path, char **ret)
{
	struct stat st;
	char *p = NULL;

	if (path[0] != '/' && stat(path, &st) != 0) {
		if (asprintf(&p, "%s/%s", tree, path) < 0)
			return -ENOMEM;
	} else if (!(p = strdup(path))) {
		return -ENOMEM;
	}
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
		char *d = p;

		if (asprintf(&p, "%s/.kunitconfig", d) < 0)
			p = NULL;
		free(d);
		if (!p)
			return -ENOMEM;
	}
	if (access(p, R_OK) != 0) {
		int r = -errno;

		fail(k, r, "kunit: kunitconfig '%s' %s", p,
		     r == -ENOENT ? "does not exist" : strerror(-r));
		free(p);
		return r;
	}
	*ret = p;
	return 0;
}

/* kunit.py refuses kunitconfigs that set one option to different values. */
static int check_conflicts(struct uml_kunit *k, char *const *paths, size_t n)
{
	struct uml_strv seen = { 0 };	/* "SYM=VAL\tPATH" */
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		_cleanup_(uml_freep) char *text = NULL;

		r = uml_read_file(paths[i], &text, NULL);
		if (r < 0) {
			r = fail(k, r, "kunit: cannot read kunitconfig '%s': %s", paths[i],
				 strerror(-r));
			break;
		}
		for (char *line = text; line && *line && r == 0; ) {
			char *nl = strchr(line, '\n');
			size_t len = nl ? (size_t)(nl - line) : strlen(line);
			char *sym = NULL, *val = NULL;
			int pr = uml_kconfig_parse_line(line, len, &sym, &val);

			if (pr == -EINVAL)
				r = fail(k, -EINVAL, "kunit: %s: not a config line: '%.*s'", paths[i],
					 (int)len, line);
			for (size_t j = 0; pr == 1 && r == 0 && j < seen.n; j++) {
				const char *eq = strchr(seen.v[j], '=');
				const char *tab = strchr(seen.v[j], '\t');

				if ((size_t)(eq - seen.v[j]) == strlen(sym) &&
				    strncmp(seen.v[j], sym, strlen(sym)) == 0 &&
				    ((size_t)(tab - eq - 1) != strlen(val) || strncmp(eq + 1, val, strlen(val))))
					r = fail(k, -EINVAL,
						 "kunit: multiple values for CONFIG_%s in kunitconfigs: %.*s in %s vs %s in %s",
						 sym, (int)(tab - eq - 1), eq + 1, tab + 1, val, paths[i]);
			}
			if (pr == 1 && r == 0)
				r = uml_strv_addf(&seen, "%s=%s\t%s", sym, val, paths[i]);
			free(sym);
			free(val);
			line = nl ? nl + 1 : NULL;
		}
	}
	uml_strv_free(&seen);
	return r;
}

static int configure(struct uml_kunit *k, bool build)
{
	struct uml_kernel_build *kb = NULL;
	struct uml_strv frags = { 0 };
	struct uml_kernel *kernel = NULL;
	const char *tree;
	char *p = NULL;
	int r;

	r = uml_kernel_build_new(k->ctx, &kb);
	if (r < 0)
		return r;
#define TRY(call) do { if ((r = (call)) < 0) { \
		if (uml_kernel_build_last_error(kb)) \
			uml_set_string(&k->last_error, uml_kernel_build_last_error(kb)); \
		goto out; } } while (0)
	TRY(uml_kernel_build_set_source(kb, k->source));
	if (k->cache_dir)
		TRY(uml_kernel_build_set_cache_dir(kb, k->cache_dir));
	if (k->build_dir)
		TRY(uml_kernel_build_set_build_dir(kb, k->build_dir));
	TRY(uml_kernel_build_set_jobs(kb, k->jobs));
	TRY(uml_kernel_build_set_preset(kb, "none"));
	TRY(uml_kernel_build_get_source_tree(kb, &tree));

	/* kunit.py: arch_uml.config, then --alltests, then the kunitconfigs */
	r = uml_strv_addf(&frags, "%s/%s/arch_uml.config", tree, KUNIT_DIR);
	if (r == 0 && (k->flags & UML_KUNIT_ALLTESTS))
		r = uml_strv_addf(&frags, "%s/%s/all_tests.config", tree, KUNIT_DIR);
	for (size_t i = 0; r == 0 && i < k->kunitconfigs.n; i++) {
		r = find_kunitconfig(k, tree, k->kunitconfigs.v[i], &p);
		if (r == 0)
			r = uml_strv_take(&frags, p);
	}
	if (r < 0)
		goto out;
	if (!k->kunitconfigs.n && !(k->flags & UML_KUNIT_ALLTESTS)) {
		/* BUILD_DIR/.kunitconfig, made from the default one when missing */
		_cleanup_(uml_freep) char *text = NULL, *def = NULL;

		if (k->build_dir) {
			r = uml_mkdir_p(k->build_dir, 0755);
			if (r == 0 && asprintf(&p, "%s/.kunitconfig", k->build_dir) < 0)
				r = -ENOMEM;
		} else if (asprintf(&p, "%s/%s/default.config", tree, KUNIT_DIR) < 0) {
			r = -ENOMEM;
		}
		if (r < 0)
			goto out;
		if (k->build_dir && access(p, F_OK) != 0) {
			if (asprintf(&def, "%s/%s/default.config", tree, KUNIT_DIR) < 0 ||
			    uml_read_file(def, &text, NULL) < 0 ||
			    uml_write_file(p, text, strlen(text)) < 0) {
				r = fail(k, -EIO, "kunit: cannot copy '%s' to '%s'", def ? def : "", p);
				free(p);
				goto out;
			}
		}
		r = uml_strv_take(&frags, p);
		if (r < 0)
			goto out;
	}
	r = check_conflicts(k, frags.v + 1, frags.n - 1);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < frags.n; i++)
		TRY(uml_kernel_build_add_fragment_file(kb, frags.v[i]));
	for (size_t i = 0; i < k->kconfigs.n; i++)
		TRY(uml_kernel_build_add_option(kb, k->kconfigs.v[i]));
	if (!build)
		TRY(uml_kernel_build_set_flags(kb, UML_KERNEL_BUILD_CONFIGURE_ONLY));
	r = uml_kernel_build_run(kb, build ? &kernel : NULL);
	if (uml_kernel_build_get_build_dir(kb))
		uml_set_string(&k->out_dir, uml_kernel_build_get_build_dir(kb));
	TRY(r);
	if (kernel) {
		uml_kernel_unref(k->kernel);
		k->kernel = kernel;
		clear_tests(k);
	}
#undef TRY
out:
	uml_strv_free(&frags);
	uml_kernel_build_unref(kb);
	return r;
}

UML_EXPORT int uml_kunit_config(struct uml_kunit *k)
{
	return k ? configure(k, false) : -EINVAL;
}

UML_EXPORT int uml_kunit_build(struct uml_kunit *k)
{
	return k ? configure(k, true) : -EINVAL;
}

/* ---- listing --------------------------------------------------------------------- */

static int cache_path(struct uml_kunit *k, const char *what, bool with_args, char **ret)
{
	_cleanup_(uml_freep) char *cache = NULL;
	const char *path = uml_kernel_get_path(k->kernel);
	uint64_t h = uml_hash_str(UML_HASH_INIT, path);
	struct stat st;
	char num[64];
	int r = uml_ctx_cache_dir(k->ctx, &k->last_error, k->cache_dir, &cache);

	if (r < 0)
		return r;
	if (stat(path, &st) < 0)
		return -errno;
	snprintf(num, sizeof(num), "%lld %lld.%09ld", (long long)st.st_size,
		 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	h = uml_hash_str(h, num);
	if (with_args) {
		h = uml_hash_str(h, k->filter ? k->filter : "");
		for (size_t i = 0; i < k->kernel_args.n; i++)
			h = uml_hash_str(h, k->kernel_args.v[i]);
	}
	if (asprintf(ret, "%s/kunit/%s-%016llx", cache, what, (unsigned long long)h) < 0)
		return -ENOMEM;
	return 0;
}

/* Adds "suite.test", or a suite without cases ("suite": name ""), from a listing line. */
static int add_listed(struct uml_kunit *k, const char *line, size_t len, bool slow)
{
	const char *dot = memchr(line, '.', len);
	struct kt *t;

	if (k->n_tests >= MAX_TESTS)
		return -E2BIG;
	if (uml_grow(&k->tests, &k->cap_tests, k->n_tests + 1, sizeof(*k->tests)) < 0)
		return -ENOMEM;
	t = &k->tests[k->n_tests];
	memset(t, 0, sizeof(*t));
	t->suite = dot ? strndup(line, (size_t)(dot - line)) : strndup(line, len);
	t->name = dot ? strndup(dot + 1, len - (size_t)(dot - line) - 1) : strdup("");
	if (!t->suite || !t->name) {
		free(t->suite);
		free(t->name);
		return -ENOMEM;
	}
	t->slow = slow;
	k->n_tests++;
	return 0;
}

/* kunit.py's test name pattern: r'^[^\s.]+\.[^\s.]+$'; with dots 0, a suite name. */
static bool name_line(const char *l, size_t len, unsigned dots)
{
	const char *dot = memchr(l, '.', len);

	if (!len || l[0] == '#')
		return false;
	if (dots == 0 ? dot != NULL :
	    !dot || dot == l || dot + 1 == l + len || memchr(dot + 1, '.', len - (size_t)(dot - l) - 1))
		return false;
	for (size_t i = 0; i < len; i++)
		if (l[i] == ' ' || l[i] == '\t' || (unsigned char)l[i] < 0x20)
			return false;
	return true;
}

/*
 * The listing: "suite" lines, each followed by its "suite.test" lines
 * ("# test.speed: slow" after a slow one).  A suite without cases (all
 * skipped at suite level) becomes one entry with an empty test name.
 */
static int parse_listing(struct uml_kunit *k, const char *text)
{
	const char *pending = NULL;	/* a suite line not followed by its tests yet */
	size_t pending_len = 0;
	int r = 0;

	for (const char *l = text; r == 0; ) {
		const char *nl = l ? strchr(l, '\n') : NULL;
		size_t len = !l ? 0 : nl ? (size_t)(nl - l) : strlen(l);
		bool end = !l || !*l;

		if (pending && (end || name_line(l, len, 0) ||
				(name_line(l, len, 1) && (len <= pending_len || l[pending_len] != '.' ||
							  memcmp(l, pending, pending_len) != 0)))) {
			r = add_listed(k, pending, pending_len, false);
			pending = NULL;
		}
		if (end || r < 0)
			break;
		if (name_line(l, len, 1)) {
			pending = NULL;
			r = add_listed(k, l, len, false);
		} else if (name_line(l, len, 0)) {
			pending = l;
			pending_len = len;
		} else if (k->n_tests && len > 14 && strncmp(l, "# ", 2) == 0 &&
			   memcmp(l + len - 12, ".speed: slow", 12) == 0) {
			struct kt *t = &k->tests[k->n_tests - 1];
			size_t nl2 = strlen(t->name);

			if (len - 2 - 12 == nl2 && memcmp(l + 2, t->name, nl2) == 0)
				t->slow = true;
		}
		l = nl ? nl + 1 : NULL;
	}
	return r;
}

struct collect {
	struct uml_buf lines;		/* the KTAP lines, prefix cut */
	struct uml_ktap *ktap;
};

static void on_list_line(void *ud, const struct uml_ktap_event *ev)
{
	struct collect *c = ud;

	if (ev->type == UML_KTAP_EVENT_LINE && c->lines.len < (64u << 20)) {
		uml_buf_append(&c->lines, ev->text, strlen(ev->text));
		uml_buf_append(&c->lines, "\n", 1);
	}
}

static void on_list_console(void *ud, struct uml_instance *inst, const struct uml_event *ev)
{
	struct collect *c = ud;

	(void)inst;
	if (ev->type == UML_EVENT_CONSOLE_LINE) {
		uml_ktap_feed(c->ktap, ev->text, ev->len);
		uml_ktap_feed(c->ktap, "\n", 1);
	}
}

static int new_guest(struct uml_kunit *k, const char *action, const char *glob,
		     struct uml_instance **ret)
{
	struct uml_instance *inst;
	int r;

	r = uml_instance_new(k->kernel, &inst);
	if (r < 0)
		return r;
	r = uml_instance_set_memory(inst, GUEST_MEMORY);
	if (r == 0)
		r = uml_instance_append_arg(inst, "kunit.enable=1");
	if (r == 0)
		r = uml_instance_append_arg(inst, "kunit_shutdown=halt");
	if (r == 0)
		r = uml_instance_append_arg(inst, "console=tty");
	if (r == 0 && action)
		r = uml_instance_append_arg(inst, action);
	if (r == 0 && glob) {
		char *a;

		r = asprintf(&a, "kunit.filter_glob=%s", glob) < 0 ? -ENOMEM :
		    uml_instance_append_arg(inst, a);
		if (r != -ENOMEM)
			free(a);
	}
	if (r == 0 && k->filter) {
		char *a;

		r = asprintf(&a, "kunit.filter=%s", k->filter) < 0 ? -ENOMEM :
		    uml_instance_append_arg(inst, a);
		if (r != -ENOMEM)
			free(a);
	}
	for (size_t i = 0; r == 0 && i < k->kernel_args.n; i++)
		r = uml_instance_append_arg(inst, k->kernel_args.v[i]);
	if (r < 0) {
		if (uml_instance_last_error(inst))
			uml_set_string(&k->last_error, uml_instance_last_error(inst));
		uml_instance_unref(inst);
		return r;
	}
	*ret = inst;
	return 0;
}

/* The kernel's tests, from the cache or from a boot with kunit.action=list_attr. */
static int load_tests(struct uml_kunit *k)
{
	_cleanup_(uml_freep) char *path = NULL, *cached = NULL;
	struct collect c = { 0 };
	struct uml_instance *inst = NULL;
	int r;

	if (k->tests)
		return 0;
	if (!k->kernel)
		return fail(k, -ENOENT, "kunit: no kernel: build one or set one first");
	r = cache_path(k, "list", true, &path);
	if (r < 0)
		return fail(k, r, "kunit: kernel '%s': %s", uml_kernel_get_path(k->kernel), strerror(-r));
	if (uml_read_file(path, &cached, NULL) == 0 &&
	    strncmp(cached, LIST_VERSION, strlen(LIST_VERSION)) == 0) {
		r = parse_listing(k, cached + strlen(LIST_VERSION));
		if (r == 0 && k->n_tests)
			goto suites;
		clear_tests(k);
	}
	r = uml_ktap_new(k->ctx, &c.ktap);
	if (r < 0)
		return r;
	uml_ktap_set_event_fn(c.ktap, on_list_line, &c);
	r = new_guest(k, "kunit.action=list_attr", NULL, &inst);
	if (r < 0)
		goto out;
	uml_instance_set_event_fn(inst, on_list_console, &c);
	if (k->timeout_ms)
		uml_instance_set_timeout(inst, k->timeout_ms);
	r = uml_instance_boot(inst);
	if (r < 0) {
		r = fail(k, r, "kunit: cannot boot '%s' to list its tests: %s",
			 uml_kernel_get_path(k->kernel), uml_instance_last_error(inst));
		goto out;
	}
	uml_instance_wait(inst, -1);
	uml_ktap_finish(c.ktap);
	r = parse_listing(k, c.lines.data ? c.lines.data : "");
	if (r < 0)
		goto out;
	if (!c.lines.len) {
		r = fail(k, -EIO, "kunit: '%s' printed no list of tests (%s): %s",
			 uml_kernel_get_path(k->kernel),
			 uml_exit_reason_to_string(uml_instance_get_exit_reason(inst)),
			 uml_instance_get_exit_detail(inst) ? uml_instance_get_exit_detail(inst) :
			 "is it a KUnit kernel (CONFIG_KUNIT)?");
		goto out;
	}
	/* a complete listing only: the guest halted after it */
	if (uml_instance_get_exit_reason(inst) == UML_EXIT_HALT) {
		struct uml_buf b = { 0 };

		uml_buf_append(&b, LIST_VERSION, strlen(LIST_VERSION));
		for (size_t i = 0; i < k->n_tests; i++) {
			const struct kt *t = &k->tests[i];

			if (!i || strcmp(t->suite, k->tests[i - 1].suite) != 0)
				uml_buf_printf(&b, "%s\n", t->suite);
			if (t->name[0])
				uml_buf_printf(&b, "%s.%s\n", t->suite, t->name);
			if (t->slow)
				uml_buf_printf(&b, "# %s.speed: slow\n", t->name);
		}
		*strrchr(path, '/') = '\0';
		if (b.data && uml_mkdir_p(path, 0755) == 0) {
			path[strlen(path)] = '/';
			(void)uml_write_file(path, b.data, b.len);
		}
		uml_buf_free(&b);
	}
suites:
	/* the suites: runs of one suite name in the kernel's order */
	for (size_t i = 0; i < k->n_tests; i++) {
		if (i && strcmp(k->tests[i].suite, k->tests[i - 1].suite) == 0) {
			k->suites[k->n_suites - 1].n++;
			continue;
		}
		if (uml_grow(&k->suites, &k->cap_suites, k->n_suites + 1, sizeof(*k->suites)) < 0) {
			r = -ENOMEM;
			goto out;
		}
		k->suites[k->n_suites++] = (struct suite){ .name = k->tests[i].suite, .first = i,
							   .n = 1 };
	}
	r = 0;
out:
	if (r < 0)
		clear_tests(k);
	uml_instance_unref(inst);
	uml_ktap_unref(c.ktap);
	uml_buf_free(&c.lines);
	return r;
}

/* ---- choosing and weighing tests ---------------------------------------------------- */

/* Did the test fail or crash in the earlier run? */
static bool failed_before(struct uml_ktap *prev, const struct kt *t)
{
	struct uml_ktap_test *root = prev->root, *s = uml_ktap_find(root, t->suite);
	struct uml_ktap_test *c;

	if (!s)
		return false;
	if (!s->n_sub)
		return s->status != UML_KTAP_PASS && s->status != UML_KTAP_SKIP;
	c = uml_ktap_find(s, t->name);
	return c && c->status != UML_KTAP_PASS && c->status != UML_KTAP_SKIP;
}

static void load_times(struct uml_kunit *k)
{
	_cleanup_(uml_freep) char *path = NULL, *text = NULL;

	for (size_t i = 0; i < k->n_tests; i++)
		k->tests[i].weight = k->tests[i].slow ? SLOW_WEIGHT : DEFAULT_WEIGHT;
	if (cache_path(k, "times", false, &path) < 0 || uml_read_file(path, &text, NULL) < 0)
		return;
	/* "suite.test SECONDS" lines, in the kernel's order (a merge walk) */
	size_t i = 0;

	for (char *l = text; l && *l; ) {
		char *nl = strchr(l, '\n'), *sp, *end;
		double v;

		if (nl)
			*nl = '\0';
		sp = strrchr(l, ' ');
		if (sp) {
			*sp = '\0';
			v = strtod(sp + 1, &end);
			for (size_t n = 0; n < k->n_tests && isfinite(v) && v >= 0 && v < 86400; n++) {
				struct kt *t = &k->tests[(i + n) % k->n_tests];
				size_t sl = strlen(t->suite);

				if (strncmp(l, t->suite, sl) == 0 && l[sl] == '.' &&
				    strcmp(l + sl + 1, t->name) == 0) {
					t->weight = v > 0.001 ? v : 0.001;
					i = (i + n + 1) % k->n_tests;
					break;
				}
			}
		}
		l = nl ? nl + 1 : NULL;
	}
}

static void save_times(struct uml_kunit *k)
{
	_cleanup_(uml_freep) char *path = NULL;
	struct uml_buf b = { 0 };

	if (cache_path(k, "times", false, &path) < 0)
		return;
	for (size_t i = 0; i < k->n_tests; i++) {
		const struct kt *t = &k->tests[i];
		double v = t->node && t->node->duration_us >= 0 ? (double)t->node->duration_us / 1e6 :
			   t->weight;

		uml_buf_printf(&b, "%s.%s %.4f\n", t->suite, t->name, v);
	}
	*strrchr(path, '/') = '\0';
	if (b.data && uml_mkdir_p(path, 0755) == 0) {
		path[strlen(path)] = '/';
		(void)uml_write_file(path, b.data, b.len);
	}
	uml_buf_free(&b);
}

static int select_tests(struct uml_kunit *k)
{
	int r = load_tests(k);

	if (r < 0)
		return r;
	uml_strv_free(&k->listed);
	for (size_t i = 0; i < k->n_tests; i++) {
		struct kt *t = &k->tests[i];

		/* KUnit drops suites without cases under any filter */
		if (!t->name[0])
			t->selected = !k->filter_glob && !k->filter && !k->rerun;
		else
			t->selected = (!k->filter_glob || uml_kunit_filter_matches(k->filter_glob, t)) &&
				      (!k->rerun || !k->rerun->root || failed_before(k->rerun, t));
		if (t->selected && t->name[0] &&
		    (r = uml_strv_addf(&k->listed, "%s.%s", t->suite, t->name)) < 0)
			return r;
	}
	return 0;
}

UML_EXPORT int uml_kunit_list(struct uml_kunit *k, const char *const **ret, size_t *n)
{
	int r;

	if (!k || !ret || !n)
		return -EINVAL;
	r = select_tests(k);
	if (r < 0)
		return r;
	*ret = (const char *const *)k->listed.v;
	*n = k->listed.n;
	return 0;
}

/* ---- running ----------------------------------------------------------------------- */

struct run {
	struct uml_kunit *k;
	struct shard **queue;		/* planned, not started; heaviest first */
	size_t n_queue, cap_queue;
	size_t running;
	unsigned parallel;
	uint64_t deadline;		/* of the whole run, or UINT64_MAX */
	size_t done, total;
};

static int by_weight(const void *a, const void *b)
{
	const struct shard *x = *(struct shard *const *)a, *y = *(struct shard *const *)b;

	return x->weight < y->weight ? 1 : x->weight > y->weight ? -1 : 0;
}

static int enqueue(struct run *rn, struct plan *p)
{
	if (uml_grow(&rn->queue, &rn->cap_queue, rn->n_queue + p->n, sizeof(*rn->queue)) < 0) {
		for (size_t i = 0; i < p->n; i++)
			uml_kunit_shard_free(p->v[i]);
		free(p->v);
		return -ENOMEM;
	}
	memcpy(rn->queue + rn->n_queue, p->v, p->n * sizeof(*p->v));
	rn->n_queue += p->n;
	free(p->v);
	qsort(rn->queue, rn->n_queue, sizeof(*rn->queue), by_weight);
	return 0;
}

/* Plans and queues the tests marked in want. */
static int requeue(struct run *rn, const bool *want)
{
	struct plan p = { 0 };
	int r = uml_kunit_plan(rn->k, want, rn->parallel, &p);

	if (r < 0) {
		for (size_t i = 0; i < p.n; i++)
			uml_kunit_shard_free(p.v[i]);
		free(p.v);
		return r;
	}
	return enqueue(rn, &p);
}

static void on_console(void *ud, struct uml_instance *inst, const struct uml_event *ev)
{
	struct shard *s = ud;

	(void)inst;
	if (ev->type == UML_EVENT_CONSOLE_LINE) {
		uml_ktap_feed(s->ktap, ev->text, ev->len);
		uml_ktap_feed(s->ktap, "\n", 1);
	}
}

static int add_shard(struct uml_kunit *k, struct shard *s)
{
	if (uml_grow(&k->shards, &k->cap_shards, k->n_shards + 1, sizeof(*k->shards)) < 0)
		return -ENOMEM;
	k->shards[k->n_shards++] = s;
	return 0;
}

static void record(struct uml_kunit *k, struct kt *t, struct uml_ktap *owner,
		   const struct uml_ktap_test *node, const char *reason)
{
	(void)k;
	uml_ktap_unref(t->owner);
	t->owner = owner ? uml_ktap_ref(owner) : NULL;
	t->node = node;
	if (reason)
		uml_set_string(&t->reason, reason);
	t->done = true;
}

static int start_shard(struct run *rn, struct shard *s)
{
	struct uml_kunit *k = rn->k;
	int r;

	r = add_shard(k, s);
	if (r < 0) {
		uml_kunit_shard_free(s);
		return r;
	}
	r = uml_ktap_new(k->ctx, &s->ktap);
	if (r == 0)
		r = uml_ktap_set_flags(s->ktap, UML_KTAP_LIVE);
	if (r == 0)
		r = new_guest(k, NULL, s->glob, &s->inst);
	if (r < 0)
		return r;
	uml_instance_set_event_fn(s->inst, on_console, s);
	if (k->shard_timeout_ms)
		uml_instance_set_timeout(s->inst, k->shard_timeout_ms);
	r = uml_instance_boot(s->inst);
	if (r < 0) {
		/* the tests cannot run: say why on each */
		char *why = NULL;

		if (asprintf(&why, "guest did not start: %s", uml_instance_last_error(s->inst)) < 0)
			why = NULL;
		for (size_t i = 0; i < s->n; i++)
			record(k, &k->tests[s->t[i]], NULL, NULL, why ? why : "guest did not start");
		rn->done += s->n;
		free(why);
		return 0;
	}
	s->running = true;
	rn->running++;
	uml_dbg(k->ctx, "kunit: guest %s runs %s (%zu tests, ~%.2f s)", uml_instance_get_umid(s->inst),
		s->glob, s->n, s->weight);
	return 0;
}

/* Why a guest ended early, for its unfinished tests. */
static char *end_reason(struct uml_kunit *k, struct shard *s, bool run_timeout)
{
	enum uml_exit_reason why = uml_instance_get_exit_reason(s->inst);
	const char *panic = uml_instance_get_panic_message(s->inst);
	char *r = NULL;
	int n;

	if (run_timeout)
		n = asprintf(&r, "timed out: the run's %lld s passed", (long long)(k->timeout_ms / 1000));
	else if (why == UML_EXIT_TIMEOUT)
		n = asprintf(&r, "timed out after %.3g s", (double)k->shard_timeout_ms / 1000);
	else if (panic)
		n = asprintf(&r, "kernel panic: %s", panic);
	else
		n = asprintf(&r, "guest ended: %s%s%s", uml_exit_reason_to_string(why),
			     uml_instance_get_exit_detail(s->inst) ? ": " : "",
			     uml_instance_get_exit_detail(s->inst) ? uml_instance_get_exit_detail(s->inst) : "");
	return n < 0 ? NULL : r;
}

static bool finished(const struct uml_ktap_test *n)
{
	return n && (n->status == UML_KTAP_PASS || n->status == UML_KTAP_FAIL ||
		     n->status == UML_KTAP_SKIP);
}

/* A guest ended: keep what finished, narrow down the rest. */
static int finish_shard(struct run *rn, struct shard *s, bool run_timeout)
{
	struct uml_kunit *k = rn->k;
	struct uml_ktap_test *root;
	bool clean, *want = NULL;
	size_t culprit = SIZE_MAX, left = 0;
	const char *log;
	char *why;
	int r = 0;

	s->running = false;
	rn->running--;
	uml_ktap_finish(s->ktap);
	log = uml_instance_get_console_log(s->inst, &s->output_len);
	s->output = malloc(s->output_len + 1);
	if (s->output) {
		memcpy(s->output, log ? log : "", s->output_len);
		s->output[s->output_len] = '\0';
	}
	clean = !run_timeout && uml_instance_get_exit_reason(s->inst) == UML_EXIT_HALT;
	why = clean ? NULL : end_reason(k, s, run_timeout);
	root = s->ktap->root;
	for (size_t i = 0; i < s->n; i++) {
		struct kt *t = &k->tests[s->t[i]];
		struct suite *su = NULL;
		struct uml_ktap_test *sn = uml_ktap_find(root, t->suite);
		struct uml_ktap_test *c = uml_ktap_find(sn, t->name);

		for (size_t j = 0; j < k->n_suites && !su; j++)
			if (s->t[i] >= k->suites[j].first && s->t[i] < k->suites[j].first + k->suites[j].n)
				su = &k->suites[j];
		if (sn && su && !su->node) {
			su->node_owner = uml_ktap_ref(s->ktap);
			su->node = sn;
		}
		if (finished(c)) {
			record(k, t, s->ktap, c, NULL);
			rn->done++;
		} else if (sn && !sn->n_sub && finished(sn) && su) {
			/* the suite ended without cases (its init failed): its own result */
			if (!su->leaf) {
				su->leaf_owner = uml_ktap_ref(s->ktap);
				su->leaf = sn;
			}
			record(k, t, NULL, NULL, NULL);
			rn->done++;
		} else if (run_timeout || s->n == 1 || t->tries >= 2) {
			/* nothing left to narrow down */
			record(k, t, c ? s->ktap : NULL, c, why ? why : "no result");
			rn->done++;
		} else {
			if (culprit == SIZE_MAX && !clean) {
				culprit = s->t[i];
				continue;
			}
			if (!want && !(want = calloc(k->n_tests, sizeof(*want)))) {
				r = -ENOMEM;
				break;
			}
			want[s->t[i]] = true;
			k->tests[s->t[i]].tries++;
			left++;
		}
	}
	if (r == 0 && culprit != SIZE_MAX) {
		/* the test that was running: alone, to see whether it is the cause */
		struct kt *t = &k->tests[culprit];
		struct plan p = { .k = k };
		char *glob = NULL;

		t->tries++;
		if (asprintf(&glob, "%s.%s", t->suite, t->name) < 0)
			glob = NULL;
		r = uml_kunit_plan_shard(&p, glob, &culprit, 1);
		if (r == 0)
			r = enqueue(rn, &p);
		uml_info(k->ctx, "kunit: %s ended early (%s); running %s.%s alone and %zu tests after it again",
			 s->glob, why ? why : "", t->suite, t->name, left);
	}
	if (r == 0 && want)
		r = requeue(rn, want);
	free(want);
	free(why);
	uml_instance_unref(s->inst);
	s->inst = NULL;
	return r;
}

static void kill_all(struct run *rn, bool run_timeout)
{
	struct uml_kunit *k = rn->k;

	for (size_t i = 0; i < k->n_shards; i++) {
		struct shard *s = k->shards[i];

		if (s->running) {
			uml_instance_kill(s->inst);
			finish_shard(rn, s, run_timeout);
		}
	}
	for (size_t i = 0; i < rn->n_queue; i++) {
		struct shard *s = rn->queue[i];

		for (size_t j = 0; j < s->n; j++)
			record(k, &k->tests[s->t[j]], NULL, NULL,
			       run_timeout ? "not run: the run's timeout passed" : "not run: cancelled");
		rn->done += s->n;
		uml_kunit_shard_free(s);
	}
	rn->n_queue = 0;
}

static int event_loop(struct run *rn)
{
	struct uml_kunit *k = rn->k;
	int r = 0;

	while (rn->n_queue || rn->running) {
		struct pollfd pfd[1024];
		struct shard *who[1024];
		uint64_t next = rn->deadline, now;
		nfds_t n = 0;

		while (r == 0 && rn->running < rn->parallel && rn->n_queue &&
		       uml_now_usec() < rn->deadline) {
			struct shard *s = rn->queue[0];

			memmove(rn->queue, rn->queue + 1, --rn->n_queue * sizeof(*rn->queue));
			r = start_shard(rn, s);
		}
		if (r < 0)
			break;
		for (size_t i = 0; i < k->n_shards && n < 1024; i++) {
			struct shard *s = k->shards[i];
			uint64_t t;

			if (!s->running)
				continue;
			pfd[n] = (struct pollfd){ .fd = uml_instance_get_fd(s->inst), .events = POLLIN };
			who[n++] = s;
			if (uml_instance_get_timeout(s->inst, &t) == 0 && t < next)
				next = t;
		}
		if (n)
			poll(pfd, n, uml_ms_until(next));
		for (nfds_t i = 0; i < n && r == 0; i++) {
			uml_instance_process(who[i]->inst);
			if (uml_instance_get_state(who[i]->inst) == UML_STATE_EXITED)
				r = finish_shard(rn, who[i], false);
		}
		now = uml_now_usec();
		if (r == 0 && now >= rn->deadline) {
			uml_info(k->ctx, "kunit: the run's timeout passed");
			kill_all(rn, true);
		}
		if (r == 0 && uml_progress(k->ctx, "kunit", rn->done, rn->total) < 0) {
			kill_all(rn, false);
			r = fail(k, -ECANCELED, "kunit: run cancelled");
		}
	}
	return r;
}

/* ---- the results -------------------------------------------------------------------- */

/* One tree: every selected test in the kernel's order, under its suite. */
static int merge(struct uml_kunit *k)
{
	struct uml_ktap *res;
	struct uml_ktap_test *root;
	int r;

	r = uml_ktap_new(k->ctx, &res);
	if (r < 0)
		return r;
	root = uml_ktap_add_test(res, NULL, "main");
	if (!root)
		goto nomem;
	root->expected = 0;
	for (size_t si = 0; si < k->n_suites; si++) {
		struct suite *su = &k->suites[si];
		struct uml_ktap_test *sn;
		size_t n_sel = 0;

		for (size_t i = su->first; i < su->first + su->n; i++)
			n_sel += k->tests[i].selected;
		if (!n_sel)
			continue;
		root->expected++;
		if (su->leaf) {
			if (!uml_ktap_copy_test(res, root, su->leaf))
				goto nomem;
			continue;
		}
		if (!k->tests[su->first].name[0]) {
			/*
			 * A suite without cases: no glob selects it, and KUnit reports
			 * it skipped ("1..0", "ok N SUITE # SKIP"); so is it here.
			 */
			sn = uml_ktap_add_test(res, root, su->name);
			if (!sn)
				goto nomem;
			sn->status = UML_KTAP_SKIP;
			continue;
		}
		sn = uml_ktap_add_test(res, root, su->name);
		if (!sn)
			goto nomem;
		sn->expected = (int64_t)n_sel;
		for (size_t i = 0; su->node && i < su->node->n_log; i++)
			if (uml_ktap_add_log(res, sn, su->node->log[i]) < 0)
				goto nomem;
		for (size_t i = su->first; i < su->first + su->n; i++) {
			struct kt *t = &k->tests[i];
			struct uml_ktap_test *c;

			if (!t->selected)
				continue;
			c = t->node ? uml_ktap_copy_test(res, sn, t->node) : uml_ktap_add_test(res, sn, t->name);
			if (!c || (t->reason && uml_ktap_set_reason(c, t->reason) < 0))
				goto nomem;
			if (!t->node)
				c->status = UML_KTAP_CRASHED;
			if (c->duration_us >= 0)
				sn->duration_us = (sn->duration_us < 0 ? 0 : sn->duration_us) + c->duration_us;
		}
	}
	res->finished = true;
	res->fed = true;
	/* nothing selected: "1..0", as KUnit prints it */
	root->status = root->n_sub ? UML_KTAP_PASS : UML_KTAP_NO_TESTS;
	uml_ktap_recount(res, true);
	uml_ktap_unref(k->result);
	k->result = res;
	return 0;
nomem:
	uml_ktap_unref(res);
	return -ENOMEM;
}

UML_EXPORT int uml_kunit_run(struct uml_kunit *k)
{
	struct run rn = { 0 };
	bool *want = NULL;
	uint64_t start = uml_now_usec();
	int r;

	if (!k)
		return -EINVAL;
	clear_shards(k);
	r = select_tests(k);
	if (r < 0)
		return r;
	for (size_t i = 0; i < k->n_tests; i++) {
		struct kt *t = &k->tests[i];

		free(t->reason);
		t->reason = NULL;
		uml_ktap_unref(t->owner);
		t->owner = NULL;
		t->node = NULL;
		t->done = false;
		t->tries = 0;
	}
	for (size_t i = 0; i < k->n_suites; i++) {
		k->suites[i].leaf_owner = uml_ktap_unref(k->suites[i].leaf_owner);
		k->suites[i].node_owner = uml_ktap_unref(k->suites[i].node_owner);
		k->suites[i].leaf = k->suites[i].node = NULL;
	}
	load_times(k);
	rn.k = k;
	rn.parallel = k->parallel ? k->parallel : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (!rn.parallel)
		rn.parallel = 1;
	rn.deadline = k->timeout_ms ? start + (uint64_t)k->timeout_ms * 1000 : UINT64_MAX;
	want = calloc(k->n_tests + 1, sizeof(*want));
	if (!want)
		return -ENOMEM;
	for (size_t i = 0; i < k->n_tests; i++) {
		want[i] = k->tests[i].selected && k->tests[i].name[0];
		rn.total += want[i];
	}
	r = requeue(&rn, want);
	free(want);
	if (r == 0)
		r = event_loop(&rn);
	if (r < 0 && r != -ECANCELED)
		kill_all(&rn, false);
	free(rn.queue);
	if (r == 0 || r == -ECANCELED) {
		int m = merge(k);

		if (m < 0)
			return m;
		if (r == 0)
			save_times(k);
	}
	return r;
}

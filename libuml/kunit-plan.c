/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Shards of a KUnit run: each is one kunit.filter_glob, which the kernel
 * matches against every suite and test it has, so a glob must select
 * exactly the shard's tests among all of them.  The names are walked as a
 * trie: a prefix whose tests are all wanted and light enough is one glob
 * "PREFIX*", light siblings are packed as "PREFIX[abc]*", heavy suites are
 * split by test names, and a name that is a prefix of others is taken by
 * its exact name.
 */
#include "config.h"

#include "kunit-internal.h"

void uml_kunit_shard_free(struct shard *s)
{
	if (!s)
		return;
	uml_instance_unref(s->inst);
	uml_ktap_unref(s->ktap);
	free(s->glob);
	free(s->t);
	free(s->output);
	free(s);
}

/* ---- globs as the kernel's lib/glob.c matches them -------------------------------- */

static bool glob_match(const char *pat, const char *str)
{
	const char *back_pat = NULL, *back_str = NULL;

	for (;;) {
		unsigned char c = (unsigned char)*str++, d = (unsigned char)*pat++;

		switch (d) {
		case '?':
			if (!c)
				return false;
			break;
		case '*':
			if (!*pat)
				return true;
			back_pat = pat;
			back_str = --str;
			break;
		case '[': {
			const char *cls = pat;
			bool inv = *cls == '!', match = false;
			unsigned char a;

			if (!c)
				return false;
			cls += inv;
			a = (unsigned char)*cls++;
			do {
				unsigned char b = a;

				if (!a)
					goto literal;
				if (cls[0] == '-' && cls[1] != ']') {
					b = (unsigned char)cls[1];
					if (!b)
						goto literal;
					cls += 2;
				}
				match |= a <= c && c <= b;
			} while ((a = (unsigned char)*cls++) != ']');
			if (match == inv)
				goto backtrack;
			pat = cls;
			break;
		}
		default:
literal:
			if (c == d) {
				if (!d)
					return true;
				break;
			}
backtrack:
			if (!c || !back_pat)
				return false;
			pat = back_pat;
			str = ++back_str;
			break;
		}
	}
}

/* kunit.filter_glob: "suite_glob[.test_glob]" */
bool uml_kunit_filter_matches(const char *glob, const struct kt *t)
{
	const char *dot = strchr(glob, '.');
	_cleanup_(uml_freep) char *sg = dot ? strndup(glob, (size_t)(dot - glob)) : strdup(glob);

	return sg && glob_match(sg, t->suite) && (!dot || (t->name[0] && glob_match(dot + 1, t->name)));
}

/* ---- shards: globs that select exactly a set of tests ------------------------------------- */



static bool glob_safe(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (strchr("*?[]!.\\", s[i]) || (unsigned char)s[i] <= ' ')
			return false;
	return true;
}

/* A shard of the tests [i] for which keep(i) holds among those of suites lo..hi. */
int uml_kunit_plan_shard(struct plan *p, char *glob, const size_t *idx, size_t n)
{
	struct shard *s;

	if (!glob)
		return -ENOMEM;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->t = malloc(n * sizeof(*s->t)))) {
		free(s);
		free(glob);
		return -ENOMEM;
	}
	s->k = p->k;
	s->glob = glob;
	memcpy(s->t, idx, n * sizeof(*idx));
	s->n = n;
	for (size_t i = 0; i < n; i++)
		s->weight += p->k->tests[idx[i]].weight;
	if (uml_grow(&p->v, &p->cap, p->n + 1, sizeof(*p->v)) < 0) {
		uml_kunit_shard_free(s);
		return -ENOMEM;
	}
	p->v[p->n++] = s;
	return 0;
}

/* Names sorted, as indexes: of suites (by name) or of one suite's tests. */
struct names {
	const char **name;		/* sorted */
	size_t *idx;			/* suite or test index of each */
	size_t n;
};

static const char *const *sort_base;

static int by_name(const void *a, const void *b)
{
	return strcmp(sort_base[*(const size_t *)a], sort_base[*(const size_t *)b]);
}

/* What a range of names selects: weight, tests wanted, and whether all are. */
struct span {
	double w;
	size_t n_want, n_all;
};

static void collect_tests(struct plan *p, bool suites, const struct names *nm, size_t lo, size_t hi,
			  struct span *sp, size_t **out, size_t *n_out)
{
	struct uml_kunit *k = p->k;

	memset(sp, 0, sizeof(*sp));
	for (size_t i = lo; i < hi; i++) {
		size_t first = suites ? k->suites[nm->idx[i]].first : nm->idx[i];
		size_t cnt = suites ? k->suites[nm->idx[i]].n : 1;

		for (size_t t = first; t < first + cnt; t++) {
			sp->n_all++;
			if (!p->want[t])
				continue;
			sp->n_want++;
			sp->w += k->tests[t].weight;
			if (out)
				(*out)[(*n_out)++] = t;
		}
	}
}

static int by_index(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* One shard for names [lo, hi) (all wanted) under glob. */
static int emit_range(struct plan *p, bool suites, const struct names *nm, size_t lo, size_t hi,
		      char *glob)
{
	struct span sp;
	size_t *idx, n = 0;
	int r;

	collect_tests(p, suites, nm, lo, hi, &sp, NULL, NULL);
	idx = malloc((sp.n_want ? sp.n_want : 1) * sizeof(*idx));
	if (!idx) {
		free(glob);
		return -ENOMEM;
	}
	collect_tests(p, suites, nm, lo, hi, &sp, &idx, &n);
	qsort(idx, n, sizeof(*idx), by_index);
	r = uml_kunit_plan_shard(p, glob, idx, n);
	free(idx);
	return r;
}

static int plan_suite_tests(struct plan *p, size_t suite);

/*
 * "PRE" + the plen characters shared + "[CLASS]*": the names of [lo, hi)
 * whose next character is in the class (others between them are not).
 */
static int emit_class(struct plan *p, bool suites, const char *pre, const struct names *nm,
		      const char *name0, size_t plen, const struct uml_buf *cls, size_t lo, size_t hi)
{
	struct names sub = { .name = nm->name + lo, .idx = nm->idx + lo };
	size_t *keep_idx = malloc((hi - lo) * sizeof(*keep_idx));
	const char **keep_name = malloc((hi - lo) * sizeof(*keep_name));
	char *glob = NULL;
	int r;

	if (!keep_idx || !keep_name) {
		free(keep_idx);
		free(keep_name);
		return -ENOMEM;
	}
	for (size_t i = lo; i < hi; i++)
		if (memchr(cls->data, nm->name[i][plen], cls->len)) {
			keep_idx[sub.n] = nm->idx[i];
			keep_name[sub.n++] = nm->name[i];
		}
	sub.name = keep_name;
	sub.idx = keep_idx;
	if (cls->len == 1)
		r = asprintf(&glob, "%s%.*s%c*", pre, (int)plen, name0, cls->data[0]);
	else
		r = asprintf(&glob, "%s%.*s[%.*s]*", pre, (int)plen, name0, (int)cls->len, cls->data);
	r = emit_range(p, suites, &sub, 0, sub.n, r < 0 ? NULL : glob);
	free(keep_idx);
	free(keep_name);
	return r;
}

/*
 * Names [lo, hi) share their first plen characters.  A range whose tests
 * are all wanted and light enough becomes one glob "PREFIX*"; else it is
 * split by the next character, light pure children packed into
 * "PREFIX[abc]*", heavy or mixed ones split further.  pre: "SUITE." for a
 * suite's tests, "" for suites.
 */
static int plan_range(struct plan *p, bool suites, const char *pre, const struct names *nm,
		      size_t lo, size_t hi, size_t plen)
{
	const char *name0 = nm->name[lo];
	struct span sp;
	char *glob;
	size_t i = lo;
	int r = 0;

	collect_tests(p, suites, nm, lo, hi, &sp, NULL, NULL);
	if (!sp.n_want)
		return 0;
	/* [lo, hi) holds every name with this prefix: "PREFIX*" selects exactly it */
	if (sp.n_want == sp.n_all && sp.w <= p->tmax && glob_safe(name0, plen))
		return emit_range(p, suites, nm, lo, hi,
				  asprintf(&glob, "%s%.*s*", pre, (int)plen, name0) < 0 ? NULL : glob);
	if (strlen(name0) == plen) {
		/* the name that is the prefix itself: by its exact name */
		struct span one;

		collect_tests(p, suites, nm, lo, lo + 1, &one, NULL, NULL);
		if (suites)
			r = plan_suite_tests(p, nm->idx[lo]);
		else if (one.n_want)
			r = emit_range(p, suites, nm, lo, lo + 1,
				       asprintf(&glob, "%s%s", pre, name0) < 0 ? NULL : glob);
		i++;
	}
	/* children by the next character; pack the light pure ones */
	struct uml_buf cls = { 0 };
	double bin_w = 0;
	size_t bin_lo = 0, bin_hi = 0;

	while (r == 0 && i < hi) {
		char c = nm->name[i][plen];
		size_t j = i + 1;
		struct span cs;

		while (j < hi && nm->name[j][plen] == c)
			j++;
		collect_tests(p, suites, nm, i, j, &cs, NULL, NULL);
		if (cs.n_want && cs.n_want == cs.n_all && cs.w <= p->tmax && glob_safe(name0, plen) &&
		    glob_safe(&c, 1) && c != '-') {
			if (cls.len && bin_w + cs.w > p->tmax) {
				/* close the bin */
				r = emit_class(p, suites, pre, nm, name0, plen, &cls, bin_lo, bin_hi);
				cls.len = 0;
				bin_w = 0;
			}
			if (!cls.len)
				bin_lo = i;
			uml_buf_append(&cls, &c, 1);
			bin_w += cs.w;
			bin_hi = j;
		} else if (cs.n_want) {
			r = plan_range(p, suites, pre, nm, i, j, plen + 1);
		}
		i = j;
	}
	if (r == 0 && cls.len)
		r = emit_class(p, suites, pre, nm, name0, plen, &cls, bin_lo, bin_hi);
	uml_buf_free(&cls);
	return r;
}

/* The tests of one suite, by their names below "SUITE.". */
static int plan_suite_tests(struct plan *p, size_t suite)
{
	struct uml_kunit *k = p->k;
	const struct suite *su = &k->suites[suite];
	struct names nm = { 0 };
	const char **all = NULL;
	char *pre = NULL;
	int r = -ENOMEM;

	nm.idx = malloc(su->n * sizeof(*nm.idx));
	nm.name = malloc(su->n * sizeof(*nm.name));
	all = malloc(k->n_tests * sizeof(*all));
	if (!nm.idx || !nm.name || !all || asprintf(&pre, "%s.", su->name) < 0)
		goto out;
	for (size_t i = 0; i < k->n_tests; i++)
		all[i] = k->tests[i].name;
	for (size_t i = 0; i < su->n; i++)
		nm.idx[i] = su->first + i;
	nm.n = su->n;
	sort_base = all;
	qsort(nm.idx, nm.n, sizeof(*nm.idx), by_name);
	for (size_t i = 0; i < nm.n; i++)
		nm.name[i] = all[nm.idx[i]];
	/* a whole suite light enough: its exact name */
	{
		struct span sp;
		char *glob;

		collect_tests(p, false, &nm, 0, nm.n, &sp, NULL, NULL);
		if (sp.n_want == sp.n_all && sp.w <= p->tmax) {
			r = emit_range(p, false, &nm, 0, nm.n,
				       asprintf(&glob, "%s", su->name) < 0 ? NULL : glob);
			goto out;
		}
	}
	r = plan_range(p, false, pre, &nm, 0, nm.n, 0);
out:
	free(pre);
	free(all);
	free(nm.idx);
	free(nm.name);
	return r;
}

/* Shards for the tests marked in want; appended to k's queue in out. */
int uml_kunit_plan(struct uml_kunit *k, const bool *want, unsigned parallel, struct plan *out)
{
	struct names nm = { 0 };
	const char **names = NULL;
	double total = 0, heaviest = 0;
	int r = -ENOMEM;

	out->k = k;
	out->want = want;
	for (size_t i = 0; i < k->n_tests; i++)
		if (want[i]) {
			total += k->tests[i].weight;
			if (k->tests[i].weight > heaviest)
				heaviest = k->tests[i].weight;
		}
	/* about two shards per guest: balance without paying many boots */
	out->tmax = total / (2.0 * parallel);
	if (out->tmax < 0.25)
		out->tmax = 0.25;
	nm.idx = malloc((k->n_suites + 1) * sizeof(*nm.idx));
	nm.name = malloc((k->n_suites + 1) * sizeof(*nm.name));
	names = malloc((k->n_suites + 1) * sizeof(*names));
	if (!nm.idx || !nm.name || !names)
		goto out;
	for (size_t i = 0; i < k->n_suites; i++) {
		names[i] = k->suites[i].name;
		nm.idx[i] = i;
	}
	nm.n = k->n_suites;
	sort_base = names;
	qsort(nm.idx, nm.n, sizeof(*nm.idx), by_name);
	for (size_t i = 0; i < nm.n; i++)
		nm.name[i] = names[nm.idx[i]];
	r = nm.n ? plan_range(out, true, "", &nm, 0, nm.n, 0) : 0;
out:
	free(names);
	free(nm.idx);
	free(nm.name);
	return r;
}

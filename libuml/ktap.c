/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KTAP parser.  A line-by-line port of tools/testing/kunit/kunit_parser.py
 * (extract_tap_lines(), parse_test(), bubble_up_test_results()) so that
 * verdicts equal kunit.py's; its recursive descent with one line of
 * lookahead becomes a stack of frames that waits whenever it needs a line
 * that has not arrived yet, so input can be fed as the kernel prints it.
 * Python's regular expressions are matched by hand, with Python's notion
 * of white space (str.isspace) and code points for the prefix length.
 */
#include "config.h"

#include <time.h>

#include "ktap-internal.h"

#define fail(k, err, ...) uml_fail((k)->ctx, &(k)->last_error, err, __VA_ARGS__)

/* ---- text: UTF-8 as Python sees it ------------------------------------------ */

/* Length of the valid UTF-8 sequence at p (strict, as Python decodes), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t avail)
{
	unsigned c = p[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* The code point at *p (valid UTF-8), advancing *p. */
static unsigned next_cp(const char **pp)
{
	const unsigned char *p = (const unsigned char *)*pp;
	unsigned c = p[0];

	if (c < 0x80) {
		*pp += 1;
		return c;
	}
	if (c < 0xe0) {
		*pp += 2;
		return ((c & 0x1f) << 6) | (p[1] & 0x3f);
	}
	if (c < 0xf0) {
		*pp += 3;
		return ((c & 0x0f) << 12) | ((p[1] & 0x3f) << 6) | (p[2] & 0x3f);
	}
	*pp += 4;
	return ((c & 0x07) << 18) | ((p[1] & 0x3f) << 12) | ((p[2] & 0x3f) << 6) | (p[3] & 0x3f);
}

/* Python's str.isspace(), which is also what \s matches. */
static bool py_space(unsigned cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 ||
	       cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

static const char *skip_space(const char *s)
{
	while (*s) {
		const char *q = s;

		if (!py_space(next_cp(&q)))
			break;
		s = q;
	}
	return s;
}

/* str.rstrip(): cuts trailing white space in place. */
static void rstrip(char *s)
{
	char *end = s;

	for (const char *p = s; *p; ) {
		bool sp = py_space(next_cp(&p));

		if (!sp)
			end = (char *)p;
	}
	*end = '\0';
}

static size_t cp_count(const char *s, const char *end)
{
	size_t n = 0;

	while (s < end) {
		next_cp(&s);
		n++;
	}
	return n;
}

/* line[n:] in code points ("" when the line is shorter). */
static const char *skip_cp(const char *s, size_t n)
{
	while (n-- && *s)
		next_cp(&s);
	return s;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A run of digits at s as a number (saturating); *end after it. */
static int64_t digits(const char *s, const char **end)
{
	int64_t v = 0;

	while (is_digit(*s)) {
		v = v > (INT64_MAX - 9) / 10 ? INT64_MAX : v * 10 + (*s - '0');
		s++;
	}
	*end = s;
	return v;
}

/* ---- the regular expressions of kunit_parser.py ------------------------------- */

/* re.search(r'\s*WORD version ([0-9]+)$'): WORD "KTAP" or "TAP". */
static bool version_search(const char *line, const char *word)
{
	size_t len = strlen(line), wl = strlen(word);
	size_t d = len;

	while (d > 0 && is_digit(line[d - 1]))
		d--;
	if (d == len || d < wl + 9)
		return false;
	return memcmp(line + d - wl - 9, word, wl) == 0 &&
	       memcmp(line + d - 9, " version ", 9) == 0;
}

/* re.match(r'\s*WORD version ([0-9]+)$'); the version in *ver. */
static bool version_match(const char *line, const char *word, int64_t *ver)
{
	const char *p = skip_space(line), *end;
	size_t wl = strlen(word);

	if (strncmp(p, word, wl) != 0 || strncmp(p + wl, " version ", 9) != 0)
		return false;
	p += wl + 9;
	if (!is_digit(*p))
		return false;
	*ver = digits(p, &end);
	return *end == '\0';
}

/* TEST_HEADER: r'^\s*# Subtest: (.*)$' */
static const char *header_match(const char *line)
{
	const char *p = skip_space(line);

	return strncmp(p, "# Subtest: ", 11) == 0 ? p + 11 : NULL;
}

/* TEST_PLAN: r'^\s*1\.\.([0-9]+)' */
static bool plan_match(const char *line, int64_t *n)
{
	const char *p = skip_space(line), *end;

	if (strncmp(p, "1..", 3) != 0 || !is_digit(p[3]))
		return false;
	*n = digits(p + 3, &end);
	return true;
}

struct result {
	bool ok;
	const char *num;	/* the number's digits */
	size_t num_len;
	const char *name;	/* TEST_RESULT group 4 */
	size_t name_len;
	bool skip;
	const char *skip_name;	/* TEST_RESULT_SKIP group 4 */
	size_t skip_name_len;
};

/*
 * The tail of TEST_RESULT after "(- )?": r'([^#]*)( # .*)?$'.  [^#]* runs to
 * the first '#', and the optional group must then start one space before
 * it: " # ".
 */
static bool result_rest(const char *rest, const char **name, size_t *len)
{
	const char *hash = strchr(rest, '#');

	if (!hash) {
		*name = rest;
		*len = strlen(rest);
		return true;
	}
	if (hash == rest || hash[-1] != ' ' || hash[1] != ' ')
		return false;
	*name = rest;
	*len = (size_t)(hash - 1 - rest);
	return true;
}

/* The tail of TEST_RESULT_SKIP: r'(.*) # SKIP(.*)$' takes the last " # SKIP". */
static bool skip_rest(const char *rest, const char **name, size_t *len)
{
	const char *last = NULL;

	for (const char *p = rest; (p = strstr(p, " # SKIP")); p++)
		last = p;
	if (!last)
		return false;
	*name = rest;
	*len = (size_t)(last - rest);
	return true;
}

/* TEST_RESULT and TEST_RESULT_SKIP: r'^\s*(ok|not ok) ([0-9]+) (- )?...' */
static bool result_match(const char *line, struct result *r)
{
	const char *p = skip_space(line);

	memset(r, 0, sizeof(*r));
	if (strncmp(p, "ok ", 3) == 0) {
		r->ok = true;
		p += 3;
	} else if (strncmp(p, "not ok ", 7) == 0) {
		p += 7;
	} else {
		return false;
	}
	if (!is_digit(*p))
		return false;
	r->num = p;
	while (is_digit(*p))
		p++;
	r->num_len = (size_t)(p - r->num);
	if (*p != ' ')
		return false;
	p++;
	/* "(- )?" is greedy: with it first, then without */
	if (!((strncmp(p, "- ", 2) == 0 && result_rest(p + 2, &r->name, &r->name_len)) ||
	      result_rest(p, &r->name, &r->name_len)))
		return false;
	r->skip = (strncmp(p, "- ", 2) == 0 && skip_rest(p + 2, &r->skip_name, &r->skip_name_len)) ||
		  skip_rest(p, &r->skip_name, &r->skip_name_len);
	return true;
}

/* peek_test_name_match() */
static bool result_names(const char *line, const char *name)
{
	struct result r;

	return line && result_match(line, &r) && r.name_len == strlen(name) &&
	       memcmp(r.name, name, r.name_len) == 0;
}

/* The lines parse_diagnostic() stops at. */
static bool structural(const char *line)
{
	struct result r;
	int64_t n;

	return result_match(line, &r) || header_match(line) ||
	       version_match(line, "KTAP", &n) || version_match(line, "TAP", &n) ||
	       plan_match(line, &n);
}

/* ---- the tree --------------------------------------------------------------- */

static void test_free(struct uml_ktap_test *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_sub; i++)
		test_free(t->sub[i]);
	for (size_t i = 0; i < t->n_log; i++)
		free(t->log[i]);
	free(t->sub);
	free(t->log);
	free(t->name);
	free(t->reason);
	free(t);
}

void uml_ktap_reset_tree(struct uml_ktap *k)
{
	test_free(k->root);
	k->root = NULL;
	k->n_nodes = 0;
	k->log_bytes = 0;
	k->truncated = false;
}

struct uml_ktap_test *uml_ktap_add_test(struct uml_ktap *k, struct uml_ktap_test *parent,
					const char *name)
{
	struct uml_ktap_test *t;

	if (parent)
		parent->n_sub_total++;
	if (k->n_nodes >= KTAP_MAX_NODES) {
		k->truncated = true;
		return NULL;
	}
	if (parent && uml_grow(&parent->sub, &parent->cap_sub, parent->n_sub + 1,
			       sizeof(*parent->sub)) < 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t || !(t->name = strdup(name ? name : ""))) {
		free(t);
		return NULL;
	}
	t->status = UML_KTAP_CRASHED;	/* kunit_parser.Test() starts crashed */
	t->expected = 0;
	t->duration_us = -1;
	t->parent = parent;
	t->depth = parent ? parent->depth + 1 : 0;
	if (parent)
		parent->sub[parent->n_sub++] = t;
	else
		k->root = t;
	k->n_nodes++;
	return t;
}

/* Drops the last subtest of parent (made by a frame that read nothing). */
static void drop_last_test(struct uml_ktap *k, struct uml_ktap_test *parent, struct uml_ktap_test *t)
{
	parent->n_sub_total--;
	if (t && parent->n_sub && parent->sub[parent->n_sub - 1] == t) {
		parent->n_sub--;
		k->n_nodes--;
		test_free(t);
	}
}

int uml_ktap_add_log(struct uml_ktap *k, struct uml_ktap_test *t, const char *line)
{
	size_t len = strlen(line);
	char *copy;

	if (!t)
		return 0;
	if (k->log_bytes + len > KTAP_MAX_LOG_BYTES) {
		k->truncated = true;
		return 0;
	}
	if (uml_grow(&t->log, &t->cap_log, t->n_log + 1, sizeof(*t->log)) < 0)
		return -ENOMEM;
	copy = strdup(line);
	if (!copy)
		return -ENOMEM;
	t->log[t->n_log++] = copy;
	k->log_bytes += len;
	return 0;
}

int uml_ktap_set_reason(struct uml_ktap_test *t, const char *reason)
{
	return t ? uml_set_string(&t->reason, reason) : 0;
}

struct uml_ktap_test *uml_ktap_copy_test(struct uml_ktap *k, struct uml_ktap_test *parent,
					 const struct uml_ktap_test *src)
{
	struct uml_ktap_test *t = uml_ktap_add_test(k, parent, src->name);

	if (!t)
		return NULL;
	t->status = src->status;
	t->own_errors = src->own_errors;
	t->expected = src->expected;
	t->duration_us = src->duration_us;
	memcpy(t->counts, src->counts, sizeof(t->counts));
	if (src->reason && uml_set_string(&t->reason, src->reason) < 0)
		return NULL;
	for (size_t i = 0; i < src->n_log; i++)
		if (uml_ktap_add_log(k, t, src->log[i]) < 0)
			return NULL;
	for (size_t i = 0; i < src->n_sub; i++)
		if (!uml_ktap_copy_test(k, t, src->sub[i]) && !k->truncated)
			return NULL;
	t->n_sub_total = src->n_sub_total;
	return t;
}

struct uml_ktap_test *uml_ktap_find(struct uml_ktap_test *t, const char *name)
{
	for (size_t i = 0; t && i < t->n_sub; i++)
		if (strcmp(t->sub[i]->name, name) == 0)
			return t->sub[i];
	return NULL;
}

static uint64_t counts_total(const uint64_t *c)
{
	return c[UML_KTAP_COUNT_PASSED] + c[UML_KTAP_COUNT_FAILED] + c[UML_KTAP_COUNT_CRASHED] +
	       c[UML_KTAP_COUNT_SKIPPED];
}

/* TestCounts.get_status() */
static enum uml_ktap_status counts_status(const uint64_t *c)
{
	if (counts_total(c) == 0)
		return UML_KTAP_NO_TESTS;
	if (c[UML_KTAP_COUNT_CRASHED])
		return UML_KTAP_CRASHED;
	if (c[UML_KTAP_COUNT_FAILED])
		return UML_KTAP_FAIL;
	if (c[UML_KTAP_COUNT_PASSED])
		return UML_KTAP_PASS;
	return UML_KTAP_SKIP;
}

/* TestCounts.add_status() */
static void counts_add_status(uint64_t *c, enum uml_ktap_status s, uint64_t n)
{
	if (s == UML_KTAP_PASS)
		c[UML_KTAP_COUNT_PASSED] += n;
	else if (s == UML_KTAP_FAIL)
		c[UML_KTAP_COUNT_FAILED] += n;
	else if (s == UML_KTAP_SKIP)
		c[UML_KTAP_COUNT_SKIPPED] += n;
	else if (s != UML_KTAP_NO_TESTS)
		c[UML_KTAP_COUNT_CRASHED] += n;
}

/* bubble_up_test_results() for one test whose subtests are complete. */
static void bubble_up(struct uml_ktap_test *t)
{
	for (size_t i = 0; i < t->n_sub; i++)
		for (int c = 0; c < 5; c++)
			t->counts[c] += t->sub[i]->counts[c];
	if (counts_total(t->counts) == 0)
		counts_add_status(t->counts, t->status, 1);
	else if (counts_status(t->counts) == UML_KTAP_CRASHED)
		t->status = UML_KTAP_CRASHED;
}

static void recount(struct uml_ktap_test *t, bool derive)
{
	memset(t->counts, 0, sizeof(t->counts));
	t->counts[UML_KTAP_COUNT_ERRORS] = t->own_errors;
	for (size_t i = 0; i < t->n_sub; i++)
		recount(t->sub[i], derive);
	bubble_up(t);
	if (derive && t->n_sub)
		t->status = counts_status(t->counts);
}

void uml_ktap_recount(struct uml_ktap *k, bool derive)
{
	if (!k->root)
		return;
	recount(k->root, derive);
	if (k->root->status != UML_KTAP_NO_TESTS && k->root->status != UML_KTAP_NO_KTAP)
		k->root->status = counts_status(k->root->counts);
}

/* ---- the parser ---------------------------------------------------------------- */

enum {
	ST_DIAG0,	/* err_log = parse_diagnostic() */
	ST_HEADER,	/* parse_ktap_header() */
	ST_SUBHEADER,	/* parse_test_header() */
	ST_DIAG1,	/* test.log.extend(parse_diagnostic()) */
	ST_PLAN,	/* parse_test_plan() */
	ST_LOOP,	/* the while condition */
	ST_LOOP_DIAG,	/* sub_log = parse_diagnostic() */
	ST_LOOP_DECIDE,	/* end of subtests, or a subtest */
	ST_CHILD_DONE,
	ST_TAIL_DIAG,
	ST_RESULT,
	ST_FINAL,
};

struct ktap_frame {
	struct uml_ktap_test *t;	/* NULL past KTAP_MAX_NODES: parsed, not kept */
	struct uml_ktap_test *parent;
	int st;
	bool is_sub;
	bool parent_test;
	bool ktap_line;
	uint64_t expected_num;
	int64_t expected;		/* -1: None */
	uint64_t test_num;
	uint64_t mark;			/* k->consumed when the last child started */
	struct uml_ktap_test *child;
	int64_t t0;
	char **pend;			/* sub_log */
	size_t n_pend, cap_pend;
	/* a test not kept still needs what parse_test() decides on */
	char *name;
	enum uml_ktap_status status;
	uint64_t counts[5];
	uint64_t own_errors;
	uint64_t n_sub;
};

static void emit(struct uml_ktap *k, enum uml_ktap_event_type type, const struct uml_ktap_test *t,
		 const char *text, unsigned depth)
{
	struct uml_ktap_event ev = { .type = type, .test = t, .text = text, .depth = depth };

	/* tests past KTAP_MAX_NODES are parsed but not kept: nothing to report */
	if (k->event_fn && (t || type == UML_KTAP_EVENT_LINE))
		k->event_fn(k->event_data, &ev);
}

static struct ktap_frame *top(struct uml_ktap *k)
{
	return k->n_stack ? &k->stack[k->n_stack - 1] : NULL;
}

/* Test.add_error() */
static void add_error(struct uml_ktap *k, struct ktap_frame *f, const char *msg)
{
	f->counts[UML_KTAP_COUNT_ERRORS]++;
	f->own_errors++;
	emit(k, UML_KTAP_EVENT_ERROR, f->t, msg, (unsigned)k->n_stack - 1);
}

static void pend_free(struct ktap_frame *f)
{
	for (size_t i = 0; i < f->n_pend; i++)
		free(f->pend[i]);
	free(f->pend);
	f->pend = NULL;
	f->n_pend = f->cap_pend = 0;
}

static int pend_add(struct uml_ktap *k, struct ktap_frame *f, const char *line)
{
	size_t len = strlen(line);

	if (k->log_bytes + len > KTAP_MAX_LOG_BYTES) {
		k->truncated = true;
		return 0;
	}
	if (uml_grow(&f->pend, &f->cap_pend, f->n_pend + 1, sizeof(*f->pend)) < 0)
		return -ENOMEM;
	if (!(f->pend[f->n_pend] = strdup(line)))
		return -ENOMEM;
	f->n_pend++;
	k->log_bytes += len;
	return 0;
}

/* Moves the pending lines to t's log (their bytes are counted already). */
static int pend_to_log(struct uml_ktap *k, struct ktap_frame *f, struct uml_ktap_test *t)
{
	int r = 0;

	for (size_t i = 0; i < f->n_pend; i++) {
		k->log_bytes -= strlen(f->pend[i]);
		if (r == 0)
			r = uml_ktap_add_log(k, t, f->pend[i]);
	}
	pend_free(f);
	return r;
}

static int push(struct uml_ktap *k, struct uml_ktap_test *parent, bool is_sub,
		uint64_t expected_num, struct ktap_frame *from)
{
	struct ktap_frame *f;
	int r;

	if (uml_grow(&k->stack, &k->cap_stack, k->n_stack + 1, sizeof(*k->stack)) < 0)
		return -ENOMEM;
	f = &k->stack[k->n_stack];
	memset(f, 0, sizeof(*f));
	f->parent = parent;
	f->t = uml_ktap_add_test(k, parent, is_sub ? "" : "main");
	if (!f->t && !k->truncated)
		return -ENOMEM;
	f->name = strdup(is_sub ? "" : "main");
	if (!f->name)
		return -ENOMEM;
	f->is_sub = is_sub;
	f->expected_num = expected_num;
	f->status = UML_KTAP_CRASHED;
	f->st = ST_DIAG0;
	f->t0 = k->last_time;
	k->n_stack++;
	if (from) {
		/* the parent's sub_log becomes the child's first log lines */
		from->child = f->t;
		r = pend_to_log(k, from, f->t);
		if (r < 0)
			return r;
	}
	return 0;
}

static int set_name(struct ktap_frame *f, const char *name, size_t len)
{
	char *n = strndup(name, len);

	if (!n)
		return -ENOMEM;
	free(f->name);
	f->name = n;
	if (f->t) {
		free(f->t->name);
		f->t->name = strdup(n);
		if (!f->t->name)
			return -ENOMEM;
	}
	return 0;
}

/* 1: the lookahead line is there; 0: end of input; -1: wait for more. */
static int need(struct uml_ktap *k)
{
	if (k->cur)
		return 1;
	return k->eof ? 0 : -1;
}

static void consume(struct uml_ktap *k)
{
	free(k->cur);
	k->cur = NULL;
	k->consumed++;
	k->last_time = k->cur_time;
}

/* parse_diagnostic(): consumes lines up to a structural one into t's log or
 * the frame's pending lines.  0 when done, 1 when waiting for input. */
static int diag(struct uml_ktap *k, struct ktap_frame *f, bool to_pending, int *err)
{
	int n;

	while ((n = need(k)) == 1 && !structural(k->cur)) {
		*err = to_pending ? pend_add(k, f, k->cur) : uml_ktap_add_log(k, f->t, k->cur);
		if (*err < 0)
			return 0;
		consume(k);
	}
	return n < 0;
}

/* The end of parse_test(): the verdict of the frame on top, then pop it. */
static void finish_frame(struct uml_ktap *k)
{
	struct ktap_frame *f = top(k);
	struct uml_ktap_test *t = f->t;
	unsigned depth = (unsigned)k->n_stack - 1;

	if (f->parent_test && f->n_sub == 0 &&
	    (f->status == UML_KTAP_CRASHED || f->status == UML_KTAP_PASS)) {
		f->status = UML_KTAP_NO_TESTS;
		add_error(k, f, "0 tests run!");
	}
	/* bubble_up_test_results(), with the children's counts added as they ended */
	if (counts_total(f->counts) == 0)
		counts_add_status(f->counts, f->status, 1);
	else if (counts_status(f->counts) == UML_KTAP_CRASHED)
		f->status = UML_KTAP_CRASHED;
	if (!f->is_sub && f->status != UML_KTAP_NO_TESTS)
		f->status = counts_status(f->counts);	/* parse_run_tests() */
	if (t) {
		t->status = f->status;
		memcpy(t->counts, f->counts, sizeof(t->counts));
		t->own_errors = f->own_errors;
		t->expected = f->expected;
		if (f->t0 >= 0 && k->last_time >= 0)
			t->duration_us = k->last_time - f->t0;
	}
	if (f->is_sub)
		emit(k, UML_KTAP_EVENT_TEST_END, t, NULL, depth);
	if (k->n_stack > 1) {
		struct ktap_frame *p = &k->stack[k->n_stack - 2];

		for (int c = 0; c < 5; c++)
			p->counts[c] += f->counts[c];
		p->n_sub++;
	}
	pend_free(f);
	free(f->name);
	k->n_stack--;
}

/* Placeholders for subtests a plan promised and that never came. */
static void missing_subtests(struct uml_ktap *k, struct ktap_frame *f)
{
	uint64_t n = (uint64_t)f->expected - f->test_num + 1;
	unsigned depth = (unsigned)k->n_stack;

	for (uint64_t i = 0; i < n; i++) {
		struct uml_ktap_test *sub;

		if (k->n_nodes >= KTAP_MAX_NODES) {
			/* the rest only in numbers: kunit.py would add them one by one */
			if (f->t)
				f->t->n_sub_total += n - i;
			f->counts[UML_KTAP_COUNT_ERRORS] += n - i;
			f->own_errors += n - i;
			f->counts[UML_KTAP_COUNT_CRASHED] += n - i;
			f->n_sub += n - i;
			k->truncated = true;
			break;
		}
		add_error(k, f, "missing expected subtest!");
		f->counts[UML_KTAP_COUNT_CRASHED]++;
		f->n_sub++;
		sub = f->t ? uml_ktap_add_test(k, f->t, "") : NULL;
		if (i == 0)
			pend_to_log(k, f, sub);
		emit(k, UML_KTAP_EVENT_TEST_END, sub, NULL, depth);
	}
	pend_free(f);
	f->test_num = (uint64_t)f->expected + 1;
}

/* Runs the frames as far as the input allows. */
static int parse(struct uml_ktap *k)
{
	struct ktap_frame *f;
	int r = 0, n;
	int64_t v;

	while ((f = top(k))) {
		switch (f->st) {
		case ST_DIAG0:
			if (diag(k, f, false, &r))
				return r;
			f->st = ST_HEADER;
			break;
		case ST_HEADER:
			if ((n = need(k)) < 0)
				return 0;
			if (k->n_stack > KTAP_MAX_DEPTH) {
				k->truncated = true;
				n = 0;
			}
			if (n && version_match(k->cur, "KTAP", &v)) {
				if (v < 1)
					add_error(k, f, "KTAP version lower than expected!");
				else if (v > 1)
					add_error(k, f, "KTAP version higer than expected!");
				f->ktap_line = true;
				consume(k);
			} else if (n && version_match(k->cur, "TAP", &v)) {
				if (v < 13)
					add_error(k, f, "TAP version lower than expected!");
				else if (v > 14)
					add_error(k, f, "TAP version higer than expected!");
				f->ktap_line = true;
				consume(k);
			}
			if (f->is_sub) {
				f->st = ST_SUBHEADER;
			} else {
				f->parent_test = true;
				f->st = ST_DIAG1;
			}
			break;
		case ST_SUBHEADER: {
			const char *name;

			if ((n = need(k)) < 0)
				return 0;
			if (k->n_stack > KTAP_MAX_DEPTH)
				n = 0;
			if (n && (name = header_match(k->cur))) {
				r = set_name(f, name, strlen(name));
				if (r < 0)
					return r;
				consume(k);
				f->parent_test = true;
			}
			f->parent_test |= f->ktap_line;
			f->st = f->parent_test ? ST_DIAG1 : ST_TAIL_DIAG;
			break;
		}
		case ST_DIAG1:
			if (diag(k, f, false, &r))
				return r;
			f->st = ST_PLAN;
			break;
		case ST_PLAN:
			if ((n = need(k)) < 0)
				return 0;
			f->expected = -1;
			if (n && plan_match(k->cur, &v)) {
				f->expected = v;
				consume(k);
			}
			if (f->t)
				f->t->expected = f->expected;
			if (f->is_sub)
				emit(k, UML_KTAP_EVENT_SUITE_START, f->t, NULL, (unsigned)k->n_stack - 1);
			f->test_num = 1;
			f->st = ST_LOOP;
			break;
		case ST_LOOP:
			if (f->parent_test &&
			    (f->expected < 0 || f->test_num <= (uint64_t)f->expected)) {
				pend_free(f);
				f->st = ST_LOOP_DIAG;
			} else {
				f->st = f->is_sub ? ST_TAIL_DIAG : ST_FINAL;
			}
			break;
		case ST_LOOP_DIAG:
			if (diag(k, f, true, &r))
				return r;
			f->st = ST_LOOP_DECIDE;
			break;
		case ST_LOOP_DECIDE:
			if ((n = need(k)) < 0)
				return 0;
			if (n == 0 || (f->is_sub && result_names(k->cur, f->name))) {
				if (f->expected > 0 && f->test_num <= (uint64_t)f->expected) {
					missing_subtests(k, f);
					f->st = ST_LOOP;
				} else {
					r = pend_to_log(k, f, f->t);
					if (r < 0)
						return r;
					f->st = f->is_sub ? ST_TAIL_DIAG : ST_FINAL;
				}
				break;
			}
			f->mark = k->consumed;
			f->st = ST_CHILD_DONE;
			r = push(k, f->t, true, f->test_num, f);
			if (r < 0)
				return r;
			break;
		case ST_CHILD_DONE:
			if (k->consumed == f->mark && f->expected < 0) {
				/*
				 * The child read nothing: a plan line where a subtest should
				 * be.  kunit.py loops forever here; drop the empty child and
				 * keep the line as a diagnostic.
				 */
				uint64_t *c = f->counts;

				c[UML_KTAP_COUNT_CRASHED]--;	/* what the child added */
				f->n_sub--;
				if (f->t)
					drop_last_test(k, f->t, f->child);
				r = uml_ktap_add_log(k, f->t, k->cur);
				if (r < 0)
					return r;
				consume(k);
				add_error(k, f, "unexpected test plan");
			} else if (k->consumed == f->mark) {
				/* kunit.py repeats the same empty child up to the plan */
				uint64_t more = (uint64_t)f->expected - f->test_num;

				for (uint64_t i = 0; i < more; i++) {
					struct uml_ktap_test *sub = NULL;

					if (f->t && k->n_nodes < KTAP_MAX_NODES)
						sub = uml_ktap_add_test(k, f->t, "");
					else if (f->t) {
						f->t->n_sub_total++;
						k->truncated = true;
					}
					if (sub) {
						sub->counts[UML_KTAP_COUNT_CRASHED] = 1;
						emit(k, UML_KTAP_EVENT_TEST_END, sub, NULL,
						     (unsigned)k->n_stack);
					}
				}
				f->counts[UML_KTAP_COUNT_CRASHED] += more;
				f->n_sub += more;
				f->test_num += more;
			}
			f->test_num++;
			f->st = ST_LOOP;
			break;
		case ST_TAIL_DIAG:
			if (diag(k, f, false, &r))
				return r;
			f->st = ST_RESULT;
			break;
		case ST_RESULT: {
			struct result res;

			if ((n = need(k)) < 0)
				return 0;
			if (f->name[0] && !(n && result_names(k->cur, f->name))) {
				add_error(k, f, "missing subtest result line!");
			} else if (n && result_match(k->cur, &res)) {
				char want[24];
				const char *num = res.num;
				size_t len = res.num_len;

				r = res.skip ? set_name(f, res.skip_name, res.skip_name_len) :
					       set_name(f, res.name, res.name_len);
				if (r < 0)
					return r;
				/* int() of the number: leading zeros do not count */
				while (len > 1 && *num == '0')
					num++, len--;
				snprintf(want, sizeof(want), "%" PRIu64, f->expected_num);
				if (len != strlen(want) || memcmp(num, want, len) != 0) {
					char msg[96];

					snprintf(msg, sizeof(msg), "Expected test number %s but found %.*s",
						 want, (int)(len > 40 ? 40 : len), num);
					add_error(k, f, msg);
				}
				f->status = res.skip ? UML_KTAP_SKIP :
					    res.ok ? UML_KTAP_PASS : UML_KTAP_FAIL;
				consume(k);
			}
			f->st = ST_FINAL;
			break;
		}
		case ST_FINAL:
			finish_frame(k);
			break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- extraction: extract_tap_lines() ------------------------------------------- */

/* "[   12.345678]" at the start of a console line: usec, or -1. */
static int64_t printk_time(const char *line)
{
	const char *p = line, *end;
	int64_t sec, usec;

	if (*p++ != '[')
		return -1;
	while (*p == ' ')
		p++;
	if (!is_digit(*p))
		return -1;
	sec = digits(p, &end);
	if (*end != '.' || !is_digit(end[1]))
		return -1;
	usec = digits(end + 1, &p);
	if (*p != ']' || p - end - 1 != 6 || sec > INT64_MAX / 2000000)
		return -1;
	return sec * 1000000 + usec;
}

/* Hands one KTAP line to the parser. */
static int ktap_line(struct uml_ktap *k, const char *line, int64_t when)
{
	int r;

	emit(k, UML_KTAP_EVENT_LINE, NULL, line, 0);
	if (!k->root && !k->n_stack) {
		/* parse_run_tests(): the top-level test starts at the first line */
		k->last_time = when;
		r = push(k, NULL, false, 0, NULL);
		if (r < 0)
			return r;
	}
	if (!k->n_stack)
		return 0;	/* the top-level test is complete: the rest is ignored */
	k->cur = strdup(line);
	if (!k->cur)
		return -ENOMEM;
	k->cur_time = when;
	r = parse(k);
	if (!k->n_stack) {
		/* a line the complete top-level test did not take */
		free(k->cur);
		k->cur = NULL;
	}
	return r;
}

static int end_of_input(struct uml_ktap *k)
{
	k->eof = true;
	return k->n_stack ? parse(k) : 0;
}

static int console_line(struct uml_ktap *k, char *line)
{
	int64_t when;
	const char *at;

	rstrip(line);
	if (k->ended)
		return 0;
	when = printk_time(line);
	if (when < 0 && (k->flags & UML_KTAP_LIVE))
		when = (int64_t)uml_now_usec();
	if (!k->started) {
		const char *word = version_search(line, "KTAP") ? "KTAP version" :
				   version_search(line, "TAP") ? "TAP version" : NULL;

		if (word) {
			at = strstr(line, word);
			k->prefix_cp = cp_count(line, at);
			k->started = true;
			return ktap_line(k, at, when);
		}
		if (strstr(line, "kunit executor: "))
			return ktap_line(k, line, when);
		return 0;
	}
	if (strstr(line, "List of all partitions:") ||
	    strstr(line, "Kernel panic - not syncing: VFS:") ||
	    strstr(line, "reboot: System halted")) {
		k->ended = true;
		return end_of_input(k);
	}
	return ktap_line(k, skip_cp(line, k->prefix_cp), when);
}

/* Ends the unfinished line: decoded as Python would (invalid bytes as \xNN). */
static int flush_line(struct uml_ktap *k)
{
	const unsigned char *p = (const unsigned char *)(k->partial.data ? k->partial.data : "");
	size_t len = k->partial.len;
	struct uml_buf out = { 0 };
	int r = 0;

	for (size_t i = 0; i < len && r == 0; ) {
		size_t n = p[i] ? utf8_seq(p + i, len - i) : 0;

		if (n) {
			r = uml_buf_append(&out, p + i, n);
			i += n;
		} else {
			r = uml_buf_printf(&out, "\\x%02x", p[i]);
			i++;
		}
	}
	if (r == 0)
		r = uml_buf_append(&out, "", 0);
	if (r == 0)
		r = console_line(k, out.data);
	uml_buf_free(&out);
	k->partial.len = 0;
	k->line_cut = false;
	return r;
}

/* ---- the object ------------------------------------------------------------------ */

static void ktap_free(struct uml_ktap *k)
{
	while (k->n_stack) {
		pend_free(top(k));
		free(top(k)->name);
		k->n_stack--;
	}
	free(k->stack);
	free(k->cur);
	test_free(k->root);
	uml_buf_free(&k->partial);
	free(k->last_error);
	uml_ctx_unref(k->ctx);
	free(k);
}

UML_DEFINE_REF_UNREF(uml_ktap, uml_ktap, ktap_free)

UML_EXPORT int uml_ktap_new(struct uml_ctx *ctx, struct uml_ktap **ret)
{
	struct uml_ktap *k;

	if (!ctx || !ret)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->refcount = 1;
	k->ctx = uml_ctx_ref(ctx);
	k->last_time = k->cur_time = -1;
	*ret = k;
	return 0;
}

UML_EXPORT int uml_ktap_set_flags(struct uml_ktap *k, unsigned flags)
{
	if (!k)
		return -EINVAL;
	if (flags & ~(unsigned)UML_KTAP_LIVE)
		return fail(k, -EINVAL, "ktap: unknown flags 0x%x", flags);
	if (k->fed)
		return fail(k, -EBUSY, "ktap: flags must be set before input is fed");
	k->flags = flags;
	return 0;
}

UML_EXPORT void uml_ktap_set_event_fn(struct uml_ktap *k, uml_ktap_event_fn fn, void *userdata)
{
	if (!k)
		return;
	k->event_fn = fn;
	k->event_data = userdata;
}

UML_EXPORT int uml_ktap_feed(struct uml_ktap *k, const void *data, size_t len)
{
	const char *p = data, *end = p + len;
	int r;

	if (!k || (!data && len))
		return -EINVAL;
	if (k->finished)
		return fail(k, -EBUSY, "ktap: input fed after the end");
	k->fed = true;
	while (p < end) {
		const char *brk = p;

		while (brk < end && *brk != '\n' && *brk != '\r')
			brk++;
		if (k->cr_pending && p < end && *p == '\n' && brk == p) {
			/* the LF of a CR LF split across two feeds */
			k->cr_pending = false;
			p++;
			continue;
		}
		k->cr_pending = false;
		if (!k->line_cut) {
			size_t room = KTAP_MAX_LINE - k->partial.len, n = (size_t)(brk - p);

			if (n > room) {
				n = room;
				k->line_cut = true;
			}
			if (uml_buf_append(&k->partial, p, n) < 0)
				return -ENOMEM;
		}
		if (brk == end)
			break;
		r = flush_line(k);
		if (r < 0)
			return fail(k, r, "ktap: %s", strerror(-r));
		if (*brk == '\r') {
			if (brk + 1 < end && brk[1] == '\n')
				brk++;
			else if (brk + 1 == end)
				k->cr_pending = true;
		}
		p = brk + 1;
	}
	return 0;
}

UML_EXPORT int uml_ktap_finish(struct uml_ktap *k)
{
	int r = 0;

	if (!k)
		return -EINVAL;
	if (k->finished)
		return 0;
	k->finished = true;
	if (k->partial.len)
		r = flush_line(k);
	if (r == 0 && !k->ended)
		r = end_of_input(k);
	if (r < 0)
		return fail(k, r, "ktap: %s", strerror(-r));
	if (!k->root) {
		/* parse_run_tests() without any KTAP line */
		struct uml_ktap_test *t = uml_ktap_add_test(k, NULL, "<missing>");

		if (!t)
			return -ENOMEM;
		t->status = UML_KTAP_NO_KTAP;
		t->counts[UML_KTAP_COUNT_ERRORS] = t->own_errors = 1;
		emit(k, UML_KTAP_EVENT_ERROR, t,
		     "Could not find any KTAP output. Did any KUnit tests run?", 0);
	}
	return 0;
}

UML_EXPORT const struct uml_ktap_test *uml_ktap_get_root(struct uml_ktap *k)
{
	return k ? k->root : NULL;
}

UML_EXPORT enum uml_ktap_status uml_ktap_get_status(struct uml_ktap *k)
{
	return k && k->root ? k->root->status : UML_KTAP_NO_KTAP;
}

UML_EXPORT int uml_ktap_get_truncated(struct uml_ktap *k)
{
	return k && k->truncated ? 1 : 0;
}

UML_EXPORT const char *uml_ktap_last_error(struct uml_ktap *k)
{
	return k ? k->last_error : NULL;
}

UML_EXPORT const char *uml_ktap_status_to_string(enum uml_ktap_status s)
{
	switch (s) {
	case UML_KTAP_PASS:
		return "PASS";
	case UML_KTAP_SKIP:
		return "SKIP";
	case UML_KTAP_CRASHED:
		return "ERROR";
	case UML_KTAP_FAIL:
	case UML_KTAP_NO_TESTS:
	case UML_KTAP_NO_KTAP:
		return "FAIL";
	}
	return NULL;
}

/* ---- the tree's getters -------------------------------------------------------------- */

UML_EXPORT const char *uml_ktap_test_get_name(const struct uml_ktap_test *t)
{
	return t ? t->name : NULL;
}

UML_EXPORT enum uml_ktap_status uml_ktap_test_get_status(const struct uml_ktap_test *t)
{
	return t ? t->status : UML_KTAP_NO_KTAP;
}

UML_EXPORT uint64_t uml_ktap_test_get_count(const struct uml_ktap_test *t, enum uml_ktap_count which)
{
	return t && (unsigned)which < 5 ? t->counts[which] : 0;
}

UML_EXPORT int64_t uml_ktap_test_get_expected(const struct uml_ktap_test *t)
{
	return t ? t->expected : -1;
}

UML_EXPORT size_t uml_ktap_test_get_n_subtests(const struct uml_ktap_test *t)
{
	return t ? t->n_sub : 0;
}

UML_EXPORT const struct uml_ktap_test *uml_ktap_test_get_subtest(const struct uml_ktap_test *t,
								 size_t index)
{
	return t && index < t->n_sub ? t->sub[index] : NULL;
}

UML_EXPORT const struct uml_ktap_test *uml_ktap_test_get_parent(const struct uml_ktap_test *t)
{
	return t ? t->parent : NULL;
}

UML_EXPORT size_t uml_ktap_test_get_n_log(const struct uml_ktap_test *t)
{
	return t ? t->n_log : 0;
}

UML_EXPORT const char *uml_ktap_test_get_log(const struct uml_ktap_test *t, size_t index)
{
	return t && index < t->n_log ? t->log[index] : NULL;
}

UML_EXPORT int64_t uml_ktap_test_get_duration_us(const struct uml_ktap_test *t)
{
	return t ? t->duration_us : -1;
}

UML_EXPORT const char *uml_ktap_test_get_reason(const struct uml_ktap_test *t)
{
	return t ? t->reason : NULL;
}

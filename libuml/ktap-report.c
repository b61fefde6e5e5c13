/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KTAP trees out and in: kunit.py's JSON (tools/testing/kunit/kunit_json.py,
 * written the way Python's json.dumps(indent=4) writes it), JUnit XML, and
 * a small JSON reader for the results of an earlier run.
 */
#include "config.h"

#include "ktap-internal.h"

#define fail(k, err, ...) uml_fail((k)->ctx, &(k)->last_error, err, __VA_ARGS__)

/* ---- JSON out ----------------------------------------------------------------- */

/* A JSON string as json.dumps() writes it (ensure_ascii). */
static int json_str(struct uml_buf *b, const char *s)
{
	int r = uml_buf_append(b, "\"", 1);

	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && r == 0; ) {
		unsigned c = *p, cp;
		size_t n;

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			r = uml_buf_append(b, e, 2);
			p++;
			continue;
		}
		if (c < 0x80) {
			static const char names[] = "btn\0fr";

			if (c >= 0x08 && c <= 0x0d && names[c - 8]) {
				char e[2] = { '\\', names[c - 8] };

				r = uml_buf_append(b, e, 2);
			} else if (c < 0x20) {
				r = uml_buf_printf(b, "\\u%04x", c);
			} else {
				r = uml_buf_append(b, p, 1);
			}
			p++;
			continue;
		}
		/* the tree holds valid UTF-8 only (the parser made sure) */
		n = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		cp = c & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
		for (size_t i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				n = 1;
				cp = 0xfffd;
				break;
			}
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp >= 0x10000)
			r = uml_buf_printf(b, "\\u%04x\\u%04x", 0xd800 + ((cp - 0x10000) >> 10),
					   0xdc00 + ((cp - 0x10000) & 0x3ff));
		else
			r = uml_buf_printf(b, "\\u%04x", cp);
		p += n;
	}
	return r ? r : uml_buf_append(b, "\"", 1);
}

struct json_meta {
	const char *arch, *defconfig, *build_dir;
};

static int indent(struct uml_buf *b, unsigned level)
{
	int r = uml_buf_append(b, "\n", 1);

	for (unsigned i = 0; i < level && r == 0; i++)
		r = uml_buf_append(b, "    ", 4);
	return r;
}

/* _get_group_json(): sub_groups for subtests with subtests, test_cases for the rest. */
static int json_group(struct uml_buf *b, const struct uml_ktap_test *t, const char *name,
		      const struct json_meta *m, unsigned lv)
{
	bool first = true;
	int r = 0;

	r |= uml_buf_append(b, "{", 1);
	r |= indent(b, lv + 1);
	r |= uml_buf_append(b, "\"name\": ", 8);
	r |= json_str(b, name);
	r |= uml_buf_append(b, ",", 1);
	r |= indent(b, lv + 1);
	r |= uml_buf_append(b, "\"sub_groups\": [", 15);
	for (size_t i = 0; i < t->n_sub && r == 0; i++) {
		if (!t->sub[i]->n_sub)
			continue;
		r |= uml_buf_append(b, first ? "" : ",", first ? 0 : 1);
		r |= indent(b, lv + 2);
		r |= json_group(b, t->sub[i], t->sub[i]->name, m, lv + 2);
		first = false;
	}
	if (!first)
		r |= indent(b, lv + 1);
	r |= uml_buf_append(b, "],", 2);
	r |= indent(b, lv + 1);
	r |= uml_buf_append(b, "\"test_cases\": [", 15);
	first = true;
	for (size_t i = 0; i < t->n_sub && r == 0; i++) {
		if (t->sub[i]->n_sub)
			continue;
		r |= uml_buf_append(b, first ? "" : ",", first ? 0 : 1);
		r |= indent(b, lv + 2);
		r |= uml_buf_append(b, "{", 1);
		r |= indent(b, lv + 3);
		r |= uml_buf_append(b, "\"name\": ", 8);
		r |= json_str(b, t->sub[i]->name);
		r |= uml_buf_append(b, ",", 1);
		r |= indent(b, lv + 3);
		r |= uml_buf_printf(b, "\"status\": \"%s\"",
				    uml_ktap_status_to_string(t->sub[i]->status));
		r |= indent(b, lv + 2);
		r |= uml_buf_append(b, "}", 1);
		first = false;
	}
	if (!first)
		r |= indent(b, lv + 1);
	r |= uml_buf_append(b, "],", 2);
	r |= indent(b, lv + 1);
	r |= uml_buf_append(b, "\"arch\": ", 8);
	r |= json_str(b, m->arch);
	r |= uml_buf_append(b, ",", 1);
	r |= indent(b, lv + 1);
	r |= uml_buf_append(b, "\"defconfig\": ", 13);
	r |= json_str(b, m->defconfig);
	r |= uml_buf_append(b, ",", 1);
	r |= indent(b, lv + 1);
	r |= uml_buf_append(b, "\"build_environment\": ", 21);
	r |= json_str(b, m->build_dir);
	r |= uml_buf_append(b, ",", 1);
	static const char *const nulls[] = { "lab_name", "kernel", "job" };
	for (size_t i = 0; i < ARRAY_SIZE(nulls); i++) {
		r |= indent(b, lv + 1);
		r |= uml_buf_printf(b, "\"%s\": null,", nulls[i]);
	}
	r |= indent(b, lv + 1);
	r |= uml_buf_append(b, "\"git_branch\": \"kselftest\"", 25);
	r |= indent(b, lv);
	r |= uml_buf_append(b, "}", 1);
	return r ? -ENOMEM : 0;
}

UML_EXPORT int uml_ktap_get_json(struct uml_ktap *k, const char *arch, const char *defconfig,
				 const char *build_dir, char **ret)
{
	struct json_meta m = { arch ? arch : "", defconfig ? defconfig : "",
			       build_dir ? build_dir : "" };
	struct uml_buf b = { 0 };

	if (!k || !ret)
		return -EINVAL;
	if (!k->root)
		return fail(k, -ENODATA, "ktap: no KTAP was read yet");
	if (json_group(&b, k->root, "KUnit Test Group", &m, 0) < 0) {
		uml_buf_free(&b);
		return -ENOMEM;
	}
	*ret = b.data;
	return 0;
}

/* ---- JUnit out ---------------------------------------------------------------- */

/* XML character data or attribute text; characters XML 1.0 forbids become '?'. */
static int xml_text(struct uml_buf *b, const char *s)
{
	int r = 0;

	for (const char *p = s ? s : ""; *p && r == 0; p++) {
		unsigned char c = (unsigned char)*p;

		switch (c) {
		case '<':
			r = uml_buf_append(b, "&lt;", 4);
			break;
		case '>':
			r = uml_buf_append(b, "&gt;", 4);
			break;
		case '&':
			r = uml_buf_append(b, "&amp;", 5);
			break;
		case '"':
			r = uml_buf_append(b, "&quot;", 6);
			break;
		case '\n':
			r = uml_buf_append(b, "&#10;", 5);
			break;
		default:
			r = uml_buf_append(b, c < 0x20 && c != '\t' ? "?" : p, 1);
		}
	}
	return r;
}

static double secs(const struct uml_ktap_test *t)
{
	return t->duration_us > 0 ? (double)t->duration_us / 1e6 : 0.0;
}

static int junit_log(struct uml_buf *b, const struct uml_ktap_test *t)
{
	int r = 0;

	for (size_t i = 0; i < t->n_log && r == 0; i++) {
		r = xml_text(b, t->log[i]);
		if (r == 0 && i + 1 < t->n_log)
			r = uml_buf_append(b, "\n", 1);
	}
	return r;
}

/* One <testcase> per test case below suite; path names parameterised cases. */
static int junit_cases(struct uml_buf *b, const struct uml_ktap_test *suite,
		       const struct uml_ktap_test *t, const char *path)
{
	int r = 0;

	for (size_t i = 0; i < t->n_sub && r == 0; i++) {
		const struct uml_ktap_test *c = t->sub[i];
		char *name;

		if (asprintf(&name, "%s%s%s", path, path[0] ? "." : "", c->name) < 0)
			return -ENOMEM;
		if (c->n_sub) {
			r = junit_cases(b, suite, c, name);
			free(name);
			continue;
		}
		r |= uml_buf_append(b, "    <testcase name=\"", 20);
		r |= xml_text(b, name);
		r |= uml_buf_append(b, "\" classname=\"", 13);
		r |= xml_text(b, suite->name);
		r |= uml_buf_printf(b, "\" time=\"%.3f\"", secs(c));
		free(name);
		if (c->status == UML_KTAP_PASS && !c->n_log) {
			r |= uml_buf_append(b, "/>\n", 3);
			continue;
		}
		r |= uml_buf_append(b, ">\n", 2);
		if (c->status == UML_KTAP_FAIL || c->status == UML_KTAP_NO_TESTS) {
			r |= uml_buf_append(b, "      <failure message=\"", 24);
			r |= xml_text(b, c->status == UML_KTAP_FAIL ? "failed" : "no tests run");
			r |= uml_buf_append(b, "\" type=\"failure\">", 17);
			r |= junit_log(b, c);
			r |= uml_buf_append(b, "</failure>\n", 11);
		} else if (c->status == UML_KTAP_CRASHED || c->status == UML_KTAP_NO_KTAP) {
			r |= uml_buf_append(b, "      <error message=\"", 22);
			r |= xml_text(b, c->reason ? c->reason : "crashed");
			r |= uml_buf_append(b, "\" type=\"crashed\">", 17);
			r |= junit_log(b, c);
			r |= uml_buf_append(b, "</error>\n", 9);
		} else if (c->status == UML_KTAP_SKIP) {
			r |= uml_buf_append(b, "      <skipped message=\"skipped\"/>\n", 35);
		}
		if ((c->status == UML_KTAP_PASS || c->status == UML_KTAP_SKIP) && c->n_log) {
			r |= uml_buf_append(b, "      <system-out>", 18);
			r |= junit_log(b, c);
			r |= uml_buf_append(b, "</system-out>\n", 14);
		}
		r |= uml_buf_append(b, "    </testcase>\n", 16);
	}
	return r ? -ENOMEM : 0;
}

static int junit_suite(struct uml_buf *b, const struct uml_ktap_test *s)
{
	const uint64_t *c = s->counts;
	uint64_t tests = c[UML_KTAP_COUNT_PASSED] + c[UML_KTAP_COUNT_FAILED] +
			 c[UML_KTAP_COUNT_CRASHED] + c[UML_KTAP_COUNT_SKIPPED];
	int r = 0;

	r |= uml_buf_append(b, "  <testsuite name=\"", 19);
	r |= xml_text(b, s->name);
	r |= uml_buf_printf(b, "\" tests=\"%" PRIu64 "\" failures=\"%" PRIu64 "\" errors=\"%" PRIu64
			    "\" skipped=\"%" PRIu64 "\" time=\"%.3f\">\n", tests,
			    c[UML_KTAP_COUNT_FAILED], c[UML_KTAP_COUNT_CRASHED],
			    c[UML_KTAP_COUNT_SKIPPED], secs(s));
	if (s->n_sub) {
		r |= junit_cases(b, s, s, "");
	} else if (tests) {
		/* a suite that is itself a case (crashed placeholders, plain results) */
		struct uml_ktap_test one = { .n_sub = 1, .sub = (struct uml_ktap_test **)&s };

		r |= junit_cases(b, s, &one, "");
	}
	if (s->n_log) {
		r |= uml_buf_append(b, "    <system-out>", 16);
		for (size_t i = 0; i < s->n_log && r == 0; i++) {
			r |= xml_text(b, s->log[i]);
			r |= uml_buf_append(b, "\n", i + 1 < s->n_log ? 1 : 0);
		}
		r |= uml_buf_append(b, "</system-out>\n", 14);
	}
	r |= uml_buf_append(b, "  </testsuite>\n", 15);
	return r ? -ENOMEM : 0;
}

UML_EXPORT int uml_ktap_get_junit(struct uml_ktap *k, const char *name, char **ret)
{
	struct uml_buf b = { 0 };
	const struct uml_ktap_test *root;
	const uint64_t *c;
	int r = 0;

	if (!k || !ret)
		return -EINVAL;
	if (!(root = k->root))
		return fail(k, -ENODATA, "ktap: no KTAP was read yet");
	c = root->counts;
	r |= uml_buf_append(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"", 57);
	r |= xml_text(&b, name ? name : "KUnit");
	r |= uml_buf_printf(&b, "\" tests=\"%" PRIu64 "\" failures=\"%" PRIu64 "\" errors=\"%" PRIu64
			    "\" skipped=\"%" PRIu64 "\" time=\"%.3f\">\n",
			    c[UML_KTAP_COUNT_PASSED] + c[UML_KTAP_COUNT_FAILED] +
			    c[UML_KTAP_COUNT_CRASHED] + c[UML_KTAP_COUNT_SKIPPED],
			    c[UML_KTAP_COUNT_FAILED], c[UML_KTAP_COUNT_CRASHED],
			    c[UML_KTAP_COUNT_SKIPPED], secs(root));
	for (size_t i = 0; i < root->n_sub && r == 0; i++)
		r = junit_suite(&b, root->sub[i]);
	r |= uml_buf_append(&b, "</testsuites>\n", 14);
	if (r) {
		uml_buf_free(&b);
		return -ENOMEM;
	}
	*ret = b.data;
	return 0;
}

/* ---- JSON in -------------------------------------------------------------------- */

struct jin {
	struct uml_ktap *k;
	const char *s, *p;
	const char *err;
};

static void ws(struct jin *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

static bool jfail(struct jin *j, const char *what)
{
	if (!j->err)
		j->err = what;
	return false;
}

static void put_utf8(struct uml_buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80)
		u[0] = (char)cp, n = 1;
	else if (cp < 0x800)
		u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	else if (cp < 0x10000)
		u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
		u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	else
		u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	uml_buf_append(b, u, n);
}

static bool hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			*v |= (unsigned)((c | 0x20) - 'a' + 10);
		else
			return false;
	}
	return true;
}

/* A string into out (allocated), NULL out to skip it. */
static bool jstring(struct jin *j, char **out)
{
	struct uml_buf b = { 0 };

	ws(j);
	if (*j->p != '"')
		return jfail(j, "a string");
	j->p++;
	while (*j->p != '"') {
		unsigned char c = (unsigned char)*j->p;

		if (!c || c < 0x20) {
			uml_buf_free(&b);
			return jfail(j, "the end of a string");
		}
		if (c != '\\') {
			uml_buf_append(&b, j->p++, 1);
			continue;
		}
		j->p++;
		switch (*j->p) {
		case '"': case '\\': case '/':
			uml_buf_append(&b, j->p, 1);
			break;
		case 'b': uml_buf_append(&b, "\b", 1); break;
		case 'f': uml_buf_append(&b, "\f", 1); break;
		case 'n': uml_buf_append(&b, "\n", 1); break;
		case 'r': uml_buf_append(&b, "\r", 1); break;
		case 't': uml_buf_append(&b, "\t", 1); break;
		case 'u': {
			unsigned cp, lo;

			if (!hex4(j->p + 1, &cp)) {
				uml_buf_free(&b);
				return jfail(j, "four hex digits after \\u");
			}
			j->p += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && j->p[1] == '\\' && j->p[2] == 'u' &&
			    hex4(j->p + 3, &lo) && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				j->p += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			put_utf8(&b, cp ? cp : 0xfffd);
			break;
		}
		default:
			uml_buf_free(&b);
			return jfail(j, "a valid escape");
		}
		j->p++;
	}
	j->p++;
	uml_buf_append(&b, "", 0);
	if (!b.data) {
		uml_buf_free(&b);
		return jfail(j, "memory");
	}
	if (out)
		*out = b.data;
	else
		uml_buf_free(&b);
	return true;
}

static bool jskip(struct jin *j, unsigned depth);

/* After an element: 1 when ',' says another follows, 0 at close, -1 else. */
static int jnext(struct jin *j, char close)
{
	ws(j);
	if (*j->p == ',') {
		j->p++;
		return 1;
	}
	if (*j->p++ == close)
		return 0;
	jfail(j, close == '}' ? "',' or '}'" : "',' or ']'");
	return -1;
}

/* An object's key and its ':'. */
static bool jkey(struct jin *j, char **key)
{
	if (!jstring(j, key))
		return false;
	ws(j);
	if (*j->p++ != ':')
		return jfail(j, "':'");
	return true;
}

static bool jcontainer(struct jin *j, char open, char close, unsigned depth)
{
	if (depth > 2 * KTAP_MAX_DEPTH)
		return jfail(j, "less nesting");
	j->p++;
	ws(j);
	if (*j->p == close) {
		j->p++;
		return true;
	}
	for (;;) {
		if (open == '{' && !jkey(j, NULL))
			return false;
		if (!jskip(j, depth + 1))
			return false;
		switch (jnext(j, close)) {
		case 1:
			continue;
		case -1:
			return false;
		}
		return true;
	}
}

/* Skips any value. */
static bool jskip(struct jin *j, unsigned depth)
{
	ws(j);
	switch (*j->p) {
	case '"':
		return jstring(j, NULL);
	case '{':
		return jcontainer(j, '{', '}', depth);
	case '[':
		return jcontainer(j, '[', ']', depth);
	}
	if (strncmp(j->p, "null", 4) == 0 || strncmp(j->p, "true", 4) == 0) {
		j->p += 4;
		return true;
	}
	if (strncmp(j->p, "false", 5) == 0) {
		j->p += 5;
		return true;
	}
	if (*j->p == '-' || (*j->p >= '0' && *j->p <= '9')) {
		char *end;

		strtod(j->p, &end);
		j->p = end;
		return true;
	}
	return jfail(j, "a value");
}

static bool jgroup(struct jin *j, struct uml_ktap_test *parent, unsigned depth);

/* "test_cases": [{"name": ..., "status": ...}, ...] */
static bool jcases(struct jin *j, struct uml_ktap_test *t)
{
	ws(j);
	if (*j->p++ != '[')
		return jfail(j, "an array of test cases");
	ws(j);
	if (*j->p == ']') {
		j->p++;
		return true;
	}
	for (;;) {
		_cleanup_(uml_freep) char *name = NULL, *status = NULL;
		struct uml_ktap_test *c;

		ws(j);
		if (*j->p++ != '{')
			return jfail(j, "a test case object");
		for (;;) {
			_cleanup_(uml_freep) char *key = NULL;

			if (!jkey(j, &key))
				return false;
			if (strcmp(key, "name") == 0 && !name) {
				if (!jstring(j, &name))
					return false;
			} else if (strcmp(key, "status") == 0 && !status) {
				if (!jstring(j, &status))
					return false;
			} else if (!jskip(j, 3)) {
				return false;
			}
			switch (jnext(j, '}')) {
			case 1:
				continue;
			case -1:
				return false;
			}
			break;
		}
		if (!name || !status)
			return jfail(j, "a test case with a name and a status");
		c = uml_ktap_add_test(j->k, t, name);
		if (!c && !j->k->truncated)
			return jfail(j, "memory");
		if (c)
			c->status = strcmp(status, "PASS") == 0 ? UML_KTAP_PASS :
				    strcmp(status, "SKIP") == 0 ? UML_KTAP_SKIP :
				    strcmp(status, "ERROR") == 0 ? UML_KTAP_CRASHED : UML_KTAP_FAIL;
		switch (jnext(j, ']')) {
		case 1:
			continue;
		case -1:
			return false;
		}
		return true;
	}
}

/* One test group object; parent NULL for the top-level group. */
static bool jgroup(struct jin *j, struct uml_ktap_test *parent, unsigned depth)
{
	struct uml_ktap_test *t;

	if (depth > KTAP_MAX_DEPTH + 1)
		return jfail(j, "less nesting");
	ws(j);
	if (*j->p++ != '{')
		return jfail(j, "a test group object");
	t = uml_ktap_add_test(j->k, parent, parent ? "" : "main");
	if (!t && !j->k->truncated)
		return jfail(j, "memory");
	for (;;) {
		_cleanup_(uml_freep) char *key = NULL;

		if (!jkey(j, &key))
			return false;
		if (strcmp(key, "name") == 0 && parent) {
			char *name = NULL;

			if (!jstring(j, &name))
				return false;
			if (t) {
				free(t->name);
				t->name = name;
			} else {
				free(name);
			}
		} else if (strcmp(key, "sub_groups") == 0) {
			ws(j);
			if (*j->p++ != '[')
				return jfail(j, "an array of sub_groups");
			ws(j);
			if (*j->p == ']') {
				j->p++;
			} else {
				for (;;) {
					if (!jgroup(j, t, depth + 1))
						return false;
					switch (jnext(j, ']')) {
					case 1:
						continue;
					case -1:
						return false;
					}
					break;
				}
			}
		} else if (strcmp(key, "test_cases") == 0) {
			if (!jcases(j, t))
				return false;
		} else if (!jskip(j, 2)) {
			return false;
		}
		switch (jnext(j, '}')) {
		case 1:
			continue;
		case -1:
			return false;
		}
		return true;
	}
}

UML_EXPORT int uml_ktap_load_json(struct uml_ktap *k, const char *text)
{
	struct jin j = { .k = k, .s = text, .p = text };

	if (!k || !text)
		return -EINVAL;
	if (k->fed || k->root)
		return fail(k, -EBUSY, "ktap: results can be loaded only into an unused parser");
	if (!jgroup(&j, NULL, 0) || (ws(&j), *j.p != '\0')) {
		if (!j.err)
			j.err = "the end of the text";
		uml_ktap_reset_tree(k);
		return fail(k, -EBADMSG, "ktap: not a KUnit results JSON: expected %s at offset %zu",
			    j.err, (size_t)(j.p - text));
	}
	k->finished = true;
	uml_ktap_recount(k, true);
	return 0;
}

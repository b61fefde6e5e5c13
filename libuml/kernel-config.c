/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel configurations for kernel-build.c: config fragment lines, the
 * shipped presets, the merged plan of requested options with conflicts,
 * merging it into a .config, and checking the final .config against it.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "libuml-private.h"

#define fail(b, err, ...) uml_fail((b)->ctx, &(b)->last_error, err, __VA_ARGS__)

static bool valid_symbol(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

int uml_kconfig_parse_line(const char *line, size_t len, char **sym, char **val)
{
	const char *p = line, *end = line + len;
	const char *s, *eq;

	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		end--;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end)
		return 0;
	if (*p == '#') {
		static const char tail[] = " is not set";
		size_t tl = sizeof(tail) - 1;

		p++;
		while (p < end && *p == ' ')
			p++;
		if ((size_t)(end - p) <= 7 + tl || strncmp(p, "CONFIG_", 7) != 0 ||
		    memcmp(end - tl, tail, tl) != 0)
			return 0;
		s = p + 7;
		if (!valid_symbol(s, (size_t)(end - tl - s)))
			return 0;
		*sym = strndup(s, (size_t)(end - tl - s));
		*val = strdup("n");
		goto out;
	}
	if ((size_t)(end - p) < 8 || strncmp(p, "CONFIG_", 7) != 0)
		return -EINVAL;
	s = p + 7;
	eq = memchr(s, '=', (size_t)(end - s));
	if (!eq || !valid_symbol(s, (size_t)(eq - s)) || eq + 1 == end)
		return -EINVAL;
	*sym = strndup(s, (size_t)(eq - s));
	*val = strndup(eq + 1, (size_t)(end - eq - 1));
out:
	if (!*sym || !*val) {
		free(*sym);
		free(*val);
		return -ENOMEM;
	}
	return 1;
}

void uml_kopt_free(struct uml_kopt *o)
{
	free(o->sym);
	free(o->val);
	free(o->origin);
}

const char *uml_preset_text(const char *name)
{
	for (size_t i = 0; i < uml_preset_texts_count; i++)
		if (strcmp(uml_preset_texts[i].name, name) == 0)
			return uml_preset_texts[i].text;
	return NULL;
}

/* ---- the plan ---------------------------------------------------------------- */

void uml_kplan_free(struct uml_kplan *p)
{
	for (size_t i = 0; i < p->n_base; i++)
		uml_kopt_free(&p->base[i]);
	free(p->base);
	free(p->m);
	uml_buf_free(&p->text);
}

static int plan_push_base(struct uml_kplan *p, const char *sym, const char *val, const char *origin)
{
	struct uml_kopt *n = realloc(p->base, (p->n_base + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	p->base = n;
	n[p->n_base] = (struct uml_kopt){ .sym = strdup(sym), .val = strdup(val),
				      .origin = strdup(origin) };
	if (!n[p->n_base].sym || !n[p->n_base].val || !n[p->n_base].origin) {
		uml_kopt_free(&n[p->n_base]);
		return -ENOMEM;
	}
	p->n_base++;
	return 0;
}

static int plan_merge(struct uml_kplan *p, const struct uml_kopt *o)
{
	for (size_t i = 0; i < p->n; i++) {
		if (strcmp(p->m[i].sym, o->sym) == 0) {
			p->m[i].val = o->val;
			p->m[i].origin = o->origin;
			return 0;
		}
	}
	struct uml_kplan_entry *n = realloc(p->m, (p->n + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	p->m = n;
	n[p->n++] = (struct uml_kplan_entry){ .sym = o->sym, .val = o->val, .origin = o->origin };
	return 0;
}

static int append_line(struct uml_buf *t, const char *sym, const char *val)
{
	char *line;
	int r, n;

	if (strcmp(val, "n") == 0)
		n = asprintf(&line, "# CONFIG_%s is not set\n", sym);
	else
		n = asprintf(&line, "CONFIG_%s=%s\n", sym, val);
	if (n < 0)
		return -ENOMEM;
	r = uml_buf_append(t, line, (size_t)n);
	free(line);
	return r;
}

/*
 * Library defaults, then the preset's lines, then the user's fragments and
 * options in order.  Two user entries that disagree on a symbol are a
 * conflict (the later one wins unless FAIL_ON_CONFLICT is set); overriding
 * the preset is what fragments are for and is no conflict.
 */
int uml_kplan_make(struct uml_kernel_build *b, struct uml_kplan *p)
{
	const char *text = uml_preset_text(b->preset);
	struct uml_buf conflicts = { 0 };
	struct utsname u;
	int r;

	/* allnoconfig would pick a 32-bit kernel, which needs 32-bit libc */
	if (uname(&u) == 0 && strcmp(u.machine, "x86_64") == 0) {
		r = plan_push_base(p, "64BIT", "y", "libuml default");
		if (r < 0)
			return r;
	}
	/* static kernels cannot get the host compatibility preload */
	r = plan_push_base(p, "STATIC_LINK", "n", "libuml default");
	if (r < 0)
		return r;
	for (const char *line = text; line && *line; ) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *sym = NULL, *val = NULL, *origin = NULL;

		if (uml_kconfig_parse_line(line, len, &sym, &val) == 1) {
			if (asprintf(&origin, "preset %s", b->preset) < 0)
				origin = NULL;
			r = origin ? plan_push_base(p, sym, val, origin) : -ENOMEM;
			free(origin);
			free(sym);
			free(val);
			if (r < 0)
				return r;
		}
		line = nl ? nl + 1 : NULL;
	}
	for (size_t i = 0; i < p->n_base; i++) {
		r = plan_merge(p, &p->base[i]);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < b->n_opts; i++) {
		const struct uml_kopt *o = &b->opts[i];

		for (size_t j = 0; j < i; j++) {
			const struct uml_kopt *e = &b->opts[j];
			char *msg;

			if (strcmp(e->sym, o->sym) != 0 || strcmp(e->val, o->val) == 0)
				continue;
			if (asprintf(&msg, "%sCONFIG_%s=%s (%s) conflicts with CONFIG_%s=%s (%s)",
				     conflicts.len ? "; " : "", o->sym, o->val, o->origin,
				     e->sym, e->val, e->origin) < 0)
				return -ENOMEM;
			uml_buf_append(&conflicts, msg, strlen(msg));
			free(msg);
		}
		r = plan_merge(p, o);
		if (r < 0)
			return r;
	}
	uml_buf_append(&p->text, "", 0);
	for (size_t i = 0; i < p->n; i++) {
		r = append_line(&p->text, p->m[i].sym, p->m[i].val);
		if (r < 0)
			return r;
	}
	if (conflicts.len) {
		b->conflicts = conflicts.data;
		if (b->flags & UML_KERNEL_BUILD_FAIL_ON_CONFLICT)
			return fail(b, -EINVAL, "kernel build: conflicting options: %s",
				    b->conflicts);
		uml_log(b->ctx, LOG_WARNING, "kernel build: conflicting options (the later wins): %s",
			b->conflicts);
	}
	return 0;
}

/* Replaces the lines of every planned symbol in .config with the plan's. */
int uml_kconfig_merge(const char *config_path, const struct uml_kplan *p)
{
	_cleanup_(uml_freep) char *old = NULL;
	struct uml_buf out = { 0 };
	int r = uml_read_file(config_path, &old, NULL);

	if (r < 0)
		return r;
	for (char *line = old; line && *line; ) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *sym = NULL, *val = NULL;
		bool planned = false;

		if (uml_kconfig_parse_line(line, len, &sym, &val) == 1) {
			for (size_t i = 0; i < p->n && !planned; i++)
				planned = strcmp(p->m[i].sym, sym) == 0;
		}
		free(sym);
		free(val);
		if (!planned) {
			uml_buf_append(&out, line, len);
			uml_buf_append(&out, "\n", 1);
		}
		line = nl ? nl + 1 : NULL;
	}
	r = uml_buf_append(&out, p->text.data, p->text.len);
	if (r == 0)
		r = uml_write_file(config_path, out.data, out.len);
	uml_buf_free(&out);
	return r;
}

/*
 * Checks every planned option against the final .config, as kunit.py does:
 * olddefconfig silently drops unknown symbols and ones whose dependencies
 * are not met.
 */
int uml_kconfig_verify(struct uml_kernel_build *b, const char *config_path, const struct uml_kplan *p)
{
	_cleanup_(uml_freep) char *cfg = NULL;
	struct uml_buf names = { 0 }, detail = { 0 };
	int r = uml_read_file(config_path, &cfg, NULL);

	if (r < 0)
		return fail(b, r, "kernel build: cannot read '%s': %s", config_path, strerror(-r));
	for (size_t i = 0; i < p->n; i++) {
		const struct uml_kplan_entry *m = &p->m[i];
		_cleanup_(uml_freep) char *got = NULL;
		char *msg;

		for (char *line = cfg; line && *line && !got; ) {
			char *nl = strchr(line, '\n');
			size_t len = nl ? (size_t)(nl - line) : strlen(line);
			char *sym = NULL, *val = NULL;

			if (uml_kconfig_parse_line(line, len, &sym, &val) == 1 &&
			    strcmp(sym, m->sym) == 0) {
				got = val;
				val = NULL;
			}
			free(sym);
			free(val);
			line = nl ? nl + 1 : NULL;
		}
		if (strcmp(m->val, "n") == 0 ? !got || strcmp(got, "n") == 0 :
		    got && strcmp(got, m->val) == 0)
			continue;
		if (asprintf(&msg, "%sCONFIG_%s=%s (%s): %s%s", detail.len ? "; " : "",
			     m->sym, m->val, m->origin,
			     got ? "the kernel set it to " : "unknown symbol or unmet dependencies",
			     got ? got : "") < 0)
			r = -ENOMEM;
		else {
			uml_buf_append(&detail, msg, strlen(msg));
			free(msg);
		}
		if (names.len)
			uml_buf_append(&names, " ", 1);
		uml_buf_append(&names, "CONFIG_", 7);
		uml_buf_append(&names, m->sym, strlen(m->sym));
	}
	if (r == 0 && names.len) {
		b->dropped = names.data;
		names.data = NULL;
		if (b->flags & UML_KERNEL_BUILD_ALLOW_DROPPED)
			uml_log(b->ctx, LOG_WARNING,
				"kernel build: options not set in the final config: %s", detail.data);
		else
			r = fail(b, -ENOTSUP,
				 "kernel build: requested options are not set in the final config: %s",
				 detail.data);
	}
	uml_buf_free(&names);
	uml_buf_free(&detail);
	return r;
}

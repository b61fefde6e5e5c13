/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tree of a struct uml_ktap, shared by the parser (ktap.c), the
 * writers and reader (ktap-report.c) and the KUnit runner (kunit.c), which
 * builds one tree out of the trees of its shards.
 */
#ifndef LIBUML_KTAP_INTERNAL_H
#define LIBUML_KTAP_INTERNAL_H

#include "libuml-private.h"

#define KTAP_MAX_LINE (64u * 1024)
#define KTAP_MAX_NODES (1u << 17)
/* deeper headers are not taken for headers: every walk of the tree recurses */
#define KTAP_MAX_DEPTH 200
#define KTAP_MAX_LOG_BYTES (64u * 1024 * 1024)

struct uml_ktap_test {
	struct uml_ktap_test *parent;
	char *name;
	enum uml_ktap_status status;
	int64_t expected;		/* the plan's N, -1 without a plan */
	struct uml_ktap_test **sub;
	size_t n_sub, cap_sub;
	uint64_t n_sub_total;		/* subtests also past KTAP_MAX_NODES */
	char **log;
	size_t n_log, cap_log;
	uint64_t counts[5];		/* enum uml_ktap_count */
	uint64_t own_errors;		/* parse errors of this test itself */
	int64_t duration_us;		/* -1 unknown */
	char *reason;
	unsigned depth;
};

struct ktap_frame;

struct uml_ktap {
	int refcount;
	struct uml_ctx *ctx;
	char *last_error;
	unsigned flags;
	uml_ktap_event_fn event_fn;
	void *event_data;

	/* input: the unfinished line */
	struct uml_buf partial;
	bool cr_pending;		/* the last byte was a CR: a LF after it ends nothing */
	bool line_cut;			/* the unfinished line passed KTAP_MAX_LINE */
	bool fed;
	bool finished;

	/* extraction of the KTAP lines out of the console */
	bool started;			/* a version line was seen */
	bool ended;			/* an end marker was seen: the parser saw its EOF */
	size_t prefix_cp;		/* code points before "KTAP version" */

	/* the parser: kunit_parser.parse_test() as a stack of frames */
	struct ktap_frame *stack;
	size_t n_stack, cap_stack;
	char *cur;			/* the lookahead line, or NULL */
	int64_t cur_time;		/* its time in usec, -1 unknown */
	int64_t last_time;		/* of the last line consumed */
	uint64_t consumed;		/* lines consumed so far */
	bool eof;

	struct uml_ktap_test *root;
	size_t n_nodes;
	size_t log_bytes;
	bool truncated;
};

/* A new test below parent (or the root when parent is NULL and there is none
 * yet); NULL when out of memory or past KTAP_MAX_NODES (then counted in
 * parent->n_sub_total and k->truncated set). */
struct uml_ktap_test *uml_ktap_add_test(struct uml_ktap *k, struct uml_ktap_test *parent,
					const char *name);
/* Frees the whole tree. */
void uml_ktap_reset_tree(struct uml_ktap *k);
/* Appends a log line to t (bounded by KTAP_MAX_LOG_BYTES). */
int uml_ktap_add_log(struct uml_ktap *k, struct uml_ktap_test *t, const char *line);
int uml_ktap_set_reason(struct uml_ktap_test *t, const char *reason);
/* Copies src (names, statuses, counts, logs, durations, reasons, subtests) below parent. */
struct uml_ktap_test *uml_ktap_copy_test(struct uml_ktap *k, struct uml_ktap_test *parent,
					 const struct uml_ktap_test *src);
/*
 * Recomputes the counts of every test from its test cases and own errors as
 * kunit.py's bubble_up_test_results() does (a crash below makes a test
 * crashed), and the root's status from its counts.  derive: tests with
 * subtests also take their status from their counts (trees read from JSON,
 * which has no status for them).
 */
void uml_ktap_recount(struct uml_ktap *k, bool derive);
/* The test named path[0] below t, then path[1] below that ... (NULL if none). */
struct uml_ktap_test *uml_ktap_find(struct uml_ktap_test *t, const char *name);

#endif

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The KUnit runner's state, shared by kunit.c (settings, builds, listing,
 * the run) and kunit-plan.c (globs and the shards they make).
 */
#ifndef LIBUML_KUNIT_INTERNAL_H
#define LIBUML_KUNIT_INTERNAL_H

#include "ktap-internal.h"

#define DEFAULT_SOURCE "/usr/src/linux-source-6.12.tar.xz"
#define KUNIT_DIR "tools/testing/kunit/configs"
#define GUEST_MEMORY (1024ull << 20)	/* kunit.py's mem=1G */
#define DEFAULT_WEIGHT 0.02		/* seconds, a test of unknown duration */
#define SLOW_WEIGHT 1.0			/* a test with the attribute speed: slow */
#define LIST_VERSION "libuml-kunit-list 1\n"
#define MAX_TESTS 200000

struct kt {
	char *suite;
	char *name;			/* the case */
	bool slow;
	double weight;
	bool selected;
	bool done;
	unsigned tries;
	struct uml_ktap *owner;		/* the shard's tree that holds node */
	const struct uml_ktap_test *node;
	char *reason;
};

struct suite {
	const char *name;		/* tests[first].suite */
	size_t first, n;		/* its tests in the kernel's order */
	size_t n_sel;
	double w_sel;
	struct uml_ktap *leaf_owner;	/* a suite that ended without cases */
	const struct uml_ktap_test *leaf;
	struct uml_ktap *node_owner;	/* the suite's node in a shard, for its log */
	const struct uml_ktap_test *node;
};

struct shard {
	struct uml_kunit *k;
	char *glob;
	size_t *t;			/* tests, in the kernel's order */
	size_t n;
	double weight;
	struct uml_instance *inst;
	struct uml_ktap *ktap;
	bool running;
	char *output;
	size_t output_len;
};

struct uml_kunit {
	int refcount;
	struct uml_ctx *ctx;
	char *last_error;

	/* building */
	char *source;
	char *build_dir;
	char *cache_dir;
	unsigned jobs;
	unsigned flags;
	struct uml_strv kunitconfigs;
	struct uml_strv kconfigs;
	char *out_dir;

	/* running */
	struct uml_kernel *kernel;
	unsigned parallel;
	int64_t timeout_ms;
	int64_t shard_timeout_ms;
	char *filter_glob;
	char *filter;
	struct uml_strv kernel_args;
	struct uml_ktap *rerun;

	/* the kernel's tests */
	struct kt *tests;
	size_t n_tests, cap_tests;
	struct suite *suites;
	size_t n_suites, cap_suites;
	struct uml_strv listed;		/* of uml_kunit_list() */

	/* the last run */
	struct shard **shards;
	size_t n_shards, cap_shards;
	struct uml_ktap *result;
};

/* Shards being planned. */
struct plan {
	struct uml_kunit *k;
	double tmax;
	struct shard **v;
	size_t n, cap;
	const bool *want;		/* per test: to be run */
};

void uml_kunit_shard_free(struct shard *s);
/* Does kunit.filter_glob ("suite_glob[.test_glob]") select t, as the kernel matches it? */
bool uml_kunit_filter_matches(const char *glob, const struct kt *t);
/* Shards for the tests marked in want, about two per guest, balanced by weight. */
int uml_kunit_plan(struct uml_kunit *k, const bool *want, unsigned parallel, struct plan *out);
/* Appends a shard of the tests idx[] under glob (taken, also on failure). */
int uml_kunit_plan_shard(struct plan *p, char *glob, const size_t *idx, size_t n);

#endif

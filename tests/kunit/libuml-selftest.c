// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites that libuml's tests add to a copy of the kernel tree: one
 * that fails, one that crashes the kernel in its second case, one that
 * hangs when booted with libuml_hang=1 (else it skips), and one after them
 * all that passes.
 */
#include <kunit/test.h>
#include <linux/delay.h>
#include <linux/moduleparam.h>

static bool libuml_hang;
core_param(libuml_hang, libuml_hang, bool, 0444);

static void libuml_pass(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 2, 1 + 1);
}

static void libuml_before(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 2, 1 + 1);
}

static void libuml_after(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 2, 1 + 1);
}

static void libuml_fail(struct kunit *test)
{
	KUNIT_EXPECT_EQ_MSG(test, 1, 2, "libuml: this test fails on purpose");
}

static void libuml_crash(struct kunit *test)
{
	volatile int *volatile p = NULL;

	/* a kernel-mode fault: UML panics, the whole guest ends */
	*p = 1;
	KUNIT_FAIL(test, "libuml: survived a NULL write");
}

static void libuml_hang_test(struct kunit *test)
{
	if (!libuml_hang)
		kunit_skip(test, "libuml_hang=1 not given");
	for (;;)
		msleep(100);
}

static struct kunit_case libuml_fail_cases[] = {
	KUNIT_CASE(libuml_pass),
	KUNIT_CASE(libuml_fail),
	{}
};

static struct kunit_case libuml_crash_cases[] = {
	KUNIT_CASE(libuml_before),
	KUNIT_CASE(libuml_crash),
	KUNIT_CASE(libuml_after),
	{}
};

static struct kunit_case libuml_hang_cases[] = {
	KUNIT_CASE(libuml_before),
	KUNIT_CASE(libuml_hang_test),
	KUNIT_CASE(libuml_after),
	{}
};

static struct kunit_case libuml_after_cases[] = {
	KUNIT_CASE(libuml_pass),
	{}
};

static struct kunit_suite libuml_fail_suite = {
	.name = "libuml_fail",
	.test_cases = libuml_fail_cases,
};

static struct kunit_suite libuml_crash_suite = {
	.name = "libuml_crash",
	.test_cases = libuml_crash_cases,
};

static struct kunit_suite libuml_hang_suite = {
	.name = "libuml_hang",
	.test_cases = libuml_hang_cases,
};

static struct kunit_suite libuml_zafter_suite = {
	.name = "libuml_zafter",
	.test_cases = libuml_after_cases,
};

kunit_test_suites(&libuml_fail_suite, &libuml_crash_suite, &libuml_hang_suite,
		  &libuml_zafter_suite);

MODULE_DESCRIPTION("libuml's failing, crashing and hanging KUnit tests");
MODULE_LICENSE("GPL");

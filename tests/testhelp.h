/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared fixtures for the libcheck suites. */
#ifndef TESTHELP_H
#define TESTHELP_H

#include <check.h>
#include <stdbool.h>
#include <uml/libuml.h>

/* A fresh temporary directory; th_cleanup() removes it. */
const char *th_tmpdir(void);
/* A context whose runtime dir is below th_tmpdir(), logging to stderr at LOG_ERR. */
struct uml_ctx *th_ctx(void);
/* Path of a busybox guest image made once per test program (by libuml). */
const char *th_busybox_image(void);
/* The default kernel of the machine (skips the test when there is none). */
struct uml_kernel *th_kernel(struct uml_ctx *ctx);
/*
 * The fast kernel test-kernel-build leaves in th_cache_dir(), or NULL (and
 * a SKIP line naming test on stderr) when it was not built: not worth
 * minutes of building in other suites.
 */
struct uml_kernel *th_fast_kernel(struct uml_ctx *ctx, const char *test);
/*
 * A cache that survives between test runs (kernel builds, Debian packages):
 * $UML_TEST_CACHE, else /var/cache/libuml-test, else ~/.cache/libuml-test.
 */
const char *th_cache_dir(void);
/*
 * tools/testing/kunit of Debian's linux-source-6.12 tarball (kunit.py and
 * its test_data/), extracted at the first call into the test cache (keyed
 * by the tarball's size and mtime) and shared by later runs; skips the
 * test (returns NULL) when the tarball is missing.
 */
const char *th_kunit_tools(void);
/* Non-zero when two JSON files hold the same value (Python's json, == ). */
bool th_json_equal(const char *a, const char *b);
/* Number of live processes whose command line mentions text. */
int th_count_processes(const char *text);
/* Number of child processes of this one, zombies included. */
int th_count_children(void);
/* Number of entries in a directory (0 if it does not exist). */
int th_count_entries(const char *dir);
/*
 * The last 1500 bytes of text ("" for NULL), for a failure message: check
 * refuses messages longer than a few KiB, so the whole text goes to stderr.
 */
const char *th_tail(const char *text);
/* The number in environment variable name, or def when it is unset or empty. */
long th_env_long(const char *name, long def);
/* Runs a shell command, returns its exit status. */
int th_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * True (and says why on stderr) when UML_TEST_NO_BOOT is set: the test
 * would start processes through libuml (boot a guest, run a kernel), which
 * valgrind cannot follow (it lacks pidfd_open); callers return early.
 */
bool th_no_boot(const char *test);
/* Runs the suite (fork mode), removes th_tmpdir(); returns the exit code. */
int th_run(Suite *s);

#endif

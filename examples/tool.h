/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the example tools share: exit codes, usage errors, and the progress
 * bar (one line on a terminal, nothing otherwise; SIGINT/SIGTERM make the
 * callback cancel the operation).
 */
#ifndef UML_EXAMPLES_TOOL_H
#define UML_EXAMPLES_TOOL_H

#include <errno.h>
#include <inttypes.h>
#include <popt.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <uml/libuml.h>

enum {
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
};

/* "PROG: MSG" and the usage summary, on stderr. */
static void usage_error(poptContext pc, const char *msg)
{
	fprintf(stderr, "%s: %s\n", program_invocation_short_name, msg);
	poptPrintUsage(pc, stderr, 0);
}

/* For poptGetNextOpt()'s error rc: names the option and prints the usage. */
static void usage_bad_option(poptContext pc, int rc)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s: %s", poptBadOption(pc, POPT_BADOPTION_NOALIAS),
		 poptStrerror(rc));
	usage_error(pc, msg);
}

struct bar {
	int tty;
	int quiet;
	const char *phase;
	time_t start;
	int drawn;
};

static volatile sig_atomic_t bar_interrupted;

static void bar_on_signal(int sig)
{
	(void)sig;
	bar_interrupted = 1;
}

/* A one-line bar on a terminal; nothing otherwise.  ^C cancels. */
static int bar_progress(void *userdata, const struct uml_progress *p)
{
	struct bar *b = userdata;
	long secs = (long)(time(NULL) - b->start);

	if (bar_interrupted)
		return 1;
	if (!b->tty || b->quiet)
		return 0;
	if (p->total) {
		unsigned pct = (unsigned)(p->done * 100 / p->total);
		unsigned fill = pct * 30 / 100;

		fprintf(stderr, "\r%-9s [%.*s%*s] %3u%% %" PRIu64 "/%" PRIu64 " %ld:%02ld ",
			p->phase, (int)fill, "==============================", (int)(30 - fill), "",
			pct, p->done, p->total, secs / 60, secs % 60);
	} else {
		static const char spin[] = "|/-\\";

		fprintf(stderr, "\r%-9s %c %" PRIu64 " %ld:%02ld%30s", p->phase, spin[secs % 4],
			p->done, secs / 60, secs % 60, "");
	}
	b->drawn = 1;
	return 0;
}

/* Routes ctx's progress to the bar and ^C to cancellation. */
static void bar_start(struct bar *b, struct uml_ctx *ctx, int quiet)
{
	struct sigaction sa = { .sa_handler = bar_on_signal };

	b->tty = isatty(STDERR_FILENO);
	b->quiet = quiet;
	b->start = time(NULL);
	uml_ctx_set_progress_fn(ctx, bar_progress, b);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Clears the bar's line. */
static void bar_end(struct bar *b)
{
	if (b->drawn)
		fprintf(stderr, "\r%78s\r", "");
	b->drawn = 0;
}

#endif

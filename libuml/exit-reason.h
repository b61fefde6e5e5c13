/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Exit reasons: the table in exit-reason.c. */
#ifndef LIBUML_EXIT_REASON_H
#define LIBUML_EXIT_REASON_H

#include <stdbool.h>
#include <stddef.h>

#include "uml/libuml.h"

/* the row's console line only refines a clean exit (status 0) */
#define UML_EXIT_ROW_CLEAN_ONLY (1u << 0)
/* the row's console line ends the guest's life (the kernel re-execs itself) */
#define UML_EXIT_ROW_ENDS_GUEST (1u << 1)

/* The reason a console line names (the highest-ranked match), or UML_EXIT_NONE. */
enum uml_exit_reason uml_exit_reason_of_line(const char *line, size_t len);
/* How much a line naming reason says about the end (0: nothing). */
int uml_exit_reason_rank(enum uml_exit_reason reason);
unsigned uml_exit_reason_flags(enum uml_exit_reason reason);

/* What is known when the kernel process has ended. */
struct uml_exit_evidence {
	bool timed_out;			/* we killed it at its deadline */
	enum uml_exit_reason line_reason;	/* the most telling console line */
	bool panicked;			/* the kernel reported a panic */
	bool by_signal;			/* the process died by a signal */
	int status;			/* else its exit status */
	bool kernel_up;			/* the kernel reported it was up */
	bool halt_acked;		/* the kernel accepted a halt over mconsole */
};
enum uml_exit_reason uml_exit_reason_decide(const struct uml_exit_evidence *ev);

#endif

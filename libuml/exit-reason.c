/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How a guest ended: one table row per exit reason, with its name, the
 * console lines that name it and how much such a line says.  UML reports
 * some ends only in text; the texts are the kernel's own (init/main.c,
 * init/do_mounts.c, kernel/panic.c, kernel/reboot.c, arch/um/os-Linux/skas).
 * To add a reason: a value in enum uml_exit_reason (libuml.h), a row here.
 */
#include "config.h"

#include "exit-reason.h"
#include "util.h"

#define MAX_LINES 4

static const struct exit_reason_row {
	const char *name;
	/*
	 * A line of a higher rank says more about the end: a named failure
	 * beats the panic it causes, which beats the reboot line before it.
	 */
	int rank;
	unsigned flags;
	const char *lines[MAX_LINES];
} rows[] = {
	[UML_EXIT_NONE] = { "none", 0, 0, { NULL } },
	[UML_EXIT_POWEROFF] = { "poweroff", 2, UML_EXIT_ROW_CLEAN_ONLY, { "reboot: Power down" } },
	[UML_EXIT_HALT] = { "halt", 2, UML_EXIT_ROW_CLEAN_ONLY, { "reboot: System halted" } },
	/* UML reboots by exec'ing itself: the guest's life ends at that line */
	[UML_EXIT_REBOOT] = { "reboot", 2, UML_EXIT_ROW_ENDS_GUEST, { "reboot: Restarting system" } },
	[UML_EXIT_PANIC] = { "panic", 3, 0, { "Kernel panic - not syncing" } },
	[UML_EXIT_KILLED] = { "killed", 0, 0, { NULL } },
	[UML_EXIT_TIMEOUT] = { "timeout", 0, 0, { NULL } },
	[UML_EXIT_FAILED_TO_START] = { "failed-to-start", 0, 0, { NULL } },
	[UML_EXIT_HOST_INCOMPATIBLE] = { "host-incompatible", 5, 0, { "ptrace set fp regs failed" } },
	[UML_EXIT_NO_INIT] = { "no-init", 4, 0,
		{ "No working init found", "No init found", "Requested init" } },
	[UML_EXIT_NO_ROOT] = { "no-root", 4, 0,
		{ "VFS: Unable to mount root fs", "VFS: Cannot open root device",
		  "Waiting for root device", "waiting for /dev/root" } },
	[UML_EXIT_NO_CONSOLE] = { "no-console", 4, 0,
		{ "Failed to open console", "unable to open an initial console" } },
	[UML_EXIT_OUT_OF_MEMORY] = { "out-of-memory", 4, 0,
		{ "Out of memory and no killable processes", "System is deadlocked on memory" } },
	[UML_EXIT_CRASHED] = { "crashed", 0, 0, { NULL } },
};

UML_EXPORT const char *uml_exit_reason_to_string(enum uml_exit_reason reason)
{
	if ((unsigned)reason >= ARRAY_SIZE(rows))
		return NULL;
	return rows[reason].name;
}

enum uml_exit_reason uml_exit_reason_of_line(const char *line, size_t len)
{
	enum uml_exit_reason best = UML_EXIT_NONE;

	for (size_t r = 0; r < ARRAY_SIZE(rows); r++)
		for (size_t i = 0; i < MAX_LINES && rows[r].lines[i]; i++)
			if (rows[r].rank > rows[best].rank &&
			    memmem(line, len, rows[r].lines[i], strlen(rows[r].lines[i])))
				best = (enum uml_exit_reason)r;
	return best;
}

int uml_exit_reason_rank(enum uml_exit_reason reason)
{
	return (unsigned)reason < ARRAY_SIZE(rows) ? rows[reason].rank : 0;
}

unsigned uml_exit_reason_flags(enum uml_exit_reason reason)
{
	return (unsigned)reason < ARRAY_SIZE(rows) ? rows[reason].flags : 0;
}

enum uml_exit_reason uml_exit_reason_decide(const struct uml_exit_evidence *ev)
{
	if (ev->timed_out)
		return UML_EXIT_TIMEOUT;
	/*
	 * Halted at our request: how its process then went does not change
	 * that (UML's own teardown can crash, e.g. "Segfault with no mm").
	 */
	if (ev->halt_acked)
		return UML_EXIT_HALT;
	/* what the console named, unless it only refines a clean exit */
	if (ev->line_reason != UML_EXIT_NONE &&
	    !(uml_exit_reason_flags(ev->line_reason) & UML_EXIT_ROW_CLEAN_ONLY))
		return ev->line_reason;
	if (ev->panicked)
		return UML_EXIT_PANIC;
	if (ev->by_signal)
		return UML_EXIT_KILLED;
	if (ev->status == 0)
		return ev->line_reason == UML_EXIT_POWEROFF ? UML_EXIT_POWEROFF : UML_EXIT_HALT;
	return ev->kernel_up ? UML_EXIT_CRASHED : UML_EXIT_FAILED_TO_START;
}

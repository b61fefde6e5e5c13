/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What console lines mean.  UML reports how a guest ends only in text, so
 * the exit reasons come from here; the texts are the kernel's own (init/main.c,
 * init/do_mounts.c, kernel/panic.c, kernel/reboot.c, arch/um/os-Linux/skas).
 */
#include "config.h"

#include "libuml-private.h"

static const struct {
	const char *text;
	enum uml_console_class class;
} patterns[] = {
	/* most specific first: a named failure beats the panic it causes */
	{ "ptrace set fp regs failed", UML_CONSOLE_FP_REGS },
	{ "No working init found", UML_CONSOLE_NO_INIT },
	{ "No init found", UML_CONSOLE_NO_INIT },
	{ "Requested init", UML_CONSOLE_NO_INIT },
	{ "VFS: Unable to mount root fs", UML_CONSOLE_NO_ROOT },
	{ "VFS: Cannot open root device", UML_CONSOLE_NO_ROOT },
	{ "Waiting for root device", UML_CONSOLE_NO_ROOT },
	{ "waiting for /dev/root", UML_CONSOLE_NO_ROOT },
	{ "Failed to open console", UML_CONSOLE_NO_CONSOLE },
	{ "unable to open an initial console", UML_CONSOLE_NO_CONSOLE },
	{ "Out of memory and no killable processes", UML_CONSOLE_OOM },
	{ "System is deadlocked on memory", UML_CONSOLE_OOM },
	{ "Kernel panic - not syncing", UML_CONSOLE_PANIC },
	{ "reboot: Power down", UML_CONSOLE_POWEROFF },
	{ "reboot: System halted", UML_CONSOLE_HALT },
	{ "reboot: Restarting system", UML_CONSOLE_REBOOT },
};

enum uml_console_class uml_console_classify(const char *line, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(patterns); i++)
		if (memmem(line, len, patterns[i].text, strlen(patterns[i].text)))
			return patterns[i].class;
	return UML_CONSOLE_PLAIN;
}

/*
 * Ranks classes by how much they say about the end of a guest, so the
 * most telling line seen decides the exit reason.
 */
int uml_console_class_rank(enum uml_console_class c)
{
	switch (c) {
	case UML_CONSOLE_FP_REGS:
		return 5;
	case UML_CONSOLE_NO_INIT:
	case UML_CONSOLE_NO_ROOT:
	case UML_CONSOLE_NO_CONSOLE:
	case UML_CONSOLE_OOM:
		return 4;
	case UML_CONSOLE_PANIC:
		return 3;
	case UML_CONSOLE_POWEROFF:
	case UML_CONSOLE_HALT:
	case UML_CONSOLE_REBOOT:
		return 2;
	case UML_CONSOLE_PLAIN:
		break;
	}
	return 0;
}

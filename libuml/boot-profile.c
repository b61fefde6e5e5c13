/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Boot profiles: kernel arguments that skip boot work no libuml guest
 * needs, chosen from what the kernel has (its --showconfig, probed once per
 * uml_kernel).  One table, one row per cut; docs/boot-profile.md lists the
 * same rows with how each was checked.  Kernels libuml builds lack these
 * options in the first place (presets/fast.config).
 *
 * The instance writes the profile's arguments after its own and before
 * the parts' and the caller's, so a caller's value for the same parameter
 * wins; initcall_blacklist= entries add up, so only
 * uml_instance_set_boot_profile(inst, 0) brings those initcalls back.
 */
#include "config.h"

#include "instance-internal.h"

#define BLACKLIST "initcall_blacklist="

struct cut {
	const char *config;	/* the cut applies when CONFIG_<config> is y or m */
	const char *arg;	/* a kernel argument, or BLACKLIST + one initcall */
	const char *why;	/* what it skips and why no libuml guest misses it */
};

static const struct cut cuts[] = {
	{ "RAID6_PQ_BENCHMARK", BLACKLIST "raid6_select_algo",
	  "times six RAID6 syndrome algorithms at boot (~850 ms on Debian's 6.1); only md "
	  "RAID4/5/6 and btrfs RAID5/6 use the choice, and libuml guests have one disk per "
	  "filesystem" },
	{ "LEGACY_PTYS", "pty.legacy_count=0",
	  "registers 512 BSD pty devices, each a uevent that spawns the kernel's uevent helper "
	  "(a host process each); guests use /dev/ptmx and devpts" },
};

UML_EXPORT int uml_instance_set_boot_profile(struct uml_instance *inst, int enable)
{
	if (!inst)
		return -EINVAL;
	if (inst->state != UML_STATE_CONFIGURING)
		return ifail(inst, -EBUSY, "cannot set the boot profile for guest '%s': it was "
			     "booted already", inst->umid);
	inst->no_boot_profile = !enable;
	return 0;
}

/* Did the caller pass this parameter (the text up to and with '=')? */
static bool caller_sets(struct uml_instance *inst, const char *arg)
{
	size_t len = strcspn(arg, "=") + 1;

	for (size_t i = 0; i < inst->args.n; i++)
		if (strncmp(inst->args.v[i], arg, len) == 0)
			return true;
	return false;
}

int uml_boot_profile_args(struct uml_instance *inst, struct uml_strv *argv)
{
	struct uml_buf blacklist = { 0 };
	int r = 0;

	if (inst->no_boot_profile)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(cuts) && r == 0; i++) {
		const struct cut *c = &cuts[i];
		int on = uml_kernel_config_enabled(inst->kernel, c->config);

		if (on < 0) {
			/* no embedded configuration: boot without the profile */
			uml_dbg(inst->ctx, "guest %s: no boot profile: %s", inst->umid,
				uml_kernel_last_error(inst->kernel));
			break;
		}
		if (!on)
			continue;
		if (strncmp(c->arg, BLACKLIST, strlen(BLACKLIST)) == 0) {
			const char *fn = c->arg + strlen(BLACKLIST);

			r = uml_buf_append(&blacklist, blacklist.len ? "," : BLACKLIST,
					   blacklist.len ? 1 : strlen(BLACKLIST));
			if (r == 0)
				r = uml_buf_append(&blacklist, fn, strlen(fn));
		} else if (!caller_sets(inst, c->arg)) {
			r = uml_strv_add(argv, c->arg);
		}
	}
	if (r == 0 && blacklist.len)
		r = uml_strv_add(argv, blacklist.data);
	uml_buf_free(&blacklist);
	return r < 0 ? -ENOMEM : 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The exec channel: frames from the guest's agent, which runs in the guest
 * and may be replaced by anything.  The input is what the agent sends;
 * its first byte says whether a command of ours is in flight.
 */
#include "config.h"

#include "exec-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ud, int prio, const char *msg)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct uml_ctx *ctx;
	static struct uml_kernel *kernel;
	struct uml_instance *inst;

	if (size < 1)
		return 0;
	if (!ctx) {
		if (uml_ctx_new(&ctx) < 0)
			abort();
		uml_ctx_set_log_fn(ctx, quiet, NULL);
		if (uml_kernel_new_default(ctx, &kernel) < 0)
			abort();
	}
	if (uml_instance_new(kernel, &inst) < 0 || uml_instance_enable_exec(inst) < 0)
		abort();
	/* in two pieces, as reads split frames anywhere */
	size_t half = (size - 1) / 2;
	if (uml_instance_exec_feed(inst, data + 1, half, data[0] & 1) == 0)
		uml_instance_exec_feed(inst, data + 1 + half, size - 1 - half, data[0] & 2);
	uml_instance_unref(inst);
	return 0;
}

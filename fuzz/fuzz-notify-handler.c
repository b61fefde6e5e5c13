/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The instance's handling of notify datagrams: anything in a guest that
 * writes /proc/mconsole sends them, and the socket takes any bytes.  The
 * input is a sequence of datagrams, each led by a length byte.
 */
#include "config.h"

#include "instance-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ud, int prio, const char *msg)
{
}

static void on_event(void *ud, struct uml_instance *inst, const struct uml_event *ev)
{
	/* what an event hands out lies inside what was sent, text ends in a NUL */
	if (ev->text[ev->len] != '\0' && ev->type != UML_EVENT_NOTIFY)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct uml_ctx *ctx;
	static struct uml_kernel *kernel;
	struct uml_instance *inst;

	if (!ctx) {
		if (uml_ctx_new(&ctx) < 0)
			abort();
		uml_ctx_set_log_fn(ctx, quiet, NULL);
		if (uml_kernel_new_default(ctx, &kernel) < 0)
			abort();
	}
	if (uml_instance_new(kernel, &inst) < 0)
		abort();
	uml_instance_set_event_fn(inst, on_event, NULL);
	while (size > 0) {
		size_t n = data[0] < size - 1 ? data[0] : size - 1;

		uml_instance_take_notify(inst, data + 1, n);
		data += 1 + n;
		size -= 1 + n;
	}
	/* a panic message is a C string of what was sent */
	if (uml_instance_get_panic_message(inst))
		(void)strlen(uml_instance_get_panic_message(inst));
	uml_instance_unref(inst);
	return 0;
}

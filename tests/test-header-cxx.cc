// SPDX-License-Identifier: LGPL-2.1-or-later
// The public header compiles alone in C++ and links with C linkage.
#include <uml/libuml.h>

int main()
{
	struct uml_ctx *ctx = nullptr;
	int r = uml_ctx_new(&ctx);

	uml_ctx_unref(ctx);
	return r == 0 && uml_exit_reason_to_string(UML_EXIT_PANIC) ? 0 : 1;
}

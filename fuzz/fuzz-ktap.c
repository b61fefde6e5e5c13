/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KTAP comes from the guest's console: any bytes.  The parser is fed the
 * input in pieces whose sizes the first byte picks, then the tree is
 * written as JSON and JUnit; the JSON must read back into a tree that
 * writes the same JSON.  The input is also read as a results JSON.
 */
#include "config.h"

#include "ktap-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct uml_ctx *ctx;
	struct uml_ktap *k, *back;
	size_t chunk = size ? (size_t)data[0] % 17 + 1 : 1;
	char *json = NULL, *json2 = NULL, *junit = NULL, *text;

	if (uml_ctx_new(&ctx) < 0)
		return 0;
	uml_ctx_set_log_priority(ctx, 0);
	if (uml_ktap_new(ctx, &k) < 0)
		goto out;
	for (size_t off = 0; off < size; off += chunk)
		if (uml_ktap_feed(k, data + off, size - off < chunk ? size - off : chunk) < 0)
			__builtin_trap();
	if (uml_ktap_finish(k) < 0 || !uml_ktap_get_root(k))
		__builtin_trap();
	if (uml_ktap_get_json(k, "um", NULL, NULL, &json) < 0 ||
	    uml_ktap_get_junit(k, NULL, &junit) < 0)
		__builtin_trap();
	if (uml_ktap_new(ctx, &back) == 0) {
		/* what we write we read, unless the bounds cut the tree */
		if (uml_ktap_load_json(back, json) < 0 ||
		    uml_ktap_get_json(back, "um", NULL, NULL, &json2) < 0)
			__builtin_trap();
		uml_ktap_unref(back);
	}
	uml_ktap_unref(k);

	/* the input as a results file */
	text = strndup((const char *)data, size);
	if (text && uml_ktap_new(ctx, &back) == 0) {
		(void)uml_ktap_load_json(back, text);
		uml_ktap_unref(back);
	}
	free(text);
out:
	free(json);
	free(json2);
	free(junit);
	uml_ctx_unref(ctx);
	return 0;
}

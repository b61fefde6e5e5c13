/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * QEMU's port forward syntax, for uml-run --net nat,hostfwd=... and
 * uml-ctl UMID hostfwd ...:
 *
 *   [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT    (add)
 *   [tcp|udp]:[HOSTADDR]:HOSTPORT                          (remove)
 *
 * HOSTADDR is numeric, IPv6 in brackets ("[::1]"), empty for 127.0.0.1;
 * GUESTADDR may only be empty or the NAT interface's 10.0.2.15 (libuml
 * forwards to the interface's address).
 */
#ifndef UML_EXAMPLES_HOSTFWD_H
#define UML_EXAMPLES_HOSTFWD_H

#include <stdlib.h>
#include <string.h>

#include <uml/libuml.h>

struct hostfwd {
	enum uml_fwd_proto proto;
	char host[64];		/* "" for the default */
	unsigned host_port, guest_port;
};

static int hostfwd_port(const char *s, size_t len, unsigned *ret)
{
	char buf[8], *end;
	unsigned long v;

	if (len == 0 || len >= sizeof(buf) || s[0] == '-' || s[0] == '+')
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = strtoul(buf, &end, 10);
	if (*end || v > 65535)
		return -1;
	*ret = (unsigned)v;
	return 0;
}

/* Parses spec; with_guest: the "-[GUESTADDR]:GUESTPORT" part is required, else refused. */
static int hostfwd_parse(const char *spec, int with_guest, struct hostfwd *f)
{
	const char *p = spec, *colon, *dash, *end;

	memset(f, 0, sizeof(*f));
	f->proto = UML_FWD_TCP;
	if (strncmp(p, "tcp:", 4) == 0) {
		p += 4;
	} else if (strncmp(p, "udp:", 4) == 0) {
		f->proto = UML_FWD_UDP;
		p += 4;
	} else if (*p == ':') {
		p++;
	}
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end || end[1] != ':' || (size_t)(end - p - 1) >= sizeof(f->host))
			return -1;
		memcpy(f->host, p + 1, (size_t)(end - p - 1));
		colon = end + 1;
	} else {
		colon = strchr(p, ':');
		if (!colon || (size_t)(colon - p) >= sizeof(f->host))
			return -1;
		memcpy(f->host, p, (size_t)(colon - p));
	}
	p = colon + 1;
	dash = strchr(p, '-');
	if (hostfwd_port(p, dash ? (size_t)(dash - p) : strlen(p), &f->host_port) < 0)
		return -1;
	if (!with_guest)
		return dash ? -1 : 0;
	if (!dash)
		return -1;
	p = dash + 1;
	colon = strrchr(p, ':');
	if (!colon || (colon != p && strncmp(p, "10.0.2.15:", 10) != 0))
		return -1;
	if (hostfwd_port(colon + 1, strlen(colon + 1), &f->guest_port) < 0 || f->guest_port == 0)
		return -1;
	return 0;
}

#endif

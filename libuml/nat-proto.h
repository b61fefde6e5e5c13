/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The control protocol between libuml (net-nat.c) and its NAT helper
 * (helper/uml-nat.c).  Both include this header; nothing else of libuml
 * is linked into the helper.
 *
 * Messages are text, one per SOCK_SEQPACKET record, words separated by
 * single spaces.  Every request gets exactly one reply:
 *   "ok[ WORDS]"  or  "err ERRNO MESSAGE"  (ERRNO positive).
 *
 * Requests:
 *   hostfwd-add PROTO HADDR HPORT GADDR GPORT   -> ok HPORT (the bound port)
 *   hostfwd-remove PROTO HADDR HPORT            -> ok
 *   guestfwd-add GADDR GPORT tcp HADDR HPORT    -> ok
 *   guestfwd-add GADDR GPORT unix PATH          -> ok (before start only)
 *   list                                        -> ok, then one line each:
 *       "hostfwd PROTO HADDR HPORT GADDR GPORT"
 *       "guestfwd GADDR GPORT tcp HADDR HPORT" / "guestfwd GADDR GPORT unix PATH"
 *   start                                       -> ok (sandboxed; libuml's socket only)
 * PROTO is tcp or udp; addresses are numeric (IPv4, or IPv6 for HADDR); GADDR
 * "guest" is the guest address the helper was started with (--guest-addr).
 */
#ifndef LIBUML_NAT_PROTO_H
#define LIBUML_NAT_PROTO_H

#define NAT_MSG_MAX 16384		/* a request or a reply, "list" included */
#define NAT_MAX_HOSTFWDS 128
#define NAT_MAX_GUESTFWDS 32

/* slirp's network, as QEMU's user networking has it */
#define NAT_NETWORK "10.0.2.0"
#define NAT_NETMASK "255.255.255.0"
#define NAT_HOST "10.0.2.2"
#define NAT_DNS "10.0.2.3"
#define NAT_GUEST "10.0.2.15"
#define NAT_PREFIX6 "fec0::"
#define NAT_HOST6 "fec0::2"
#define NAT_DNS6 "fec0::3"

#define NAT_DEFAULT_MEMORY_LIMIT (64ull << 20)

#endif

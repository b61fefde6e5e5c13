/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uml-mkrootfs - make a root filesystem image for User Mode Linux: a
 * busybox guest, a Debian guest (debootstrap), or one from a directory;
 * configure it (host name, network, login) and inject files; optionally
 * put a COW overlay on top.  Prints the path of the result.
 */
#include <errno.h>
#include <popt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <uml/libuml.h>

#include "tool.h"

/* "512M", "2G", "1048576": bytes, or 0 when malformed. */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return 0;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	case 'T': case 't': v <<= 40; end++; break;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B')
		end++;
	return *end ? 0 : v;
}

static int parse_init(const char *s, enum uml_init_system *ret)
{
	for (int i = UML_INIT_SYSTEMD; i <= UML_INIT_BUSYBOX; i++)
		if (strcmp(s, uml_init_system_to_string((enum uml_init_system)i)) == 0) {
			*ret = (enum uml_init_system)i;
			return 0;
		}
	return -EINVAL;
}

/* A growable list of option values. */
struct list {
	char **v;
	size_t n;
};

static int list_add(struct list *l, char *s)
{
	char **g = realloc(l->v, (l->n + 1) * sizeof(*g));

	if (!g)
		return -ENOMEM;
	l->v = g;
	l->v[l->n++] = s;
	return 0;
}

int main(int argc, const char **argv)
{
	char *debootstrap = NULL, *mirror = NULL, *arch = NULL, *variant = NULL, *include = NULL;
	char *from = NULL, *size = NULL, *fs = NULL, *hostname = NULL, *net = NULL;
	char *root_password = NULL, *init = NULL, *inject = NULL, *cow = NULL, *out = NULL;
	char *cache_dir = NULL, *busybox_path = NULL;
	int busybox = 0, autologin = 0, no_password = 0, overwrite = 0, refresh = 0;
	int no_configure = 0, quiet = 0, verbose = 0, rc;
	enum { OPT_INCLUDE = 1, OPT_INJECT };
	struct poptOption options[] = {
		{ "busybox", 0, POPT_ARG_NONE, &busybox, 0,
		  "a minimal busybox guest (busybox-static)", NULL },
		{ "busybox-binary", 0, POPT_ARG_STRING, &busybox_path, 0,
		  "the static busybox to use (default /bin/busybox)", "PATH" },
		{ "debootstrap", 0, POPT_ARG_STRING, &debootstrap, 0,
		  "a Debian guest of SUITE (needs root)", "SUITE" },
		{ "mirror", 0, POPT_ARG_STRING, &mirror, 0,
		  "Debian mirror (default: the one apt uses)", "URL" },
		{ "arch", 0, POPT_ARG_STRING, &arch, 0, "Debian architecture (default: the host's)",
		  "ARCH" },
		{ "variant", 0, POPT_ARG_STRING, &variant, 0, "debootstrap variant: minbase, buildd",
		  "NAME" },
		{ "include", 0, POPT_ARG_STRING, &include, OPT_INCLUDE,
		  "extra packages, comma-separated (repeatable)", "PKG,..." },
		{ "cache-dir", 0, POPT_ARG_STRING, &cache_dir, 0,
		  "package cache (default ~/.cache/libuml)", "DIR" },
		{ "refresh", 0, POPT_ARG_NONE, &refresh, 0,
		  "download and install the packages again even if cached", NULL },
		{ "from", 0, POPT_ARG_STRING, &from, 0, "the image's contents from a directory", "DIR" },
		{ "size", 0, POPT_ARG_STRING, &size, 0,
		  "image size, e.g. 512M or 2G (default 64M; Debian: fitted)", "SIZE" },
		{ "fs", 0, POPT_ARG_STRING, &fs, 0, "ext2, ext3 or ext4 (default ext4)", "TYPE" },
		{ "hostname", 0, POPT_ARG_STRING, &hostname, 0, "the guest's host name", "NAME" },
		{ "net", 0, POPT_ARG_STRING, &net, 0,
		  "eth0: dhcp, none or static:ADDR/PREFIX[,GW[,DNS]]", "SPEC" },
		{ "root-password", 0, POPT_ARG_STRING, &root_password, 0,
		  "root's password (\"-\": read a line from stdin)", "PW" },
		{ "no-root-password", 0, POPT_ARG_NONE, &no_password, 0,
		  "root logs in without a password", NULL },
		{ "autologin", 0, POPT_ARG_NONE, &autologin, 0,
		  "log root in on the console automatically", NULL },
		{ "init", 0, POPT_ARG_STRING, &init, 0,
		  "boot with this installed init: systemd, sysvinit, busybox", "NAME" },
		{ "inject", 0, POPT_ARG_STRING, &inject, OPT_INJECT,
		  "copy a host file or tree into the image (repeatable)", "SRC:DST" },
		{ "no-configure", 0, POPT_ARG_NONE, &no_configure, 0,
		  "leave the image as built (no fstab, getty ... fixups)", NULL },
		{ "cow", 0, POPT_ARG_STRING, &cow, 0,
		  "the image is BACKING; OUT becomes a COW overlay over it", "BACKING" },
		{ "output", 'o', POPT_ARG_STRING, &out, 0, "the image (or overlay) to write", "OUT" },
		{ "force", 'f', POPT_ARG_NONE, &overwrite, 0, "replace an existing image", NULL },
		{ "quiet", 'q', POPT_ARG_NONE, &quiet, 0, "no progress bar", NULL },
		{ "verbose", 'v', POPT_ARG_NONE, &verbose, 0, "log what is done", NULL },
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	poptContext pc = poptGetContext("uml-mkrootfs", argc, argv, options, 0);
	struct list includes = { 0 }, injects = { 0 };
	struct uml_ctx *ctx = NULL;
	struct uml_rootfs *rootfs = NULL, *overlay = NULL;
	enum uml_init_system init_sys = UML_INIT_UNKNOWN;
	const char *image;
	struct bar bar = { 0 };
	char pwbuf[512];
	uint64_t bytes = 0;
	unsigned cflags;
	int sources;
	bool configure;

	while ((rc = poptGetNextOpt(pc)) > 0)
		if (list_add(rc == OPT_INCLUDE ? &includes : &injects,
			     rc == OPT_INCLUDE ? include : inject) < 0)
			return EXIT_FAIL;
	if (rc < -1) {
		usage_bad_option(pc, rc);
		return EXIT_USAGE;
	}
	rc = EXIT_USAGE;
	sources = !!busybox + !!debootstrap + !!from;
	if (poptPeekArg(pc)) {
		usage_error(pc, "unexpected argument");
		goto out;
	}
	if (!out) {
		usage_error(pc, "-o OUT is required");
		goto out;
	}
	if (sources > 1) {
		usage_error(pc, "--busybox, --debootstrap and --from exclude each other");
		goto out;
	}
	if ((mirror || arch || variant || includes.n || refresh) && !debootstrap) {
		usage_error(pc, "--mirror, --arch, --variant, --include and --refresh go with "
			    "--debootstrap");
		goto out;
	}
	if (size && !(bytes = parse_size(size))) {
		usage_error(pc, "--size takes a number with an optional K, M, G or T suffix");
		goto out;
	}
	if (fs && strcmp(fs, "ext4") && strcmp(fs, "ext3") && strcmp(fs, "ext2")) {
		usage_error(pc, "--fs takes ext2, ext3 or ext4");
		goto out;
	}
	if (init && parse_init(init, &init_sys) < 0) {
		usage_error(pc, "--init takes systemd, sysvinit or busybox");
		goto out;
	}
	if (root_password && no_password) {
		usage_error(pc, "--root-password and --no-root-password exclude each other");
		goto out;
	}
	if (root_password && strcmp(root_password, "-") == 0) {
		if (!fgets(pwbuf, sizeof(pwbuf), stdin)) {
			usage_error(pc, "--root-password -: nothing on stdin");
			goto out;
		}
		pwbuf[strcspn(pwbuf, "\r\n")] = '\0';
		root_password = pwbuf;
	}
	for (size_t i = 0; i < injects.n; i++) {
		char *colon = strrchr(injects.v[i], ':');

		if (!colon || colon == injects.v[i] || colon[1] != '/') {
			usage_error(pc, "--inject takes SRC:DST with an absolute DST");
			goto out;
		}
	}

	rc = EXIT_FAIL;
	if (uml_ctx_new(&ctx) < 0)
		goto out;
	if (verbose)
		uml_ctx_set_log_priority(ctx, LOG_INFO);
	/* with --cow the image is BACKING and OUT the overlay */
	image = cow ? cow : out;
	if (uml_rootfs_new(ctx, image, &rootfs) < 0)
		goto out;
	rc = EXIT_USAGE;
	if ((bytes && uml_rootfs_set_size(rootfs, bytes) < 0) ||
	    (fs && uml_rootfs_set_fs_type(rootfs, strcmp(fs, "ext4") == 0 ? UML_FS_EXT4 :
						      strcmp(fs, "ext3") == 0 ? UML_FS_EXT3 :
						      UML_FS_EXT2) < 0) ||
	    (mirror && uml_rootfs_set_mirror(rootfs, mirror) < 0) ||
	    (arch && uml_rootfs_set_arch(rootfs, arch) < 0) ||
	    (variant && uml_rootfs_set_variant(rootfs, variant) < 0) ||
	    (cache_dir && uml_rootfs_set_cache_dir(rootfs, cache_dir) < 0) ||
	    (hostname && uml_rootfs_set_hostname(rootfs, hostname) < 0) ||
	    (net && uml_rootfs_set_network(rootfs, net) < 0) ||
	    ((root_password || no_password) &&
	     uml_rootfs_set_root_password(rootfs, no_password ? NULL : root_password) < 0) ||
	    uml_rootfs_set_autologin(rootfs, autologin) < 0 ||
	    uml_rootfs_set_init(rootfs, init_sys) < 0)
		goto out;
	for (size_t i = 0; i < includes.n; i++)
		for (char *save = NULL, *p = strtok_r(includes.v[i], ",", &save); p;
		     p = strtok_r(NULL, ",", &save))
			if (uml_rootfs_add_package(rootfs, p) < 0)
				goto out;

	rc = EXIT_FAIL;
	bar_start(&bar, ctx, quiet);
	cflags = overwrite ? UML_ROOTFS_CREATE_OVERWRITE : 0;
	/* a built busybox or Debian guest gets configured; an existing image when asked to */
	configure = !no_configure && (busybox || debootstrap || hostname || net || root_password ||
				      no_password || autologin || init);
	if (debootstrap) {
		/* configured below, with the other kinds */
		if (uml_rootfs_create_debootstrap(rootfs, debootstrap, cflags |
						  (refresh ? UML_ROOTFS_DEBOOTSTRAP_REFRESH : 0) |
						  UML_ROOTFS_DEBOOTSTRAP_NO_CONFIGURE) < 0)
			goto fail;
	} else if (busybox) {
		if (uml_rootfs_create_busybox(rootfs, busybox_path, cflags) < 0)
			goto fail;
	} else if (from) {
		if (uml_rootfs_create_from_dir(rootfs, from, cflags) < 0)
			goto fail;
	} else if (uml_rootfs_open(rootfs) < 0) {
		/* no source: an existing image, e.g. an old root_fs, is configured */
		goto fail;
	}
	/* injected files come last: they win over the fixups */
	if (configure) {
		enum uml_init_system found = UML_INIT_UNKNOWN;

		if (uml_rootfs_configure(rootfs, 0) < 0)
			goto fail;
		uml_rootfs_get_init_system(rootfs, &found);
		if (!quiet) {
			bar_end(&bar);
			fprintf(stderr, "uml-mkrootfs: configured for %s\n",
				uml_init_system_to_string(found));
		}
	}
	for (size_t i = 0; i < injects.n; i++) {
		char *colon = strrchr(injects.v[i], ':');

		*colon = '\0';
		if (uml_rootfs_copy_in(rootfs, injects.v[i], colon + 1,
				       UML_ROOTFS_COPY_OVERWRITE) < 0)
			goto fail;
	}
	if (cow && uml_rootfs_new_cow(rootfs, out, cflags, &overlay) < 0)
		goto fail;
	bar_end(&bar);
	if (!quiet && debootstrap)
		fprintf(stderr, "uml-mkrootfs: packages %s\n",
			uml_rootfs_debootstrap_was_cached(rootfs) ? "from the cache" : "downloaded");
	printf("%s\n", overlay ? uml_rootfs_get_path(overlay) : uml_rootfs_get_path(rootfs));
	rc = 0;
	goto out;
fail:
	/* the library logged the message already */
	bar_end(&bar);
	rc = EXIT_FAIL;
out:
	if (root_password)
		memset(root_password, 0, strlen(root_password));
	uml_rootfs_unref(overlay);
	uml_rootfs_unref(rootfs);
	uml_ctx_unref(ctx);
	free(includes.v);
	free(injects.v);
	poptFreeContext(pc);
	return rc;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest configuration: the fixups a tree needs to boot under UML (fstab,
 * host name, network, a getty on the console, root password, device
 * nodes, init), written into an existing image through libext2fs.
 *
 * The guest's init system decides the style of each file: systemd gets
 * units and .network files, sysvinit an /etc/inittab line and ifupdown's
 * /etc/network/interfaces, upstart a job in /etc/init, busybox guests an
 * inittab for busybox init with an rcS that brings the network up with
 * busybox ifup.  The init is recognised by what /sbin/init resolves to
 * (the same inode as /lib/systemd/systemd, /bin/busybox ...), so symlinks
 * and hard links are both understood without reading link targets.
 */
#include "config.h"

#include <arpa/inet.h>
#include <crypt.h>

#include "rootfs-internal.h"

#define CONSOLE_MARKER		"login:"

struct cfg {
	struct build b;
	struct uml_rootfs *rootfs;
	struct rootfs_guest *g;
	enum uml_init_system init;
};

/* ---- settings ------------------------------------------------------------------ */

static bool valid_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (!len || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = s[i];

		if (c == '.' || c == '\0') {
			if (!label || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

UML_EXPORT int uml_rootfs_set_hostname(struct uml_rootfs *rootfs, const char *name)
{
	struct rootfs_guest *g;
	char *copy = NULL;

	if (!rootfs)
		return -EINVAL;
	if (name && !valid_hostname(name))
		return rfail(rootfs, -EINVAL, "'%s' is not a valid host name", name);
	g = rootfs_guest(rootfs);
	if (!g || (name && !(copy = strdup(name)))) {
		free(copy);
		return -ENOMEM;
	}
	free(g->hostname);
	g->hostname = copy;
	return 0;
}

/* A parsed network setting. */
struct net {
	enum { NET_NONE, NET_DHCP, NET_STATIC } kind;
	char addr[INET_ADDRSTRLEN];
	unsigned prefix;
	char netmask[INET_ADDRSTRLEN];
	char gateway[INET_ADDRSTRLEN];
	char dns[INET_ADDRSTRLEN];
};

static bool ipv4(const char *s, size_t len, char out[INET_ADDRSTRLEN])
{
	struct in_addr a;

	if (!len || len >= INET_ADDRSTRLEN)
		return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return inet_pton(AF_INET, out, &a) == 1;
}

/* Parses spec; on failure *why says which part is wrong. */
static int parse_net(const char *spec, struct net *n, const char **why)
{
	const char *p, *comma, *slash;
	char num[8];
	struct in_addr m;

	memset(n, 0, sizeof(*n));
	if (strcmp(spec, "none") == 0)
		return 0;
	if (strcmp(spec, "dhcp") == 0) {
		n->kind = NET_DHCP;
		return 0;
	}
	*why = "expected \"none\", \"dhcp\" or \"static:ADDR/PREFIX[,GATEWAY[,DNS]]\"";
	if (strncmp(spec, "static:", 7) != 0)
		return -EINVAL;
	n->kind = NET_STATIC;
	p = spec + 7;
	comma = strchrnul(p, ',');
	slash = memchr(p, '/', (size_t)(comma - p));
	*why = "the address is not an IPv4 address with a /PREFIX";
	if (!slash || !ipv4(p, (size_t)(slash - p), n->addr) || comma - slash - 1 < 1 ||
	    comma - slash - 1 > 2)
		return -EINVAL;
	memcpy(num, slash + 1, (size_t)(comma - slash - 1));
	num[comma - slash - 1] = '\0';
	*why = "the prefix length is not a number from 1 to 32";
	if (strspn(num, "0123456789") != strlen(num) || atoi(num) < 1 || atoi(num) > 32)
		return -EINVAL;
	n->prefix = (unsigned)atoi(num);
	m.s_addr = htonl(n->prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> n->prefix));
	inet_ntop(AF_INET, &m, n->netmask, sizeof(n->netmask));
	if (!*comma)
		return 0;
	p = comma + 1;
	comma = strchrnul(p, ',');
	*why = "the gateway is not an IPv4 address";
	if (!ipv4(p, (size_t)(comma - p), n->gateway))
		return -EINVAL;
	if (!*comma)
		return 0;
	p = comma + 1;
	*why = "the DNS server is not an IPv4 address (one only)";
	if (!ipv4(p, strlen(p), n->dns))
		return -EINVAL;
	return 0;
}

UML_EXPORT int uml_rootfs_set_network(struct uml_rootfs *rootfs, const char *spec)
{
	struct rootfs_guest *g;
	const char *why = "";
	struct net n;
	char *copy = NULL;

	if (!rootfs)
		return -EINVAL;
	if (spec && parse_net(spec, &n, &why) < 0)
		return rfail(rootfs, -EINVAL, "network setting '%s' is invalid: %s", spec, why);
	g = rootfs_guest(rootfs);
	if (!g || (spec && !(copy = strdup(spec)))) {
		free(copy);
		return -ENOMEM;
	}
	free(g->network);
	g->network = copy;
	return 0;
}

UML_EXPORT int uml_rootfs_set_root_password(struct uml_rootfs *rootfs, const char *password)
{
	struct rootfs_guest *g;
	char *copy = NULL;

	if (!rootfs)
		return -EINVAL;
	for (const char *p = password; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return rfail(rootfs, -EINVAL, "the root password for '%s' holds control "
				     "characters", rootfs->path);
	g = rootfs_guest(rootfs);
	if (!g || (password && !(copy = strdup(password)))) {
		free(copy);
		return -ENOMEM;
	}
	if (g->root_password)
		explicit_bzero(g->root_password, strlen(g->root_password));
	free(g->root_password);
	g->root_password = copy;
	g->root_password_set = true;
	return 0;
}

UML_EXPORT int uml_rootfs_set_autologin(struct uml_rootfs *rootfs, int enable)
{
	struct rootfs_guest *g;

	if (!rootfs)
		return -EINVAL;
	g = rootfs_guest(rootfs);
	if (!g)
		return -ENOMEM;
	g->autologin = enable != 0;
	return 0;
}

UML_EXPORT int uml_rootfs_set_init(struct uml_rootfs *rootfs, enum uml_init_system init)
{
	struct rootfs_guest *g;

	if (!rootfs)
		return -EINVAL;
	if (!uml_init_system_to_string(init))
		return rfail(rootfs, -EINVAL, "unknown init system %d for '%s'", (int)init,
			     rootfs->path);
	g = rootfs_guest(rootfs);
	if (!g)
		return -ENOMEM;
	g->init = init;
	return 0;
}

/* ---- small file operations --------------------------------------------------------- */

static bool lookup(ext2_filsys fs, const char *path, bool follow, ext2_ino_t *ino)
{
	errcode_t e = follow ? ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino) :
			       ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino);

	return e == 0;
}

static bool exists(struct cfg *c, const char *path)
{
	mode_t mode;

	return rootfs_edit_mode(&c->b, path, true, &mode) == 0;
}

static int put_file(struct cfg *c, const char *path, mode_t mode, const char *text)
{
	uml_dbg(c->rootfs->ctx, "configure '%s': writing %s", c->rootfs->path, path);
	return rootfs_edit_put(&c->b, path, S_IFREG | mode, text, strlen(text), 0);
}

static int put_link(struct cfg *c, const char *path, const char *target)
{
	uml_dbg(c->rootfs->ctx, "configure '%s': %s -> %s", c->rootfs->path, path, target);
	return rootfs_edit_put(&c->b, path, S_IFLNK | 0777, target, strlen(target), 0);
}

/* mkdir -p inside the image. */
static int ensure_dir(struct cfg *c, const char *path)
{
	char buf[PATH_MAX];
	mode_t mode;
	int r;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; ; p++) {
		char save = *p;

		if (*p != '/' && *p != '\0')
			continue;
		*p = '\0';
		r = rootfs_edit_mode(&c->b, buf, true, &mode);
		if (r == -ENOENT)
			r = rootfs_edit_put(&c->b, buf, S_IFDIR | 0755, NULL, 0, 0);
		else if (r == 0 && !LINUX_S_ISDIR(mode))
			r = rfail(c->rootfs, -ENOTDIR, "'%s' in image '%s' is not a directory", buf,
				  c->rootfs->path);
		*p = save;
		if (r < 0)
			return r;
		if (!save)
			return 0;
	}
}

/* Reads a file of the image; NULL (no error) when it does not exist. */
static int read_text(struct cfg *c, const char *path, char **ret)
{
	*ret = NULL;
	if (!exists(c, path))
		return 0;
	return rootfs_fs_read_file(c->rootfs, c->b.fs, path, ret, NULL);
}

/* Appends the lines of old for which keep() says so, to out. */
static int keep_lines(struct uml_buf *out, const char *old, bool (*keep)(const char *line,
									  size_t len, void *ud),
		      void *ud)
{
	for (const char *l = old; l && *l; ) {
		const char *end = strchrnul(l, '\n');
		size_t len = (size_t)(end - l);

		if (keep(l, len, ud) && (uml_buf_append(out, l, len) < 0 ||
					 uml_buf_append(out, "\n", 1) < 0))
			return -ENOMEM;
		l = *end ? end + 1 : end;
	}
	return 0;
}

/* The n-th (0-based) white-space separated field of a line, copied into buf. */
static const char *field(const char *l, size_t len, unsigned n, char *buf, size_t size)
{
	const char *end = l + len;

	for (unsigned i = 0; ; i++) {
		const char *s;

		while (l < end && (*l == ' ' || *l == '\t'))
			l++;
		s = l;
		while (l < end && *l != ' ' && *l != '\t')
			l++;
		if (s == l)
			return NULL;
		if (i == n) {
			snprintf(buf, size, "%.*s", (int)(l - s), s);
			return buf;
		}
	}
}

/* ---- the fixups ----------------------------------------------------------------------- */

static bool keep_fstab_line(const char *l, size_t len, void *ud)
{
	char mp[256];

	if (len >= 14 && memcmp(l, "# UNCONFIGURED", 14) == 0)
		return false;
	/* ours replace the root and /proc lines */
	return !(l[0] != '#' && field(l, len, 1, mp, sizeof(mp)) &&
		 (strcmp(mp, "/") == 0 || strcmp(mp, "/proc") == 0));
}

static int write_fstab(struct cfg *c)
{
	struct uml_buf out = { 0 };
	const char *type = ext2fs_has_feature_extents(c->b.fs->super) ? "ext4" :
			   ext2fs_has_feature_journal(c->b.fs->super) ? "ext3" : "ext2";
	char *old, head[256];
	int r = read_text(c, "/etc/fstab", &old);

	if (r < 0)
		return r;
	snprintf(head, sizeof(head), "# <file system> <mount point> <type> <options> <dump> <pass>\n"
		 "/dev/ubda\t/\t%s\tdefaults\t0\t1\nproc\t/proc\tproc\tdefaults\t0\t0\n", type);
	r = uml_buf_append(&out, head, strlen(head));
	if (r == 0 && old) {
		/* the old header comment goes with the old root line */
		r = keep_lines(&out, old, keep_fstab_line, NULL);
	}
	if (r == 0)
		r = put_file(c, "/etc/fstab", 0644, out.data);
	free(old);
	uml_buf_free(&out);
	return r;
}

static bool keep_hosts_line(const char *l, size_t len, void *ud)
{
	char a[64];

	return !(field(l, len, 0, a, sizeof(a)) && strcmp(a, "127.0.1.1") == 0);
}

static int write_hostname(struct cfg *c)
{
	struct uml_buf out = { 0 };
	char *old, line[300];
	int r;

	if (!c->g->hostname)
		return 0;
	snprintf(line, sizeof(line), "%s\n", c->g->hostname);
	r = put_file(c, "/etc/hostname", 0644, line);
	if (r < 0)
		return r;
	r = read_text(c, "/etc/hosts", &old);
	if (r < 0)
		return r;
	if (!old || !strstr(old, "localhost"))
		r = uml_buf_append(&out, "127.0.0.1\tlocalhost\n", 20);
	if (r == 0 && old)
		r = keep_lines(&out, old, keep_hosts_line, NULL);
	snprintf(line, sizeof(line), "127.0.1.1\t%s\n", c->g->hostname);
	if (r == 0)
		r = uml_buf_append(&out, line, strlen(line));
	if (r == 0)
		r = put_file(c, "/etc/hosts", 0644, out.data);
	free(old);
	uml_buf_free(&out);
	return r;
}

/* The systemd unit directory of the image (merged /usr or not). */
static const char *unit_dir(struct cfg *c)
{
	return exists(c, "/lib/systemd/system") ? "/lib/systemd/system" : "/usr/lib/systemd/system";
}

/* Enables unit for target by the symlink systemctl enable would make. */
static int enable_unit(struct cfg *c, const char *target, const char *unit)
{
	char dir[256], link[PATH_MAX], dest[PATH_MAX];
	int r;

	snprintf(dir, sizeof(dir), "/etc/systemd/system/%s.target.wants", target);
	snprintf(link, sizeof(link), "%s/%s", dir, unit);
	snprintf(dest, sizeof(dest), "%s/%s", unit_dir(c), unit);
	if (!exists(c, dest))
		return rfail(c->rootfs, -ENOENT, "cannot enable %s in '%s': %s is not in the image",
			     unit, c->rootfs->path, dest);
	r = ensure_dir(c, dir);
	return r < 0 ? r : put_link(c, link, dest);
}

static int write_resolv(struct cfg *c, const struct net *n)
{
	char text[64];

	if (!n->dns[0])
		return 0;
	snprintf(text, sizeof(text), "nameserver %s\n", n->dns);
	/* a symlink into /run (resolved) would be replaced: fine, it is ours now */
	return put_file(c, "/etc/resolv.conf", 0644, text);
}

static int write_interfaces(struct cfg *c, const struct net *n)
{
	char text[1024];
	size_t l;
	int r;

	l = (size_t)snprintf(text, sizeof(text),
			     "# written by libuml\nauto lo\niface lo inet loopback\n");
	/* the guest's first interface: eth0 (switch, tap) or vec0 (NAT, link) */
	for (int i = 0; i < 2; i++) {
		const char *dev = i ? "vec0" : "eth0";

		if (n->kind == NET_DHCP)
			l += (size_t)snprintf(text + l, sizeof(text) - l,
					      "\nauto %s\niface %s inet dhcp\n", dev, dev);
		else if (n->kind == NET_STATIC)
			l += (size_t)snprintf(text + l, sizeof(text) - l,
					      "\nauto %s\niface %s inet static\n\taddress %s\n"
					      "\tnetmask %s\n%s%s%s", dev, dev, n->addr, n->netmask,
					      n->gateway[0] ? "\tgateway " : "", n->gateway,
					      n->gateway[0] ? "\n" : "");
	}
	r = ensure_dir(c, "/etc/network");
	if (r == 0)
		r = put_file(c, "/etc/network/interfaces", 0644, text);
	return r;
}

static int write_networkd(struct cfg *c, const struct net *n)
{
	const char *path = "/etc/systemd/network/80-libuml-eth0.network";
	char text[512];
	mode_t mode;
	int r = ensure_dir(c, "/etc/systemd/network");

	if (r < 0)
		return r;
	if (n->kind == NET_NONE) {
		/* loopback is systemd's own; drop an eth0 setting of ours */
		if (rootfs_edit_mode(&c->b, path, false, &mode) == 0)
			return rootfs_edit_remove(&c->b, path);
		return 0;
	}
	if (n->kind == NET_DHCP)
		snprintf(text, sizeof(text), "# written by libuml\n[Match]\nName=eth0 vec0\n\n"
			 "[Network]\nDHCP=ipv4\n");
	else
		snprintf(text, sizeof(text), "# written by libuml\n[Match]\nName=eth0 vec0\n\n"
			 "[Network]\nAddress=%s/%u\n%s%s%s%s%s%s", n->addr, n->prefix,
			 n->gateway[0] ? "Gateway=" : "", n->gateway, n->gateway[0] ? "\n" : "",
			 n->dns[0] ? "DNS=" : "", n->dns, n->dns[0] ? "\n" : "");
	r = put_file(c, path, 0644, text);
	if (r == 0)
		r = enable_unit(c, "multi-user", "systemd-networkd.service");
	if (r == 0 && exists(c, "/lib/systemd/system/systemd-networkd.socket"))
		r = enable_unit(c, "sockets", "systemd-networkd.socket");
	return r;
}

/* ---- getty on the console, per init --------------------------------------------------- */

#define AGETTY_ARGS "--noclear --keep-baud console 115200,38400,9600 vt100"

static int getty_systemd(struct cfg *c)
{
	const char *dropin = "/etc/systemd/system/console-getty.service.d/libuml-autologin.conf";
	char unit[PATH_MAX];
	mode_t mode;
	int r;

	snprintf(unit, sizeof(unit), "%s/console-getty.service", unit_dir(c));
	if (!exists(c, unit)) {
		/* systemd ships it; an image without it gets ours */
		r = put_file(c, "/etc/systemd/system/console-getty.service", 0644,
			     "# written by libuml\n[Unit]\nDescription=Console Getty\n"
			     "After=systemd-user-sessions.service\nBefore=getty.target\n\n"
			     "[Service]\nExecStart=-/sbin/agetty " AGETTY_ARGS " $TERM\n"
			     "Type=idle\nRestart=always\nUtmpIdentifier=cons\nTTYPath=/dev/console\n"
			     "TTYReset=yes\nTTYVHangup=yes\nKillMode=process\n\n"
			     "[Install]\nWantedBy=getty.target\n");
		if (r == 0)
			r = ensure_dir(c, "/etc/systemd/system/getty.target.wants");
		if (r == 0)
			r = put_link(c, "/etc/systemd/system/getty.target.wants/console-getty.service",
				     "/etc/systemd/system/console-getty.service");
	} else {
		r = enable_unit(c, "getty", "console-getty.service");
	}
	/*
	 * The gettys on tty1-6 would sit on UML's other consoles, which are
	 * not there or not terminals: getty@tty1 is enabled by default, and
	 * getty-static starts tty2-6 where dbus is missing (minbase).
	 */
	if (r == 0 && rootfs_edit_mode(&c->b, "/etc/systemd/system/getty.target.wants/"
				       "getty@tty1.service", false, &mode) == 0)
		r = rootfs_edit_remove(&c->b, "/etc/systemd/system/getty.target.wants/"
				       "getty@tty1.service");
	snprintf(unit, sizeof(unit), "%s/getty-static.service", unit_dir(c));
	if (r == 0 && exists(c, unit))
		r = put_link(c, "/etc/systemd/system/getty-static.service", "/dev/null");
	if (r < 0)
		return r;
	if (c->g->autologin) {
		r = ensure_dir(c, "/etc/systemd/system/console-getty.service.d");
		if (r == 0)
			r = put_file(c, dropin, 0644, "# written by libuml\n[Service]\nExecStart=\n"
				     "ExecStart=-/sbin/agetty --autologin root " AGETTY_ARGS
				     " $TERM\n");
	} else if (rootfs_edit_mode(&c->b, dropin, false, &mode) == 0) {
		r = rootfs_edit_remove(&c->b, dropin);
	}
	return r;
}

static bool keep_inittab_line(const char *l, size_t len, void *ud)
{
	/* the getty lines on virtual consoles, and an earlier one of ours */
	const char *colon = memchr(l, ':', len);
	bool vc_getty = colon && colon > l && strspn(l, "0123456789") == (size_t)(colon - l) &&
			memmem(l, len, "getty", 5) != NULL;

	return !vc_getty && !(len >= 3 && memcmp(l, "L0:", 3) == 0);
}

/* sysvinit's own, for an image that has none */
static const char default_inittab[] =
	"id:2:initdefault:\nsi::sysinit:/etc/init.d/rcS\n"
	"l0:0:wait:/etc/init.d/rc 0\nl1:1:wait:/etc/init.d/rc 1\n"
	"l2:2:wait:/etc/init.d/rc 2\nl3:3:wait:/etc/init.d/rc 3\n"
	"l4:4:wait:/etc/init.d/rc 4\nl5:5:wait:/etc/init.d/rc 5\n"
	"l6:6:wait:/etc/init.d/rc 6\nca::ctrlaltdel:/sbin/shutdown -t1 -a -r now\n";

static int getty_sysvinit(struct cfg *c)
{
	struct uml_buf out = { 0 };
	char *old;
	int r = read_text(c, "/etc/inittab", &old);

	if (r == 0 && !old)
		r = read_text(c, "/usr/share/sysvinit/inittab", &old);
	if (r < 0)
		return r;
	if (!old)
		r = uml_buf_append(&out, default_inittab, strlen(default_inittab));
	else
		r = keep_lines(&out, old, keep_inittab_line, NULL);
	if (r == 0) {
		const char *line = c->g->autologin ?
			"L0:2345:respawn:/sbin/agetty --autologin root " AGETTY_ARGS "\n" :
			"L0:2345:respawn:/sbin/agetty " AGETTY_ARGS "\n";

		r = uml_buf_append(&out, line, strlen(line));
	}
	if (r == 0)
		r = put_file(c, "/etc/inittab", 0644, out.data);
	free(old);
	uml_buf_free(&out);
	return r;
}

static int getty_upstart(struct cfg *c)
{
	return put_file(c, "/etc/init/libuml-console.conf", 0644, c->g->autologin ?
			"# written by libuml\nstart on stopped rc RUNLEVEL=[2345]\n"
			"stop on runlevel [!2345]\nrespawn\n"
			"exec /sbin/agetty --autologin root " AGETTY_ARGS "\n" :
			"# written by libuml\nstart on stopped rc RUNLEVEL=[2345]\n"
			"stop on runlevel [!2345]\nrespawn\nexec /sbin/agetty " AGETTY_ARGS "\n");
}

static const char busybox_rcs[] =
	"#!/bin/sh\n"
	"# written by libuml: system start of a busybox guest\n"
	"export PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
	"mount -t proc proc /proc\n"
	"mount -t sysfs sysfs /sys\n"
	"mount -t devtmpfs devtmpfs /dev 2>/dev/null\n"
	"mkdir -p /dev/pts 2>/dev/null && mount -t devpts devpts /dev/pts 2>/dev/null\n"
	"mount -o remount,rw /\n"
	"mkdir -p /var/run /run\n"
	"[ -r /etc/hostname ] && hostname -F /etc/hostname\n"
	"if [ -r /etc/network/interfaces ]; then\n"
	"\tifup -a -f\n"
	"else\n"
	"\tip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up\n"
	"fi\n"
	"echo \"" UML_BUSYBOX_READY_MARKER "\"\n";

static const char busybox_udhcpc[] =
	"#!/bin/sh\n"
	"# written by libuml: applies what udhcpc got\n"
	"case \"$1\" in\n"
	"deconfig)\n"
	"\tip addr flush dev \"$interface\"\n"
	"\tip link set \"$interface\" up\n"
	"\t;;\n"
	"bound|renew)\n"
	"\tip addr flush dev \"$interface\"\n"
	"\tip addr add \"$ip/${mask:-24}\" dev \"$interface\"\n"
	"\tfor r in $router; do ip route replace default via \"$r\" dev \"$interface\"; break; done\n"
	"\tif [ -n \"$dns\" ]; then\n"
	"\t\t: > /etc/resolv.conf\n"
	"\t\tfor d in $dns; do echo \"nameserver $d\" >> /etc/resolv.conf; done\n"
	"\tfi\n"
	"\t;;\n"
	"esac\n"
	"exit 0\n";

/* busybox init with an inittab; the rcS still prints the busybox ready marker. */
static int getty_busybox(struct cfg *c)
{
	char inittab[512];
	int r;

	snprintf(inittab, sizeof(inittab),
		 "# written by libuml\n::sysinit:/etc/init.d/rcS\n%s"
		 "::ctrlaltdel:/sbin/reboot\n::shutdown:/bin/umount -a -r\n",
		 c->g->autologin ? "tty0::respawn:-/bin/sh\n" :
				   "tty0::respawn:/sbin/getty -L 38400 tty0 vt100\n");
	r = ensure_dir(c, "/etc/init.d");
	if (r == 0)
		r = put_file(c, "/etc/init.d/rcS", 0755, busybox_rcs);
	if (r == 0)
		r = put_file(c, "/etc/inittab", 0644, inittab);
	if (r == 0)
		r = ensure_dir(c, "/usr/share/udhcpc");
	if (r == 0)
		r = put_file(c, "/usr/share/udhcpc/default.script", 0755, busybox_udhcpc);
	/* busybox init reads the inittab; the /init script would not */
	if (r == 0) {
		ext2_ino_t a, b;

		if (!(lookup(c->b.fs, "/sbin/init", true, &a) &&
		      lookup(c->b.fs, "/bin/busybox", true, &b) && a == b))
			r = put_link(c, "/sbin/init", "/bin/busybox");
	}
	return r;
}

/* ---- network, per init ------------------------------------------------------------- */

/* ifupdown where it is installed; nothing to do for no network. */
static int network_ifupdown(struct cfg *c, const struct net *n)
{
	if (exists(c, "/sbin/ifup"))
		return write_interfaces(c, n);
	if (n->kind == NET_NONE)
		return 0;
	return rfail(c->rootfs, -ENOENT, "cannot configure the network of '%s': it has neither "
		     "systemd-networkd nor ifupdown (Debian: install ifupdown)", c->rootfs->path);
}

static int network_systemd(struct cfg *c, const struct net *n)
{
	if (exists(c, "/lib/systemd/systemd-networkd"))
		return write_networkd(c, n);
	return network_ifupdown(c, n);
}

static int network_busybox(struct cfg *c, const struct net *n)
{
	/* busybox ifup runs the hook directories and fails without them */
	static const char *const hooks[] = { "/etc/network/if-pre-up.d", "/etc/network/if-up.d",
		"/etc/network/if-down.d", "/etc/network/if-post-down.d" };
	int r = write_interfaces(c, n);

	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(hooks); i++)
		r = ensure_dir(c, hooks[i]);
	return r;
}

/* ---- the init systems ------------------------------------------------------------- */

static bool looks_like_busybox(ext2_filsys fs, ext2_ino_t init)
{
	ext2_ino_t ino;

	/* the /init script of libuml's busybox guests */
	return lookup(fs, "/init", true, &ino) && ino == init && lookup(fs, "/bin/busybox", true, &ino);
}

static bool looks_like_upstart(ext2_filsys fs, ext2_ino_t init)
{
	ext2_ino_t ino;

	return lookup(fs, "/etc/init/rc-sysinit.conf", true, &ino) &&
	       lookup(fs, "/sbin/initctl", true, &ino);
}

/* an inittab: also busybox's and upstart's images may have one, so theirs come first */
static bool looks_like_sysvinit(ext2_filsys fs, ext2_ino_t init)
{
	ext2_ino_t ino;

	return !looks_like_busybox(fs, init) && !looks_like_upstart(fs, init) &&
	       (lookup(fs, "/etc/inittab", true, &ino) ||
		lookup(fs, "/usr/share/sysvinit/inittab", true, &ino));
}

/*
 * One row per init system: how it is recognised, how libuml makes it the
 * init, and what it needs written.  To add one: a value in enum
 * uml_init_system (libuml.h) and a row here.
 */
static const struct init_system {
	const char *name;
	/* /sbin/init resolving to one of these names it */
	const char *binaries[2];
	/* else: does the image look like it (fs, the inode of /sbin/init)? */
	bool (*looks_like)(ext2_filsys fs, ext2_ino_t init);
	/* what /sbin/init points at to choose it, and the Debian package with it */
	const char *choose_target, *package;
	int (*write_getty)(struct cfg *c);
	int (*write_network)(struct cfg *c, const struct net *n);
	const char *password_method;	/* crypt prefix its login knows */
	const char *ready_marker;	/* what its console shows once it is up */
} init_systems[] = {
	[UML_INIT_UNKNOWN] = { "unknown", .write_network = network_ifupdown,
		.password_method = "$y$", .ready_marker = CONSOLE_MARKER },
	[UML_INIT_SYSTEMD] = { "systemd", { "/lib/systemd/systemd", "/usr/lib/systemd/systemd" },
		NULL, "/lib/systemd/systemd", "systemd", getty_systemd, network_systemd, "$y$",
		CONSOLE_MARKER },
	[UML_INIT_SYSVINIT] = { "sysvinit", { "/lib/sysvinit/init" }, looks_like_sysvinit,
		"/lib/sysvinit/init", "sysvinit-core", getty_sysvinit, network_ifupdown, "$y$",
		CONSOLE_MARKER },
	[UML_INIT_UPSTART] = { "upstart", { "/sbin/upstart" }, looks_like_upstart,
		NULL, NULL, getty_upstart, network_ifupdown, "$y$", CONSOLE_MARKER },
	/* busybox's login knows SHA-512 crypt but not yescrypt */
	[UML_INIT_BUSYBOX] = { "busybox", { "/bin/busybox" }, looks_like_busybox,
		"/bin/busybox", "busybox-static", getty_busybox, network_busybox, "$6$",
		UML_BUSYBOX_READY_MARKER },
};

UML_EXPORT const char *uml_init_system_to_string(enum uml_init_system init)
{
	if ((unsigned)init >= ARRAY_SIZE(init_systems))
		return NULL;
	return init_systems[init].name;
}

static enum uml_init_system detect_init(ext2_filsys fs)
{
	ext2_ino_t init, ino;

	if (!lookup(fs, "/sbin/init", true, &init))
		return UML_INIT_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(init_systems); i++)
		for (size_t j = 0; j < ARRAY_SIZE(init_systems[i].binaries); j++)
			if (init_systems[i].binaries[j] &&
			    lookup(fs, init_systems[i].binaries[j], true, &ino) && ino == init)
				return (enum uml_init_system)i;
	for (size_t i = 0; i < ARRAY_SIZE(init_systems); i++)
		if (init_systems[i].looks_like && init_systems[i].looks_like(fs, init))
			return (enum uml_init_system)i;
	return UML_INIT_UNKNOWN;
}

UML_EXPORT int uml_rootfs_get_init_system(struct uml_rootfs *rootfs, enum uml_init_system *ret)
{
	ext2_filsys fs;
	int r;

	if (!rootfs)
		return -EINVAL;
	if (!ret)
		return rfail(rootfs, -EINVAL, "no place for the init system of '%s'", rootfs->path);
	if (rootfs->backing)
		return rfail(rootfs, -EOPNOTSUPP, "'%s' is a COW overlay; look at its backing image "
			     "'%s' instead", rootfs->path, rootfs->backing);
	r = rootfs_open_fs(rootfs, rootfs->path, false, &fs);
	if (r < 0)
		return r;
	*ret = detect_init(fs);
	ext2fs_close_free(&fs);
	return 0;
}

/* Points /sbin/init at the chosen init, which must be installed. */
static int choose_init(struct cfg *c)
{
	const struct init_system *want = &init_systems[c->g->init];
	int r;

	if (c->g->init == UML_INIT_UNKNOWN || c->g->init == c->init)
		return 0;
	if (!want->choose_target)
		return rfail(c->rootfs, -ENOTSUP, "libuml cannot switch '%s' to %s; only systemd, "
			     "sysvinit and busybox can be chosen", c->rootfs->path, want->name);
	if (!exists(c, want->choose_target))
		return rfail(c->rootfs, -ENOENT, "cannot make %s the init of '%s': %s is not in the "
			     "image (Debian: install %s)", want->name, c->rootfs->path,
			     want->choose_target, want->package);
	r = put_link(c, "/sbin/init", want->choose_target);
	if (r == 0)
		c->init = c->g->init;
	return r;
}

static int write_network(struct cfg *c)
{
	const char *why;
	struct net n;
	int r;

	if (!c->g->network)
		return 0;
	parse_net(c->g->network, &n, &why);	/* checked when set */
	r = init_systems[c->init].write_network(c, &n);
	return r < 0 ? r : write_resolv(c, &n);
}

static int write_getty(struct cfg *c)
{
	return init_systems[c->init].write_getty ? init_systems[c->init].write_getty(c) : 0;
}

/* ---- root password ----------------------------------------------------------------- */

static int hash_password(struct cfg *c, const char *pw, char **ret)
{
	const char *prefix = init_systems[c->init].password_method;
	struct crypt_data *cd;
	char *salt, *h;
	int r = 0;

	salt = crypt_gensalt_ra(prefix, 0, NULL, 0);
	if (!salt)
		return rfail(c->rootfs, -ENOTSUP, "cannot make a %s password salt: %m", prefix);
	cd = calloc(1, sizeof(*cd));
	if (!cd) {
		free(salt);
		return -ENOMEM;
	}
	h = crypt_r(pw, salt, cd);
	if (!h || h[0] == '*')
		r = rfail(c->rootfs, -ENOTSUP, "cannot hash the root password with %s", prefix);
	else if (!(*ret = strdup(h)))
		r = -ENOMEM;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	free(salt);
	return r;
}

/* Replaces field 1 (the password) of the root line of text, or adds one. */
static int set_root_field(const char *text, const char *pw, const char *new_line, char **ret)
{
	struct uml_buf out = { 0 };
	bool found = false;
	int r = 0;

	for (const char *l = text ? text : ""; r == 0 && *l; ) {
		const char *end = strchrnul(l, '\n'), *c1, *c2;
		size_t len = (size_t)(end - l);

		if (len > 5 && memcmp(l, "root:", 5) == 0 && !found &&
		    (c1 = l + 4) && (c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1)))) {
			found = true;
			if (uml_buf_append(&out, l, 5) < 0 || uml_buf_append(&out, pw, strlen(pw)) < 0 ||
			    uml_buf_append(&out, c2, (size_t)(end - c2)) < 0)
				r = -ENOMEM;
		} else if (uml_buf_append(&out, l, len) < 0) {
			r = -ENOMEM;
		}
		if (r == 0 && uml_buf_append(&out, "\n", 1) < 0)
			r = -ENOMEM;
		l = *end ? end + 1 : end;
	}
	if (r == 0 && !found && uml_buf_append(&out, new_line, strlen(new_line)) < 0)
		r = -ENOMEM;
	if (r == 0 && !out.data && uml_buf_append(&out, "", 0) < 0)
		r = -ENOMEM;
	if (r < 0) {
		uml_buf_free(&out);
		return r;
	}
	*ret = out.data;
	return 0;
}

static int write_password(struct cfg *c)
{
	char *hash = NULL, *shadow = NULL, *passwd = NULL, *text = NULL, line[512];
	int r = 0;

	if (!c->g->root_password_set)
		return 0;
	if (c->g->root_password)
		r = hash_password(c, c->g->root_password, &hash);
	if (r == 0)
		r = read_text(c, "/etc/shadow", &shadow);
	if (r == 0)
		r = read_text(c, "/etc/passwd", &passwd);
	if (r < 0)
		goto out;
	if (shadow) {
		snprintf(line, sizeof(line), "root:%s:%ld:0:99999:7:::\n", hash ? hash : "",
			 (long)(time(NULL) / 86400));
		r = set_root_field(shadow, hash ? hash : "", line, &text);
		if (r == 0)
			r = rootfs_edit_put(&c->b, "/etc/shadow", S_IFREG | 0640, text, strlen(text), 0);
		free(text);
		text = NULL;
		/* the shadow entry counts only with "x" in passwd */
		if (r == 0 && passwd)
			r = set_root_field(passwd, "x", "root:x:0:0:root:/root:/bin/sh\n", &text);
	} else {
		r = set_root_field(passwd, hash ? hash : "", "root::0:0:root:/root:/bin/sh\n", &text);
	}
	if (r == 0 && text)
		r = put_file(c, "/etc/passwd", 0644, text);
out:
	if (hash)
		explicit_bzero(hash, strlen(hash));
	free(hash);
	free(shadow);
	free(passwd);
	free(text);
	return r;
}

/* ---- device nodes --------------------------------------------------------------------- */

static int write_devices(struct cfg *c)
{
	static const struct { const char *name; mode_t mode; unsigned maj, min; } devs[] = {
		{ "/dev/console", S_IFCHR | 0600, 5, 1 },
		{ "/dev/null", S_IFCHR | 0666, 1, 3 },
		{ "/dev/zero", S_IFCHR | 0666, 1, 5 },
		{ "/dev/tty", S_IFCHR | 0666, 5, 0 },
		{ "/dev/tty0", S_IFCHR | 0620, 4, 0 },
		{ "/dev/ttyS0", S_IFCHR | 0660, 4, 64 },
		{ "/dev/random", S_IFCHR | 0666, 1, 8 },
		{ "/dev/urandom", S_IFCHR | 0666, 1, 9 },
		{ "/dev/ubda", S_IFBLK | 0660, 98, 0 },
	};
	int r = ensure_dir(c, "/dev");

	/* what the kernel and init open before devtmpfs is mounted */
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(devs); i++) {
		mode_t mode;

		if (rootfs_edit_mode(&c->b, devs[i].name, false, &mode) == 0)
			continue;
		r = rootfs_edit_put(&c->b, devs[i].name, devs[i].mode, NULL, 0,
				    makedev(devs[i].maj, devs[i].min));
	}
	return r;
}

/* ---- uml_rootfs_configure() ------------------------------------------------------------ */

static int no_init(struct cfg *c)
{
	return rfail(c->rootfs, -ENOENT, "image '%s' has no init: /sbin/init is missing, so the "
		     "kernel would stop with \"No working init found\" (debootstrap's minbase "
		     "variant installs none: add the package systemd-sysv or sysvinit-core)",
		     c->rootfs->path);
}

UML_EXPORT int uml_rootfs_configure(struct uml_rootfs *rootfs, unsigned flags)
{
	struct cfg c = { 0 };
	struct rootfs_guest g0 = { 0 };
	int r;

	if (!rootfs)
		return -EINVAL;
	if (flags)
		return rfail(rootfs, -EINVAL, "unknown flags 0x%x for configuring '%s'", flags,
			     rootfs->path);
	c.rootfs = rootfs;
	c.g = rootfs->guest ? rootfs->guest : &g0;
	rootfs_build_init(&c.b, rootfs);
	r = rootfs_edit_open(&c.b);
	if (r < 0)
		goto out;
	c.init = detect_init(c.b.fs);
	uml_info(rootfs->ctx, "image '%s': init system %s", rootfs->path,
		 init_systems[c.init].name);
	r = choose_init(&c);
	if (r == 0 && c.init == UML_INIT_UNKNOWN) {
		ext2_ino_t ino;

		r = lookup(c.b.fs, "/sbin/init", true, &ino) ?
			rfail(rootfs, -ENOENT, "the init of image '%s' is not one libuml knows "
			      "(systemd, sysvinit, upstart, busybox); choose one with "
			      "uml_rootfs_set_init()", rootfs->path) : no_init(&c);
	}
	if (r == 0)
		r = write_devices(&c);
	if (r == 0)
		r = write_fstab(&c);
	if (r == 0)
		r = write_hostname(&c);
	if (r == 0)
		r = write_network(&c);
	if (r == 0)
		r = write_getty(&c);
	if (r == 0)
		r = write_password(&c);
	r = rootfs_edit_close(&c.b, r);
	if (r == 0) {
		rootfs->ready_marker = init_systems[c.init].ready_marker;
		rootfs->root_rw = false;	/* its init checks and remounts / itself */
		uml_info(rootfs->ctx, "configured '%s' for %s%s%s%s", rootfs->path,
			 init_systems[c.init].name, c.g->hostname ? ", host name " : "",
			 c.g->hostname ? c.g->hostname : "", c.g->autologin ? ", autologin" : "");
	}
out:
	if (c.b.fs)
		ext2fs_close_free(&c.b.fs);
	rootfs_build_free(&c.b);
	if (r == -ENOMEM)
		return rfail(rootfs, r, "out of memory configuring '%s'", rootfs->path);
	return r;
}

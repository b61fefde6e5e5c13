/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * uml-lab - build a small network lab of busybox guests from a short
 * config, boot it, and ping across it.
 *
 * Config lines (# starts a comment):
 *   guest NAME                       a busybox guest (COW overlay of one image)
 *   link NAME:ADDR/LEN NAME:ADDR/LEN a cable between two guests
 *   switch SW NAME:ADDR/LEN ...      guests on one vde_switch named SW
 *   ping NAME ADDR                   after boot, NAME pings ADDR
 *
 * Without --config the built-in lab is used (--print-config shows it):
 * three guests, two links and one switch.
 */
#include <errno.h>
#include <poll.h>
#include <popt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uml/libuml.h>

#define MAX_GUESTS 16
#define MAX_PINGS 64
#define STEP_MS 60000
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char default_config[] =
	"# three guests: a - b - c on two links, and all three on switch lan\n"
	"guest a\n"
	"guest b\n"
	"guest c\n"
	"link a:10.0.1.1/24 b:10.0.1.2/24\n"
	"link b:10.0.2.1/24 c:10.0.2.2/24\n"
	"switch lan a:10.0.9.1/24 b:10.0.9.2/24 c:10.0.9.3/24\n"
	"ping a 10.0.1.2\n"
	"ping c 10.0.2.1\n"
	"ping a 10.0.9.3\n"
	"ping c 10.0.9.2\n";

struct lab {
	struct uml_ctx *ctx;
	struct uml_kernel *kernel;
	struct uml_rootfs *image;
	char *names[MAX_GUESTS];
	struct uml_instance *vm[MAX_GUESTS];
	struct uml_rootfs *disk[MAX_GUESTS];
	size_t n;
	struct { size_t from; char *addr; } pings[MAX_PINGS];
	size_t n_pings;
	const char *dir;
};

static int find_guest(struct lab *lab, const char *name)
{
	for (size_t i = 0; i < lab->n; i++)
		if (strcmp(lab->names[i], name) == 0)
			return (int)i;
	fprintf(stderr, "uml-lab: unknown guest '%s'\n", name);
	return -1;
}

static int add_guest(struct lab *lab, const char *name)
{
	char cow[4096];
	size_t i = lab->n;

	if (i == MAX_GUESTS || strchr(name, '/') || !(lab->names[i] = strdup(name))) {
		fprintf(stderr, "uml-lab: cannot add guest '%s'\n", name);
		return -EINVAL;
	}
	lab->n++;	/* main() cleans up what exists of it */
	snprintf(cow, sizeof(cow), "%s/%s.cow", lab->dir, name);
	if (uml_rootfs_new_cow(lab->image, cow, UML_ROOTFS_CREATE_OVERWRITE, &lab->disk[i]) < 0 ||
	    uml_instance_new(lab->kernel, &lab->vm[i]) < 0 ||
	    uml_instance_set_rootfs(lab->vm[i], lab->disk[i]) < 0 ||
	    /* the name as umid: the guest's MAC addresses stay the same run to run */
	    uml_instance_set_umid(lab->vm[i], name) < 0) {
		fprintf(stderr, "uml-lab: guest '%s': %s\n", name, uml_ctx_last_error(lab->ctx));
		return -EINVAL;
	}
	return 0;
}

/* Sets the guest-side address of interface idx of guest g. */
static int set_addr(struct lab *lab, int g, unsigned idx, const char *addr)
{
	if (uml_instance_set_iface_address(lab->vm[g], idx, addr, NULL) < 0) {
		fprintf(stderr, "uml-lab: %s\n", uml_instance_last_error(lab->vm[g]));
		return -EINVAL;
	}
	return 0;
}

static int split_end(struct lab *lab, char *end, int *g, char **addr)
{
	char *colon = strchr(end, ':');

	if (!colon) {
		fprintf(stderr, "uml-lab: '%s' is not NAME:ADDR/LEN\n", end);
		return -EINVAL;
	}
	*colon = '\0';
	*addr = colon + 1;
	*g = find_guest(lab, end);
	return *g < 0 ? -EINVAL : 0;
}

static int parse_line(struct lab *lab, char *line)
{
	char *w[MAX_GUESTS + 2];
	size_t n = 0;
	unsigned idx;
	int g, r;
	char *addr;

	for (char *t = strtok(line, " \t\n"); t && n < ARRAY_LEN(w); t = strtok(NULL, " \t\n"))
		w[n++] = t;
	if (n == 0 || w[0][0] == '#')
		return 0;
	if (strcmp(w[0], "guest") == 0 && n == 2)
		return add_guest(lab, w[1]);
	if (strcmp(w[0], "link") == 0 && n == 3) {
		struct uml_link *link;

		if (uml_link_new(lab->ctx, &link) < 0)
			return -ENOMEM;
		for (size_t i = 1; i < 3; i++) {
			r = split_end(lab, w[i], &g, &addr);
			if (r == 0)
				r = uml_instance_add_link(lab->vm[g], link, &idx);
			if (r == 0)
				r = set_addr(lab, g, idx, addr);
			if (r < 0)
				break;
		}
		uml_link_unref(link);
		return r;
	}
	if (strcmp(w[0], "switch") == 0 && n >= 3) {
		struct uml_switch *sw;

		if (uml_switch_new(lab->ctx, w[1], &sw) < 0)
			return -EINVAL;
		r = 0;
		for (size_t i = 2; r == 0 && i < n; i++) {
			r = split_end(lab, w[i], &g, &addr);
			if (r == 0)
				r = uml_instance_add_switch_port(lab->vm[g], sw, &idx);
			if (r == 0)
				r = set_addr(lab, g, idx, addr);
		}
		uml_switch_unref(sw);	/* the guests hold it */
		return r;
	}
	if (strcmp(w[0], "ping") == 0 && n == 3 && lab->n_pings < MAX_PINGS) {
		g = find_guest(lab, w[1]);
		if (g < 0)
			return -EINVAL;
		lab->pings[lab->n_pings].from = (size_t)g;
		lab->pings[lab->n_pings].addr = strdup(w[2]);
		lab->n_pings++;
		return 0;
	}
	return -EINVAL;
}

/* Drives every guest's event loop once (up to 100 ms). */
static void step(struct lab *lab)
{
	struct pollfd p[MAX_GUESTS];

	for (size_t i = 0; i < lab->n; i++)
		p[i] = (struct pollfd){ .fd = uml_instance_get_fd(lab->vm[i]), .events = POLLIN };
	poll(p, lab->n, 100);
	for (size_t i = 0; i < lab->n; i++)
		uml_instance_process(lab->vm[i]);
}

/* Runs cmd on guest g's console; true if `want` shows up in its output. */
static bool console_run(struct lab *lab, size_t g, const char *cmd, const char *want)
{
	char line[512];
	size_t start, len;
	const char *log;

	uml_instance_get_console_log(lab->vm[g], &start);
	/* the echo of the line shows "$((6*7))", only its output shows 42 */
	snprintf(line, sizeof(line), "%s; echo lab-done-$((6*7))\n", cmd);
	if (uml_instance_write_console(lab->vm[g], line, strlen(line)) < 0)
		return false;
	for (int t = 0; t < STEP_MS / 100; t++) {
		log = uml_instance_get_console_log(lab->vm[g], &len);
		if (len > start && strstr(log + start, "lab-done-42"))
			return strstr(log + start, want) != NULL;
		step(lab);
	}
	return false;
}

static int run_lab(struct lab *lab)
{
	int failed = 0;

	for (size_t i = 0; i < lab->n; i++) {
		if (uml_instance_boot(lab->vm[i]) < 0) {
			fprintf(stderr, "uml-lab: %s: %s\n", lab->names[i],
				uml_instance_last_error(lab->vm[i]));
			return 1;
		}
	}
	for (size_t i = 0; i < lab->n; i++) {
		for (int t = 0; uml_instance_get_state(lab->vm[i]) == UML_STATE_BOOTING; t++) {
			if (t > STEP_MS / 100) {
				fprintf(stderr, "uml-lab: %s did not come up\n", lab->names[i]);
				return 1;
			}
			step(lab);
		}
		if (uml_instance_get_state(lab->vm[i]) != UML_STATE_RUNNING) {
			fprintf(stderr, "uml-lab: %s ended: %s\n", lab->names[i],
				uml_exit_reason_to_string(uml_instance_get_exit_reason(lab->vm[i])));
			return 1;
		}
		printf("%-8s up:", lab->names[i]);
		for (unsigned k = 0; k < uml_instance_get_iface_count(lab->vm[i]); k++)
			printf(" %s(%s)", uml_instance_get_iface_name(lab->vm[i], k),
			       uml_instance_get_iface_mac(lab->vm[i], k));
		printf("\n");
	}
	for (size_t p = 0; p < lab->n_pings; p++) {
		char cmd[256];
		bool ok;

		/* retry while the other side still comes up, then count 3 replies */
		snprintf(cmd, sizeof(cmd), "n=0; until ping -c 1 -W 1 %s >/dev/null; do "
			 "n=$((n+1)); [ $n -lt 30 ] || break; done; ping -c 3 %s",
			 lab->pings[p].addr, lab->pings[p].addr);
		ok = console_run(lab, lab->pings[p].from, cmd, "3 packets received");
		printf("ping %-8s -> %-16s %s\n", lab->names[lab->pings[p].from],
		       lab->pings[p].addr, ok ? "ok" : "FAILED");
		failed |= !ok;
	}
	for (size_t i = 0; i < lab->n; i++)
		uml_instance_halt(lab->vm[i], -1);
	return failed;
}

int main(int argc, const char **argv)
{
	char *config = NULL, *kernel = NULL, *text = NULL;
	int print = 0, verbose = 0, code = 1;
	struct poptOption table[] = {
		{ "config", 'f', POPT_ARG_STRING, &config, 0, "lab description (default: built in)",
		  "FILE" },
		{ "kernel", 'k', POPT_ARG_STRING, &kernel, 0, "UML kernel binary", "PATH" },
		{ "print-config", 0, POPT_ARG_NONE, &print, 0, "show the built-in lab and exit",
		  NULL },
		{ "verbose", 'v', POPT_ARG_NONE, &verbose, 0, "log what libuml does", NULL },
		POPT_AUTOHELP
		POPT_TABLEEND
	};
	poptContext pc = poptGetContext("uml-lab", argc, argv, table, 0);
	char dir[] = "/tmp/uml-lab-XXXXXX", path[4096];
	struct lab lab = { 0 };
	int rc = poptGetNextOpt(pc);

	if (rc < -1 || poptPeekArg(pc)) {
		poptPrintUsage(pc, stderr, 0);
		poptFreeContext(pc);
		return 2;
	}
	if (print) {
		fputs(default_config, stdout);
		poptFreeContext(pc);
		return 0;
	}
	if (config) {
		FILE *f = fopen(config, "r");
		size_t len = 0;

		if (!f || getdelim(&text, &len, '\0', f) < 0) {
			fprintf(stderr, "uml-lab: cannot read '%s': %s\n", config, strerror(errno));
			poptFreeContext(pc);
			return 2;
		}
		fclose(f);
	} else {
		text = strdup(default_config);
	}
	if (!text || !mkdtemp(dir) || uml_ctx_new(&lab.ctx) < 0)
		return 1;
	lab.dir = dir;
	if (verbose)
		uml_ctx_set_log_priority(lab.ctx, 6 /* LOG_INFO */);
	snprintf(path, sizeof(path), "%s/run", dir);
	uml_ctx_set_runtime_dir(lab.ctx, path);
	snprintf(path, sizeof(path), "%s/busybox.img", dir);
	if ((kernel ? uml_kernel_new_from_path(lab.ctx, kernel, &lab.kernel)
		    : uml_kernel_new_default(lab.ctx, &lab.kernel)) < 0 ||
	    uml_rootfs_new(lab.ctx, path, &lab.image) < 0 ||
	    uml_rootfs_create_busybox(lab.image, NULL, 0) < 0) {
		fprintf(stderr, "uml-lab: %s\n", uml_ctx_last_error(lab.ctx));
		goto out;
	}
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (parse_line(&lab, line) < 0) {
			fprintf(stderr, "uml-lab: cannot use config line '%s'\n", line);
			goto out;
		}
	}
	code = run_lab(&lab);
out:
	for (size_t i = 0; i < lab.n; i++) {
		uml_instance_unref(lab.vm[i]);
		uml_rootfs_unref(lab.disk[i]);
		snprintf(path, sizeof(path), "%s/%s.cow", dir, lab.names[i]);
		unlink(path);
		free(lab.names[i]);
	}
	for (size_t p = 0; p < lab.n_pings; p++)
		free(lab.pings[p].addr);
	uml_rootfs_unref(lab.image);
	uml_kernel_unref(lab.kernel);
	uml_ctx_unref(lab.ctx);
	snprintf(path, sizeof(path), "%s/busybox.img", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/run", dir);
	rmdir(path);
	rmdir(dir);
	free(text);
	poptFreeContext(pc);
	return code;
}

#!/bin/sh
# The files of libuml must form layers: a file calls only files on layers
# below it, and no files call each other in a circle.  Reads what each of
# the library's object files defines and uses (nm), prints the file-to-file
# graph bottom up with each file's layer, and fails on any circle, naming
# its files and the symbols that tie them.
set -eu
build=${UML_TEST_BUILDDIR:-$(dirname "$0")/..}
objdir=$build/libuml/.libs
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the library's sources, as Makefile.am lists them (make passes them in)
sources=${UML_LIB_SOURCES:-$(cd "$(dirname "$0")/.." && ls libuml/*.c)}
for src in $sources; do
	case $src in *.c) ;; *) continue ;; esac
	f=${src##*/}
	f=${f%.c}
	o=$objdir/libuml_la-$f.o
	if [ ! -e "$o" ]; then
		echo "FAIL: $o is missing (build first)"
		exit 1
	fi
	nm "$o" | awk -v f="$f" '$1 == "U" { print "U", f, $2 }
		NF == 3 && $2 ~ /^[TDBRVW]$/ { print "D", f, $3 }'
done > "$tmp/syms"

awk '
$1 == "D" { def[$3] = $2; files[$2] = 1 }
$1 == "U" { use[++nu] = $2 " " $3; files[$2] = 1 }
END {
	for (i = 1; i <= nu; i++) {
		split(use[i], u, " ")
		to = def[u[2]]
		if (to == "" || to == u[1])
			continue
		if (!((u[1], to) in edge)) {
			edge[u[1], to] = 1
			why[u[1], to] = u[2]
		} else if (index(why[u[1], to], u[2]) == 0 && length(why[u[1], to]) < 60)
			why[u[1], to] = why[u[1], to] ", " u[2]
	}
	n = 0
	for (f in files)
		name[++n] = f
	# reach[a,b]: a calls b, directly or through others
	for (i = 1; i <= n; i++)
		for (j = 1; j <= n; j++)
			if ((name[i], name[j]) in edge)
				reach[name[i], name[j]] = 1
	for (k = 1; k <= n; k++)
		for (i = 1; i <= n; i++)
			if ((name[i], name[k]) in reach)
				for (j = 1; j <= n; j++)
					if ((name[k], name[j]) in reach)
						reach[name[i], name[j]] = 1
	circles = 0
	for (i = 1; i <= n; i++)
		if ((name[i], name[i]) in reach) {
			circles++
			printf "FAIL: %s is in a circle:", name[i]
			for (j = 1; j <= n; j++)
				if (j != i && (name[i], name[j]) in edge && (name[j], name[i]) in reach)
					printf " -> %s (%s)", name[j], why[name[i], name[j]]
			printf "\n"
		}
	if (circles)
		exit 1
	# layer: 0 for files that call no other file, else one above the highest callee
	for (pass = 0; pass < n; pass++)
		for (i = 1; i <= n; i++)
			for (j = 1; j <= n; j++)
				if ((name[i], name[j]) in edge && layer[name[i]] < layer[name[j]] + 1)
					layer[name[i]] = layer[name[j]] + 1
	for (l = 0; l < n; l++)
		for (i = 1; i <= n; i++)
			if (layer[name[i]] + 0 == l) {
				printf "layer %d  %-20s", l, name[i]
				sep = " calls "
				for (j = 1; j <= n; j++)
					if ((name[i], name[j]) in edge) {
						printf "%s%s", sep, name[j]
						sep = ", "
					}
				printf "\n"
			}
	printf "ok: %d files, no circles\n", n
}' "$tmp/syms"

#!/bin/sh
# blob.sh NAME FILE: a C file holding FILE's bytes as `const unsigned char
# NAME[]` and their count as `const size_t NAME_size`.
set -e
echo "/* generated from $(basename "$2") by blob.sh; do not edit */"
echo '#include <stddef.h>'
echo "const unsigned char $1[] = {"
od -An -v -tx1 "$2" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'
echo '};'
echo "const size_t $1_size = sizeof($1);"

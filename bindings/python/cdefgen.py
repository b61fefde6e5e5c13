#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Derive the cffi declarations (uml/_cdef.h) from the public header.

The cdef is a checked-in file so that it can be read and reviewed; this
script writes what it should contain, and the tests compare the two:

    /usr/bin/python3 bindings/python/cdefgen.py include/uml/libuml.h \\
        > bindings/python/uml/_cdef.h

cffi parses no preprocessor directives, so the header's macros become
declarations cffi resolves against the real header at build time:
integer macros `static const int NAME;`, string macros
`static const char *const NAME;`.
"""
import re
import sys

_COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)
_DEFINE = re.compile(r'^\s*#\s*define\s+(UML_[A-Z0-9_]+)\s+(.+?)\s*$', re.M)


def _split_statements(text):
    """Top-level statements (split at ';' outside braces), whitespace folded."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == '{':
            depth += 1
        elif ch == '}':
            depth -= 1
        if ch == ';' and depth == 0:
            stmt = re.sub(r'\s+', ' ', ''.join(cur)).strip()
            if stmt:
                out.append(stmt)
            cur = []
        else:
            cur.append(ch)
    return out


def _normalize(stmt):
    stmt = re.sub(r'\s*([(),{}])\s*', r'\1', stmt)
    stmt = re.sub(r'\s*\*\s*', ' *', stmt)
    stmt = stmt.replace('( *', '(*').replace(' * *', ' **').replace(')(*', ') (*')
    stmt = re.sub(r'(\w)\(\*', r'\1 (*', stmt)
    return stmt.strip()


def declarations(header_text):
    """The header's declarations as cffi understands them, in header order:
    a list of (kind, name, normalized statement) with kind one of
    'function', 'typedef', 'struct', 'enum', 'constant'."""
    text = _COMMENT.sub(' ', header_text)
    consts = []
    for name, value in _DEFINE.findall(text):
        if name == 'UML_EXPORT':
            continue
        if value.startswith('"'):
            consts.append(('constant', name, 'static const char *const %s' % name))
        elif re.fullmatch(r'\(?-?(0x[0-9a-fA-F]+|\d+)[uUlL]*\)?', value):
            consts.append(('constant', name, 'static const int %s' % name))
    text = '\n'.join(l for l in text.splitlines() if not l.lstrip().startswith('#'))
    text = re.sub(r'extern\s+"C"\s*\{', ' ', text)
    text = re.sub(r'^\s*\}\s*$', ' ', text, flags=re.M)   # its closing brace
    out = []
    for stmt in _split_statements(text):
        stmt = _normalize(stmt.replace('UML_EXPORT', ''))
        m = re.search(r'\b(uml_[a-z0-9_]*)\(', stmt)
        if stmt.startswith('typedef'):
            name = re.search(r'\(\*(\w+)\)|(\w+)$', stmt)
            out.append(('typedef', name.group(1) or name.group(2), stmt))
        elif stmt.startswith('static const'):
            out.append(('constant', stmt.split()[-1].lstrip('*'), stmt))
        elif m:
            out.append(('function', m.group(1), stmt))
        elif stmt.startswith(('struct', 'enum')):
            kind, name = stmt.split(' ', 1)[0], re.match(r'\w+ (\w+)', stmt).group(1)
            out.append((kind, name, stmt))
    return out + consts


def format_cdef(decls):
    lines = ['/* SPDX-License-Identifier: LGPL-2.1-or-later */',
             '/*',
             ' * cffi declarations of the public API in include/uml/libuml.h.',
             ' * Plain declarations, no preprocessor: cffi compiles them against the',
             ' * real header (API mode), so types, struct layouts and enum values are',
             ' * checked by the compiler and at import.  Regenerate after a header',
             ' * change with bindings/python/cdefgen.py; the tests fail when the two',
             ' * disagree.',
             ' */']
    for kind, name, stmt in decls:
        if '{' in stmt:
            head, body = stmt.split('{', 1)
            body = body.rsplit('}', 1)[0]
            sep = ',' if kind == 'enum' else ';'
            members = [m.strip() for m in body.split(sep) if m.strip()]
            stmt = head.strip() + ' {\n' + ''.join('\t%s%s\n' % (m, sep) for m in members) + '}'
            lines.append('')
        else:
            stmt = stmt.replace(',', ', ')
        lines.append(stmt + ';')
    return '\n'.join(lines) + '\n'


def cdef_declarations(cdef_text):
    """The declarations of a cdef file, in the same form as declarations()."""
    return declarations(cdef_text)


if __name__ == '__main__':
    with open(sys.argv[1] if len(sys.argv) > 1 else 'include/uml/libuml.h') as f:
        sys.stdout.write(format_cdef(declarations(f.read())))

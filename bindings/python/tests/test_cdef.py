# SPDX-License-Identifier: LGPL-2.1-or-later
"""The cdef, the public header, libuml.sym and the Python package agree."""
import os
import re
import sys

import pytest

from uml import _libuml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import cdefgen  # noqa: E402

PKG = os.path.join(os.path.dirname(HERE), 'uml')
# Functions the package does not call on purpose: the uml_*_ref() calls, as
# each Python object holds the one reference it owns.
NOT_WRAPPED = re.compile(r'^uml_\w+_ref$')


@pytest.fixture(scope='module')
def header(srcdir):
    with open(os.path.join(srcdir, 'include', 'uml', 'libuml.h')) as f:
        return cdefgen.declarations(f.read())


@pytest.fixture(scope='module')
def cdef():
    with open(os.path.join(PKG, '_cdef.h')) as f:
        return cdefgen.cdef_declarations(f.read())


def test_cdef_declares_exactly_the_header(header, cdef):
    missing = [d for d in header if d not in cdef]
    extra = [d for d in cdef if d not in header]
    assert missing == [] and extra == [], (
        'uml/_cdef.h and include/uml/libuml.h disagree; regenerate with '
        'bindings/python/cdefgen.py (missing: %r, extra: %r)' % (missing, extra))


def test_cdef_functions_match_libuml_sym(srcdir, cdef):
    with open(os.path.join(srcdir, 'libuml', 'libuml.sym')) as f:
        sym = set(re.findall(r'^\s*(uml_\w+);', f.read(), re.M))
    funcs = {name for kind, name, _ in cdef if kind == 'function'}
    assert sorted(sym - funcs) == [] and sorted(funcs - sym) == []


def test_every_function_is_in_the_extension(cdef):
    missing = [name for kind, name, _ in cdef
               if kind == 'function' and not hasattr(_libuml.lib, name)]
    assert missing == []


def test_every_function_is_wrapped(cdef):
    code = ''
    for f in os.listdir(PKG):
        if f.endswith('.py'):
            with open(os.path.join(PKG, f)) as fh:
                code += fh.read()
    unwrapped = [name for kind, name, _ in cdef if kind == 'function'
                 and not NOT_WRAPPED.match(name) and not re.search(r'\blib\.%s\b' % name, code)]
    assert unwrapped == [], 'C functions without a Python wrapper: %r' % unwrapped

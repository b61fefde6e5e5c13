#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Build the cffi extension uml._libuml (API mode, out of line).

    /usr/bin/python3 build_ffi.py [OUTDIR]

writes OUTDIR/uml/_libuml.c and OUTDIR/uml/_libuml.*.so (OUTDIR defaults to
the current directory).  Where the header and library are found:

  UML_INCLUDE_DIR, UML_LIBRARY_DIR   set by `make` to the source and build tree
  otherwise                          `pkg-config --cflags --libs libuml`

UML_RPATH, when set to a directory outside the linker's default search path,
is recorded as the extension's run path (the installed libdir).
"""
import os
import shlex
import subprocess
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

# Host types the header takes from system headers, unknown to cffi's parser.
PRELUDE = """
typedef int... pid_t;
typedef int... mode_t;
typedef int... uid_t;
typedef int... gid_t;
"""

# Trampolines for the C callbacks; userdata is a handle (ffi.new_handle).
CALLBACKS = """
extern "Python" void _uml_py_log(void *userdata, int priority, const char *msg);
extern "Python" int _uml_py_progress(void *userdata, const struct uml_progress *p);
extern "Python" void _uml_py_event(void *userdata, struct uml_instance *inst,
                                   const struct uml_event *ev);
extern "Python" void _uml_py_ktap_event(void *userdata, const struct uml_ktap_event *ev);
void free(void *ptr);
"""

SYSTEM_LIB_DIRS = {'/lib', '/usr/lib', '/lib64', '/usr/lib64',
                   '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu'}


def _dirs():
    inc, lib = os.environ.get('UML_INCLUDE_DIR'), os.environ.get('UML_LIBRARY_DIR')
    if inc and lib:
        return [inc], [lib]
    try:
        out = subprocess.run(['pkg-config', '--cflags-only-I', '--libs-only-L', 'libuml'],
                             check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit('build_ffi.py: libuml not found by pkg-config (%s); set UML_INCLUDE_DIR '
                 'and UML_LIBRARY_DIR' % e)
    args = shlex.split(out)
    return ([a[2:] for a in args if a.startswith('-I')],
            [a[2:] for a in args if a.startswith('-L')])


def make_builder():
    ffibuilder = FFI()
    ffibuilder.cdef(PRELUDE)
    with open(os.path.join(HERE, 'uml', '_cdef.h')) as f:
        ffibuilder.cdef(f.read())
    ffibuilder.cdef(CALLBACKS)
    include_dirs, library_dirs = _dirs()
    rpath = os.environ.get('UML_RPATH')
    ffibuilder.set_source(
        'uml._libuml', '#include <uml/libuml.h>\n#include <stdlib.h>\n',
        include_dirs=include_dirs, library_dirs=library_dirs, libraries=['uml'],
        runtime_library_dirs=[rpath] if rpath and rpath not in SYSTEM_LIB_DIRS else [],
        extra_compile_args=['-Wall', '-Wno-unused-parameter', '-Werror=incompatible-pointer-types'])
    return ffibuilder


if __name__ == '__main__':
    outdir = sys.argv[1] if len(sys.argv) > 1 else '.'
    make_builder().compile(tmpdir=outdir, verbose=bool(os.environ.get('V')))

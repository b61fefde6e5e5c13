# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures for the uml tests: a private runtime directory per test (checked
to be empty afterwards, so no test leaves a guest or its files behind) and
busybox images made through the bindings."""
import os

import pytest

import uml

KERNEL = os.environ.get('UML_KERNEL', '/usr/bin/linux.uml')

# tests/test-python.sh preloads the sanitizer runtime for a sanitizer build;
# this process has it now, the guest kernels must not inherit it.
if os.environ.pop('UML_TEST_DROP_PRELOAD', None):
    os.environ.pop('LD_PRELOAD', None)


def pytest_report_header(config):
    return 'uml from %s, kernel %s' % (os.path.dirname(uml.__file__), KERNEL)


@pytest.fixture
def ctx(tmp_path):
    """A Context whose guests keep their runtime files in tmp_path/run."""
    run = tmp_path / 'run'
    c = uml.Context(runtime_dir=str(run))
    yield c
    left = os.listdir(run) if run.exists() else []
    assert left == [], 'guest runtime files left behind: %r' % left


@pytest.fixture
def kernel(ctx):
    if not os.access(KERNEL, os.X_OK):
        pytest.skip('no UML kernel at %s (Debian: user-mode-linux)' % KERNEL)
    return uml.Kernel(KERNEL, context=ctx)


@pytest.fixture
def make_image(ctx, tmp_path):
    """make_image(name='guest') -> a fresh busybox Rootfs under tmp_path."""
    if not os.path.exists('/bin/busybox'):
        pytest.skip('no static busybox (Debian: busybox-static)')

    def make(name='guest'):
        return uml.Rootfs(str(tmp_path / (name + '.img')), context=ctx).create_busybox()
    return make


@pytest.fixture
def image(make_image):
    return make_image()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes only once reaped; libuml reaps
    with open('/proc/%d/stat' % pid) as f:
        return f.read().split(') ', 1)[1][0] != 'Z'


@pytest.fixture(scope='session')
def srcdir():
    return os.environ.get('UML_TEST_SRCDIR') or os.path.abspath(
        os.path.join(os.path.dirname(__file__), '..', '..', '..'))


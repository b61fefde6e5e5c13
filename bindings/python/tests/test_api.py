# SPDX-License-Identifier: LGPL-2.1-or-later
"""The bindings without booting: errors, callbacks, configuration, docs."""
import errno
import os
import pydoc
import subprocess
import syslog

import pytest

import uml
from uml import _libuml


def test_bad_kernel_path_raises_file_not_found_with_the_path():
    path = '/nonexistent/dir/linux-%d' % os.getpid()
    with pytest.raises(FileNotFoundError) as e:
        uml.Kernel(path)
    assert e.value.errno == errno.ENOENT
    assert path in str(e.value)


def test_kernel_errors_map_to_oserror_subclasses(tmp_path):
    with pytest.raises(IsADirectoryError):
        uml.Kernel(str(tmp_path))
    script = tmp_path / 'linux'
    script.write_text('#!/bin/sh\n')
    script.chmod(0o644)
    with pytest.raises(PermissionError) as e:
        uml.Kernel(str(script))
    assert str(script) in str(e.value)
    script.chmod(0o755)
    with pytest.raises(OSError) as e:
        uml.Kernel(str(script))
    assert e.value.errno == errno.ENOEXEC
    with pytest.raises(OSError) as e:
        uml.Kernel('/bin/true')
    assert e.value.errno == errno.EMEDIUMTYPE and '/bin/true' in str(e.value)


def test_kernel_find_and_probe(kernel):
    found = uml.Kernel.find(context=kernel.context)
    assert os.path.isabs(found.path)
    out = subprocess.run([kernel.path, '--version'], capture_output=True, text=True).stdout
    assert kernel.version == out.strip()
    assert kernel.config('CONFIG_UML') == 'y'
    assert kernel.config('UML') == 'y'
    assert kernel.config('NO_SUCH_OPTION_AT_ALL') is None
    with pytest.raises(OSError) as e:
        kernel.config('bad option')
    assert e.value.errno == errno.EINVAL
    assert kernel.is_static is False
    assert repr(kernel) == "<uml.Kernel '%s'>" % kernel.path


def test_log_callback_gets_libuml_messages():
    got = []
    ctx = uml.Context(log=lambda prio, msg: got.append((prio, msg)))
    with pytest.raises(FileNotFoundError):
        uml.Kernel('/nonexistent/linux', context=ctx)
    assert (syslog.LOG_ERR, "kernel '/nonexistent/linux' does not exist") in got
    assert ctx.last_error == "kernel '/nonexistent/linux' does not exist"


def test_log_priority():
    ctx = uml.Context(log_priority='debug')
    assert ctx.log_priority == syslog.LOG_DEBUG
    ctx.log_priority = syslog.LOG_INFO
    assert ctx.log_priority == syslog.LOG_INFO
    with pytest.raises(ValueError):
        ctx.log_priority = 'chatty'


def test_exception_in_log_callback_is_reraised_after_the_call():
    class Boom(Exception):
        pass
    calls = []

    def log(prio, msg):
        calls.append(msg)
        raise Boom(msg)
    ctx = uml.Context(log=log)
    with pytest.raises(Boom) as e:
        uml.Kernel('/nonexistent/linux', context=ctx)
    assert 'does not exist' in str(e.value)
    assert len(calls) == 1
    # kept only until re-raised: the next call is not affected
    ctx.set_log(None)
    with pytest.raises(FileNotFoundError):
        uml.Kernel('/nonexistent/linux', context=ctx)


def test_runtime_dir_and_hostcompat(tmp_path):
    ctx = uml.Context(runtime_dir=str(tmp_path), hostcompat=uml.HostCompat.OFF)
    assert ctx.runtime_dir == str(tmp_path)
    with pytest.raises(OSError) as e:
        ctx.runtime_dir = 'relative/dir'
    assert e.value.errno == errno.EINVAL
    assert isinstance(ctx.host_needs_compat, bool)
    with pytest.raises(OSError):
        ctx.set_hostcompat(17)
    assert ctx.sandbox == uml.Sandbox.AUTO
    ctx.sandbox = uml.Sandbox.OFF
    assert uml.Context(sandbox=uml.Sandbox.REQUIRE).sandbox == uml.Sandbox.REQUIRE
    with pytest.raises(ValueError):
        ctx.sandbox = 17


def test_rootfs_progress_and_errors(tmp_path):
    src = tmp_path / 'tree'
    (src / 'etc').mkdir(parents=True)
    for i in range(20):
        (src / 'etc' / ('f%d' % i)).write_text('x' * i)
    seen = []
    ctx = uml.Context(progress=seen.append)
    img = uml.Rootfs(str(tmp_path / 'a.img'), size='8M', fs_type=uml.FsType.EXT2, context=ctx)
    assert img.create_from_dir(str(src)) is img
    assert img.open() is img
    assert os.path.getsize(img.path) == 8 << 20
    assert seen and all(isinstance(p, uml.Progress) for p in seen)
    assert seen[-1].total and seen[-1].done == seen[-1].total
    with pytest.raises(FileExistsError) as e:
        img.create_from_dir(str(src))
    assert img.path in str(e.value) and img.last_error
    img.create_from_dir(str(src), overwrite=True)
    with pytest.raises(FileNotFoundError):
        uml.Rootfs(str(tmp_path / 'b.img'), context=ctx).create_from_dir(str(tmp_path / 'none'))
    with pytest.raises(FileNotFoundError):
        uml.Rootfs(str(tmp_path / 'missing.img')).open()
    with pytest.raises(OSError) as e:
        img.set_size(1000)
    assert e.value.errno == errno.ERANGE
    with pytest.raises(ValueError):
        img.set_size('lots')


def test_progress_cancel_and_exception(tmp_path):
    src = tmp_path / 'tree'
    src.mkdir()
    for i in range(10):
        (src / ('f%d' % i)).write_text('data')
    ctx = uml.Context(progress=lambda p: False)
    with pytest.raises(OSError) as e:
        uml.Rootfs(str(tmp_path / 'c.img'), context=ctx).create_from_dir(str(src))
    assert e.value.errno == errno.ECANCELED
    assert not (tmp_path / 'c.img').exists()

    def boom(p):
        raise KeyError('from progress')
    ctx.set_progress(boom)
    with pytest.raises(KeyError, match='from progress'):
        uml.Rootfs(str(tmp_path / 'd.img'), context=ctx).create_from_dir(str(src))
    assert not (tmp_path / 'd.img').exists()
    assert [f for f in os.listdir(tmp_path) if f != 'tree'] == []


def test_boot_profile(kernel, tmp_path):
    vm = uml.Instance(kernel, str(tmp_path / 'g.img'))
    raid6 = kernel.config('RAID6_PQ_BENCHMARK') in ('y', 'm')
    assert ('initcall_blacklist=raid6_select_algo' in vm.argv) == raid6
    vm.set_boot_profile(False)
    assert not any(a.startswith('initcall_blacklist=') for a in vm.argv)
    vm.set_boot_profile()
    assert ('initcall_blacklist=raid6_select_algo' in vm.argv) == raid6


def test_instance_configuration(kernel, tmp_path):
    vm = uml.Instance(kernel, str(tmp_path / 'g.img'), memory='128M', umid='py-conf-test',
                      args=['loglevel=4'], init='/sbin/init')
    argv = vm.argv
    assert argv[0] == kernel.path
    assert 'mem=128M' in argv and 'loglevel=4' in argv and 'init=/sbin/init' in argv
    assert any(a.startswith('umid=py-conf-test') for a in argv)
    assert vm.umid == 'py-conf-test'
    assert vm.state == uml.State.CONFIGURING and vm.exit_reason == uml.ExitReason.NONE
    assert vm.pid == 0 and vm.run_status is None and vm.run_output is None
    for bad in ('mem=1G', 'two words', 'ubd0=/etc/passwd'):
        with pytest.raises(OSError) as e:
            vm.append_arg(bad)
        assert e.value.errno == errno.EINVAL and vm.last_error
    with pytest.raises(OSError) as e:
        vm.set_umid('../escape')
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        vm.set_memory(1 << 20)
    assert e.value.errno == errno.ERANGE
    with pytest.raises(OSError) as e:
        vm.fileno()
    assert e.value.errno == errno.ENOTCONN
    with pytest.raises(OSError) as e:
        vm.wait(0)
    assert e.value.errno == errno.ENOTCONN
    vm.halt()   # never booted: nothing to do
    assert vm.deadline() is None and vm.process() is False


def test_missing_image_fails_boot(kernel, tmp_path):
    vm = uml.Instance(kernel, str(tmp_path / 'nothing.img'))
    with pytest.raises(FileNotFoundError) as e:
        vm.boot()
    assert 'nothing.img' in str(e.value)
    assert vm.state == uml.State.CONFIGURING


def test_enums_follow_the_c_api():
    assert str(uml.ExitReason.PANIC) == 'panic'
    assert str(uml.ExitReason.POWEROFF) == 'poweroff'
    assert uml.State.EXITED == _libuml.lib.UML_STATE_EXITED
    assert uml.BUSYBOX_READY_MARKER == 'libuml: guest ready'
    for reason in uml.ExitReason:
        assert _libuml.lib.uml_exit_reason_to_string(reason) != _libuml.ffi.NULL


def test_help_reads_like_a_manual():
    text = pydoc.render_doc(uml.Instance, renderer=pydoc.plaintext)
    for words in ('one-shot', 'wait_ready', 'fileno', 'exit_reason', 'panic_message',
                  'halts', 'asyncio', 'on_console', 'Raises'):
        assert words in text, words
    for obj in (uml, uml.Context, uml.Kernel, uml.Rootfs, uml.Instance, uml.run):
        assert obj.__doc__ and len(obj.__doc__) > 80
    public = [getattr(c, n) for c in (uml.Context, uml.Kernel, uml.Rootfs, uml.Instance)
              for n in dir(c) if not n.startswith('_')]
    undocumented = [f for f in public if callable(f) and not getattr(f, '__doc__', None)]
    assert undocumented == []

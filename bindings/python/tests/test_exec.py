# SPDX-License-Identifier: LGPL-2.1-or-later
"""The exec channel from Python: commands, stdin, files, hostfs shares."""
import errno
import os
import signal

import pytest

import uml


def test_exec_commands_and_files(kernel, image, tmp_path):
    share = tmp_path / 'share'
    share.mkdir()
    (share / 'hello').write_bytes(b'from host\n')
    vm = uml.Instance(kernel, image, sandbox=uml.Sandbox.REQUIRE)
    vm.enable_exec()
    vm.add_hostfs(share, '/srv/share', readonly=True)
    with vm:
        vm.wait_ready(timeout=120)
        assert vm.sandboxed
        # hostfs shows the sandbox, not the host
        view = vm.exec('mkdir -p /m && mount -t hostfs none /m -o / && ls /m/etc; '
                       'test -e /m/etc/shadow')
        assert view.returncode == 1 and b'passwd' in view.stdout
        r = vm.exec(['sh', '-c', 'cat; echo err >&2; exit 5'], input=b'\0\1binary')
        assert r == uml.ExecResult(5, b'\0\1binary', b'err\n', False)
        assert vm.exec('kill -KILL $$').returncode == -signal.SIGKILL
        t = vm.exec(['sleep', '60'], timeout=0.5)
        assert t.timed_out and t.returncode == -signal.SIGKILL
        with pytest.raises(FileNotFoundError):
            vm.exec(['/no/such/program'])
        assert vm.exec('cat /srv/share/hello').stdout == b'from host\n'
        assert vm.exec('touch /srv/share/x').returncode != 0
        src = tmp_path / 'src'
        src.write_bytes(bytes(range(256)) * 10)
        vm.copy_in(src, '/root/copy')
        vm.copy_out('/root/copy', tmp_path / 'back')
        assert (tmp_path / 'back').read_bytes() == src.read_bytes()
    assert not os.path.exists(share / 'x')
    with pytest.raises(OSError) as e:
        vm.exec(['true'])
    assert e.value.errno == errno.ENOTCONN and 'has ended' in str(e.value)


def test_context_exec_without_guest(ctx):
    with pytest.raises(OSError) as e:
        ctx.exec('no-such-guest', ['true'])
    assert e.value.errno == errno.ENOTCONN

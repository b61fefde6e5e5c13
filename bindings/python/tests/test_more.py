# SPDX-License-Identifier: LGPL-2.1-or-later
"""Files in images, COW overlays, mconsole, live disks and kernel builds."""
import errno
import os
import selectors
import stat
import threading

import pytest

import uml


def test_files_in_an_image(image, tmp_path):
    tree = tmp_path / 'tree'
    (tree / 'sub').mkdir(parents=True)
    (tree / 'sub' / 'hello').write_text('hello, guest\n')
    os.chmod(tree / 'sub' / 'hello', 0o640)
    os.utime(tree / 'sub' / 'hello', ns=(1234567890123456789, 1234567890123456789))
    image.copy_in(str(tree), '/tree')
    assert image.read_file('/tree/sub/hello') == b'hello, guest\n'
    entries = image.list_dir('/tree/sub')
    assert [e.name for e in entries] == ['hello']
    e = entries[0]
    assert stat.S_ISREG(e.mode) and stat.S_IMODE(e.mode) == 0o640
    assert e.size == 13 and e.nlink == 1 and e.mtime_ns == 1234567890123456789
    assert 'bin' in [x.name for x in image.list_dir('/')]
    with pytest.raises(FileExistsError):
        image.copy_in(str(tree / 'sub' / 'hello'), '/tree/sub/hello')
    image.copy_in(str(tree / 'sub' / 'hello'), '/tree/sub/hello', overwrite=True)
    with pytest.raises(FileNotFoundError) as exc:
        image.read_file('/no/such/file')
    assert image.last_error and exc.value.errno == errno.ENOENT
    with pytest.raises(IsADirectoryError):
        image.read_file('/tree')
    assert 'tree' in [x.name for x in image.list_dir('/')]
    image.remove('/tree')
    assert 'tree' not in [x.name for x in image.list_dir('/')]
    size = os.path.getsize(image.path)
    image.resize(size + (16 << 20))
    assert os.path.getsize(image.path) == size + (16 << 20)
    with pytest.raises(OSError) as exc:
        image.resize(size)
    assert exc.value.errno == errno.ERANGE


def test_cow_overlays(kernel, image, tmp_path):
    cow = image.create_cow(str(tmp_path / 'a.cow'))
    assert cow.backing == image.path and image.backing is None
    assert cow.cow_written == 0
    cow.cow_check()
    write = 'mount -t proc p /proc 2>/dev/null; mount -o remount,rw /; echo written > /stamp && sync'
    with uml.Instance(kernel, cow, run=write) as vm:
        vm.wait(timeout=120)
    assert vm.run_status == 0
    assert cow.cow_written > 0
    again = uml.Rootfs.open_cow(str(tmp_path / 'a.cow'), context=kernel.context)
    assert again.backing == image.path
    merged = cow.cow_merge(str(tmp_path / 'merged.img'))
    assert merged.read_file('/stamp') == b'written\n'
    with pytest.raises(FileNotFoundError):
        image.read_file('/stamp')    # the backing image was not touched
    with pytest.raises(FileExistsError):
        image.create_cow(str(tmp_path / 'a.cow'))
    with pytest.raises(OSError) as exc:
        uml.Rootfs.open_cow(image.path)
    assert exc.value.errno == errno.EMEDIUMTYPE and image.path in str(exc.value)
    os.utime(image.path, (1, 1))
    with pytest.raises(OSError) as exc:
        cow.cow_check()
    assert exc.value.errno == errno.ESTALE


def test_mconsole(kernel, image, ctx, make_image):
    with uml.Instance(kernel, image, umid='py-mconsole-test') as vm:
        vm.wait_ready(timeout=120)
        assert kernel.version in vm.mconsole_version()
        assert 'halt' in vm.mconsole_help()
        assert 'MemTotal' in vm.mconsole_proc('meminfo')
        assert kernel.version in vm.mconsole('version')
        assert kernel.version in ctx.mconsole('py-mconsole-test', 'version')
        with pytest.raises(FileNotFoundError):
            ctx.mconsole('no-such-guest', 'version')
        vm.mconsole_stop()
        with pytest.raises(OSError) as exc:
            vm.mconsole_stop()
        assert exc.value.errno == errno.EREMOTEIO and vm.last_error
        vm.mconsole_go()
        vm.mconsole_log('hello from the host')
        vm.mconsole_sysrq('s')
        with pytest.raises(ValueError):
            vm.mconsole_sysrq('ss')
        vm.mconsole_stack(1)
        assert vm.mconsole_config_get('ubd0') == image.path
        disk = make_image('extra')
        vm.add_disk_live(1, disk, readonly=True)
        # a sandboxed kernel opens the disk through its sandbox's keeper
        assert vm.mconsole_config_get('ubd1').startswith('/proc/' if vm.sandboxed else disk.path)
        vm.remove_disk_live(1)
        if vm.sandboxed:
            # the raw command passes a host path the sandbox does not show
            with pytest.raises(OSError) as exc:
                vm.mconsole_config('ubd2=' + disk.path)
            assert exc.value.errno == errno.EREMOTEIO
        else:
            vm.mconsole_config('ubd2=' + disk.path)
            vm.mconsole_remove('ubd2')
        with pytest.raises(OSError) as exc:
            vm.mconsole_remove('ubd2')
        assert exc.value.errno in (errno.EREMOTEIO, errno.ENODEV)
        vm.mconsole_halt()
        vm.wait(timeout=60)
    assert vm.exit_reason == uml.ExitReason.HALT
    with pytest.raises(OSError) as exc:
        vm.mconsole_version()
    assert exc.value.errno == errno.ENOTCONN


def test_kernel_build_settings_and_errors(tmp_path):
    assert 'CONFIG_' in uml.KernelBuild.preset_text('fast')
    assert uml.KernelBuild.preset_text('defconfig') is None
    b = uml.KernelBuild(cache_dir=str(tmp_path / 'cache'), jobs=2, options=['CONFIG_KUNIT=y'],
                        fail_on_conflict=True)
    with pytest.raises(OSError) as exc:
        b.set_preset('hugeconfig')
    assert exc.value.errno == errno.EINVAL and 'fast' in str(exc.value)
    with pytest.raises(OSError) as exc:
        b.add_option('not an option')
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(FileNotFoundError):
        b.add_fragment_file(str(tmp_path / 'missing.config'))
    b.set_source(str(tmp_path / 'no-linux-here'))
    with pytest.raises(FileNotFoundError) as exc:
        b.run()
    assert 'no-linux-here' in str(exc.value)
    assert b.dropped_options == [] and b.conflicts == [] and b.was_up_to_date is False


SOURCE = '/usr/src/linux-source-6.12.tar.xz'


@pytest.mark.skipif(not os.path.exists(SOURCE), reason='no ' + SOURCE)
def test_kernel_build_progress_exception_cancels_the_build(tmp_path):
    class Enough(Exception):
        pass
    seen = []

    def progress(p):
        seen.append(p)
        raise Enough(p.phase)
    ctx = uml.Context(progress=progress)
    b = uml.KernelBuild(SOURCE, cache_dir=str(tmp_path / 'cache'),
                        build_dir=str(tmp_path / 'build'), context=ctx)
    with pytest.raises(Enough):
        b.run()
    assert len(seen) == 1 and seen[0].phase


def test_exec_by_umid_while_the_owner_runs_its_loop(kernel, image, ctx, tmp_path):
    """Context.exec reaches a guest by umid; constructor arguments for exec."""
    share = tmp_path / 'share'
    share.mkdir()
    other = uml.Context(runtime_dir=ctx.runtime_dir)
    with uml.Instance(kernel, image, umid='py-exec-umid', enable_exec=True,
                      hostfs=[(str(share), '/mnt/share')]) as vm:
        vm.wait_ready(timeout=120)
        result = []

        def ask():
            try:
                result.append(other.exec('py-exec-umid', 'echo by umid > /mnt/share/f; echo ok'))
            except BaseException as e:
                result.append(e)
        t = threading.Thread(target=ask)
        t.start()
        with selectors.DefaultSelector() as sel:
            sel.register(vm, selectors.EVENT_READ)
            while t.is_alive():
                sel.select(timeout=0.2)
                vm.process()
        t.join()
        assert result and isinstance(result[0], uml.ExecResult), result
        assert result[0].stdout == b'ok\n' and result[0].returncode == 0
        assert (share / 'f').read_text() == 'by umid\n'
    with pytest.raises(OSError) as exc:
        other.exec('py-exec-umid', ['true'])
    assert exc.value.errno == errno.ENOTCONN

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real guests: Debian's UML kernel booting busybox images made through the
bindings.  Every test checks (through the ctx fixture) that no runtime
files are left behind."""
import asyncio
import errno
import gc
import os
import selectors

import pytest

import uml
from conftest import pid_alive


def test_one_shot_command(kernel, image):
    lines = []
    with uml.Instance(kernel, image, run='uname -r; echo to-stderr >&2; exit 3',
                      on_console=lines.append) as vm:
        assert vm.wait(timeout=120) == uml.ExitReason.HALT
    assert vm.run_status == 3
    assert vm.run_output == '%s\nto-stderr\n' % kernel.version
    assert vm.state == uml.State.EXITED and vm.pid == 0
    # the callback received the console lines, which the console log holds too
    assert any(line.startswith('Linux version ' + kernel.version) for line in lines)
    log = vm.console_log.splitlines()
    assert all(line in log for line in lines)


def test_run_helper(kernel, ctx):
    r = uml.run('echo hello from $(uname -s); exit 7', kernel=kernel)
    assert r.returncode == 7
    assert r.output == 'hello from Linux\n'
    assert r.exit_reason == uml.ExitReason.HALT and r.panic_message is None


def test_events(kernel, image):
    events = []
    with uml.Instance(kernel, image, run='true', on_event=events.append) as vm:
        vm.wait(timeout=120)
    types = [e.type for e in events]
    assert uml.EventType.CONSOLE_LINE in types
    assert types[-1] == uml.EventType.EXITED and events[-1].text == 'halt'
    assert types.index(uml.EventType.KERNEL_UP) < types.index(uml.EventType.EXITED)
    lines = [e for e in events if e.type == uml.EventType.CONSOLE_LINE]
    assert all(e.data.decode() == e.text for e in lines)
    raw = b''.join(e.data for e in events if e.type == uml.EventType.CONSOLE_OUTPUT)
    assert lines[0].data in raw


def test_panic_is_reported(kernel, image):
    vm = uml.Instance(kernel, image, run='mount -t proc proc /proc; echo c > /proc/sysrq-trigger; echo survived')
    vm.boot()
    assert vm.wait(timeout=120) == uml.ExitReason.PANIC
    assert vm.exit_reason == uml.ExitReason.PANIC and str(vm.exit_reason) == 'panic'
    assert 'sysrq triggered crash' in vm.panic_message
    assert vm.run_status is None
    assert 'survived' not in (vm.run_output or '')


def test_guest_ending_before_ready_raises(kernel, image):
    with uml.Instance(kernel, image, init='/no/such/init') as vm:
        with pytest.raises(ChildProcessError) as e:
            vm.wait_ready(timeout=120)
        assert e.value.errno == errno.ECHILD
        assert vm.umid in str(e.value)
    assert vm.exit_reason == uml.ExitReason.NO_INIT
    assert vm.panic_message


def test_wait_ready_timeout_raises_timeout_error(kernel, image):
    with uml.Instance(kernel, image, ready_marker='this text never appears') as vm:
        with pytest.raises(TimeoutError) as e:
            vm.wait_ready(timeout=0.5)
        assert e.value.errno == errno.ETIMEDOUT
        assert vm.state == uml.State.BOOTING    # still runs
    assert vm.state == uml.State.EXITED


def test_interactive_console_with_selectors(kernel, image):
    """fileno()/process()/deadline() in a selectors loop, console input."""
    seen = []
    with uml.Instance(kernel, image, on_console=seen.append) as vm:
        vm.wait_ready(timeout=120)
        vm.write_console('echo answer-$((6 * 7))\n')
        sel = selectors.DefaultSelector()
        sel.register(vm, selectors.EVENT_READ)
        while 'answer-42' not in seen and vm.state != uml.State.EXITED:
            sel.select(timeout=1)
            vm.process()
        sel.close()
        assert 'answer-42' in seen
        vm.write_console('poweroff -f\n')
        # UML 6.1 says "System halted" for a power-off request too
        assert vm.wait(timeout=60) in (uml.ExitReason.POWEROFF, uml.ExitReason.HALT)


def test_no_leaked_guest_after_exception_in_with(kernel, image, ctx):
    class Stop(Exception):
        pass
    with pytest.raises(Stop):
        with uml.Instance(kernel, image) as vm:
            vm.wait_ready(timeout=120)
            pid = vm.pid
            assert pid_alive(pid)
            assert os.listdir(ctx.runtime_dir) != []
            raise Stop()
    assert vm.state == uml.State.EXITED
    assert vm.exit_reason in (uml.ExitReason.HALT, uml.ExitReason.KILLED)
    assert not pid_alive(pid)
    assert os.listdir(ctx.runtime_dir) == []


def test_exception_in_console_callback_reaches_the_caller(kernel, image, ctx):
    class Seen(Exception):
        pass

    def on_console(line):
        if line.startswith('Linux version'):
            raise Seen(line)
    with pytest.raises(Seen, match='Linux version'):
        with uml.Instance(kernel, image, on_console=on_console) as vm:
            vm.wait_ready(timeout=120)
    assert vm.state == uml.State.EXITED and os.listdir(ctx.runtime_dir) == []


def test_collected_instance_kills_its_guest(kernel, image, ctx):
    vm = uml.Instance(kernel, image, on_console=lambda line: None)
    vm.boot()
    pid = vm.pid
    assert pid_alive(pid)
    del vm
    gc.collect()
    assert not pid_alive(pid)
    assert os.listdir(ctx.runtime_dir) == []


def test_guest_timeout(kernel, image):
    with uml.Instance(kernel, image, run='sleep 600', timeout=5) as vm:
        assert vm.wait(timeout=300) == uml.ExitReason.TIMEOUT
    assert vm.run_status is None


def test_eight_guests_from_asyncio(kernel, image, tmp_path):
    # one image, shared through a COW overlay per guest
    images = [image.create_cow(str(tmp_path / ('g%d.cow' % i))) for i in range(8)]

    async def one(i):
        async with uml.Instance(kernel, images[i], run='echo guest %d; exit %d' % (i, i)) as vm:
            await vm.wait_async(timeout=300)
        return vm

    async def main():
        return await asyncio.gather(*(one(i) for i in range(8)))
    vms = asyncio.run(main())
    assert [vm.run_output for vm in vms] == ['guest %d\n' % i for i in range(8)]
    assert [vm.run_status for vm in vms] == list(range(8))
    assert all(vm.state == uml.State.EXITED for vm in vms)


def test_async_wait_ready_and_halt(kernel, make_image):
    async def main():
        vms = [uml.Instance(kernel, make_image('a%d' % i)) for i in range(3)]
        for vm in vms:
            vm.boot()
        await asyncio.gather(*(vm.wait_ready_async(timeout=300) for vm in vms))
        states = [vm.state for vm in vms]
        for vm in vms:
            async with vm:
                pass
        return vms, states
    vms, states = asyncio.run(main())
    assert states == [uml.State.RUNNING] * 3
    assert [vm.exit_reason for vm in vms] == [uml.ExitReason.HALT] * 3


def test_async_timeout_and_early_end(kernel, image, make_image):
    async def main():
        with uml.Instance(kernel, image, ready_marker='never printed') as vm:
            with pytest.raises(TimeoutError):
                await vm.wait_ready_async(timeout=0.5)
        with uml.Instance(kernel, make_image('b'), init='/no/such/init') as vm2:
            with pytest.raises(ChildProcessError):
                await vm2.wait_ready_async(timeout=300)
        return vm2
    vm2 = asyncio.run(main())
    assert vm2.exit_reason == uml.ExitReason.NO_INIT

# SPDX-License-Identifier: LGPL-2.1-or-later
"""Networking: interfaces, a link between two guests, switches."""
import asyncio
import errno
import os
import shutil

import pytest

import uml


def test_interfaces_before_boot(kernel, tmp_path):
    vm = uml.Instance(kernel, str(tmp_path / 'x.img'), umid='py-net-conf')
    link = uml.Link(context=kernel.context)
    assert vm.add_nat() == 0
    with pytest.raises(FileExistsError):
        vm.add_nat()
    assert vm.add_link(link) == 1
    vm.set_iface_mac(1, '02:00:00:00:00:42')
    vm.set_iface_address(1, '10.1.0.1/24')
    vm.set_dns('10.0.2.3')
    names = [name for name, mac in vm.ifaces]
    assert names[0].startswith('eth') and names[1].startswith('vec')
    assert vm.ifaces[1][1] == '02:00:00:00:00:42'
    with pytest.raises(OSError) as exc:
        vm.set_iface_mac(1, '01:00:00:00:00:01')     # multicast
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(FileNotFoundError):
        vm.set_iface_address(7, '10.1.0.1/24')
    with pytest.raises(OSError) as exc:
        vm.set_iface_address(1, None, '10.1.0.254')
    assert exc.value.errno == errno.EINVAL
    with pytest.raises(OSError) as exc:
        uml.Switch('bad/name', context=kernel.context)
    assert exc.value.errno == errno.EINVAL


def test_two_guests_on_a_link(kernel, make_image):
    link = uml.Link(context=kernel.context)
    server = uml.Instance(kernel, make_image('server'))
    server.set_iface_address(server.add_link(link), '10.1.0.2/24')
    client = uml.Instance(kernel, make_image('client'), run='ping -c 1 -w 60 10.1.0.2')
    client.set_iface_address(client.add_link(link), '10.1.0.1/24')

    async def main():
        async with server, client:
            await server.wait_ready_async(timeout=120)
            await client.wait_async(timeout=120)
    asyncio.run(main())
    assert client.run_status == 0, client.run_output
    assert '1 packets received' in client.run_output


@pytest.mark.skipif(not shutil.which('vde_switch'), reason='no vde_switch (Debian: vde2)')
def test_switch_runs_and_stops(ctx):
    sw = uml.Switch('pytest', context=ctx).start()
    pid = sw.pid
    assert pid > 0 and os.path.isdir(sw.path)
    assert sw.path.startswith(ctx.runtime_dir)
    del sw
    import gc
    gc.collect()
    assert not os.path.exists(os.path.join(ctx.runtime_dir, 'switch-pytest'))

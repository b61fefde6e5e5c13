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
    assert names == ['vec0', 'vec1']
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


def _fetch(port):
    """GET / from 127.0.0.1:port, b'' when nothing answers yet."""
    import socket
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
            s.sendall(b'GET / HTTP/1.0\r\n\r\n')
            data = b''
            while chunk := s.recv(4096):
                data += chunk
            return data
    except OSError:
        return b''


def test_nat_port_forwards(kernel, make_image):
    vm = uml.Instance(kernel, make_image('natfwd'),
                      run='mount -t tmpfs t /mnt && echo hello-python >/mnt/index.html && '
                          'httpd -p 80 -h /mnt && sleep 600')
    vm.add_nat(forwards=[('tcp', '127.0.0.1', 0, 80)])
    assert vm.port_forwards() == [('tcp', '127.0.0.1', 0, 80)]
    with pytest.raises(ValueError):
        vm.add_port_forward('sctp', None, 0, 80)

    async def fetch_until(port, text):
        loop = asyncio.get_running_loop()
        for _ in range(240):
            vm.process()     # a one-shot guest gets its command from the event loop
            if text in await loop.run_in_executor(None, _fetch, port):
                return True
            await asyncio.sleep(0.5)
        return False

    async def main():
        async with vm:
            proto, addr, port, guest = vm.port_forwards()[0]
            assert port > 0 and guest == 80
            assert await fetch_until(port, b'hello-python')
            # one more while it runs, then taken away
            index = vm.add_port_forward('tcp', None, 0, 80)
            port2 = vm.port_forwards()[index][2]
            assert port2 not in (0, port)
            assert await fetch_until(port2, b'hello-python')
            vm.remove_port_forward('tcp', None, port2)
            assert len(vm.port_forwards()) == 1
            # as another process would (uml-ctl UMID hostfwd ...)
            port3 = kernel.context.add_port_forward(vm.umid, 'tcp', None, 0, 80)
            assert f'hostfwd tcp 127.0.0.1 {port3} 10.0.2.15 80' in \
                kernel.context.port_forwards(vm.umid)
            assert await fetch_until(port3, b'hello-python')
            kernel.context.remove_port_forward(vm.umid, 'tcp', None, port3)
            with pytest.raises(OSError) as exc:
                vm.add_port_forward('tcp', '127.0.0.1', port, 80)
            assert exc.value.errno == errno.EEXIST
    asyncio.run(main())

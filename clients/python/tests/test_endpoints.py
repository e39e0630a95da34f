"""Endpoints as PROTOCOL.md ("Transport") defines them, and a client used after ``close()``."""
import asyncio

import numpy as np
import pytest
import zmq

import recpool
from recpool import wire
from pools import DirectPool


@pytest.mark.parametrize("endpoint, message", [
    ("localhost:5555", "endpoint must be tcp://HOST:PORT, ipc://PATH or inproc://NAME, got 'localhost:5555'"),
    (5555, "endpoint must be a string such as tcp://127.0.0.1:5555, got 5555"),
    ("tcp://127.0.0.1", "endpoint 'tcp://127.0.0.1' must be tcp://HOST:PORT with a port in 1-65535"),
    ("tcp://127.0.0.1:99999", "must be tcp://HOST:PORT with a port in 1-65535"),
    ("tcp://127.0.0.1:*", "must be tcp://HOST:PORT with a port in 1-65535"),
    ("tcp://:5555", "must be tcp://HOST:PORT with a port in 1-65535"),
    ("tcp://::1:5555", "the host must be an IPv4 address, a host name or an IPv6 address in brackets"),
    ("tcp://[::1:5555", "an IPv6 address goes in brackets"),
    ("udp://127.0.0.1:5555", "endpoint must be tcp://HOST:PORT, ipc://PATH or inproc://NAME"),
    ("ipc://", "names no ipc path"),
    # Digits that are not ASCII: "²" failed inside int(), and "٣" (Arabic-Indic 3) was read as port 3.
    ("tcp://127.0.0.1:4220\u00b2", "endpoint 'tcp://127.0.0.1:4220\u00b2' must be tcp://HOST:PORT with a port in 1-65535"),
    ("tcp://127.0.0.1:\u0663", "endpoint 'tcp://127.0.0.1:\u0663' must be tcp://HOST:PORT with a port in 1-65535"),
])
def test_a_malformed_endpoint_is_refused_naming_it_by_both_clients(endpoint, message):
    for cls in (recpool.Client, recpool.AsyncClient):
        with pytest.raises(recpool.InvalidRequest) as caught:
            cls(endpoint)
        assert message in str(caught.value)


def test_endpoints_resolve_as_the_swift_peers_resolve_them():
    assert wire.resolve_endpoint("tcp://localhost:5555") == ("tcp://127.0.0.1:5555", False)
    assert wire.resolve_endpoint("tcp://[::1]:5555") == ("tcp://[::1]:5555", True)
    assert wire.resolve_endpoint("tcp://broker.example:5555") == ("tcp://broker.example:5555", False)
    assert wire.resolve_endpoint("ipc:///tmp/recpool.sock") == ("ipc:///tmp/recpool.sock", False)


def test_an_ipv6_endpoint_reaches_the_broker_from_both_clients():
    # Without ZMQ_IPV6 on the client's socket, libzmq never connects to [::1] and every call was a Timeout.
    pool = DirectPool(["--frontend", "tcp://[::1]:*"], workers=0)
    try:
        assert pool.frontend.startswith("tcp://[::1]:")
        with recpool.Client(pool.frontend, timeout=3) as client:
            assert client.status()["protocol_version"] == 1
            assert client._socket.getsockopt(zmq.IPV6) == 1

        async def main():
            async with recpool.AsyncClient(pool.frontend, timeout=3) as aclient:
                return await aclient.status()

        assert asyncio.run(main())["protocol_version"] == 1
    finally:
        pool.stop()


def test_a_call_after_close_raises_closed_not_a_zmq_error():
    client = recpool.Client("tcp://127.0.0.1:9", timeout=0.5)
    client.close()
    with pytest.raises(recpool.Closed, match="the client of tcp://127.0.0.1:9 is closed"):
        client.status()
    with pytest.raises(recpool.Closed):
        client.score(np.zeros((1, 4), np.float32))

    async def main():
        aclient = recpool.AsyncClient("tcp://127.0.0.1:9", timeout=5)
        waiting = asyncio.ensure_future(aclient.status())
        await asyncio.sleep(0.05)
        await aclient.close()
        with pytest.raises(recpool.Closed, match="was closed while the call waited"):
            await waiting
        with pytest.raises(recpool.Closed, match="is closed"):
            await aclient.status()

    asyncio.run(main())


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_call_that_timed_out_with_the_broker_down_never_reaches_it_later(tmp_path, asynchronous):
    """A `promote` sent while the broker was down was kept in the DEALER's queue and ran when the broker came back,
    after the caller was told Timeout; with ZMQ_IMMEDIATE it is never queued. The "broker" here is a ROUTER bound
    on the same ipc path after the timeout: it must receive nothing."""
    endpoint = f"ipc://{tmp_path}/broker.ipc"
    client = recpool.AsyncClient(endpoint, timeout=0.3) if asynchronous else recpool.Client(endpoint, timeout=0.3)
    try:
        # Both clients say nothing was sent (the async one said "no reply", as if the broker had it).
        with pytest.raises(recpool.Timeout, match="could not send CONTROL .* within its deadline \\(no connection\\)"):
            if asynchronous:
                asyncio.run(client.promote(2))
            else:
                client.promote(2)
        router = zmq.Context.instance().socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.bind(endpoint)
        try:
            assert router.poll(1500) == 0, "the timed-out request reached the broker"
        finally:
            router.close(0)
    finally:
        if asynchronous:
            asyncio.run(client.close()) if asyncio.iscoroutinefunction(client.close) else client.close()
        else:
            client.close()


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_host_name_that_does_not_resolve_is_named_in_the_timeout(asynchronous):
    """A host name that never resolves showed only as "(no connection)" after the deadline; the CLI names it."""
    endpoint = "tcp://recpool-no-such-host.invalid:7698"
    # The client waits half a second for the resolver's answer: a machine whose resolver is slower says nothing here.
    import socket
    import time
    started = time.monotonic()
    try:
        socket.getaddrinfo("recpool-no-such-host.invalid", 7698, type=socket.SOCK_STREAM)
    except socket.gaierror:
        pass
    if time.monotonic() - started > 0.4:
        pytest.skip("this machine's resolver takes more than 0.4 s to answer for a .invalid name")
    client = recpool.AsyncClient(endpoint, timeout=0.3) if asynchronous else recpool.Client(endpoint, timeout=0.3)
    try:
        with pytest.raises(recpool.Timeout,
                           match="no connection: the host 'recpool-no-such-host.invalid' cannot be resolved"):
            if asynchronous:
                asyncio.run(client.status())
            else:
                client.status()
    finally:
        if asynchronous:
            asyncio.run(client.close()) if asyncio.iscoroutinefunction(client.close) else client.close()
        else:
            client.close()

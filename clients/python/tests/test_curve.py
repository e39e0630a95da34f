"""CURVE: keys from `recpool keygen`, roles, and an unknown key; plus EXPIRED feedback, on a secured
online pool with a one-second feedback window."""
import subprocess
import time

import numpy as np
import pytest
import zmq

import recpool
from pools import DirectPool, binary, wait_for


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    directory = tmp_path_factory.mktemp("keys")
    for name in ("broker", "worker", "alice", "ci", "mallory"):
        subprocess.run([binary("recpool"), "keygen", "--out", str(directory), "--name", name], check=True,
                       capture_output=True)
    return directory


@pytest.fixture(scope="module")
def secure(keys, tmp_path_factory):
    pool = DirectPool(
        ["--curve-key", str(keys / "broker.key"), "--allow-clients", str(keys / "alice.pub"),
         "--allow-trainers", str(keys / "ci.pub"), "--allow-workers", str(keys / "worker.pub"),
         "--online", "--state-dir", str(tmp_path_factory.mktemp("secure-state")), "--feedback-window-s", "1"],
        ["--curve-server-key", str(keys / "broker.pub"), "--curve-key", str(keys / "worker.key")],
        workers=1, client_options={"server_key": keys / "broker.pub", "client_key": keys / "ci.key"})
    yield pool
    pool.stop()


def test_a_client_key_scores_recommends_and_gives_feedback(secure, keys):
    with recpool.Client(secure.frontend, server_key=keys / "broker.pub", client_key=keys / "alice.key") as c:
        assert c.health().live_workers == 1
        assert len(c.score(np.zeros((3, 106), np.float32))) == 3
        slate = c.recommend(top=2)
        assert not c.feedback(slate.impression_id, slate.items[0], 1).duplicate


def test_a_client_key_may_not_promote_and_gets_unauthorized_naming_the_role(secure, keys):
    with recpool.Client(secure.frontend, server_key=keys / "broker.pub", client_key=keys / "alice.key") as c:
        with pytest.raises(recpool.Unauthorized, match="client"):
            c.promote(1)
        assert c.models() == []  # reading the registry is allowed


def test_a_trainer_key_may_use_the_control_plane(secure, keys):
    with recpool.Client(secure.frontend, server_key=keys / "broker.pub", client_key=keys / "ci.key") as c:
        with pytest.raises(recpool.NotFound):
            c.promote(1)  # admitted; there is simply no version 1
        assert c.jobs() == []


def test_a_key_that_is_not_allow_listed_is_told_at_once_that_the_broker_refused_it(secure, keys):
    """It waited for its whole timeout and raised a bare Timeout: libzmq reports the refusal only to a monitor."""
    with recpool.Client(secure.frontend, server_key=keys / "broker.pub", client_key=keys / "mallory.key",
                        timeout=60) as c:
        started = time.monotonic()
        with pytest.raises(recpool.HandshakeFailed, match="refused this client's CURVE key") as error:
            c.status()
        assert (error.value.reason, error.value.code) == ("refused", 400)
        # And again on the next call (within the second after a refusal it fails at once, without a new socket).
        with pytest.raises(recpool.HandshakeFailed, match="allow-list"):
            c.status()
        assert time.monotonic() - started < 30


def test_a_client_without_curve_and_one_pinning_another_key_are_told_why(secure, keys):
    # The mechanism mismatch at once, or (when the broker closes before the client reads its greeting, a few runs
    # in a hundred) the closed greeting at the deadline, naming CURVE too; never a bare Timeout.
    with recpool.Client(secure.frontend, timeout=5) as c:
        with pytest.raises(recpool.HandshakeFailed, match="only one side uses CURVE|it requires CURVE") as error:
            c.status()
        assert (error.value.reason, error.value.code) == ("protocol", 0x11000002) or error.value.reason == "closed"
    # The broker cannot open a HELLO sealed for another key and closes the connection; libzmq retries, so the call
    # ends at its deadline, saying why instead of a bare Timeout.
    with recpool.Client(secure.frontend, server_key=keys / "alice.pub", client_key=keys / "alice.key",
                        timeout=0.8, grace=0.1) as c:
        with pytest.raises(recpool.HandshakeFailed, match="server_key the broker's public key") as error:
            c.status()
        assert error.value.reason == "closed"


def test_a_refused_client_is_admitted_in_the_same_process_after_sighup(keys, tmp_path):
    import signal

    allow = tmp_path / "clients.allow"
    allow.write_text("# nobody yet\n")
    pool = DirectPool(["--curve-key", str(keys / "broker.key"), "--allow-clients", str(allow),
                       "--allow-workers", str(keys / "worker.pub")], workers=0)
    try:
        with recpool.Client(pool.frontend, server_key=keys / "broker.pub", client_key=keys / "mallory.key",
                            timeout=10) as c:
            with pytest.raises(recpool.HandshakeFailed):
                c.status()
            allow.write_text((keys / "mallory.pub").read_text())
            pool.children[0].send_signal(signal.SIGHUP)
            wait_for(lambda: _admitted(c), what="the refused key admitted after SIGHUP")
            assert c.status()["protocol_version"] == 1

        # The async client, with several calls waking together after a refusal: each closed and reopened the socket
        # another had just opened (CancelledError, then a client that never connected again).
        import asyncio

        allow.write_text("# nobody again\n")
        pool.children[0].send_signal(signal.SIGHUP)
        time.sleep(1.0)

        async def main():
            async with recpool.AsyncClient(pool.frontend, server_key=keys / "broker.pub",
                                           client_key=keys / "mallory.key", timeout=10) as c:
                with pytest.raises(recpool.HandshakeFailed):
                    await c.status()
                allow.write_text((keys / "mallory.pub").read_text())
                pool.children[0].send_signal(signal.SIGHUP)
                await asyncio.sleep(1.2)
                together = await asyncio.gather(*[c.status() for _ in range(3)], return_exceptions=True)
                return together, await c.status()

        together, after = asyncio.run(main())
        assert all(isinstance(r, dict) for r in together), together
        assert after["protocol_version"] == 1
    finally:
        pool.stop()


def test_a_client_without_curve_at_a_port_that_is_no_broker_is_not_told_its_server_key_is_wrong():
    """libzmq reports a peer that closes during the greeting as a handshake failure with no detail, with or without
    CURVE; without CURVE it is no server-key problem: the message names both causes it may be (a broker that
    requires CURVE, or a port that is not a broker's)."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    stop = threading.Event()

    def answer():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            connection.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        with recpool.Client(f"tcp://127.0.0.1:{port}", timeout=1.0, grace=0.1) as c:
            with pytest.raises(recpool.HandshakeFailed, match="it is not a RecPool broker's frontend") as error:
                c.health()
            assert error.value.reason == "closed" and "server_key the broker's" not in error.value.message
    finally:
        stop.set()
        thread.join()
        server.close()


def _admitted(client) -> bool:
    try:
        client.status()
        return True
    except recpool.HandshakeFailed:
        return False  # the broker had not re-read the list yet


def test_a_public_key_given_as_z85_text_works_like_the_file(secure, keys):
    z85 = (keys / "broker.pub").read_text().strip()
    with recpool.Client(secure.frontend, server_key=z85, client_key=keys / "alice.key") as c:
        assert c.status()["protocol_version"] == 1


def test_bad_key_arguments_are_refused_before_connecting(keys):
    with pytest.raises(recpool.InvalidRequest, match="both"):
        recpool.Client("tcp://127.0.0.1:1", server_key=keys / "broker.pub")
    with pytest.raises(recpool.InvalidRequest, match="secret-key"):
        recpool.Client("tcp://127.0.0.1:1", server_key=keys / "broker.pub", client_key=keys / "alice.pub")
    # The secret itself where its file's path belongs: refused without showing it (it was echoed into the error).
    secret = next(line.split("=", 1)[1].strip() for line in (keys / "alice.key").read_text().splitlines()
                  if line.startswith("secret-key"))
    with pytest.raises(recpool.InvalidRequest, match="CURVE key itself") as caught:
        recpool.Client("tcp://127.0.0.1:1", server_key=keys / "broker.pub", client_key=secret)
    assert secret not in str(caught.value)


def test_feedback_after_the_window_is_expired(secure, keys):
    with recpool.Client(secure.frontend, server_key=keys / "broker.pub", client_key=keys / "alice.key") as c:
        slate = c.recommend(top=2)
        # Feedback on the first item inside the window (1 s) is stored.
        assert c.feedback(slate.impression_id, slate.items[0], 1).duplicate is False
        time.sleep(1.5)
        # Past the window: new feedback is EXPIRED; a repeat of the stored one is still answered as a duplicate,
        # so a client retrying to learn whether its event was kept hears that it was.
        with pytest.raises(recpool.Expired) as error:
            c.feedback(slate.impression_id, slate.items[1], 0)
        assert slate.impression_id in error.value.message or "window" in error.value.message
        assert c.feedback(slate.impression_id, slate.items[0], 1).duplicate is True


def test_the_async_client_speaks_curve_and_is_told_when_its_key_is_refused(secure, keys):
    import asyncio

    async def main():
        async with recpool.AsyncClient(secure.frontend, server_key=keys / "broker.pub",
                                       client_key=keys / "ci.key") as c:
            admitted = await c.health()
        async with recpool.AsyncClient(secure.frontend, server_key=keys / "broker.pub",
                                       client_key=keys / "mallory.key", timeout=60) as c:
            started = time.monotonic()
            for _ in range(2):  # the second within the second after the refusal: at once
                with pytest.raises(recpool.HandshakeFailed) as error:
                    await c.status()
                assert (error.value.reason, error.value.code) == ("refused", 400)
            assert time.monotonic() - started < 30
        async with recpool.AsyncClient(secure.frontend, timeout=5) as c:
            with pytest.raises(recpool.HandshakeFailed, match="only one side uses CURVE|it requires CURVE"):
                await c.status()
        return admitted

    assert asyncio.run(main()).live_workers == 1


def _key_file(path, public: bytes, secret: bytes, mode: int = 0o600):
    path.write_text(f"public-key = {public.decode()}\nsecret-key = {secret.decode()}\n")
    path.chmod(mode)
    return path


def test_key_files_the_commands_refuse_are_refused_naming_the_file(tmp_path):
    """Two key files concatenated were read as the first pair (the commands refuse them), a server key file with two
    keys ended in a bare Timeout, and a 0644 secret key file was used without a word."""
    from recpool.keys import read_key_pair, read_public_key

    alice, eve = zmq.curve_keypair(), zmq.curve_keypair()
    both = tmp_path / "both.key"
    both.write_text(_key_file(tmp_path / "a.key", *alice).read_text() + _key_file(tmp_path / "e.key", *eve).read_text())
    both.chmod(0o600)
    with pytest.raises(recpool.InvalidRequest, match="line 3: a second public-key"):
        read_key_pair(both)
    servers = tmp_path / "servers.pub"
    servers.write_text(alice[0].decode() + "\n" + eve[0].decode() + "\n")
    with pytest.raises(recpool.InvalidRequest, match="line 2: a second public-key"):
        read_public_key(servers)
    open_file = _key_file(tmp_path / "open.key", *alice, mode=0o644)
    with pytest.raises(recpool.InvalidRequest, match="permissions 0644 are too open"):
        read_key_pair(open_file)
    assert read_key_pair(tmp_path / "a.key").public == alice[0]
    # As a server key: a .key file others may read (its secret sat readable) and a .pub others may write (they could
    # swap the server's key) were taken; the commands refuse both.
    with pytest.raises(recpool.InvalidRequest, match="permissions 0644 are too open"):
        read_public_key(open_file)
    writable = tmp_path / "broker.pub"
    writable.write_text(alice[0].decode() + "\n")
    writable.chmod(0o666)
    with pytest.raises(recpool.InvalidRequest, match="permissions 0666 let group or others change"):
        read_public_key(writable)
    writable.chmod(0o644)
    assert read_public_key(writable) == alice[0]
    assert read_public_key(tmp_path / "a.key") == alice[0]

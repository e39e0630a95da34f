"""Files the caller names (an upload, a schema, a key file, an exported log) are read as the binaries read them: a
path only, never a file descriptor; never a device; a named FIFO no writer opens is refused, not waited on for ever.
No pool: each refusal comes before anything is sent (the endpoint below has no broker)."""
import os
import re
import sys
import threading
import time

import pytest

import recpool
from recpool import files
from recpool.frames import read_export
from recpool.keys import read_public_key

NOWHERE = "tcp://127.0.0.1:9"


@pytest.mark.parametrize("path", [5, True, 0, None, 3.5])
def test_upload_of_something_that_is_no_path_is_refused_and_no_descriptor_is_touched(path):
    # `upload(5)` opened file descriptor 5 (a ZeroMQ socket's) and closed it: the next call aborted the process;
    # `upload(True)` closed standard output; `upload(0)` uploaded standard input under the name "0".
    before = os.fstat(1)
    with recpool.Client(NOWHERE, timeout=1) as client:
        with pytest.raises(recpool.InvalidRequest, match=f"must be a file's path .*got {type(path).__name__}"):
            client.upload(path)
    assert os.fstat(1).st_ino == before.st_ino  # standard output still open, the same file
    print("standard output still works")


def test_a_fifo_no_writer_opens_is_refused_within_the_wait_not_blocked_on(tmp_path):
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    started = time.monotonic()
    with recpool.Client(NOWHERE, timeout=1) as client:
        with pytest.raises(recpool.InvalidRequest,
                           match="it is a pipe \\(FIFO\\) and no writer sent anything or closed it within 1 s"):
            client.upload(fifo, timeout=1)
    assert time.monotonic() - started < 4
    with pytest.raises(recpool.ExportFormatError, match="no writer sent anything"):
        files_wait = files.PIPE_WAIT_SECONDS
        try:
            files.PIPE_WAIT_SECONDS = 0.2
            read_export(fifo)
        finally:
            files.PIPE_WAIT_SECONDS = files_wait


def test_a_fifo_whose_writer_sends_is_read_to_its_end(tmp_path):
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)

    def write():
        time.sleep(0.3)
        with open(fifo, "wb") as writer:
            writer.write(b"label,x\n")
            writer.flush()
            time.sleep(0.2)
            writer.write(b"1,0.5\n")

    thread = threading.Thread(target=write)
    thread.start()
    try:
        assert files.read_bytes(fifo, "the upload", wait=3) == b"label,x\n1,0.5\n"
    finally:
        thread.join()


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_or_a_directory_is_refused_naming_it(tmp_path):
    with pytest.raises(recpool.InvalidRequest, match="/dev/zero: it is not a regular file or a pipe"):
        files.read_bytes("/dev/zero", "the upload")
    with pytest.raises(recpool.InvalidRequest, match="it is a directory"):
        files.read_bytes(tmp_path, "the upload")
    with pytest.raises(recpool.InvalidRequest, match="cannot read the upload .*missing.csv: No such file"):
        files.read_bytes(tmp_path / "missing.csv", "the upload")


def test_a_key_file_that_is_a_fifo_is_refused(tmp_path):
    fifo = tmp_path / "server.key"
    os.mkfifo(fifo)
    saved = files.PIPE_WAIT_SECONDS
    try:
        files.PIPE_WAIT_SECONDS = 0.2
        with pytest.raises(recpool.InvalidRequest, match="key file .*no writer sent anything"):
            read_public_key(str(fifo))
    finally:
        files.PIPE_WAIT_SECONDS = saved


@pytest.mark.parametrize("call, where", [
    (lambda c: c.train("synthetic:users=100", gamma=float("nan")), "train['gamma'] is nan"),
    (lambda c: c.control("models", {"x": float("nan")}), "x is nan"),
    (lambda c: c.control("models", {"x": {"y": [1, float("-inf")]}}), "x['y'][1] is -inf"),
])
def test_a_nan_in_a_request_is_named_by_where_it_is(call, where):
    # json's "Out of range float values are not JSON compliant" named neither the value nor the argument.
    with recpool.Client(NOWHERE, timeout=1) as client:
        with pytest.raises(recpool.InvalidRequest, match=re.escape(where) + ": the protocol's JSON holds no NaN"):
            call(client)


def test_forty_z85_characters_that_decode_to_no_key_are_not_a_key():
    # '%' is digit 82: five of them pass 2^32, so 40 decode to no key (ZeroMQ RFC 32); they were taken for one.
    from recpool.keys import _is_key
    assert not _is_key("%" * 40)
    assert _is_key("0" * 40) and _is_key("rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")

"""INTERNAL, as a live broker sends it: a slate the broker cannot log on a full state directory.

The broker answers an online RECOMMEND only once its impression is committed (docs/ONLINE.md); when
the state directory's disk is full it answers ``INTERNAL`` instead, saying nothing was served. The
test mounts a small tmpfs as the state directory (the tests run as root, as CI does), fills it, and
checks that the client raises :class:`recpool.Internal` with the broker's reason, and that the pool
serves again once space is back.
"""
from __future__ import annotations

import ctypes
import os
import tempfile

import pytest

import recpool
from pools import DirectPool, wait_for

libc = ctypes.CDLL(None, use_errno=True)
MNT_DETACH = 2


def mount_tmpfs(path: str, size: str) -> None:
    if libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, f"size={size}".encode()) != 0:
        error = ctypes.get_errno()
        pytest.fail(f"cannot mount a tmpfs on {path} (the tests run as root): {os.strerror(error)}")


def test_a_slate_that_cannot_be_logged_is_internal_and_serving_resumes_with_space():
    state = tempfile.mkdtemp(prefix="recpool-py-internal-")
    mount_tmpfs(state, "16m")
    pool = None
    try:
        pool = DirectPool(broker_args=("--state-dir", state, "--online", "--online-sync-interval-ms", "600000"),
                          workers=1)
        with recpool.Client(pool.frontend, timeout=10) as client:
            assert client.recommend({"user_feature_0": "u0_01"}, top=3).items
            info = os.statvfs(state)
            with open(os.path.join(state, "filler"), "wb") as filler:
                try:
                    filler.write(b"\0" * (info.f_bavail * info.f_frsize))
                except OSError:
                    pass  # the disk is full: what the test wants
            raised = []
            for index in range(300):
                try:
                    client.recommend({"user_feature_0": f"u0_0{index % 10}"}, top=3)
                except recpool.Internal as error:
                    raised.append(error)
                    break
            assert raised, "the full disk was never hit: INTERNAL was not tested"
            error = raised[0]
            assert error.status == recpool.Status.INTERNAL
            assert "not logged" in str(error) and "nothing was served" in str(error), str(error)
            os.remove(os.path.join(state, "filler"))
            slate = wait_for(lambda: client.recommend({"user_feature_0": "u0_02"}, top=3), what="serving again")
            assert slate.items and slate.impression_id
    finally:
        if pool is not None:
            pool.stop()
        libc.umount2(state.encode(), MNT_DETACH)
        os.rmdir(state)

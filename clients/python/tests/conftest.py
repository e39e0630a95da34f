"""Fixtures: live pools for the package's tests (see pools.py)."""
from __future__ import annotations

import pytest

from pools import LocalPool


@pytest.fixture(scope="session")
def pool(tmp_path_factory):
    """``recpool local --workers 2 --online`` (the simulator catalogue, MLP of input width 106)."""
    local = LocalPool(tmp_path_factory.mktemp("state"), "--online", workers=2)
    yield local
    local.stop()


@pytest.fixture
def client(pool):
    """A synchronous client of the session pool."""
    import recpool

    with recpool.Client(pool.frontend) as c:
        yield c

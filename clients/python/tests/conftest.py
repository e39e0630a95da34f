"""Fixtures: live pools for the package's tests (see pools.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The tests check this checkout's package, whatever `recpool` the environment has installed (a shared
# virtualenv may hold another checkout's, installed editable).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pools import LocalPool  # noqa: E402  (after the path above)


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

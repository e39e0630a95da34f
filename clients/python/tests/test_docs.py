"""docs/PYTHON.md's python blocks run, in order, in one namespace, against a pool started as its step 1
says (`recpool local --workers 2 --online`, on OS-picked ports)."""
import re

import pytest

from pools import ROOT, LocalPool

DOC = ROOT / "docs" / "PYTHON.md"


def python_blocks(text: str) -> list:
    """The bodies of the fenced ```python blocks, in document order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_walk_through_has_its_steps_as_python_blocks():
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 8
    joined = "\n".join(blocks)
    for call in ("client.score(", "client.recommend(", "client.feedback(", "client.train(", ".follow()",
                 "frames.impressions_frame(", "frames.bandit_feedback(", "frames.upload_frame(", "AsyncClient("):
        assert call in joined, call


def test_the_python_walk_through_runs_against_a_live_pool(tmp_path, monkeypatch):
    local = LocalPool(tmp_path / "state", "--online", workers=2)
    try:
        monkeypatch.setenv("RECPOOL_BROKER", local.frontend)
        namespace = {"__name__": "docs_python_md"}
        for number, block in enumerate(python_blocks(DOC.read_text()), 1):
            try:
                exec(compile(block, f"docs/PYTHON.md block {number}", "exec"), namespace)
            except Exception as error:
                pytest.fail(f"docs/PYTHON.md python block {number} failed: {error!r}\n{block}")
        assert namespace["scores"].probabilities.shape == (256,)
        assert namespace["fresh"].model_version == namespace["version"] >= 1
        assert namespace["final"]["state"] == "completed"
        assert len(namespace["log"]) >= 3
    finally:
        local.stop()

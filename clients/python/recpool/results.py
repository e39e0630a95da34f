"""The small value types the client returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np


@dataclass(frozen=True)
class Timings:
    """Where a reply's time went, from its header, in µs (``compute_us`` is the whole micro-batch's)."""

    broker_queue_us: int = 0
    worker_queue_us: int = 0
    compute_us: int = 0


@dataclass(frozen=True)
class Scores:
    """Click probabilities for the rows of one ``score`` call, in row order.

    ``np.asarray(scores)`` gives ``probabilities`` (no copy: it may be read-only), ``np.array(scores)`` a
    copy of them, which changes nothing in the result. All rows were scored by one model version,
    ``model_version`` (0: a model the registry does not hold; see ``status()``).
    """

    probabilities: np.ndarray
    model_version: int
    requests: int = 1
    timings: Timings = field(default_factory=Timings)

    def __array__(self, dtype=None, copy=None):
        """``probabilities`` for NumPy, as NumPy 2's ``__array__`` protocol asks: ``copy=True`` (``np.array``) a new
        array, always; ``copy=None`` (``np.asarray``) a copy only for another ``dtype``, else ``probabilities``
        itself; ``copy=False`` ``probabilities`` itself, and ``ValueError`` when ``dtype`` would need a copy."""
        probabilities = self.probabilities
        if dtype is not None and np.dtype(dtype) != probabilities.dtype:
            if copy is False:
                raise ValueError(f"Scores holds {probabilities.dtype} probabilities: a {np.dtype(dtype)} array of "
                                 "them needs a copy, which copy=False forbids")
            return probabilities.astype(dtype)
        return probabilities.copy() if copy else probabilities

    def __len__(self) -> int:
        return len(self.probabilities)

    def __getitem__(self, index):
        return self.probabilities[index]


@dataclass(frozen=True)
class Slate:
    """A RECOMMEND answer, top slot first.

    For an online policy (``source == "policy"``) ``impression_id`` names the impression for
    :meth:`feedback` and ``propensities[k]`` is the probability of ``items[k]`` in slot ``k`` given
    the items above it. An MLP ranking (``source`` ``model`` or a fallback) has no impression id and
    no propensities (``None``).

    ``items`` are catalogue rows (what :meth:`feedback` names); ``ids[k]`` is the served catalogue's id of
    ``items[k]`` (a shop's SKU) in a policy's slate, ``None`` in a ranking or from a worker that sends none.
    """

    items: List[int]
    scores: List[float]
    propensities: Optional[List[float]]
    impression_id: Optional[str]
    model_version: int
    source: str
    exploration: Optional[dict] = None
    ids: Optional[List[str]] = None


@dataclass(frozen=True)
class FeedbackAck:
    """The broker committed the event; ``duplicate`` is true when the (impression, item) pair already
    had feedback and this event was ignored."""

    impression_id: str
    item: int
    duplicate: bool


@dataclass(frozen=True)
class Health:
    """What ``health()`` found: ``healthy`` when at least one live worker serves ``service`` (offers it and takes
    work; for FEEDBACK, a replica serves the running online policy; for RECOMMEND, the probe was answered too).
    ``live_workers`` counts those, 0 when unhealthy (the
    replicas, for FEEDBACK), ``workers`` every live worker."""

    healthy: bool
    service: str
    live_workers: int
    workers: int
    protocol_version: int
    #: Why it is unhealthy when the probe said so (``recpool health``'s message), else ``None``.
    reason: Optional[str] = None

    def __bool__(self) -> bool:
        return self.healthy


#: Job states after which a job never changes again.
TERMINAL_JOB_STATES = frozenset({"completed", "failed", "cancelled"})

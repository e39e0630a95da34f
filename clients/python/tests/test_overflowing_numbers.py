"""A Python int too large for a float (``10**400``) where the client checks a number is ``InvalidRequest`` naming
the argument, never the builtin ``OverflowError`` that ``float()`` raises: no pool is needed, the checks run before
anything is sent."""
import numpy as np
import pytest

import recpool
from recpool import operations as ops

HUGE = 10**400


@pytest.mark.parametrize("call, name", [
    (lambda: next(ops.score(np.ones((1, 2)), timeout=HUGE)), "timeout"),
    (lambda: next(ops.score(np.ones((1, 2)), deadline=HUGE)), "deadline"),
    (lambda: next(ops.recommend({}, events=[(1, HUGE)])), "dwell_seconds"),
    (lambda: next(ops.recommend({"user_feature_0": HUGE})), "user_features"),
    (lambda: next(ops.feedback("imp-1", 1, 1, dwell=HUGE)), "dwell"),
    (lambda: next(ops.train("synthetic:users=100", lr=HUGE)), "lr"),
    (lambda: ops.number(HUGE, "interval", 0, ops.MAX_SECONDS), "interval"),
    (lambda: ops.seconds(HUGE, "grace"), "grace"),
])
def test_an_int_too_large_for_a_float_is_invalid_request_naming_it(call, name):
    with pytest.raises(recpool.InvalidRequest) as caught:
        call()
    assert name in str(caught.value), str(caught.value)

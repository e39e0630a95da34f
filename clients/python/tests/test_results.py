"""The value types the client returns, with no pool."""
import numpy as np
import pytest

import recpool


def scores(values=(0.25, 0.5, 0.75)) -> recpool.Scores:
    """A Scores as a SCORE reply gives it: probabilities read from the reply's frame, so read-only."""
    probabilities = np.frombuffer(np.asarray(values, np.float32).tobytes(), np.float32)
    assert not probabilities.flags.writeable
    return recpool.Scores(probabilities, 3)


@pytest.mark.parametrize("convert", [np.array, lambda s: np.array(s, copy=True), lambda s: np.array(s, order="C"),
                                     lambda s: s.__array__(copy=True)])
def test_np_array_of_scores_is_a_copy_that_does_not_change_the_result(convert):
    result = scores()
    copy = convert(result)
    assert copy.dtype == np.float32 and copy.flags.writeable
    assert not np.shares_memory(copy, result.probabilities)
    copy[0] = 1.0
    assert result.probabilities[0] == np.float32(0.25) and result[0] == np.float32(0.25)


def test_np_asarray_of_scores_may_be_the_read_only_probabilities():
    result = scores()
    view = np.asarray(result)
    assert view.dtype == np.float32 and np.array_equal(view, result.probabilities)
    assert not view.flags.writeable  # whether or not it is the same array, it cannot change the result
    assert np.array(result, copy=False) is result.probabilities  # no copy needed: none made


def test_a_dtype_conversion_is_a_new_array_and_refused_under_copy_false():
    result = scores()
    wide = np.asarray(result, dtype=np.float64)
    assert wide.dtype == np.float64 and wide.tolist() == [0.25, 0.5, 0.75]
    wide[0] = 1.0
    assert result.probabilities[0] == np.float32(0.25)
    assert np.array(result, dtype=np.float32, copy=False) is result.probabilities  # the same dtype needs no copy
    with pytest.raises(ValueError):
        np.array(result, dtype=np.float64, copy=False)
    with pytest.raises(ValueError, match="copy"):
        result.__array__(np.float64, copy=False)

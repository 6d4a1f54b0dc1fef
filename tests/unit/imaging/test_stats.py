"""formreader.imaging.stats.median stands in for np.median in the field stages: it must be the same number."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from formreader.imaging.stats import median

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(st.one_of(st.integers(-10_000, 10_000), finite), min_size=1, max_size=40))
def test_median_is_numpys_median(values: list[float]) -> None:
    expected = float(np.median(np.array(values, dtype=np.float64)))
    assert median(values) == expected
    assert median(np.array(values, dtype=np.float64)) == expected


@given(st.lists(st.integers(0, 5000), min_size=1, max_size=40))
def test_median_of_integer_arrays_as_the_stages_pass_them(values: list[int]) -> None:
    arr = np.array(values, dtype=np.int32)  # e.g. heights from connected-component stats
    assert median(arr) == float(np.median(arr))
    assert median(arr[::2]) == float(np.median(arr[::2]))


def test_median_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        median([])

"""hexrd ``function`` image series."""

import functools
import pickle

import numpy as np
import pytest

import scanstack
from scanstack.core.errors import FormatError


def ramp(i, shape=(4, 3)):
    return np.full(shape, i, dtype=np.int16) + np.arange(shape[1], dtype=np.int16)


def test_frames_come_from_the_function():
    s = scanstack.open(None, "function", func=ramp, num_frames=6, meta={"panel": "ff1"})
    assert s.shape == (6, 4, 3) and s.dtype == np.int16
    assert s.metadata == {"panel": "ff1"}
    np.testing.assert_array_equal(s[np.int64(3)], ramp(3))
    np.testing.assert_array_equal(s[-1], ramp(5))
    np.testing.assert_array_equal(s[1:3], np.stack([ramp(1), ramp(2)]))
    np.testing.assert_array_equal(s.get_region(2, ((1, 3), (0, 2))), ramp(2)[1:3, 0:2])
    assert [int(f[0, 0]) for f in s] == list(range(6))
    clone = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(clone[4], ramp(4))


def test_missing_options_and_bad_frames():
    with pytest.raises(FormatError, match="num_frames"):
        scanstack.open(None, "function", func=ramp)
    with pytest.raises(FormatError, match="func"):
        scanstack.open(None, "function", num_frames=3)

    def shape_changes(i):
        return ramp(i, (4, 3) if i == 0 else (5, 3))

    s = scanstack.open(None, "function", func=shape_changes, num_frames=2)
    with pytest.raises(FormatError, match=r"func\(1\) returned shape \(5, 3\).*\(4, 3\)"):
        s[1]
    s = scanstack.open(None, "function", func=functools.partial(ramp, shape=(2, 2)), num_frames=1)
    assert s.signal_shape == (2, 2)

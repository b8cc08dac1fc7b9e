"""Helpers shared by the hexrd-ported image-series tests (only the public drop-in API)."""

import numpy as np

from scanstack import imageseries


def random_array(shape=(3, 5, 7), seed=0, dtype=np.int64):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 50, size=shape).astype(dtype)


def array_meta():
    return {"testing": np.array([1, 2, 3])}


def make_array_ims(shape=(3, 5, 7), dtype=np.int64):
    """A small fixed array series with array metadata, as hexrd's test helper."""
    a = random_array(shape, dtype=dtype)
    return a, imageseries.open(None, "array", data=a, meta=array_meta())


def assert_same_series(ims1, ims2):
    """Same length, dtype and frames (compared exactly)."""
    assert len(ims1) == len(ims2)
    assert np.dtype(ims1.dtype) == np.dtype(ims2.dtype)
    for i in range(len(ims1)):
        np.testing.assert_array_equal(ims1[i], ims2[i])


def assert_same_meta(ims1, ims2):
    np.testing.assert_array_equal(ims1.metadata["testing"], ims2.metadata["testing"])


def omega_meta(n, start=0.0, step=1.0):
    """``(n, 2)`` omega ranges: one evenly stepped wedge."""
    om = np.zeros((n, 2))
    om[:, 0] = start + step * np.arange(n)
    om[:, 1] = om[:, 0] + step
    return om

"""Test data for the statistics tests: counting-detector-like frames of any dtype."""

from __future__ import annotations

import numpy as np


def make_frames(dtype, shape=(23, 37, 41), seed=0, nan=True) -> np.ndarray:
    """Counting-detector-like frames (Poisson, a few bright pixels); floats get some NaNs."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    data = rng.poisson(2.0, shape).astype(np.float64)
    bright = rng.random(shape[1:]) < 0.02
    data[:, bright] += rng.integers(50, 250, (shape[0], int(bright.sum())))
    if dtype.kind == "f":
        data += rng.normal(0, 0.3, shape)
        if nan:
            data[rng.random(shape) < 0.002] = np.nan
    elif dtype.kind == "i":
        data -= 3  # negative values too
    return data.astype(dtype)

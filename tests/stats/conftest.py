"""Shared data for the statistics tests: small stacks of every dtype, and a raw file on disk."""

from __future__ import annotations

import numpy as np
import pytest


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


@pytest.fixture
def raw_stack(tmp_path):
    """A factory: write frames to a headerless file and open it lazily with raw-image."""
    import scanstack

    def make(data: np.ndarray):
        path = tmp_path / f"frames-{data.dtype.name}-{data.shape[0]}.raw"
        data.tofile(path)
        return scanstack.open(path, "raw-image", shape=data.shape[1:], dtype=data.dtype.str)

    return make

"""Fixtures of the statistics tests: frames written to a raw file and opened lazily."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def raw_stack(tmp_path):
    """A factory: write frames to a headerless file and open it lazily with raw-image."""
    import scanstack

    def make(data: np.ndarray):
        path = tmp_path / f"frames-{data.dtype.name}-{data.shape[0]}.raw"
        data.tofile(path)
        return scanstack.open(path, "raw-image", shape=data.shape[1:], dtype=data.dtype.str)

    return make

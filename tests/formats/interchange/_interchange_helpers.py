"""Helpers shared by the interchange-format tests."""

from __future__ import annotations

import numpy as np


def assert_same_axes(got, want) -> None:
    assert [a.name for a in got] == [a.name for a in want]
    assert [a.units for a in got] == [a.units for a in want]
    assert [a.navigate for a in got] == [a.navigate for a in want]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.coordinates, w.coordinates, rtol=1e-12, atol=1e-12)


def assert_same_metadata(got: dict, want: dict) -> None:
    """Every key of ``want`` is in ``got`` with the same value (arrays to float precision)."""
    for key, value in want.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(got[key], value)
        else:
            assert got[key] == value, key


def assert_same_stack(got, want) -> None:
    """Same shapes, dtype, frames, axes and metadata (every key of ``want``) after a round trip."""
    assert (got.nav_shape, got.signal_shape, got.dtype) == (
        want.nav_shape,
        want.signal_shape,
        want.dtype,
    )
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())
    assert_same_axes(got.axes, want.axes)
    assert_same_metadata(got.metadata, want.metadata)

"""Outer (orthogonal) indexing of a stack that reads only what it returns.

One implementation for every array-like view of a :class:`~scanstack.core.stack.Stack` that
takes keys per dimension: dask's ``from_array`` source and xarray's ``BackendArray``. A key is a
tuple of, per dimension, an integer, a slice (any step) or a 1-D integer array (xarray's "outer"
indexing: each array selects along its own dimension). Navigation keys choose frames; signal keys
become the smallest unit-step region that covers them (read through the reader, so an HDF5 chunked
or memory-mapped format reads only that region) and are then applied to that region in memory.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .errors import FrameIndexError
from .indexing import is_identity


def _normalized(key: Any, ndim: int) -> tuple:
    key = key if isinstance(key, tuple) else (key,)
    if any(k is Ellipsis for k in key):
        i = key.index(Ellipsis)
        key = key[:i] + (slice(None),) * (ndim - len(key) + 1) + key[i + 1 :]
    if len(key) > ndim:
        raise FrameIndexError(f"{len(key)} indices for an array of {ndim} dimensions")
    return key + (slice(None),) * (ndim - len(key))


def _as_indices(k: Any, n: int) -> np.ndarray:
    """A 1-D integer key as in-range, non-negative indices (an IndexError names the bad one)."""
    idx = np.asarray(k)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
        raise FrameIndexError(f"outer indexing takes 1-D integer arrays, not {k!r}")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise FrameIndexError(f"index {idx[(idx < -n) | (idx >= n)][0]} out of range for {n}")
    return np.where(idx < 0, idx + n, idx)


def _apply(array: np.ndarray, axis: int, k: Any) -> tuple[np.ndarray, int]:
    """Index ``array`` along ``axis`` with one outer key; return it and the next axis."""
    if isinstance(k, slice):
        return array[(slice(None),) * axis + (k,)], axis + 1
    if isinstance(k, (int, np.integer)):
        return np.take(array, operator.index(k), axis=axis), axis
    return np.take(array, k, axis=axis), axis + 1


def _signal_key(k: Any, n: int) -> tuple[slice, Any]:
    """The unit-step slice of the frame axis that covers ``k``, and ``k`` relative to it."""
    if isinstance(k, slice):
        start, stop, step = k.indices(n)
        if step > 0:
            return slice(start, max(start, stop)), slice(None, None, step)
        k = np.arange(n)[k]
    elif isinstance(k, (int, np.integer)):
        i = operator.index(k)
        if not -n <= i < n:
            raise FrameIndexError(f"index {i} out of range for a signal axis of size {n}")
        i %= n
        return slice(i, i + 1), 0
    idx = _as_indices(k, n)
    if idx.size == 0:
        return slice(0, 0), idx
    lo = int(idx.min())
    return slice(lo, int(idx.max()) + 1), idx - lo


def read_outer(stack, key: Any) -> np.ndarray:
    """``stack``'s data indexed with an outer key, reading only the frames and the frame region
    it needs; the result has numpy's shape for that key applied axis by axis."""
    key = _normalized(key, len(stack.shape))
    nnav = len(stack.nav_shape)
    frame_map = np.arange(stack.nframes, dtype=np.int64).reshape(stack.nav_shape)
    axis = 0
    for k, n in zip(key[:nnav], stack.nav_shape, strict=True):
        if not isinstance(k, (slice, int, np.integer)):
            k = _as_indices(k, n)
        elif isinstance(k, (int, np.integer)) and not -n <= operator.index(k) < n:
            raise FrameIndexError(f"index {k} out of range for a navigation axis of size {n}")
        frame_map, axis = _apply(frame_map, axis, k)
    pairs = [_signal_key(k, n) for k, n in zip(key[nnav:], stack.signal_shape, strict=True)]
    region = tuple(r for r, _ in pairs)
    from .reader import normalize_region

    data = stack._read_frames(frame_map.reshape(-1), normalize_region(region, stack.signal_shape))
    axis = 1
    for _, rel in pairs:
        if not is_identity(rel):
            data, axis = _apply(data, axis, rel)
        else:
            axis += 1
    return data.reshape(frame_map.shape + data.shape[1:])

"""Numba kernels: per-pixel order statistics over the frames of a tile.

A tile is a 2-D array ``(nframes, npixels)`` (any strides). The kernel copies a chunk of
``P`` pixels (``width``, at most the tile's pixels) × all frames into a small contiguous buffer (sequential reads, stays in L1/L2) and
finds, for every pixel, the sorted values at the requested ranks:

- integer data (≤ 32 bit): *threshold passes*. With ``base`` the pixel's minimum, pass ``t``
  counts, for all pixels of the chunk at once (SIMD), how many values are ``≤ base + t``. The
  value at rank ``r`` is ``base + #{t : count_t ≤ r}`` because the count grows with ``t``. For
  counting detectors (Poisson noise, a few bright pixels) a handful of passes resolves almost
  every pixel; the rest (bright or wide-range pixels) fall back to selection;
- everything else (floats, 64-bit integers, fallbacks): quickselect on the pixel's values.

The ranks are the same for every pixel, so they are computed once by
:func:`._compiled.rank_plan` (numpy's ``linear`` method), and the interpolation is done here in
float64 exactly as numpy does.

This module is the kernels' source: callers go through :mod:`._compiled`, which loads them
compiled ahead of time (no numba import) or falls back to these JIT dispatchers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: most threshold passes before the remaining pixels of a chunk are selected one by one
MAX_PASSES = 16
#: stop the passes once no more than this many pixels of a chunk are unresolved
LEFTOVER = 8


@njit(nogil=True, cache=True)
def _select(a, start, stop, k):
    """Partially order ``a[start:stop]`` in place so that ``a[k]`` is its sorted value (no NaN)."""
    lo = start
    hi = stop - 1
    while hi > lo:
        if hi - lo < 16:
            # insertion sort of the small remainder
            for i in range(lo + 1, hi + 1):
                x = a[i]
                j = i - 1
                while j >= lo and a[j] > x:
                    a[j + 1] = a[j]
                    j -= 1
                a[j + 1] = x
            return
        mid = (lo + hi) >> 1
        # median of three as pivot, moved to a[lo]
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
        if a[hi] < a[lo]:
            a[hi], a[lo] = a[lo], a[hi]
        if a[hi] < a[mid]:
            a[hi], a[mid] = a[mid], a[hi]
        a[lo], a[mid] = a[mid], a[lo]
        pivot = a[lo]
        i = lo
        j = hi + 1
        while True:
            i += 1
            while a[i] < pivot:
                i += 1
            j -= 1
            while pivot < a[j]:
                j -= 1
            if i >= j:
                break
            a[i], a[j] = a[j], a[i]
        a[lo], a[j] = a[j], a[lo]
        if j == k:
            return
        if j < k:
            lo = j + 1
        else:
            hi = j - 1


@njit(nogil=True, cache=True)
def _select_ranks(scratch, ranks, vals, col):
    """``vals[j, col] = sorted(scratch)[ranks[j]]`` for ascending ``ranks`` (scratch reordered)."""
    n = scratch.size
    start = 0
    for j in range(ranks.size):
        r = ranks[j]
        _select(scratch, start, n, r)
        vals[j, col] = scratch[r]
        start = r + 1


@njit(nogil=True, cache=True)
def _finish(vals, lo, hi, gamma, median, nan_mask, p0, m, out):
    """Turn the rank values of a chunk into quantiles (numpy's formulas, float64) in ``out``."""
    for j in range(lo.size):
        t = gamma[j]
        for k in range(m):
            if nan_mask[k]:
                out[j, p0 + k] = np.nan
                continue
            a = vals[lo[j], k]
            b = vals[hi[j], k]
            if median:
                # numpy's median: the middle value, or the mean of the two middle values
                out[j, p0 + k] = a if t == 0.0 else (a + b) / 2.0
            else:
                d = b - a
                if t >= 0.5:
                    out[j, p0 + k] = b - d * (1.0 - t)
                else:
                    out[j, p0 + k] = a + d * t


@njit(nogil=True, cache=True)
def quantile_tile(tile, ranks, lo, hi, gamma, median, passes, maxval, width, out):
    """Quantiles over axis 0 of ``tile`` ``(nframes, npixels)`` into ``out`` ``(nq, npixels)``.

    ``width`` pixels are worked on at a time: the kernel's buffer is ``nframes × width`` values
    (never more pixels than the tile has), which the caller sizes to its memory budget.
    ``median`` uses numpy's median rule (mean of the two middle values), otherwise the linear
    interpolation with weights ``gamma``. ``passes`` enables the integer threshold passes;
    ``maxval`` is then the dtype's largest value. NaN in a pixel gives NaN.
    """
    nf, npix = tile.shape
    nr = ranks.size
    P = max(1, min(width, npix))
    rmax = ranks[nr - 1]
    buf = np.empty((nf, P), tile.dtype)
    base = np.empty(P, tile.dtype)
    thr = np.empty(P, tile.dtype)
    cnt = np.empty(P, np.int32)
    acc = np.empty((nr, P), np.int64)
    vals = np.empty((nr, P), np.float64)
    scratch = np.empty(nf, tile.dtype)
    nan_mask = np.zeros(P, np.bool_)
    for p0 in range(0, npix, P):
        m = min(P, npix - p0)
        for f in range(nf):
            for k in range(m):
                buf[f, k] = tile[f, p0 + k]
        if passes:
            for k in range(m):
                base[k] = buf[0, k]
            for f in range(1, nf):
                for k in range(m):
                    base[k] = min(base[k], buf[f, k])
            for j in range(nr):
                for k in range(m):
                    acc[j, k] = 0
            npass = 0
            while npass < MAX_PASSES:
                for k in range(m):
                    thr[k] = min(np.int64(base[k]) + npass, maxval)
                    cnt[k] = 0
                for f in range(nf):
                    for k in range(m):
                        cnt[k] += np.int32(buf[f, k] <= thr[k])
                unresolved = 0
                for j in range(nr):
                    r = ranks[j]
                    for k in range(m):
                        acc[j, k] += np.int64(cnt[k] <= r)
                for k in range(m):
                    unresolved += np.int64(cnt[k] <= rmax)
                npass += 1
                if unresolved <= LEFTOVER:
                    break
            for k in range(m):
                if acc[nr - 1, k] == npass:
                    # not resolved by the passes: select this pixel's values
                    for f in range(nf):
                        scratch[f] = buf[f, k]
                    _select_ranks(scratch, ranks, vals, k)
                else:
                    for j in range(nr):
                        vals[j, k] = np.float64(base[k]) + np.float64(acc[j, k])
        else:
            for k in range(m):
                has_nan = False
                for f in range(nf):
                    x = buf[f, k]
                    if x != x:
                        has_nan = True
                    scratch[f] = x
                nan_mask[k] = has_nan
                if not has_nan:
                    _select_ranks(scratch, ranks, vals, k)
        _finish(vals, lo, hi, gamma, median, nan_mask, p0, m, out)
        if not passes:
            for k in range(m):
                nan_mask[k] = False

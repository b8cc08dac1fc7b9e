"""How the statistics call their numba kernels, without importing numba.

The kernels' source is :mod:`._kernels` (numba); they are compiled ahead of time per dtype and
loaded from the user's cache by :class:`scanstack.core.aot.AotKernel`, so that a process running
``scanstack stats`` never starts numba's compiler once the cache holds its kernel. This module
also holds what the callers need to know about the kernel (plain numpy): the rank plan of a
quantile and the pixels per chunk.
"""

from __future__ import annotations

import numpy as np

from ..core.aot import AotKernel

#: pixels per chunk of the quantile kernel: 256 × 60 frames × 2 bytes = 30 kB, about an L1 data
#: cache; fewer when the frames are so many that the buffer would not fit the memory budget
PIXELS_PER_CHUNK = 256

_SOURCE = "scanstack.stats._kernels"
_DEPENDS: tuple[str, ...] = ()  # the kernels read no constant of this module

_quantile_tile = AotKernel(
    _SOURCE,
    "quantile_tile",
    "void({0}[:, :], int64[:], int64[:], int64[:], float64[:], boolean, boolean, int64, int64, "
    "float32[:, :])",
    _DEPENDS,
)


def rank_plan(nframes: int, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ranks needed for quantiles ``q`` (fractions in [0, 1]) of ``nframes`` sorted values.

    Returns ``(ranks, lo, hi, gamma)``: ``ranks`` the sorted unique ranks to look up; for each
    quantile the positions ``lo``/``hi`` in ``ranks`` of its two neighbours and the weight
    ``gamma`` of numpy's linear interpolation (virtual index ``(n - 1) * q``).
    """
    virtual = (nframes - 1) * np.asarray(q, dtype=np.float64)
    prev = np.clip(np.floor(virtual).astype(np.int64), 0, nframes - 1)
    nxt = np.minimum(prev + 1, nframes - 1)
    gamma = virtual - prev
    # sorted(set()) rather than np.unique, which imports numpy.ma (0.1 s of a cold start)
    ranks = np.array(sorted(set(prev.tolist()) | set(nxt.tolist())), dtype=np.int64)
    lo = np.searchsorted(ranks, prev).astype(np.int64)
    hi = np.searchsorted(ranks, nxt).astype(np.int64)
    return ranks, lo, hi, gamma.astype(np.float64)


def quantile_tile(tile, ranks, lo, hi, gamma, median, passes, maxval, width, out) -> None:
    """Quantiles over axis 0 of ``tile`` ``(nframes, npixels)`` into ``out`` ``(nq, npixels)``
    float32, ``width`` pixels at a time (see :func:`._kernels.quantile_tile`); ``tile`` in native
    byte order, integers or float32/64."""
    _quantile_tile.get(tile.dtype)(tile, ranks, lo, hi, gamma, median, passes, maxval, width, out)

"""hexrd's ``imageseries.stats`` on scanstack's block-wise statistics.

Every function takes an image series, a scanstack Stack, a 3-D array ``(frames, rows, cols)``
or any sequence of 2-D frames, and uses the first ``nframes`` frames (0: all). Result dtypes are
hexrd's: ``max``/``min`` keep the input dtype, ``sum`` is float64, ``average``, ``median`` and
``percentile`` are float32. The work is done by :mod:`scanstack.stats` (blocks of frames in
threads, memory bounded by ``scanstack.config.memory_budget``; ``client=`` runs it on a
dask.distributed cluster, ``progress=`` shows progress).

The ``*_iter`` variants yield intermediate images (for progress bars); the last one is the
result. ``max_iter``, ``min_iter``, ``sum_iter`` and ``average_iter`` cut the frames into
``nchunk`` groups; ``percentile_iter`` and ``median_iter`` cut the rows into ``nchunks``
bands. ``use_buffer`` is accepted for compatibility: memory is bounded anyway.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..core.stack import Stack
from ._stack import to_stack

__all__ = [
    "average",
    "average_iter",
    "max",
    "max_iter",
    "median",
    "median_iter",
    "min",
    "min_iter",
    "percentile",
    "percentile_iter",
    "sum",
    "sum_iter",
]


def _ss():
    from .. import stats

    return stats


def max(ims: Any, nframes: int = 0, **kwargs: Any) -> np.ndarray:  # noqa: A001
    """Pixel-wise maximum over frames, input dtype, shape ``(rows, cols)``."""
    return _ss().max(to_stack(ims), nframes=nframes, **kwargs)


def min(ims: Any, nframes: int = 0, **kwargs: Any) -> np.ndarray:  # noqa: A001
    """Pixel-wise minimum over frames, input dtype."""
    return _ss().min(to_stack(ims), nframes=nframes, **kwargs)


def sum(ims: Any, nframes: int = 0, **kwargs: Any) -> np.ndarray:  # noqa: A001
    """Pixel-wise sum over frames, float64."""
    return _ss().sum(to_stack(ims), nframes=nframes, **kwargs)


def average(ims: Any, nframes: int = 0, **kwargs: Any) -> np.ndarray:
    """Pixel-wise mean over frames, float32."""
    return _ss().average(to_stack(ims), nframes=nframes, **kwargs)


def median(ims: Any, nframes: int = 0, **kwargs: Any) -> np.ndarray:
    """Pixel-wise median over frames, float32."""
    return _ss().median(to_stack(ims), nframes=nframes, **kwargs)


def percentile(ims: Any, pctl: float, nframes: int = 0, **kwargs: Any) -> np.ndarray:
    """Pixel-wise ``pctl``-th percentile (0..100) over frames, float32."""
    return _ss().percentile(to_stack(ims), pctl, nframes=nframes, **kwargs)


# -- chunked variants ------------------------------------------------------------------------
def _nframes(stack: Stack, nframes: int) -> int:
    return stack.nframes if not nframes else builtins.min(stack.nframes, int(nframes))


def _bounds(n: int, nchunks: int) -> list[tuple[int, int]]:
    """``nchunks`` nearly equal consecutive ranges covering ``range(n)``."""
    nchunks = int(nchunks)
    if nchunks < 1 or nchunks > n:
        raise ValueError(f"cannot cut {n} into {nchunks} chunks (need 1 <= nchunks <= {n})")
    edges = np.linspace(0, n, nchunks + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _frame_chunks(
    ims: Any, nchunk: int, nframes: int, func: str, kwargs: dict
) -> Iterator[tuple[np.ndarray, int]]:
    stack = to_stack(ims)
    n = _nframes(stack, nframes)
    fn = getattr(_ss(), func)
    for a, b in _bounds(n, nchunk):
        yield fn(stack.frames(np.arange(a, b)), **kwargs), b


def _running(
    ims: Any, nchunk: int, nframes: int, func: str, combine, kwargs: dict
) -> Iterator[tuple[np.ndarray, int]]:
    """``(running combine of the chunks' results, frames seen)`` after each chunk."""
    acc = None
    for part, seen in _frame_chunks(ims, nchunk, nframes, func, kwargs):
        acc = part if acc is None else combine(acc, part)
        yield acc, seen


def max_iter(ims: Any, nchunk: int, nframes: int = 0, **kwargs: Any) -> Iterator[np.ndarray]:
    """Running maximum after each of ``nchunk`` groups of frames."""
    for acc, _ in _running(ims, nchunk, nframes, "max", np.maximum, kwargs):
        yield acc.copy()


def min_iter(ims: Any, nchunk: int, nframes: int = 0, **kwargs: Any) -> Iterator[np.ndarray]:
    """Running minimum after each of ``nchunk`` groups of frames."""
    for acc, _ in _running(ims, nchunk, nframes, "min", np.minimum, kwargs):
        yield acc.copy()


def sum_iter(ims: Any, nchunk: int, nframes: int = 0, **kwargs: Any) -> Iterator[np.ndarray]:
    """Running float64 sum after each of ``nchunk`` groups of frames."""
    for acc, _ in _running(ims, nchunk, nframes, "sum", np.add, kwargs):
        yield acc.copy()


def average_iter(ims: Any, nchunk: int, nframes: int = 0, **kwargs: Any) -> Iterator[np.ndarray]:
    """Mean (float32) of the frames seen so far, after each of ``nchunk`` groups of frames."""
    for acc, seen in _running(ims, nchunk, nframes, "sum", np.add, kwargs):
        yield (acc / seen).astype(np.float32)


def percentile_iter(
    ims: Any, pctl: float, nchunks: int, nframes: int = 0, use_buffer: bool = True, **kwargs: Any
) -> Iterator[np.ndarray]:
    """The percentile image filled band of rows by band of rows (float32, unfilled rows 0)."""
    stack = to_stack(ims)
    rows = stack.signal_shape[0]
    out = np.zeros(stack.signal_shape, np.float32)
    bounds = _bounds(rows, nchunks)
    for k, (r0, r1) in enumerate(bounds):
        band = stack.isig[r0:r1]
        out[r0:r1] = _ss().percentile(band, pctl, nframes=nframes, **kwargs)
        yield out if k == len(bounds) - 1 else out.copy()


def median_iter(
    ims: Any, nchunks: int, nframes: int = 0, use_buffer: bool = True, **kwargs: Any
) -> Iterator[np.ndarray]:
    """:func:`percentile_iter` at 50."""
    yield from percentile_iter(ims, 50, nchunks, nframes, use_buffer, **kwargs)

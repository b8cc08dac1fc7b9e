"""max, min, sum and average over frames (one pass over the bytes).

Each asks :func:`scanstack.core.fold.fold_frames` for the fastest way to fold the stack — in place
over a memory map (``.mib``, raw images, uncompressed HDF5, arrays in RAM) or block by block with
read-ahead, in threads or dask.distributed tasks — with the pixel-wise folds every tool shares
(:mod:`scanstack.core.lane_folds`). 8/16-bit integer sums are exact, in 32-bit accumulators
flushed into 64-bit ones. Memory is bounded by ``memory_budget``: on the block path each thread
holds a block being folded, the block read ahead, and its accumulator; in place only the
accumulators.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..core.errors import check_fits
from ..core.fold import fold_frames
from ..core.lane_folds import ExtremeFold, SumFold, Together
from ..core.progress import ProgressArg
from ..core.resources import resolve
from ._common import as_stack, frame_count, per_pixel, reader_scratch


def _float_sum(total: np.ndarray, divisor: int = 1) -> np.ndarray:
    """The float64 sum, divided by ``divisor`` (one pass)."""
    if divisor == 1:
        return total.astype(np.float64, copy=False)
    return np.true_divide(total, divisor, dtype=np.float64)


#: label -> (fold, accumulator bytes per pixel (None: the stack's itemsize), the result for zero
#: frames given the frame shape (None: an error), the finish of a non-empty accumulator given the
#: frame count and the stack's dtype)
_REDUCTIONS = {
    "max": (
        lambda: ExtremeFold("max"),
        None,
        None,
        lambda acc, n, dt: acc.astype(dt.newbyteorder("="), copy=False),
    ),
    "min": (
        lambda: ExtremeFold("min"),
        None,
        None,
        lambda acc, n, dt: acc.astype(dt.newbyteorder("="), copy=False),
    ),
    "sum": (
        lambda: SumFold(ints_exact=False),
        12,
        lambda shape: np.zeros(shape, np.float64),
        lambda acc, n, dt: _float_sum(acc),
    ),
    "average": (
        lambda: SumFold(ints_exact=False),
        12,
        lambda shape: np.full(shape, np.nan, np.float32),
        lambda acc, n, dt: _float_sum(acc, n).astype(np.float32),
    ),
}


def _reduce_many(
    labels: tuple[str, ...],
    obj: Any,
    nframes: int,
    client,
    progress: ProgressArg,
    memory_budget: int | None,
    threads: int | None,
) -> dict[str, np.ndarray]:
    """Run the reductions ``labels`` of :data:`_REDUCTIONS` in one pass over the first frames."""
    stack = as_stack(obj)
    n = frame_count(stack, nframes)
    res = resolve(threads=threads, memory_budget=memory_budget)
    budget, nthreads = res.memory_budget, res.threads
    acc_bytes = builtins.sum(
        stack.dtype.itemsize if _REDUCTIONS[label][1] is None else _REDUCTIONS[label][1]
        for label in labels
    )
    npix = builtins.max(1, stack.frame_nbytes // builtins.max(stack.dtype.itemsize, 1))
    # one accumulator must fit; each thread has its own (and a block's partial results), so a
    # tight budget runs fewer threads rather than going over
    what = f"the accumulator of {'+'.join(labels)} over {stack.signal_shape} frames"
    check_fits(npix * acc_bytes, what, getattr(stack, "path", None), budget=budget)
    while nthreads > 1 and nthreads * 2 * npix * acc_bytes > budget * 3 // 4:
        nthreads -= 1
    # per thread (block path): its accumulators and a block's partial results, the reader's
    # scratch while it reads (decoded chunks, sparse frames), plus up to three blocks (the one
    # being folded, the one read ahead, and the previous one until the loop lets go of it);
    # folded in place, only the accumulators
    held = 2 * npix * acc_bytes + reader_scratch(stack, budget, nthreads)
    fpb = res.frames_per_block(stack.frame_nbytes, 3, reserve=nthreads * held, concurrent=nthreads)
    result = fold_frames(
        stack,
        Together(_REDUCTIONS[label][0]() for label in labels),
        frames_per_block=fpb,
        start=0,
        stop=n,
        client=client,
        threads=nthreads,
        progress=progress,
        label="+".join(labels),
    )
    out = {}
    for i, label in enumerate(labels):
        empty, finish = _REDUCTIONS[label][2], _REDUCTIONS[label][3]
        if result is not None:
            out[label] = finish(result[i], n, np.dtype(stack.dtype))
        elif empty is None:
            raise ValueError(f"{label} of zero frames")
        else:
            out[label] = empty(stack.signal_shape)
    return out


def _reduce(label: str, *args) -> np.ndarray:
    return _reduce_many((label,), *args)[label]


def reduce_together(
    stack: Any,
    stats: tuple[str, ...] = ("sum", "max"),
    nframes: int = 0,
    *,
    client=None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Several of ``max``, ``min``, ``sum``, ``average`` in ONE pass over the frames.

    Returns ``{name: signal_shape array}``, each equal to the function of that name (same dtype);
    arguments as in :func:`max`. Reads the file once instead of once per statistic.
    """
    unknown = [s for s in stats if s not in _REDUCTIONS]
    if unknown:
        raise ValueError(f"unknown statistics {unknown}; choose from {sorted(_REDUCTIONS)}")
    return _reduce_many(tuple(stats), stack, nframes, client, progress, memory_budget, threads)


def _reduction(name: str, doc: str):
    def run(stack, nframes, client, progress, memory_budget, threads):
        return _reduce(name, stack, nframes, client, progress, memory_budget, threads)

    return per_pixel(name, doc, run)


max = _reduction(
    "max",
    """Pixel-wise maximum over the first ``nframes`` frames (0: all), in the stack's dtype.

    ``stack`` is a Stack, an array ``(nframes, rows, cols)`` or a sequence of frames
    (:func:`as_stack`). Returns an array of ``signal_shape``. NaN propagates as in ``np.max``.
    ``client`` (dask.distributed) runs the blocks on a cluster; ``progress`` is ``True`` for a bar
    or a callable ``f(done, total)``.
    """,
)
min = _reduction(
    "min",
    """Pixel-wise minimum over the first ``nframes`` frames (0: all), in the stack's dtype.

    Arguments as in :func:`max`.
    """,
)
sum = _reduction(
    "sum",
    """Pixel-wise sum over the first ``nframes`` frames (0: all) as float64, ``signal_shape``.

    Arguments as in :func:`max`. Zero frames give zeros.
    """,
)
average = _reduction(
    "average",
    """Pixel-wise mean over the first ``nframes`` frames (0: all) as float32, ``signal_shape``.

    Accumulates in float64 (hexrd accumulates in float32), then divides. Arguments as in
    :func:`max`. Zero frames give NaN.
    """,
)

#: numpy's name for :func:`average`
mean = average

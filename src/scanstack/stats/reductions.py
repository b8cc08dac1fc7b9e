"""max, min, sum and average over frames, block by block (one pass over the bytes).

Each runs :func:`scanstack.core.blockwise.reduce_frames`: threads (or dask.distributed tasks) fold
their own run of frames into an accumulator of one frame with numba kernels (:mod:`._kernels`),
and the accumulators are combined at the end. 8/16-bit integer sums are exact, in 32-bit
accumulators flushed into int64. Memory is bounded by ``memory_budget``: each thread holds a
block being folded, the block read ahead, and its accumulator; data already in RAM is folded in
place (views, no copies).
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..core.blockwise import reduce_frames
from ..core.config import config
from ..core.errors import check_fits
from ..core.progress import ProgressArg
from . import _compiled
from ._common import as_stack, budget_and_threads, fold_source, frame_count, reader_scratch

# -- folds (module level so that they pickle to dask.distributed workers) -----------------------


def _fold_extreme(acc, block, kernel, reduce):
    if acc is None:  # the first frame, in native byte order (as numpy's max returns)
        acc, block = block[0].astype(block.dtype.newbyteorder("=")), block[1:]
    if len(block):
        if _compiled.foldable(block.dtype):
            kernel(block.reshape(len(block), -1), acc.reshape(-1))
        else:
            reduce(acc, reduce.reduce(block, axis=0), out=acc)
    return acc


def _fold_max(acc, block, a, b):
    return _fold_extreme(acc, block, _compiled.max_into, np.maximum)


def _fold_min(acc, block, a, b):
    return _fold_extreme(acc, block, _compiled.min_into, np.minimum)


class _IntSum:
    """Exact running sum of 8/16-bit integer frames.

    Adds into a 32-bit accumulator (integer SIMD adds at half the bytes of float64), flushed into
    an int64 one (made only when needed) before it could overflow.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype):
        unsigned = dtype.kind in "ub"
        self.small = np.zeros(shape, np.uint32 if unsigned else np.int32)
        self.big: np.ndarray | None = None
        largest = (
            1
            if dtype.kind == "b"
            else builtins.max(-int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
        )
        self.limit = int(np.iinfo(self.small.dtype).max) // largest  # frames `small` can take
        self.count = 0

    def flush(self) -> None:
        if self.count == 0:
            return
        if self.big is None:
            self.big = self.small.astype(np.int64)
        else:
            np.add(self.big, self.small, out=self.big)
        self.small.fill(0)
        self.count = 0

    def add(self, block: np.ndarray) -> None:
        for i in range(0, len(block), self.limit):
            part = block[i : i + self.limit]
            if self.count + len(part) > self.limit:
                self.flush()
            if _compiled.foldable(part.dtype):
                _compiled.add_into(part.reshape(len(part), -1), self.small.reshape(-1))
            else:
                self.small += np.add.reduce(part, axis=0, dtype=self.small.dtype)
            self.count += len(part)

    def merge(self, other: _IntSum) -> _IntSum:
        if self.count + other.count <= self.limit:
            np.add(self.small, other.small, out=self.small)
            self.count += other.count
        else:
            self.flush()
            other.flush()
        if other.big is not None:
            if self.big is None:
                self.big = other.big
            else:
                np.add(self.big, other.big, out=self.big)
        return self

    def total(self) -> np.ndarray:
        """The exact sum, as integers (int64, or the 32-bit accumulator if it never overflowed)."""
        if self.big is None:
            return self.small
        self.flush()
        return self.big


def _small_int(dtype: np.dtype) -> bool:
    return dtype.kind == "b" or (dtype.kind in "iu" and dtype.itemsize <= 2)


def _fold_sum(acc, block, a, b):
    if _small_int(block.dtype):
        acc = _IntSum(block.shape[1:], block.dtype) if acc is None else acc
        acc.add(block)
        return acc
    if acc is None:
        acc = np.zeros(block.shape[1:], np.float64)
    if _compiled.foldable(block.dtype):
        _compiled.add_into(block.reshape(len(block), -1), acc.reshape(-1))
    else:
        acc += np.add.reduce(block, axis=0, dtype=np.float64)
    return acc


def _float_sum(acc, divisor: int = 1) -> np.ndarray:
    """The float64 sum of an accumulator, divided by ``divisor`` (one pass)."""
    total = acc.total() if isinstance(acc, _IntSum) else acc
    if divisor == 1:
        return total.astype(np.float64, copy=False)
    return np.true_divide(total, divisor, dtype=np.float64)


def _combine_max(x, y):
    return np.maximum(x, y, out=x)


def _combine_min(x, y):
    return np.minimum(x, y, out=x)


def _combine_sum(x, y):
    if isinstance(x, _IntSum):
        return x.merge(y)
    return np.add(x, y, out=x)


#: label -> (fold, combine, accumulator bytes per pixel (None: the stack's itemsize),
#: the result for zero frames given the frame shape (None: an error), the finish of a non-empty
#: accumulator given the frame count)
_REDUCTIONS = {
    "max": (_fold_max, _combine_max, None, None, lambda acc, n: acc),
    "min": (_fold_min, _combine_min, None, None, lambda acc, n: acc),
    "sum": (
        _fold_sum,
        _combine_sum,
        12,
        lambda shape: np.zeros(shape, np.float64),
        lambda acc, n: _float_sum(acc),
    ),
    "average": (
        _fold_sum,
        _combine_sum,
        12,
        lambda shape: np.full(shape, np.nan, np.float32),
        lambda acc, n: _float_sum(acc, n).astype(np.float32),
    ),
}


class _Together:
    """Several reductions folded in one pass: accumulators are tuples, one entry per label."""

    def __init__(self, labels: tuple[str, ...]):
        self.folds = [_REDUCTIONS[label][0] for label in labels]
        self.combines = [_REDUCTIONS[label][1] for label in labels]

    def fold(self, acc, block, a, b):
        acc = (None,) * len(self.folds) if acc is None else acc
        return tuple(f(x, block, a, b) for f, x in zip(self.folds, acc, strict=True))

    def combine(self, x, y):
        return tuple(c(p, q) for c, p, q in zip(self.combines, x, y, strict=True))


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
    budget, nthreads = budget_and_threads(memory_budget, threads)
    acc_bytes = builtins.sum(
        stack.dtype.itemsize if _REDUCTIONS[label][2] is None else _REDUCTIONS[label][2]
        for label in labels
    )
    frame_bytes = builtins.max(stack.frame_nbytes, 1)
    npix = builtins.max(1, stack.frame_nbytes // builtins.max(stack.dtype.itemsize, 1))
    # one accumulator must fit; each thread has its own (and a block's partial results), so a
    # tight budget runs fewer threads rather than going over
    what = f"the accumulator of {'+'.join(labels)} over {stack.signal_shape} frames"
    check_fits(npix * acc_bytes, what, getattr(stack, "path", None), budget=budget)
    while nthreads > 1 and nthreads * 2 * npix * acc_bytes > budget * 3 // 4:
        nthreads -= 1
    # per thread: its accumulators and a block's partial results, the reader's scratch while it
    # reads (decoded chunks, sparse frames), plus up to three blocks (the one being folded, the
    # one read ahead, and the previous one until the loop lets go of it)
    source = fold_source(stack, client)
    per_thread = (
        budget // nthreads - 2 * npix * acc_bytes - reader_scratch(source, budget, nthreads)
    )
    block_bytes = builtins.min(config.chunk_bytes, builtins.max(per_thread // 3, frame_bytes))
    fpb = builtins.max(1, block_bytes // frame_bytes)
    together = _Together(labels)
    result = reduce_frames(
        source,
        together.fold,
        together.combine,
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
        empty, finish = _REDUCTIONS[label][3], _REDUCTIONS[label][4]
        if result is not None:
            out[label] = finish(result[i], n)
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


def max(
    stack: Any,
    nframes: int = 0,
    *,
    client=None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Pixel-wise maximum over the first ``nframes`` frames (0: all), in the stack's dtype.

    ``stack`` is a Stack, an array ``(nframes, rows, cols)`` or a sequence of frames
    (:func:`as_stack`). Returns an array of ``signal_shape``. NaN propagates as in ``np.max``.
    ``client`` (dask.distributed) runs the blocks on a cluster; ``progress`` is ``True`` for a bar
    or a callable ``f(done, total)``.
    """
    return _reduce("max", stack, nframes, client, progress, memory_budget, threads)


def min(
    stack: Any,
    nframes: int = 0,
    *,
    client=None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Pixel-wise minimum over the first ``nframes`` frames (0: all), in the stack's dtype.

    Arguments as in :func:`max`.
    """
    return _reduce("min", stack, nframes, client, progress, memory_budget, threads)


def sum(
    stack: Any,
    nframes: int = 0,
    *,
    client=None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Pixel-wise sum over the first ``nframes`` frames (0: all) as float64, ``signal_shape``.

    Arguments as in :func:`max`. Zero frames give zeros.
    """
    return _reduce("sum", stack, nframes, client, progress, memory_budget, threads)


def average(
    stack: Any,
    nframes: int = 0,
    *,
    client=None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Pixel-wise mean over the first ``nframes`` frames (0: all) as float32, ``signal_shape``.

    Accumulates in float64 (hexrd accumulates in float32), then divides. Arguments as in
    :func:`max`. Zero frames give NaN.
    """
    return _reduce("average", stack, nframes, client, progress, memory_budget, threads)


#: numpy's name for :func:`average`
mean = average

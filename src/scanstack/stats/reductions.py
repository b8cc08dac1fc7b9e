"""max, min, sum and average over frames, block by block (one pass over the bytes).

Each runs :func:`scanstack.core.blockwise.reduce_frames`: threads fold their own run of frames into
an accumulator of one frame, the accumulators are combined at the end. Memory is bounded by
``memory_budget``: each thread holds a block being folded, the block read ahead, and its
accumulator.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..core.blockwise import reduce_frames
from ..core.config import config
from ..core.progress import ProgressArg
from ._common import as_stack, budget_and_threads, frame_count

# -- folds (module level so that they pickle to dask.distributed workers) -----------------------


def _fold_max(acc, block, a, b):
    part = block.max(axis=0)
    return part if acc is None else np.maximum(acc, part, out=acc)


def _fold_min(acc, block, a, b):
    part = block.min(axis=0)
    return part if acc is None else np.minimum(acc, part, out=acc)


def _fold_sum(acc, block, a, b):
    part = np.add.reduce(block, axis=0, dtype=np.float64)
    return part if acc is None else np.add(acc, part, out=acc)


def _combine_max(x, y):
    return np.maximum(x, y, out=x)


def _combine_min(x, y):
    return np.minimum(x, y, out=x)


def _combine_sum(x, y):
    return np.add(x, y, out=x)


def _reduce(
    obj: Any,
    nframes: int,
    fold,
    combine,
    acc_itemsize: int | None,
    *,
    client,
    progress,
    memory_budget,
    threads,
    label: str,
):
    stack = as_stack(obj)
    n = frame_count(stack, nframes)
    budget, nthreads = budget_and_threads(memory_budget, threads)
    acc_itemsize = stack.dtype.itemsize if acc_itemsize is None else acc_itemsize
    frame_bytes = builtins.max(stack.frame_nbytes, 1)
    npix = builtins.max(1, stack.frame_nbytes // builtins.max(stack.dtype.itemsize, 1))
    # per thread: its accumulator and a block's partial result, plus up to three blocks (the one
    # being folded, the one read ahead, and the previous one until the loop lets go of it)
    per_thread = budget // nthreads - 2 * npix * acc_itemsize
    block_bytes = builtins.min(config.chunk_bytes, builtins.max(per_thread // 3, frame_bytes))
    fpb = builtins.max(1, block_bytes // frame_bytes)
    result = reduce_frames(
        stack,
        fold,
        combine,
        frames_per_block=fpb,
        start=0,
        stop=n,
        client=client,
        threads=nthreads,
        progress=progress,
        label=label,
    )
    return stack, n, result


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
    s, n, result = _reduce(
        stack,
        nframes,
        _fold_max,
        _combine_max,
        None,
        client=client,
        progress=progress,
        memory_budget=memory_budget,
        threads=threads,
        label="max",
    )
    if result is None:
        raise ValueError("max of zero frames")
    return result


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
    s, n, result = _reduce(
        stack,
        nframes,
        _fold_min,
        _combine_min,
        None,
        client=client,
        progress=progress,
        memory_budget=memory_budget,
        threads=threads,
        label="min",
    )
    if result is None:
        raise ValueError("min of zero frames")
    return result


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
    s, n, result = _reduce(
        stack,
        nframes,
        _fold_sum,
        _combine_sum,
        8,
        client=client,
        progress=progress,
        memory_budget=memory_budget,
        threads=threads,
        label="sum",
    )
    if result is None:
        return np.zeros(s.signal_shape, np.float64)
    return result


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
    s, n, result = _reduce(
        stack,
        nframes,
        _fold_sum,
        _combine_sum,
        8,
        client=client,
        progress=progress,
        memory_budget=memory_budget,
        threads=threads,
        label="average",
    )
    if result is None:
        return np.full(s.signal_shape, np.nan, np.float32)
    result /= n
    return result.astype(np.float32)


#: numpy's name for :func:`average`
mean = average

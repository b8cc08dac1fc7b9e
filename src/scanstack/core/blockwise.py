"""The block engine: fold or map over a stack's frames in threads, or on a dask.distributed cluster.

Everything out-of-core (statistics, sum spectra, virtual detectors, conversions) goes through
these two functions, so memory is bounded by ``frames_per_block × frame size × threads`` and a
``client=`` argument is all it takes to run on a cluster.

- :func:`reduce_frames` folds blocks of frames into an accumulator (sum, max, histogram…);
- :func:`map_frames` turns each frame into a small result (a virtual-detector value, a count…).

Functions given to them must be picklable (module-level functions or ``functools.partial``) when a
``client`` is used; the stack travels to the workers by pickling (it re-opens its file by path).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .progress import Progress, ProgressArg
from .readahead import each_run, partitions
from .reader import normalize_region, region_shape
from .resources import Resources, reader_scratch, resolve
from .stack import Stack

Fold = Callable[[Any, np.ndarray, int, int], Any]
Combine = Callable[[Any, Any], Any]


def _fold_partition(
    stack: Stack,
    fold: Fold,
    start: int,
    stop: int,
    fpb: int,
    region,
    tick: Callable[[int], None] | None = None,
) -> Any:
    acc = None
    for a, b, block in stack.iter_blocks(fpb, region, start, stop):
        acc = fold(acc, block, a, b)
        if tick is not None:
            tick(b - a)
    return acc


def _fold_frames(stack: Stack, start: int, stop: int, *, fold: Fold, fpb: int, region) -> Any:
    return _fold_partition(stack, fold, start, stop, fpb, region)


def run_on_cluster(
    client,
    stack: Stack,
    task: Callable[[Stack, int, int], Any],
    start: int,
    stop: int,
    frames_per_block: int,
    progress: ProgressArg = None,
    label: str = "",
) -> list[Any]:
    """``task(stack, a, b)`` as dask.distributed tasks over frames ``start:stop``; results in order.

    About four partitions per worker, cut on block boundaries; the stack travels by pickling (it
    re-opens its file on the worker). ``task`` must be picklable.
    """
    nworkers = max(1, len(client.scheduler_info().get("workers", {})))
    parts = partitions(max(0, stop - start), 4 * nworkers, frames_per_block)
    futures = [client.submit(task, stack, start + a, start + b, pure=False) for a, b in parts]
    results = []
    with Progress(len(futures), progress, label, "parts") as bar:
        for fut in futures:
            results.append(fut.result())
            bar.update(1)
    return results


def _threads_per_worker(client) -> int:
    """Tasks one worker process runs at once: the budget of a call is per worker process."""
    workers = client.scheduler_info().get("workers", {})
    return max([int(w.get("nthreads", 1)) for w in workers.values()] or [1])


def block_frames(stack: Stack, region, res: Resources) -> int:
    """Frames per block of a fold: each thread (each worker thread with a client) holds at most
    three blocks (folded, read ahead, let go) and the reader's scratch, all within
    ``res.memory_budget``, and a block is at most ``config.block_bytes``."""
    frame_nbytes = math.prod(region_shape(region, stack.signal_shape)) * stack.dtype.itemsize
    readers = res.threads if res.client is None else _threads_per_worker(res.client)
    scratch = readers * reader_scratch(stack, res.memory_budget, readers)
    return res.frames_per_block(frame_nbytes, 3, scratch, readers)


def combine_all(results: list[Any], combine: Combine) -> Any:
    """``combine`` the non-None results in order (None if there are none)."""
    results = [r for r in results if r is not None]
    if not results:
        return None
    acc = results[0]
    for r in results[1:]:
        acc = combine(acc, r)
    return acc


def run_partitions(
    run: Callable[[int, int, Callable[[int], None]], Any],
    parts: list[tuple[int, int]],
    total: int,
    progress: ProgressArg = None,
    label: str = "",
) -> list[Any]:
    """``run(a, b, tick)`` for each partition, one thread each (:func:`each_run`); results in
    order. ``tick(k)`` reports ``k`` more frames done to the progress bar (thread-safe).
    """
    with Progress(total, progress, label, "frames") as bar:
        return each_run(lambda a, b: run(a, b, bar.update), parts)


def reduce_frames(
    stack: Stack,
    fold: Fold,
    combine: Combine,
    *,
    frames_per_block: int | None = None,
    region=None,
    start: int = 0,
    stop: int | None = None,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    label: str = "reduce",
) -> Any:
    """Fold frames ``start:stop`` of ``stack`` block by block and combine the partial results.

    ``fold(acc, block, a, b)`` gets ``acc=None`` first and a block ``(b - a, *region_shape)`` of
    frames ``a:b``; it returns the new accumulator. ``combine(acc1, acc2)`` merges the
    accumulators of two partitions (in frame order). Returns the final accumulator (None for
    no frames). This is the block path only: reductions go through
    :func:`scanstack.core.fold.fold_frames`, which folds in place where the reader allows.
    ``client``, ``threads``, ``progress``, ``memory_budget``: as everywhere
    (:mod:`scanstack.core.resources`); without ``frames_per_block``, :func:`block_frames`.
    """
    res = resolve(client=client, threads=threads, progress=progress, memory_budget=memory_budget)
    region = normalize_region(region, stack.signal_shape)
    stop = stack.nframes if stop is None else min(stop, stack.nframes)
    fpb = frames_per_block or block_frames(stack, region, res)
    nthreads, progress = res.threads, res.progress
    n = max(0, stop - start)
    if client is not None:
        task = functools.partial(_fold_frames, fold=fold, fpb=fpb, region=region)
        results = run_on_cluster(client, stack, task, start, stop, fpb, progress, label)
        return combine_all(results, combine)

    def run(a: int, b: int, tick: Callable[[int], None]) -> Any:
        return _fold_partition(stack, fold, start + a, start + b, fpb, region, tick)

    return combine_all(
        run_partitions(run, partitions(n, nthreads, fpb), n, progress, label), combine
    )


def gather(
    pieces: list[tuple[int, np.ndarray]] | None, nframes: int, value_shape=(), dtype=np.float64
) -> np.ndarray:
    """Per-frame results collected as ``[(first frame, values (n, *value_shape)), ...]`` (any
    order; None for no frames) placed into one array ``(nframes, *value_shape)`` of ``dtype``.

    Frames no piece covers are 0 (every fold visits all frames, so none are left in practice).
    """
    out = np.zeros((nframes, *tuple(value_shape)), dtype=dtype)
    for a, values in pieces or []:
        out[a : a + len(values)] = values
    return out


class _MapFold:
    """Picklable fold that collects ``(start, func(block))`` pairs."""

    def __init__(self, func, out_shape, out_dtype):
        self.func, self.out_shape, self.out_dtype = func, tuple(out_shape), np.dtype(out_dtype)

    def __call__(self, acc, block, a, b):
        acc = [] if acc is None else acc
        result = np.asarray(self.func(block), dtype=self.out_dtype)
        acc.append((a, result.reshape((b - a, *self.out_shape))))
        return acc


def _concat(x, y):
    return x + y


def map_frames(
    stack: Stack,
    func: Callable[[np.ndarray], np.ndarray],
    *,
    out_shape=(),
    out_dtype=np.float64,
    frames_per_block: int | None = None,
    region=None,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    label: str = "map",
) -> np.ndarray:
    """Apply ``func`` to blocks ``(n, *region_shape)`` → ``(n, *out_shape)``; gather per frame.

    Returns an array of shape ``nav_shape + out_shape``.
    """
    pieces = reduce_frames(
        stack,
        _MapFold(func, out_shape, out_dtype),
        _concat,
        frames_per_block=frames_per_block,
        region=region,
        client=client,
        threads=threads,
        progress=progress,
        memory_budget=memory_budget,
        label=label,
    )
    out = gather(pieces, stack.nframes, out_shape, out_dtype)
    return out.reshape(tuple(stack.nav_shape) + tuple(out_shape))

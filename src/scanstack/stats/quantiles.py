"""median and percentile over frames, pixel tile by pixel tile.

An order statistic needs all the values of a pixel at once, so the frame is cut into tiles of
pixels (a contiguous run of flat pixel indices: a band of rows, or part of one row for huge
frames), and each tile is read for all frames (``stack.read(0, n, region)``, which reads only
that region) and reduced by a numba kernel (:mod:`._kernels`). Tiles run in threads (the kernel
releases the GIL) or as dask.distributed tasks. The tile size comes from the memory budget and
the number of threads, so memory stays bounded whatever the file size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import numpy as np

from ..core.progress import Progress, ProgressArg
from ..core.stack import Stack
from . import _kernels
from ._common import as_stack, budget_and_threads, frame_count, in_memory_array

#: bytes reserved per thread for small temporaries (beyond the kernel's own buffers)
_THREAD_OVERHEAD = 64 << 10
#: aim for at least this many tiles per thread (load balance, overlap of reading and computing)
_TILES_PER_THREAD = 4
#: but no tile below this many pixels unless the budget forces it
_MIN_TILE_PIXELS = 1 << 16


def plan_tiles(signal_shape: Sequence[int], max_pixels: int) -> list[tuple[int, int, tuple]]:
    """Cut a frame into tiles of at most ``max_pixels`` pixels, each a run of flat indices.

    Returns ``(flat_start, flat_stop, region)`` triples, ``region`` being a tuple of slices that
    reads exactly those pixels.
    """
    shape = tuple(int(n) for n in signal_shape)
    max_pixels = max(1, int(max_pixels))
    total = math.prod(shape)
    if total == 0:
        return []
    # the first axis k whose trailing block fits: tiles step along axis k, take later axes whole
    k = len(shape) - 1
    for axis in range(len(shape)):
        if math.prod(shape[axis + 1 :]) <= max_pixels:
            k = axis
            break
    inner = math.prod(shape[k + 1 :])
    step = max(1, max_pixels // inner)
    tiles = []
    for outer in np.ndindex(*shape[:k]):
        base = (int(np.ravel_multi_index(outer, shape[:k])) if k else 0) * shape[k] * inner
        for a in range(0, shape[k], step):
            b = min(a + step, shape[k])
            region = tuple(slice(i, i + 1) for i in outer) + (slice(a, b),)
            region += tuple(slice(0, n) for n in shape[k + 1 :])
            tiles.append((base + a * inner, base + b * inner, region))
    return tiles


def _kernel_args(dtype: np.dtype) -> tuple[np.dtype, bool, int]:
    """(dtype the kernel works in, use integer passes, the dtype's maximum)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.dtype(np.uint8), True, 255
    if dtype.kind in "iu":
        if dtype.itemsize <= 4:
            return dtype, True, int(np.iinfo(dtype).max)
        return dtype, False, 0
    if dtype.kind == "f":
        return (np.dtype(np.float32) if dtype.itemsize < 4 else dtype), False, 0
    raise TypeError(f"median/percentile need real numbers, not {dtype}")


def _prepare(block: np.ndarray, n: int, work_dtype: np.dtype) -> np.ndarray:
    block = block.reshape(n, -1)
    if block.dtype != work_dtype:
        block = block.astype(work_dtype) if block.dtype.kind != "b" else block.view(np.uint8)
    return block


def _run_kernel(block: np.ndarray, plan, out: np.ndarray) -> None:
    ranks, lo, hi, gamma, median, passes, maxval = plan
    _kernels.quantile_tile(block, ranks, lo, hi, gamma, median, passes, maxval, out)


def _tile_task(stack: Stack, n: int, region: tuple, plan, work_dtype: np.dtype) -> np.ndarray:
    """Read one tile for all frames and reduce it: ``(nq, tile_pixels)`` float32 (dask task)."""
    block = _prepare(stack.read(0, n, region), n, work_dtype)
    out = np.empty((plan[1].size, block.shape[1]), np.float32)
    _run_kernel(block, plan, out)
    return out


def _quantiles(
    obj: Any,
    q: np.ndarray,
    median: bool,
    nframes: int,
    *,
    client,
    progress,
    memory_budget,
    threads,
    label: str,
) -> np.ndarray:
    """Quantiles ``q`` (fractions, 1-D) over frames: ``(len(q), *signal_shape)`` float32."""
    stack = as_stack(obj)
    n = frame_count(stack, nframes)
    npix = math.prod(stack.signal_shape)
    out = np.empty((q.size, npix), np.float32)
    if n == 0:
        out.fill(np.nan)
        return out.reshape((q.size, *stack.signal_shape))
    work_dtype, passes, maxval = _kernel_args(stack.dtype)
    ranks, lo, hi, gamma = _kernels.rank_plan(n, q)
    plan = (ranks, lo, hi, gamma, bool(median), passes, maxval)

    budget, nthreads = budget_and_threads(memory_budget, threads)
    if client is not None:
        workers = client.scheduler_info().get("workers", {})
        nthreads = max([int(w.get("nthreads", 1)) for w in workers.values()] or [1])
        concurrency = max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))
    else:
        concurrency = nthreads
    memory = in_memory_array(stack) if client is None else None
    # per pixel of a tile: its values read (and converted, for dtypes the kernel does not take)
    # plus the tile's results when they travel back from a worker
    per_pixel = n * np.dtype(stack.dtype).itemsize + q.size * 4
    if work_dtype != stack.dtype and stack.dtype.kind != "b":
        per_pixel += n * work_dtype.itemsize
    # the kernel's buffers: a chunk of pixels × all frames, and one pixel's values
    kernel_bytes = (_kernels.PIXELS_PER_CHUNK + 1) * n * work_dtype.itemsize

    def tile_pixels(threads: int) -> int:
        avail = budget - out.nbytes - threads * (_THREAD_OVERHEAD + kernel_bytes)
        return avail // (threads * per_pixel)

    # a tight budget is better spent on bigger tiles than on more threads
    while nthreads > 1 and tile_pixels(nthreads) < _kernels.PIXELS_PER_CHUNK:
        nthreads -= 1
        concurrency = min(concurrency, nthreads) if client is None else concurrency
    max_pixels = max(1, tile_pixels(nthreads))
    if memory is not None:
        max_pixels = npix  # the data is in RAM already: tiles are views, only balance matters
    balance = math.ceil(npix / (_TILES_PER_THREAD * concurrency))
    max_pixels = min(max_pixels, max(balance, _MIN_TILE_PIXELS))
    tiles = plan_tiles(stack.signal_shape, max_pixels)

    with Progress(len(tiles), progress, label, "tiles") as bar:
        if client is not None:
            from distributed import as_completed as dask_completed

            futures = {
                client.submit(_tile_task, stack, n, region, plan, work_dtype, pure=False): (a, b)
                for a, b, region in tiles
            }
            for fut in dask_completed(list(futures)):
                a, b = futures[fut]
                out[:, a:b] = fut.result()
                fut.release()
                bar.update(1)
        else:
            flat = memory.reshape(memory.shape[0], -1) if memory is not None else None

            def work(a: int, b: int, region: tuple) -> None:
                if flat is not None:
                    block = _prepare(flat[:n, a:b], n, work_dtype)
                else:
                    block = _prepare(stack.read(0, n, region), n, work_dtype)
                _run_kernel(block, plan, out[:, a:b])

            if nthreads == 1 or len(tiles) == 1:
                for a, b, region in tiles:
                    work(a, b, region)
                    bar.update(1)
            else:
                with ThreadPoolExecutor(min(nthreads, len(tiles))) as pool:
                    futures = [pool.submit(work, a, b, region) for a, b, region in tiles]
                    for fut in as_completed(futures):
                        fut.result()
                        bar.update(1)
    return out.reshape((q.size, *stack.signal_shape))


def _fractions(pctl) -> tuple[np.ndarray, tuple[int, ...]]:
    q = np.asarray(pctl, dtype=np.float64)
    if q.size == 0:
        raise ValueError("pctl is empty")
    if np.any(np.isnan(q)) or np.any(q < 0) or np.any(q > 100):
        raise ValueError(f"percentiles must be in the range [0, 100], got {pctl!r}")
    return (q / 100.0).reshape(-1), q.shape


def percentile(
    stack: Any,
    pctl,
    nframes: int = 0,
    *,
    client=None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Pixel-wise percentile(s) over the first ``nframes`` frames (0: all), float32.

    ``pctl`` is a number in [0, 100] (result ``signal_shape``) or a sequence (result
    ``(len(pctl), *signal_shape)``), computed as ``np.percentile(frames, pctl, axis=0)`` with the
    default linear method, then rounded to float32; a pixel with a NaN gives NaN. ``stack`` is a
    Stack, an array ``(nframes, rows, cols)`` or a sequence of frames. Memory stays within
    ``memory_budget`` (default ``scanstack.config.memory_budget``) bytes;
    ``threads`` defaults to ``scanstack.config.threads()``; ``client`` (dask.distributed) runs the
    tiles on a cluster; ``progress`` is ``True`` for a bar or a callable ``f(done, total)``.
    """
    q, qshape = _fractions(pctl)
    result = _quantiles(
        stack,
        q,
        False,
        nframes,
        client=client,
        progress=progress,
        memory_budget=memory_budget,
        threads=threads,
        label="percentile",
    )
    return result.reshape(qshape + result.shape[1:])


def median(
    stack: Any,
    nframes: int = 0,
    *,
    client=None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    threads: int | None = None,
) -> np.ndarray:
    """Pixel-wise median over the first ``nframes`` frames (0: all), float32, ``signal_shape``.

    Equal to ``np.median(frames, axis=0)`` rounded to float32. Arguments as in
    :func:`percentile`.
    """
    result = _quantiles(
        stack,
        np.array([0.5]),
        True,
        nframes,
        client=client,
        progress=progress,
        memory_budget=memory_budget,
        threads=threads,
        label="median",
    )
    return result[0]

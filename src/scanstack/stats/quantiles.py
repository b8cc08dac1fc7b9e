"""median and percentile over frames, pixel tile by pixel tile.

An order statistic needs all the values of a pixel at once, so the frame is cut into tiles of
pixels (a contiguous run of flat pixel indices: a band of rows, or part of one row for huge
frames), and each tile is read for all frames (``stack.read(0, n, region)``, which reads only
that region) and reduced by a numba kernel (:mod:`._kernels`, called through :mod:`._compiled`). On one machine a tile is read
once (the next one is read ahead) and its pixels are shared out to threads (the kernel releases
the GIL); with a dask.distributed ``client`` each tile is a task. The tile size comes from the
memory budget, so memory stays bounded whatever the file size; when the whole series fits, it is
read once.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import numpy as np

from ..core.errors import check_fits
from ..core.progress import Progress, ProgressArg
from ..core.readahead import read_ahead
from ..core.stack import Stack
from . import _compiled
from ._common import (
    as_stack,
    budget_and_threads,
    frame_count,
    in_memory_array,
    per_pixel,
    reader_scratch,
)

#: bytes reserved per thread for small temporaries (beyond the kernel's own buffers)
_THREAD_OVERHEAD = 64 << 10
#: aim for at least this many tiles per thread (load balance, overlap of reading and computing)
_TILES_PER_THREAD = 4
#: but no tile below this many pixels unless the budget forces it
_MIN_TILE_PIXELS = 1 << 16
#: the kernel's chunk of pixels is made narrower down to this before threads are given up
_MIN_KERNEL_PIXELS = 16


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
    dtype = np.dtype(dtype).newbyteorder("=")  # numba works in native byte order
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
    ranks, lo, hi, gamma, median, passes, maxval, width = plan
    _compiled.quantile_tile(block, ranks, lo, hi, gamma, median, passes, maxval, width, out)


def kernel_plan(n: int, itemsize: int, threads: int, room: int) -> tuple[int, int]:
    """(pixels per kernel chunk, threads) for ``room`` bytes left after the result and scratch.

    Each thread's kernel holds a buffer of ``(width + 1) × n`` values of ``itemsize`` bytes (a
    chunk of pixels over all ``n`` frames, and one pixel's values) and :data:`_THREAD_OVERHEAD`
    of temporaries. With many frames (a map of 10^4 spectra) 256 pixels would take megabytes. A
    tight budget is better spent on tiles than on the threads: the buffers get at most a quarter
    of ``room``, by a narrower chunk (down to :data:`_MIN_KERNEL_PIXELS`), then fewer threads
    (as when the temporaries alone are too many), then a narrower chunk still (one pixel).
    """
    width = _compiled.PIXELS_PER_CHUNK

    def buffers(width: int, threads: int) -> int:
        return threads * (width + 1) * n * itemsize

    while True:
        if buffers(width, threads) > room // 4 and width > _MIN_KERNEL_PIXELS:
            width = max(_MIN_KERNEL_PIXELS, width // 2)
        elif threads > 1 and threads * _THREAD_OVERHEAD + buffers(width, threads) > room // 4:
            threads -= 1
        elif buffers(width, threads) > room // 4 and width > 1:
            width //= 2
        else:
            break
    return width, threads


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
    budget, nthreads = budget_and_threads(memory_budget, threads)
    check_fits(
        q.size * npix * 4,
        f"the {label} of {stack.signal_shape} frames",
        getattr(stack, "path", None),
        budget=budget,
    )
    out = np.empty((q.size, npix), np.float32)
    if n == 0:
        out.fill(np.nan)
        return out.reshape((q.size, *stack.signal_shape))
    work_dtype, passes, maxval = _kernel_args(stack.dtype)
    ranks, lo, hi, gamma = _compiled.rank_plan(n, q)
    plan = (ranks, lo, hi, gamma, bool(median), passes, maxval)

    # bytes per pixel of a tile: its values read (and converted, for dtypes the kernel does not
    # take)
    per_pixel = n * stack.dtype.itemsize
    if work_dtype != stack.dtype and stack.dtype.kind != "b":
        per_pixel += n * work_dtype.itemsize
    if client is not None:
        _on_cluster(client, stack, n, plan, work_dtype, out, budget, per_pixel, progress, label)
    else:
        _on_threads(stack, n, plan, work_dtype, out, budget, nthreads, per_pixel, progress, label)
    return out.reshape((q.size, *stack.signal_shape))


def _split(a: int, b: int, size: int) -> list[tuple[int, int]]:
    return [(x, min(x + size, b)) for x in range(a, b, size)]


def _on_threads(
    stack, n, plan, work_dtype, out, budget, nthreads, per_pixel, progress, label
) -> None:
    """Tiles read one after the other (the next one read ahead), each computed by all threads.

    Reading a tile once and splitting the computation keeps the number of tiles at what the
    budget requires: for frame-chunked compressed files every tile decodes all the frames again.
    """
    npix = out.shape[1]
    # the data in RAM is used in place, unless the kernel needs it converted (whole-array copy)
    same = work_dtype == stack.dtype or stack.dtype.kind == "b"
    memory = in_memory_array(stack) if same else None

    # the reader's scratch (decoded chunks, sparse frames) while it reads a tile: one read at
    # a time (the tile after the current one)
    scratch = reader_scratch(stack, budget) if memory is None else 0

    left = budget - out.nbytes - scratch
    width, nthreads = kernel_plan(n, work_dtype.itemsize, nthreads, left)
    plan = (*plan, width)
    room = left - nthreads * (_THREAD_OVERHEAD + (width + 1) * n * work_dtype.itemsize)
    if memory is not None or npix * per_pixel <= room:
        tiles = [(0, npix, None)]  # in RAM already, or the whole frame fits: one read
    else:
        tiles = plan_tiles(stack.signal_shape, max(1, room // (2 * per_pixel)))
    flat = memory.reshape(memory.shape[0], -1) if memory is not None else None

    def load(a: int, b: int, region) -> np.ndarray:
        if flat is not None:
            return _prepare(flat[:n, a:b], n, work_dtype)
        return _prepare(stack.read(0, n, region), n, work_dtype)

    def parts_of(a: int, b: int) -> list[tuple[int, int]]:
        size = max(math.ceil((b - a) / (_TILES_PER_THREAD * nthreads)), width)
        return _split(a, b, size)

    total = sum(len(parts_of(a, b)) for a, b, _ in tiles)
    with (
        Progress(total, progress, label, "parts") as bar,
        ThreadPoolExecutor(nthreads) as pool,
        contextlib.closing(read_ahead(lambda tile: load(*tile), tiles)) as blocks,
    ):
        for (a, b, _), block in blocks:
            futures = [
                pool.submit(_run_kernel, block[:, x - a : y - a], plan, out[:, x:y])
                for x, y in parts_of(a, b)
            ]
            for fut in as_completed(futures):
                fut.result()
                bar.update(1)
            del block, futures


def _on_cluster(
    client, stack, n, plan, work_dtype, out, budget, per_pixel, progress, label
) -> None:
    """One dask.distributed task per tile (read and computed on a worker); results gathered."""
    from distributed import as_completed as dask_completed

    workers = client.scheduler_info().get("workers", {})
    threads = [int(w.get("nthreads", 1)) for w in workers.values()] or [1]
    per_worker = max(threads)  # tasks that may run at once in one worker process
    per_pixel += out.shape[0] * 4  # each task returns its results
    width, _ = kernel_plan(n, work_dtype.itemsize, per_worker, budget)
    plan = (*plan, width)
    room = budget - per_worker * (_THREAD_OVERHEAD + (width + 1) * n * work_dtype.itemsize)
    max_pixels = max(1, room // (per_worker * per_pixel))
    balance = math.ceil(out.shape[1] / (_TILES_PER_THREAD * sum(threads)))
    tiles = plan_tiles(stack.signal_shape, min(max_pixels, max(balance, _MIN_TILE_PIXELS)))
    with Progress(len(tiles), progress, label, "tiles") as bar:
        futures = {
            client.submit(_tile_task, stack, n, region, plan, work_dtype, pure=False): (a, b)
            for a, b, region in tiles
        }
        for fut in dask_completed(list(futures)):
            a, b = futures[fut]
            out[:, a:b] = fut.result()
            fut.release()
            bar.update(1)


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


def _median(stack, nframes, client, progress, memory_budget, threads) -> np.ndarray:
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


median = per_pixel(
    "median",
    """Pixel-wise median over the first ``nframes`` frames (0: all), float32, ``signal_shape``.

    Equal to ``np.median(frames, axis=0)`` rounded to float32. Arguments as in
    :func:`percentile`.
    """,
    _median,
)

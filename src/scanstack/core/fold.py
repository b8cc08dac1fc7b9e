"""The one place that decides how a reduction reads a stack: in place, or in blocks read ahead.

Every reduction of scanstack (``stats.*``, ``stem.*``, ``xrf.*``, the previews and the CLI built on
them) hands :func:`fold_frames` a :class:`LaneFold` and gets its result back; none of them looks
at the reader. The fastest way available is chosen here, once:

1. **in place** — the reader offers a memory map (``as_array()``) or packed raw frames
   (``as_packed()``) that :func:`~scanstack.core.lanes.direct_source` can view as lanes: the fold
   reads the mapped bytes directly (no copy, big-endian swapped in registers), one contiguous run
   of frames per thread, about ``config.block_bytes`` per call;
2. **blocks** — otherwise frames are read block by block (the next block read in a background
   thread, one partition per thread, :func:`~scanstack.core.blockwise.reduce_frames`), and each
   block is handed to the same fold as lanes in frame order (:func:`~scanstack.core.lanes.block_lanes`);
3. **growing** — a stack still being recorded (:class:`~scanstack.core.growing.Growing`: a
   followed ``.mib``, a live detector stream) is folded batch by batch as its frames land: each
   batch is the frames that arrived since the last one (at least about ``config.block_bytes``
   of them, or the rest of the scan), read from ``arrived()`` by 1. or 2. like a file;
4. with ``client=`` the frames are split into dask.distributed tasks; each task makes the same
   choice on its worker (the stack re-opens its file there).

So a new reader that offers ``as_array()`` gets the fast path in every tool for free.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol

import numpy as np

from .blockwise import (
    block_frames,
    combine_all,
    partitions,
    reduce_frames,
    run_on_cluster,
    run_partitions,
)
from .config import config
from .growing import Growing
from .lanes import Lanes, block_lanes, direct_source
from .progress import Progress, ProgressArg
from .reader import normalize_region, region_shape
from .resources import resolve
from .stack import Stack


class LaneFold(Protocol):
    """What a reduction gives :func:`fold_frames`.

    - ``fold(acc, lanes, a, b)``: fold the frames ``a:b`` of the stack, given as
      :class:`~scanstack.core.lanes.Lanes` (``acc`` is None first); returns the new accumulator,
      in the lanes' memory order;
    - ``combine(x, y)``: merge the accumulators of two consecutive runs of frames, both in frame
      order (for blocks, the lanes' order is the frame order);
    - ``to_frames(acc, layout)``: an accumulator in ``layout``'s memory order -> frame order
      (``layout.frame_values`` for per-pixel arrays; the identity for per-frame results).

    Must be picklable for ``client=`` (module-level classes).
    """

    def fold(self, acc: Any, lanes: Lanes, a: int, b: int) -> Any: ...

    def combine(self, x: Any, y: Any) -> Any: ...

    def to_frames(self, acc: Any, layout: Lanes) -> Any: ...


def fold_path(stack: Stack, *, fast: bool = True, region=None) -> str:
    """Which way :func:`fold_frames` reads ``stack``: ``"in place"``, ``"packed"`` or ``"blocks"``."""
    src = direct_source(stack) if fast and region is None else None
    if src is None:
        return "blocks"
    return "packed" if src.packed else "in place"


def fold_frames(
    stack: Stack,
    fold: LaneFold,
    *,
    start: int = 0,
    stop: int | None = None,
    region=None,
    frames_per_block: int | None = None,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    label: str = "fold",
    fast: bool = True,
) -> Any:
    """Fold frames ``start:stop`` of ``stack`` the fastest way; the accumulator in frame order.

    ``region`` (a region of the frame) reads only that part, through blocks; ``frames_per_block``
    bounds the blocks of the block path (default :func:`~.blockwise.block_frames`, from
    ``memory_budget``); ``fast=False``
    always reads blocks (for comparisons). Returns None for no frames.
    """
    res = resolve(client=client, threads=threads, progress=progress, memory_budget=memory_budget)
    progress = res.progress
    region = normalize_region(region, stack.signal_shape)
    stop = stack.nframes if stop is None else min(stop, stack.nframes)
    start = max(0, min(start, stop))
    fpb = frames_per_block or block_frames(stack, region, res)
    if client is not None:
        task = functools.partial(_fold_task, fold=fold, region=region, fpb=fpb, fast=fast)
        return combine_all(
            run_on_cluster(client, stack, task, start, stop, fpb, progress, label), fold.combine
        )
    nthreads = res.threads
    if isinstance(stack, Growing):
        return _fold_growing(stack, fold, start, stop, region, fpb, nthreads, progress, label, fast)
    src = direct_source(stack) if fast and region is None else None
    if src is None:
        layout = block_layout(region_shape(region, stack.signal_shape))
        acc = reduce_frames(
            stack,
            _BlockFold(fold),
            fold.combine,
            frames_per_block=fpb,
            region=region,
            start=start,
            stop=stop,
            threads=nthreads,
            progress=progress,
            label=label,
        )
        return None if acc is None else fold.to_frames(acc, layout)
    return _fold_in_place(src, fold, start, stop, nthreads, progress, label)


def block_layout(frame_shape: tuple[int, ...]) -> Lanes:
    """The layout of blocks read for a fold: lanes in frame order (only its shape matters)."""
    return Lanes(np.empty((0, 0), np.uint8), False, 0, 0, np.empty(0, np.int64), frame_shape)


class _BlockFold:
    """``reduce_frames``'s fold over a :class:`LaneFold`: each block as lanes in frame order."""

    def __init__(self, fold: LaneFold):
        self.fold = fold

    def __call__(self, acc, block, a, b):
        return self.fold.fold(acc, block_lanes(block), a, b)


def frames_per_call(src: Lanes, nframes: int, nthreads: int) -> int:
    """Frames per kernel call in place: about ``config.block_bytes`` of data, at least one per thread."""
    frame_bytes = max(1, src.n * src.data.itemsize)
    per = max(1, config.block_bytes // frame_bytes)
    return min(per, max(1, -(-nframes // nthreads)))


def _fold_in_place(
    src: Lanes, fold: LaneFold, start: int, stop: int, nthreads: int, progress, label: str
) -> Any:
    n = stop - start
    per = frames_per_call(src, n, nthreads)

    def run(a: int, b: int, tick) -> Any:
        acc = None
        for c in range(a, b, per):
            d = min(c + per, b)
            acc = fold.fold(acc, src.take(start + c, start + d), start + c, start + d)
            tick(d - c)
        return acc

    # each partition's accumulator goes to frame order before combining: cheap (one frame each)
    # and it keeps ``combine`` to one order (e.g. 1-bit maxima are OR-ed words in memory order)
    results = run_partitions(run, partitions(n, nthreads, per), n, progress, label)
    return combine_all([fold.to_frames(r, src) for r in results if r is not None], fold.combine)


def _fold_growing(
    stack: Stack,
    fold: LaneFold,
    start: int,
    stop: int,
    region,
    fpb: int,
    nthreads: int,
    progress,
    label: str,
    fast: bool,
) -> Any:
    """Fold a growing stack in batches of the frames that have arrived, in frame order.

    Each batch waits for about ``config.block_bytes`` of new frames (fewer at the end of the
    scan), so the per-batch cost (a memory map of the complete part, thread start-up) is paid
    rarely, and the fold of one batch overlaps the arrival of the next.
    """
    frame_bytes = max(1, stack.frame_nbytes)
    results = []
    # the hold keeps a source that reuses memory (a live ring) from dropping unread frames
    with stack.hold(start) as cursor, Progress(stop - start, progress, label, "frames") as bar:
        step = cursor.batch(max(1, config.block_bytes // frame_bytes))
        done = start
        while done < stop:
            stack.wait_for(min(done + step, stop) - 1)
            part = stack.arrived()
            b = min(part.nframes, stop)
            results.append(
                fold_frames(
                    part,
                    fold,
                    start=done,
                    stop=b,
                    region=region,
                    frames_per_block=fpb,
                    threads=nthreads,
                    progress=False,
                    fast=fast,
                )
            )
            cursor.advance(b)
            bar.update(b - done)
            done = b
    return combine_all(results, fold.combine)


def _fold_task(stack: Stack, a: int, b: int, *, fold: LaneFold, region, fpb: int, fast: bool):
    """One dask.distributed task: frames ``a:b`` folded on the worker, the fastest way there."""
    return fold_frames(
        stack, fold, start=a, stop=b, region=region, frames_per_block=fpb, threads=1, fast=fast
    )

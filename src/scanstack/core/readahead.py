"""Read the next block in the background while the caller works on the current one; map
over a thread pool with a bounded number of results alive; run a function over contiguous parts
of a range, one thread each (:func:`each_run`: the reductions' partitions, whole reads, chunk
decoding)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar

import numpy as np

K = TypeVar("K")
V = TypeVar("V")


def read_ahead(load: Callable[[K], V], keys: Sequence[K]) -> Iterator[tuple[K, V]]:
    """Yield ``(key, load(key))`` for each key in order, loading the next key in a thread.

    At most two loaded values are alive at once (the one yielded and the one being loaded), so
    memory stays bounded by the block size. Closing the generator waits for a pending load.
    """
    if not keys:
        return
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(load, keys[0])
        for i, key in enumerate(keys):
            value = future.result()
            if i + 1 < len(keys):
                future = pool.submit(load, keys[i + 1])
            yield key, value


def bounded_map(
    pool: Executor, func: Callable[[K], V], items: Iterable[K], window: int
) -> Iterator[V]:
    """``pool.map(func, items)`` with at most ``window`` calls running or done-but-unconsumed.

    ``Executor.map`` submits every item at once, so results pile up faster than the caller
    consumes them (a read of all frames held every decoded chunk at once). Here a new call is
    submitted only as a result is taken: memory stays at ``window`` results whatever the count.
    """
    window = max(1, int(window))
    pending: deque = deque()
    try:
        for item in items:
            if len(pending) >= window:
                yield pending.popleft().result()
            pending.append(pool.submit(func, item))
        while pending:
            yield pending.popleft().result()
    finally:
        for fut in pending:
            fut.cancel()


def partitions(nframes: int, nparts: int, frames_per_block: int = 1) -> list[tuple[int, int]]:
    """Split ``range(nframes)`` into about ``nparts`` contiguous parts, cut on block boundaries
    (none empty, at most one per block of ``frames_per_block``)."""
    if nframes == 0:
        return []
    nblocks = math.ceil(nframes / frames_per_block)
    nparts = max(1, min(nparts, nblocks))
    edges = np.linspace(0, nblocks, nparts + 1).round().astype(int) * frames_per_block
    edges = np.minimum(edges, nframes)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def each_run(
    func: Callable[[int, int], V], parts: Sequence[tuple[int, int]], pool: Executor | None = None
) -> list[V]:
    """``func(a, b)`` for each ``(a, b)`` of ``parts``, one task per part; results in order.

    One task per thread, not one per item: on a loaded machine every hand-over between threads
    waits for a time slice, so many small tasks (a frame, a chunk) cost more than the work
    they share; a single part is done in the calling thread. ``pool`` (a reader's own) is used
    when given, else a thread is started per part for this call. The first exception (in part
    order) is raised.
    """
    if len(parts) <= 1:
        return [func(a, b) for a, b in parts]
    if pool is None:
        with ThreadPoolExecutor(len(parts)) as own:
            return [f.result() for f in [own.submit(func, a, b) for a, b in parts]]
    return [f.result() for f in [pool.submit(func, a, b) for a, b in parts]]

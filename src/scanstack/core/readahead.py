"""Read the next block in the background while the caller works on the current one; map
over a thread pool with a bounded number of results alive."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TypeVar

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


def runs(n: int, parts: int) -> list[tuple[int, int]]:
    """``range(n)`` cut into at most ``parts`` contiguous ``(start, stop)`` runs of near-equal
    length (none empty)."""
    parts = max(1, min(int(parts), n))
    per = -(-n // parts) if n else 0
    return [(a, min(a + per, n)) for a in range(0, n, per)] if n else []


def each_run(
    func: Callable[[int, int], None], n: int, threads: int, pool: Executor | None = None
) -> None:
    """``func(a, b)`` once for each of :func:`runs` ``(n, threads)``, one run per thread.

    One task per thread, not one per item: on a loaded machine every hand-over between threads
    waits for a time slice, so many small tasks (a frame, a chunk) cost more than the work
    they share; a single run is done in the calling thread. ``pool`` (a reader's own) is used
    when given, else threads are started for this call. The first exception is raised.
    """
    parts = runs(n, threads)
    if len(parts) <= 1:
        for a, b in parts:
            func(a, b)
        return
    if pool is None:
        with ThreadPoolExecutor(len(parts)) as own:
            for f in [own.submit(func, a, b) for a, b in parts]:
                f.result()
        return
    for f in [pool.submit(func, a, b) for a, b in parts]:
        f.result()

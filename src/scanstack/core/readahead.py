"""Read the next block in the background while the caller works on the current one."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
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

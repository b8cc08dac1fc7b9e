"""Copy a stack into any array-like (h5py dataset, zarr array, memmap) block by block.

Shared by every writer so that memory stays bounded by the ``memory_budget`` whatever the file
size, and so that progress is reported the same way everywhere.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from .atomic import checkpoint
from .progress import Progress, ProgressArg
from .readahead import read_ahead
from .resources import UNSET, Resources, reader_scratch, renamed, resolve
from .stack import Stack


def nav_blocks(nav_shape: tuple[int, ...], frames_per_block: int) -> Iterator[tuple[slice, ...]]:
    """Rectangular blocks of the navigation grid, each holding at most ``frames_per_block`` frames.

    Blocks are whole trailing rows where possible, so each is contiguous in C order.
    """
    nav_shape = tuple(nav_shape)
    if not nav_shape:
        yield ()
        return
    fpb = max(1, int(frames_per_block))
    k = len(nav_shape) - 1
    while k > 0 and math.prod(nav_shape[k:]) <= fpb:
        k -= 1
    inner = math.prod(nav_shape[k + 1 :])
    step = max(1, fpb // max(inner, 1))
    for outer in itertools.product(*(range(n) for n in nav_shape[:k])):
        for a in range(0, nav_shape[k], step):
            yield (
                *(slice(i, i + 1) for i in outer),
                slice(a, min(a + step, nav_shape[k])),
                *(slice(None),) * (len(nav_shape) - k - 1),
            )


def read_nav_block(stack: Stack, key: tuple[slice, ...]) -> np.ndarray:
    """The frames under a navigation block ``key`` as ``(*block_nav_shape, *signal_shape)``."""
    frame_map = np.arange(stack.nframes).reshape(stack.nav_shape)[key]
    data = stack.read_frames(frame_map.reshape(-1))
    return data.reshape(frame_map.shape + data.shape[1:])


#: blocks alive at once in :func:`copy_to`: the one stored, the one read ahead, and the
#: transformed copy of the stored one (a cast, a reshape that copies, the encoder's input)
COPY_BLOCKS = 3


def copy_frames_per_block(stack: Stack, res: Resources, reserve: int = 0) -> int:
    """Frames per block of :func:`copy_to` under ``res.memory_budget`` (one reader, one writer),
    less ``reserve`` bytes and the reader's own scratch (:func:`~.resources.reader_scratch`)."""
    reserve += reader_scratch(stack, res.memory_budget)
    return res.frames_per_block(stack.frame_nbytes, COPY_BLOCKS, reserve, concurrent=1)


#: what one chunk-writing task holds at once, in chunks: the frames it read, their encoded bytes,
#: and the encoder's scratch (a shuffled or byte-swapped copy)
TASK_CHUNKS = 3


def file_chunk_target(
    requested: int | None,
    default: int,
    res: Resources,
    deprecated: Any = UNSET,
    where: str = "write",
    stacklevel: int = 4,
) -> int:
    """Bytes of one chunk stored in the file (a writer's ``file_chunk_bytes``).

    ``requested`` as given; else ``default``, made smaller when the budget asks for it: each of
    the ``2 × threads`` chunk tasks in flight holds :data:`TASK_CHUNKS` chunks (and so does one
    block of :func:`copy_to`), all within ``res.memory_budget``. ``deprecated`` is the value of
    the writer's old keyword ``chunk_bytes=`` (a ``DeprecationWarning`` pointing ``stacklevel``
    frames up from :func:`~scanstack.core.resources.renamed`: the writer's caller by default),
    ``where`` its name.
    """
    requested = renamed(requested, deprecated, "chunk_bytes", "file_chunk_bytes", where, stacklevel)
    if requested is not None:
        if int(requested) <= 0:
            raise ValueError(f"file_chunk_bytes must be positive, got {requested}")
        return int(requested)
    return max(1, min(int(default), res.block_bytes(TASK_CHUNKS, concurrent=2 * res.threads)))


def tasks_in_flight(chunk_nbytes: int, res: Resources, wanted: int) -> int:
    """How many chunk tasks of ``chunk_nbytes`` may be alive at once: ``wanted`` or fewer, so that
    their :data:`TASK_CHUNKS` chunks each fit ``res.memory_budget`` (at least one)."""
    fit = res.memory_budget // (TASK_CHUNKS * max(1, int(chunk_nbytes)))
    return int(max(1, min(int(wanted), fit)))


def _load_block(stack: Stack, key: tuple[slice, ...], flat: bool) -> np.ndarray:
    if flat:
        return stack.read(key[0].start, key[0].stop)
    return read_nav_block(stack, key)


def copy_to(
    stack: Stack,
    target,
    frames_per_block: int | None = None,
    progress: ProgressArg = None,
    label: str = "write",
    flat: bool = False,
    transform=None,
    *,
    client=None,
    memory_budget: int | None = None,
    reserve: int = 0,
) -> None:
    """Write every frame of ``stack`` into ``target[nav..., signal...]``.

    ``target`` has shape ``stack.shape`` (or ``(nframes, *signal_shape)`` with ``flat=True``).
    ``transform(block)`` may convert each block (e.g. cast) before it is stored. Reading of the
    next block overlaps writing of the current one. Without ``frames_per_block`` the blocks are
    sized so that the :data:`COPY_BLOCKS` alive at once fit in ``memory_budget`` (default
    ``config.memory_budget``) less ``reserve`` bytes the caller holds itself. With ``client``
    (dask.distributed) the blocks are read by the cluster's workers and stored here.
    """
    res = resolve(client=client, progress=progress, memory_budget=memory_budget)
    copy_blocks(stack, target, res, frames_per_block, label, flat, transform, reserve)


def copy_blocks(
    stack: Stack,
    target,
    res: Resources,
    frames_per_block: int | None = None,
    label: str = "write",
    flat: bool = False,
    transform=None,
    reserve: int = 0,
) -> None:
    """:func:`copy_to` for a caller that has resolved its keywords into ``res`` already
    (``res.client``, ``res.progress`` and ``res.memory_budget`` are used)."""
    client = res.client
    fpb = frames_per_block or copy_frames_per_block(stack, res, reserve)
    nav = (stack.nframes,) if flat else stack.nav_shape
    keys = list(nav_blocks(nav, fpb))

    def load(key):
        if client is not None:
            return client.submit(_load_block, stack, key, flat, pure=False).result()
        return _load_block(stack, key, flat)

    with (
        Progress(stack.nframes, res.progress, label, "frames") as bar,
        contextlib.closing(read_ahead(load, keys)) as blocks,  # a failed write waits for the read
    ):
        for key, block in blocks:
            if transform is not None:
                block = transform(block)
            target[key] = block
            bar.update(math.prod(block.shape[: len(nav)]))
            checkpoint("write-block")

"""Writing ``eiger-stream-v1`` / ``eiger-stream-v2`` files (layout in :mod:`.reader`).

``scanstack.save(stack, 'out.h5', 'eiger-stream-v1', compression='bslz4')`` and
``scanstack.save(stack, 'out.h5', 'eiger-stream-v2', threshold_2=other, compression='lz4')``
(``stack`` is threshold 1; ``other`` a stack or array of the same shape and dtype). Frames are
compressed in a thread pool, block by block, and the file is written atomically. Each entry is
what hexrd reads: ``data`` an opaque scalar of the compressed bytes, ``dtype`` the dtype string,
``shape`` int64 ``(rows, cols)``, ``elem_size`` and ``compression_type`` scalars.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ...core.errors import WriteError
from ...core.h5tree import dict_to_group
from ...core.progress import Progress
from ...core.registry import forwarding_signature
from ...core.resources import UNSET, renamed, resolve_here
from ...core.safety import atomic_path
from .._hexrd import OptionError
from . import codec


def _check(stack, compression: str, fmt: str) -> None:
    if compression not in codec.COMPRESSIONS:
        raise OptionError(
            f"{fmt}: compression must be one of {', '.join(codec.COMPRESSIONS)}, "
            f"not {compression!r}"
        )
    if len(stack.signal_shape) != 2:
        raise WriteError(f"{fmt} stores 2-D frames, not frames of shape {stack.signal_shape}")
    dtype = np.dtype(stack.dtype)
    if dtype.kind not in "biuf" or (compression == "bslz4" and dtype.itemsize not in (1, 2, 4, 8)):
        raise WriteError(f"{fmt}: cannot store {dtype} frames with {compression}")


def write_eiger_stream(
    stack,
    path,
    *,
    compression: str = "bslz4",
    threshold_2=None,
    version: int = 1,
    client=None,
    threads: int | None = None,
    progress=None,
    memory_budget: int | None = None,
    overwrite: bool = False,
    max_workers: int | None = UNSET,
) -> str:
    """Write ``stack`` as an Eiger-stream HDF5 file (``version`` 1 or 2); returns the path.

    Version 2 needs ``threshold_2`` (a Stack, array or anything ``scanstack.Stack.from_array``
    takes) with the same frames, shape and dtype as ``stack``. Metadata go to ``/metadata``
    in hexrd's layout. ``threads`` compress the frames (``max_workers`` is its deprecated
    name); ``progress``, ``memory_budget``: as everywhere (:mod:`scanstack.core.resources`);
    ``client`` is refused (frames are compressed and stored here, in order).
    """
    import h5py

    from ...core.stack import Stack

    fmt = f"eiger-stream-v{version}"
    threads = renamed(threads, max_workers, "max_workers", "threads", f"write {fmt}")
    res = resolve_here(
        fmt, client=client, threads=threads, progress=progress, memory_budget=memory_budget
    )
    _check(stack, compression, fmt)
    sources = [stack]
    if version == 2:
        if threshold_2 is None:
            raise OptionError(f"{fmt}: write needs threshold_2=<frames of the second threshold>")
        second = threshold_2 if isinstance(threshold_2, Stack) else Stack.from_array(threshold_2)
        if (second.nframes, second.signal_shape, np.dtype(second.dtype)) != (
            stack.nframes,
            stack.signal_shape,
            np.dtype(stack.dtype),
        ):
            raise OptionError(
                f"{fmt}: threshold_2 has {second.nframes} frames of {second.signal_shape} "
                f"{second.dtype}; threshold 1 has {stack.nframes} of {stack.signal_shape} "
                f"{stack.dtype}"
            )
        sources.append(second)
    elif threshold_2 is not None:
        raise OptionError(f"{fmt}: threshold_2 is for eiger-stream-v2")
    names = [""] if version == 1 else ["threshold_1", "threshold_2"]
    inputs = [p for s in sources for p in s.source_paths()]
    # alive at once, per source: the block stored, the one read ahead, its compressed frames
    fpb = res.frames_per_block(stack.frame_nbytes, 3 * len(sources), concurrent=1)
    with (
        atomic_path(path, overwrite=overwrite, inputs=inputs) as tmp,
        Progress(stack.nframes, res.progress, fmt, "frames") as bar,
        ThreadPoolExecutor(res.threads) as pool,
        h5py.File(tmp, "w") as f,
    ):
        dict_to_group(f.create_group("metadata"), dict(stack.metadata or {}))
        data = f.create_group("data")
        for start, stop, block in stack.iter_blocks(fpb):
            blocks = [block] + [s.read(start, stop) for s in sources[1:]]
            for name, part in zip(names, blocks, strict=True):
                encoded = pool.map(lambda fr: codec.encode(fr, compression), part)
                for i, (frame, payload) in enumerate(zip(part, encoded, strict=True)):
                    _store(
                        data.require_group(f"{start + i}/{name}".rstrip("/")),
                        frame,
                        payload,
                        compression,
                    )
            bar.update(stop - start)
    return os.fspath(path)


def _store(group, frame: np.ndarray, payload: bytes, compression: str) -> None:
    group.create_dataset("data", data=np.void(payload))
    group.create_dataset("dtype", data=frame.dtype.str)
    group.create_dataset("shape", data=np.asarray(frame.shape, dtype=np.int64))
    group.create_dataset("elem_size", data=np.int64(frame.dtype.itemsize))
    group.create_dataset("compression_type", data=compression)


def write_v1(stack, path, **options: Any) -> str:
    """``eiger-stream-v1`` writer (see :func:`write_eiger_stream`)."""
    return write_eiger_stream(stack, path, version=1, **options)


def write_v2(stack, path, **options: Any) -> str:
    """``eiger-stream-v2`` writer (see :func:`write_eiger_stream`)."""
    return write_eiger_stream(stack, path, version=2, **options)


# their options are write_eiger_stream's, checked by the registry before writing
write_v1.__signature__ = forwarding_signature(write_v1, write_eiger_stream, fixed=("version",))
write_v2.__signature__ = forwarding_signature(write_v2, write_eiger_stream, fixed=("version",))

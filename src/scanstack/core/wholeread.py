"""Whole reads: a memory-mapped source copied into the result in threads, or read with
``os.preadv`` straight into it when its bytes are the result's (``Stack.to_numpy``)."""

from __future__ import annotations

import mmap
import os

import numpy as np

from .config import config
from .readahead import each_run, partitions


def copy_in_threads(src: np.ndarray, out: np.ndarray, step: int, tick) -> None:
    """``out[...] = src`` (any dtype/strides) in blocks of ``step`` frames, one run per thread;
    ``tick(k)`` after each block, called from those threads (``Progress.update`` is thread-safe).

    A memory map whose bytes are exactly ``out``'s (same dtype and byte order, C-contiguous) is
    read with ``os.preadv`` straight into ``out`` instead: the kernel copies from the page cache
    without mapping the source's pages (a copy through the map faults on every 4 KiB page of the
    source, which made it slower than h5py's own single ``read`` on a busy machine).
    """
    step = max(step, 1)
    where = _file_range(src) if src.dtype == out.dtype and out.flags.c_contiguous else None
    fd = os.open(where[0], os.O_RDONLY) if where is not None else None
    frame_bytes = out[0].nbytes if len(out) else 0

    def run(a: int, b: int) -> None:
        for c in range(a, b, step):
            d = min(c + step, b)
            if fd is None:
                np.copyto(out[c:d], src[c:d], casting="equiv")
            else:
                _pread_into(fd, out[c:d], where[1] + c * frame_bytes)
            tick(d - c)

    try:
        each_run(run, partitions(len(out), config.threads(), step))
    finally:
        if fd is not None:
            os.close(fd)


def _file_range(arr: np.ndarray) -> tuple[str, int] | None:
    """``(file name, byte offset)`` of a C-contiguous ``np.memmap`` (or a view of one) whose
    elements are the file's bytes in order, else None."""
    mapped = arr if isinstance(arr, np.memmap) else None
    if mapped is None or not arr.flags.c_contiguous or mapped.filename is None:
        return None
    region = getattr(mapped, "_mmap", None)
    if region is None:
        return None
    # numpy maps from the offset rounded down to the allocation granularity; a view keeps its
    # parent's offset and map, so the position follows from the data pointer
    start = mapped.offset - mapped.offset % mmap.ALLOCATIONGRANULARITY
    base = np.frombuffer(region, np.uint8).ctypes.data
    return mapped.filename, start + arr.ctypes.data - base


def _pread_into(fd: int, out: np.ndarray, offset: int) -> None:
    """Fill the C-contiguous ``out`` with the file's bytes from ``offset`` (``os.preadv`` in
    pieces of at most 64 MiB; it releases the GIL)."""
    view = memoryview(out.reshape(-1).view(np.uint8))
    piece = 64 << 20
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done : done + piece]], offset + done)
        if got <= 0:
            raise OSError(f"file ended at byte {offset + done}, {len(view) - done} bytes short")
        done += got

"""HDF5 chunks encoded and decoded by scanstack itself, in threads.

HDF5 runs its filters in the calling thread under h5py's lock, so a compressed dataset is
written (and read) one chunk at a time. zlib, blosc and zstd release the GIL: here chunks are
compressed in a thread pool (or on a dask.distributed cluster) and stored raw with
``write_direct_chunk``; :func:`decode_chunk_into` undoes shuffle/deflate for readers that fetch raw
chunks with ``read_direct_chunk``. The bytes are exactly what HDF5's filters store.

Shared by the hexrd ``hdf5`` writer/reader and the interchange writers (nexus, usid, nsid).
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..core.atomic import checkpoint
from ..core.progress import Progress
from ..core.resources import Resources
from ..core.stack import Stack
from ..core.writing import read_nav_block, tasks_in_flight

#: HDF5 filter ids of deflate (gzip) and byte shuffle
FILTER_DEFLATE, FILTER_SHUFFLE = 1, 2

Encoder = Callable[[np.ndarray], bytes]


# -- HDF5's shuffle and deflate filters -------------------------------------------------------
def shuffle_bytes(array: np.ndarray) -> bytes:
    """HDF5's byte shuffle of a contiguous array: byte ``j`` of every element, plane by plane."""
    itemsize = array.dtype.itemsize
    if sys.byteorder != "little" or itemsize not in (2, 4, 8):
        return array.view(np.uint8).reshape(-1, itemsize).T.tobytes()
    words = array.reshape(-1).view(f"<u{itemsize}")
    planes = np.empty((itemsize, words.size), np.uint8)
    for j in range(itemsize):
        planes[j] = words >> (8 * j) if j else words  # setitem keeps the low byte
    return planes.tobytes()


def unshuffle(data, itemsize: int) -> np.ndarray:
    """Undo HDF5's byte shuffle: plane ``j`` holds byte ``j`` of every element.

    On little-endian hosts the bytes are recombined with shifts on whole planes, which is
    about 3x faster than a strided transpose.
    """
    planes = np.frombuffer(data, np.uint8).reshape(itemsize, -1)
    if sys.byteorder != "little" or itemsize not in (2, 4, 8):
        return planes.T.copy()
    out = planes[itemsize - 1].astype(f"<u{itemsize}")
    for j in range(itemsize - 2, -1, -1):
        out <<= 8
        out |= planes[j]
    return out


def unshuffle_into(data, itemsize: int, first: int, dest: np.ndarray) -> None:
    """Elements ``first : first + dest.size`` of a shuffled chunk written into ``dest``
    (C-contiguous, native little-endian integers of ``itemsize`` bytes), with no temporary."""
    planes = np.frombuffer(data, np.uint8).reshape(itemsize, -1)[:, first : first + dest.size]
    out = dest.reshape(-1).view(f"<u{itemsize}")
    out[...] = planes[itemsize - 1]
    for j in range(itemsize - 2, -1, -1):
        out <<= 8
        out |= planes[j]


def decode_chunk_into(
    raw: bytes, mask: int, filters: list[int], nbytes: int, first: int, dest: np.ndarray
) -> None:
    """Undo HDF5's shuffle/deflate ``filters`` (skipping those flagged in ``mask``) on one raw
    chunk of ``nbytes`` bytes, writing its elements ``first : first + dest.size`` straight into
    ``dest`` (C-contiguous): the last filter's output lands in place, not in a temporary.

    Inflates at most ``nbytes`` (:func:`inflate_chunk`); a chunk that does not decode to exactly
    ``nbytes`` bytes is a ``ValueError`` (corrupt).
    """
    data = raw
    itemsize = dest.dtype.itemsize
    active = [k for k in range(len(filters)) if not mask & (1 << k)]
    if FILTER_DEFLATE not in (filters[k] for k in active) and len(raw) != nbytes:
        raise ValueError(f"a chunk of {len(raw)} bytes, the chunk holds {nbytes}")
    for k in reversed(active):
        if filters[k] == FILTER_DEFLATE:
            data = inflate_chunk(data, nbytes)
        elif itemsize > 1:
            whole_ints = dest.dtype.kind in "iu" and dest.dtype.isnative
            if (
                k == active[0]
                and sys.byteorder == "little"
                and whole_ints
                and itemsize in (2, 4, 8)
            ):
                unshuffle_into(data, itemsize, first, dest)  # the last step: straight into dest
                return
            data = unshuffle(data, itemsize)
    flat = np.frombuffer(data, dest.dtype)[first : first + dest.size]
    dest.reshape(-1)[...] = flat


def filter_chunk(chunk: np.ndarray, level: int | None, shuffle: bool = True) -> bytes:
    """One chunk through HDF5's filter pipeline: byte shuffle (if ``shuffle``), then deflate at
    ``level`` (none when ``level`` is None)."""
    raw = np.ascontiguousarray(chunk)
    data = shuffle_bytes(raw) if shuffle and raw.dtype.itemsize > 1 else raw.tobytes()
    return data if level is None else zlib.compress(data, level)


def inflate_chunk(raw: bytes, nbytes: int) -> bytes:
    """Inflate one deflated chunk that must hold exactly ``nbytes`` bytes.

    Never inflates more than ``nbytes`` (a crafted chunk could expand a thousandfold): a chunk
    inflating to more or fewer bytes is a ``ValueError`` (corrupt), as is bad deflate data.
    """
    inflater = zlib.decompressobj()
    data = inflater.decompress(raw, nbytes)
    if len(data) != nbytes or inflater.unconsumed_tail or not inflater.eof:
        more = " or more" if inflater.unconsumed_tail else ""
        raise ValueError(f"a chunk inflates to {len(data)}{more} bytes, the chunk holds {nbytes}")
    return data


# -- writing ----------------------------------------------------------------------------------
def _encode_tiles(block: np.ndarray, origin: tuple[int, ...], chunks, encoder: Encoder) -> list:
    """Every chunk of ``block`` (whole chunks along the leading dimensions, starting at
    ``origin``) as ``(offset, bytes)``; edge chunks are zero-padded, as HDF5 stores them."""
    nav_ndim = len(origin)
    out = []
    tiles = itertools.product(*(range(0, n, c) for n, c in zip(block.shape, chunks, strict=True)))
    for start in tiles:
        part = block[tuple(slice(s, s + c) for s, c in zip(start, chunks, strict=True))]
        if part.shape != tuple(chunks):
            full = np.zeros(chunks, block.dtype)
            full[tuple(slice(0, s) for s in part.shape)] = part
            part = full
        offset = tuple(o + s for o, s in zip(origin, start[:nav_ndim], strict=True))
        out.append((offset + start[nav_ndim:], encoder(part)))
    return out


def _read_and_encode(
    stack: Stack,
    origin: tuple[int, ...],
    chunks: tuple[int, ...],
    shape: tuple[int, ...],
    nav_ndim: int,
    flat: bool,
    dtype,
    encoder: Encoder,
) -> tuple[list, int]:
    """Read the frames under one row of chunks at ``origin`` and encode their chunks:
    ``([(offset, bytes), ...], nframes)``."""
    key = tuple(
        slice(o, min(o + c, n)) for o, c, n in zip(origin, chunks[:nav_ndim], shape, strict=False)
    )
    if flat:
        n = key[0].stop - key[0].start
        block = stack.read(key[0].start, key[0].stop).reshape(n, *shape[1:])
    else:
        block = read_nav_block(stack, key)
    block = np.asarray(block, dtype=dtype)
    nframes = math.prod(k.stop - k.start for k in key)
    return _encode_tiles(block, origin, chunks, encoder), nframes


def write_encoded(
    stack: Stack,
    dset,
    encoder: Encoder,
    res: Resources,
    label: str = "write",
    flat: bool = False,
) -> None:
    """Fill the chunked ``dset`` from ``stack``, chunks compressed by ``encoder`` in
    ``res.workers`` threads (or as tasks on ``res.client``'s dask.distributed cluster, whose
    workers re-open the source) and stored with ``write_direct_chunk``, at most
    ``2 × res.workers`` tasks in flight.

    ``dset`` has shape ``stack.shape``, or with ``flat`` ``(nframes, ...)`` whose trailing shape
    holds one frame (e.g. ``(nframes, rows, cols)`` or ``(nframes, rows * cols)``). One task reads
    the frames under one chunk of the navigation dimensions and encodes every chunk they fill;
    ``encoder(chunk) -> bytes`` must give what the dataset's filters store. Fewer tasks are in
    flight when their chunks would not fit ``res.memory_budget``
    (:func:`scanstack.core.writing.tasks_in_flight`).
    """
    nav_ndim = 1 if flat else len(stack.nav_shape)
    chunks, shape = tuple(dset.chunks), tuple(dset.shape)
    origins = list(
        itertools.product(
            *(range(0, n, c) for n, c in zip(shape[:nav_ndim], chunks[:nav_ndim], strict=True))
        )
    )
    task = functools.partial(
        _read_and_encode,
        chunks=chunks,
        shape=shape,
        nav_ndim=nav_ndim,
        flat=flat,
        dtype=np.dtype(dset.dtype),
        encoder=encoder,
    )
    client, workers = res.client, res.workers
    task_bytes = math.prod(chunks[:nav_ndim]) * stack.frame_nbytes
    window = tasks_in_flight(task_bytes, res, 2 * workers)
    workers = min(workers, window)
    with (
        Progress(stack.nframes, res.progress, label, "frames") as bar,
        ThreadPoolExecutor(workers if client is None else 1) as pool,
    ):
        if client is not None:
            remote = client.scatter(stack, broadcast=True)

            def submit(origin):
                return client.submit(task, remote, origin, pure=False)
        else:

            def submit(origin):
                return pool.submit(task, stack, origin)

        pending = [submit(o) for o in origins[:window]]
        nxt = len(pending)
        while pending:
            encoded, nframes = pending.pop(0).result()
            if nxt < len(origins):
                pending.append(submit(origins[nxt]))
                nxt += 1
            for offset, data in encoded:
                dset.id.write_direct_chunk(offset, data)
            bar.update(nframes)
            checkpoint("write-block")

"""Sum and maximum patterns, virtual detector images and centre of mass for 4D-STEM stacks.

Every function takes any stack whose frames are 2-D (navigation of any shape) and makes one pass
over its frames:

- if the stack sits on a zero-copy view (``reader.as_array()``: a memory map, big-endian and with
  header gaps allowed; or ``reader.as_packed()``: raw bit-packed frames) the numba kernels of
  :mod:`._kernels` fold the mapped bytes directly, on ``threads`` threads;
- with ``client=`` the same in-place folding runs on the dask.distributed workers, one partition
  of frames per task (the stack re-opens its file on the worker);
- otherwise (other readers, lazy processing, crops of memory maps) frames are read block by block
  through :func:`scanstack.core.blockwise.reduce_frames` / ``map_frames``, in threads or on a
  dask.distributed cluster, with the same kernels folding each block.

Memory stays bounded by ``scanstack.config.chunk_bytes`` per thread either way.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ..core.blockwise import map_frames, reduce_frames, run_on_cluster
from ..core.config import config
from ..core.progress import Progress, ProgressArg
from ..core.stack import Stack
from . import _kernels as K
from ._access import Direct, direct_source, native_block, readonly
from .detectors import disk_mask, guess_disk, ring_mask

__all__ = [
    "sum_pattern",
    "max_pattern",
    "virtual_images",
    "virtual_image",
    "virtual_bright_field",
    "virtual_annular_dark_field",
    "center_of_mass",
    "preview_images",
]


# -- helpers -----------------------------------------------------------------------------------
def _check(stack: Stack) -> None:
    if len(stack.signal_shape) != 2:
        raise ValueError(
            f"4D-STEM tools need 2-D frames; this stack's frames have shape "
            f"{tuple(stack.signal_shape)}"
        )


def _sum_dtype(dtype: np.dtype) -> np.dtype:
    """Result dtype of a sum over frames (numpy's for integers; float64 for floats)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return np.dtype(np.uint64)
    if dtype.kind in "ib":
        return np.dtype(np.int64)
    return np.dtype(np.float64)


def _chunk_acc_dtype(dtype: np.dtype) -> tuple[np.dtype, int]:
    """Accumulator for one chunk and how many frames it may take without overflow.

    8- and 16-bit unsigned data add into uint32 (half the cache and bandwidth of uint64).
    """
    dtype = np.dtype(dtype)
    if dtype.kind in "ub" and dtype.itemsize <= 2:
        return np.dtype(np.uint32), (2**32 - 1) // (2 ** (8 * dtype.itemsize) - 1)
    return _sum_dtype(dtype), 1 << 62


def _ranges(n: int, per: int) -> list[tuple[int, int]]:
    per = max(1, int(per))
    return [(a, min(a + per, n)) for a in range(0, n, per)]


def _frames_per_chunk(src: Direct, nthreads: int, limit: int = 1 << 62) -> int:
    """Frames per kernel call: about ``chunk_bytes`` of data, at least ``nthreads`` chunks."""
    frame_bytes = max(1, src.n * src.data.itemsize)
    per = max(1, config.chunk_bytes // frame_bytes)
    return min(per, max(1, -(-len(src.frames) // nthreads)), limit)


def _run_chunks(
    func: Callable[[int, int], Any],
    n: int,
    per: int,
    nthreads: int,
    progress: ProgressArg,
    label: str,
):
    """Yield ``func(a, b)`` for consecutive frame ranges, computed on ``nthreads`` threads."""
    ranges = _ranges(n, per)
    with Progress(n, progress, label, "frames") as bar:
        if nthreads <= 1 or len(ranges) <= 1:
            for a, b in ranges:
                yield func(a, b)
                bar.update(b - a)
            return
        with ThreadPoolExecutor(nthreads) as pool:
            # keep at most 2 chunks per thread in flight so results are consumed as they come
            pending: list = []
            it = iter(ranges)
            for a, b in it:
                pending.append((pool.submit(func, a, b), b - a))
                if len(pending) >= 2 * nthreads:
                    break
            for a, b in it:
                fut, k = pending.pop(0)
                yield fut.result()
                bar.update(k)
                pending.append((pool.submit(func, a, b), b - a))
            for fut, k in pending:
                yield fut.result()
                bar.update(k)


def _to_frame_order(src: Direct, lane_values: np.ndarray) -> np.ndarray:
    """Per-lane values ``(nlanes,)`` of a direct source -> the stack's frame (region applied)."""
    if src.perm is None:
        out = lane_values.reshape(src.full_shape)
    else:
        out = np.zeros(src.perm.shape, dtype=lane_values.dtype)
        valid = src.perm >= 0
        out[valid] = lane_values[src.perm[valid]]
        out = out.reshape(src.full_shape)
    return out if src.region is None else out[src.region]


def _to_lanes(src: Direct, weights: np.ndarray) -> np.ndarray:
    """Detector weights ``(k, *frame_shape)`` -> ``(k, nlanes)`` in the source's memory order."""
    k = weights.shape[0]
    if src.region is not None:
        full = np.zeros((k, *src.full_shape), np.float64)
        full[(slice(None), *src.region)] = weights
        weights = full
    flat = weights.reshape(k, -1)
    if src.perm is None:
        return np.ascontiguousarray(flat)
    lanes = np.zeros((k, src.nlanes), np.float64)
    valid = src.perm >= 0
    lanes[:, src.perm[valid]] = flat[:, valid]
    return lanes


def _block_rows(block: np.ndarray) -> tuple[np.ndarray, bool]:
    """A block ``(n, rows, cols)`` as native ``(n, rows*cols)`` rows for the lane kernels."""
    data, swap = native_block(block)
    return readonly(np.ascontiguousarray(data).reshape(data.shape[0], -1)), swap


def _all(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64)


# -- sum -------------------------------------------------------------------------------------
class _SumFold:
    """Picklable fold: ``acc += block.sum(axis=0)`` through the numba kernel."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def __call__(self, acc, block, a, b):
        rows, swap = _block_rows(block)
        if acc is None:
            acc = np.zeros(block.shape[1:], self.dtype)
        K.sum_lanes(rows, _all(rows.shape[0]), 0, rows.shape[1], swap, acc.reshape(-1))
        return acc


def sum_pattern(
    stack: Stack,
    *,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    fast: bool = True,
) -> np.ndarray:
    """Sum of all frames, shape ``signal_shape`` (rows, cols).

    dtype: uint64 for unsigned integer data, int64 for signed (and bool), float64 for floats —
    numpy's ``data.sum(axis=nav_axes)`` for integers, a float64 sum for floats.
    ``client``: a dask.distributed client to run on; ``threads``: threads on this machine
    (default ``config.threads()``); ``progress``: True, False or f(done, total); ``fast=False``
    reads through ``reader.read`` in blocks even when a zero-copy view exists (for comparison).
    The other tools take the same keywords.
    """
    _check(stack)
    out_dtype = _sum_dtype(stack.dtype)
    src = direct_source(stack) if fast else None
    if src is not None and client is not None:
        parts = _on_cluster(client, stack, _DirectTask("sum", out_dtype), progress, "sum pattern")
        return sum(parts[1:], parts[0]) if parts else np.zeros(stack.signal_shape, out_dtype)
    if src is None:
        acc = reduce_frames(
            stack,
            _SumFold(out_dtype),
            operator.add,
            client=client,
            threads=threads,
            progress=progress,
            label="sum pattern",
        )
        return np.zeros(stack.signal_shape, out_dtype) if acc is None else acc
    return _sum_direct(src, out_dtype, threads or config.threads(), progress)


def _sum_direct(src: Direct, out_dtype, nthreads: int, progress: ProgressArg) -> np.ndarray:
    if src.bits:

        def work(a, b):
            counts = np.zeros(src.nlanes, np.uint64)
            return K.sum_bits(src.data, src.frames[a:b], src.off, src.n, counts)

        per = _frames_per_chunk(src, nthreads)
        total = np.zeros(src.nlanes, np.uint64)
    else:
        acc_dtype, limit = _chunk_acc_dtype(src.data.dtype)

        def work(a, b):
            acc = np.zeros(src.n, acc_dtype)
            return K.sum_lanes(src.data, src.frames[a:b], src.off, src.n, src.swap, acc)

        per = _frames_per_chunk(src, nthreads, limit)
        total = np.zeros(src.n, out_dtype)
    for part in _run_chunks(work, len(src.frames), per, nthreads, progress, "sum pattern"):
        total += part
    return _to_frame_order(src, total).astype(out_dtype, copy=False)


# -- max -------------------------------------------------------------------------------------
def _max_rows(data: np.ndarray, frames: np.ndarray, off: int, n: int, swap: bool) -> np.ndarray:
    acc = np.array(data[frames[0], off : off + n])
    if swap:
        acc.byteswap(inplace=True)
    return K.max_lanes(data, frames[1:], off, n, swap, acc)


class _MaxFold:
    def __call__(self, acc, block, a, b):
        rows, swap = _block_rows(block)
        part = _max_rows(rows, _all(rows.shape[0]), 0, rows.shape[1], swap).reshape(block.shape[1:])
        return part if acc is None else np.maximum(acc, part)


def max_pattern(
    stack: Stack,
    *,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    fast: bool = True,
) -> np.ndarray:
    """Pixel-wise maximum over all frames, shape ``signal_shape``, the stack's dtype (native order)."""
    _check(stack)
    out_dtype = np.dtype(stack.dtype).newbyteorder("=")
    if stack.nframes == 0:
        raise ValueError("the maximum of an empty stack is undefined")
    src = direct_source(stack) if fast else None
    if src is not None and client is not None:
        parts = _on_cluster(client, stack, _DirectTask("max", out_dtype), progress, "max pattern")
        return functools.reduce(np.maximum, parts)
    if src is None:
        acc = reduce_frames(
            stack,
            _MaxFold(),
            np.maximum,
            client=client,
            threads=threads,
            progress=progress,
            label="max pattern",
        )
        return acc.astype(out_dtype, copy=False)
    return _max_direct(src, out_dtype, threads or config.threads(), progress)


def _max_direct(src: Direct, out_dtype, nthreads: int, progress: ProgressArg) -> np.ndarray:
    if src.bits:

        def work(a, b):
            return K.or_bits(src.data, src.frames[a:b], src.off, src.n, np.zeros(src.n, np.uint64))
    else:

        def work(a, b):
            return _max_rows(src.data, src.frames[a:b], src.off, src.n, src.swap)

    total = None
    per = _frames_per_chunk(src, nthreads)
    for part in _run_chunks(work, len(src.frames), per, nthreads, progress, "max pattern"):
        total = part if total is None else (total | part if src.bits else np.maximum(total, part))
    if src.bits:
        total = np.unpackbits(total.view(np.uint8), bitorder="little")
    return _to_frame_order(src, total).astype(out_dtype, copy=False)


# -- virtual detectors ------------------------------------------------------------------------
def _runs(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[start, stop)`` stretches of non-zero weights per detector: ``(k, m, 2)``, counts ``(k,)``."""
    k, n = weights.shape
    nz = np.zeros((k, n + 2), np.int8)
    nz[:, 1:-1] = weights != 0
    edges = np.diff(nz, axis=1)
    starts = [np.flatnonzero(e == 1) for e in edges]
    stops = [np.flatnonzero(e == -1) for e in edges]
    nruns = np.array([len(x) for x in starts], np.int64)
    runs = np.zeros((k, max(1, int(nruns.max(initial=0))), 2), np.int64)
    for i in range(k):
        runs[i, : nruns[i], 0] = starts[i]
        runs[i, : nruns[i], 1] = stops[i]
    return runs, nruns


def _scales(weights: np.ndarray) -> np.ndarray:
    """The common value of each detector's non-zero weights, or 0 when they differ: ``(k,)``."""
    scale = np.zeros(weights.shape[0], np.float64)
    for i, w in enumerate(weights):
        values = np.unique(w[w != 0])
        if values.size == 1:
            scale[i] = values[0]
    return scale


class _DotFunc:
    """Picklable block function: ``(n, rows, cols)`` -> ``(n, k)`` detector values."""

    def __init__(self, weights: np.ndarray):
        self.weights = np.ascontiguousarray(weights.reshape(weights.shape[0], -1))
        self.runs, self.nruns = _runs(self.weights)
        self.scale = _scales(self.weights)

    def __call__(self, block):
        rows, swap = _block_rows(block)
        out = np.empty((rows.shape[0], self.weights.shape[0]), np.float64)
        return K.dot_lanes(
            rows,
            _all(rows.shape[0]),
            0,
            rows.shape[1],
            swap,
            self.weights,
            self.runs,
            self.nruns,
            self.scale,
            out,
        )


def _bit_detectors(weights_mem: np.ndarray):
    """Per-detector word masks, non-zero word lists and equal-weight scales for packed bits."""
    k, nlanes = weights_mem.shape
    nz = weights_mem != 0
    masks = np.packbits(nz.astype(np.uint8), axis=1, bitorder="little").view(np.uint64)
    masks = np.ascontiguousarray(masks)
    word_nz = masks != 0
    nindex = word_nz.sum(axis=1).astype(np.int64)
    index = np.zeros((k, max(1, int(nindex.max(initial=0)))), np.int64)
    for i in range(k):
        idx = np.flatnonzero(word_nz[i])
        index[i, : idx.size] = idx
    return masks, index, nindex, _scales(weights_mem)


def _as_weights(stack: Stack, detectors) -> np.ndarray:
    shape = tuple(stack.signal_shape)
    arrs = [np.asarray(d, dtype=np.float64) for d in detectors]
    for i, a in enumerate(arrs):
        if a.shape != shape:
            raise ValueError(f"detector {i} has shape {a.shape}, frames have shape {shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"detector {i} has NaN or infinite weights")
        if not a.any():  # e.g. a disk centred off the detector: an image of zeros misleads
            raise ValueError(f"detector {i} has no non-zero weight inside the {shape} frame")
    if not arrs:
        raise ValueError("no detectors given")
    return np.ascontiguousarray(np.stack(arrs))


def virtual_images(
    stack: Stack,
    detectors: Sequence[np.ndarray] | np.ndarray,
    *,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    fast: bool = True,
) -> np.ndarray:
    """Several virtual detectors in one pass: ``(k, *nav_shape)`` float64.

    ``detectors`` are ``k`` weight arrays of the frame shape (masks from
    :mod:`scanstack.stem.detectors`, or any real weights); value ``[k, *nav]`` is
    ``sum(frame * detectors[k])``.
    """
    _check(stack)
    weights = _as_weights(stack, detectors)
    k = weights.shape[0]
    nav = tuple(stack.nav_shape)
    src = direct_source(stack) if fast else None
    if src is not None and client is not None:
        task = _DirectTask("virtual", weights=weights)
        parts = _on_cluster(client, stack, task, progress, "virtual images")
        out = np.concatenate(parts) if parts else np.empty((0, k))
        return np.moveaxis(out.reshape(*nav, k), -1, 0)
    if src is None:
        out = map_frames(
            stack,
            _DotFunc(weights),
            out_shape=(k,),
            out_dtype=np.float64,
            client=client,
            threads=threads,
            progress=progress,
            label="virtual images",
        )
        return np.moveaxis(out.reshape(*nav, k), -1, 0)
    out = _dot_direct(src, weights, threads or config.threads(), progress)
    return np.moveaxis(out.reshape(*nav, k), -1, 0)


def _dot_direct(src: Direct, weights: np.ndarray, nthreads: int, progress) -> np.ndarray:
    """Detector values ``(len(src.frames), k)`` float64."""
    n = len(src.frames)
    out = np.empty((n, weights.shape[0]), np.float64)
    w = _to_lanes(src, weights)
    if src.bits:
        masks, index, nindex, scale = _bit_detectors(w)

        def work(a, b):
            K.dot_bits(
                src.data, src.frames[a:b], src.off, src.n, masks, index, nindex, scale, w, out[a:b]
            )
    else:
        runs, nruns = _runs(w)
        scale = _scales(w)

        def work(a, b):
            K.dot_lanes(
                src.data, src.frames[a:b], src.off, src.n, src.swap, w, runs, nruns, scale, out[a:b]
            )

    per = _frames_per_chunk(src, nthreads)
    for _ in _run_chunks(work, n, per, nthreads, progress, "virtual images"):
        pass
    return out


# -- on a dask.distributed cluster ------------------------------------------------------------
class _DirectTask:
    """One partition of frames folded in place on a worker (the stack re-opens its file there).

    Returns the partial sum/max pattern, or the ``(b - a, k)`` detector values. Falls back to
    block-wise reading if the worker has no zero-copy view.
    """

    def __init__(self, kind: str, out_dtype=None, weights: np.ndarray | None = None):
        self.kind, self.out_dtype, self.weights = kind, out_dtype, weights

    def __call__(self, stack: Stack, a: int, b: int):
        src = direct_source(stack)
        if src is None:
            part = stack.frames(np.arange(a, b))
            if self.kind == "sum":
                return sum_pattern(part, threads=1, fast=False)
            if self.kind == "max":
                return max_pattern(part, threads=1, fast=False)
            return virtual_images(part, self.weights, threads=1, fast=False).T
        src = dataclasses.replace(src, frames=src.frames[a:b])
        if self.kind == "sum":
            return _sum_direct(src, self.out_dtype, 1, None)
        if self.kind == "max":
            return _max_direct(src, self.out_dtype, 1, None)
        return _dot_direct(src, self.weights, 1, None)


def _on_cluster(client, stack: Stack, task: _DirectTask, progress: ProgressArg, label: str):
    """Run ``task`` over about 4 partitions of frames per worker; results in frame order."""
    return run_on_cluster(
        client, stack, task, 0, stack.nframes, stack.frames_per_block(), progress, label
    )


def virtual_image(stack: Stack, detector: np.ndarray, **kwargs) -> np.ndarray:
    """One virtual detector: ``sum(frame * detector)`` per position, shape ``nav_shape``, float64."""
    return virtual_images(stack, [detector], **kwargs)[0]


def virtual_bright_field(
    stack: Stack, center: Sequence[float] | None = None, radius: float | None = None, **kwargs
) -> np.ndarray:
    """Counts inside a disk of ``radius`` pixels at ``center`` (y, x); shape ``nav_shape``.

    Without ``center``/``radius`` they are guessed from the sum pattern (an extra pass).
    """
    if center is None or radius is None:
        (gc, gr) = guess_disk(sum_pattern(stack, **kwargs))
        center = gc if center is None else center
        radius = gr if radius is None else radius
    return virtual_image(stack, disk_mask(stack.signal_shape, center, radius), **kwargs)


def virtual_annular_dark_field(
    stack: Stack, center: Sequence[float], inner_radius: float, outer_radius: float, **kwargs
) -> np.ndarray:
    """Counts in the ring ``inner_radius < r <= outer_radius`` (pixels) around ``center`` (y, x)."""
    mask = ring_mask(stack.signal_shape, center, inner_radius, outer_radius)
    return virtual_image(stack, mask, **kwargs)


def center_of_mass(
    stack: Stack, mask: np.ndarray | None = None, center: Sequence[float] | None = None, **kwargs
) -> np.ndarray:
    """Centre of mass of every frame, ``(2, *nav_shape)`` float64: ``[y, x]`` in pixels.

    Computed from three virtual detectors (``mask``, ``mask*y``, ``mask*x``) in one pass; relative
    to ``center`` (y, x) if given. NaN where a frame (inside ``mask``) has no counts.
    """
    _check(stack)
    rows, cols = stack.signal_shape
    m = np.ones((rows, cols)) if mask is None else np.asarray(mask, dtype=np.float64)
    yy, xx = np.meshgrid(
        np.arange(rows, dtype=np.float64), np.arange(cols, dtype=np.float64), indexing="ij"
    )
    total, sy, sx = virtual_images(stack, [m, m * yy, m * xx], **kwargs)
    with np.errstate(invalid="ignore", divide="ignore"):
        com = np.stack([sy / total, sx / total])
    com[:, total == 0] = np.nan
    if center is not None:
        com -= np.asarray(center, dtype=np.float64).reshape(2, *([1] * (com.ndim - 1)))
    return com


def preview_images(stack: Stack, **kwargs) -> dict[str, np.ndarray]:
    """Pictures for ``scanstack preview``: the sum pattern and a virtual bright-field image.

    The bright-field disk is found in the sum pattern (:func:`guess_disk`). Returns
    ``{"sum pattern": (rows, cols), "virtual bright field": nav_shape}`` (keys double as titles).
    """
    total = sum_pattern(stack, **kwargs)
    center, radius = guess_disk(total)
    vbf = virtual_image(stack, disk_mask(stack.signal_shape, center, radius), **kwargs)
    return {"sum pattern": total, "virtual bright field": vbf}

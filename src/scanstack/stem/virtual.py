"""Sum and maximum patterns, virtual detector images and centre of mass for 4D-STEM stacks.

Every function takes any stack whose frames are 2-D (navigation of any shape) and makes one pass
over its frames through :func:`scanstack.core.fold.fold_frames`, which decides how to read them:
in place over a memory map or raw bit-packed frames where the reader offers one (big-endian and
header gaps allowed), otherwise block by block with read-ahead, in threads or, with ``client=``,
on dask.distributed workers. The numba kernels of :mod:`scanstack.core.lane_kernels` fold either.

Memory stays bounded by ``memory_budget`` (blocks read) and ``scanstack.config.block_bytes`` per call.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.blockwise import gather
from ..core.errors import UnsupportedError
from ..core.fold import fold_frames
from ..core.lane_folds import ExtremeFold, PerFrameFold, SumFold
from ..core.lanes import Lanes
from ..core.progress import ProgressArg
from ..core.stack import Stack
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
    if np.dtype(stack.dtype).kind == "c":
        raise UnsupportedError("4D-STEM tools need real-valued frames, not complex")


def _sum_dtype(dtype: np.dtype) -> np.dtype:
    """Result dtype of a sum over frames (numpy's for integers; float64 for floats)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return np.dtype(np.uint64)
    if dtype.kind in "ib":
        return np.dtype(np.int64)
    return np.dtype(np.float64)


def _fold(stack: Stack, fold, label: str, fast: bool, client, threads, progress, memory_budget):
    """:func:`fold_frames` with the keywords every tool here takes (one place passes them)."""
    return fold_frames(
        stack,
        fold,
        client=client,
        threads=threads,
        memory_budget=memory_budget,
        progress=progress,
        label=label,
        fast=fast,
    )


# -- sum and max ---------------------------------------------------------------------------------
def sum_pattern(
    stack: Stack,
    *,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    fast: bool = True,
) -> np.ndarray:
    """Sum of all frames, shape ``signal_shape`` (rows, cols).

    dtype: uint64 for unsigned integer data, int64 for signed (and bool), float64 for floats —
    numpy's ``data.sum(axis=nav_axes)`` for integers, a float64 sum for floats.
    ``client``: a dask.distributed client to run on; ``threads``: threads on this machine
    (default ``config.threads()``); ``progress``: True, False or f(done, total);
    ``memory_budget``: bytes the blocks read may take (default ``config.memory_budget``; folding
    in place reads none); ``fast=False`` reads through ``reader.read`` in blocks even when a
    zero-copy view exists (for comparison). The other tools take the same keywords
    (:mod:`scanstack.core.resources`).
    """
    _check(stack)
    out_dtype = _sum_dtype(stack.dtype)
    fold = SumFold(ints_exact=True)
    acc = _fold(stack, fold, "sum pattern", fast, client, threads, progress, memory_budget)
    if acc is None:
        return np.zeros(stack.signal_shape, out_dtype)
    return acc.astype(out_dtype, copy=False)


def max_pattern(
    stack: Stack,
    *,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    fast: bool = True,
) -> np.ndarray:
    """Pixel-wise maximum over all frames, shape ``signal_shape``, the stack's dtype (native order)."""
    _check(stack)
    if stack.nframes == 0:
        raise ValueError("the maximum of an empty stack is undefined")
    fold = ExtremeFold("max")
    acc = _fold(stack, fold, "max pattern", fast, client, threads, progress, memory_budget)
    return acc.astype(np.dtype(stack.dtype).newbyteorder("="), copy=False)


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


class _DotFold(PerFrameFold):
    """Detector values of every frame, ``[(a, (b - a, k) float64), ...]`` in frame order.

    The weights are put in the lanes' memory order once per source layout (the in-place layout,
    or frame order for blocks), then every frame costs one pass over its non-zero weights.
    """

    def __init__(self, weights: np.ndarray):
        self.weights = np.ascontiguousarray(weights.reshape(weights.shape[0], -1))
        self._plans: dict = {}

    def __getstate__(self):
        return {"weights": self.weights, "_plans": {}}

    def _plan(self, lanes: Lanes):
        region = None if lanes.region is None else tuple((r.start, r.stop) for r in lanes.region)
        key = (id(lanes.perm), region, lanes.nlanes, lanes.bits)
        plan = self._plans.get(key)
        if plan is None:
            w = lanes.lane_weights(self.weights.reshape(-1, *lanes.frame_shape))
            if lanes.bits:
                plan = (w, *_bit_detectors(w))
            else:
                plan = (w, *_runs(w), _scales(w))
            self._plans[key] = plan
        return plan

    def values(self, lanes: Lanes, a: int, b: int) -> np.ndarray:
        from ..core import lane_kernels as K  # numba's JIT: only when detectors are computed

        out = np.empty((b - a, self.weights.shape[0]), np.float64)
        d = lanes
        if lanes.bits:
            w, masks, index, nindex, scale = self._plan(lanes)
            K.dot_bits(d.data, d.frames, d.off, d.n, masks, index, nindex, scale, w, out)
        else:
            w, runs, nruns, scale = self._plan(lanes)
            K.dot_lanes(d.data, d.frames, d.off, d.n, d.swap, w, runs, nruns, scale, out)
        return out


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
    memory_budget: int | None = None,
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
    fold = _DotFold(weights)
    pieces = _fold(stack, fold, "virtual images", fast, client, threads, progress, memory_budget)
    out = gather(pieces, stack.nframes, (k,))
    return np.moveaxis(out.reshape(*nav, k), -1, 0)


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

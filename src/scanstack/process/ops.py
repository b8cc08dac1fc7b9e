"""The built-in frame operations of :class:`~scanstack.process.ProcessedStack`.

Every op works on a *block* of frames ``(n, rows, cols)`` at once (numpy broadcasting over the
frame axis), never frame by frame, except ``gauss_laplace`` (scipy filters one frame at a time
anyway) and user ops declared per frame.

An op knows three things:

- ``infer(shape, dtype, data)``: the frame shape and dtype it produces (None when unknowable
  without running it, then frame 0 is processed, as hexrd does);
- ``input_region(data, in_shape, out_region)``: which region of its input it needs to produce
  ``out_region`` of its output (None: the whole frame). This is how a ``rectangle`` (or an
  ``isig`` crop, or ``get_region``) is pushed down to the file reader through the ops before it;
- ``apply(block, data, in_shape, in_region, out_region)``: ``block`` covers ``in_region`` of the
  op's input (what ``input_region`` asked for); the result covers ``out_region`` of its output.

Ops never modify their input block in place (it may be a view of a reader's cache).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.errors import ScanstackError
from ..core.reader import Region, compose_regions, crop, normalize_region, region_shape


class ProcessError(ScanstackError, ValueError):
    """An operation got data it cannot use (wrong shape, unknown flip code, bad parameters)."""


class UnknownOpError(ScanstackError, KeyError):
    """The oplist names an operation that is neither built in nor added with ``addop``."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


Shape = tuple[int, ...]


def _full(shape: Shape) -> Region:
    return tuple(slice(0, n) for n in shape)


def _dtype_arg(value: Any) -> Any:
    """A value for ``np.result_type``: Python scalars stay weak (NEP 50), the rest arrays."""
    if isinstance(value, (bool, int, float, complex, np.generic, np.ndarray)):
        return value
    return np.asarray(value)


def _float_dtype(dtype: Any) -> np.dtype:
    """float32 for a computed result (flat division, mean), float64 for float64 input."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def _need_2d(name: str, shape: Shape) -> None:
    if len(shape) != 2:
        raise ProcessError(f"op {name!r} needs 2-D frames, the frames here have shape {shape}")


class Op:
    """Base class: an op that needs whole frames and is applied to a block at once."""

    name = "op"

    def infer(self, shape: Shape, dtype: np.dtype, data: Any) -> tuple[Shape, np.dtype] | None:
        return None

    def input_region(self, data: Any, in_shape: Shape, out_region: Region | None) -> Region | None:
        return None

    def apply(
        self,
        block: np.ndarray,
        data: Any,
        in_shape: Shape,
        in_region: Region | None,
        out_region: Region | None,
    ) -> np.ndarray:
        return crop(self.full(block, data), out_region)

    def full(self, block: np.ndarray, data: Any) -> np.ndarray:
        raise NotImplementedError


class PointwiseOp(Op):
    """Pixel by pixel, so any region of the output needs just that region of the input.

    ``data`` may be a scalar or an array broadcastable to one frame (a dark image, a flat, a
    mask); frame-sized dimensions of it are cut to the region read.
    """

    def input_region(self, data, in_shape, out_region):
        return out_region

    def apply(self, block, data, in_shape, in_region, out_region):
        return self.compute(block, data, in_shape, in_region)

    def compute(self, block, data, in_shape, region) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def frame_array(
        name: str, data: Any, in_shape: Shape, region: Region | None, what: str = "data"
    ) -> np.ndarray:
        """``data`` as an array broadcastable to a frame, cut to ``region``."""
        arr = np.asarray(data)
        if arr.ndim > len(in_shape):
            raise ProcessError(
                f"op {name!r}: {what} of shape {arr.shape} is not one frame "
                f"(frames have shape {in_shape})"
            )
        lead = len(in_shape) - arr.ndim
        for dim, n in zip(arr.shape, in_shape[lead:], strict=True):
            if dim not in (1, n):
                raise ProcessError(
                    f"op {name!r}: {what} of shape {arr.shape} does not match "
                    f"frames of shape {in_shape}"
                )
        if region is None or arr.ndim == 0:
            return arr
        key = tuple(
            r if dim != 1 else slice(None) for dim, r in zip(arr.shape, region[lead:], strict=True)
        )
        return arr[key]


class Dark(PointwiseOp):
    """``img - dark`` clipped at zero; the dtype is numpy's promotion of image and dark.

    Unlike hexrd, unsigned data never wraps around: a uint16 image minus a uint16 dark is a uint16
    image with every pixel where ``dark > img`` set to 0 (signed integers are computed in int64
    and clipped into the result's range).
    """

    name = "dark"

    def infer(self, shape, dtype, data):
        self.frame_array(self.name, data, shape, None, "the dark image")
        return shape, np.result_type(dtype, np.asarray(data).dtype)

    def compute(self, block, data, in_shape, region):
        dark = self.frame_array(self.name, data, in_shape, region, "the dark image")
        out_dtype = np.result_type(block.dtype, dark.dtype)
        if out_dtype.kind == "u":
            # a - min(a, d) == max(a - d, 0) without leaving the unsigned type
            a = block.astype(out_dtype, copy=False)
            low = np.minimum(a, dark.astype(out_dtype, copy=False))
            return np.subtract(a, low, out=low)
        if out_dtype.kind == "b":
            return np.logical_and(block, np.logical_not(dark))
        if out_dtype.kind == "i":
            wide = np.subtract(block, dark, dtype=np.int64)
            info = np.iinfo(out_dtype)
            return np.clip(wide, 0, info.max, out=wide).astype(out_dtype, copy=False)
        out = np.subtract(block, dark, dtype=out_dtype)
        out[out < 0] = 0  # keeps NaN, like hexrd
        return out


class Flat(PointwiseOp):
    """Flat-field division ``img / flat`` as float32 (float64 images stay float64).

    Pixels where the flat is 0 (dead pixels) are set to 0 instead of inf or NaN.
    """

    name = "flat"

    def infer(self, shape, dtype, data):
        self.frame_array(self.name, data, shape, None, "the flat image")
        return shape, _float_dtype(dtype)

    def compute(self, block, data, in_shape, region):
        flat = self.frame_array(self.name, data, in_shape, region, "the flat image")
        dtype = _float_dtype(block.dtype)
        out = np.zeros(np.broadcast_shapes(block.shape, flat.shape), dtype)
        np.divide(block, flat, out=out, where=flat != 0, casting="unsafe")
        return out


class Add(PointwiseOp):
    """``img + data``; non-float images are first cast to float32 (hexrd's rule)."""

    name = "add"

    @staticmethod
    def _base(dtype) -> np.dtype:
        return np.dtype(dtype) if np.dtype(dtype).kind in "fc" else np.dtype(np.float32)

    def infer(self, shape, dtype, data):
        if np.ndim(data):
            self.frame_array(self.name, data, shape, None)
        return shape, np.result_type(self._base(dtype), _dtype_arg(data))

    def compute(self, block, data, in_shape, region):
        if np.ndim(data):
            data = self.frame_array(self.name, data, in_shape, region)
        return block.astype(self._base(block.dtype), copy=False) + data


class Threshold(PointwiseOp):
    """Values ``<= data`` set to 0 (dtype unchanged), as a frame-cache writer does."""

    name = "threshold"

    def infer(self, shape, dtype, data):
        if np.ndim(data):
            self.frame_array(self.name, data, shape, None, "the threshold")
        return shape, np.dtype(dtype)

    def compute(self, block, data, in_shape, region):
        if np.ndim(data):
            data = self.frame_array(self.name, data, in_shape, region, "the threshold")
        return np.where(block <= data, np.zeros((), block.dtype), block)


class Mask(PointwiseOp):
    """Masked pixels (``True`` in a boolean frame-sized mask) set to 0 or to a fill value.

    ``data`` is the mask, ``(mask, fill)`` or ``{"mask": mask, "fill": fill}``. The dtype is
    numpy's promotion of the image dtype and the fill (a NaN fill on integers gives float64).
    """

    name = "mask"

    @staticmethod
    def _split(data) -> tuple[Any, Any]:
        if isinstance(data, dict):
            return data["mask"], data.get("fill", 0)
        if isinstance(data, tuple) and len(data) == 2 and np.ndim(data[1]) == 0:
            return data
        return data, 0

    def infer(self, shape, dtype, data):
        mask, fill = self._split(data)
        self.frame_array(self.name, mask, shape, None, "the mask")
        return shape, np.result_type(dtype, _dtype_arg(fill))

    def compute(self, block, data, in_shape, region):
        mask, fill = self._split(data)
        mask = self.frame_array(self.name, mask, in_shape, region, "the mask").astype(bool)
        dtype = np.result_type(block.dtype, _dtype_arg(fill))
        return np.where(mask, np.asarray(fill, dtype), block.astype(dtype, copy=False))


# -- geometry -----------------------------------------------------------------------------------
# flips as sequences of three primitives: "T" transpose, "R" reverse rows, "C" reverse columns
FLIPS: dict[str, str] = {
    "y": "C",
    "v": "C",
    "x": "R",
    "h": "R",
    "vh": "RC",
    "hv": "RC",
    "r180": "RC",
    "t": "T",
    "T": "T",
    "ccw90": "TR",
    "r90": "TR",  # img.T[::-1, :] == np.rot90(img)
    "cw90": "TC",
    "r270": "TC",  # img.T[:, ::-1] == np.rot90(img, -1)
}


def _flip_shape(prims: str, shape: Shape) -> list[Shape]:
    """Shapes before each primitive and after the last."""
    shapes = [shape]
    for p in prims:
        shape = (shape[1], shape[0]) if p == "T" else shape
        shapes.append(shape)
    return shapes


#: flip values that mean "leave the frames as they are"
NO_FLIP = ("none", "", None)


class Flip(Op):
    """hexrd's flip codes (``FLIPS``); ``'none'`` leaves frames unchanged.

    Any other value raises :class:`ProcessError` (a typo such as ``'cw'`` must not give unflipped
    frames silently). ``strict=False`` is hexrd's behaviour, where every unknown code is a no-op;
    the ``scanstack.imageseries`` drop-in uses it.
    """

    name = "flip"

    def __init__(self, strict: bool = True):
        self.strict = strict

    def _prims(self, data) -> str:
        if isinstance(data, str) and data in FLIPS:
            return FLIPS[data]
        if self.strict and data not in NO_FLIP:
            raise ProcessError(
                f"flip: unknown code {data!r}; use one of {', '.join(FLIPS)} or 'none'"
            )
        return ""

    def infer(self, shape, dtype, data):
        prims = self._prims(data)
        if prims:
            _need_2d(self.name, shape)
        return _flip_shape(prims, shape)[-1], np.dtype(dtype)

    def input_region(self, data, in_shape, out_region):
        prims = self._prims(data)
        if out_region is None or not prims:
            return out_region
        shapes = _flip_shape(prims, in_shape)
        region = out_region
        for p, shape in zip(reversed(prims), reversed(shapes[:-1]), strict=True):
            rows, cols = region
            if p == "T":
                region = (cols, rows)
            elif p == "R":
                region = (slice(shape[0] - rows.stop, shape[0] - rows.start), cols)
            else:
                region = (rows, slice(shape[1] - cols.stop, shape[1] - cols.start))
        return region

    def apply(self, block, data, in_shape, in_region, out_region):
        prims = self._prims(data)
        for p in prims:
            if p == "T":
                block = block.transpose(0, 2, 1)
            elif p == "R":
                block = block[:, ::-1, :]
            else:
                block = block[:, :, ::-1]
        return block


class Rectangle(Op):
    """``img[r0:r1, c0:c1]`` for ``data = ((r0, r1), (c0, c1))``, read from the parent directly."""

    name = "rectangle"

    def _region(self, data, in_shape) -> Region:
        try:
            (r0, r1), (c0, c1) = data
        except (TypeError, ValueError) as exc:
            raise ProcessError(f"op 'rectangle' needs ((r0, r1), (c0, c1)), got {data!r}") from exc
        _need_2d(self.name, in_shape)
        return normalize_region(((r0, r1), (c0, c1)), in_shape) or _full(in_shape)

    def infer(self, shape, dtype, data):
        return region_shape(self._region(data, shape), shape), np.dtype(dtype)

    def input_region(self, data, in_shape, out_region):
        rect = self._region(data, in_shape)
        if out_region is None:
            return normalize_region(rect, in_shape)
        return compose_regions(rect, out_region)

    def apply(self, block, data, in_shape, in_region, out_region):
        return block  # the parent was asked for exactly this region


class Bin(Op):
    """k×k binning by ``sum`` (default) or ``mean``; rows and columns left over are dropped.

    ``data`` is ``k``, ``(k, mode)`` or ``{"factor": k, "mode": mode}``. Sums keep numpy's
    ``sum`` dtype (uint16 → uint64, int → int64, floats unchanged); means are float32 (float64
    for float64 input).
    """

    name = "bin"

    @staticmethod
    def _split(data) -> tuple[int, str]:
        if isinstance(data, dict):
            k, mode = data.get("factor", data.get("k")), data.get("mode", "sum")
        elif isinstance(data, (tuple, list)):
            k, mode = data
        else:
            k, mode = data, "sum"
        if mode not in ("sum", "mean") or int(k) != k or int(k) < 1:
            raise ProcessError(
                f"op 'bin' needs a factor >= 1 and mode 'sum' or 'mean', got {data!r}"
            )
        return int(k), mode

    @staticmethod
    def _dtype(dtype, mode) -> np.dtype:
        if mode == "mean":
            return _float_dtype(dtype)
        return np.zeros(0, dtype).sum().dtype

    def infer(self, shape, dtype, data):
        k, mode = self._split(data)
        _need_2d(self.name, shape)
        return (shape[0] // k, shape[1] // k), self._dtype(dtype, mode)

    def input_region(self, data, in_shape, out_region):
        k, _ = self._split(data)
        if out_region is None:
            if in_shape[0] % k == 0 and in_shape[1] % k == 0:
                return None
            out_region = _full((in_shape[0] // k, in_shape[1] // k))
        return tuple(slice(s.start * k, s.stop * k) for s in out_region)

    def apply(self, block, data, in_shape, in_region, out_region):
        k, mode = self._split(data)
        n, r, c = block.shape
        blocks = block.reshape(n, r // k, k, c // k, k)
        if mode == "sum":
            return blocks.sum(axis=(2, 4), dtype=self._dtype(block.dtype, mode))
        return blocks.mean(axis=(2, 4), dtype=np.float64).astype(self._dtype(block.dtype, mode))


class Insert(Op):
    """hexrd's ``add-row`` / ``add-column``: zero rows (columns) inserted before ``data``."""

    def __init__(self, axis: int):
        self.axis = axis  # 0 rows, 1 columns (of a frame)
        self.name = "add-row" if axis == 0 else "add-column"

    def infer(self, shape, dtype, data):
        _need_2d(self.name, shape)
        n = np.insert(np.zeros(shape[self.axis], np.int8), data, 0).shape[0]
        out = list(shape)
        out[self.axis] = n
        return tuple(out), np.dtype(dtype)

    def input_region(self, data, in_shape, out_region):
        if out_region is None:
            return None
        region = list(out_region)
        region[self.axis] = slice(0, in_shape[self.axis])  # the other axis is untouched
        return tuple(region)

    def apply(self, block, data, in_shape, in_region, out_region):
        out = np.insert(block, data, 0, axis=self.axis + 1)
        if out_region is None:
            return out
        key = [slice(None)] * 3
        key[self.axis + 1] = out_region[self.axis]
        return out[tuple(key)]


class GaussLaplace(Op):
    """``scipy.ndimage.gaussian_laplace(img, sigma)`` per frame, same dtype as the input."""

    name = "gauss_laplace"

    def infer(self, shape, dtype, data):
        return shape, np.dtype(dtype)

    def full(self, block, data):
        from scipy import ndimage

        out = np.empty_like(block)
        for i in range(block.shape[0]):  # the filter is the cost, not the loop
            ndimage.gaussian_laplace(block[i], data, output=out[i])
        return out


class UserOp(Op):
    """A function added with ``addop``: ``func(img, data)`` per frame, or on whole blocks."""

    def __init__(self, name: str, func: Callable[[np.ndarray, Any], np.ndarray], block: bool):
        self.name, self.func, self.block = name, func, block

    def full(self, block, data):
        if self.block:
            return np.asarray(self.func(block, data))
        frames = [np.asarray(self.func(frame, data)) for frame in block]
        if not frames:
            return block
        try:
            return np.stack(frames)
        except ValueError as exc:
            shapes = sorted({f.shape for f in frames})
            raise ProcessError(
                f"op {self.name!r} returned frames of different shapes {shapes}"
            ) from exc


def builtin_ops() -> dict[str, Op]:
    """A fresh ``name -> op`` table (per stack, so ``addop`` never leaks between stacks)."""
    ops: list[Op] = [
        Dark(),
        Flat(),
        Add(),
        Threshold(),
        Mask(),
        Flip(),
        Rectangle(),
        Bin(),
        Insert(0),
        Insert(1),
        GaussLaplace(),
    ]
    return {op.name: op for op in ops}

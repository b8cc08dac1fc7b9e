"""Ops that move or resize the frame: ``flip``, ``rectangle``, ``bin``, ``add-row`` and
``add-column``; each maps a region of its output back to the region of its input it needs."""

from __future__ import annotations

import numpy as np

from ..core.reader import Region, compose_regions, normalize_region, region_shape
from .base import Op, ProcessError, Shape, _float_dtype, _full, _need_2d

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

"""Pixel-by-pixel ops: ``dark``, ``flat``, ``add``, ``threshold``, ``mask`` (any region of the
output needs just that region of the input)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import PointwiseOp, _dtype_arg, _float_dtype


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

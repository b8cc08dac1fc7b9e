"""What every frame operation of :mod:`scanstack.process.ops` is built on: the ``Op`` protocol
(``infer``, ``input_region``, ``apply``), pixel-by-pixel ops, ops added with ``addop``, and
the errors of processing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.errors import ScanstackError
from ..core.reader import Region, crop


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

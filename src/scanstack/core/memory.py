"""A reader over an in-memory numpy or dask array (hexrd's ``array`` format)."""

from __future__ import annotations

import copy

import numpy as np

from .axes import Axis
from .errors import FormatError
from .reader import Reader, crop


class ArrayReader(Reader):
    """Frames from an array of shape ``nav_shape + signal_shape``.

    Options: ``data`` (array-like, numpy or dask), ``signal_ndim`` (default 2, or 1 for 1-D/2-D
    data given with ``signal_ndim=1``), ``meta`` (metadata dict, hexrd's name), ``axes``,
    ``original_metadata``. A 2-D array with ``signal_ndim=2`` is one frame, as in hexrd.
    """

    format_name = "array"

    def __init__(
        self,
        source=None,
        *,
        data=None,
        signal_ndim: int | None = None,
        meta=None,
        metadata=None,
        axes=None,
        original_metadata=None,
    ):
        super().__init__(
            source,
            data=data,
            signal_ndim=signal_ndim,
            meta=meta,
            metadata=metadata,
            axes=axes,
            original_metadata=original_metadata,
        )
        if data is None:
            raise FormatError("the array format needs data=<array>", None, "data")
        if not hasattr(data, "dtype") or not hasattr(data, "shape"):
            data = np.asarray(data)
        if signal_ndim is None:
            signal_ndim = 2 if data.ndim >= 2 else 1
        if data.ndim < signal_ndim:
            raise FormatError(f"array of {data.ndim} dimensions cannot hold {signal_ndim}-D frames")
        one_frame = data.ndim == signal_ndim
        if one_frame:
            data = data[None]
        self.data = data
        self.nav_shape = tuple(data.shape[: data.ndim - signal_ndim])
        self.signal_shape = tuple(data.shape[data.ndim - signal_ndim :])
        self.dtype = np.dtype(data.dtype)
        self.metadata = meta if meta is not None else (metadata if metadata is not None else {})
        self.original_metadata = original_metadata or {}
        if axes is not None:
            self.axes = _checked_axes(list(axes), data.shape, one_frame)
        self._flat = data.reshape((-1, *self.signal_shape))

    def read(self, start, stop, region=None):
        block = self._flat[start:stop]
        block = crop(block, region)
        return np.array(block, dtype=self.dtype, copy=True)

    def read_frames(self, frames, region=None):
        frames = np.asarray(frames, dtype=np.int64)
        if isinstance(self._flat, np.ndarray):
            block = self._flat[frames]
            return np.ascontiguousarray(crop(block, region))
        return super().read_frames(frames, region)

    def as_array(self):
        return self._flat if isinstance(self._flat, np.ndarray) else None


def _checked_axes(axes: list[Axis], shape: tuple[int, ...], one_frame: bool) -> list[Axis]:
    """Copies of ``axes`` for an array of ``shape``; a single frame given with only its signal
    axes gets the one-point ``frame`` axis its leading dimension needs."""
    axes = copy.deepcopy(axes)
    if one_frame and len(axes) == len(shape) - 1:
        axes.insert(0, Axis("frame", 1))
    if len(axes) != len(shape):
        raise FormatError(f"{len(axes)} axes given for an array of {len(shape)} dimensions {shape}")
    for axis, n in zip(axes, shape, strict=True):
        if axis.size != n:
            raise FormatError(f"axis {axis.name!r} has {axis.size} points, the array {n}")
    return axes

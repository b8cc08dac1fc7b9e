"""Turning whatever a hexrd user has (an image series, an adapter, an array, a duck-typed
sequence of frames) into a scanstack :class:`~scanstack.Stack`, the one thing the library
computes on."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import FormatError
from ..core.reader import Reader, region_shape
from ..core.stack import ReaderStack, Stack


class SequenceReader(Reader):
    """A reader over any object with ``len`` and ``obj[i] -> 2-D frame`` (hexrd adapters,
    lists of arrays, mocks).

    Shape and dtype come from ``obj.shape``/``obj.dtype`` when they look right, otherwise from
    frame 0. Regions are read with ``obj.get_region(i, ((r0, r1), (c0, c1)))`` when it exists.
    Frames are fetched one by one: that is all such an object offers.
    """

    format_name = "sequence"

    def __init__(self, source: Any = None, *, series: Any = None):
        super().__init__(source, series=series)
        self.series = series
        n = len(series)
        shape = _frame_shape(getattr(series, "shape", None))
        try:
            dtype = np.dtype(getattr(series, "dtype", None)) if shape else None
        except TypeError:
            dtype = None
        if shape is None or dtype is None:
            if n == 0:
                raise FormatError(
                    f"cannot tell the frame shape of an empty {type(series).__name__}"
                )
            first = np.asarray(series[0])
            shape, dtype = first.shape, first.dtype
        self.nav_shape = (n,)
        self.signal_shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        meta = getattr(series, "metadata", None)
        self.metadata = meta if isinstance(meta, dict) else {}

    def read(self, start, stop, region=None):
        out = np.empty((stop - start, *region_shape(region, self.signal_shape)), self.dtype)
        getreg = getattr(self.series, "get_region", None) if region is not None else None
        for k, i in enumerate(range(start, stop)):
            if getreg is not None and len(region) == 2:
                rr = tuple((s.start, s.stop) for s in region)
                out[k] = getreg(i, rr)
            else:
                frame = np.asarray(self.series[i])
                out[k] = frame if region is None else frame[region]
        return out


def _frame_shape(shape: Any) -> tuple[int, ...] | None:
    try:
        out = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        return None
    return out if len(out) == 2 else None


def to_stack(obj: Any) -> Stack:
    """A scanstack Stack over ``obj``: an ImageSeries (its stack), a Stack, a 2-D/3-D ndarray
    (frames first) or any sequence of 2-D frames."""
    if isinstance(obj, Stack):
        return obj
    stack = getattr(obj, "stack", None)
    if isinstance(stack, Stack):
        return stack
    if isinstance(obj, np.ndarray):
        if obj.ndim not in (2, 3):
            raise FormatError(f"expected frames as a 2-D or 3-D array, got shape {obj.shape}")
        return Stack.from_array(obj)
    if not hasattr(obj, "__len__") or not hasattr(obj, "__getitem__"):
        raise TypeError(
            f"expected an image series, a Stack, an array or a sequence of frames, "
            f"got {type(obj).__name__}"
        )
    return ReaderStack(SequenceReader(None, series=obj))

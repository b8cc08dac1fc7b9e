"""Adapters: what an :class:`~scanstack.imageseries.ImageSeries` reads from (hexrd's ``load``).

Each hexrd format has an adapter class under hexrd's name (``load.hdf5.HDF5ImageSeriesAdapter``,
``load.framecache.FrameCacheImageSeriesAdapter``, ...). They all wrap a scanstack
:class:`~scanstack.Stack` opened with ``scanstack.open(fname, format, **kwargs)``, so frames
are read lazily, in blocks, with regions read directly from the file. Defining a subclass with a
``format`` class attribute registers it, as in hexrd.
"""

from __future__ import annotations

import abc
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from ...core.errors import ScanstackError, UnsupportedError
from ...core.stack import Stack
from ..imageseriesabc import ImageSeriesABC, RegionType
from .registry import Registry


class MissingOptionError(ScanstackError, KeyError):
    """A required keyword argument of a format is missing (hexrd raised a bare ``KeyError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class _RegisterAdapterClass(abc.ABCMeta):
    """Registers every class that defines its own ``format`` attribute."""

    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        if "format" in attrs:
            Registry.register(cls)


class ImageSeriesAdapter(ImageSeriesABC, metaclass=_RegisterAdapterClass):
    """Base class of adapters (hexrd's defaults: no metadata, region cut from the whole frame)."""

    format: Any = None

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, key):
        raise NotImplementedError

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @dtype.setter
    def dtype(self, value) -> None:
        self._dtype = np.dtype(value)

    @property
    def shape(self) -> tuple[int, int]:
        raise NotImplementedError

    @property
    def metadata(self) -> dict:
        return {}

    def get_region(self, frame_idx: int, region: RegionType) -> np.ndarray:
        (r0, r1), (c0, c1) = region
        return self[frame_idx][r0:r1, c0:c1]

    def option_values(self) -> dict:
        raise NotImplementedError

    def set_option(self, key: str, value: Any) -> None:
        raise NotImplementedError


def check_key(key: Any) -> Any:
    """Refuse keys that are not frame indices with a clear message (not a numpy traceback)."""
    first = key[0] if isinstance(key, tuple) and key else key
    if isinstance(first, np.ndarray) and first.ndim == 0 and first.dtype.kind in "iu":
        first = int(first)  # a 0-d integer array is one frame, like an int
        key = (first, *key[1:]) if isinstance(key, tuple) else first
    if isinstance(first, (bool, np.bool_)) or not (
        isinstance(first, (numbers.Integral, slice, list, np.ndarray, range)) or first is Ellipsis
    ):
        raise TypeError(
            f"image series frames are indexed by integers, slices or integer arrays, "
            f"not {type(first).__name__} ({first!r})"
        )
    return key


class StackAdapter(ImageSeriesAdapter):
    """The adapter over a scanstack :class:`~scanstack.Stack` (frames flat, in C order)."""

    def __init__(self, stack: Stack):
        self._stack = stack

    @property
    def stack(self) -> Stack:
        """The scanstack stack this adapter reads."""
        return self._stack

    def __len__(self) -> int:
        return self._stack.nframes

    def __getitem__(self, key) -> np.ndarray:
        return self._stack[check_key(key)]

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._stack)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._stack.dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one frame."""
        return tuple(self._stack.signal_shape)

    @property
    def metadata(self) -> dict:
        return self._stack.metadata

    def get_region(self, frame_idx: int, region: RegionType) -> np.ndarray:
        """Frame ``frame_idx`` cut to ``((r0, r1), (c0, c1))``; only the region is read."""
        return self._stack.get_region(frame_idx, region)

    def option_values(self) -> dict:
        """Reading options that can be changed after opening: none for scanstack formats."""
        return {}

    def set_option(self, key: str, value: Any) -> None:
        raise UnsupportedError(
            f"option {key!r} cannot be changed after opening; pass it to open() instead"
        )

    def close(self) -> None:
        self._stack.close()


class FormatAdapter(StackAdapter):
    """An adapter that opens ``fname`` with scanstack's reader of ``cls.format``."""

    def __init__(self, fname: Any, **kwargs: Any):
        from ...core.registry import open as ss_open

        super().__init__(ss_open(fname, self.format, **kwargs))


def adapter_for(fmt: Any):
    """The registered adapter class of ``fmt``, or a factory for any other scanstack format."""
    cls = Registry.adapter_registry.get(fmt)
    if cls is not None:
        return cls
    from ...core.registry import get_format
    from ...core.registry import open as ss_open

    get_format(fmt)  # UnknownFormatError (a KeyError) names the known formats

    def make(fname: Any, **kwargs: Any) -> StackAdapter:
        return StackAdapter(ss_open(fname, fmt, **kwargs))

    return make


from . import (  # noqa: E402
    array,
    eiger,
    eiger_stream_v1,
    eiger_stream_v2,
    framecache,
    function,
    hdf5,
    imagefiles,
    rawimage,
)

__all__ = [
    "ImageSeriesAdapter",
    "MissingOptionError",
    "Registry",
    "StackAdapter",
    "FormatAdapter",
    "adapter_for",
    "array",
    "eiger",
    "eiger_stream_v1",
    "eiger_stream_v2",
    "framecache",
    "function",
    "hdf5",
    "imagefiles",
    "rawimage",
]

"""The reader protocol: the one thing a format has to implement.

A format subclasses :class:`Reader`, fills in the attributes in ``__init__`` and implements
:meth:`Reader.read` for a block of consecutive frames. Everything else (indexing, dask, statistics,
processing, conversion) is written once in the core against this protocol.
"""

from __future__ import annotations

import functools
import math
import operator
import os
from typing import Any, ClassVar

import numpy as np

from .axes import Axis, default_axes
from .errors import FormatError, FrameIndexError, decoder_error

Region = tuple[slice, ...]


def normalize_region(region, signal_shape: tuple[int, ...]) -> Region | None:
    """Turn ``None``, a tuple of slices or hexrd's ``((r0, r1), (c0, c1))`` into unit-step slices.

    Returns ``None`` when the region covers the whole frame.
    """
    if region is None:
        return None
    region = tuple(region)
    if len(region) > len(signal_shape):
        raise FrameIndexError(
            f"region has {len(region)} dimensions, frames have {len(signal_shape)}"
        )
    out = []
    for key, size in zip(region, signal_shape, strict=False):
        if isinstance(key, slice):
            try:
                start, stop, step = key.indices(size)
            except TypeError as exc:
                raise FrameIndexError(f"region slices take integers, not {key!r}") from exc
            if step != 1:
                raise FrameIndexError(
                    "regions must have unit step; use isig for strided selections"
                )
        else:
            try:
                start, stop = (operator.index(k) if k is not None else None for k in key)
            except (TypeError, ValueError) as exc:
                raise FrameIndexError(
                    f"a region is (start, stop) integers or a slice per frame axis, not {key!r}"
                ) from exc
            start, stop, _ = slice(start, stop).indices(size)
        out.append(slice(start, max(start, stop)))
    out += [slice(0, size) for size in signal_shape[len(out) :]]
    if all(s.start == 0 and s.stop == n for s, n in zip(out, signal_shape, strict=True)):
        return None
    return tuple(out)


def region_shape(region: Region | None, signal_shape: tuple[int, ...]) -> tuple[int, ...]:
    if region is None:
        return tuple(signal_shape)
    return tuple(s.stop - s.start for s in region)


def compose_regions(outer: Region | None, inner: Region | None) -> Region | None:
    """The region of the full frame that ``inner`` (a region *of* ``outer``) covers.

    Both are unit-step slice tuples as :func:`normalize_region` returns; ``None`` is the whole
    frame.
    """
    if outer is None:
        return inner
    if inner is None:
        return outer
    return tuple(
        slice(o.start + i.start, o.start + i.stop) for o, i in zip(outer, inner, strict=True)
    )


class Reader:
    """Base class of format readers.

    Subclasses set, in ``__init__``:

    - ``nav_shape`` (tuple): scan shape, slowest axis first; ``(n,)`` for a frame series;
    - ``signal_shape`` (tuple): shape of one frame (``(rows, cols)`` or ``(channels,)``);
    - ``dtype`` (numpy dtype) of the frames as returned by :meth:`read`;
    - optionally ``axes`` (list of :class:`Axis`, navigation first), ``metadata`` (common keys, see
      :mod:`scanstack.core.metadata`) and ``original_metadata`` (the format's own tree).

    and implement :meth:`read`. The reader pickles by re-opening (dask.distributed workers get a
    cheap copy, not the data): through the registry with what :func:`scanstack.open` was given,
    else as ``type(self)(source, **options)``, so ``super().__init__(source, **options)`` must
    receive every option that shapes what is read. On arrival the shape and dtype are checked.
    :func:`scanstack.testing.check_reader` checks the whole contract.
    """

    #: registry name of the format, set by each subclass
    format_name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every reader's ``__init__``, ``read``, ``read_into``, ``read_frames`` and ``axes`` turn the errors of
        the decoding libraries (h5py, zipfile/zlib, tifffile, zarr, ...) into a
        :class:`~scanstack.core.errors.FormatError` naming the file and, when known, the HDF5
        object or zip member: a corrupt file never surfaces as h5py's ``RuntimeError`` or a
        ``zlib.error``. Errors raised by scanstack's own code pass unchanged (bugs stay bugs)."""
        super().__init_subclass__(**kwargs)
        for name in ("__init__", "read", "read_into", "read_frames", "as_array"):
            method = getattr(cls, name, None)  # also what a mixin before Reader in the MRO defines
            if callable(method) and method is not getattr(Reader, name, None):
                if not getattr(method, "_decoder_errors", False):
                    setattr(cls, name, _translate_decoder_errors(method))
        prop = getattr(cls, "axes", None)
        if isinstance(prop, property) and prop is not Reader.__dict__["axes"]:
            if prop.fget is not None and not getattr(prop.fget, "_decoder_errors", False):
                cls.axes = property(_translate_decoder_errors(prop.fget), prop.fset, prop.fdel)

    nav_shape: tuple[int, ...]
    signal_shape: tuple[int, ...]
    dtype: np.dtype

    def __init__(self, source: Any = None, **options: Any):
        self.source = source
        self.options = options
        self.metadata: dict[str, Any] = {}
        self.original_metadata: dict[str, Any] = {}
        self._axes: list[Axis] | None = None

    # -- what the file holds --------------------------------------------------------------
    @property
    def axes(self) -> list[Axis]:
        if self._axes is None:
            self._axes = default_axes(tuple(self.nav_shape), tuple(self.signal_shape))
        return self._axes

    @axes.setter
    def axes(self, value: list[Axis]) -> None:
        self._axes = list(value)

    @property
    def nframes(self) -> int:
        return math.prod(self.nav_shape)

    @property
    def path(self) -> str | None:
        """The file read, if the source is a path."""
        if isinstance(self.source, (str, os.PathLike)):
            return os.fspath(self.source)
        return None

    def source_paths(self) -> list[str]:
        """Every file this reader reads (used to refuse overwriting an input)."""
        return [self.path] if self.path else []

    # -- reading ------------------------------------------------------------------------
    def read(self, start: int, stop: int, region: Region | None = None) -> np.ndarray:
        """Frames ``start:stop`` (flat, C order over ``nav_shape``) as ``(n, *region_shape)``.

        ``region`` is ``None`` (whole frames) or a tuple of unit-step slices, one per signal
        dimension, already checked by the core. Readers that cannot read a region directly may
        read whole frames and return ``crop(frames, region)``.
        """
        raise NotImplementedError

    def read_into(
        self,
        start: int,
        stop: int,
        out: np.ndarray,
        region: Region | None = None,
        *,
        zeroed: bool = False,
    ) -> None:
        """Frames ``start:stop`` written into ``out`` (``(n, *region_shape)``, C-contiguous).

        What whole reads (``Stack.to_numpy``) call, block by block, so that the frames land in
        the destination array; ``zeroed`` says ``out`` already holds zeros (a fresh
        ``np.zeros``, which costs no more than ``np.empty``), so sparse readers need not clear
        it. The default reads a block and copies it; readers that can decode or read straight
        into memory (h5py's ``read_direct``, sparse frames scattered into place) override it.
        """
        out[...] = self.read(start, stop, region)

    def read_frames(self, frames: np.ndarray, region: Region | None = None) -> np.ndarray:
        """Arbitrary frames (1-D int array of flat indices, in range) as ``(n, *region_shape)``.

        The default groups runs of consecutive indices into :meth:`read` calls.
        """
        frames = np.asarray(frames, dtype=np.int64).reshape(-1)
        shape = region_shape(region, self.signal_shape)
        if frames.size == 0:
            return np.empty((0, *shape), self.dtype)
        if frames.size == 1 or np.all(np.diff(frames) == 1):
            return self.read(int(frames[0]), int(frames[-1]) + 1, region)
        out = np.empty((frames.size, *shape), self.dtype)
        breaks = np.flatnonzero(np.diff(frames) != 1) + 1
        starts = np.concatenate(([0], breaks))
        stops = np.concatenate((breaks, [frames.size]))
        for a, b in zip(starts, stops, strict=True):
            out[a:b] = self.read(int(frames[a]), int(frames[b - 1]) + 1, region)
        return out

    def read_overhead(self) -> int:
        """Bytes of scratch memory one :meth:`read` may hold beyond the block it returns.

        Readers that decode storage units larger than what they return (compressed chunks of
        several frames, zip members, sparse frames) keep this bounded whatever the number of
        frames read, and say how much it is, so that the statistics count it in their memory
        budget. 0 for readers that read straight into the result (memory maps, raw files).
        """
        return 0

    def as_array(self) -> Any | None:
        """Optional zero-copy view of shape ``(nframes, *signal_shape)`` (memmap or h5py dataset)."""
        return None

    def close(self) -> None:
        """Release file handles; the reader may be re-opened by pickling."""

    # -- pickling: re-open, then check -----------------------------------------------------
    #: ``(format, source, options)`` as given to :func:`scanstack.open`; set by the registry
    opened_with: tuple[str, Any, dict] | None = None

    def reopen_args(self) -> tuple[str | None, Any, dict]:
        """``(format, source, options)`` that re-open this reader when it is unpickled.

        A reader opened by :func:`scanstack.open` re-opens through the registry with exactly
        what it was opened with (so a reader cannot lose an option on the way); one built
        directly re-opens as ``type(self)(self.source, **self.options)`` (format ``None``).
        """
        if self.opened_with is not None:
            fmt, source, options = self.opened_with
        else:
            fmt, source, options = None, self.source, self.options
        return (fmt, *self._picklable(source, dict(options)))

    def _picklable(self, source: Any, options: dict) -> tuple[Any, dict]:
        """Hook: replace an open handle in ``source``/``options`` by what re-opens it (a path)."""
        return source, options

    def __reduce__(self):
        fmt, source, options = self.reopen_args()
        declared = (tuple(self.nav_shape), tuple(self.signal_shape), np.dtype(self.dtype))
        return (_reopen, (fmt, type(self), source, options, declared))


def _reader_path(reader: Reader, args: tuple) -> Any:
    """The file a reader is about, for an error message, even while ``__init__`` is running."""
    try:
        path = reader.path
    except Exception:  # noqa: BLE001 - a half-built reader may miss what ``path`` needs
        path = None
    if path is None and args and isinstance(args[0], (str, os.PathLike)):
        path = args[0]
    return path


def _translate_decoder_errors(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            fmt = type(self).format_name or type(self).__name__
            error = decoder_error(exc, _reader_path(self, args), f"a readable {fmt} file")
            if error is None:
                raise
            raise error from exc

    wrapper._decoder_errors = True
    return wrapper


def _reopen(fmt: str | None, cls: type, source: Any, options: dict, declared: tuple) -> Reader:
    """Unpickle: re-open, and refuse a reader that differs from the one that was pickled."""
    if fmt is None:
        reader = cls(source, **options)
    else:
        from .registry import open_reader  # the registry imports this module

        reader = open_reader(fmt, source, options)
    found = (tuple(reader.nav_shape), tuple(reader.signal_shape), np.dtype(reader.dtype))
    if found != declared:

        def show(d: tuple) -> str:
            return f"nav {d[0]}, signal {d[1]}, dtype {d[2]}"

        raise FormatError(
            f"re-opened after pickling as {show(found)}, but the pickled reader had "
            f"{show(declared)} (options {options}); the file changed, or the "
            f"{fmt or cls.__name__} reader does not keep the options it was opened with",
            source if isinstance(source, (str, os.PathLike)) else None,
        )
    return reader


def crop(frames: np.ndarray, region: Region | None) -> np.ndarray:
    """Apply a region to a block ``(n, *signal_shape)``."""
    if region is None:
        return frames
    return frames[(slice(None), *region)]

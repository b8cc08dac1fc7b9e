"""The lazy stack: navigation (scan) axes × signal (frame) axes over any reader.

A :class:`Stack` never holds its data. Its primitive is ``_read_frames(frames, region)`` which
returns the frames with the given flat indices (C order over ``nav_shape``), optionally cut to a
rectangular region of the signal. Indexing, reading into numpy, iteration in blocks and pickling
are built on that primitive here, once; the lazy views live in ``views``, the hand-offs to dask,
xarray and RosettaSciIO in ``conversions`` (HyperSpy's in ``hyperspy_signal``).

Indexing rules (hexrd-compatible at the front, numpy-style through ``inav``/``isig``):

- ``len(s)`` is the number of frames; ``s[i]`` (any integer, negative too) is frame ``i`` as an
  ndarray of ``signal_shape``; ``s[i, rows, cols]`` indexes inside that frame;
- ``s[a:b]``, ``s[[i, j, k]]`` return the frames as one ndarray ``(n, *signal_shape)``;
- ``s.inav[...]`` is a *lazy* stack indexed numpy-style over the navigation axes, ``s.isig[...]``
  a lazy crop of the frames, ``s.frames(list)`` a lazy 1-D selection of frames.
"""

from __future__ import annotations

import math
import operator
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import conversions
from .axes import Axis, default_axes
from .config import config
from .errors import FrameIndexError, check_fits
from .indexing import frame_number, is_integer, split_signal_key
from .metadata import (  # noqa: F401  (the per-frame keys were defined here first)
    PER_FRAME_METADATA_KEYS,
    PER_FRAME_UNITS,
    select_per_frame_metadata,
)
from .readahead import read_ahead
from .reader import Reader, Region, normalize_region, region_shape

if TYPE_CHECKING:
    from .views import NavIndexer, SigIndexer

__all__ = ["ReaderStack", "Stack", "ViewStack"]


class Stack:
    """A lazy N-D dataset of shape ``nav_shape + signal_shape``.

    Subclasses provide ``nav_shape``, ``signal_shape``, ``dtype``, ``axes``, ``metadata``,
    ``original_metadata`` and ``_read_frames``; everything else is generic.
    """

    nav_shape: tuple[int, ...]
    signal_shape: tuple[int, ...]
    dtype: np.dtype
    metadata: dict
    original_metadata: dict

    # -- shape --------------------------------------------------------------------------
    @property
    def axes(self) -> list[Axis]:
        raise NotImplementedError

    @property
    def nav_axes(self) -> list[Axis]:
        return [a for a in self.axes if a.navigate]

    @property
    def signal_axes(self) -> list[Axis]:
        return [a for a in self.axes if not a.navigate]

    @property
    def shape(self) -> tuple[int, ...]:
        """Full shape, ``nav_shape + signal_shape``."""
        return tuple(self.nav_shape) + tuple(self.signal_shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nframes(self) -> int:
        return math.prod(self.nav_shape)

    @property
    def frame_nbytes(self) -> int:
        return math.prod(self.signal_shape) * np.dtype(self.dtype).itemsize

    @property
    def nbytes(self) -> int:
        return self.nframes * self.frame_nbytes

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def __len__(self) -> int:
        return self.nframes

    # -- the primitive ------------------------------------------------------------------
    def _read_frames(self, frames: np.ndarray, region: Region | None) -> np.ndarray:
        raise NotImplementedError

    def read_frames(self, frames, region=None) -> np.ndarray:
        """Frames with flat indices ``frames`` as ``(n, *region_shape)``; region as in get_region."""
        given = np.asarray(frames)
        if given.size and given.dtype.kind not in "iu":  # 1.5 must not silently become 1
            raise FrameIndexError(f"frame numbers are integers, not {given.dtype} ({frames!r})")
        frames = self._check_frames(given.astype(np.int64).reshape(-1))
        return self._read_frames(frames, normalize_region(region, self.signal_shape))

    def read(self, start: int, stop: int, region=None) -> np.ndarray:
        """Consecutive frames ``start:stop`` as ``(n, *region_shape)``."""
        start, stop = (None if v is None else frame_number(v) for v in (start, stop))
        start, stop, _ = slice(start, stop).indices(self.nframes)
        return self.read_frames(np.arange(start, max(start, stop)), region)

    def _check_frames(self, frames: np.ndarray) -> np.ndarray:
        n = self.nframes
        if frames.size and (frames.min() < -n or frames.max() >= n):
            bad = frames[(frames < -n) | (frames >= n)][0]
            raise FrameIndexError(f"frame {bad} is out of range for a stack of {n} frames")
        return np.where(frames < 0, frames + n, frames)

    # -- hexrd-style access ---------------------------------------------------------------
    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if not key:
            return self.to_numpy()
        first, rest = key[0], key[1:]
        if first is Ellipsis:
            return self.to_numpy()[key]
        if is_integer(first):
            i = operator.index(first)
            if not -self.nframes <= i < self.nframes:
                raise FrameIndexError(
                    f"frame {i} is out of range for a stack of {self.nframes} frames"
                )
        try:  # check the whole key before reading anything (1.5 is no frame number)
            region, post = split_signal_key(rest, self.signal_shape)
            frames = None if is_integer(first) else np.arange(self.nframes)[first]
            if post:  # a zero-stride stand-in for a frame: validates, allocates nothing
                np.broadcast_to(np.zeros((), bool), self.signal_shape)[post]
        except (IndexError, TypeError, ValueError) as exc:
            raise FrameIndexError(
                f"cannot index a stack of {self.nframes} frames of {self.signal_shape} "
                f"with {key!r}: {exc}"
            ) from exc
        if frames is None:
            data = self._read_frames(np.array([i % self.nframes]), region)[0]
            return data[post] if post else data
        data = self._read_frames(np.asarray(frames, dtype=np.int64).reshape(-1), region)
        return data[(slice(None), *post)] if post else data

    def get_region(self, frame: int, region) -> np.ndarray:
        """Frame ``frame`` cut to ``((r0, r1), (c0, c1))`` (or a tuple of slices), reading only it."""
        frames = self._check_frames(np.array([frame_number(frame)]))
        return self._read_frames(frames, normalize_region(region, self.signal_shape))[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        for _start, _stop, block in self.iter_blocks():
            yield from block

    # -- blocks -------------------------------------------------------------------------
    def frames_per_block(self, nbytes: int | None = None, region: Region | None = None) -> int:
        """How many frames (or frame regions) fit in ``nbytes`` (default ``config.block_bytes``)."""
        per = math.prod(region_shape(region, self.signal_shape)) * np.dtype(self.dtype).itemsize
        return max(1, int((nbytes or config.block_bytes) // max(per, 1)))

    def iter_blocks(
        self,
        frames_per_block: int | None = None,
        region=None,
        start: int = 0,
        stop: int | None = None,
    ) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield ``(start, stop, block)`` over consecutive frames, each block ``(n, *region_shape)``.

        The next block is read in a background thread while the caller works on the current one.
        """
        region = normalize_region(region, self.signal_shape)
        step = frames_per_block or self.frames_per_block(region=region)
        stop = self.nframes if stop is None else min(stop, self.nframes)
        bounds = [(a, min(a + step, stop)) for a in range(start, stop, step)]
        for (a, b), block in read_ahead(lambda ab: self._read_range(*ab, region), bounds):
            yield a, b, block

    def _read_range(self, start: int, stop: int, region: Region | None) -> np.ndarray:
        return self._read_frames(np.arange(start, stop, dtype=np.int64), region)

    def read_overhead(self) -> int:
        """Scratch bytes one read may hold beyond its result (:meth:`Reader.read_overhead`)."""
        parent = getattr(self, "parent", None)
        return parent.read_overhead() if isinstance(parent, Stack) else 0

    # -- lazy views -----------------------------------------------------------------------
    @property
    def inav(self) -> NavIndexer:
        """Numpy-style lazy indexing over the navigation axes: ``s.inav[2:5, ::2]``."""
        from .views import NavIndexer

        return NavIndexer(self)

    @property
    def isig(self) -> SigIndexer:
        """Lazy indexing of the frames: ``s.isig[100:200, 50:150]`` reads only that region."""
        from .views import SigIndexer

        return SigIndexer(self)

    def frames(self, frames: Sequence[int] | np.ndarray | slice) -> Stack:
        """A lazy 1-D stack of the given frames (flat indices, in the order given)."""
        idx = np.arange(self.nframes)[frames] if isinstance(frames, slice) else frames
        idx = self._check_frames(np.asarray(idx, dtype=np.int64).reshape(-1))
        axis = Axis("frame", idx.size, navigate=True)
        if len(self.nav_shape) == 1:
            axis = self.nav_axes[0].index(idx)
        return ViewStack(self, idx, None, (), [axis] + self.signal_axes)

    def reshape_nav(self, nav_shape: Sequence[int], axes: Sequence[Axis] | None = None) -> Stack:
        """The same frames viewed with another navigation shape (C order)."""
        nav_shape = tuple(int(n) for n in nav_shape)
        if math.prod(nav_shape) != self.nframes:
            raise ValueError(f"cannot view {self.nframes} frames as navigation shape {nav_shape}")
        nav_axes = list(axes) if axes is not None else default_axes(nav_shape, ())
        return ViewStack(
            self, np.arange(self.nframes).reshape(nav_shape), None, (), nav_axes + self.signal_axes
        )

    # -- conversions ----------------------------------------------------------------------
    def default_chunks(self, chunk_bytes: int | None = None) -> tuple[int, ...]:
        """Dask chunks: whole frames, as many per chunk as fit in ``chunk_bytes``."""
        remaining = self.frames_per_block(chunk_bytes)
        chunks = []
        for n in reversed(self.nav_shape):
            c = max(1, min(n, remaining))
            chunks.append(c)
            remaining = remaining // n if c == n else 1
        return tuple(reversed(chunks)) + tuple(self.signal_shape)

    def to_dask(self, chunks: Any = None):
        """A dask array of shape ``nav_shape + signal_shape``; chunks default to whole frames."""
        return conversions.to_dask(self, chunks)

    @property
    def token(self) -> str:
        """A name that identifies this stack (used for dask task names)."""
        tok = getattr(self, "_token", None)
        if tok is None:
            tok = self._token = uuid.uuid4().hex
        return tok

    def to_numpy(self, progress=None) -> np.ndarray:
        """Read everything into memory: ``(*nav_shape, *signal_shape)``.

        The frames are written straight into the result (:meth:`_fill`), block by block.
        """
        from .progress import Progress

        # np.zeros maps fresh zero pages like np.empty (no extra pass), and sparse readers then
        # only write their non-zero pixels
        out = np.zeros((self.nframes, *self.signal_shape), self.dtype)
        with Progress(self.nframes, progress, "read", "frames") as bar:
            self._fill(out, bar.update)
        return out.reshape(self.shape)

    def _fill(self, out: np.ndarray, tick) -> None:
        """Write every frame into ``out`` ``(nframes, *signal_shape)``, which holds zeros;
        ``tick(k)`` per block."""
        for a, b, block in self.iter_blocks():
            out[a:b] = block
            tick(b - a)

    def __array__(self, dtype=None, copy=None):
        data = self.to_numpy()
        return data if dtype is None else data.astype(dtype)

    def to_xarray(self, lazy: bool = True):
        """An ``xarray.DataArray`` (dask-backed if ``lazy``) with named dims, coordinates (units
        in attrs), per-frame arrays as non-dimension coordinates and JSON-safe metadata attrs.

        Built by the same code as the ``scanstack`` xarray backend. Needs the ``xarray`` extra.
        """
        return conversions.to_xarray(self, lazy)

    def to_rsciio_dicts(self, lazy: bool = True) -> list[dict]:
        """RosettaSciIO's return value: ``[{'data', 'axes', 'metadata', 'original_metadata'}]``.

        ``hyperspy.api.signals.BaseSignal(**d)`` (or ``hs.load``-style dict handling) builds a
        signal from each entry. Axes are listed in array order.
        """
        return conversions.to_rsciio_dicts(self, lazy)

    def to_hyperspy(self, lazy: bool = True, signal_type: str | None = None):
        """A HyperSpy signal over this stack: ``Signal2D`` for 2-D frames, ``Signal1D`` for
        spectra, ``BaseSignal`` otherwise (or the class of an installed extension that registers
        the signal type, e.g. pyxem's for ``electron_diffraction``), lazy by default with dask
        chunks of whole frames along the navigation axes.

        Axes keep names, units and scale/offset (or their values when non-uniform); the
        metadata is mapped to HyperSpy's tree (``General.title``, ``original_filename``,
        ``date``/``time``, ``Signal.signal_type``, ``Acquisition_instrument``) and
        ``original_metadata`` is kept (JSON-safe). ``signal_type`` overrides the mapped one,
        e.g. ``"EDS_SEM"`` to use exspy's X-ray line tools on XRF spectra. Needs the
        ``hyperspy`` extra.
        """
        from .hyperspy_signal import to_hyperspy

        return to_hyperspy(self, lazy=lazy, signal_type=signal_type)

    # -- files ----------------------------------------------------------------------------
    def source_paths(self) -> list[str]:
        return []

    def close(self) -> None:
        pass

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        fmt = self.metadata.get("format", "") if isinstance(self.metadata, dict) else ""
        return (
            f"<{type(self).__name__} {fmt} nav={self.nav_shape} signal={self.signal_shape} "
            f"dtype={np.dtype(self.dtype).name}>"
        )

    def _repr_html_(self) -> str:
        """Jupyter's view: format, shapes, dtype, size, axes with units, chunks, key metadata
        (built from the header only: nothing is read)."""
        from .htmlrepr import stack_html

        return stack_html(self)

    # -- construction helpers ----------------------------------------------------------------
    @staticmethod
    def from_array(
        data, signal_ndim: int | None = None, axes=None, metadata=None, original_metadata=None
    ) -> ReaderStack:
        """A stack over an in-memory numpy (or dask) array; last ``signal_ndim`` dims are frames."""
        from .memory import ArrayReader

        return ReaderStack(
            ArrayReader(
                None,
                data=data,
                signal_ndim=signal_ndim,
                axes=axes,
                meta=metadata,
                original_metadata=original_metadata,
            )
        )


class ReaderStack(Stack):
    """The stack of a format reader (what :func:`scanstack.open` returns)."""

    def __init__(self, reader: Reader):
        self.reader = reader
        self.nav_shape = tuple(int(n) for n in reader.nav_shape)
        self.signal_shape = tuple(int(n) for n in reader.signal_shape)
        self.dtype = np.dtype(reader.dtype)

    @property
    def axes(self) -> list[Axis]:
        return self.reader.axes

    @property
    def metadata(self) -> dict:
        return self.reader.metadata

    @metadata.setter
    def metadata(self, value: dict) -> None:
        self.reader.metadata = value

    @property
    def original_metadata(self) -> dict:
        return self.reader.original_metadata

    @property
    def rsciio_metadata(self) -> dict | None:
        return getattr(self.reader, "rsciio_metadata", None)

    @property
    def format(self) -> str:
        return self.reader.format_name

    @property
    def path(self) -> str | None:
        return self.reader.path

    def _read_frames(self, frames: np.ndarray, region: Region | None) -> np.ndarray:
        self._check_frame_fits(region)
        return self.reader.read_frames(frames, region)

    def _read_range(self, start: int, stop: int, region: Region | None) -> np.ndarray:
        self._check_frame_fits(region)
        return self.reader.read(start, stop, region)

    def _check_frame_fits(self, region: Region | None) -> None:
        """One frame (or region) larger than the memory budget is refused before any read: a
        header may claim any frame size, a tiny file must not allocate in proportion."""
        nbytes = math.prod(region_shape(region, self.signal_shape)) * self.dtype.itemsize
        what = f"a region {region_shape(region, self.signal_shape)}" if region else "one frame"
        check_fits(nbytes, f"{what} of {self.signal_shape} {self.dtype} frames", self.path)

    def as_array(self):
        return self.reader.as_array()

    def read_overhead(self) -> int:
        return int(self.reader.read_overhead())

    def _fill(self, out: np.ndarray, tick) -> None:
        # a memory map is copied in threads (the copy releases the GIL; measured faster than
        # h5py's read_direct of the same contiguous dataset); otherwise the reader writes each
        # block into place itself (read_into; the default reads a block and copies it)
        reader = self.reader
        arr = reader.as_array()
        if (
            isinstance(arr, np.ndarray)
            and arr.shape == out.shape
            and np.can_cast(arr.dtype, out.dtype, "equiv")  # byte order only
        ):
            from .wholeread import copy_in_threads

            copy_in_threads(arr, out, self.frames_per_block(), tick)
            return
        step = self.frames_per_block()
        for a in range(0, self.nframes, step):
            b = min(a + step, self.nframes)
            reader.read_into(a, b, out[a:b], zeroed=True)
            tick(b - a)

    def source_paths(self) -> list[str]:
        return self.reader.source_paths()

    def close(self) -> None:
        self.reader.close()


# the views are stacks themselves, so their module imports this one; imported last, here, so
# that ``scanstack.core.stack.ViewStack`` keeps working
from .views import ViewStack  # noqa: E402

"""Frames as rows of *lanes*: the one view every fold kernel reads, in place or from a block.

A :class:`Lanes` is a C-contiguous 2-D array whose row ``f`` holds frame ``f``'s pixel values
(native byte order, or a native-order view read with ``swap=True``) at ``[off, off + n)``, the
rows to visit, and how lane values map back to frame pixels. Two kinds of readers offer one
without copying (:func:`direct_source`):

- ``reader.as_array()`` returns a numpy array ``(nframes, *signal_shape)`` — a memory map,
  possibly big-endian, possibly with gaps between frames (headers) or negative strides;
- ``reader.as_packed()`` returns a dict describing raw, bit-packed frames (Merlin ``R64``)::

      {"data": uint8 array (nframes, nbytes), zero-copy, may be strided,
       "lanes": "bits" (1-bit pixels, LSB-first in each byte) or a dtype ("u1", ">u2") of the
                pixel lanes in memory order,
       "decode": callable(uint8 (n, nbytes)) -> (n, rows, cols), the reader's own decoder,
       "layout_key": optional hashable naming the layout, so the permutation is learnt once
                     per layout (a growing stack hands out a new view for every batch)}

  Kernels then fold the lanes in *memory order* and the result is permuted to frame order
  once. The permutation is learnt from ``decode`` itself (see :func:`lane_permutation`), so
  this module knows nothing of any format's pixel layout.

Any other block of frames is viewed the same way by :func:`block_lanes` (a reshape, plus a
conversion only for dtypes no kernel reads). Lazy views (``inav``, ``isig`` without strides,
``frames``) over a reader with a direct source still qualify: their frame map and region are
composed here.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np

from .indexing import is_identity
from .reader import Region, compose_regions
from .stack import ReaderStack, Stack, ViewStack

#: dtypes the kernels read natively (anything else is converted block by block)
_NATIVE_KINDS = "uif"


def native_view(arr: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """A view of ``arr`` the kernels can read, and whether values must be byte-swapped.

    Big-endian unsigned integers become a native-order view read with ``swap=True``; bool becomes
    uint8. Returns None when no zero-copy view exists (big-endian signed or float data, float16,
    complex).
    """
    dt = arr.dtype
    if dt == np.bool_:
        return arr.view(np.uint8), False
    if dt.kind not in _NATIVE_KINDS or dt == np.float16:
        return None
    if dt.isnative:  # single-byte dtypes are native whatever their byte-order mark
        return arr, False
    if dt.kind == "u":
        return arr.view(dt.newbyteorder("=")), True
    return None


def readonly(arr: np.ndarray) -> np.ndarray:
    """A read-only view: memory maps are read-only, so in-memory data is passed the same way and
    numba compiles each kernel once per dtype instead of twice."""
    view = arr.view()
    view.flags.writeable = False
    return view


def native_block(block: np.ndarray) -> tuple[np.ndarray, bool]:
    """Like :func:`native_view` but always succeeds (converting when no view exists)."""
    view = native_view(block)
    if view is not None:
        return view
    if block.dtype == np.float16:
        return block.astype(np.float32), False
    # big-endian signed/float and complex: a native-order copy (folds decide what they accept)
    return block.astype(block.dtype.newbyteorder("=")), False


@dataclass
class Lanes:
    """Frames to fold: which memory to read and how to map it back to frame pixels.

    ``data`` is C-contiguous ``(N, L)``: row ``f`` holds frame ``f``'s ``n`` lanes (pixel values in
    memory order, native-order view, ``swap`` if big-endian) at ``[off, off + n)``; with ``bits``
    the rows are uint64 words of 64 one-bit pixels. ``frames`` are the rows to visit, in stack
    order; ``perm`` the lane of every frame pixel (flat over ``full_shape``, -1 for pixels the
    stream does not carry, e.g. chip gaps; None when lanes are already in frame order);
    ``region`` the stack's crop of the reader's ``full_shape`` frames; ``packed`` says that it
    came from ``as_packed()`` (raw frames) rather than ``as_array()`` or a block.
    """

    data: np.ndarray
    swap: bool
    off: int
    n: int
    frames: np.ndarray
    full_shape: tuple[int, ...]
    region: Region | None = None
    perm: np.ndarray | None = None
    bits: bool = False
    packed: bool = False

    def __post_init__(self) -> None:
        self.data = readonly(self.data)

    @property
    def nlanes(self) -> int:
        """Pixels per frame in memory order."""
        return self.n * 64 if self.bits else self.n

    @property
    def dtype(self) -> np.dtype:
        """dtype of the pixel values (uint8 0/1 for bits; the native dtype when swapped)."""
        return np.dtype(np.uint8) if self.bits else self.data.dtype

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """Shape of one frame as the stack returns it (region applied)."""
        if self.region is None:
            return tuple(self.full_shape)
        return tuple(s.stop - s.start for s in self.region)

    def take(self, a: int, b: int) -> Lanes:
        """The same lanes restricted to frames ``a:b`` of ``frames``."""
        return dataclasses.replace(self, frames=self.frames[a:b])

    def frame_values(self, lane_values: np.ndarray) -> np.ndarray:
        """Per-lane values ``(..., nlanes)`` -> per-pixel ``(..., *frame_shape)`` (0 in gaps)."""
        lead = lane_values.shape[:-1]
        if self.perm is None:
            out = lane_values.reshape(*lead, *self.full_shape)
        else:
            out = np.zeros((*lead, self.perm.size), dtype=lane_values.dtype)
            valid = self.perm >= 0
            out[..., valid] = lane_values[..., self.perm[valid]]
            out = out.reshape(*lead, *self.full_shape)
        return out if self.region is None else out[(Ellipsis, *self.region)]

    def lane_weights(self, weights: np.ndarray) -> np.ndarray:
        """Pixel weights ``(k, *frame_shape)`` -> ``(k, nlanes)`` float64 in memory order."""
        k = weights.shape[0]
        if self.region is not None:
            full = np.zeros((k, *self.full_shape), np.float64)
            full[(slice(None), *self.region)] = weights
            weights = full
        flat = weights.reshape(k, -1)
        if self.perm is None:
            return np.ascontiguousarray(flat, dtype=np.float64)
        lanes = np.zeros((k, self.nlanes), np.float64)
        valid = self.perm >= 0
        lanes[:, self.perm[valid]] = flat[:, valid]
        return lanes

    def frames_block(self) -> np.ndarray:
        """The frames as one native array ``(len(frames), *frame_shape)`` (a view when possible).

        For folds with no lane kernel (numpy fallbacks, per-frame functions); a direct source is
        copied (gathered, byte-swapped, unpacked), so kernels should prefer the lanes.
        """
        f, m = self.frames, len(self.frames)
        if m and f[-1] - f[0] + 1 == m and (m == 1 or bool(np.all(np.diff(f) == 1))):
            rows = self.data[f[0] : f[-1] + 1, self.off : self.off + self.n]  # a view
        else:
            rows = self.data[f, self.off : self.off + self.n]
        if self.bits:
            values = np.unpackbits(rows.view(np.uint8), axis=1, bitorder="little")
        elif self.swap:
            values = rows.view(rows.dtype.newbyteorder(">")).astype(rows.dtype)
        else:
            values = rows
        return self.frame_values(values).reshape(m, *self.frame_shape)


def block_lanes(block: np.ndarray) -> Lanes:
    """A block ``(n, *frame_shape)`` read for a fold, as lanes in frame order."""
    data, swap = native_block(block)
    rows = np.ascontiguousarray(data).reshape(data.shape[0], -1)
    m = rows.shape[0]
    shape = tuple(block.shape[1:])
    return Lanes(rows, swap, 0, rows.shape[1], np.arange(m, dtype=np.int64), shape)


def direct_source(stack: Stack) -> Lanes | None:
    """The zero-copy source behind ``stack``, or None if it has none."""
    frames = np.arange(stack.nframes, dtype=np.int64)
    region = None
    s = stack
    while isinstance(s, ViewStack):
        if not all(is_identity(p) for p in s.post):
            return None
        frames = s.frame_map.reshape(-1)[frames]
        region = compose_regions(s.region, region)
        s = s.parent
    if not isinstance(s, ReaderStack) or not s.signal_shape:
        return None
    reader = s.reader
    full_shape = tuple(int(n) for n in s.signal_shape)
    arr = reader.as_array()
    if isinstance(arr, np.ndarray):
        if arr.shape != (s.nframes, *full_shape) or region is not None:
            return None  # a crop reads less through reader.read(region) than a full pass
        if len(full_shape) != 2:  # spectra, volumes: frames as single lines, if a view allows
            arr = arr.view()
            try:
                arr.shape = (s.nframes, 1, math.prod(full_shape))
            except AttributeError:
                return None
        return _plain_source(arr, frames, full_shape)
    if len(full_shape) != 2:
        return None
    packed = getattr(reader, "as_packed", None)
    info = packed() if callable(packed) else None
    if not info:
        return None
    return _packed_source(info, frames, full_shape, region)


def _base(arr: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The contiguous array owning ``arr``'s memory as bytes, and its start address."""
    base = arr
    while isinstance(base.base, np.ndarray):
        base = base.base
    if not base.flags.c_contiguous:
        return None
    flat = base.reshape(-1).view(np.uint8)
    return flat, flat.__array_interface__["data"][0]


def _address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


def rows_view(a: np.ndarray) -> tuple[np.ndarray, int] | None:
    """``a (N, M)`` with contiguous rows as a C-contiguous ``(N, L)`` view and the offset of ``a``.

    Rows of a memory-mapped file are separated by gaps (frame headers); the view widens every row
    by the gap *before* it (the first frame's header is in the file too), which keeps the memory
    contiguous without reading past the end of the map. None if no such view exists.
    """
    n, m = a.shape
    it = a.itemsize
    if a.flags.c_contiguous:
        return a, 0
    if m > 1 and a.strides[1] != it:
        return None
    s0 = a.strides[0]
    if s0 % it or s0 < m * it:
        return None
    owner = _base(a)
    if owner is None:
        return None
    buf, lo = owner
    width = s0 // it
    gap = width - m
    start = _address(a) - gap * it
    off = gap
    if start < lo:  # no room before the first row: put the gaps after the rows instead
        start, off = _address(a), 0
    if start < lo or start + n * s0 > lo + buf.nbytes:
        return None
    view = np.ndarray((n, width), a.dtype, buffer=buf, offset=start - lo)
    if not view.flags.aligned:
        return None
    return view, off


def _plain_source(arr: np.ndarray, frames, full_shape) -> Lanes | None:
    """``(N, rows, cols)`` of any strides whose frames each fill a dense block of memory."""
    n, rows, cols = arr.shape
    it = arr.itemsize
    if n == 0 or rows * cols == 0:
        return None
    view = native_view(arr)
    if view is None:
        return None
    arr, swap = view
    if arr.flags.c_contiguous:
        return Lanes(arr.reshape(n, rows * cols), swap, 0, rows * cols, frames, full_shape)
    _, sr, sc = arr.strides
    sr = sr if rows > 1 else cols * it * np.sign(sc or 1)  # strides of length-1 axes are arbitrary
    sc = sc if cols > 1 else it
    # dense iff one axis steps one item and the other one whole line of the first (any signs)
    (a, na), (b, _) = sorted([(abs(sc), cols), (abs(sr), rows)])
    if a != it or b != na * it:
        return None
    low, perm = _lane_order(rows, cols, sr, sc, it)
    owner = _base(arr)
    if owner is None:
        return None
    buf, lo = owner
    begin = _address(arr) + low - lo
    if begin < 0:
        return None
    frames2d = np.ndarray(
        (n, rows * cols), arr.dtype, buffer=buf, offset=begin, strides=(arr.strides[0], it)
    )
    rv = rows_view(frames2d)
    if rv is None:
        return None
    data, off = rv
    return Lanes(data, swap, off, rows * cols, frames, full_shape, None, perm)


@functools.lru_cache(maxsize=32)
def _lane_order(rows: int, cols: int, sr: int, sc: int, it: int) -> tuple[int, np.ndarray | None]:
    """Offset of the lowest pixel (bytes) and memory-order lane of every pixel (None: frame
    order) for frames of those strides. Cached: a growing stack is folded batch by batch over
    new views of one layout, and the same ``perm`` object keeps the reductions' per-layout
    plans (keyed by it) valid instead of recomputing them for every batch."""
    offs = (np.arange(rows, dtype=np.int64)[:, None] * sr + np.arange(cols)[None, :] * sc).ravel()
    low = int(offs.min())
    lanes = (offs - low) // it
    if np.array_equal(lanes, np.arange(lanes.size)):
        return low, None
    lanes.flags.writeable = False  # shared between every source of this layout
    return low, lanes


def _packed_source(info: dict, frames, full_shape, region) -> Lanes | None:
    data = info["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        return None
    lanes = info["lanes"]
    key = info.get("layout_key")
    if key is None:
        perm = lane_permutation(info["decode"], lanes, data.shape[1], full_shape)
    else:  # the reader names its layout: learn its permutation once (see _lane_order)
        perm = _cached_permutation(key, info["decode"], lanes, data.shape[1], tuple(full_shape))
    if perm is None:
        return None
    rv = rows_view(data)
    if rv is None:
        return None
    rows, off = rv
    bits = lanes == "bits"
    dtype = np.dtype(np.uint64 if bits else lanes)  # bits: words of 64 one-bit pixels
    size = dtype.itemsize
    if rows.shape[1] % size or off % size or data.shape[1] % size:
        return None
    view = native_view(rows.view(dtype))
    if view is None or not view[0].flags.aligned:
        return None
    n = data.shape[1] // size
    return Lanes(*view, off // size, n, frames, full_shape, region, perm, bits=bits, packed=True)


_PERMS: dict = {}


def _cached_permutation(key, decode, lanes, nbytes: int, full_shape) -> np.ndarray | None:
    """:func:`lane_permutation` remembered per ``(key, lanes, nbytes, full_shape)``."""
    k = (key, lanes, nbytes, full_shape)
    if k not in _PERMS:
        if len(_PERMS) >= 32:
            _PERMS.clear()
        perm = lane_permutation(decode, lanes, nbytes, full_shape)
        if perm is not None:
            perm.flags.writeable = False
        _PERMS[k] = perm
    return _PERMS[k]


def lane_permutation(decode, lanes, nbytes: int, full_shape) -> np.ndarray | None:
    """Memory-order lane index of every frame pixel, learnt by decoding bit planes of the index.

    Frame ``b`` of a probe block carries bit ``b`` of each lane's own index; decoding the block
    and re-assembling the bits gives, for every output pixel, the lane it came from. A final
    all-ones frame finds output pixels no lane feeds (gaps, -1). Returns None if ``decode`` is
    not a plain permutation of lanes (then the fast path is not used).
    """
    nlanes = nbytes * 8 if lanes == "bits" else nbytes // np.dtype(lanes).itemsize
    nplanes = max(1, math.ceil(math.log2(nlanes)))
    idx = np.arange(nlanes, dtype=np.uint32)
    shifts = np.arange(nplanes, dtype=np.uint32)[:, None]
    planes = np.ones((nplanes + 1, nlanes), np.uint8)  # the last frame stays all ones
    np.bitwise_and(idx[None, :] >> shifts, 1, out=planes[:nplanes], casting="unsafe")
    if lanes == "bits":
        probe = np.packbits(planes, axis=1, bitorder="little")
    else:
        probe = np.ascontiguousarray(planes.astype(lanes)).view(np.uint8)
    try:
        out = np.asarray(decode(probe)).reshape(nplanes + 1, -1)
    except Exception:
        return None
    if out.shape[1] != math.prod(full_shape) or out.min() < 0 or out.max() > 1:
        return None
    perm = np.zeros(out.shape[1], np.int64)
    for b in range(nplanes):
        perm |= out[b].astype(np.int64) << b
    perm[out[-1] == 0] = -1
    used = perm[perm >= 0]
    if used.size != nlanes or np.bincount(used, minlength=nlanes).max() != 1:
        return None
    return perm

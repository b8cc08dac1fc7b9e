"""The pixel-wise folds every tool shares: sum, maximum and minimum over frames, as lanes.

Each is a :class:`~scanstack.core.fold.LaneFold` for :func:`~scanstack.core.fold.fold_frames`, so
``stats.sum`` and ``stem.sum_pattern`` (and ``max``/``min``, the XRF spectra) run the same numba
kernels over the same memory, in place or block by block. Accumulators are flat ``(nlanes,)`` in
the lanes' memory order while folding and come back as ``frame_shape`` arrays in frame order.
"""

from __future__ import annotations

import sys

import numpy as np

from .aot import AotKernel
from .lanes import Lanes

# The kernels of :mod:`.lane_kernels` run either compiled ahead of time (loaded without numba, see
# :mod:`.aot`) or under numba's JIT, equally fast per byte since the ahead-of-time build is compiled
# for C-contiguous arrays like the JIT (it was 3-5x slower when built for any layout, and numba was
# then started for sources of 2 GiB and more). The JIT is used when numba is loaded already (its
# dispatcher costs nothing more then); otherwise a fresh process (the CLI) never starts numba.
_SOURCE = "scanstack.core.lane_kernels"
_LANES = "{1}[:]({0}[:, :], int64[:], int64, int64, boolean, {1}[:])"
_BITS = "uint64[:](uint64[:, :], int64[:], int64, int64, uint64[:])"


def _use_jit() -> bool:
    return "numba" in sys.modules


class _Kernels:
    """``K.name(data, frames, off, n, [swap,] acc)`` calls the kernel for the dtypes: the JIT or
    the ahead-of-time build, as decided by :func:`_use_jit`."""

    def __init__(self):
        lanes = ("sum_lanes", "add_lanes", "max_lanes", "min_lanes")
        self._lanes = {name: AotKernel(_SOURCE, name, _LANES) for name in lanes}
        bits = ("sum_bits", "or_bits", "and_bits")
        self._bits = {name: AotKernel(_SOURCE, name, _BITS) for name in bits}

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self._bits:
            kernel = self._bits[name]

            def bits(data, frames, off, n, acc):
                func = kernel.jit() if _use_jit() else kernel.get()
                return func(data, _frames(frames), int(off), int(n), acc)

            return bits
        kernel = self._lanes[name]

        def lanes(data, frames, off, n, swap, acc):
            func = kernel.jit() if _use_jit() else kernel.get(data.dtype, acc.dtype)
            return func(data, _frames(frames), int(off), int(n), bool(swap), acc)

        return lanes


def _frames(frames: np.ndarray) -> np.ndarray:
    # contiguous, so the kernel's build for contiguous arrays runs (see core.aot)
    return np.ascontiguousarray(frames, dtype=np.int64)


K = _Kernels()


def _numeric(lanes: Lanes) -> bool:
    """Whether the lane kernels read these values (real numbers in native order)."""
    return lanes.bits or lanes.dtype.kind in "uif"


class IntSum:
    """Exact running sum of 8/16-bit integer (or bool) lanes.

    Adds into a 32-bit accumulator (integer SIMD adds at half the bytes of 64-bit ones), flushed
    into a 64-bit one (made only when needed) before it could overflow; the 32-bit one is kept
    across calls, so large frames cost one accumulator pass per ``limit`` frames, not per call.
    """

    def __init__(self, nlanes: int, dtype: np.dtype):
        unsigned = dtype.kind in "ub"
        self.small = np.zeros(nlanes, np.uint32 if unsigned else np.int32)
        self.wide = np.dtype(np.uint64 if unsigned else np.int64)
        self.big: np.ndarray | None = None
        largest = 1 if dtype.kind == "b" else max(-int(np.iinfo(dtype).min), np.iinfo(dtype).max)
        self.limit = int(np.iinfo(self.small.dtype).max) // int(largest)  # frames `small` takes
        self.count = 0

    def flush(self) -> None:
        if self.count == 0:
            return
        if self.big is None:
            self.big = self.small.astype(self.wide)
        else:
            np.add(self.big, self.small, out=self.big)
        self.small.fill(0)
        self.count = 0

    def add(self, lanes: Lanes) -> None:
        frames = lanes.frames
        for i in range(0, len(frames), self.limit):
            part = frames[i : i + self.limit]
            if self.count + len(part) > self.limit:
                self.flush()
            K.sum_lanes(lanes.data, part, lanes.off, lanes.n, lanes.swap, self.small)
            self.count += len(part)

    def merge(self, other: IntSum) -> IntSum:
        """Add ``other`` (the accumulator of another run of frames) into this one."""
        if self.count + other.count <= self.limit:
            np.add(self.small, other.small, out=self.small)
            self.count += other.count
        else:
            self.flush()
            other.flush()
        if other.big is not None:
            self.big = other.big if self.big is None else np.add(self.big, other.big, out=self.big)
        return self

    def total(self) -> np.ndarray:
        """The exact sum (64-bit, or the 32-bit accumulator if it never overflowed)."""
        if self.big is None:
            return self.small
        self.flush()
        return self.big


def _sum_acc(lanes: Lanes, ints_exact: bool):
    """A fresh accumulator for these lanes: bit counts, :class:`IntSum` or a 64-bit array."""
    dt = lanes.dtype
    if lanes.bits:
        return np.zeros(lanes.nlanes, np.uint64)
    if dt.kind == "b" or (dt.kind in "iu" and dt.itemsize <= 2):
        return IntSum(lanes.n, dt)
    if dt.kind in "iu" and (dt.itemsize <= 4 or ints_exact):
        return np.zeros(lanes.n, np.uint64 if dt.kind == "u" else np.int64)
    if dt.kind == "c":
        return np.zeros(lanes.n, np.complex128)
    return np.zeros(lanes.n, np.float64)


class SumFold:
    """Pixel-wise sum. Integers add exactly (8/16-bit through :class:`IntSum`, 1-bit as counts),
    64-bit integers into 64-bit integers when ``ints_exact`` (numpy's sum) else into float64,
    floats into float64 one frame at a time (as ``np.sum(dtype=float64)``).

    The result (:meth:`to_frames`) is an integer or float64 array of the frame's shape.
    """

    def __init__(self, ints_exact: bool = True):
        self.ints_exact = ints_exact

    def fold(self, acc, lanes: Lanes, a: int, b: int):
        acc = _sum_acc(lanes, self.ints_exact) if acc is None else acc
        if lanes.bits:
            K.sum_bits(lanes.data, lanes.frames, lanes.off, lanes.n, acc)
        elif isinstance(acc, IntSum):
            acc.add(lanes)
        elif not _numeric(lanes):
            acc += lanes.frames_block().reshape(len(lanes.frames), -1).sum(axis=0, dtype=acc.dtype)
        elif acc.dtype.kind == "f":
            K.add_lanes(lanes.data, lanes.frames, lanes.off, lanes.n, lanes.swap, acc)
        else:
            K.sum_lanes(lanes.data, lanes.frames, lanes.off, lanes.n, lanes.swap, acc)
        return acc

    def to_frames(self, acc, layout: Lanes) -> np.ndarray:
        total = acc.total() if isinstance(acc, IntSum) else acc
        if total.dtype.kind in "iu" and total.dtype.itemsize < 8:
            total = total.astype(np.uint64 if total.dtype.kind == "u" else np.int64)
        return layout.frame_values(total)

    def combine(self, x, y):
        """Merge two accumulators: :class:`IntSum` (blocks, before :meth:`to_frames`) or arrays."""
        if isinstance(x, IntSum):
            return x.merge(y)
        return np.add(x, y, out=x) if x.dtype == np.result_type(x, y) else x + y


class ExtremeFold:
    """Pixel-wise maximum (``kind="max"``) or minimum (``"min"``); NaN propagates as in numpy.

    The result is in the lanes' dtype (uint8 0/1 for 1-bit frames, float32 for float16 blocks):
    callers cast to the stack's dtype.
    """

    def __init__(self, kind: str):
        if kind not in ("max", "min"):
            raise ValueError(f"kind must be 'max' or 'min', got {kind!r}")
        self.kind = kind

    def fold(self, acc, lanes: Lanes, a: int, b: int):
        frames = lanes.frames
        if lanes.bits:
            if acc is None:
                acc = np.zeros(lanes.n, np.uint64)
                if self.kind == "min":
                    acc = ~acc
            kernel = K.or_bits if self.kind == "max" else K.and_bits
            return kernel(lanes.data, frames, lanes.off, lanes.n, acc)
        if not _numeric(lanes):  # complex: numpy's ordering
            block = lanes.frames_block().reshape(len(frames), -1)
            ufunc = np.maximum if self.kind == "max" else np.minimum
            part = ufunc.reduce(block, axis=0)
            return part if acc is None else ufunc(acc, part, out=acc)
        if acc is None:  # the first frame, in native byte order
            acc = np.array(lanes.data[frames[0], lanes.off : lanes.off + lanes.n])
            if lanes.swap:
                acc.byteswap(inplace=True)
            frames = frames[1:]
        kernel = K.max_lanes if self.kind == "max" else K.min_lanes
        return kernel(lanes.data, frames, lanes.off, lanes.n, lanes.swap, acc)

    def to_frames(self, acc, layout: Lanes) -> np.ndarray:
        if layout.bits:
            acc = np.unpackbits(acc.view(np.uint8), bitorder="little")
        return layout.frame_values(acc)

    def combine(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (np.maximum if self.kind == "max" else np.minimum)(x, y, out=x)


class PerFrameFold:
    """Base of the folds whose result is values per frame (a virtual detector, XRF band sums):
    the accumulator is the pieces ``[(first frame, values (frames, ...)), ...]`` in any order,
    which :func:`scanstack.core.blockwise.gather` places. Subclasses give :meth:`values`."""

    def values(self, lanes: Lanes, a: int, b: int) -> np.ndarray:
        """The values of frames ``a:b`` (given as ``lanes``), ``(b - a, ...)``."""
        raise NotImplementedError

    def fold(self, acc, lanes: Lanes, a: int, b: int) -> list:
        acc = [] if acc is None else acc
        acc.append((a, self.values(lanes, a, b)))
        return acc

    def to_frames(self, acc, layout: Lanes):
        return acc  # values per frame, not per lane

    def combine(self, x, y):
        return x + y


class Together:
    """Several folds in one pass over the frames: accumulators are tuples, one entry per fold."""

    def __init__(self, folds):
        self.folds = tuple(folds)

    def fold(self, acc, lanes: Lanes, a: int, b: int):
        acc = (None,) * len(self.folds) if acc is None else acc
        return tuple(f.fold(x, lanes, a, b) for f, x in zip(self.folds, acc, strict=True))

    def to_frames(self, acc, layout: Lanes):
        return tuple(f.to_frames(x, layout) for f, x in zip(self.folds, acc, strict=True))

    def combine(self, x, y):
        return tuple(f.combine(p, q) for f, p, q in zip(self.folds, x, y, strict=True))

"""Numba kernels that fold :class:`~scanstack.core.lanes.Lanes`: frames straight out of a memory
map, or blocks read for the fold (every reduction of scanstack folds through these).

The kernels take a C-contiguous 2-D array whose rows hold one frame each, at an offset (a
memory-mapped file whose frames are separated by headers is viewed with the headers inside the
rows), plus the list of frames to visit, so they read the mapped bytes directly: no copy, no
``astype``, and the inner loops run over contiguous memory. Big-endian unsigned data
(Merlin ``>u2``/``>u4``) is passed as a native-order *view* with ``swap=True`` and byte-swapped in
registers, which is what makes one pass over a 2 GB file cost little more than touching its bytes.

Every kernel is serial and releases the GIL (``nogil=True``): callers run them on a few Python
threads, one contiguous range of frames each. Unlike ``parallel=True`` this composes with dask's
threads and never hits numba's non-thread-safe default threading layer.

Packed 1-bit data (Merlin raw ``R64`` depth 1) is folded without unpacking: eight frames' words at
a time go through a carry-save adder tree into bit-sliced counters (8 planes, flushed before they
overflow) for sums, and are masked and counted with ``popcount`` for binary virtual detectors.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.cpython.unsafe.numbers import trailing_zeros
from numba.extending import overload

_JIT = {"nogil": True, "cache": True}


def bswap(x):  # pragma: no cover - replaced by the numba overload inside kernels
    """Byte-swap an unsigned integer (numba only)."""
    raise NotImplementedError


@overload(bswap, inline="always")
def _bswap_impl(x):
    if not isinstance(x, types.Integer) or x.bitwidth == 8:
        # floats and bytes are never swapped (big-endian floats are converted before), but the
        # kernels' swap branch must still type-check for them
        return lambda x: x
    if x.bitwidth == 16:

        def swap16(x):
            y = np.uint32(x)
            return ((y >> np.uint32(8)) | (y << np.uint32(8))) & np.uint32(0xFFFF)

        return swap16
    if x.bitwidth == 32:

        def swap32(x):
            # numba widens uint32 arithmetic to 64 bits: mask every byte into place
            y = np.uint32(x)
            return np.uint32(
                (y >> np.uint32(24))
                | ((y >> np.uint32(8)) & np.uint32(0xFF00))
                | ((y << np.uint32(8)) & np.uint32(0xFF0000))
                | ((y << np.uint32(24)) & np.uint32(0xFF000000))
            )

        return swap32

    def swap64(x):
        y = np.uint64(x)
        y = ((y >> np.uint64(8)) & np.uint64(0x00FF00FF00FF00FF)) | (
            (y & np.uint64(0x00FF00FF00FF00FF)) << np.uint64(8)
        )
        y = ((y >> np.uint64(16)) & np.uint64(0x0000FFFF0000FFFF)) | (
            (y & np.uint64(0x0000FFFF0000FFFF)) << np.uint64(16)
        )
        return (y >> np.uint64(32)) | (y << np.uint64(32))

    return swap64


# -- frames as rows of lanes -----------------------------------------------------------------
# ``data`` is a C-contiguous 2-D array whose row ``f`` holds frame ``f``'s ``n`` pixel values at
# ``[off, off + n)`` (a memory-mapped file viewed with the header gaps inside the rows), so the
# inner loops run over contiguous memory and vectorise.
#: lanes per run of the tiled folds: the accumulator's run (2048 × up to 8 bytes = 16 kB) stays in
#: L1 while the frames stream past once, so a large frame costs one read of its bytes, not three
_RUN = 2048


def _larger(x, y):  # pragma: no cover
    """``max(x, y)``, NaN winning (as np.maximum) — numba only."""
    raise NotImplementedError


def _smaller(x, y):  # pragma: no cover
    """``min(x, y)``, NaN winning (as np.minimum) — numba only."""
    raise NotImplementedError


def _plus(x, y):  # pragma: no cover
    """``x + y`` — numba only (the combine of :func:`sum_lanes`)."""
    raise NotImplementedError


# plain overloads (LLVM inlines them): inline="always" with these branches makes numba warn
@overload(_larger)
def _larger_impl(x, y):
    if isinstance(x, types.Float):

        def larger_nan(x, y):
            if x > y or x != x:
                return x
            return y

        return larger_nan

    def larger(x, y):
        if x > y:
            return x
        return y

    return larger


@overload(_smaller)
def _smaller_impl(x, y):
    if isinstance(x, types.Float):

        def smaller_nan(x, y):
            if x < y or x != x:
                return x
            return y

        return smaller_nan

    def smaller(x, y):
        if x < y:
            return x
        return y

    return smaller


@overload(_plus)
def _plus_impl(x, y):
    return lambda x, y: x + y


def _tiled_fold(combine, name: str, doc: str):
    """A kernel ``fold(data, frames, off, n, swap, acc)``: ``acc[c] = combine(acc[c], value)``
    for every lane ``c < n`` of every frame in ``frames`` (``data[f, off:off+n]``).

    The one loop shared by :func:`sum_lanes`, :func:`max_lanes` and :func:`min_lanes` (``combine``
    is an ``@overload``-ed function, inlined by LLVM, so each kernel is compiled as if written out).
    Tiled by runs of ``_RUN`` lanes: the accumulator's run stays in L1 while every frame's run
    streams past once, four frames combined per pass over it (as a tree, so the four loads are
    independent), so even a 4-Mpixel frame costs one read of its bytes.
    """

    def fold(data, frames, off, n, swap, acc):
        m = frames.shape[0]
        for p0 in range(0, n, _RUN):
            k = min(_RUN, n - p0)
            a = acc[p0 : p0 + k]
            lo = off + p0
            i = 0
            while i + 4 <= m:
                r0 = data[frames[i], lo : lo + k]
                r1 = data[frames[i + 1], lo : lo + k]
                r2 = data[frames[i + 2], lo : lo + k]
                r3 = data[frames[i + 3], lo : lo + k]
                if swap:
                    for c in range(k):
                        v = combine(
                            combine(bswap(r0[c]), bswap(r1[c])), combine(bswap(r2[c]), bswap(r3[c]))
                        )
                        a[c] = combine(a[c], v)
                else:
                    for c in range(k):
                        a[c] = combine(a[c], combine(combine(r0[c], r1[c]), combine(r2[c], r3[c])))
                i += 4
            while i < m:
                row = data[frames[i], lo : lo + k]
                if swap:
                    for c in range(k):
                        a[c] = combine(a[c], bswap(row[c]))
                else:
                    for c in range(k):
                        a[c] = combine(a[c], row[c])
                i += 1
        return acc

    # a name of its own: numba's disk cache and the ahead-of-time build key on it
    fold.__name__ = fold.__qualname__ = name
    fold.__doc__ = doc
    return njit(**_JIT)(fold)


sum_lanes = _tiled_fold(
    _plus,
    "sum_lanes",
    """``acc (n,) += data[f, off:off+n]`` for every ``f`` in ``frames`` (integer sums: exact).""",
)
max_lanes = _tiled_fold(
    _larger,
    "max_lanes",
    """``acc (n,) = max(acc, data[f, off:off+n])`` over ``frames``; acc starts at a data row.
    NaN propagates (like ``np.max``): a NaN in any frame gives NaN.""",
)
min_lanes = _tiled_fold(
    _smaller,
    "min_lanes",
    """``acc (n,) = min(acc, data[f, off:off+n])`` over ``frames``; as :func:`max_lanes`.""",
)


@njit(**_JIT)
def add_lanes(data, frames, off, n, swap, acc):
    """``acc (n,) += data[f, off:off+n]`` frame by frame, each value added in ``acc``'s dtype.

    For float data (a float32 frame adds into float64 exactly as ``np.sum(dtype=float64)``
    would); integer sums use :func:`sum_lanes`, exact either way and faster. Tiled by runs of
    lanes so the accumulator's run stays in L1.
    """
    m = frames.shape[0]
    for p0 in range(0, n, _RUN):
        k = min(_RUN, n - p0)
        a = acc[p0 : p0 + k]
        for i in range(m):
            row = data[frames[i], off + p0 : off + p0 + k]
            if swap:
                for c in range(k):
                    a[c] += bswap(row[c])
            else:
                for c in range(k):
                    a[c] += row[c]
    return acc


@njit(inline="always", **_JIT)
def _run_sum(row, a, b, swap):
    t = 0
    if swap:
        for c in range(a, b):
            t += bswap(row[c])
    else:
        for c in range(a, b):
            t += row[c]
    return t


@njit(inline="always", fastmath=True, **_JIT)
def _run_dot(row, w, a, b, swap):
    s = 0.0
    if swap:
        for c in range(a, b):
            s += bswap(row[c]) * w[c]
    else:
        for c in range(a, b):
            s += row[c] * w[c]
    return s


@njit(**_JIT)
def dot_lanes(data, frames, off, n, swap, weights, runs, nruns, scale, out):
    """``out[i, k] = sum(data[frames[i], off:off+n] * weights[k])`` in float64.

    ``runs (k, m, 2)`` / ``nruns (k,)`` list the ``[start, stop)`` stretches of non-zero weights,
    so a small bright-field disk costs only the pixels it covers. A detector whose non-zero
    weights all equal ``scale[k] != 0`` sums the values exactly (integers stay integers) and
    multiplies once.
    """
    for i in range(frames.shape[0]):
        row = data[frames[i], off : off + n]
        for k in range(weights.shape[0]):
            if scale[k] != 0.0:
                t = 0
                for j in range(nruns[k]):
                    t += _run_sum(row, runs[k, j, 0], runs[k, j, 1], swap)
                out[i, k] = scale[k] * t
            else:
                s = 0.0
                for j in range(nruns[k]):
                    s += _run_dot(row, weights[k], runs[k, j, 0], runs[k, j, 1], swap)
                out[i, k] = s
    return out


# -- packed 1-bit frames ---------------------------------------------------------------------
_PLANES = 8
_FLUSH = (1 << _PLANES) - 1


@njit(**_JIT)
def _flush_planes(planes, counts):
    nw = planes.shape[1]
    for p in range(_PLANES):
        plane = planes[p]
        weight = np.uint64(1) << np.uint64(p)
        for w in range(nw):
            x = plane[w]
            if x:
                base = w * 64
                for k in range(64):
                    counts[base + k] += ((x >> np.uint64(k)) & np.uint64(1)) * weight
                plane[w] = 0


@njit(inline="always", **_JIT)
def _csa(a, b, c):
    """Carry-save adder of three bit-sliced words: (sum bits, carry bits)."""
    u = a ^ b
    return u ^ c, (a & b) | (u & c)


@njit(**_JIT)
def sum_bits(words, frames, off, nw, counts):
    """Per-bit counts of ``words[f, off:off+nw]`` (uint64) over ``frames``: ``counts (nw*64,)``.

    Bit ``k`` of word ``w`` (native little-endian load) is pixel ``64*w + k`` in memory order, i.e.
    byte ``8*w + k//8``, bit ``k%8`` LSB-first. Eight frames at a time are counted with a
    carry-save adder tree in registers (a 4-bit count per pixel), which is then added into 8 bit
    planes; planes are flushed into ``counts`` before they can overflow. Branch-free over words,
    so the loops vectorise.
    """
    planes = np.zeros((_PLANES, nw), np.uint64)
    p0, p1, p2, p3 = planes[0], planes[1], planes[2], planes[3]
    p4, p5, p6, p7 = planes[4], planes[5], planes[6], planes[7]
    n = frames.shape[0]
    pending = 0
    i = 0
    while i < n:
        if n - i >= 8:
            r0 = words[frames[i], off : off + nw]
            r1 = words[frames[i + 1], off : off + nw]
            r2 = words[frames[i + 2], off : off + nw]
            r3 = words[frames[i + 3], off : off + nw]
            r4 = words[frames[i + 4], off : off + nw]
            r5 = words[frames[i + 5], off : off + nw]
            r6 = words[frames[i + 6], off : off + nw]
            r7 = words[frames[i + 7], off : off + nw]
            for w in range(nw):
                s0, c0 = _csa(r0[w], r1[w], r2[w])
                s1, c1 = _csa(r3[w], r4[w], r5[w])
                ones, c2 = _csa(s0, s1, r6[w])
                x7 = r7[w]
                c3 = ones & x7
                ones ^= x7
                t0, d0 = _csa(c0, c1, c2)
                twos = t0 ^ c3
                d1 = t0 & c3
                fours = d0 ^ d1
                eights = d0 & d1
                a = p0[w]
                p0[w] = a ^ ones
                c = a & ones
                p1[w], c = _csa(p1[w], twos, c)
                p2[w], c = _csa(p2[w], fours, c)
                p3[w], c = _csa(p3[w], eights, c)
                a = p4[w]
                p4[w] = a ^ c
                c = a & c
                a = p5[w]
                p5[w] = a ^ c
                c = a & c
                a = p6[w]
                p6[w] = a ^ c
                p7[w] ^= a & c
            i += 8
            pending += 8
        else:
            row = words[frames[i], off : off + nw]
            for w in range(nw):
                c = row[w]
                for p in range(_PLANES):
                    a = planes[p, w]
                    planes[p, w] = a ^ c
                    c = a & c
            i += 1
            pending += 1
        if pending > _FLUSH - 8:
            _flush_planes(planes, counts)
            pending = 0
    if pending:
        _flush_planes(planes, counts)
    return counts


@njit(**_JIT)
def or_bits(words, frames, off, nw, acc):
    """``acc (nw,) |= words[f, off:off+nw]`` over ``frames`` (the maximum of 1-bit data)."""
    for i in range(frames.shape[0]):
        row = words[frames[i], off : off + nw]
        for w in range(nw):
            acc[w] |= row[w]
    return acc


@njit(**_JIT)
def and_bits(words, frames, off, nw, acc):
    """``acc (nw,) &= words[f, off:off+nw]`` over ``frames`` (the minimum of 1-bit data)."""
    for i in range(frames.shape[0]):
        row = words[frames[i], off : off + nw]
        for w in range(nw):
            acc[w] &= row[w]
    return acc


@njit(inline="always", **_JIT)
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(**_JIT)
def dot_bits(words, frames, off, nw, masks, index, nindex, scale, weights, out):
    """Virtual detectors on packed 1-bit frames: ``out (n, k)`` float64.

    Frames are ``words[f, off:off+nw]``; ``masks (k, nw)`` uint64 are the non-zero pixels of each detector in memory order, ``index
    (k, m)`` / ``nindex (k,)`` the words where a mask is non-zero. A detector with ``scale[k] != 0``
    has equal weights and costs one ``popcount`` per word; otherwise each set bit adds
    ``weights[k, 64*w + bit]``.
    """
    for i in range(frames.shape[0]):
        row = words[frames[i], off : off + nw]
        for k in range(masks.shape[0]):
            if scale[k] != 0.0:
                n = np.uint64(0)
                for j in range(nindex[k]):
                    w = index[k, j]
                    n += _popcount(row[w] & masks[k, w])
                out[i, k] = scale[k] * n
            else:
                s = 0.0
                for j in range(nindex[k]):
                    w = index[k, j]
                    x = row[w] & masks[k, w]
                    while x:
                        s += weights[k, w * 64 + trailing_zeros(x)]
                        x &= x - np.uint64(1)
                out[i, k] = s
    return out

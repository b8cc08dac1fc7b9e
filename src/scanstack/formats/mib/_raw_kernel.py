"""numba source of the raw ``.mib`` decoding kernel (see :mod:`.raw`, which loads it compiled
ahead of time through :class:`scanstack.core.aot.AotKernel`, or JIT-compiled from here)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, inline="always")
def _put_word(src, f, base, half, bits, out, orow, col, step):  # pragma: no cover - compiled
    """Write the pixels of the raw word at ``src[f, base:base+8]`` to ``out[f, orow]`` from
    column ``col`` going right (``step=1``) or left (``step=-1``).

    In a big-endian 64-bit word of bytes ``b0..b7`` the LSB-first lane ``k`` is byte ``b[7-k]``
    (8-bit lanes), bytes ``b[6-2k], b[7-2k]`` (16-bit) or bit ``k % 8`` of ``b[7 - k // 8]``
    (1-bit); 24-bit adds the low 12 bits from the second half of the payload.
    """
    row = out[f, orow]
    if step == 1:
        if bits == 1:
            for m in range(8):
                byte = src[f, base + 7 - m]
                for j in range(8):
                    row[col + 8 * m + j] = (byte >> j) & 1
        elif bits == 8:
            for k in range(8):
                row[col + k] = src[f, base + 7 - k]
        elif half == 0:
            for k in range(4):
                row[col + k] = (np.uint16(src[f, base + 6 - 2 * k]) << 8) | src[f, base + 7 - 2 * k]
        else:
            for k in range(4):
                row[col + k] = _lane24(src, f, base, half, k)
    else:
        if bits == 1:
            for m in range(8):
                byte = src[f, base + 7 - m]
                for j in range(8):
                    row[col - 8 * m - j] = (byte >> j) & 1
        elif bits == 8:
            for k in range(8):
                row[col - k] = src[f, base + 7 - k]
        elif half == 0:
            for k in range(4):
                row[col - k] = (np.uint16(src[f, base + 6 - 2 * k]) << 8) | src[f, base + 7 - 2 * k]
        else:
            for k in range(4):
                row[col - k] = _lane24(src, f, base, half, k)


@njit(cache=True, nogil=True, inline="always")
def _lane24(src, f, base, half, k):  # pragma: no cover - compiled
    hi = (np.uint32(src[f, base + 6 - 2 * k]) << 8) | src[f, base + 7 - 2 * k]
    lo = (np.uint32(src[f, half + base + 6 - 2 * k]) << 8) | src[f, half + base + 7 - 2 * k]
    return (hi << 12) | lo


@njit(cache=True, nogil=True)
def decode(src, out, depth, rows, width, quad, gap, flip):  # pragma: no cover - compiled
    """Decode raw payloads ``src (n, payload)`` into ``out (n, H, W)`` (see :func:`decode`).

    Words never straddle chips, so each chip row maps to a run of output pixels going right
    (top chips, and single chips) or left (bottom chips, rotated by 180°).
    """
    n = src.shape[0]
    bits = 16 if depth >= 12 else (8 if depth == 6 else 1)
    ppw = 64 // bits
    half = src.shape[1] // 2 if depth == 24 else 0
    height = out.shape[1]
    nchip = 4 if quad else 1
    c = width // nchip
    wpc = c // ppw  # words per chip row
    g = 2 if gap else 0
    for f in range(n):  # frames are decoded in parallel by the callers (nogil), not here
        for r in range(rows):
            for chip in range(nchip):
                # raw row order is [chip4 | chip3 | chip2 | chip1]; a single chip is "chip1"
                pos = nchip - 1 - chip if quad else 0
                if pos == 0:
                    orow, col, step = r, 0, 1
                elif pos == 1:
                    orow, col, step = r, c + g, 1
                elif pos == 2:
                    orow, col, step = rows + g + rows - 1 - r, c - 1, -1
                else:
                    orow, col, step = rows + g + rows - 1 - r, c + g + c - 1, -1
                if flip:
                    orow = height - 1 - orow
                base0 = (r * nchip + chip) * wpc * 8
                if step == 1:  # literal steps let the compiler specialise each loop
                    for w in range(wpc):
                        _put_word(src, f, base0 + w * 8, half, bits, out, orow, col + w * ppw, 1)
                else:
                    for w in range(wpc):
                        _put_word(src, f, base0 + w * 8, half, bits, out, orow, col - w * ppw, -1)

"""Vectorised decoding and encoding of raw (``R64``) Merlin pixel data.

Raw payloads are the chips' readout stream: 64-bit words stored big-endian, each holding pixels
LSB-first in lanes of 1 bit (counter depth 1), 8 bits (depth 6) or 16 bits (depth 12). Swapping
every word to little-endian therefore puts the lanes in pixel order, so one numpy byteswap plus a
view (or ``unpackbits``) decodes a whole block of frames at once.

Quad (``2x2``) raw rows are ``[chip4 | chip3 | chip2 | chip1]`` (``W/4`` pixels each, ``R`` rows
per chip); the assembled ``2R x 2(W/4)`` frame has chips 1, 2 on top as read and chips 3, 4 at the
bottom rotated by 180°. ``2x2G`` adds 2 zero gap rows/columns between the chips.

24-bit raw (low confidence: no public sample exists) follows LiberTEM's reading: the header width
is twice the frame width and the payload is two 12-bit raw sub-frames, the first holding the high
12 bits. All layouts are exact inverses of :func:`encode` (tested round trips).
"""

from __future__ import annotations

import threading

import numpy as np

#: bits per pixel in the raw stream for each counter depth (24 = two 12-bit sub-frames)
STREAM_BITS = {1: 1, 6: 8, 12: 16, 24: 32}
OUT_DTYPE = {1: np.uint8, 6: np.uint8, 12: np.uint16, 24: np.uint32}
GAP = 2


def payload_bytes(npix: int, depth: int) -> int:
    """Raw payload size in bytes of a frame of ``npix`` output pixels."""
    return npix * STREAM_BITS[depth] // 8


def _lanes(block: np.ndarray) -> np.ndarray:
    """Bytes ``(n, nbytes)`` with every 8-byte word reversed (big-endian words -> LSB-first)."""
    n = block.shape[0]
    words = np.ascontiguousarray(block).view(">u8")
    return words.astype("<u8").view(np.uint8).reshape(n, -1)


def _decode_stream(block: np.ndarray, depth: int) -> np.ndarray:
    """Decode lanes of a 1/6/12-bit stream: ``(n, nbytes)`` uint8 -> ``(n, npix)``."""
    lanes = _lanes(block)
    if depth == 1:
        return np.unpackbits(lanes, axis=1, bitorder="little")
    if depth == 6:
        return lanes
    return lanes.view("<u2").astype(np.uint16, copy=False)


def decode(
    block: np.ndarray, depth: int, rows: int, width: int, quad: bool, gap: bool = False
) -> np.ndarray:
    """Decode raw payloads to frames in the orientation of the processed (``U``) files.

    Parameters
    ----------
    block: uint8 ``(n, payload_bytes)``, payloads of ``n`` frames (headers removed).
    depth: counter depth 1, 6, 12 or 24.
    rows, width: the raw stream's height and width per frame (the header fields, width already
        halved for 24-bit).
    quad: assemble four chips (``2x2``); ``gap`` inserts the 2-pixel ``2x2G`` gaps.

    Returns ``(n, rows, width)`` for one chip or ``(n, 2*rows, width//2)`` for a quad (+2 with
    gaps), dtype uint8 (depth 1, 6), uint16 (12) or uint32 (24).
    """
    n = block.shape[0]
    if depth == 24:
        half = block.shape[1] // 2
        hi = _decode_stream(block[:, :half], 12).astype(np.uint32)
        lo = _decode_stream(block[:, half:], 12)
        px = (hi << 12) | lo
    else:
        px = _decode_stream(block, depth)
    px = px.reshape(n, rows, width)
    if not quad:
        return px
    return assemble_quad(px, gap)


def assemble_quad(px: np.ndarray, gap: bool = False) -> np.ndarray:
    """``(n, R, 4c)`` raw rows ``[chip4|chip3|chip2|chip1]`` -> ``(n, 2R, 2c)`` assembled."""
    n, rows, width = px.shape
    c = width // 4
    g = GAP if gap else 0
    out = (
        np.zeros((n, 2 * rows + g, 2 * c + g), px.dtype)
        if g
        else np.empty((n, 2 * rows, 2 * c), px.dtype)
    )
    out[:, :rows, :c] = px[:, :, 3 * c :]
    out[:, :rows, c + g :] = px[:, :, 2 * c : 3 * c]
    out[:, rows + g :, :c] = px[:, ::-1, c : 2 * c][:, :, ::-1]
    out[:, rows + g :, c + g :] = px[:, ::-1, :c][:, :, ::-1]
    return out


def split_quad(frames: np.ndarray, gap: bool = False) -> np.ndarray:
    """Inverse of :func:`assemble_quad`: ``(n, 2R(+g), 2c(+g))`` -> raw rows ``(n, R, 4c)``."""
    n, h, w = frames.shape
    g = GAP if gap else 0
    rows, c = (h - g) // 2, (w - g) // 2
    top_l, top_r = frames[:, :rows, :c], frames[:, :rows, c + g :]
    bot_l, bot_r = frames[:, rows + g :, :c], frames[:, rows + g :, c + g :]
    return np.concatenate([bot_r[:, ::-1, ::-1], bot_l[:, ::-1, ::-1], top_r, top_l], axis=2)


def _encode_stream(px: np.ndarray, depth: int) -> np.ndarray:
    """``(n, npix)`` pixel values (already within the depth) -> ``(n, nbytes)`` raw stream bytes
    (big-endian words)."""
    n = px.shape[0]
    if depth == 1:
        lanes = np.packbits(px.astype(np.uint8, copy=False), axis=1, bitorder="little")
    elif depth == 6:
        lanes = px.astype(np.uint8, copy=False)
    else:
        lanes = np.ascontiguousarray(px.astype("<u2", copy=False)).view(np.uint8)
    lanes = np.ascontiguousarray(lanes).reshape(n, -1)
    return lanes.view("<u8").astype(">u8").view(np.uint8).reshape(n, -1)


def encode(frames: np.ndarray, depth: int, quad: bool, gap: bool = False) -> np.ndarray:
    """Raw payloads ``(n, payload_bytes)`` for frames ``(n, rows, cols)`` (processed orientation).

    Values must lie in ``0 .. 2**depth - 1`` (the writer checks). Chip rows must hold whole
    64-bit words: multiples of 64 pixels (1-bit), 8 (6-bit) or 4 (12/24-bit).
    """
    frames = np.asarray(frames)
    n = frames.shape[0]
    if quad:
        frames = split_quad(frames, gap)
    flat = frames.reshape(n, -1)
    if depth == 24:
        v = flat.astype(np.uint32, copy=False)
        return np.concatenate([_encode_stream(v >> 12, 12), _encode_stream(v & 0xFFF, 12)], axis=1)
    return _encode_stream(flat, depth)


# -- fused numba kernel: word swap + lane unpack + quad assembly + row flip in one pass -----------
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


def _lane24(src, f, base, half, k):  # pragma: no cover - compiled
    hi = (np.uint32(src[f, base + 6 - 2 * k]) << 8) | src[f, base + 7 - 2 * k]
    lo = (np.uint32(src[f, half + base + 6 - 2 * k]) << 8) | src[f, half + base + 7 - 2 * k]
    return (hi << 12) | lo


def _kernel(src, out, depth, rows, width, quad, gap, flip):  # pragma: no cover - compiled
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
    for f in _prange(n):
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


_prange = range  # frames are decoded in parallel by the callers (nogil), not inside
_compiled: dict[str, object] = {}
_compile_lock = threading.Lock()  # reader threads may ask at once; decorate once


def _decode_kernel():
    """The compiled kernel, or None without numba. Compiled at first use, not at import: opening
    any file imports every format module, and numba takes a second to import."""
    with _compile_lock:
        return _decode_kernel_locked()


def _decode_kernel_locked():
    if "kernel" not in _compiled:
        try:
            import numba
        except ImportError:  # pragma: no cover - numba is a dependency; numpy stays correct
            _compiled["kernel"] = None
        else:
            global _lane24, _put_word  # the kernel calls them by these global names
            _lane24 = numba.njit(cache=True, nogil=True, inline="always")(_lane24)
            _put_word = numba.njit(cache=True, nogil=True, inline="always")(_put_word)
            _compiled["kernel"] = numba.njit(cache=True, nogil=True)(_kernel)
    return _compiled["kernel"]


def decode_into(
    block: np.ndarray,
    depth: int,
    rows: int,
    width: int,
    quad: bool,
    gap: bool,
    flip: bool,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """:func:`decode` plus an optional row flip in one compiled pass (numba, releases the GIL).

    ``block`` may be a strided view (e.g. the payload field of a memory map: read in place).
    ``out`` (optional, C-contiguous, native dtype) receives ``(n, H, W)``; returned.
    """
    n = block.shape[0]
    g = GAP if gap else 0
    shape = (n, 2 * rows + g, width // 2 + g) if quad else (n, rows, width)
    if out is None:
        out = np.empty(shape, OUT_DTYPE[depth])
    kernel = _decode_kernel()
    if kernel is None:  # pragma: no cover
        frames = decode(np.ascontiguousarray(block), depth, rows, width, quad, gap)
        out[...] = frames[:, ::-1] if flip else frames
        return out
    if g:  # the kernel never writes the gap pixels (symmetric, so flip does not move them)
        out[:, rows : rows + g] = 0
        out[:, :, width // 4 : width // 4 + g] = 0
    kernel(np.asarray(block), out, depth, rows, width, quad, gap, flip)
    return out

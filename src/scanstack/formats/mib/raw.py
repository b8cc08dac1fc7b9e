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

import numpy as np

from ...core.aot import AotKernel

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
# Its source is ._raw_kernel (numba); it is compiled ahead of time per output dtype and loaded
# without numba (scanstack.core.aot): opening any file imports every format module, and a process
# decoding raw frames need not start numba's compiler.
_DECODE = AotKernel(
    "scanstack.formats.mib._raw_kernel",
    "decode",
    "void(uint8[:, :], {0}[:, :, :], int64, int64, int64, boolean, boolean, boolean)",
)


def _decode_kernel(dtype: np.dtype):
    """The compiled kernel writing ``dtype`` frames, or None without numba (numpy path)."""
    try:
        return _DECODE.get(dtype)
    except ImportError:  # pragma: no cover - numba is a dependency; the numpy path stays correct
        return None


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
    kernel = _decode_kernel(out.dtype)
    if kernel is None:  # pragma: no cover
        frames = decode(np.ascontiguousarray(block), depth, rows, width, quad, gap)
        out[...] = frames[:, ::-1] if flip else frames
        return out
    if g:  # the kernel never writes the gap pixels (symmetric, so flip does not move them)
        out[:, rows : rows + g] = 0
        out[:, :, width // 4 : width // 4 + g] = 0
    kernel(np.asarray(block), out, depth, rows, width, quad, gap, flip)
    return out

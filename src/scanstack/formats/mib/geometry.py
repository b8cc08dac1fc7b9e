"""How the bytes of one Merlin frame map to an output frame (from the first frame header)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...core.errors import FormatError, UnsupportedError
from . import raw as rawmod
from .header import FrameHeader, check_supported_type, hdr_int

PROCESSED_DTYPES = {"U08": ">u1", "U16": ">u2", "U32": ">u4", "U64": ">u8"}


class MibWarning(UserWarning):
    """Something about a Merlin file that the reader worked around (see the message)."""


@dataclass
class Geometry:
    """How the bytes of one frame map to an output frame."""

    header_size: int
    payload: int  # bytes of pixel data per frame
    raw: bool
    depth: int
    file_dtype: np.dtype  # processed: the file's (big-endian) dtype; raw: uint8
    out_shape: tuple[int, int]  # one frame in the output (processed orientation)
    stream_shape: tuple[int, int]  # raw: (rows, width) of the decoded stream
    quad: bool
    gap: bool
    layout: str
    nchips: int

    @property
    def stride(self) -> int:
        return self.header_size + self.payload

    @property
    def out_dtype(self) -> np.dtype:
        if self.raw:
            return np.dtype(rawmod.OUT_DTYPE[self.depth])
        return self.file_dtype.newbyteorder("=")


def geometry_from_header(h: FrameHeader, hdr: dict | None, path=None) -> Geometry:
    """Frame geometry from the first frame header (and the ``.hdr`` for old raw headers)."""
    check_supported_type(h, path)
    layout = h.layout
    gap = layout.endswith("G")
    if not h.raw:
        dt = np.dtype(PROCESSED_DTYPES[h.pixel_type])
        depth = h.depth or {"U08": 6, "U16": 12, "U32": 24, "U64": 24}[h.pixel_type]
        return Geometry(
            h.header_size,
            h.width * h.height * dt.itemsize,
            False,
            depth,
            dt,
            (h.height, h.width),
            (h.height, h.width),
            False,
            gap,
            layout,
            h.nchips,
        )
    depth = h.depth or hdr_int(hdr, "Counter Depth")
    if depth not in rawmod.STREAM_BITS:
        raise FormatError(
            f"raw (R64) frames need a counter depth of 1, 6, 12 or 24; the frame header gives "
            f"{h.depth} and the .hdr {hdr_int(hdr, 'Counter Depth')}",
            path,
            0,
        )
    width = h.width // 2 if depth == 24 else h.width
    quad = h.nchips > 1 and layout.startswith("2x2")
    if h.nchips > 1 and not quad:
        raise UnsupportedError(
            f"{path or '<in-memory input>'}: raw (R64) data with the {layout!r} layout cannot be "
            "decoded (only 1x1 and 2x2/2x2G raw layouts are known)"
        )
    npix = h.height * width
    if quad and width % 4:
        raise FormatError(f"raw quad frame width {width} is not a multiple of 4 chips", path, 0)
    payload = rawmod.payload_bytes(npix, depth)
    if payload % 8 or (width * rawmod.STREAM_BITS[depth]) % 64:
        raise FormatError(
            f"raw frame rows of {width} pixels at counter depth {depth} do not fill whole "
            "64-bit words",
            path,
            0,
        )
    if quad:
        g = rawmod.GAP if gap else 0
        out = (2 * h.height + g, width // 2 + g)
    else:
        out = (h.height, width)
    return Geometry(
        h.header_size,
        payload,
        True,
        depth,
        np.dtype(np.uint8),
        out,
        (h.height, width),
        quad,
        gap,
        layout,
        h.nchips,
    )

"""Reading the EXIF stamps of camera frames straight from the JPEG bytes (no decoding).

A CRONO frame carries a big-endian EXIF block (APP1) whose IFD0 holds only the Exif-IFD pointer
(0x8769) and whose Exif IFD holds only ``DateTimeOriginal`` (0x9003), e.g. ``"125903170418"``.
That value is not a calendar date but a microsecond counter on the clock of
``/XRF/DPPStartTimestamp`` (format notes §4). Parsing the APP1 segment with ``struct`` is several
times faster than Pillow's ``Image.open(...).getexif()`` because nothing else of the file is
touched; :func:`read_exif` returns the same values as Pillow (IFD0 plus the Exif IFD).
"""

from __future__ import annotations

import datetime as _dt
import struct
from typing import Any

from .jpeg import segments

TAG_NAMES = {
    0x010F: "Make",
    0x0110: "Model",
    0x0112: "Orientation",
    0x011A: "XResolution",
    0x011B: "YResolution",
    0x0128: "ResolutionUnit",
    0x0131: "Software",
    0x0132: "DateTime",
    0x8769: "ExifIFDPointer",
    0x8825: "GPSInfoIFDPointer",
    0x9003: "DateTimeOriginal",
    0x9004: "DateTimeDigitized",
    0x9290: "SubSecTime",
    0x9291: "SubSecTimeOriginal",
    0x9292: "SubSecTimeDigitized",
    0xA002: "PixelXDimension",
    0xA003: "PixelYDimension",
}
EXIF_IFD_POINTER = 0x8769
DATETIME_ORIGINAL = 0x9003
SUBSEC_ORIGINAL = 0x9291

# TIFF field types: (struct code, byte size)
_TYPES = {
    1: ("B", 1),
    2: ("s", 1),
    3: ("H", 2),
    4: ("L", 4),
    5: ("LL", 8),
    6: ("b", 1),
    7: ("s", 1),
    8: ("h", 2),
    9: ("l", 4),
    10: ("ll", 8),
    11: ("f", 4),
    12: ("d", 8),
}


class ExifError(ValueError):
    """The EXIF block is malformed (the caller adds the file and frame index)."""


def find_exif(jpeg: bytes) -> int | None:
    """Byte offset of the TIFF header inside the ``Exif\\0\\0`` APP1 segment, or ``None``.

    Walks the JPEG markers from SOI up to the start of scan; raises :class:`ExifError` when
    the marker structure is broken before that.
    """
    for pos, marker, length in segments(jpeg, ExifError):
        if marker == 0xDA or marker == 0xD9:
            return None
        if marker == 0xE1 and jpeg[pos + 4 : pos + 10] == b"Exif\x00\x00":
            if pos + 2 + length > len(jpeg):
                raise ExifError(
                    f"APP1 segment at byte {pos} claims {length} bytes, "
                    f"only {len(jpeg) - pos - 2} remain"
                )
            return pos + 10
    return None


def _ifd(data: bytes, base: int, offset: int, bo: str, end: int) -> dict[int, Any]:
    """Entries of the IFD at ``base + offset`` as ``{tag: value}`` (Pillow-like values)."""
    p = base + offset
    if offset < 8 or p + 2 > end:
        raise ExifError(f"IFD offset {offset} is outside the EXIF block")
    (count,) = struct.unpack_from(bo + "H", data, p)
    if p + 2 + 12 * count > end:
        raise ExifError(
            f"IFD at EXIF offset {offset} has {count} entries, more than the block holds"
        )
    out: dict[int, Any] = {}
    for k in range(count):
        tag, typ, num, raw = struct.unpack_from(bo + "HHL4s", data, p + 2 + 12 * k)
        if typ not in _TYPES:
            continue  # unknown field type: skipped, as TIFF readers do
        code, size = _TYPES[typ]
        nbytes = size * num
        if nbytes <= 4:
            vp = p + 2 + 12 * k + 8
        else:
            (voff,) = struct.unpack_from(bo + "L", raw)
            vp = base + voff
            if vp + nbytes > end:
                raise ExifError(
                    f"tag {tag:#06x} points to bytes {voff}..{voff + nbytes}, beyond the EXIF block"
                )
        if typ == 2:
            out[tag] = data[vp : vp + num].split(b"\x00", 1)[0].decode("latin-1")
        elif typ == 7:
            out[tag] = bytes(data[vp : vp + num])
        else:
            vals = struct.unpack_from(bo + code * num, data, vp)
            if typ in (5, 10):
                vals = tuple(
                    a / b if b else float("nan") for a, b in zip(vals[::2], vals[1::2], strict=True)
                )
            out[tag] = vals[0] if len(vals) == 1 else vals
    return out


def read_exif(jpeg: bytes) -> dict[int, Any]:
    """All tags of IFD0 and of the Exif sub-IFD as ``{tag_id: value}``; ``{}`` without EXIF.

    Values follow Pillow's conventions: ASCII -> ``str`` (without the NUL), one number -> a
    scalar, several -> a tuple, rationals -> ``float``, UNDEFINED -> ``bytes``.
    Names for common tags are in :data:`TAG_NAMES`.
    """
    base = find_exif(jpeg)
    if base is None:
        return {}
    (seg_len,) = struct.unpack_from(">H", jpeg, base - 8)
    end = base - 8 + seg_len
    head = jpeg[base : base + 8]
    if head[:4] == b"MM\x00*":
        bo = ">"
    elif head[:4] == b"II*\x00":
        bo = "<"
    else:
        raise ExifError(f"EXIF block at byte {base} has no TIFF header (found {head[:4].hex()})")
    (ifd0,) = struct.unpack_from(bo + "L", head, 4)
    tags = _ifd(jpeg, base, ifd0, bo, end)
    sub = tags.get(EXIF_IFD_POINTER)
    if isinstance(sub, int):
        tags.update(_ifd(jpeg, base, sub, bo, end))
    return tags


def parse_stamp(text: str, subsec: str | None = None) -> int:
    """A ``DateTimeOriginal`` value as integer microseconds.

    CRONO writes a bare integer (µs on the DPP clock): returned as is. A standard EXIF date
    ``'YYYY:MM:DD HH:MM:SS'`` (plus ``SubSecTimeOriginal``) is returned as µs since the Unix
    epoch, taking the naive time as UTC.
    """
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        t = _dt.datetime.strptime(text, "%Y:%m:%d %H:%M:%S").replace(tzinfo=_dt.timezone.utc)
    except ValueError as exc:
        raise ExifError(
            f"DateTimeOriginal {text!r} is neither a µs counter nor an EXIF date"
        ) from exc
    us = int(t.timestamp()) * 1_000_000
    if subsec and subsec.strip().isdigit():
        digits = subsec.strip()[:6]
        us += int(digits.ljust(6, "0"))
    return us


#: (bytes before the value, value offset, ASCII count) of the last stamp-only EXIF layout seen;
#: replaced as one tuple so that threads never see a half-updated layout
_layout: tuple[bytes, int, int] = (b"", 0, 0)


def _stamp_layout(jpeg: bytes) -> tuple[int, int] | None:
    """``(value offset in the file, ASCII count)`` of DateTimeOriginal when the EXIF block holds
    nothing but the Exif-IFD pointer and that tag (the CRONO layout); else ``None``."""
    base = find_exif(jpeg)
    if base is None:
        return None
    bo = ">" if jpeg[base : base + 2] == b"MM" else "<"
    (ifd0,) = struct.unpack_from(bo + "L", jpeg, base + 4)
    p0 = base + ifd0
    if struct.unpack_from(bo + "H", jpeg, p0)[0] != 1:
        return None
    tag, typ, _num, sub = struct.unpack_from(bo + "HHLL", jpeg, p0 + 2)
    if tag != EXIF_IFD_POINTER or typ != 4:
        return None
    p1 = base + sub
    if struct.unpack_from(bo + "H", jpeg, p1)[0] != 1:
        return None
    tag, typ, num, voff = struct.unpack_from(bo + "HHLL", jpeg, p1 + 2)
    if tag != DATETIME_ORIGINAL or typ != 2 or num <= 4:
        return None
    return base + voff, num


def exif_stamp(jpeg: bytes) -> int | None:
    """``DateTimeOriginal`` of a frame in µs (see :func:`parse_stamp`); ``None`` when absent.

    Fast path for streams of frames with the same EXIF layout (every CRONO frame): once a
    frame has been fully parsed and found to hold only the Exif-IFD pointer and
    ``DateTimeOriginal``, a later frame whose bytes up to that value are identical has its
    value at the same offset, so only that is read (~1 µs instead of a full parse).
    """
    global _layout
    prefix, at, count = _layout
    if prefix and jpeg[:at] == prefix:
        raw = jpeg[at : at + count]
        if len(raw) == count and raw[-1] == 0 and raw[:-1].isdigit():
            return int(raw[:-1])
    tags = read_exif(jpeg)
    text = tags.get(DATETIME_ORIGINAL)
    if text is None:
        return None
    if not isinstance(text, str):
        raise ExifError(f"DateTimeOriginal has type {type(text).__name__}, expected ASCII")
    stamp = parse_stamp(text, tags.get(SUBSEC_ORIGINAL))
    if set(tags) == {EXIF_IFD_POINTER, DATETIME_ORIGINAL} and text.isdigit():
        found = _stamp_layout(jpeg)
        if found is not None and found[0] + found[1] <= len(jpeg):
            _layout = (bytes(jpeg[: found[0]]), found[0], found[1])
    return stamp

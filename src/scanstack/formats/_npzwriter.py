"""Write ``.npz`` files whose members are deflated in worker threads.

``np.savez_compressed`` (and :mod:`zipfile`) deflate every member in the writing thread, which
makes it the serial bottleneck of a frame-cache write. Here members are turned into deflated
bytes by :func:`deflate_npy` (thread-safe; zlib releases the GIL), and :class:`NpzWriter` appends
them to a standard ZIP file (APPNOTE 6.3: local headers, central directory, ZIP64 records when a
size, offset or the entry count needs them). The result is what ``np.savez_compressed`` writes:
``<key>.npy`` members, deflated, readable by ``np.load`` and :mod:`zipfile`.
"""

from __future__ import annotations

import io
import struct
import time
import zlib
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

MAX32, MAX16 = 0xFFFFFFFF, 0xFFFF  # field maxima, also the "see ZIP64 record" placeholders
ZIP64_THRESHOLD = MAX32  # sizes/offsets at or above this go to ZIP64 fields
COUNT_THRESHOLD = MAX16  # more entries than this need the ZIP64 end records
DEFLATED = 8


@dataclass
class Member:
    """A deflated ``.npy`` member ready to be appended."""

    name: bytes
    payload: bytes
    crc: int
    size: int


def deflate_npy(key: str, array: np.ndarray, level: int = 6) -> Member:
    """Serialise ``array`` as ``<key>.npy`` (no pickle) and deflate it (raw deflate, as ZIP)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=False)
    raw = buf.getbuffer()
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    payload = comp.compress(raw) + comp.flush()
    return Member(f"{key}.npy".encode("ascii"), payload, zlib.crc32(raw), raw.nbytes)


def _dos_time(moment: float) -> tuple[int, int]:
    t = time.localtime(moment)
    dos_date = (max(t.tm_year, 1980) - 1980) << 9 | t.tm_mon << 5 | t.tm_mday
    dos_time = t.tm_hour << 11 | t.tm_min << 5 | t.tm_sec // 2
    return dos_time, dos_date


class NpzWriter:
    """Append pre-deflated members to a new ZIP file; :meth:`close` writes the directory."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.offset = 0
        self.entries: list[tuple[bytes, int, int, int, int]] = []  # name, crc, size, csize, offset
        self.dos_time, self.dos_date = _dos_time(time.time())

    def add(self, member: Member) -> None:
        zip64 = member.size >= ZIP64_THRESHOLD or len(member.payload) >= ZIP64_THRESHOLD
        extra = struct.pack("<HHQQ", 1, 16, member.size, len(member.payload)) if zip64 else b""
        header = struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            45 if zip64 else 20,
            0,
            DEFLATED,
            self.dos_time,
            self.dos_date,
            member.crc,
            MAX32 if zip64 else len(member.payload),
            MAX32 if zip64 else member.size,
            len(member.name),
            len(extra),
        )
        # keep only what the central directory needs: holding the payloads would grow memory
        # with the output file
        self.entries.append(
            (member.name, member.crc, member.size, len(member.payload), self.offset)
        )
        for part in (header, member.name, extra, member.payload):
            self.fh.write(part)
        self.offset += len(header) + len(member.name) + len(extra) + len(member.payload)

    def close(self) -> None:
        start = self.offset
        for name, crc, usize, csize, offset in self.entries:
            big_u, big_c, big_o = (v >= ZIP64_THRESHOLD for v in (usize, csize, offset))
            fields = [v for v, big in ((usize, big_u), (csize, big_c), (offset, big_o)) if big]
            extra = (
                struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
            )
            header = struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                45 | (3 << 8),  # made by: ZIP 4.5, Unix
                45 if fields else 20,
                0,
                DEFLATED,
                self.dos_time,
                self.dos_date,
                crc,
                MAX32 if big_c else csize,
                MAX32 if big_u else usize,
                len(name),
                len(extra),
                0,
                0,
                0,
                0o100644 << 16,  # regular file, rw-r--r--
                MAX32 if big_o else offset,
            )
            self.fh.write(header + name + extra)
            self.offset += len(header) + len(name) + len(extra)
        size = self.offset - start
        count = len(self.entries)
        zip64 = count > COUNT_THRESHOLD or start >= ZIP64_THRESHOLD or size >= ZIP64_THRESHOLD
        if zip64:
            zip64_end = self.offset
            self.fh.write(
                struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, size, start)
            )
            self.fh.write(struct.pack("<IIQI", 0x07064B50, 0, zip64_end, 1))
        self.fh.write(
            struct.pack(
                "<IHHHHIIH",
                0x06054B50,
                0,
                0,
                MAX16 if zip64 else count,
                MAX16 if zip64 else count,
                MAX32 if zip64 else size,
                MAX32 if zip64 else start,
                0,
            )
        )

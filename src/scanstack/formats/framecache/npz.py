"""npz members read without pickle, one member at a time: bounded inflate, checked headers."""

from __future__ import annotations

import io
import json
import math
import os
import struct
import threading
import warnings
import zipfile
import zlib
from typing import Any

import numpy as np

from ...core.config import config
from ...core.errors import FormatError, check_fits
from ._layout import FRAME_KEY, HEADER_KEYS, JSON_KEY, _text

#: numpy parses a ``.npy`` header with ``ast.literal_eval``; CPython 3.11's AST construction
#: keeps its recursion depth in state shared by threads, so two frames' headers parsed at once
#: in the reader's threads failed now and then with ``SystemError: AST constructor recursion
#: depth mismatch`` (cpython gh-106905; seen in this suite on 3.11.7). The parse is tiny: one at
#: a time.
_HEADER_PARSE = threading.Lock()


class PickledArrayError(FormatError):
    """An npz member that is a pickled object array (refused: unpickling runs code)."""


class NpzMembers:
    """The arrays of an ``.npz``, read one member at a time, without pickle.

    Deflated and stored members (all that numpy writes) are read as raw bytes with ``os.pread``
    and inflated by one bounded ``zlib`` call (:func:`inflate_member`), which releases the GIL,
    so frames decompress in parallel threads with no per-thread state; any other member goes
    through a ``ZipFile`` of the calling thread. Member lookup is a dict (``np.load``'s
    ``NpzFile`` scans a list per key).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._local = threading.local()
        self._handles: list[zipfile.ZipFile] = []
        self._lock = threading.Lock()
        #: member name (without .npy) -> its zip directory entry
        self.infos = {
            info.filename[:-4]: info
            for info in self.zip().infolist()
            if info.filename.endswith(".npy")
        }
        #: member name (without .npy) -> its declared uncompressed size
        self.sizes = {name: info.file_size for name, info in self.infos.items()}
        self.names = set(self.sizes)
        # a file object (closed by the garbage collector if close() is never called); its
        # descriptor is read with os.pread, which has no file position to share between threads
        self._file: io.BufferedReader | None = open(self.path, "rb")  # noqa: SIM115

    def zip(self) -> zipfile.ZipFile:
        zf = getattr(self._local, "zf", None)
        if zf is None:
            try:
                zf = zipfile.ZipFile(self.path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise FormatError(
                    f"expected an npz (zip) frame-cache, the zip is unreadable: {exc}", self.path
                ) from exc
            self._local.zf = zf
            with self._lock:
                self._handles.append(zf)
        return zf

    def load(self, key: str, max_items: int | None = None, *, readonly: bool = False) -> np.ndarray:
        """Member ``key`` as an array, checked before anything is allocated.

        The member's declared size must fit in the memory budget, and the ``.npy`` header's
        shape and dtype must account for exactly that size (and hold at most ``max_items``
        values when given); the bytes are inflated never beyond the declared size (a zip bomb
        stops there and fails its CRC check). ``readonly=True`` returns a read-only view of the
        inflated bytes instead of a copy (what frame reads scatter from).
        """
        if key not in self.names:
            raise FormatError(
                f"expected the array {key!r} in the npz, it is missing", self.path, key
            )
        info = self.infos[key]
        try:
            handle = self._file
            if handle is not None and inflatable(info) and self._plausible(info, max_items):
                buf = inflate_member(handle.fileno(), info, self.path, key)
                fh = io.BytesIO(buf)
                shape, fortran, dtype, count = self._npy_header(fh, key, max_items)
                arr = np.frombuffer(buf, dtype, count, offset=fh.tell())
                arr = arr.reshape(shape, order="F" if fortran else "C")
                return arr if readonly else arr.copy()
            with self.zip().open(key + ".npy") as fh:
                return self._read_npy(fh, key, max_items)
        except ValueError as exc:
            if isinstance(exc, FormatError):
                raise
            raise FormatError(f"corrupt or truncated array {key!r}: {exc}", self.path, key) from exc
        except (
            zipfile.BadZipFile,
            zlib.error,
            NotImplementedError,  # a compression method zipfile lacks (a flipped header bit)
            OSError,
            EOFError,
            KeyError,
        ) as exc:
            raise FormatError(f"corrupt or truncated array {key!r}: {exc}", self.path, key) from exc

    @staticmethod
    def _plausible(info: zipfile.ZipInfo, max_items: int | None) -> bool:
        """Whether the member is inflated whole: it fits the budget and, for a frame, cannot
        hold more than ``max_items`` values (16-byte items, a 64 KiB header). Any other member
        is streamed, so its ``.npy`` header is read and judged first (a precise error)."""
        size = info.file_size
        if max_items is not None and size > max_items * 16 + (1 << 16):
            return False
        return size + info.compress_size <= config.memory_budget

    def _npy_header(self, fh, key: str, max_items: int | None):
        """``(shape, fortran, dtype, count)`` of the ``.npy`` header at ``fh``, checked against
        the member's declared size, ``max_items`` and the memory budget."""
        fmt = np.lib.format
        version = fmt.read_magic(fh)
        if version not in ((1, 0), (2, 0)):
            raise FormatError(f"unsupported .npy version {version} in {key!r}", self.path, key)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        with _HEADER_PARSE:
            shape, fortran, dtype = read(fh)
        if dtype.hasobject:
            raise PickledArrayError(
                f"expected a numeric array {key!r}, found a pickled object array "
                "(not loaded: unpickling is unsafe)",
                self.path,
                key,
            )
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        declared = self.sizes[key] - fh.tell()
        if nbytes != declared:
            raise FormatError(
                f"the .npy header declares {shape} {dtype} ({nbytes} bytes) but the zip "
                f"member holds {declared} bytes",
                self.path,
                key,
            )
        if max_items is not None and count > max_items:
            raise FormatError(
                f"{count} values, more than the {max_items} pixels of a frame", self.path, key
            )
        check_fits(nbytes, f"the npz member {key!r} ({shape} {dtype})", self.path, key)
        return shape, fortran, dtype, count

    def _read_npy(self, fh, key: str, max_items: int | None) -> np.ndarray:
        shape, fortran, dtype, count = self._npy_header(fh, key, max_items)
        nbytes = count * dtype.itemsize
        out = np.empty(count, dtype)
        view = memoryview(out.view(np.uint8).reshape(-1)) if nbytes else memoryview(b"")
        got = 0
        while got < nbytes:
            n = fh.readinto(view[got:])
            if not n:
                raise FormatError(f"truncated: {got} of {nbytes} bytes", self.path, key)
            got += n
        return out.reshape(shape, order="F" if fortran else "C")

    def frame_bytes(self) -> int:
        """The largest declared size of one frame's three members (row, col, data)."""
        per: dict[str, int] = {}
        for name, size in self.sizes.items():
            if FRAME_KEY.match(name):
                i = name.split("_", 1)[0]
                per[i] = per.get(i, 0) + size
        return max(per.values(), default=0)

    def close(self) -> None:
        with self._lock:
            for zf in self._handles:
                zf.close()
            self._handles.clear()
            handle, self._file = self._file, None
        if handle is not None:
            handle.close()
        self._local = threading.local()


#: a zip local file header: signature, then fixed fields up to the name and extra-field lengths
_LOCAL_HEADER = struct.Struct("<4s22xHH")


def inflatable(info: zipfile.ZipInfo) -> bool:
    """Whether :func:`inflate_member` reads this member: stored or deflated, not encrypted."""
    return info.compress_type in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) and not (
        info.flag_bits & 0x1
    )


def inflate_member(fd: int, info: zipfile.ZipInfo, path: str, key: str) -> bytes:
    """The uncompressed bytes of one zip member, read with ``os.pread`` (thread-safe, no file
    position) and inflated by one ``zlib`` call that releases the GIL.

    Bounded: the declared uncompressed and the compressed sizes (from the zip directory) must
    each fit the memory budget before anything is read, inflating stops at the declared size, and
    the result must be exactly that long, end the deflate stream and match the CRC-32.
    """
    size, packed = info.file_size, info.compress_size
    check_fits(size, f"the npz member {key!r} ({size} bytes inflated)", path, key)
    check_fits(packed, f"the npz member {key!r} ({packed} bytes compressed)", path, key)
    head = os.pread(fd, _LOCAL_HEADER.size, info.header_offset)
    if len(head) < _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
        raise FormatError(
            f"expected a zip local header at byte {info.header_offset} for {key!r}", path, key
        )
    _, name_len, extra_len = _LOCAL_HEADER.unpack(head)
    start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
    raw = os.pread(fd, packed, start)
    if len(raw) != packed:
        raise FormatError(
            f"truncated: {len(raw)} of {packed} compressed bytes at byte {start}", path, key
        )
    if info.compress_type == zipfile.ZIP_STORED:
        data = raw
    else:
        inflater = zlib.decompressobj(-15)
        # max_length 0 would mean "no limit": one byte past an empty member is enough to tell
        data = inflater.decompress(raw, max(size, 1))
        if not inflater.eof:
            raise FormatError(
                f"the deflate stream does not end at the declared {size} bytes", path, key
            )
    if len(data) != size:
        raise FormatError(f"inflated {len(data)} bytes, the zip declares {size}", path, key)
    if zlib.crc32(data) != info.CRC:
        raise FormatError(f"CRC-32 mismatch (corrupt member) at byte {start}", path, key)
    return data


def _npz_metadata(members: NpzMembers, skipped: list[str]) -> dict:
    meta: dict[str, Any] = {}
    extra = None
    for key in sorted(members.names):
        if key in HEADER_KEYS or FRAME_KEY.match(key):
            continue
        try:
            value = members.load(key)
        except PickledArrayError:
            warnings.warn(
                f"{members.path}: metadata {key!r} is a pickled object array; not "
                "loaded (unpickling is unsafe)",
                UserWarning,
                stacklevel=4,
            )
            skipped.append(key)
            continue
        if key == JSON_KEY:
            try:
                extra = json.loads(_text(value))
            except ValueError as exc:
                raise FormatError(
                    f"{JSON_KEY} is not valid JSON: {exc}", members.path, JSON_KEY
                ) from exc
        else:
            meta[key] = value
    if isinstance(extra, dict):
        meta.update(extra)
    return meta

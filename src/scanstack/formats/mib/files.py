"""The files (or the buffer) of one Merlin acquisition: sources, split-acquisition siblings, and
one lazily memory-mapped ``.mib`` each."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import FormatError, UnsupportedError
from .geometry import Geometry, geometry_from_header
from .header import PROBE_BYTES, FrameHeader, header_size, parse_frame_header

BUFFER_TYPES = (bytes, bytearray, memoryview)


class _File:
    """One ``.mib`` file (or an in-memory buffer): its frames and a lazily opened memmap."""

    def __init__(self, path: str | None, buffer: Any, mmap_mode: str):
        self.path = path
        self.buffer = buffer
        self.mmap_mode = mmap_mode
        self._mm: np.ndarray | None = None
        if path is not None:
            self.size = os.path.getsize(path)
        else:
            self.size = len(buffer) if not isinstance(buffer, np.ndarray) else buffer.nbytes
        self.nframes = 0
        self.first: FrameHeader | None = None

    def head(self, offset: int, nbytes: int) -> bytes:
        if self.path is None:
            return bytes(memoryview(self.buffer).cast("B")[offset : offset + nbytes])
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            return fh.read(nbytes)

    def header_at(self, offset: int) -> FrameHeader:
        probe = self.head(offset, PROBE_BYTES)
        size = header_size(probe, self.path, offset)
        return parse_frame_header(self.head(offset, size), self.path, offset)

    def records(self, geo: Geometry) -> np.ndarray:
        """Structured view ``(nframes,)`` with fields ``hdr`` and ``px``."""
        if self._mm is None:
            if geo.raw:
                px = ("px", np.uint8, (geo.payload,))
            else:
                px = ("px", geo.file_dtype, geo.out_shape)
            dt = np.dtype([("hdr", f"V{geo.header_size}"), px])
            if self.path is not None:
                self._mm = np.memmap(
                    self.path, dtype=dt, mode=self.mmap_mode, shape=(self.nframes,)
                )
            else:
                self._mm = np.frombuffer(self.buffer, dtype=dt, count=self.nframes)
        return self._mm

    def header_bytes(self, geo: Geometry, start: int, stop: int) -> np.ndarray:
        """Raw headers of frames ``start:stop`` as ``(n, H)`` uint8 (copies only those bytes)."""
        rec = self.records(geo)[start:stop]
        return np.frombuffer(rec["hdr"].tobytes(), np.uint8).reshape(-1, geo.header_size)

    def close(self) -> None:
        mm, self._mm = self._mm, None
        if isinstance(mm, np.memmap) and getattr(mm, "_mmap", None) is not None:
            try:
                mm._mmap.close()
            except (BufferError, ValueError):  # still referenced by a view the user holds
                pass


def _split_sources(source: Any, join: bool) -> tuple[list[str] | None, Any]:
    """Paths (or a buffer) from the user's source: a path, a list, a glob, a ``.hdr``."""
    if isinstance(source, np.ndarray):
        return None, np.ascontiguousarray(source).view(np.uint8).reshape(-1)
    if isinstance(source, BUFFER_TYPES):
        return None, source
    if isinstance(source, (list, tuple)):
        return [os.fspath(p) for p in source], None
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"a Merlin source must be a path, a list of paths or bytes, not {type(source).__name__}"
        )
    text = os.fspath(source)
    if any(ch in text for ch in "*?["):
        paths = sorted(glob.glob(text))
        if not paths:
            raise FileNotFoundError(f"{text}: no file matches")
        return paths, None
    p = Path(text)
    if p.suffix.lower() == ".hdr":
        return _numbered_siblings(p, p.stem) or _same_stem_mib(p), None
    if join:
        m = re.fullmatch(r"(.*?)(\d+)", p.stem)
        if m and m.group(1):
            siblings = _numbered_siblings(p, m.group(1))
            if len(siblings) > 1:
                return siblings, None
    return [text], None


def _validated_siblings(given: str, paths: list[str], mode: str) -> list[str]:
    """Keep an automatically found ``name<k>.mib`` set only if it is one acquisition: the same
    frame geometry everywhere and sequence numbers that continue from file to file. Otherwise
    (e.g. ``..._Rows_32.mib`` beside ``..._Rows_64.mib``) only the given file is read."""
    try:
        files = [_File(p, None, mode) for p in paths]
        heads = [f.header_at(0) for f in files]
    except (OSError, FormatError):
        return [given]
    ref = heads[0]
    keys = ("header_size", "width", "height", "pixel_type", "nchips", "layout", "depth")
    if any(getattr(h, k) != getattr(ref, k) for h in heads for k in keys):
        return [given]
    try:
        stride = geometry_from_header(ref, None, given).stride
    except (FormatError, UnsupportedError):
        return [given]
    order = sorted(range(len(files)), key=lambda i: heads[i].sequence)
    for i, j in zip(order, order[1:], strict=False):
        if heads[j].sequence != heads[i].sequence + files[i].size // stride:
            return [given]
    return [paths[i] for i in order]


def _same_stem_mib(hdr: Path) -> list[str]:
    for ext in (".mib", ".MIB", ".Mib"):
        cand = hdr.with_suffix(ext)
        if cand.is_file():
            return [os.fspath(cand)]
    raise FileNotFoundError(f"{hdr}: no .mib file with this name")


def _numbered_siblings(p: Path, prefix: str) -> list[str]:
    """``<prefix><digits>.mib`` files in ``p``'s folder (a split acquisition)."""
    pat = re.compile(re.escape(prefix) + r"\d+\.mib", re.IGNORECASE)
    folder = p.parent
    try:
        names = [n for n in os.listdir(folder or ".") if pat.fullmatch(n)]
    except OSError:
        return []
    return [os.fspath(folder / n) for n in names]

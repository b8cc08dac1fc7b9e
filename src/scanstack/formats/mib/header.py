"""Merlin frame headers (``MQ1,…``) and the ``.hdr`` acquisition sidecar.

A ``.mib`` file is ``[frame header (H bytes, ASCII, NUL-padded)][pixel data]`` × N with no file
header. Only the first frame header is needed to know the geometry of every frame; per-frame values
(timestamps, exposures, thresholds, DACs) are parsed on demand by :func:`parse_header_table`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import FormatError, UnsupportedError

MAGIC = b"MQ1,"
#: bytes read to find the header size (field 2 sits in the first 20 bytes)
PROBE_BYTES = 64
N_THRESHOLDS = 8
N_DACS = 27


@dataclass
class FrameHeader:
    """One parsed frame header.

    Sizes are in pixels as written in the header (for raw files these are the raw stream's
    width/height, see :mod:`.raw`); ``shutter_s`` in seconds; thresholds in keV.
    """

    header_size: int
    sequence: int
    nchips: int
    width: int
    height: int
    pixel_type: str
    layout: str
    chip_select: int
    timestamp_local: str
    shutter_s: float
    counter: int
    colour_mode: int
    gain_mode: int
    thresholds: list[float] = field(default_factory=list)
    dacs: list[list[int]] = field(default_factory=list)
    chip_types: list[str] = field(default_factory=list)
    extended: bool = False
    timestamp_utc: str | None = None
    shutter_ns: int | None = None
    depth: int | None = None
    fields: list[str] = field(default_factory=list, repr=False)

    @property
    def raw(self) -> bool:
        return self.pixel_type == "R64"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``original_metadata`` (no ``fields``)."""
        d = {k: v for k, v in self.__dict__.items() if k != "fields"}
        d["chip_select"] = f"{self.chip_select:02X}"
        return d


def _int(text: str, what: str, path, offset: int) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise FormatError(
            f"frame header field {what!r} should be an integer, found {text!r}", path, offset
        ) from None


def header_size(head: bytes, path=None, offset: int = 0) -> int:
    """The header size ``H`` (field 2) from the first bytes of a frame header."""
    if not head.startswith(MAGIC):
        found = head[:8]
        raise FormatError(
            f"expected a Merlin frame header starting with b'MQ1,', found {found!r}"
            + (
                " (a TCP stream message: strip the 15-byte 'MPX,<length>,' prefix)"
                if head.startswith(b"MPX,")
                else ""
            ),
            path,
            offset,
        )
    parts = head[:PROBE_BYTES].split(b",")
    if len(parts) < 3:
        raise FormatError("frame header too short to hold its size field", path, offset)
    size = _int(parts[2].decode("latin-1"), "header size", path, offset)
    if size < 64:
        raise FormatError(
            f"frame header size {size} bytes is impossible (at least 64 expected)", path, offset
        )
    return size


def parse_frame_header(buf: bytes, path=None, offset: int = 0) -> FrameHeader:
    """Parse one frame header from ``buf`` (which starts at the header, ``len >= H``).

    The tail (``MQ1A`` extension: UTC timestamp, shutter in ns, counter depth) is located by its
    marker, not by absolute index, because some firmware omits thresholds and DACs.
    """
    size = header_size(buf, path, offset)
    if len(buf) < size:
        raise FormatError(
            f"truncated frame header: {len(buf)} bytes, header says {size}", path, offset
        )
    raw = bytes(buf[:size])
    text = raw.decode("latin-1")
    body = text.rstrip("\x00 ")
    if "\x00" in body:
        raise FormatError(
            f"frame header text runs past its declared size of {size} bytes "
            "(NUL bytes inside the header)",
            path,
            offset,
        )
    if not body.endswith(","):
        # the header text is ",".join(fields) + "," then NULs; a missing final comma means the
        # declared size cut the text short (or this is not a header at all)
        raise FormatError(
            f"frame header does not end with ',' within its declared size of {size} bytes",
            path,
            offset,
        )
    fields = body[:-1].split(",")
    if len(fields) < 14:
        raise FormatError(
            f"frame header has {len(fields)} fields, at least 14 expected", path, offset
        )
    h = FrameHeader(
        header_size=size,
        sequence=_int(fields[1], "sequence number", path, offset),
        nchips=_int(fields[3], "number of chips", path, offset),
        width=_int(fields[4], "width", path, offset),
        height=_int(fields[5], "height", path, offset),
        pixel_type=fields[6].strip(),
        layout=fields[7].strip(),
        chip_select=int(fields[8].strip() or "0", 16)
        if re.fullmatch(r"\s*[0-9A-Fa-f]+\s*", fields[8])
        else 0,
        timestamp_local=fields[9].strip(),
        shutter_s=_float(fields[10]),
        counter=_int(fields[11], "counter", path, offset),
        colour_mode=_int(fields[12], "colour mode", path, offset),
        gain_mode=_int(fields[13], "gain mode", path, offset),
        fields=fields,
    )
    if "MQ1A" in fields:
        i = fields.index("MQ1A")
        middle = fields[14:i]
        tail = fields[i + 1 :]
        h.extended = True
        if len(tail) >= 3:
            h.timestamp_utc = tail[0].strip()
            h.shutter_ns = _int(tail[1].strip().removesuffix("ns"), "shutter (ns)", path, offset)
            h.depth = _int(tail[2], "counter depth", path, offset)
    else:
        middle = fields[14:]
    if len(middle) >= N_THRESHOLDS:
        h.thresholds = [_float(x) for x in middle[:N_THRESHOLDS]]
        rest = middle[N_THRESHOLDS:]
        for k in range(0, len(rest) - N_DACS, N_DACS + 1):
            h.chip_types.append(rest[k].strip())
            h.dacs.append(
                [int(x) if x.strip().isdigit() else -1 for x in rest[k + 1 : k + 1 + N_DACS]]
            )
    if h.width <= 0 or h.height <= 0:
        raise FormatError(
            f"frame header gives a frame of {h.height}x{h.width} pixels", path, offset
        )
    return h


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


# -- the .hdr sidecar ---------------------------------------------------------------------------
def parse_hdr_text(data: bytes) -> dict[str, str]:
    """``Key:\\tValue`` lines of a ``.hdr`` file as a dict of raw strings.

    Tolerant: latin-1 (never fails on odd bytes), CRLF/CR/LF, the ``HDR,`` and ``End`` lines and
    the space padding to 2048 bytes are skipped. Keys lose their trailing ``:``; values keep
    leading spaces (``'   2x2'``), exactly as RosettaSciIO/LiberTEM keep them.
    """
    text = data.decode("latin-1")
    out: dict[str, str] = {}
    for line in re.split(r"\r\n|\r|\n", text):
        if line.startswith("HDR") or line.startswith("End\t") or line.rstrip() == "End":
            continue
        if "\t" not in line:
            continue
        key, value = line.split("\t", 1)
        out[key.rstrip(":")] = value
    return out


def read_hdr(path: str | os.PathLike) -> dict[str, str]:
    with open(path, "rb") as fh:
        data = fh.read(1 << 20)
    return parse_hdr_text(data)


def hdr_candidates(mib_path: str | os.PathLike) -> list[Path]:
    """Sidecar names for ``mib_path``: same stem (``.hdr``/``.HDR``), then the stem without
    the trailing file number of a split acquisition (``default12.mib`` -> ``default.hdr``)."""
    p = Path(mib_path)
    stems = [p.stem]
    m = re.fullmatch(r"(.*?)(\d+)", p.stem)
    if m and m.group(1):
        stems.append(m.group(1))
    out = []
    for stem in stems:
        for ext in (".hdr", ".HDR", ".Hdr"):
            out.append(p.with_name(stem + ext))
    return out


def find_hdr(mib_path: str | os.PathLike) -> Path | None:
    for cand in hdr_candidates(mib_path):
        if cand.is_file():
            return cand
    return None


def hdr_int(hdr: dict[str, str] | None, key: str) -> int | None:
    """An integer value of the ``.hdr`` (``None`` when absent or not a whole number: ``12.7``
    is not read as 12)."""
    if not hdr:
        return None
    for k, v in hdr.items():
        if k == key or k.startswith(key + " ") or k.startswith(key + "("):
            m = re.match(r"\s*(-?\d+)(?![\d.])", v)
            return int(m.group(1)) if m else None
    return None


# -- per-frame header tables --------------------------------------------------------------------
def parse_header_table(
    headers: np.ndarray, path=None, first_offset: int = 0, stride: int = 0
) -> dict[str, np.ndarray]:
    """Per-frame values from an ``(n, H)`` uint8 array of raw frame headers.

    Returns arrays of length ``n``: ``sequence`` (int64), ``timestamp`` (datetime64[ns], UTC, from
    the extension; NaT without it), ``timestamp_local`` (datetime64[us], the wall clock),
    ``exposure`` (float64, s; the ns field when present), ``depth`` (int64), ``counter``,
    ``gain_mode`` (int64), ``thresholds`` (n, 8) keV and ``dacs`` (n, nchips, 27) int64.

    Fast path: when every header has its commas at the same offsets (the usual case, fields are
    fixed width), columns are cut out and converted with numpy; otherwise headers are split one by
    one.
    """
    headers = np.asarray(headers, dtype=np.uint8)
    n = headers.shape[0]
    if n == 0:
        return _table_from_rows([])
    fixed = fixed_columns(headers)
    if fixed is not None:
        try:
            return _table_from_columns(*fixed)
        except ValueError:
            pass  # a malformed field: the header-by-header parse below says where
    rows = []
    for i in range(n):
        try:
            rows.append(parse_frame_header(bytes(headers[i]), path, first_offset + i * stride))
        except FormatError as exc:
            raise FormatError(f"frame {i}: {exc.reason}", path, exc.where) from None
        for text in (rows[-1].timestamp_local, (rows[-1].timestamp_utc or "NaT").rstrip("Z")):
            try:
                np.datetime64(text)
            except ValueError:
                raise FormatError(
                    f"frame {i}: unreadable time stamp {text!r} in the frame header",
                    path,
                    first_offset + i * stride,
                ) from None
    return _table_from_rows(rows)


def fixed_columns(headers: np.ndarray) -> tuple[list[np.ndarray], list[str]] | None:
    """Fields of ``(n, H)`` uint8 headers cut as columns, when every header has its commas at the
    same offsets (fields are fixed width in practice): ``([(n, width) uint8 per field], the
    first header's fields as text)``; ``None`` otherwise (then headers must be split one by one).
    """
    commas = headers == ord(",")
    if not np.all(commas == commas[0]):
        return None
    pos = np.flatnonzero(commas[0])
    starts = np.concatenate(([0], pos[:-1] + 1))
    cols = [headers[:, a:b] for a, b in zip(starts, pos, strict=True)]
    row0 = bytes(headers[0]).decode("latin-1").rstrip("\x00 ")[:-1].split(",")
    return (cols, row0) if len(row0) == len(cols) else None


def column_text(col: np.ndarray) -> np.ndarray:
    """A fixed-width byte column ``(n, w)`` as an ``S<w>`` array (trailing NULs dropped)."""
    col = np.ascontiguousarray(col)
    return col.view(f"S{col.shape[1]}").reshape(-1) if col.shape[1] else np.zeros(len(col), "S1")


def _table_from_columns(cols: list[np.ndarray], row0: list[str]) -> dict[str, np.ndarray]:
    n = cols[0].shape[0]
    if not np.all(column_text(cols[0]) == b"MQ1"):
        raise ValueError("not every header starts with MQ1")  # the slow path names the frame

    def num(i, dtype):
        return np.char.strip(column_text(cols[i])).astype(dtype)

    out: dict[str, np.ndarray] = {
        "sequence": num(1, np.int64),
        "timestamp_local": column_text(cols[9]).astype("U").astype("datetime64[us]"),
        "exposure": num(10, np.float64),
        "counter": num(11, np.int64),
        "gain_mode": num(13, np.int64),
    }
    if "MQ1A" in row0:
        i = row0.index("MQ1A")
        out["timestamp"] = _utc64(column_text(cols[i + 1]).astype("U"))
        ns = np.char.strip(np.char.replace(column_text(cols[i + 2]), b"ns", b"")).astype(np.int64)
        out["exposure"] = ns.astype(np.float64) * 1e-9
        out["depth"] = num(i + 3, np.int64)
        middle = (14, i)
    else:
        out["timestamp"] = np.full(n, np.datetime64("NaT", "ns"))
        out["depth"] = np.full(n, -1, np.int64)
        middle = (14, len(row0))
    a, b = middle
    if b - a >= N_THRESHOLDS:
        out["thresholds"] = np.stack([num(a + k, np.float64) for k in range(N_THRESHOLDS)], 1)
        chips = []
        k = a + N_THRESHOLDS
        while k + N_DACS < b:
            chips.append(np.stack([num(k + 1 + j, np.int64) for j in range(N_DACS)], 1))
            k += N_DACS + 1
        out["dacs"] = np.stack(chips, 1) if chips else np.zeros((n, 0, N_DACS), np.int64)
    else:
        out["thresholds"] = np.full((n, N_THRESHOLDS), np.nan)
        out["dacs"] = np.zeros((n, 0, N_DACS), np.int64)
    return out


def _utc64(values: np.ndarray) -> np.ndarray:
    """``2021-04-15T13:43:02.396481181Z`` strings as datetime64[ns] (UTC, the 'Z' dropped)."""
    return np.char.rstrip(values.astype("U"), "Z").astype("datetime64[ns]")


def _table_from_rows(rows: list[FrameHeader]) -> dict[str, np.ndarray]:
    n = len(rows)
    nchips = max((len(r.dacs) for r in rows), default=0)
    dacs = np.full((n, nchips, N_DACS), -1, np.int64)
    thr = np.full((n, N_THRESHOLDS), np.nan)
    for i, r in enumerate(rows):
        for c, d in enumerate(r.dacs):
            dacs[i, c, : len(d)] = d
        if r.thresholds:
            thr[i] = r.thresholds
    ts = np.array([(r.timestamp_utc or "NaT").rstrip("Z") for r in rows], dtype="U40")
    return {
        "sequence": np.array([r.sequence for r in rows], np.int64),
        "timestamp_local": np.array([r.timestamp_local for r in rows], dtype="U40").astype(
            "datetime64[us]"
        ),
        "exposure": np.array(
            [r.shutter_ns * 1e-9 if r.shutter_ns is not None else r.shutter_s for r in rows],
            np.float64,
        ),
        "counter": np.array([r.counter for r in rows], np.int64),
        "gain_mode": np.array([r.gain_mode for r in rows], np.int64),
        "timestamp": ts.astype("datetime64[ns]"),
        "depth": np.array([r.depth if r.depth is not None else -1 for r in rows], np.int64),
        "thresholds": thr,
        "dacs": dacs,
    }


def check_supported_type(h: FrameHeader, path=None) -> None:
    if h.pixel_type not in ("U08", "U16", "U32", "U64", "R64"):
        raise UnsupportedError(
            f"{path or '<in-memory input>'}: Merlin pixel type {h.pixel_type!r} is not supported "
            "(U08, U16, U32, U64 and R64 are)"
        )

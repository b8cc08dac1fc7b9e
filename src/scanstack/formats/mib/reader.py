"""Reader for Quantum Detectors Merlin ``.mib`` files (processed ``U08/U16/U32/U64`` and raw ``R64``).

Only the first frame header is parsed to learn the geometry (plus the last frame's header of each
file, to check that the frame size is right); frames are reached through one ``np.memmap`` per file
with a structured dtype ``[('hdr', V<H>), ('px', >u2, (rows, cols))]``, so the pixel field is a
zero-copy strided view of every frame. Raw files are decoded block-wise with numpy
(:mod:`.raw`). Orientation: ``flip=True`` (default) returns RosettaSciIO's ``file_reader`` result
(rows reversed); ``flip=False`` returns the file order (LiberTEM, ``rsciio.load_mib_data``).
"""

from __future__ import annotations

import glob
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import FormatError, UnsupportedError
from ...core.reader import Reader, Region, crop, region_shape
from ...core.registry import forwarding_signature
from ...core.stack import ReaderStack
from .._files import file_runs
from . import navigation as nav
from . import raw as rawmod
from .header import (
    MAGIC,
    PROBE_BYTES,
    FrameHeader,
    check_supported_type,
    find_hdr,
    hdr_int,
    header_size,
    parse_frame_header,
    parse_hdr_text,
    parse_header_table,
)

BUFFER_TYPES = (bytes, bytearray, memoryview)
#: frame headers parsed per block by frame_headers()
HEADER_BLOCK = 16384
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


class MibReader(Reader):
    """A Merlin acquisition (one file, a split set of files or a bytes buffer) as frames.

    Options (RosettaSciIO's ``file_reader`` options plus scanstack's):

    ``lazy`` (default True): False reads every frame into memory at open.
    ``chunks``: dask chunks used by ``to_dask()`` (``"auto"``: scanstack's default block size).
    ``mmap_mode``: ``"r"`` (default) or ``"c"`` (copy-on-write).
    ``navigation_shape``: scan shape in RosettaSciIO/HyperSpy order ``(x, y)``;
    ``nav_shape``: the same in numpy order ``(rows, columns)``. Either always wins.
    ``first_frame``, ``last_frame``: frame range of the file(s) to read (Python slice rules).
    ``print_info``: print what was found.
    ``flip`` (default True): reverse the rows of each frame like RosettaSciIO's ``file_reader``;
    False keeps the file order (LiberTEM, ``rsciio.load_mib_data``).
    ``endian``: ``"native"`` (default) frames in native byte order; ``"big"`` keeps the file's
    big-endian dtype (RosettaSciIO's dtype; raw data is given the processed files' dtype).
    ``nav_heuristic``: ``"robust"`` (default) or ``"rsciio"`` timestamp rule (see :mod:`.navigation`).
    ``squeeze`` (default True): drop length-1 navigation axes as RosettaSciIO does.
    ``join`` (default True): ``name<k>.mib`` siblings form one acquisition, ordered by the
    sequence number of their first frame.
    ``hdr``: path of the ``.hdr`` to use (default: found beside the data; ``False``: ignore).
    ``frame_headers`` (default False): parse every frame header into
    ``original_metadata['frame_headers']``.
    """

    format_name = "mib"

    def __init__(
        self,
        source: Any = None,
        *,
        lazy: bool = True,
        chunks: Any = "auto",
        mmap_mode: str | None = None,
        navigation_shape: tuple | None = None,
        nav_shape: tuple | None = None,
        first_frame: int | None = None,
        last_frame: int | None = None,
        print_info: bool = False,
        flip: bool = True,
        endian: str = "native",
        nav_heuristic: str = "robust",
        squeeze: bool = True,
        join: bool = True,
        hdr: Any = None,
        frame_headers: bool = False,
        distributed: bool | None = None,
    ):
        options = dict(
            lazy=lazy,
            chunks=chunks,
            mmap_mode=mmap_mode,
            navigation_shape=navigation_shape,
            nav_shape=nav_shape,
            first_frame=first_frame,
            last_frame=last_frame,
            flip=flip,
            endian=endian,
            nav_heuristic=nav_heuristic,
            squeeze=squeeze,
            join=join,
            hdr=hdr,
            frame_headers=frame_headers,
        )
        super().__init__(source, **options)
        if mmap_mode not in (None, "r", "c"):
            raise UnsupportedError(
                f"mmap_mode={mmap_mode!r}: only 'r' and 'c' are supported "
                "(files are never modified)"
            )
        if endian not in ("native", "big"):
            raise ValueError(f"endian must be 'native' or 'big', not {endian!r}")
        if nav_heuristic not in ("robust", "rsciio"):
            raise ValueError(f"nav_heuristic must be 'robust' or 'rsciio', not {nav_heuristic!r}")
        if navigation_shape is not None and nav_shape is not None:
            raise ValueError(
                "give navigation_shape (x, y order) or nav_shape (numpy order), not both"
            )
        self.flip = bool(flip)
        self.chunks = chunks
        self.notes: list[str] = []
        paths, buffer = _split_sources(source, join)
        mode = mmap_mode or "r"
        if (
            paths is not None
            and len(paths) > 1
            and isinstance(source, (str, os.PathLike))
            and Path(source).suffix.lower() == ".mib"
        ):
            paths = _validated_siblings(os.fspath(source), paths, mode)
        self._files = (
            [_File(None, buffer, mode)] if paths is None else [_File(p, None, mode) for p in paths]
        )
        self._open_files(hdr)
        self._resolve_navigation(
            navigation_shape, nav_shape, first_frame, last_frame, nav_heuristic, squeeze
        )
        self.signal_shape = tuple(self.geometry.out_shape)
        base = (
            self.geometry.file_dtype
            if not self.geometry.raw
            else np.dtype(rawmod.OUT_DTYPE[self.geometry.depth])
        )
        self.dtype = base.newbyteorder(">" if endian == "big" else "=")
        self._memory: np.ndarray | None = None
        self._build_metadata(frame_headers)
        if print_info:
            print(self.info())  # noqa: T201 - asked for by the user
        if not lazy:
            self._memory = self.read(0, self.nframes)

    # -- opening ----------------------------------------------------------------------------
    def _open_files(self, hdr_option: Any) -> None:
        f0 = self._files[0]
        if f0.size < PROBE_BYTES:
            raise FormatError(f"{f0.size} bytes is too small for a Merlin frame header", f0.path, 0)
        first = f0.header_at(0)
        self.hdr_path: str | None = None
        self.hdr: dict[str, str] | None = None
        if hdr_option is not False:
            hp = (
                hdr_option
                if hdr_option not in (None, True)
                else (find_hdr(f0.path) if f0.path else None)
            )
            if hp is not None:
                self.hdr_path = os.fspath(hp)
                with open(hp, "rb") as fh:
                    self.hdr = parse_hdr_text(fh.read(1 << 20))
        self.first_header = first
        self.geometry = geo = geometry_from_header(first, self.hdr, f0.path)
        for f in self._files:
            f.first = first if f is f0 else f.header_at(0)
            self._check_same(f, f.first, 0)
            n, rest = divmod(f.size, geo.stride)
            if n == 0:
                raise FormatError(
                    f"holds no complete frame: {f.size} bytes, one frame is {geo.stride} bytes "
                    f"({geo.header_size} header + {geo.payload} data)",
                    f.path,
                    0,
                )
            if rest:
                msg = (
                    f"{os.path.basename(f.path) if f.path else 'buffer'}: {rest} bytes of an "
                    f"incomplete frame at byte offset {n * geo.stride} are ignored "
                    f"(truncated file?)"
                )
                self.notes.append(msg)
                warnings.warn(msg, MibWarning, stacklevel=4)
            f.nframes = n
            if n > 1:
                last_off = (n - 1) * geo.stride
                try:
                    last = f.header_at(last_off)
                except FormatError as exc:
                    raise FormatError(
                        f"the first frame header gives frames of {geo.stride} bytes, but no "
                        f"frame header is found where frame {n - 1} should start ({exc.reason}); "
                        "the frame size varies or the file is corrupt",
                        f.path,
                        last_off,
                    ) from None
                self._check_same(f, last, last_off)
                if last.sequence - f.first.sequence != n - 1:
                    msg = (
                        f"{os.path.basename(f.path) if f.path else 'buffer'}: sequence numbers "
                        f"run from {f.first.sequence} to {last.sequence} over {n} frames "
                        "(frames dropped or repeated by the detector?)"
                    )
                    self.notes.append(msg)
                    warnings.warn(msg, MibWarning, stacklevel=4)
        if len(self._files) > 1:
            self._files.sort(key=lambda f: f.first.sequence)
            self.first_header = self._files[0].first  # metadata: the acquisition's first frame
        self._starts = np.cumsum([0] + [f.nframes for f in self._files])
        self.n_in_files = int(self._starts[-1])
        self._check_hdr()

    def _check_same(self, f: _File, h: FrameHeader, offset: int) -> None:
        ref = self.first_header
        for name in ("header_size", "width", "height", "pixel_type", "nchips", "layout"):
            a, b = getattr(ref, name), getattr(h, name)
            if a != b:
                raise FormatError(
                    f"frame header {name.replace('_', ' ')} {b!r} differs from the first "
                    f"frame's {a!r}; frames of different sizes cannot be read as one stack",
                    f.path,
                    offset,
                )
        if ref.raw and (h.depth or ref.depth) != (ref.depth or h.depth):
            raise FormatError(
                f"counter depth {h.depth} differs from the first frame's {ref.depth}",
                f.path,
                offset,
            )

    def _check_hdr(self) -> None:
        """A .hdr that contradicts the frame headers: the frame headers win (they describe the
        bytes); the disagreement is reported."""
        if not self.hdr:
            return
        h = self.first_header
        depth = hdr_int(self.hdr, "Counter Depth")
        if depth is not None and h.depth is not None and depth != h.depth:
            self._note(
                f".hdr says counter depth {depth}, the frame headers {h.depth}; "
                "the frame headers are used"
            )
        for k, v in self.hdr.items():
            if k.startswith("Assembly Size") and v.strip().lower() != h.layout.lower():
                self._note(
                    f".hdr says assembly size {v.strip()!r}, the frame headers "
                    f"{h.layout!r}; the frame headers are used"
                )

    def _note(self, msg: str) -> None:
        self.notes.append(msg)
        warnings.warn(f"{self.path or '<in-memory input>'}: {msg}", MibWarning, stacklevel=5)

    # -- navigation -------------------------------------------------------------------------
    def _resolve_navigation(
        self, navigation_shape, nav_shape, first_frame, last_frame, heuristic: str, squeeze: bool
    ) -> None:
        n_files = self.n_in_files
        hdr = self.hdr
        shape_xy: tuple[int, ...] | None
        if navigation_shape is not None or nav_shape is not None:
            given = navigation_shape if navigation_shape is not None else nav_shape
            try:
                given = tuple(int(v) for v in given)
            except TypeError:
                raise TypeError("navigation_shape/nav_shape must be a tuple of integers") from None
            shape_xy = given if navigation_shape is not None else given[::-1]
            source = "user"
        else:
            counts = {}
            for key in ("ScanX", "ScanY", "Frames per Trigger", "Frames in Acquisition"):
                counts[key] = value = hdr_int(hdr, key)
                if value is not None and value < 0:  # not "-12 frames" further down
                    raise FormatError(
                        f"{key}: expected a count >= 0, found {value}",
                        self.hdr_path or self.path,
                        key,
                    )
            scan_x, scan_y = counts["ScanX"], counts["ScanY"]
            fpt = counts["Frames per Trigger"] or 1
            total = counts["Frames in Acquisition"] if hdr else None
            total = n_files if total is None else total
            if scan_x and scan_y:
                shape_xy, source = (scan_x, scan_y), "hdr ScanX/ScanY"
            elif total == 0:
                shape_xy, source = None, "none (.hdr: Frames in Acquisition = 0)"
            elif fpt > 1:
                shape_xy, source = (fpt, total // fpt), "hdr Frames per Trigger"
            else:
                length = self._line_length(heuristic)
                if length and length > 1:
                    shape_xy, source = (length, total // length), f"timestamps ({heuristic})"
                else:
                    shape_xy = (1, total) if heuristic == "rsciio" else None
                    source = "none (no scan lines in the timestamps)"
        shape, first, interrupted, msg = nav.fit_to_frames(
            shape_xy, n_files, first_frame, last_frame
        )
        if interrupted and len(shape) == 2 and shape[0] == 0:
            shape = (n_files - first,)
        if msg:
            self._note(msg)
        unread = n_files - first - math.prod(shape)
        # after an interrupted fit the dropped partial line is already reported above
        if unread > 0 and not interrupted and first_frame is None and last_frame is None:
            scan = "x".join(map(str, shape))
            if source.startswith("hdr"):
                self._note(
                    f"the .hdr describes a {scan} scan but the file(s) hold {unread} more "
                    "frames, which are not read (pass nav_shape= to read them)"
                )
            elif source.startswith("timestamps"):  # a last line cut short: interrupted
                interrupted = True
                self._note(
                    f"interrupted acquisition: the frame timestamps give lines of {shape[-1]}; "
                    f"keeping {scan} complete lines, the last {unread} frames are not read "
                    "(pass nav_shape= to read them)"
                )
        self.interrupted = interrupted
        self.nav_source = source
        self.first_frame = first
        self.nav_shape = nav.squeeze(shape) if squeeze else shape
        if math.prod(self.nav_shape) + first > n_files:  # pragma: no cover - guarded above
            raise FormatError("navigation shape larger than the frames present", self.path)

    def _line_length(self, heuristic: str) -> int | None:
        n = min(self.n_in_files, nav.HEURISTIC_FRAMES)
        if n < 2:
            return None
        table = self.frame_headers(0, n, all_frames=True)
        ts = table["timestamp"]
        if np.isnat(ts).any():
            ts = table["timestamp_local"].astype("datetime64[ns]")
        if heuristic == "rsciio":
            return nav.line_length_rsciio(ts)
        return nav.line_length_from_timestamps(ts.astype(np.int64))

    # -- metadata -----------------------------------------------------------------------------
    def _build_metadata(self, with_frame_headers: bool) -> None:
        h, geo = self.first_header, self.geometry
        exposure_s = h.shutter_ns * 1e-9 if h.shutter_ns is not None else h.shutter_s
        title = Path(self._files[0].path).stem if self._files[0].path else ""
        instrument = {
            "detector": "Quantum Detectors Merlin",
            "chip_type": (self.hdr or {})
            .get("Chip Type (Medipix 3.0, Medipix 3.1, Medipix 3RX)", "")
            .strip()
            or None,
            "layout": h.layout,
            "nchips": h.nchips,
            "counter_depth": geo.depth,
            "raw": geo.raw,
            "thresholds_keV": h.thresholds,
            "gain_mode": h.gain_mode,
        }
        self.metadata = {
            "title": title,
            "original_file": self._files[0].path,
            "format": "mib",
            "signal_type": "electron_diffraction",
            "acquisition_time": h.timestamp_utc if h.timestamp_utc else None,
            "dwell_time": exposure_s,
            "instrument": instrument,
            "navigation_source": self.nav_source,
            "interrupted": self.interrupted,
            "notes": list(self.notes),
        }
        mib_props = {
            "paths": [f.path for f in self._files] if self._files[0].path else None,
            "buffer": self._files[0].path is None,
            "file_sizes": [f.size for f in self._files],
            "frames_in_files": self.n_in_files,
            "first_frame": self.first_frame,
            "head_size": geo.header_size,
            "frame_size": geo.stride,
            "merlin_size": tuple(self.signal_shape),
            "raw": geo.raw,
            "pixel_type": h.pixel_type,
            "counter_depth": geo.depth,
            "detector_geometry": h.layout,
            "navigation_shape": tuple(self.nav_shape),
            "navigation_source": self.nav_source,
            "interrupted": self.interrupted,
            "flip": self.flip,
            "exposure": exposure_s * 1e3,
            "timestamp": h.timestamp_utc or h.timestamp_local,
        }
        self.original_metadata = {"mib_properties": mib_props, "frame_header": h.to_dict()}
        if self.hdr is not None:
            self.original_metadata["hdr_file"] = dict(self.hdr)
        if with_frame_headers:
            self.original_metadata["frame_headers"] = self.frame_headers()
        # RosettaSciIO's metadata tree, key for key (used by Stack.to_rsciio_dicts)
        general: dict[str, Any] = {
            "original_filename": os.path.basename(self._files[0].path)
            if self._files[0].path
            else ""
        }
        stamp = h.timestamp_utc or h.timestamp_local.replace(" ", "T")
        if "T" in stamp:
            date, time = stamp.split("T", 1)
            general["date"] = date
            general["time"] = time.strip("Z")
            if "Z" in time:
                general["time_zone"] = "UTC"
        exposure_ms = (h.shutter_ns / 1e6) if h.shutter_ns is not None else h.shutter_s * 1e3
        self.rsciio_metadata = {
            "General": general,
            "Signal": {"signal_type": "electron_diffraction"},
            "Acquisition_instrument": {"dwell_time": exposure_ms * 1e-3},
        }

    def info(self) -> str:
        """A short human-readable summary (what ``print_info=True`` prints)."""
        g = self.geometry
        src = (
            ", ".join(os.path.basename(f.path) for f in self._files)
            if self._files[0].path
            else "in-memory buffer"
        )
        return "\n".join(
            [
                f"Merlin MIB: {src}",
                f"  {self.first_header.nchips} chip(s), layout {g.layout}, "
                f"{'raw R64' if g.raw else self.first_header.pixel_type}, counter depth {g.depth}",
                f"  frame {g.out_shape[0]}x{g.out_shape[1]} px, header {g.header_size} B, "
                f"{g.stride} B per frame",
                f"  {self.n_in_files} frames in file(s); navigation {self.nav_shape} "
                f"from {self.nav_source}; first frame {self.first_frame}",
                f"  exposure {self.metadata['dwell_time']} s, started {self.metadata['acquisition_time']}",
                *(f"  note: {n}" for n in self.notes),
            ]
        )

    # -- frames -----------------------------------------------------------------------------
    def source_paths(self) -> list[str]:
        return [f.path for f in self._files if f.path] + ([self.hdr_path] if self.hdr_path else [])

    @property
    def path(self) -> str | None:
        return self._files[0].path

    def _segments(self, start: int, stop: int, offset: int | None = None):
        """``(file, local_start, local_stop, out_offset)`` covering stack frames start:stop
        (frames ``offset + start:offset + stop`` of the files; ``offset`` defaults to the
        stack's first frame)."""
        offset = self.first_frame if offset is None else offset
        for k, a, b, o in file_runs(self._starts, start + offset, stop + offset):
            yield self._files[k], a, b, o

    def _view(self, f: _File, a: int, b: int) -> np.ndarray:
        return f.records(self.geometry)[a:b]["px"]

    def read(
        self, start: int, stop: int, region: Region | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Frames ``start:stop`` as ``(n, *region_shape)`` in :attr:`dtype` (a copy).

        ``out``: optional C-contiguous array of that shape and dtype to fill (saves allocating
        a fresh block per call in tight loops); returned.
        """
        start, stop, _ = slice(start, stop).indices(self.nframes)  # never past the data
        n = max(0, stop - start)
        shape = (n, *region_shape(region, self.signal_shape))
        if out is None:
            out = np.empty(shape, self.dtype)
        elif out.shape != shape or out.dtype != self.dtype or not out.flags.c_contiguous:
            raise ValueError(
                f"out must be a C-contiguous {self.dtype} array of shape {shape}, "
                f"not {out.dtype} {out.shape}"
            )
        if self._memory is not None:
            block = self._memory[start:stop]
            out[...] = crop(block, region)
            return out
        geo = self.geometry
        for f, a, b, o in self._segments(start, stop):
            view = self._view(f, a, b)
            if not geo.raw:
                out[o : o + b - a] = self._orient(view, region)
            elif region is None and out.dtype.isnative:
                # decode straight from the memory map into the output, flip included
                rawmod.decode_into(
                    view,
                    geo.depth,
                    *geo.stream_shape,
                    geo.quad,
                    geo.gap,
                    self.flip,
                    out[o : o + b - a],
                )
            else:
                frames = rawmod.decode_into(
                    view, geo.depth, *geo.stream_shape, geo.quad, geo.gap, False
                )
                out[o : o + b - a] = self._orient(frames, region)
        return out

    def _orient(self, frames: np.ndarray, region: Region | None) -> np.ndarray:
        """Apply flip and region to frames in file order (a view, no copy)."""
        rows = frames.shape[1]
        if region is None:
            return frames[:, ::-1] if self.flip else frames
        r, c = region
        if self.flip:
            return frames[:, rows - r.stop : rows - r.start, c][:, ::-1]
        return frames[:, r, c]

    def as_array(self) -> np.ndarray | None:
        """Zero-copy ``(nframes, rows, cols)`` memmap view in the file's big-endian dtype.

        Rows are reversed (a negative-stride view) when ``flip=True``, so values equal
        :meth:`read`'s. ``None`` for raw data and for acquisitions split over several files.
        """
        if self.geometry.raw or len(self._files) != 1:
            return None
        view = self._view(self._files[0], self.first_frame, self.first_frame + self.nframes)
        return view[:, ::-1] if self.flip else view

    def as_packed(self) -> dict[str, Any] | None:
        """Raw (R64) frames as stored, for kernels that fold pixel lanes in memory order.

        ``{"data": uint8 (nframes, payload bytes)`` (a zero-copy strided view of the memory map),
        ``"lanes"``: ``"bits"`` (1-bit pixels, LSB-first in each byte), ``"u1"`` (6-bit) or
        ``">u2"`` (12-bit), ``"decode"``: ``uint8 (n, payload) -> (n, rows, cols)`` giving
        :meth:`read`'s frames (flip included)}``. ``None`` for processed data, 24-bit raw (a pixel
        spans two lanes) and split acquisitions.
        """
        geo = self.geometry
        if not geo.raw or geo.depth == 24 or len(self._files) != 1:
            return None
        lanes = {1: "bits", 6: "u1", 12: ">u2"}[geo.depth]
        data = self._view(self._files[0], self.first_frame, self.first_frame + self.nframes)

        def decode(block: np.ndarray) -> np.ndarray:
            return rawmod.decode_into(
                block, geo.depth, *geo.stream_shape, geo.quad, geo.gap, self.flip
            )

        # the layout decides the permutation: the fold learns it once per layout, not per view
        key = ("mib", geo.depth, tuple(geo.stream_shape), geo.quad, geo.gap, self.flip)
        return {"data": data, "lanes": lanes, "decode": decode, "layout_key": key}

    # -- per-frame headers ----------------------------------------------------------------------
    def header_bytes(
        self, start: int = 0, stop: int | None = None, all_frames: bool = False
    ) -> np.ndarray:
        """Raw frame headers ``(n, H)`` uint8 of frames ``start:stop`` (stack frames, or every
        frame in the file(s) with ``all_frames=True``)."""
        total = self.n_in_files if all_frames else self.nframes
        start, stop, _ = slice(start, stop).indices(total)
        parts = [
            f.header_bytes(self.geometry, a, b)
            for f, a, b, _ in self._segments(start, stop, 0 if all_frames else None)
        ]
        if not parts:
            return np.zeros((0, self.geometry.header_size), np.uint8)
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def frame_headers(
        self, start: int = 0, stop: int | None = None, all_frames: bool = False
    ) -> dict[str, np.ndarray]:
        """Per-frame header values of frames ``start:stop`` (see :func:`.header.parse_header_table`):
        ``sequence``, ``timestamp`` (datetime64[ns] UTC), ``timestamp_local``, ``exposure`` (s),
        ``depth``, ``counter``, ``gain_mode``, ``thresholds`` (n, 8) keV, ``dacs`` (n, chips, 27).
        """
        total = self.n_in_files if all_frames else self.nframes
        start, stop, _ = slice(start, stop).indices(total)
        parts = []
        # in blocks, so that a million-frame file never needs its headers in memory at once
        for a in range(start, max(start, stop), HEADER_BLOCK):
            rows = self.header_bytes(a, min(a + HEADER_BLOCK, stop), all_frames)
            # byte offsets in errors are exact for one file (split sets: offset 0 of the set)
            first = (a + (0 if all_frames else self.first_frame)) * self.geometry.stride
            first = first if len(self._files) == 1 else 0
            parts.append(parse_header_table(rows, self.path, first, self.geometry.stride))
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return parse_header_table(np.zeros((0, self.geometry.header_size), np.uint8))
        width = max(p["dacs"].shape[1] for p in parts)
        for p in parts:  # a chip count that changes between blocks cannot happen, but be safe
            if p["dacs"].shape[1] != width:
                p["dacs"] = np.full((len(p["dacs"]), width, p["dacs"].shape[2]), -1, np.int64)
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def timestamps(self) -> np.ndarray:
        """UTC timestamp of every frame of the stack, datetime64[ns], shape ``(nframes,)``."""
        return self.frame_headers()["timestamp"]

    def exposures(self) -> np.ndarray:
        """Shutter time of every frame of the stack in seconds, shape ``(nframes,)``."""
        return self.frame_headers()["exposure"]

    def close(self) -> None:
        for f in self._files:
            f.close()


class MibStack(ReaderStack):
    """A :class:`ReaderStack` whose ``to_dask`` honours the reader's ``chunks`` option and which
    exposes the per-frame headers."""

    reader: MibReader

    def to_dask(self, chunks: Any = None):
        if chunks is None and self.reader.chunks not in (None, "auto"):
            chunks = self.reader.chunks
        if isinstance(chunks, (tuple, list)) and len(chunks) != self.ndim:
            raise FormatError(
                f"chunks={tuple(chunks)} has {len(chunks)} entries but the stack has "
                f"{self.ndim} dimensions {self.shape} (navigation then frame)",
                self.reader.path,
                "chunks option",
            )
        return super().to_dask(chunks)

    def frame_headers(
        self, start: int = 0, stop: int | None = None, all_frames: bool = False
    ) -> dict[str, np.ndarray]:
        return self.reader.frame_headers(start, stop, all_frames)

    def timestamps(self) -> np.ndarray:
        return self.reader.timestamps()

    def exposures(self) -> np.ndarray:
        return self.reader.exposures()

    def __reduce__(self):
        return (MibStack, (self.reader,))


def open_mib(source: Any, *, follow: bool = False, timeout: float | None = None, **options: Any):
    """``scanstack.open(source, 'mib', **options)``; see :class:`MibReader` for the options.

    ``follow=True``: the file is still being written (:mod:`.follow`); ``timeout`` (s, default
    10) is how long a read waits for a new frame before giving up.
    """
    if follow:
        from .follow import open_follow

        return open_follow(source, **({} if timeout is None else {"timeout": timeout}), **options)
    if timeout is not None:
        raise ValueError("timeout= applies to follow=True only")
    return MibStack(MibReader(source, **options))


# its options are MibReader's plus follow/timeout (the registry checks them)
open_mib.__signature__ = forwarding_signature(open_mib, MibReader)


def sniff(probe) -> float:
    head = probe.head
    if head.startswith(MAGIC):
        return 1.0
    if probe.suffix == ".hdr" and head.startswith(b"HDR,"):
        return 0.9
    if probe.suffix == ".mib":
        return 0.3
    return 0.0

"""Reader for Quantum Detectors Merlin ``.mib`` files (processed ``U08/U16/U32/U64`` and raw ``R64``).

Only the first frame header is parsed to learn the geometry (plus the last frame's header of each
file, to check that the frame size is right); frames are reached through one ``np.memmap`` per file
with a structured dtype ``[('hdr', V<H>), ('px', >u2, (rows, cols))]``, so the pixel field is a
zero-copy strided view of every frame. Raw files are decoded block-wise with numpy
(:mod:`.raw`). The reader's parts: :mod:`.geometry` (frame layout), :mod:`.files` (sources,
split sets, memory maps), :mod:`.scan_shape` (navigation), :mod:`.metadata`; here: opening,
checks, reading and the zero-copy views (``as_array``/``as_packed``) the fast paths fold. Orientation: ``flip=True`` (default) returns RosettaSciIO's ``file_reader`` result
(rows reversed); ``flip=False`` returns the file order (LiberTEM, ``rsciio.load_mib_data``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import FormatError, UnsupportedError
from ...core.reader import Reader, Region, crop, region_shape
from ...core.registry import forwarding_signature
from ...core.stack import ReaderStack
from .._files import file_runs
from . import raw as rawmod
from .files import (  # noqa: F401 - BUFFER_TYPES and the helpers: their import path of old
    BUFFER_TYPES,
    _File,
    _numbered_siblings,
    _same_stem_mib,
    _split_sources,
    _validated_siblings,
)
from .geometry import (  # noqa: F401 - public here too (the live client, follow.py)
    PROCESSED_DTYPES,
    Geometry,
    MibWarning,
    geometry_from_header,
)
from .header import (
    MAGIC,
    PROBE_BYTES,
    FrameHeader,
    find_hdr,
    hdr_int,
    parse_hdr_text,
    parse_header_table,
)
from .metadata import MibMetadata
from .scan_shape import MibScanShape

#: frame headers parsed per block by frame_headers()
HEADER_BLOCK = 16384


class MibReader(MibScanShape, MibMetadata, Reader):
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
    def _read_hdr(self, hdr_option: Any, path: str | None) -> None:
        """``self.hdr_path``/``self.hdr``: the ``.hdr`` given (a path), found beside ``path``
        (``None``/``True``; a buffer has none) or none (``False``), parsed."""
        self.hdr_path: str | None = None
        self.hdr: dict[str, str] | None = None
        if hdr_option is False:
            return
        hp = hdr_option if hdr_option not in (None, True) else (find_hdr(path) if path else None)
        if hp is not None:
            self.hdr_path = os.fspath(hp)
            with open(hp, "rb") as fh:
                self.hdr = parse_hdr_text(fh.read(1 << 20))

    def _open_files(self, hdr_option: Any) -> None:
        f0 = self._files[0]
        if f0.size < PROBE_BYTES:
            raise FormatError(f"{f0.size} bytes is too small for a Merlin frame header", f0.path, 0)
        first = f0.header_at(0)
        self._read_hdr(hdr_option, f0.path)
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

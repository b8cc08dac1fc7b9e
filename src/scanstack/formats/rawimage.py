"""hexrd's ``raw-image``: headerless binary frames, described by YAML or by options.

hexrd's YAML keys, plus the ImageJ-style extras (``gap``, several files, ``nframes``)::

    filename: RUBY_4537.ge        # or  filenames: [a.ge, b.ge]  (relative to the YAML's folder)
    shape: 2048 2048              # "rows cols" (or a list)
    skip: 8192                    # header bytes at the start of each file
    scalar: {type: i, bytes: 2, signed: false, endian: little}   # type i|f|d|b
    gap: 0                        # bytes between consecutive frames (optional)
    nframes: 10                   # frames per file (optional; default: as many as fit)

or directly: ``scanstack.open('data.bin', 'raw-image', shape=(r, c), dtype='<u2', offset=8192,
gap=0, nframes=None)`` (``source`` may also be a list of files). Sizes are checked at open: without
``nframes`` each file must hold a whole number of frames (a trailing gap is allowed). Frames are
read through memory maps (thread-safe, no shared file position) and returned in native byte order.
``signed`` defaults to false and ``endian`` to little.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import FormatError
from ..core.reader import Reader, crop, region_shape
from ..core.registry import FormatSpec, Probe
from ..core.safety import resolve_inside
from ..core.values import whole_number
from ._files import file_runs
from ._hexrd import is_yaml_text, load_yaml, sniff_yaml_key, yaml_section


def scalar_dtype(scalar: dict, path=None) -> np.dtype:
    """hexrd's ``scalar: {type, bytes, signed, endian}`` as a numpy dtype."""
    if not isinstance(scalar, dict):
        raise FormatError(
            f"expected scalar to be a mapping {{type, bytes, signed, endian}}, found {scalar!r}",
            path,
            "scalar",
        )
    kind = str(scalar.get("type", "i"))
    nbytes = whole_number(scalar.get("bytes", {"d": 8, "b": 1}.get(kind, 4)), path, "scalar/bytes")
    signed = bool(scalar.get("signed", False))
    endian = str(scalar.get("endian", "little"))
    if endian not in ("little", "big"):
        raise FormatError(
            f'scalar/endian must be "big" or "little", found {endian!r}', path, "scalar/endian"
        )
    order = "<" if endian == "little" else ">"
    if kind == "i":
        if nbytes not in (1, 2, 4, 8):
            raise FormatError(
                f"scalar/bytes for integers must be 1, 2, 4 or 8, found {nbytes}",
                path,
                "scalar/bytes",
            )
        code = f"{'i' if signed else 'u'}{nbytes}"
    elif kind in ("f", "d"):
        nbytes = 8 if kind == "d" else nbytes
        if nbytes not in (2, 4, 8):
            raise FormatError(
                f"scalar/bytes for floats must be 2, 4 or 8, found {nbytes}", path, "scalar/bytes"
            )
        code = f"f{nbytes}"
    elif kind == "b":
        code = "b1"
    else:
        raise FormatError(f"scalar/type must be i, f, d or b, found {kind!r}", path, "scalar/type")
    return np.dtype(order + code if code != "b1" else "?")


def _shape(value, path) -> tuple[int, int]:
    try:
        parts = value.split() if isinstance(value, str) else list(value)
        shape = tuple(whole_number(p, path, "shape", minimum=1) for p in parts)
    except (TypeError, FormatError) as exc:
        raise FormatError(
            f"expected shape 'rows cols' (two positive integers), found {value!r}", path, "shape"
        ) from exc
    if len(shape) != 2:
        raise FormatError(
            f"expected shape 'rows cols' (two positive integers), found {value!r}", path, "shape"
        )
    return shape


class RawImageReader(Reader):
    """Frames of fixed shape and dtype in one or more headerless binary files.

    Options (when ``source`` is the data file or a list of data files rather than YAML):
    ``shape`` (rows, cols), ``dtype``, ``offset`` (header bytes, alias ``skip``), ``gap`` (bytes
    between frames), ``nframes`` (frames per file, int or one per file), ``allow_outside`` (YAML:
    data files outside the YAML's folder).
    """

    format_name = "raw-image"

    def __init__(
        self,
        source=None,
        *,
        shape=None,
        dtype=None,
        offset: int | None = None,
        skip: int | None = None,
        gap: int = 0,
        nframes=None,
        scalar: dict | None = None,
        allow_outside: bool = False,
    ):
        super().__init__(
            source,
            shape=shape,
            dtype=dtype,
            offset=offset,
            skip=skip,
            gap=gap,
            nframes=nframes,
            scalar=scalar,
            allow_outside=allow_outside,
        )
        self._yaml = None
        if shape is None and dtype is None and scalar is None:
            tree, ypath = load_yaml(source, "raw-image")
            self._yaml = ypath
            files = tree.get("filenames", tree.get("filename"))
            if files is None:
                raise FormatError(
                    "raw-image YAML needs filename: (or filenames: [...])", ypath, "filename"
                )
            files = [files] if isinstance(files, str) else list(files)
            files = [resolve_inside(ypath, str(f), allow_outside) for f in files]
            shape = _shape(yaml_section(tree, "shape", ypath), ypath)
            dt = scalar_dtype(yaml_section(tree, "scalar", ypath), ypath)
            offset = tree.get("skip", tree.get("offset", 0))
            gap = tree.get("gap", 0)
            nframes = tree.get("nframes")
            where_file = ypath
        else:
            if shape is None:
                raise FormatError("raw-image needs shape=(rows, cols)", _first(source), "shape")
            shape = _shape(shape, _first(source))
            if scalar is not None:
                dt = scalar_dtype(scalar, _first(source))
            elif dtype is None:
                raise FormatError("raw-image needs dtype= (e.g. '<u2')", _first(source), "dtype")
            else:
                dt = np.dtype(dtype)
            offset = skip if offset is None else offset
            files = [
                Path(os.fspath(f))
                for f in ([source] if isinstance(source, (str, os.PathLike)) else list(source))
            ]
            where_file = None
        offset = whole_number(offset or 0, where_file, "skip")
        gap = whole_number(gap or 0, where_file, "gap")
        if not files:
            raise FormatError("raw-image: no data files given", where_file, "filenames")
        self.files = [os.fspath(f) for f in files]
        self.offset, self.gap = offset, gap
        self.file_dtype = dt
        self.signal_shape = shape
        self.dtype = dt.newbyteorder("=") if dt.byteorder not in ("=", "|") else dt
        per_file = nframes if isinstance(nframes, (list, tuple)) else [nframes] * len(self.files)
        if len(per_file) != len(self.files):
            raise FormatError(
                f"nframes lists {len(per_file)} counts for {len(self.files)} files",
                where_file,
                "nframes",
            )
        self.counts = [self._count(f, n) for f, n in zip(self.files, per_file, strict=True)]
        self.starts = np.concatenate(([0], np.cumsum(self.counts))).astype(np.int64)
        self.nav_shape = (int(self.starts[-1]),)
        self.metadata = {}
        self.original_metadata = {
            "files": self.files,
            "offset": offset,
            "gap": gap,
            "dtype": dt.str,
            "frames_per_file": self.counts,
        }
        self._maps: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    @property
    def frame_bytes(self) -> int:
        return self.signal_shape[0] * self.signal_shape[1] * self.file_dtype.itemsize

    def _count(self, fname: str, nframes) -> int:
        try:
            size = os.path.getsize(fname)
        except OSError as exc:
            raise FormatError(f"cannot read the raw data file: {exc}", fname) from exc
        fb, gap, off = self.frame_bytes, self.gap, self.offset
        avail = size - off
        what = (
            f"{self.signal_shape[0]}x{self.signal_shape[1]} {self.file_dtype} frames "
            f"({fb} bytes each, gap {gap})"
        )
        if nframes is not None:
            n = whole_number(nframes, fname, "nframes")
            need = n * fb + max(n - 1, 0) * gap
            if n < 0 or need > avail:
                raise FormatError(
                    f"file has {max(avail, 0)} bytes after the {off}-byte header; "
                    f"{n} {what} need {need}",
                    fname,
                    size,
                )
            return n
        if avail < fb:
            raise FormatError(
                f"file has {max(avail, 0)} bytes after the {off}-byte header, "
                f"less than one of the {what}",
                fname,
                size,
            )
        n = (avail + gap) // (fb + gap)
        leftover = avail - (n * fb + (n - 1) * gap)
        if leftover not in (0, gap):
            raise FormatError(
                f"{avail} bytes after the {off}-byte header are not a whole number "
                f"of {what}: {n} frames leave {leftover} bytes; check shape, dtype, "
                f"skip and gap, or pass nframes=",
                fname,
                size,
            )
        return n

    def _view(self, k: int) -> np.ndarray:
        """File ``k`` as a strided (frames, rows, cols) view of a read-only memory map."""
        with self._lock:
            view = self._maps.get(k)
            if view is None:
                n = self.counts[k]
                rows, cols = self.signal_shape
                isz = self.file_dtype.itemsize
                if n == 0:
                    view = np.empty((0, rows, cols), self.file_dtype)
                else:
                    mm = np.memmap(self.files[k], dtype=np.uint8, mode="r")
                    view = np.ndarray(
                        (n, rows, cols),
                        self.file_dtype,
                        buffer=mm,
                        offset=self.offset,
                        strides=(self.frame_bytes + self.gap, cols * isz, isz),
                    )
                self._maps[k] = view
            return view

    def read(self, start, stop, region=None):
        parts = [
            np.array(crop(self._view(k)[a:b], region), dtype=self.dtype)
            for k, a, b, _ in file_runs(self.starts, start, stop)
        ]
        if len(parts) == 1:
            return parts[0]
        if parts:
            return np.concatenate(parts)
        return np.empty((0, *region_shape(region, self.signal_shape)), self.dtype)

    def as_array(self):
        """The memory map of a single file, in the file's dtype (its byte order may differ from
        ``dtype``, as for Merlin files: folds swap big-endian bytes in registers)."""
        if len(self.files) == 1 and np.can_cast(self.file_dtype, self.dtype, "equiv"):
            return self._view(0)
        return None

    def source_paths(self) -> list[str]:
        return list(self.files) + ([os.fspath(self._yaml)] if self._yaml else [])

    @property
    def path(self) -> str | None:
        return os.fspath(self._yaml) if self._yaml else self.files[0]

    def close(self) -> None:
        with self._lock:
            self._maps.clear()  # dropping the views unmaps the files


def _first(source) -> Any:
    if isinstance(source, (str, os.PathLike)) and not is_yaml_text(source):
        return source
    if isinstance(source, (list, tuple)) and source:
        return source[0]
    return None


def sniff(probe: Probe) -> float:
    return (
        0.9 if sniff_yaml_key(probe, rb"scalar") and sniff_yaml_key(probe, rb"filenames?") else 0.0
    )


FORMAT = FormatSpec(
    name="raw-image",
    description="headerless binary frames (hexrd raw-image YAML, or shape=, dtype=, offset=, gap=, "
    "nframes=; several files)",
    extensions=(".yml", ".yaml", ".raw", ".bin", ".ge", ".ge2", ".ge3", ".ge5"),
    reader=RawImageReader,
    sniff=sniff,
    capabilities={"lazy": True, "region": True, "memmap": True, "hexrd": True},
)

"""hexrd's ``frame-cache``: sparse thresholded frames, in three on-disk styles.

- ``npz`` (default): a ``np.savez_compressed`` zip with ``shape`` ``[rows, cols]``, ``nframes``,
  ``dtype`` (bytes), and per frame ``{i}_row``/``{i}_col`` (uint16) and ``{i}_data`` (frame dtype);
  every other key is metadata;
- ``fch5``: HDF5 with attribute ``HEXRD_FRAMECACHE_VERSION = 1`` and datasets ``shape``,
  ``nframes``, ``dtype``, ``data`` (m, 1), ``indices`` (m, 2) uint16, ``frame_ids`` (2n,) uint64
  (frame ``i`` is ``data[frame_ids[2i]:frame_ids[2i+1]]``), Blosc zstd; metadata in ``metadata/``;
- legacy ``yml``: ``{data: {file, dtype, nframes, shape}, meta: {...}}`` pointing to an npz.

Reading is lazy: the header and metadata are read at open, each frame when asked for (npz frames
are separate zip members; only those asked for are decompressed). Nothing is ever unpickled: npz
metadata stored by hexrd as pickled object arrays (``None`` values, hexrd issue #806) are skipped
with a warning. Metadata that hexrd cannot keep in an npz (nested dicts, ``None``, lists of mixed
types) is written by scanstack as one JSON string under the key ``__scanstack_metadata_json__``
and merged back on read; plain arrays and scalars are stored as their own keys, as hexrd does.

Write::

    scanstack.save(stack, "cache.npz", "frame-cache", threshold=10, style="npz")
    scanstack.save(stack, "cache.fch5", "frame-cache", threshold=10, style="fch5")
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import warnings
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import FormatError, UnsupportedError, WriteError, check_fits
from ..core.h5safety import H5_CHUNK_CACHE
from ..core.metadata import to_jsonable
from ..core.progress import Progress
from ..core.readahead import bounded_map
from ..core.reader import Reader, region_shape
from ..core.registry import FormatSpec, Probe
from ..core.resources import UNSET, Resources, renamed, resolve
from ..core.safety import atomic_path, resolve_inside
from ..core.values import cast_exact
from ..core.writing import copy_frames_per_block
from ._hexrd import (
    H5Source,
    LazyPool,
    OptionError,
    StyleError,
    is_yaml_text,
    load_yaml,
    probe_h5,
    sniff_yaml_key,
    yaml_head,
    yaml_section,
    yamlmeta,
)

VERSION_ATTR = "HEXRD_FRAMECACHE_VERSION"
JSON_KEY = "__scanstack_metadata_json__"
HEADER_KEYS = ("shape", "nframes", "dtype")
FRAME_KEY = re.compile(r"^\d+_(row|col|data)$")
MAX_NZ_FRACTION = 0.1  # hexrd warns when more than 10 % of the pixels pass the threshold
MAX_INDEX = 1 << 16  # uint16 indices address at most 65536 rows/cols
ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
STYLES = {"npz": "npz", "fch5": "fch5", "yml": "yml", "yaml": "yml", "test": "yml"}


def check_style(style: str | None, source: Any = None) -> str | None:
    """The canonical reading style (``'npz'``, ``'fch5'``, ``'yml'``) of ``style``, or None.

    Raises :class:`StyleError` (also a ``TypeError``, as hexrd) for an unknown style, before any
    file is touched.
    """
    if not style:
        return None
    if style not in STYLES:
        name = source if isinstance(source, (str, os.PathLike)) else None
        raise StyleError(
            f"unknown frame-cache style {style!r}; expected one of npz, fch5, yml", name, "style"
        )
    return STYLES[style]


def _text(value) -> str:
    value = value.item() if isinstance(value, np.ndarray) else value
    return value.decode() if isinstance(value, bytes) else str(value)


# -- npz members, read on demand -----------------------------------------------------------
class PickledArrayError(FormatError):
    """An npz member that is a pickled object array (refused: unpickling runs code)."""


class NpzMembers:
    """The arrays of an ``.npz``, read one member at a time, without pickle.

    Each thread gets its own ``ZipFile`` so frames decompress in parallel; member lookup is a dict
    (``np.load``'s ``NpzFile`` scans a list per key).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._local = threading.local()
        self._handles: list[zipfile.ZipFile] = []
        self._lock = threading.Lock()
        #: member name (without .npy) -> its declared uncompressed size, from the zip directory
        self.sizes = {
            info.filename[:-4]: info.file_size
            for info in self.zip().infolist()
            if info.filename.endswith(".npy")
        }
        self.names = set(self.sizes)

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

    def load(self, key: str, max_items: int | None = None) -> np.ndarray:
        """Member ``key`` as an array, checked before anything is allocated.

        The ``.npy`` header's shape and dtype must account for exactly the member's declared
        size, which must fit in the memory budget (and hold at most ``max_items`` values when
        given); the bytes are then inflated as a stream into the array, never more than
        declared (a zip bomb stops at its declared size and fails its CRC check).
        """
        if key not in self.names:
            raise FormatError(
                f"expected the array {key!r} in the npz, it is missing", self.path, key
            )
        try:
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

    def _read_npy(self, fh, key: str, max_items: int | None) -> np.ndarray:
        fmt = np.lib.format
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fh)
        else:
            raise FormatError(f"unsupported .npy version {version} in {key!r}", self.path, key)
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
        self._local = threading.local()


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


def _check_header(
    path, shape, nframes, dtype, where: str = ""
) -> tuple[tuple[int, int], int, np.dtype]:
    try:
        shape_t = tuple(int(n) for n in np.asarray(shape).reshape(-1))
        n = int(np.asarray(nframes).reshape(-1)[0]) if np.size(nframes) else -1
    except (TypeError, ValueError) as exc:
        raise FormatError(
            f"frame-cache header: shape/nframes are not integers: {exc}", path, where or "shape"
        ) from exc
    if len(shape_t) != 2 or min(shape_t) < 0:
        raise FormatError(
            f"frame-cache header: expected shape [rows, cols], found {shape_t}",
            path,
            where + "shape",
        )
    if n < 0:
        raise FormatError(
            f"frame-cache header: expected nframes >= 0, found {n}", path, where + "nframes"
        )
    try:
        dt = np.dtype(_text(dtype))
    except TypeError as exc:
        raise FormatError(
            f"frame-cache header: unknown dtype {_text(dtype)!r}", path, where + "dtype"
        ) from exc
    if dt.kind not in "biuf":
        raise FormatError(
            f"frame-cache header: expected a numeric dtype, found {dt}", path, where + "dtype"
        )
    return shape_t, n, dt


class FrameCacheReader(Reader):
    """hexrd ``frame-cache`` reader (npz, fch5 or legacy yml).

    Options: ``style`` (``'npz'``, ``'fch5'``, ``'yml'``; auto-detected from the content when
    omitted), ``path`` (fch5 group inside the file), ``allow_outside`` (yml: let the npz and
    ``load-numpy-array`` files live outside the YAML's folder; fch5: links, virtual sources and
    external storage outside the file's folder), ``threads`` (threads used to decompress the
    frames of a block; ``max_workers``, hexrd's name, is accepted with a DeprecationWarning
    here and without one through :mod:`scanstack.imageseries`).
    """

    format_name = "frame-cache"

    def __init__(
        self,
        source=None,
        *,
        style: str | None = None,
        path: str | None = None,
        allow_outside: bool = False,
        threads: int | None = None,
        max_workers: int | None = UNSET,
    ):
        import h5py

        threads = renamed(threads, max_workers, "max_workers", "threads", "frame-cache")
        super().__init__(
            source, style=style, path=path, allow_outside=allow_outside, threads=threads
        )
        self._members: NpzMembers | None = None
        self._h5: H5Source | None = None
        self._pool = LazyPool(threads)
        self.threads = threads
        given = style
        style = check_style(style, self._name(source))
        if isinstance(source, h5py.Group):
            detected = "fch5"
        elif is_yaml_text(source):
            detected = "yml"
        else:
            with open(os.fspath(source), "rb") as fh:
                head = fh.read(8)
            detected = (
                "npz"
                if head.startswith(ZIP_MAGIC)
                else "fch5"
                if head.startswith(HDF5_MAGIC)
                else "yml"
            )
        if style is not None and style != detected:
            found = {"npz": "a zip (npz)", "fch5": "an HDF5 file", "yml": "neither zip nor HDF5"}[
                detected
            ]
            raise FormatError(
                f"expected a {given} frame-cache, found {found}", self._name(source), "style"
            )
        self.style = detected
        skipped: list[str] = []
        if detected == "npz":
            self._open_npz(os.fspath(source), skipped)
        elif detected == "fch5":
            self._open_fch5(source, path, allow_outside)
        else:
            self._open_yml(source, allow_outside, skipped)
        self.nav_shape = (self._nframes,)
        self.original_metadata = {"style": self.style, "file": self._name(source)}
        if skipped:
            self.original_metadata["skipped_pickled_metadata"] = skipped

    @staticmethod
    def _name(source) -> str | None:
        import h5py

        if isinstance(source, h5py.Group):
            return source.file.filename
        return None if is_yaml_text(source) else os.fspath(source)

    # -- the three styles --------------------------------------------------------------------
    def _open_npz(self, fname: str, skipped: list[str], header=None) -> None:
        self._members = NpzMembers(fname)
        if header is None:
            missing = [k for k in HEADER_KEYS if k not in self._members.names]
            if missing:
                raise FormatError(
                    f"expected an npz frame-cache with keys shape, nframes, dtype; "
                    f"missing {', '.join(missing)}",
                    fname,
                    missing[0],
                )
            header = [self._members.load(k) for k in HEADER_KEYS]
            self.metadata = _npz_metadata(self._members, skipped)
        self.signal_shape, self._nframes, self.dtype = _check_header(fname, *header)
        self._file = fname

    def _open_fch5(self, source, path, allow_outside: bool) -> None:
        import h5py

        self._h5 = H5Source(source, path, allow_outside)
        group = self._h5.group("frame-cache fch5")
        fname = self._h5.filename
        self._file = fname
        version = group.attrs.get(VERSION_ATTR)
        flat = np.asarray(version).reshape(-1)
        if version is None or flat.size != 1 or flat.dtype.kind not in "iuf" or flat[0] != 1:
            raise FormatError(
                f"expected an fch5 frame-cache with attribute {VERSION_ATTR} = 1, "
                f"found {version!r}",
                fname,
                self._h5.group_path,
            )
        need = ("shape", "nframes", "dtype", "data", "indices", "frame_ids")
        missing = [k for k in need if not isinstance(group.get(k), h5py.Dataset)]
        if missing:
            raise FormatError(
                f"expected fch5 datasets {', '.join(need)}; missing {', '.join(missing)}",
                fname,
                missing[0],
            )
        g = self._h5.group_path.rstrip("/") + "/"
        for key, most in (("shape", 2), ("nframes", 1), ("dtype", 1)):
            if group[key].size > most:  # look before reading: a header may claim GiB
                raise FormatError(
                    f"frame-cache header: expected {key} of at most {most} value(s), found a "
                    f"dataset of shape {group[key].shape}",
                    fname,
                    g + key,
                )
        self.signal_shape, self._nframes, self.dtype = _check_header(
            fname, group["shape"][()], group["nframes"][()], group["dtype"][()], g
        )
        data, indices = group["data"], group["indices"]
        if (
            data.ndim != 2
            or indices.ndim != 2
            or indices.shape[1] != 2
            or data.shape[0] != indices.shape[0]
        ):
            raise FormatError(
                f"expected data (m, 1) and indices (m, 2), found {data.shape} and {indices.shape}",
                fname,
                g + "indices",
            )
        fids = group["frame_ids"]
        if fids.dtype.kind not in "iu":  # 2.5 must not silently become 2
            raise FormatError(
                f"expected integer frame_ids, found {fids.dtype}", fname, g + "frame_ids"
            )
        if fids.shape != (2 * self._nframes,):  # checked before it is read
            raise FormatError(
                f"expected frame_ids of shape ({2 * self._nframes},), found {fids.shape}",
                fname,
                g + "frame_ids",
            )
        check_fits(fids.size * 16, f"frame_ids of {self._nframes} frames", fname, g + "frame_ids")
        try:
            ids = np.asarray(fids[()], dtype=np.int64)
        except (OSError, ValueError) as exc:
            raise FormatError(
                f"cannot read frame_ids (corrupt?): {exc}", fname, g + "frame_ids"
            ) from exc
        self._ids = ids.reshape(-1, 2)
        if self._ids.size and (
            np.any(self._ids[:, 1] < self._ids[:, 0])
            or self._ids.min() < 0
            or self._ids.max() > data.shape[0]
        ):
            raise FormatError(
                f"frame_ids point outside data (length {data.shape[0]})", fname, g + "frame_ids"
            )
        from ..core.h5tree import group_to_dict

        meta = group.get("metadata")
        self.metadata = group_to_dict(meta) if isinstance(meta, h5py.Group) else {}

    def _open_yml(self, source, allow_outside: bool, skipped: list[str]) -> None:
        tree, ypath = load_yaml(source, "frame-cache")
        data = yaml_section(tree, "data", ypath)
        if not isinstance(data, dict):
            raise FormatError(
                "expected 'data' to be a mapping with file, dtype, nframes, shape", ypath, "data"
            )
        for key in ("file", "dtype", "nframes", "shape"):
            yaml_section(data, key, ypath)
        npz = resolve_inside(ypath, str(data["file"]), allow_outside)
        if not npz.is_file():
            raise FormatError(f"data/file: {npz} does not exist", ypath, "data/file")
        shape = data["shape"]
        if isinstance(shape, str):
            shape = shape.split()
        self._open_npz(os.fspath(npz), skipped, (shape, data["nframes"], data["dtype"]))
        self._yaml = ypath
        self.metadata = yamlmeta(tree.get("meta") or {}, ypath, allow_outside)

    # -- reading -----------------------------------------------------------------------------
    def source_paths(self) -> list[str]:
        paths = [self._file]
        if getattr(self, "_yaml", None) is not None:
            paths.append(os.fspath(self._yaml))
        return paths

    @property
    def path(self) -> str | None:
        return self._file

    def sparse_frame(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame ``i`` as ``(rows, cols, values)`` (the stored sparse form)."""
        if self._members is not None:
            most = math.prod(self.signal_shape)  # a frame cannot hold more pixels than it has
            row = self._members.load(f"{i}_row", most)
            col = self._members.load(f"{i}_col", most)
            data = self._members.load(f"{i}_data", most)
            return self._checked(i, row.reshape(-1), col.reshape(-1), data.reshape(-1))
        return self._fch5_frames(i, i + 1)[0]

    def _checked(self, i, row, col, data, where=None):
        """The sparse frame ``i`` when it can only mean one thing: integer pixel indices inside
        the frame (a negative index would wrap around to the other edge), values that fit the
        declared dtype (999 into uint8 would wrap to 231), equal lengths."""
        for name, idx in (("row", row), ("col", col)):
            if idx.dtype.kind not in "iu":
                raise FormatError(
                    f"frame {i}: expected integer pixel indices, found {idx.dtype}",
                    self._file,
                    where or f"{i}_{name}",
                )
        if not (row.shape == col.shape == data.shape):
            raise FormatError(
                f"frame {i}: row, col and data lengths differ ({row.size}, "
                f"{col.size}, {data.size})",
                self._file,
                where or f"{i}_data",
            )
        rows, cols = self.signal_shape
        if row.size:
            lo, hi = min(int(row.min()), int(col.min())), (int(row.max()), int(col.max()))
            if lo < 0 or hi[0] >= rows or hi[1] >= cols:
                raise FormatError(
                    f"frame {i}: expected pixel indices inside the {rows}x{cols} frame, found "
                    f"rows {int(row.min())}..{hi[0]}, cols {int(col.min())}..{hi[1]}",
                    self._file,
                    where or f"{i}_row",
                )
        data = cast_exact(data, self.dtype, self._file, where or f"{i}_data")
        return row, col, data

    def _fch5_frames(self, start: int, stop: int):
        """Frames ``start:stop`` as ``(rows, cols, values)``; nearby ranges are read together.

        hexrd writes frames in thread-completion order, so consecutive frames may lie apart:
        the ranges are sorted and merged when the gap between them is small.
        """
        group = self._h5.group("frame-cache fch5")
        data_ds, idx_ds = group["data"], group["indices"]
        ids = self._ids[start:stop]
        where = self._h5.group_path.rstrip("/") + "/data"
        parts: dict[int, tuple] = {}
        try:
            order = np.argsort(ids[:, 0], kind="stable")
            k = 0
            while k < len(order):
                lo, hi, group_end = int(ids[order[k], 0]), int(ids[order[k], 1]), k + 1
                while (
                    group_end < len(order)
                    and int(ids[order[group_end], 0]) <= hi + 65536
                    and int(ids[order[group_end], 1]) - lo <= 2 * SPARSE_GROUP
                ):
                    hi = max(hi, int(ids[order[group_end], 1]))
                    group_end += 1
                data = data_ds[lo:hi, 0] if hi > lo else np.empty(0, self.dtype)
                idx = idx_ds[lo:hi] if hi > lo else np.empty((0, 2), np.uint16)
                for f in order[k:group_end]:
                    a, b = int(ids[f, 0]) - lo, int(ids[f, 1]) - lo
                    parts[int(f)] = (idx[a:b, 0], idx[a:b, 1], data[a:b])
                k = group_end
        except (OSError, ValueError) as exc:
            raise FormatError(
                f"cannot read frames {start}:{stop} (corrupt or truncated?): {exc}",
                self._file,
                where,
            ) from exc
        return [self._checked(start + f, *parts[f], where) for f in range(len(ids))]

    def read(self, start, stop, region=None):
        out = np.zeros((stop - start, *region_shape(region, self.signal_shape)), self.dtype)
        self._fill_frames(start, stop, out, region)
        return out

    def read_into(self, start, stop, out, region=None, *, zeroed=False) -> None:
        """Sparse frames scattered straight into ``out`` (cleared first unless ``zeroed``)."""
        if not zeroed:
            out.fill(0)
        self._fill_frames(start, stop, out, region)

    def _fill_frames(self, start, stop, out, region) -> None:
        """Scatter frames ``start:stop`` into ``out`` (which holds zeros)."""
        if self._members is not None:

            def fill(i: int) -> None:
                _scatter(out[i - start], *self.sparse_frame(i), region)

            frames = range(start, stop)
            if len(frames) > 2:  # decompress in threads, one frame per thread at a time
                for _ in bounded_map(self._pool.get(), fill, frames, self._pool.size()):
                    pass
            else:
                for i in frames:
                    fill(i)
            return
        for a, b in self._fch5_groups(start, stop):
            for k, frame in enumerate(self._fch5_frames(a, b)):
                _scatter(out[a - start + k], *frame, region)

    def _fch5_groups(self, start: int, stop: int) -> list[tuple[int, int]]:
        """Runs of frames ``start:stop`` holding about :data:`SPARSE_GROUP` stored values each
        (at least one frame), read one run at a time."""
        sizes = self._ids[start:stop, 1] - self._ids[start:stop, 0]
        groups, a, held = [], start, 0
        for k, size in enumerate(sizes):
            if held and held + size > SPARSE_GROUP:
                groups.append((a, start + k))
                a, held = start + k, 0
            held += int(size)
        if stop > a:
            groups.append((a, stop))
        return groups

    def read_overhead(self) -> int:
        item = 4 + self.dtype.itemsize  # uint16 row and col, and the value
        if self._members is not None:
            # per thread: a frame's members (declared sizes) and the scatter's index arrays
            return self._pool.size() * (self._members.frame_bytes() + _SCATTER_BYTES)
        largest = int((self._ids[:, 1] - self._ids[:, 0]).max()) if self._ids.size else 0
        # one run of frames read at once (_fch5_frames merges nearby ranges up to a span of
        # 2 * SPARSE_GROUP values), the scatter's index arrays and the chunk caches of the data
        # and indices datasets
        return max(2 * SPARSE_GROUP, largest) * item + _SCATTER_BYTES + 2 * H5_CHUNK_CACHE

    def close(self) -> None:
        if self._members is not None:
            self._members.close()
        if self._h5 is not None:
            self._h5.close()
        self._pool.shutdown()

    def _picklable(self, source, options):
        if self._h5 is not None:  # the source may be an open h5py File or Group
            return self._h5.filename, dict(options, path=self._h5.group_path, style="fch5")
        return source, options


#: stored values read at once from an fch5: one HDF5 chunk as scanstack and hexrd write them
#: (384 KiB of uint16 data and indices)
SPARSE_GROUP = 1 << 16
#: values scattered into a frame at once: bounds the index arrays numpy makes (about 0.5 MiB)
_SCATTER_STEP = 1 << 14
_SCATTER_BYTES = _SCATTER_STEP * 33


def _scatter(frame: np.ndarray, row, col, data, region) -> None:
    """``frame[row, col] = data`` (cut to ``region``) in steps of :data:`_SCATTER_STEP` values,
    so the intp index arrays numpy builds stay small whatever the number of values."""
    for i in range(0, row.size, _SCATTER_STEP):
        r, c, v = (a[i : i + _SCATTER_STEP] for a in (row, col, data))
        if region is not None:
            rs, cs = region
            keep = (r >= rs.start) & (r < rs.stop) & (c >= cs.start) & (c < cs.stop)
            r = r[keep].astype(np.intp) - rs.start
            c = c[keep].astype(np.intp) - cs.start
            v = v[keep]
        frame[r, c] = v


# -- writing -----------------------------------------------------------------------------------
def _extract(frame: np.ndarray, threshold) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels with ``value > threshold`` in row-major order: (rows uint16, cols uint16, values)."""
    flat = frame.reshape(-1)
    idx = np.flatnonzero(flat > threshold)
    rows, cols = np.divmod(idx, frame.shape[1])
    return rows.astype(np.uint16), cols.astype(np.uint16), flat[idx]


def _extract_encoded(frame: np.ndarray, threshold, encode):
    r, c, v = _extract(frame, threshold)
    return r, c, v, (encode(r, c, v) if encode is not None else None)


def sparse_frames(
    stack,
    threshold,
    res: Resources,
    warn_limit: int = 5,
    encode=None,
):
    """Yield ``(i, rows, cols, values, encoded)`` for every frame of ``stack``, in order.

    Blocks are read in the background and frames thresholded in ``res.threads`` threads (the
    numpy work releases the GIL); ``encode(rows, cols, values)``, when given, also runs in the
    threads (``encoded`` is None otherwise). Warns like hexrd when a frame keeps more than 10 %
    of its pixels (the first ``warn_limit`` such frames one by one, then a count). Blocks are
    sized so that they and their sparse copies (at most as large, for a sparse frame) fit
    ``res.memory_budget`` (:func:`scanstack.core.writing.copy_frames_per_block`).
    """
    rows, cols = stack.signal_shape
    size = rows * cols
    dense = 0
    fpb = copy_frames_per_block(stack, res)
    with (
        ThreadPoolExecutor(res.threads) as pool,
        Progress(stack.nframes, res.progress, "frame-cache", "frames") as bar,
    ):
        for a, _b, block in stack.iter_blocks(fpb):
            n = len(block)
            results = pool.map(_extract_encoded, block, [threshold] * n, [encode] * n)
            for k, (r, c, v, e) in enumerate(results):
                i = a + k
                if size and r.size / size > MAX_NZ_FRACTION:
                    dense += 1
                    if dense <= warn_limit:
                        pct = 100.0 * (1 - r.size / size)
                        warnings.warn(
                            f"frame {i} is {pct:4.2f}% sparse (cutoff is 95%)",
                            UserWarning,
                            stacklevel=4,
                        )
                yield i, r, c, v, e
            bar.update(n)
    if dense > warn_limit:
        warnings.warn(
            f"... and {dense - warn_limit} more frames above {MAX_NZ_FRACTION:.0%} "
            "non-zero: is the threshold too low?",
            UserWarning,
            stacklevel=3,
        )


def _split_metadata(metadata: dict) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """npz metadata: arrays stored as hexrd does, the rest (nested, None, mixed) as JSON."""
    arrays, rest = {}, {}
    for key, value in (metadata or {}).items():
        key = str(key)
        reserved = key in HEADER_KEYS or key == JSON_KEY or FRAME_KEY.match(key)
        arr = None
        if not reserved and value is not None and not isinstance(value, dict):
            try:
                arr = np.asarray(value)
            except ValueError:  # ragged lists
                arr = None
            if arr is not None and arr.dtype.kind in "OV":
                arr = None
        if arr is None:
            rest[key] = to_jsonable(value)
        else:
            arrays[key] = arr
    return arrays, rest


def _write_npz(stack, out: Path, threshold, res: Resources, level: int = 6) -> None:
    """hexrd's npz layout (as ``np.savez_compressed``), members deflated in the worker threads."""
    from functools import partial

    from ._npzwriter import NpzWriter, deflate_npy

    encode = partial(_deflate_sparse, level=level)
    with open(out, "wb") as fh:
        zw = NpzWriter(fh)
        for i, _r, _c, _v, members in sparse_frames(stack, threshold, res, encode=encode):
            for key, member in zip(("row", "col", "data"), members, strict=True):
                member.name = f"{i}_{key}.npy".encode("ascii")
                zw.add(member)
        header = {
            "shape": np.array(stack.signal_shape),
            "nframes": np.array(stack.nframes),
            "dtype": np.array(str(np.dtype(stack.dtype)).encode()),
        }
        arrays, rest = _split_metadata(dict(stack.metadata or {}))
        if rest:
            arrays[JSON_KEY] = np.array(json.dumps(rest))
        for key, arr in {**header, **arrays}.items():
            zw.add(deflate_npy(key, arr, level))
        zw.close()


def _deflate_sparse(r, c, v, level: int = 6):
    from ._npzwriter import deflate_npy

    return [deflate_npy("", a, level) for a in (r, c, v)]


def _write_fch5(stack, group, threshold, res: Resources) -> None:
    import hdf5plugin

    from ..core.h5tree import dict_to_group

    blosc = dict(hdf5plugin.Blosc(cname="zstd", clevel=5))
    n = stack.nframes
    try:
        group.attrs[VERSION_ATTR] = 1
        group.create_dataset("shape", data=np.array(stack.signal_shape, dtype=np.int64))
        group.create_dataset("nframes", data=np.int64(n))
        group.create_dataset("dtype", data=np.bytes_(str(np.dtype(stack.dtype))))
        chunk = 1 << 16
        data = group.create_dataset(
            "data", shape=(0, 1), maxshape=(None, 1), chunks=(chunk, 1), dtype=stack.dtype, **blosc
        )
        indices = group.create_dataset(
            "indices", shape=(0, 2), maxshape=(None, 2), chunks=(chunk, 2), dtype=np.uint16, **blosc
        )
    except ValueError as exc:
        raise WriteError(
            f"frame-cache fch5: cannot create the datasets in {group.file.filename}"
            f":{group.name}: {exc}"
        ) from exc
    ids = np.zeros((n, 2), np.uint64)
    pos = 0
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pending_len = 0

    def flush() -> None:
        nonlocal pos, pending_len
        if not pending_len:
            pending.clear()
            return
        end = pos + pending_len
        data.resize((end, 1))
        indices.resize((end, 2))
        data[pos:end, 0] = np.concatenate([p[2] for p in pending])
        indices[pos:end] = np.stack(
            [np.concatenate([p[0] for p in pending]), np.concatenate([p[1] for p in pending])],
            axis=1,
        )
        pos = end
        pending.clear()
        pending_len = 0

    # sparse values gathered before a write: 4 Mi of them, fewer if the budget asks for it
    # (each value holds its datum and two uint16 indices, and is copied once more to write)
    per_value = 2 * (np.dtype(stack.dtype).itemsize + 4)
    flush_at = max(1, min(1 << 22, res.memory_budget // (4 * per_value)))
    for i, r, c, v, _ in sparse_frames(stack, threshold, res):
        ids[i] = (pos + pending_len, pos + pending_len + r.size)
        pending.append((r, c, v))
        pending_len += r.size
        if pending_len >= flush_at:
            flush()
    flush()
    group.create_dataset("frame_ids", data=ids.reshape(-1), **blosc)
    # always present: hexrd's reader opens metadata/ unconditionally
    dict_to_group(group.create_group("metadata"), dict(stack.metadata or {}))


def write_framecache(
    stack,
    fname,
    *,
    threshold=None,
    style: str | None = None,
    cache_file=None,
    path: str | None = None,
    output_yaml=None,
    client=None,
    threads: int | None = None,
    progress=None,
    memory_budget: int | None = None,
    overwrite: bool = False,
    max_workers: int | None = UNSET,
) -> Any:
    """Write ``stack`` as a hexrd frame-cache, keeping pixels with ``value > threshold``.

    ``style`` is ``'npz'`` (a ``.npz`` suffix is appended when missing, as numpy does) or
    ``'fch5'``; by default ``'fch5'`` for an open h5py group or a name ending in ``.fch5``,
    else ``'npz'``. ``cache_file`` (relative to the folder of ``fname``) overrides ``fname``.
    ``fname`` may be an open ``h5py.File``/``Group`` for fch5, with the group ``path`` inside it.
    Frames must be 2-D with at most 65536 rows and columns (indices are uint16). Returns the path
    written (or the group). ``threads`` threshold and compress the frames (``max_workers`` is
    its deprecated name; hexrd's name through :mod:`scanstack.imageseries`); ``progress``,
    ``memory_budget``: as everywhere (:mod:`scanstack.core.resources`); ``client`` is refused
    (the frames are thresholded here, in order).
    """
    import h5py

    threads = renamed(threads, max_workers, "max_workers", "threads", "write_framecache")
    if client is not None:
        raise UnsupportedError("frame-cache: written in this process; client= is not supported")
    res = resolve(threads=threads, progress=progress, memory_budget=memory_budget)

    if style is None:  # 'out.fch5' must not silently become an npz named 'out.fch5.npz'
        name = cache_file if cache_file is not None else fname
        fch5 = isinstance(name, h5py.Group) or (
            name is not None and Path(os.fspath(name)).suffix.lower() == ".fch5"
        )
        style = "fch5" if fch5 else "npz"
    if threshold is None:
        raise OptionError("frame-cache: write needs threshold= (pixels > threshold are kept)")
    if style not in ("npz", "fch5"):
        raise OptionError(f"frame-cache: Unknown file style {style!r}; expected 'npz' or 'fch5'")
    if output_yaml:
        warnings.warn(
            "frame-cache: output_yaml is deprecated and ignored (as in hexrd)",
            DeprecationWarning,
            stacklevel=2,
        )
    if len(stack.signal_shape) != 2:
        raise WriteError(
            f"frame-cache stores 2-D frames, this stack has frames of shape {stack.signal_shape}"
        )
    if max(stack.signal_shape) > MAX_INDEX:
        raise WriteError(
            f"frame-cache stores row/col indices as uint16: frames of "
            f"{stack.signal_shape[0]}x{stack.signal_shape[1]} exceed 65536 rows "
            "or columns"
        )
    if np.dtype(stack.dtype).kind not in "biuf":
        raise WriteError(f"frame-cache stores numeric frames, not {np.dtype(stack.dtype)}")
    if isinstance(fname, h5py.Group):
        if style != "fch5":
            raise OptionError("frame-cache: an open h5py file/group needs style='fch5'")
        group = fname.require_group(path) if path else fname
        _write_fch5(stack, group, threshold, res)
        return group
    if fname is None and cache_file is None:
        raise OptionError("frame-cache: give a file name (or cache_file=)")
    out = Path(os.fspath(fname if fname is not None else cache_file))
    if cache_file is not None:
        cache = Path(os.fspath(cache_file))
        out = cache if cache.is_absolute() else out.parent / cache
    if style == "npz" and out.suffix != ".npz":
        out = out.with_name(out.name + ".npz")
    with atomic_path(out, overwrite=overwrite, inputs=stack.source_paths()) as tmp:
        if style == "npz":
            _write_npz(stack, tmp, threshold, res)
        else:
            with h5py.File(tmp, "w") as f:
                group = f.require_group(path) if path else f
                _write_fch5(stack, group, threshold, res)
    return os.fspath(out)


def sniff(probe: Probe) -> float:
    head = probe.head
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(probe.path) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError, TypeError):
            return 0.0
        if {"shape.npy", "nframes.npy", "dtype.npy"} <= names:
            return 0.95
        return 0.0
    f = probe_h5(probe)
    if f is not None:
        return 0.95 if VERSION_ATTR in f.attrs else 0.0
    if sniff_yaml_key(probe, rb"data") and re.search(rb"\bfile\s*:", yaml_head(probe)):
        return 0.6
    return 0.0


FORMAT = FormatSpec(
    name="frame-cache",
    description="hexrd frame-cache: sparse thresholded frames (npz, fch5, legacy yml); "
    "write options threshold=, style=, cache_file=",
    extensions=(".npz", ".fch5"),
    reader=FrameCacheReader,
    writer=write_framecache,
    sniff=sniff,
    capabilities={"lazy": True, "region": True, "write": True, "hexrd": True, "sparse": True},
)

"""The frame-cache reader: npz, fch5 or legacy yml, frames scattered into place."""

from __future__ import annotations

import math
import os

import numpy as np

from ...core.errors import FormatError, check_fits
from ...core.h5safety import H5_CHUNK_CACHE
from ...core.reader import Reader, region_shape
from ...core.resources import UNSET, renamed
from ...core.safety import resolve_inside
from ...core.values import cast_exact
from .._hexrd import H5Source, LazyPool, is_yaml_text, load_yaml, yaml_section, yamlmeta
from ._layout import HDF5_MAGIC, HEADER_KEYS, VERSION_ATTR, ZIP_MAGIC, _check_header, check_style
from .npz import NpzMembers, _npz_metadata


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
        from ...core.h5tree import group_to_dict

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
            row = self._members.load(f"{i}_row", most, readonly=True)
            col = self._members.load(f"{i}_col", most, readonly=True)
            data = self._members.load(f"{i}_data", most, readonly=True)
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
        """Scatter frames ``start:stop`` into ``out`` (C-contiguous, holding zeros)."""
        if self._members is not None:

            def fill(a: int, b: int) -> None:
                for i in range(start + a, start + b):
                    _scatter(out[i - start], *self.sparse_frame(i), region)

            # npz: one run of frames per thread (members inflate without the GIL)
            self._pool.each_run(fill, stop - start)
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
    """``frame[row, col] = data`` (cut to ``region``) in steps of :data:`_SCATTER_STEP` values.

    Through flat indices ``row * cols + col`` into a C-contiguous frame: numpy's 1-D fancy
    assignment is 3-5x faster than the 2-D one with uint16 index arrays, and the intp index
    array it builds stays small (one step) whatever the number of values.
    """
    flat = frame.reshape(-1) if frame.flags.c_contiguous else None  # else reshape would copy
    cols = frame.shape[1]
    for i in range(0, row.size, _SCATTER_STEP):
        r, c, v = (a[i : i + _SCATTER_STEP] for a in (row, col, data))
        if region is not None:
            rs, cs = region
            keep = (r >= rs.start) & (r < rs.stop) & (c >= cs.start) & (c < cs.stop)
            r, c, v = r[keep] - rs.start, c[keep] - cs.start, v[keep]
        if flat is None:
            frame[r, c] = v
            continue
        k = r.astype(np.intp)
        k *= cols
        k += c
        flat[k] = v

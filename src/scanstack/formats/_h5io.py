"""HDF5 side of the interchange formats: readers over one file or one N-D dataset, attribute
trees, per-position arrays as datasets. Writing the files (atomically, block-wise, in
parallel) is :mod:`._h5write`, whose names are importable from here too."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.metadata import to_jsonable
from ..core.reader import Region
from ..core.stack import Stack
from ._h5write import (  # noqa: F401 - re-exported: the writers' names, importable from here
    FILE_CHUNK_BYTES,
    WRITE_CHUNK_CACHE,
    H5Target,
    h5_encoder,
    new_h5,
    write_blocks,
    write_h5_file,
)
from ._interchange import (
    POSITION_KEYS,
    as_str,
    chunk_scratch,
    extra_positions,
    position_arrays,
    read_flat_range,
)

#: longest list stored as an array attribute: HDF5 refuses attributes over 64 KiB in the object
#: header (8-byte numbers, 16-byte string references); longer lists go as JSON text, which HDF5
#: keeps in the global heap
MAX_ATTR_LIST = 2048


def attr_value(value: Any) -> Any:
    """A JSON-able value as HDF5 attribute data the way sidpy writes metadata: str, bool and
    numbers as they are, lists of strings or of numbers (up to :data:`MAX_ATTR_LIST`) as arrays,
    anything else (longer lists, lists of dicts, nested or mixed lists) as JSON text; None for
    None (nothing to write)."""
    import json

    import h5py

    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, list) and 0 < len(value) <= MAX_ATTR_LIST:
        if all(isinstance(v, str) for v in value):
            return np.array(value, dtype=h5py.string_dtype())
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return np.asarray(value)
    return json.dumps(value)


def small_tree(group, max_elements: int = 256, depth: int = 4) -> dict[str, Any]:
    """Attributes and small datasets of an HDF5 group as a plain dict (big arrays are skipped)."""
    import h5py

    out: dict[str, Any] = {}
    attrs = {k: _plain(v) for k, v in group.attrs.items() if not _is_reference(v)}
    if attrs:
        out["@attrs"] = attrs
    if depth <= 0:
        return out
    for key in group:
        link = group.get(key, getlink=True)
        if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
            out[key] = f"-> {getattr(link, 'path', '')}"
            continue
        item = group.get(key)
        if isinstance(item, h5py.Group):
            out[key] = small_tree(item, max_elements, depth - 1)
        elif isinstance(item, h5py.Dataset):
            if (
                item.shape is not None
                and math.prod(item.shape) <= max_elements
                and item.dtype.kind in "biufcSUOT"
                and item.dtype.kind != "V"
            ):
                try:
                    out[key] = _plain(item[()])
                except (TypeError, ValueError, OSError):
                    out[key] = f"<dataset {item.shape} {item.dtype}>"
            else:
                out[key] = f"<dataset {item.shape} {item.dtype}>"
    return out


def _is_reference(value: Any) -> bool:
    import h5py

    if isinstance(value, (h5py.Reference, h5py.RegionReference)):
        return True
    return (
        isinstance(value, np.ndarray)
        and value.dtype.kind == "O"
        and value.size > 0
        and isinstance(value.reshape(-1)[0], (h5py.Reference, h5py.RegionReference, np.ndarray))
    )


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.dtype.kind in "OS":
        return [as_str(v) for v in value.reshape(-1)]
    return to_jsonable(value)


def find_datasets(f, test: Callable[[Any], bool]) -> list[str]:
    """Absolute paths of every object of ``f`` for which ``test(obj)`` holds, sorted (how the
    USID and NSID readers find their Main datasets)."""
    found: list[str] = []

    def visit(name, obj):
        if test(obj):
            found.append("/" + name)

    f.visititems(visit)
    return sorted(found)


def resolve_link(group, name: str) -> str:
    """Absolute path of ``group[name]`` after following soft links (for locating siblings)."""
    import h5py

    path = f"{group.name.rstrip('/')}/{name}"
    for _ in range(16):
        parent, _, leaf = path.rpartition("/")
        link = group.file[parent or "/"].get(leaf, getlink=True)
        if isinstance(link, h5py.SoftLink):
            target = link.path
            path = target if target.startswith("/") else f"{parent}/{target}"
            continue
        return path
    return path


class H5FileReader:
    """Mixin for readers over one HDF5 file, kept open read-only in ``self._file``.

    :meth:`_open_and_setup` opens the file (a :class:`FormatError` naming it when it is not
    HDF5, or when it names a file outside its folder and the reader's ``allow_outside`` option
    is not set) and runs the subclass's ``_setup(source, *args)``, closing the file again when
    that fails, so a reader that raises never leaks an open handle.
    """

    format_name: str
    _file = None

    def _open_and_setup(self, source, *args) -> None:
        allow = bool(getattr(self, "options", {}).get("allow_outside", False))
        self._file = open_h5(source, self.format_name, allow)
        try:
            self._setup(source, *args)
        except BaseException:
            self.close()
            raise

    def _setup(self, source, *args) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None

    def _check_open(self) -> None:
        """A clear error for a read after close (h5py's is 'NoneType' / 'identifier' noise)."""
        if self._file is None:
            raise ValueError(f"{self.source}: this {self.format_name} stack is closed")


class H5NavReader(H5FileReader):
    """Mixin for readers over one HDF5 dataset shaped ``nav_shape + signal_shape``.

    Options: ``path`` (the dataset to read, else the subclass finds it), ``signal_ndim``
    (how many trailing dimensions are the signal) and ``allow_outside`` (see
    :mod:`scanstack.core.h5safety`). Subclasses set ``self._dset`` and the reader
    attributes in ``_setup(source, path, signal_ndim)``; reading goes through
    :func:`read_flat_range` (rectangular hyperslabs, no per-frame loop).
    """

    _dset = None

    def __init__(
        self,
        source,
        *,
        path: str | None = None,
        signal_ndim: int | None = None,
        allow_outside: bool = False,
    ):
        super().__init__(source, path=path, signal_ndim=signal_ndim, allow_outside=allow_outside)
        self._open_and_setup(source, path, signal_ndim)

    def read(self, start: int, stop: int, region: Region | None = None) -> np.ndarray:
        self._check_open()
        data = read_flat_range(self._dset, self.nav_shape, start, stop, region, self.signal_shape)
        return data.astype(self.dtype, copy=False)

    def read_overhead(self) -> int:
        return chunk_scratch(self._dset) if self._dset is not None else 0

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._dset = None


def open_h5(path, fmt: str, allow_outside: bool = False):
    """``h5py.File(path, 'r')`` with a :class:`FormatError` naming the file when it is not HDF5
    or when it names files outside its folder (unless ``allow_outside``)."""
    from ..core.errors import FormatError
    from ..core.h5safety import open_h5_inside

    try:
        return open_h5_inside(path, allow_outside)
    except OSError as exc:
        raise FormatError(f"not an HDF5 file, cannot be read as {fmt} ({exc})", path) from exc


def check_numeric(dset, path) -> np.dtype:
    """The dtype of a dataset holding numbers, else a :class:`FormatError`."""
    from ..core.errors import FormatError

    dt = dset.dtype
    if dt.kind not in "biufc":
        raise FormatError(f"expected a numeric dataset, found dtype {dt}", path, dset.name)
    return np.dtype(dt)


def write_h5_positions(group, stack: Stack, name: str = "positions") -> None:
    """:func:`extra_positions` into ``group/<name>/<key>`` (nothing when there are none)."""
    extra = extra_positions(stack)
    if extra:
        sub = group.create_group(name)
        for key, arr in extra.items():
            sub.create_dataset(key, data=arr)


def write_h5_per_position(
    group, stack: Stack, shape: tuple[int, ...] | None = None, extra: bool = True
) -> None:
    """``live_time``/``real_time`` (s) as datasets of ``group``, flat or reshaped to ``shape``,
    and (``extra=True``) the other per-position arrays under ``group/positions``
    (:func:`write_h5_positions`)."""
    for key, arr in position_arrays(stack).items():
        ds = group.create_dataset(key, data=arr if shape is None else arr.reshape(shape))
        ds.attrs["units"] = "s"
    if extra:
        write_h5_positions(group, stack)


def read_h5_per_position(group, nframes: int) -> dict[str, np.ndarray]:
    """What :func:`write_h5_per_position` wrote: ``live_time``/``real_time`` as flat float64
    ``(nframes,)`` (any stored shape with ``nframes`` values), then :func:`read_h5_positions`."""
    import h5py

    out: dict[str, np.ndarray] = {}
    for key in POSITION_KEYS:
        ds = group.get(key)
        if isinstance(ds, h5py.Dataset) and ds.size == nframes:
            out[key] = np.asarray(ds[()], dtype=np.float64).reshape(-1)
    out.update(read_h5_positions(group, nframes))
    return out


def read_h5_positions(group, nframes: int, name: str = "positions") -> dict[str, np.ndarray]:
    """Arrays written by :func:`write_h5_positions` (those with ``nframes`` entries)."""
    import h5py

    sub = group.get(name) if group is not None else None
    out: dict[str, np.ndarray] = {}
    if isinstance(sub, h5py.Group):
        for key, ds in sub.items():
            if isinstance(ds, h5py.Dataset) and ds.ndim >= 1 and ds.shape[0] == nframes:
                out[key] = ds[()]
    return out

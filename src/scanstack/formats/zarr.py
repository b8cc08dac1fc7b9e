"""Zarr v3: chunked, compressed stacks written in parallel from dask; read lazily.

Layout (a zarr v3 group, i.e. a folder)::

    <path>/                 attrs["scanstack"] = {version, array, nav_ndim, axes, metadata,
                                                  original_metadata}     (JSON)
      data                  nav_shape + signal_shape, chunks of whole frames, dimension_names
      <axis name>           1-D coordinates of each axis (attrs units, long_name)
      live_time, real_time  nav_shape, s (per-position arrays, when present)

so ``xarray.open_zarr(path)`` sees ``data`` with named dimensions and coordinates.

Writing converts the stack to dask (chunks = zarr chunks, so every task writes whole chunks and
needs no lock) and stores it with the threaded scheduler, or on a dask.distributed cluster with
``client=``: workers read their frames from the source file themselves (stacks pickle by
re-opening their file), so files larger than memory convert in parallel with memory bounded by
chunks in flight. The folder is written beside the target and renamed when complete.

Compression (``compression=``): ``"blosc-zstd"`` (default), ``"blosc-lz4"``, ``"zstd"``,
``"gzip"``/``"gzip-1"``..``"gzip-9"``, or ``None``; ``"lzf"`` has no zarr codec.

Reader options: ``path=`` (an array inside the group when it holds several), ``signal_ndim=``
(for foreign arrays; default 2 for ≥2-D arrays, as for in-memory arrays).
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import FormatError
from ..core.metadata import to_jsonable
from ..core.reader import Reader, Region
from ..core.registry import FormatSpec, Probe
from ..core.safety import OUTSIDE_HINT, is_inside
from ..core.values import numeric_dtype
from . import _interchange as ic
from ._zarr_write import require_zarr, write_zarr


# =============================================================================================
# reading
# =============================================================================================
def _pick_array(group, where: str | None, source):
    zarr = require_zarr()
    if where is not None:
        try:
            node = group[where]
        except KeyError as exc:
            raise FormatError(f"no array {where!r} in the zarr group", source, where) from exc
        if not isinstance(node, zarr.Array):
            raise FormatError("not an array", source, where)
        return node
    own = group.attrs.get("scanstack")
    if isinstance(own, dict) and own.get("array"):
        name = own["array"]
        if name in group and isinstance(group[name], zarr.Array):
            return group[name]
        # falling through would silently read another array (live_time...) as the data
        raise FormatError(
            f"the group's scanstack attributes name the data array {name!r}, which is missing "
            "or not an array (damaged or partly copied store?)",
            source,
            name,
        )
    arrays = [a for _, a in group.arrays()]
    if not arrays:
        raise FormatError("the zarr group holds no array", source, "/")
    arrays.sort(key=lambda a: (-a.ndim, -math.prod(a.shape)))
    return arrays[0]


_INSIDE_STORE = None


def inside_store(root: str | os.PathLike):
    """A read-only zarr ``LocalStore`` over ``root`` whose every read (metadata and chunks)
    is refused with a :class:`FormatError` when its file, symlinks resolved, leaves the store.

    Checked at each read rather than by listing the store at open: a store may hold millions
    of chunk files, and a symlink is followed only when its key is read.
    """
    global _INSIDE_STORE
    if _INSIDE_STORE is None:
        from zarr.storage import LocalStore

        class InsideStore(LocalStore):
            def _check(self, key: str) -> None:
                if not is_inside(self.root / key, self.root):
                    raise FormatError(
                        f"{key} leads (through a symbolic link) to "
                        f"{(self.root / key).resolve()}, outside the zarr store; {OUTSIDE_HINT}",
                        self.root,
                        key,
                    )

            async def get(self, key, prototype=None, byte_range=None):
                self._check(key)
                return await super().get(key, prototype, byte_range)

            async def get_partial_values(self, prototype, key_ranges):
                key_ranges = list(key_ranges)
                for key, _ in key_ranges:
                    self._check(key)
                return await super().get_partial_values(prototype, key_ranges)

        _INSIDE_STORE = InsideStore
    return _INSIDE_STORE(os.fspath(root), read_only=True)


ZARR_METADATA_FILES = ("zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata")


def _warn_missing_chunks(arr, source, ours: bool) -> None:
    """Warn when chunks of ``arr`` are not stored: zarr reads them as the fill value.

    Zarr allows that (writers may skip chunks equal to the fill value), so it is a warning, not
    an error; scanstack writes every chunk, so in its own stores a missing chunk is damage.
    """
    if getattr(arr, "shards", None) is not None:  # objects are shards, not chunks: not counted
        return
    folder = Path(os.fspath(source), arr.path)
    if not folder.is_dir():
        return
    # count the stored objects (zarr's nchunks_initialized loops over every *declared* chunk,
    # which never ends for an array claiming 65535x65535 frames)
    stored = sum(
        1 for _, _, names in os.walk(folder) for n in names if n not in ZARR_METADATA_FILES
    )
    missing = arr.nchunks - stored
    if missing <= 0:
        return
    why = (
        "scanstack writes every chunk: the store is damaged or partly copied"
        if ours
        else "the writer may have skipped chunks equal to it, or the store is damaged"
    )
    warnings.warn(
        f"{os.fspath(source)} ({arr.path or '/'}): {missing} of {arr.nchunks} chunks are not "
        f"stored and read as the fill value {np.asarray(arr.fill_value).tolist()!r} ({why})",
        UserWarning,
        stacklevel=4,
    )


class ZarrReader(Reader):
    """A stack over a zarr array (chunks are read only when frames are asked for).

    Options ``path`` (the array), ``signal_ndim`` and ``allow_outside`` (follow metadata and
    chunk files that are symlinks leaving the store).
    """

    format_name = "zarr"

    def __init__(
        self,
        source,
        *,
        path: str | None = None,
        signal_ndim: int | None = None,
        allow_outside: bool = False,
    ):
        super().__init__(source, path=path, signal_ndim=signal_ndim, allow_outside=allow_outside)
        zarr = require_zarr()
        store = os.fspath(source) if allow_outside else inside_store(source)
        try:
            node = zarr.open(store=store, mode="r")
        except FormatError:
            raise
        except Exception as exc:  # zarr raises several types for a non-store
            raise FormatError(f"not a zarr store ({type(exc).__name__}: {exc})", source) from exc
        group = None
        if isinstance(node, zarr.Group):
            group = node
            node = _pick_array(group, path, source)
        self._arr = node
        self.dtype = numeric_dtype(node.dtype, source, node.path or "/")
        shape = tuple(node.shape)
        own = group.attrs.get("scanstack") if group is not None else None
        own = own if isinstance(own, dict) else {}
        _warn_missing_chunks(node, source, bool(own))
        if signal_ndim is None:
            if isinstance(own.get("nav_ndim"), int) and own["nav_ndim"] <= len(shape):
                signal_ndim = len(shape) - own["nav_ndim"]
            else:
                signal_ndim = 2 if len(shape) >= 2 else len(shape)
        if not 0 <= signal_ndim <= len(shape):
            raise FormatError(
                f"array of shape {shape} cannot hold {signal_ndim}-D frames",
                source,
                node.path or "/",
            )
        nnav = len(shape) - signal_ndim
        self.nav_shape, self.signal_shape = shape[:nnav], shape[nnav:]
        axes = ic.axes_from_json(own.get("axes"), shape) if own.get("axes") else None
        if axes is None or sum(a.navigate for a in axes) != nnav:
            axes = self._foreign_axes(group, node, nnav)
        self.axes = axes
        meta: dict[str, Any] = dict(own.get("metadata") or {})
        if not own:  # xarray / CF conventions: long_name, units of the data variable
            for key in ("long_name", "title"):
                if isinstance(node.attrs.get(key), str):
                    meta.setdefault("title", node.attrs[key])
            if isinstance(node.attrs.get("units"), str):
                meta["units"] = node.attrs["units"]
            if group is not None and isinstance(group.attrs.get("title"), str):
                meta.setdefault("title", group.attrs["title"])
        nframes = math.prod(self.nav_shape)
        for key in ic.POSITION_KEYS:
            if group is not None and key in group and isinstance(group[key], zarr.Array):
                values = np.asarray(group[key][...], dtype=np.float64).reshape(-1)
                if values.size == nframes:
                    meta[key] = values
        sub = group.get("positions") if group is not None else None
        if isinstance(sub, zarr.Group):
            for key, arr in sub.arrays():
                if arr.ndim >= 1 and arr.shape[0] == nframes:
                    meta[key] = arr[...]
        meta["format"] = "zarr"
        meta["original_file"] = os.fspath(source)
        self.metadata = meta
        self.original_metadata = own.get("original_metadata") or (
            {"attrs": to_jsonable(dict(node.attrs))} if not own else {}
        )

    def _foreign_axes(self, group, node, nnav: int):
        from ..core.axes import default_axes

        axes = default_axes(self.nav_shape, self.signal_shape)
        names = list(getattr(node.metadata, "dimension_names", None) or [])
        if not names:
            names = list(node.attrs.get("_ARRAY_DIMENSIONS", []) or [])
        for i, name in enumerate(names[: len(axes)]):
            if not name:
                continue
            axes[i].name = str(name)
            coord = group.get(name) if group is not None else None
            if (
                coord is not None
                and getattr(coord, "ndim", 0) == 1
                and coord.shape[0] == node.shape[i]
            ):
                units = str(coord.attrs.get("units", ""))
                axes[i] = ic.axis_from_values(str(name), coord[...], units, i < nnav)
        return axes

    def read(self, start: int, stop: int, region: Region | None = None) -> np.ndarray:
        try:
            data = ic.read_flat_range(
                self._arr, self.nav_shape, start, stop, region, self.signal_shape
            )
        except FormatError:
            raise
        except Exception as exc:  # a damaged chunk: say which file, array and frames
            raise FormatError(
                f"cannot read frames {start}:{stop} ({type(exc).__name__}: {exc})",
                self.source,
                self._arr.path or "/",
            ) from exc
        return data.astype(self.dtype, copy=False)

    def read_overhead(self) -> int:
        return ic.chunk_scratch(self._arr)

    def as_array(self):
        return self._arr if len(self.nav_shape) == 1 else None


def sniff(probe: Probe) -> float:
    path = probe.path
    if path is None or not path.is_dir():
        return 0.0
    if path.suffix.lower() == ".zspy" or (path / "Experiments").is_dir():
        # HyperSpy's zspy (signals under Experiments/<title>/, axes in its own attributes) is
        # RosettaSciIO's format: left to the rsciio fallback, which reads it with its axes
        return 0.0
    if (path / "zarr.json").is_file():
        if not is_inside(path / "zarr.json", path):
            return 0.8  # a link out of the store: not read here, the reader refuses it
        try:
            text = (path / "zarr.json").read_text(errors="replace")
        except OSError:
            return 0.0
        return 0.95 if '"scanstack"' in text else 0.8
    if (path / ".zgroup").is_file() or (path / ".zarray").is_file():
        return 0.7
    return 0.0


FORMAT = FormatSpec(
    name="zarr",
    description="Zarr v3 group (chunked, compressed; axes and metadata in attributes; xarray "
    "readable); read options path=, signal_ndim=; write compression=, client=",
    extensions=(".zarr",),
    reader=ZarrReader,
    writer=write_zarr,
    sniff=sniff,
    capabilities={
        "lazy": True,
        "region": True,
        "write": "parallel (dask threads or client=)",
        "compression": list(ic.ZARR_COMPRESSIONS),
    },
)

__all__ = ["FORMAT", "ZarrReader", "write_zarr"]

"""Writing hexrd's ``hdf5`` image series, byte-compatible with hexrd's writer, and the group
attributes metadata become (layout and options: :mod:`scanstack.formats.hexrd_hdf5`)."""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import numpy as np

from ..core.errors import WriteError
from ..core.metadata import to_jsonable
from ..core.resources import resolve
from ..core.writing import copy_blocks
from ._h5chunks import filter_chunk, write_encoded
from ._h5write import new_h5
from ._hexrd import OptionError
from ._interchange import h5_compression

#: group attribute listing the metadata keys stored as JSON text (hexrd cannot store them)
JSON_KEYS_ATTR = "__scanstack_json__"
#: the frames' dataset in the group, hexrd's ``dataname``
DEFAULT_DATANAME = "images"


def write_attrs(group, metadata: dict) -> None:
    """Store ``metadata`` as attributes of ``group`` (hexrd's layout, plus JSON for the rest)."""
    json_keys = []
    for key, value in (metadata or {}).items():
        key = str(key)
        stored = _attr_value(value)
        if stored is None:
            stored = json.dumps(to_jsonable(value))
            json_keys.append(key)
        group.attrs[key] = stored
    if json_keys:
        group.attrs[JSON_KEYS_ATTR] = np.array(json_keys, dtype="S")


def _attr_value(value: Any):
    """The attribute value hexrd would store, or None when it needs JSON."""
    if isinstance(value, (dict, list, tuple)) or value is None:
        if isinstance(value, (list, tuple)):
            arr = np.asarray(value) if value else None
            if arr is not None and arr.dtype.kind in "biufcS":
                return arr
            if arr is not None and arr.dtype.kind == "U":
                return _bytes_array(arr)
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "U":
            return _bytes_array(value)
        if value.dtype.kind == "O":
            return None
        return value
    if isinstance(value, (np.generic, str, bytes, bool, int, float, complex)):
        return value
    return None


def _bytes_array(arr: np.ndarray) -> np.ndarray:
    """Unicode arrays as bytes like hexrd; UTF-8 strings when they are not ASCII."""
    try:
        return arr.astype("S")
    except UnicodeEncodeError:
        import h5py

        return arr.astype(h5py.string_dtype("utf-8"))


def write_hdf5(
    stack,
    target,
    *,
    path: str | None = None,
    gzip: int = 1,
    shuffle: bool = True,
    chunk_rows: int = 0,
    compression=None,
    dataname: str = DEFAULT_DATANAME,
    client=None,
    threads: int | None = None,
    progress=None,
    memory_budget: int | None = None,
    overwrite: bool = False,
) -> Any:
    """Write ``stack`` as hexrd ``hdf5``: ``<path>/<dataname>`` of shape (nframes, rows, cols).

    ``target`` is a file name (written atomically, replacing the file) or an open ``h5py.File``/
    ``Group`` (written in place; the group ``path`` must not exist yet, as in hexrd).
    Chunks are ``(1, chunk_rows or rows, cols)``; ``compression`` (an ``hdf5plugin`` filter
    mapping, or a name as for nexus: ``'gzip-6'``, ``'lzf'``, ``'zstd'``, ``'blosc-zstd'``...)
    replaces ``gzip`` (0..9, 0 = none) and ``shuffle``.
    Metadata become attributes of the group. Returns the path written (or the group).
    ``client``, ``threads``, ``progress``, ``memory_budget``: as everywhere
    (:mod:`scanstack.core.resources`): chunks compressed in ``threads`` threads (or read and
    compressed on ``client``'s workers), as many at once as fit the budget.
    """
    import h5py

    res = resolve(client=client, threads=threads, progress=progress, memory_budget=memory_budget)
    if path is None:
        raise OptionError("hdf5: write needs path=<group name>, e.g. path='imageseries'")
    if len(stack.signal_shape) != 2:
        raise WriteError(
            f"hdf5 stores 2-D frames, this stack has frames of shape {stack.signal_shape}"
        )
    rows, cols = stack.signal_shape
    if (
        compression is None
        and gzip
        and not (isinstance(gzip, (int, np.integer)) and 0 <= int(gzip) <= 9)
    ):
        raise OptionError(f"hdf5: gzip must be a compression level 0..9, got {gzip!r}")
    if chunk_rows and not 0 < int(chunk_rows):
        raise OptionError(f"hdf5: chunk_rows must be positive, got {chunk_rows!r}")
    opts: dict[str, Any] = {"chunks": (1, min(int(chunk_rows) or rows, rows) or 1, cols or 1)}
    if isinstance(compression, str):  # the names of the other HDF5 writers ('gzip-6', 'blosc-zstd')
        opts.update(h5_compression(compression))
    elif compression is not None:
        opts.update(dict(compression))
    else:
        opts["shuffle"] = bool(shuffle)
        if gzip:
            opts.update(compression="gzip", compression_opts=int(gzip))
    if not opts.get("shuffle"):
        opts.pop("shuffle", None)
    if 0 in (rows, cols) or stack.nframes == 0:
        opts.pop("chunks")
        opts.pop("shuffle", None)
        opts.pop("compression", None)
        opts.pop("compression_opts", None)

    def fill(root) -> None:
        try:
            group = root.create_group(path)
        except ValueError as exc:
            raise WriteError(
                f"hdf5: cannot create group {path!r} in {root.file.filename}: {exc}"
            ) from exc
        ds = group.create_dataset(
            dataname, shape=(stack.nframes, rows, cols), dtype=stack.dtype, **opts
        )
        write_attrs(group, dict(stack.metadata or {}))
        if compression is None and ds.chunks is not None and (ds.compression or ds.shuffle):
            # HDF5 would run shuffle/deflate in this one thread: compress chunks in threads
            level = int(gzip) if gzip else None
            encoder = functools.partial(filter_chunk, level=level, shuffle=bool(ds.shuffle))
            write_encoded(stack, ds, encoder, res, "hdf5", flat=True)
        else:
            copy_blocks(stack, ds, res, label="hdf5", flat=True)

    if isinstance(target, h5py.Group):
        fill(target)
        return target
    with new_h5(stack, target, overwrite) as f:
        fill(f)
    return os.fspath(target)

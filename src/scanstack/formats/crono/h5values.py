"""Values of a CRONO file's HDF5 objects as plain Python: its strings (fixed ``|S1`` arrays, vlen
strings), one-element attributes, vlen-opaque blobs, and whole tables read at open within the
memory budget; a missing or misshapen dataset is a :class:`FormatError` naming it."""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from ...core.errors import FormatError, check_fits


def as_text(value: Any) -> str:
    """A CRONO string (fixed (50,) |S1, vlen of |S1, bytes) as str (NUL padding dropped)."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "OU":  # vlen str arrive as 'U'
        value = value.reshape(-1)[0] if value.size else b""
    if isinstance(value, np.ndarray):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("latin-1")
    return str(value)


def attr_value(obj: h5py.HLObject, name: str) -> Any:
    """An attribute as a plain value: 1-element arrays unwrapped (0-d scalars accepted too),
    vlen strings as str, vlen opaque as bytes."""
    raw = obj.attrs[name]
    dt = obj.attrs.get_id(name).dtype
    base = h5py.check_vlen_dtype(dt)
    arr = np.asarray(raw)
    first = arr.reshape(-1)[0] if arr.size else None
    if base is not None:
        opaque = isinstance(base, np.dtype) and base.kind == "V"  # base is str/bytes for strings
        if first is None:
            return b"" if opaque else ""
        return np.asarray(first).tobytes() if opaque else as_text(np.asarray(first))
    if first is None:
        return None
    return first.item() if isinstance(first, np.generic) else first


def blob(ds: h5py.Dataset, index: int = 0) -> bytes:
    """Element ``index`` of a vlen-opaque dataset as bytes (b"" for an empty slot)."""
    return np.asarray(ds[index]).tobytes()


def require_dataset(f: h5py.File, name: str, path, ndim: int | None = None) -> h5py.Dataset:
    if name not in f:
        raise FormatError(
            f"missing dataset /{name} (a CRONO MA-XRF file needs it)", path, f"/{name}"
        )
    ds = f[name]
    if not isinstance(ds, h5py.Dataset):
        raise FormatError(f"/{name} is a group, expected a dataset", path, f"/{name}")
    if ndim is not None and ds.ndim != ndim:
        raise FormatError(
            f"/{name} has shape {ds.shape}, expected {ndim} dimensions", path, f"/{name}"
        )
    return ds


def read_table(ds: h5py.Dataset, path, what: str) -> np.ndarray:
    """A whole dataset read at open, refused first when it (and a 64-bit copy) would not fit in
    the memory budget: an unwritten dataset of a tiny file may claim any size."""
    check_fits(ds.size * (ds.dtype.itemsize + 8), what, path, f"/{ds.name.lstrip('/')}")
    return ds[()]

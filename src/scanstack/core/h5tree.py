"""Nested metadata dicts ↔ HDF5 groups, without pickle.

The layout and the read-back types are hexrd's (``unwrap_dict_to_h5`` / ``unwrap_h5_to_dict``)
so fch5 and Eiger-stream files interoperate, value for value, in both directions:

- nested dicts are subgroups; other values are datasets of ``np.atleast_1d(value)``, so a number
  comes back as a numpy scalar (``1.5`` → ``np.float64(1.5)``, ``3`` → ``np.int64(3)``), which
  hexrd's ``hdf5`` writer needs (it reads ``value.dtype``);
- a string (``str``, ``np.str_`` or a 0-d unicode array) is a scalar UTF-8 dataset and comes back
  as ``str``; a list or array of strings is a 1-D UTF-8 dataset and comes back as an object
  array of ``str`` (a ``(1,)`` one too: hexrd does not unwrap single strings);
- on reading, any ``(1,)`` non-string dataset becomes its element and every other dataset an
  array (a scalar dataset a 0-d array), exactly as hexrd's reader.

scanstack additions, invisible to hexrd: ``None`` values are listed in the group attribute
``scanstack_none`` (hexrd's writer drops ``None``; an empty dataset would make hexrd's reader
raise), and lists holding dicts or ``None`` become groups marked ``scanstack_list``.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

NONE_ATTR = "scanstack_none"
LIST_ATTR = "scanstack_list"


def _is_text(value: Any) -> bool:
    return isinstance(value, str) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind == "U"
    )


def _as_storable(value: Any) -> np.ndarray | str:
    """What to hand to ``create_dataset``: a scalar ``str``, or an at-least-1-D array."""
    if _is_text(value):
        return str(value)
    arr = np.atleast_1d(np.asarray(value))
    if arr.dtype.kind == "U":
        return arr.astype(h5py.string_dtype("utf-8"))
    if arr.dtype.kind == "O":
        flat = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]
        return np.array(flat, dtype=h5py.string_dtype("utf-8")).reshape(arr.shape)
    return arr


def dict_to_group(group: h5py.Group, tree: dict[str, Any]) -> None:
    """Write ``tree`` into ``group`` (which must not already hold the keys). Source is not mutated."""
    nones = [str(k) for k, v in tree.items() if v is None]
    if nones:
        group.attrs[NONE_ATTR] = np.array(nones, dtype=h5py.string_dtype("utf-8"))
    for key, value in tree.items():
        key = str(key)
        if value is None:
            continue
        if isinstance(value, dict):
            dict_to_group(group.require_group(key), value)
        elif isinstance(value, (list, tuple)) and any(
            isinstance(v, (dict, type(None))) for v in value
        ):
            sub = group.require_group(key)
            sub.attrs[LIST_ATTR] = True
            dict_to_group(sub, {str(i): v for i, v in enumerate(value)})
        else:
            group.create_dataset(key, data=_as_storable(value))


def _leaf(ds: h5py.Dataset) -> Any:
    """A dataset as hexrd's ``unwrap_h5_to_dict`` returns it."""
    if ds.shape is None:  # an empty dataspace (hexrd's reader raises on it): nothing stored
        return None
    if ds.dtype.kind == "O":  # variable-length strings
        info = h5py.check_string_dtype(ds.dtype)
        value = ds.asstr(errors="replace")[()] if info and info.encoding == "utf-8" else ds[()]
        if isinstance(value, (bytes, np.bytes_)):
            value = value.decode("utf-8", errors="replace")
        return value
    value = np.asarray(ds[()])
    if value.ndim == 1 and len(value) == 1:
        return value[0]
    return value


def group_to_dict(group: h5py.Group) -> dict[str, Any]:
    """Read a group written by :func:`dict_to_group` (or by hexrd) back into a dict."""
    out: dict[str, Any] = {}
    for key in np.atleast_1d(group.attrs.get(NONE_ATTR, [])):
        out[key.decode() if isinstance(key, bytes) else str(key)] = None
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            sub = group_to_dict(item)
            if item.attrs.get(LIST_ATTR, False):
                out[key] = [sub[str(i)] for i in range(len(sub))]
            else:
                out[key] = sub
        else:
            out[key] = _leaf(item)
    return out

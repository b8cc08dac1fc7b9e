"""Nested metadata dicts ↔ HDF5 groups, without pickle.

The layout is hexrd's (``unwrap_dict_to_h5`` / ``unwrap_h5_to_dict``) so fch5 files interoperate:
nested dicts become subgroups, leaves datasets of ``np.atleast_1d(value)``, strings UTF-8 strings.
``None`` is kept (unlike hexrd, which drops it) as an empty dataset with attribute
``scanstack_none``; hexrd reads such a dataset as an empty array.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

NONE_ATTR = "scanstack_none"


def _as_storable(value: Any) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(value))
    if arr.dtype.kind == "U":
        return arr.astype(h5py.string_dtype("utf-8"))
    if arr.dtype.kind == "O":
        flat = [v.decode() if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]
        return np.array(flat, dtype=h5py.string_dtype("utf-8")).reshape(arr.shape)
    return arr


def dict_to_group(group: h5py.Group, tree: dict[str, Any]) -> None:
    """Write ``tree`` into ``group`` (which must not already hold the keys). Source is not mutated."""
    for key, value in tree.items():
        key = str(key)
        if isinstance(value, dict):
            dict_to_group(group.require_group(key), value)
        elif value is None:
            ds = group.create_dataset(key, data=h5py.Empty("f8"))
            ds.attrs[NONE_ATTR] = True
        elif isinstance(value, (list, tuple)) and any(
            isinstance(v, (dict, type(None))) for v in value
        ):
            sub = group.require_group(key)
            sub.attrs["scanstack_list"] = True
            dict_to_group(sub, {str(i): v for i, v in enumerate(value)})
        else:
            group.create_dataset(key, data=_as_storable(value))


def _leaf(ds: h5py.Dataset) -> Any:
    if ds.attrs.get(NONE_ATTR, False) or ds.shape is None:
        return None
    value = ds[()]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OS":
            value = np.array(
                [
                    v.decode("utf-8", "replace") if isinstance(v, bytes) else v
                    for v in value.reshape(-1)
                ],
                dtype=object,
            ).reshape(value.shape)
            if value.size == 1:
                return str(value.reshape(-1)[0])
            return value.astype(str)
        if value.shape == (1,):
            return value[0].item() if value.dtype.kind in "biuf" else value[0]
    return value


def group_to_dict(group: h5py.Group) -> dict[str, Any]:
    """Read a group written by :func:`dict_to_group` (or by hexrd) back into a dict."""
    out: dict[str, Any] = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            sub = group_to_dict(item)
            if item.attrs.get("scanstack_list", False):
                out[key] = [sub[str(i)] for i in range(len(sub))]
            else:
                out[key] = sub
        else:
            out[key] = _leaf(item)
    return out

"""xarray integration: ``xr.open_dataset(path, engine="scanstack")`` and ``Stack.to_xarray``.

The backend (entry point ``scanstack`` in the ``xarray.backends`` group) opens any format the
registry reads. Its data variable ``data`` wraps a :class:`ScanstackBackendArray`: xarray's lazy
indexing hands it outer keys, which :func:`~scanstack.core.outer.read_outer` turns into a read of
the selected frames and of the smallest region of each frame that covers the key, so
``ds.data.isel(x=3).values`` reads one column of frames and nothing else — no dask graph, no
chunk rounding. ``chunks={}`` gives dask chunks of whole frames (``Stack.default_chunks``).

Coordinates, attributes and per-position arrays are built here once, for the backend and for
``Stack.to_xarray`` alike: a dimension coordinate per axis (``units`` in its attrs), the
per-frame metadata arrays (live time, motor positions, omega, ...) as non-dimension coordinates
over the navigation dimensions, and the rest of the metadata as JSON-safe attributes (numbers and
strings as they are, nested trees as JSON text).
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.core import indexing

from .conversions import unique_names
from .metadata import PER_FRAME_METADATA_KEYS, PER_FRAME_UNITS, to_jsonable
from .outer import read_outer
from .stack import Stack

#: name of the one data variable of a dataset opened with the backend
VARIABLE = "data"


class ScanstackBackendArray(BackendArray):
    """A lazily indexed view of a stack for xarray (outer indexing, read on access)."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.shape = tuple(stack.shape)
        self.dtype = np.dtype(stack.dtype)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._raw_indexing_method
        )

    def _raw_indexing_method(self, key: tuple) -> np.ndarray:
        return read_outer(self.stack, key)


def dim_names(stack: Stack) -> list[str]:
    """The dimension names of ``stack`` (axis names; repeated names get ``_1``, ``_2``...)."""
    return unique_names([a.name for a in stack.axes])


def _per_frame(metadata: dict, nframes: int) -> dict[str, np.ndarray]:
    """The metadata arrays with one row per frame."""
    out = {}
    for key in PER_FRAME_METADATA_KEYS:
        value = metadata.get(key)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == nframes:
            out[key] = value
    return out


def coordinates(stack: Stack) -> dict[str, xr.Variable]:
    """Dimension coordinates from the axes and per-frame arrays as non-dimension coordinates.

    A per-frame array of shape ``(nframes,)`` becomes a coordinate over the navigation
    dimensions; one of shape ``(nframes, k)`` becomes ``k`` of them, ``<key>_0`` ... (a
    DataArray cannot hold a coordinate with a dimension its data lacks): CRONO's
    ``motor_positions`` gives ``motor_positions_0`` to ``_2``, hexrd's ``omega`` wedges
    ``omega_0`` (start) and ``omega_1`` (stop).
    """
    names = dim_names(stack)
    coords: dict[str, xr.Variable] = {}
    for name, axis in zip(names, stack.axes, strict=True):
        attrs = {"units": axis.units} if axis.units else {}
        coords[name] = xr.Variable(name, axis.coordinates, attrs=attrs)
    nav, nav_shape = names[: len(stack.nav_shape)], tuple(stack.nav_shape)
    for key, value in _per_frame(stack.metadata, stack.nframes).items():
        attrs = {"units": PER_FRAME_UNITS[key]} if key in PER_FRAME_UNITS else {}
        if value.ndim == 1:
            coords[key] = xr.Variable(nav, value.reshape(nav_shape), attrs=attrs)
            continue
        columns = value.reshape(value.shape[0], -1)
        for i in range(columns.shape[1]):
            coords[f"{key}_{i}"] = xr.Variable(nav, columns[:, i].reshape(nav_shape), attrs=attrs)
    return coords


def attributes(stack: Stack) -> dict[str, Any]:
    """The metadata (minus per-frame arrays) as attributes any xarray writer stores: numbers,
    strings and booleans as they are, lists and trees as JSON text, missing values left out."""
    per = _per_frame(stack.metadata, stack.nframes)
    attrs: dict[str, Any] = {}
    for key, value in to_jsonable(
        {k: v for k, v in stack.metadata.items() if k not in per}
    ).items():
        if value is None:
            continue
        attrs[key] = value if isinstance(value, (str, int, float, bool)) else json.dumps(value)
    return attrs


def to_dataarray(stack: Stack, data: Any) -> xr.DataArray:
    """``data`` (an array-like of ``stack.shape``) with ``stack``'s dims, coordinates and attrs."""
    return xr.DataArray(
        data,
        dims=dim_names(stack),
        coords=coordinates(stack),
        attrs=attributes(stack),
        name=stack.metadata.get("title") or None,
    )


def to_dataset(stack: Stack) -> xr.Dataset:
    """A dataset whose variable ``data`` reads ``stack`` lazily (nothing is read here)."""
    names = dim_names(stack)
    lazy = indexing.LazilyIndexedArray(ScanstackBackendArray(stack))
    attrs = attributes(stack)
    variable = xr.Variable(names, lazy, attrs=attrs)
    # xarray's chunks={} uses these: whole frames, as many as fit in config.chunk_bytes
    variable.encoding["preferred_chunks"] = dict(zip(names, stack.default_chunks(), strict=True))
    dataset = xr.Dataset({VARIABLE: variable}, coords=coordinates(stack), attrs=attrs)
    dataset.set_close(stack.close)
    return dataset


class ScanstackBackendEntrypoint(BackendEntrypoint):
    """``xr.open_dataset(path, engine="scanstack", format=None, **reader_options)``.

    ``format`` names a scanstack format (auto-detected when omitted); every other keyword goes to
    that format's reader (``scanstack formats`` lists them).
    """

    description = "Any format scanstack reads (Merlin .mib, CRONO, hexrd, NeXus, USID, ...), lazily"
    url = "https://github.com/scanstack/scanstack#xarray"
    # reader options are free keywords, so the parameters are declared, not inspected
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "format")

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        drop_variables: Any = None,
        format: str | None = None,  # noqa: A002 - the option's name everywhere in scanstack
        **reader_options: Any,
    ) -> xr.Dataset:
        from .registry import open as open_stack

        if isinstance(filename_or_obj, os.PathLike):
            filename_or_obj = os.fspath(filename_or_obj)
        stack = open_stack(filename_or_obj, format, **reader_options)
        dataset = to_dataset(stack)
        if drop_variables is not None:
            dataset = dataset.drop_vars(drop_variables, errors="ignore")
        return dataset

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """True when one of scanstack's sniffers claims the file (never raises)."""
        if not isinstance(filename_or_obj, (str, os.PathLike)):
            return False
        from .registry import detect_format

        try:
            detect_format(os.fspath(filename_or_obj))
        except Exception:  # any refusal (unknown, ambiguous, unreadable) means "not ours"
            return False
        return True

"""The npe2 writer contributions: a napari image layer saved by one of scanstack's writers.

One contribution per format in :data:`WRITERS` (the manifest lists the same, a test checks it),
limited to writers that take any 2-D frames without extra options and own their extension;
``scanstack.save`` covers the others (hexrd HDF5 needs ``path=``, frame-cache ``threshold=``, CRONO
holds spectra).
"""

from __future__ import annotations

import os
from typing import Any

#: writer command name -> (scanstack format, filename extensions offered in napari)
WRITERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "write_tiff": ("tiff", (".tif", ".tiff")),
    "write_zarr": ("zarr", (".zarr",)),
    "write_nexus": ("nexus", (".nxs", ".nx5")),
    "write_usid": ("usid", (".h5usid",)),
    "write_mib": ("mib", (".mib",)),
}


def layer_stack(data: Any, meta: dict[str, Any]):
    """A lazy :class:`~scanstack.core.stack.Stack` over a napari image layer's data.

    The last two dimensions are the frame (the last one for 1-D data), the others navigation;
    napari's ``scale``/``translate``/``units``/``axis_labels`` become the axes. A single image
    gets a navigation axis ``frame`` of length 1.
    """
    from ..core.axes import Axis
    from ..core.errors import UnsupportedError
    from ..core.stack import Stack

    if meta.get("rgb"):
        raise UnsupportedError("scanstack writes single-channel image layers, not RGB")
    shape = tuple(int(n) for n in data.shape)
    ndim = len(shape)
    signal_ndim = min(ndim, 2)
    scale = tuple(meta.get("scale") or (1.0,) * ndim)
    translate = tuple(meta.get("translate") or (0.0,) * ndim)
    units = tuple(meta.get("units") or ("pixel",) * ndim)
    labels = tuple(meta.get("axis_labels") or (f"axis{i}" for i in range(ndim)))
    axes = [
        Axis(
            str(labels[i]),
            shape[i],
            _units_text(units[i]),
            float(scale[i]),
            float(translate[i]),
            navigate=i < ndim - signal_ndim,
        )
        for i in range(ndim)
    ]
    # one image (ndim == signal_ndim) becomes one frame; from_array adds its "frame" axis
    return Stack.from_array(data, signal_ndim=signal_ndim, axes=axes)


def _units_text(unit: Any) -> str:
    """napari hands pint units; files get the short symbol (``µm``), none for pixels."""
    if unit is None:
        return ""
    text = f"{unit:~}" if hasattr(unit, "dimensionality") else str(unit)
    return "" if text in ("pixel", "px") else text


def _write(fmt: str, path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    from ..core.registry import save

    # napari's save dialog has asked before replacing a file; the write is still atomic (temporary
    # file + rename), so a layer read lazily from the same path reads the old file to the end
    save(layer_stack(data, meta), os.fspath(path), fmt, overwrite=True)
    return [os.fspath(path)]


def write_tiff(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save an image layer as (OME-)TIFF; returns ``[path]``."""
    return _write(WRITERS["write_tiff"][0], path, data, meta)


def write_zarr(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save an image layer as a Zarr store; returns ``[path]``."""
    return _write(WRITERS["write_zarr"][0], path, data, meta)


def write_nexus(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save an image layer as NeXus (NXdata with axes and units); returns ``[path]``."""
    return _write(WRITERS["write_nexus"][0], path, data, meta)


def write_usid(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save an image layer as USID HDF5; returns ``[path]``."""
    return _write(WRITERS["write_usid"][0], path, data, meta)


def write_mib(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Save an image layer as Merlin .mib (no physical axes: the format has none)."""
    return _write(WRITERS["write_mib"][0], path, data, meta)

"""A CRONO MA-XRF scan as napari layers: the stitched camera mosaic under the element maps.

Both are placed in stage micrometres (napari world = motor coordinates, rows = Y, columns = X,
row 0 = lowest Y as in :class:`scanstack.crono.Mosaic` and the map axes), so each map pixel lies
over the part of the object where its spectrum was measured.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from ..core import errors
from ..core.stack import Stack
from ._layers import LayerData, placement

#: one colour map per element map, cycled; with additive blending overlapping elements mix
MAP_COLORMAPS = ("red", "green", "blue", "magenta", "cyan", "yellow")


def mosaic_layer(path: str | os.PathLike, resolution_um: float | None = None) -> LayerData:
    """The camera frames taken inside the scanned rows, stitched (an RGB image layer in µm).

    ``resolution_um``: µm per mosaic pixel (default: the camera pixel). Raises
    :class:`~scanstack.core.errors.FormatError` when the file has no usable frames or track.
    """
    from ..crono import ScanTrack, build_mosaic, open_frames, place_frames

    with open_frames(path, on_empty="zeros") as frames:
        reader = frames.reader
        placement = place_frames(reader.stamps(), ScanTrack.from_file(path))
        try:
            mosaic = build_mosaic(reader, placement, resolution_um=resolution_um)
        except ValueError as exc:  # no frame inside a row: nothing to stitch
            raise errors.FormatError(str(exc), os.fspath(path), "/Images/Static") from exc
    res = mosaic.resolution_um
    kwargs: dict[str, Any] = {
        "name": "camera mosaic",
        "rgb": True,
        "scale": (res, res),
        "translate": (float(mosaic.y0_um), float(mosaic.x0_um)),
        "units": ("µm", "µm"),
        "axis_labels": ("y", "x"),
        "metadata": {
            "resolution_um": res,
            "frames": int(mosaic.frames.size),
            "registered_pairs": int(mosaic.pairs),
        },
    }
    return mosaic.image, kwargs, "image"


def element_map_layers(stack: Stack, bands=None) -> list[LayerData]:
    """One image layer per element map (counts in the band), on the map's µm grid.

    ``bands``: as :func:`scanstack.xrf.element_maps`; default the file's ROIs, else the lines
    that stand out of the sum spectrum (:func:`scanstack.xrf.detect_lines`). The maps are
    computed here, in one block-wise pass over the spectra. Scatter maps (Compton, Rayleigh)
    start hidden.
    """
    from .. import xrf
    from ..xrf.preview import SCATTER

    if bands is None and not stack.metadata.get("rois"):
        energy = xrf.energy_axis(stack)
        if energy is None:
            return []
        bands = xrf.detect_lines(energy, xrf.sum_spectrum(stack))
        if not bands:
            return []
    maps = xrf.element_maps(stack, bands)
    nav = stack.nav_axes
    layers = []
    for k, (name, image) in enumerate(maps.items()):
        finite = image[image == image]  # NaN-free values for the contrast range
        hi = float(finite.max()) if finite.size else 1.0
        lo = float(finite.min()) if finite.size else 0.0
        kwargs = {
            "name": name,
            "colormap": MAP_COLORMAPS[k % len(MAP_COLORMAPS)],
            "blending": "additive",
            "opacity": 0.8,
            # scattered tube radiation covers the whole map: listed, but not drawn over the rest
            "visible": not any(word in name.lower() for word in SCATTER),
            "contrast_limits": (lo, hi if hi > lo else lo + 1.0),
            **placement(nav),
            "axis_labels": tuple(a.name for a in nav),
            "metadata": {"element_map": name, "units": "counts"},
        }
        layers.append((image, kwargs, "image"))
    return layers


def crono_layers(
    path: str | os.PathLike, stack: Stack, resolution_um: float | None = None
) -> list[LayerData]:
    """The mosaic (when the file has camera frames) below the element maps.

    A file whose frames cannot be stitched still opens with its maps (a warning says why).
    """
    layers: list[LayerData] = []
    try:
        layers.append(mosaic_layer(path, resolution_um))
    except errors.ScanstackError as exc:
        warnings.warn(f"scanstack: {os.fspath(path)}: no camera mosaic: {exc}", stacklevel=2)
    layers.extend(element_map_layers(stack))
    return layers

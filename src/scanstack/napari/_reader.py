"""The npe2 reader contribution: detection by scanstack, layers by :mod:`._layers`."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ._layers import LayerData, stack_layer

#: formats opened as mosaic + element maps rather than as one stack layer
MOSAIC_FORMATS = ("crono",)
#: formats opened as element maps (a spectrum map without camera frames)
MAP_FORMATS = ("crono-exported",)


def get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """:func:`read_layers` when scanstack recognises ``path`` (by content), else None.

    napari asks every plug-in whose filename patterns match; declining (None) lets another
    plug-in read a file that only shares our extension (a ``.h5`` that is none of our formats).
    """
    from ..core import errors
    from ..core.registry import detect_format

    if isinstance(path, list):
        if len(path) != 1:
            return None  # several files are several calls: napari stacks them otherwise
        path = path[0]
    try:
        detect_format(os.fspath(path))
    except (errors.ScanstackError, OSError):
        return None
    return read_layers


def read_layers(path: str | list[str], format: str | None = None) -> list[LayerData]:  # noqa: A002
    """The napari layers of ``path`` (see the package docstring). Raises ScanstackError on bad input."""
    import scanstack

    from ._crono import crono_layers, element_map_layers

    if isinstance(path, list):
        return [layer for p in path for layer in read_layers(p, format)]
    stack = scanstack.open(os.fspath(path), format) if format else scanstack.open(os.fspath(path))
    fmt = getattr(stack, "format", format)
    if fmt in MOSAIC_FORMATS or fmt in MAP_FORMATS:
        with stack:  # the maps are computed here: the spectra need not stay open
            if fmt in MOSAIC_FORMATS:
                return crono_layers(path, stack)
            return element_map_layers(stack)
    # the dask graph keeps the stack (and its open file) alive for napari's lazy reads
    return [stack_layer(stack)]

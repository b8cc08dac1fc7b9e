"""A drop-in for ``hexrd.imageseries`` on scanstack.

Change ``from hexrd import imageseries`` to ``from scanstack import imageseries`` and keep your
code: ``imageseries.open(fname, 'hdf5', path='imageseries')``, ``imageseries.write(ims, fname,
'frame-cache', threshold=10, style='fch5')``, ``process.ProcessedImageSeries``,
``omega.OmegaImageSeries``, ``stats.median(ims)``. Differences, all on purpose:

- ``open(fname)`` without a format detects it (hexrd always failed with "zero length");
- frames are read lazily and in blocks; ``ims[i]`` accepts numpy integers, ``ims[a:b]`` slices;
- ``ProcessedImageSeries`` nests in any order, pushes rectangles down to the file, and its
  ``dark`` never wraps around on unsigned data;
- ``ims.stack`` is the scanstack :class:`~scanstack.Stack` behind any series (dask, xarray,
  every scanstack format and tool).
"""

from __future__ import annotations

from typing import Any

from . import imageseriesabc, load, omega, process, save, stats
from .baseclass import ImageSeries
from .save import write

__all__ = [
    "ImageSeries",
    "imageseriesabc",
    "load",
    "omega",
    "open",
    "process",
    "save",
    "stats",
    "write",
]


def open(filename: Any, format: str | None = None, **kwargs: Any) -> ImageSeries:  # noqa: A001,A002
    """Open ``filename`` as an image series; ``format`` is detected when omitted.

    Formats: hexrd's ``'hdf5'``, ``'frame-cache'``, ``'image-files'``, ``'raw-image'``,
    ``'array'`` (``filename=None, data=..., meta=...``), ``'function'`` (``func=...,
    num_frames=...``) with hexrd's keyword arguments, and every other scanstack format. Raises
    ``RuntimeError("zero length imageseries")`` for an empty series, as hexrd.
    """
    if format is None:
        if filename is None:
            raise RuntimeError("zero length imageseries")
        from ..core.registry import detect_format

        format = detect_format(filename, bool(kwargs.get("allow_outside", False)))
    adapter = load.adapter_for(format)(filename, **kwargs)
    ims = ImageSeries(adapter)
    if len(ims) == 0:
        raise RuntimeError("zero length imageseries")
    return ims

"""Quantum Detectors Merlin ``.mib`` (+ ``.hdr``): reader and writer.

>>> import scanstack
>>> s = scanstack.open("scan.mib")                 # auto-detected; lazy, memory-mapped
>>> s.nav_shape, s.signal_shape, s.dtype           # e.g. (256, 256) (256, 256) uint16
>>> s.frame_headers()["timestamp"]                 # per-frame values on demand
>>> scanstack.save(s, "copy.mib", "mib", depth=12, layout="1x1", raw=False)

Orientation: frames come out like RosettaSciIO's ``file_reader`` (rows reversed, ``flip=True``);
``flip=False`` gives the file order (LiberTEM). :func:`file_reader` is a drop-in for
``rsciio.quantumdetector.file_reader`` returning identical dictionaries.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.registry import FormatSpec
from .header import FrameHeader, parse_frame_header, parse_hdr_text, read_hdr
from .navigation import line_length_from_timestamps
from .reader import MibReader, MibStack, MibWarning, open_mib, sniff
from .writer import SyntheticFrames, save, write_mib


def frame_headers(
    source: Any, start: int = 0, stop: int | None = None, **options: Any
) -> dict[str, np.ndarray]:
    """Per-frame header values of every frame in the file(s) (``start:stop`` of them).

    Keys: ``sequence``, ``timestamp`` (datetime64[ns] UTC), ``timestamp_local``, ``exposure``
    (s), ``depth``, ``counter``, ``gain_mode``, ``thresholds`` (n, 8) keV, ``dacs``
    (n, chips, 27). Only the header bytes are read.
    """
    reader = MibReader(source, **options)
    try:
        return reader.frame_headers(start, stop, all_frames=True)
    finally:
        reader.close()


def file_reader(
    filename: Any,
    lazy: bool = False,
    chunks: Any = "auto",
    mmap_mode=None,
    navigation_shape=None,
    first_frame=None,
    last_frame=None,
    print_info=False,
    **kwargs: Any,
) -> list[dict]:
    """Drop-in for ``rsciio.quantumdetector.file_reader``: the same list of one dict
    (``data`` big-endian and flipped like RosettaSciIO's, ``axes``, ``metadata``,
    ``original_metadata``, ``mapping``), using RosettaSciIO's navigation heuristic.

    Also reads what RosettaSciIO cannot: raw files, quad buffers, ``Path``, ``.MIB``, split sets.
    """
    kwargs.pop("distributed", None)
    kwargs.setdefault("nav_heuristic", "rsciio")
    kwargs.setdefault("endian", "big")
    stack = open_mib(
        filename,
        lazy=True,
        chunks=chunks,
        mmap_mode=mmap_mode,
        navigation_shape=navigation_shape,
        first_frame=first_frame,
        last_frame=last_frame,
        print_info=print_info,
        **kwargs,
    )
    if lazy:
        data = stack.to_dask()
    else:
        view = stack.reader.as_array()
        data = np.array(view).reshape(stack.shape) if view is not None else stack.to_numpy()
    ndim = data.ndim
    axes = [
        {
            "size": data.shape[i],
            "index_in_array": i,
            "name": "",
            "scale": 1.0,
            "offset": 0.0,
            "units": "",
            "navigate": i < ndim - 2,
        }
        for i in range(ndim)
    ]
    return [
        {
            "data": data,
            "axes": axes,
            "metadata": stack.reader.rsciio_metadata,
            "original_metadata": stack.original_metadata,
            "mapping": {},
        }
    ]


FORMAT = FormatSpec(
    name="mib",
    description="Quantum Detectors Merlin .mib (+ .hdr): processed 1/6/12/24-bit and raw R64, "
    "single/quad, row ROIs, split acquisitions",
    extensions=(".mib", ".hdr"),
    reader=open_mib,
    writer=save,
    sniff=sniff,
    capabilities={
        "lazy": True,
        "region": True,
        "zero_copy": "processed single files",
        "source": "path, list of paths, glob, .hdr, bytes",
        "write": True,
    },
)

__all__ = [
    "FORMAT",
    "FrameHeader",
    "MibReader",
    "MibStack",
    "MibWarning",
    "SyntheticFrames",
    "file_reader",
    "frame_headers",
    "line_length_from_timestamps",
    "open_mib",
    "parse_frame_header",
    "parse_hdr_text",
    "read_hdr",
    "save",
    "write_mib",
]

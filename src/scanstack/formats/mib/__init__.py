"""Quantum Detectors Merlin ``.mib`` (+ ``.hdr``): reader and writer.

>>> import scanstack
>>> s = scanstack.open("scan.mib")                 # auto-detected; lazy, memory-mapped
>>> s.nav_shape, s.signal_shape, s.dtype           # e.g. (256, 256) (256, 256) uint16
>>> s.frame_headers()["timestamp"]                 # per-frame values on demand
>>> scanstack.save(s, "copy.mib", "mib", depth=12, layout="1x1", raw=False)

Orientation: frames come out like RosettaSciIO's ``file_reader`` (rows reversed, ``flip=True``);
``flip=False`` gives the file order (LiberTEM). RosettaSciIO's public API is here too
(:mod:`.rsciio_api`): ``file_reader``, ``load_mib_data``, ``parse_exposures``,
``parse_timestamps``, ``parse_hdr_file`` and ``MIBProperties``, drop-ins for
``rsciio.quantumdetector``'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.registry import FormatSpec
from .header import FrameHeader, parse_frame_header, parse_hdr_text, read_hdr
from .navigation import line_length_from_timestamps
from .reader import MibReader, MibStack, MibWarning, open_mib, sniff
from .rsciio_api import (
    MIBProperties,
    file_reader,
    load_mib_data,
    parse_exposures,
    parse_hdr_file,
    parse_timestamps,
)
from .writer import save, write_mib


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
    "MIBProperties",
    "MibReader",
    "MibStack",
    "MibWarning",
    "file_reader",
    "frame_headers",
    "line_length_from_timestamps",
    "load_mib_data",
    "open_mib",
    "parse_exposures",
    "parse_frame_header",
    "parse_hdr_file",
    "parse_hdr_text",
    "parse_timestamps",
    "read_hdr",
    "save",
    "write_mib",
]

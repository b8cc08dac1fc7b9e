"""hexrd's ``frame-cache``: sparse thresholded frames, in three on-disk styles.

- ``npz`` (default): a ``np.savez_compressed`` zip with ``shape`` ``[rows, cols]``, ``nframes``,
  ``dtype`` (bytes), and per frame ``{i}_row``/``{i}_col`` (uint16) and ``{i}_data`` (frame dtype);
  every other key is metadata;
- ``fch5``: HDF5 with attribute ``HEXRD_FRAMECACHE_VERSION = 1`` and datasets ``shape``,
  ``nframes``, ``dtype``, ``data`` (m, 1), ``indices`` (m, 2) uint16, ``frame_ids`` (2n,) uint64
  (frame ``i`` is ``data[frame_ids[2i]:frame_ids[2i+1]]``), Blosc zstd; metadata in ``metadata/``;
- legacy ``yml``: ``{data: {file, dtype, nframes, shape}, meta: {...}}`` pointing to an npz.

Reading is lazy: the header and metadata are read at open, each frame when asked for (npz frames
are separate zip members; only those asked for are decompressed). Nothing is ever unpickled: npz
metadata stored by hexrd as pickled object arrays (``None`` values, hexrd issue #806) are skipped
with a warning. Metadata that hexrd cannot keep in an npz (nested dicts, ``None``, lists of mixed
types) is written by scanstack as one JSON string under the key ``__scanstack_metadata_json__``
and merged back on read; plain arrays and scalars are stored as their own keys, as hexrd does.

Write::

    scanstack.save(stack, "cache.npz", "frame-cache", threshold=10, style="npz")
    scanstack.save(stack, "cache.fch5", "frame-cache", threshold=10, style="fch5")
"""

from __future__ import annotations

import re
import zipfile

from ...core.registry import FormatSpec, Probe
from .._hexrd import probe_h5, sniff_yaml_key, yaml_head
from ._layout import (
    FRAME_KEY,
    HEADER_KEYS,
    JSON_KEY,
    MAX_INDEX,
    STYLES,
    VERSION_ATTR,
    ZIP_MAGIC,
    check_style,
)
from .npz import NpzMembers, PickledArrayError
from .reader import FrameCacheReader
from .writer import sparse_frames, write_framecache

__all__ = [
    "FORMAT",
    "FRAME_KEY",
    "HEADER_KEYS",
    "JSON_KEY",
    "MAX_INDEX",
    "STYLES",
    "VERSION_ATTR",
    "FrameCacheReader",
    "NpzMembers",
    "PickledArrayError",
    "check_style",
    "sparse_frames",
    "write_framecache",
]


def sniff(probe: Probe) -> float:
    head = probe.head
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(probe.path) as zf:
                names = set(zf.namelist())
        except (zipfile.BadZipFile, OSError, TypeError):
            return 0.0
        if {"shape.npy", "nframes.npy", "dtype.npy"} <= names:
            return 0.95
        return 0.0
    f = probe_h5(probe)
    if f is not None:
        return 0.95 if VERSION_ATTR in f.attrs else 0.0
    if sniff_yaml_key(probe, rb"data") and re.search(rb"\bfile\s*:", yaml_head(probe)):
        return 0.6
    return 0.0


FORMAT = FormatSpec(
    name="frame-cache",
    description="hexrd frame-cache: sparse thresholded frames (npz, fch5, legacy yml); "
    "write options threshold=, style=, cache_file=",
    extensions=(".npz", ".fch5"),
    reader=FrameCacheReader,
    writer=write_framecache,
    sniff=sniff,
    capabilities={"lazy": True, "region": True, "write": True, "hexrd": True, "sparse": True},
)

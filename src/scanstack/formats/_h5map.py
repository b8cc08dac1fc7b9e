"""Memory maps of HDF5 datasets stored as plain bytes, so reductions fold them in place."""

from __future__ import annotations

import os

import numpy as np


def memmap_dataset(ds) -> np.memmap | None:
    """A read-only ``np.memmap`` of ``ds`` if its bytes lie in its file as one plain array.

    That is: contiguous layout (not chunked, so no filters), not virtual or external, a fixed
    numeric dtype, a file opened by name with the default driver and no user block, and the
    whole array inside the file as it is on disk now (a truncated file is left to h5py, which
    reports it). Returns None otherwise; callers then read through h5py.
    """
    try:
        if ds.chunks is not None or ds.is_virtual or ds.external or ds.size == 0:
            return None
        if ds.dtype.kind not in "biuf" or ds.dtype.hasobject:
            return None
        f = ds.file
        if f.driver != "sec2" or f.userblock_size != 0:
            return None
        offset = ds.id.get_offset()
        path = f.filename
        if offset is None or not os.path.isfile(path):
            return None
        if offset + ds.size * ds.dtype.itemsize > os.path.getsize(path):
            return None
        return np.memmap(path, dtype=ds.dtype, mode="r", offset=offset, shape=ds.shape)
    except (OSError, ValueError, TypeError):
        return None

"""Opening CRONO files for the camera tools, with one clear error for files that are not HDF5."""

from __future__ import annotations

import os

import h5py

from ..core.errors import FormatError
from ..core.h5safety import open_h5_inside


def open_h5(path: str | os.PathLike, allow_outside: bool = False) -> h5py.File:
    """``h5py.File(path, 'r')``, or a :class:`FormatError` naming the file when it is not HDF5
    or names files outside its folder (unless ``allow_outside``; see core.h5safety)."""
    path = os.fspath(path)
    try:
        return open_h5_inside(path, allow_outside)
    except OSError as exc:
        raise FormatError(f"cannot open as HDF5: {exc}", path) from exc

"""Opening CRONO files for the camera tools, with one clear error for files that are not HDF5."""

from __future__ import annotations

import os

import h5py

from ..core.errors import FormatError


def open_h5(path: str | os.PathLike) -> h5py.File:
    """``h5py.File(path, 'r')``, or a :class:`FormatError` naming the file when it is not HDF5."""
    path = os.fspath(path)
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise FormatError(f"cannot open as HDF5: {exc}", path) from exc

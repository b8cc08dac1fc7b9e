"""What format sniffers look at: a :class:`Probe` over the source, opened once for all of them."""

from __future__ import annotations

import builtins
import os
from functools import cached_property
from pathlib import Path
from typing import Any


class SnifferWarning(UserWarning):
    """A format's sniffer raised while detecting a format (that format then scores 0)."""


class Probe:
    """What sniffers look at: the path, its suffix, the first bytes, and (cached) an h5py handle.

    The h5py handle is only given out after :func:`~scanstack.core.h5safety.check_h5_inside`
    (unless ``allow_outside``), so no sniffer follows a link out of the file's folder.
    """

    HEAD_BYTES = 4096

    def __init__(self, source: Any, allow_outside: bool = False):
        self.source = source
        self.allow_outside = allow_outside
        self.path: Path | None = None
        if isinstance(source, (str, os.PathLike)) and "\n" not in os.fspath(source):
            self.path = Path(source)
        self.suffix = self.path.suffix.lower() if self.path else ""
        self._h5 = None

    @cached_property
    def head(self) -> bytes:
        if isinstance(self.source, (bytes, bytearray, memoryview)):
            return bytes(self.source[: self.HEAD_BYTES])
        if hasattr(self.source, "__array_interface__"):  # a numpy buffer (uint8 array, memmap)
            import numpy as np

            return np.asarray(self.source).reshape(-1).view(np.uint8)[: self.HEAD_BYTES].tobytes()
        if self.path is not None and self.path.is_file():
            with builtins.open(self.path, "rb") as fh:
                return fh.read(self.HEAD_BYTES)
        return b""

    @property
    def is_hdf5(self) -> bool:
        return self.head.startswith(b"\x89HDF\r\n\x1a\n")

    def h5(self):
        """An open ``h5py.File`` (read-only) or None; closed by :meth:`close`.

        Raises :class:`FormatError` when the file names a file outside its folder (external
        storage, external link, virtual dataset source) and ``allow_outside`` is not set.
        """
        if self._h5 is None and self.is_hdf5:
            from .h5safety import open_h5_inside

            try:
                self._h5 = open_h5_inside(self.path, self.allow_outside)
            except OSError:
                return None
        return self._h5

    def check_outside(self) -> None:
        """Refuse (:class:`FormatError`) an HDF5 file or open ``h5py`` object naming files
        outside its folder, unless ``allow_outside``."""
        if self.is_hdf5:
            self.h5()
        elif getattr(type(self.source), "__module__", "").startswith("h5py"):
            from .h5safety import check_h5_inside

            check_h5_inside(self.source, self.allow_outside)

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

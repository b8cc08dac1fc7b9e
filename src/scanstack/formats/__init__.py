"""One module (or small package) per format; each exposes a ``FORMAT`` :class:`FormatSpec`.

They are registered through the ``scanstack.formats`` entry points in ``pyproject.toml``.

This package is also callable: ``scanstack.formats()`` lists every known format (the registry's
:func:`scanstack.core.registry.formats`), while ``scanstack.formats.mib`` and
``import scanstack.formats.nexus`` still reach the format modules — one name, both uses.
"""

import sys
import types

# Registers the HDF5 compression filters (Blosc, Zstd, LZ4, ...) with h5py: hexrd's fch5 files
# are Blosc-zstd and writers offer these filters, so every reader needs them, not only writers.
import hdf5plugin  # noqa: F401

from ..core.registry import FormatSpec
from ..core.registry import formats as _list_formats


class _CallablePackage(types.ModuleType):
    def __call__(self) -> dict[str, FormatSpec]:
        """Every known format by name (built-in and plug-ins)."""
        return _list_formats()


sys.modules[__name__].__class__ = _CallablePackage

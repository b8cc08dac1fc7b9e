"""scanstack: one lazy interface over scientific scan data.

>>> import scanstack
>>> s = scanstack.open("scan.mib")            # format auto-detected
>>> s.nav_shape, s.signal_shape, s.dtype
>>> frame = s[0]                               # one frame, an ndarray
>>> s.to_dask()                                # lazy, chunked by scanstack.config.chunk_bytes
>>> scanstack.save(s, "scan.zarr", "zarr")
"""

# ``scanstack.formats`` is the formats package, callable to list the formats (see its docstring)
from . import formats
from .core import (
    Axis,
    FormatError,
    FormatSpec,
    FrameIndexError,
    Reader,
    ScanstackError,
    Stack,
    UnknownFormatError,
    UnsupportedError,
    WriteError,
    config,
    detect_format,
    open,
    register,
    save,
    settings,
)

__version__ = "0.1.0"

__all__ = [
    "Axis",
    "FormatError",
    "FormatSpec",
    "FrameIndexError",
    "Reader",
    "ScanstackError",
    "Stack",
    "UnknownFormatError",
    "UnsupportedError",
    "WriteError",
    "config",
    "detect_format",
    "formats",
    "open",
    "register",
    "save",
    "settings",
    "__version__",
]

"""scanstack: one lazy interface over scientific scan data.

>>> import scanstack
>>> s = scanstack.open("scan.mib")            # format auto-detected
>>> s.nav_shape, s.signal_shape, s.dtype
>>> frame = s[0]                               # one frame, an ndarray
>>> s.to_dask()                                # lazy, chunked by scanstack.config.block_bytes
>>> scanstack.save(s, "scan.zarr", "zarr")
"""

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


def __getattr__(name: str):
    # ``scanstack.formats`` is the formats package, callable to list the formats (see its
    # docstring). It is imported on first use, as the registry does when a file is opened: it
    # loads h5py and the HDF5 compression filters, 0.2 s that `scanstack --help` need not wait.
    if name == "formats":
        import importlib

        return importlib.import_module(".formats", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

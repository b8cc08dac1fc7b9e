"""The core model: readers, lazy stacks, axes, metadata, the registry and shared utilities.

Nothing in here imports a format, a processing op or a domain tool.
"""

from .axes import Axis, default_axes
from .config import config, settings
from .errors import (
    FormatError,
    FrameIndexError,
    ScanstackError,
    UnknownFormatError,
    UnsupportedError,
    WriteError,
)
from .reader import Reader, crop, normalize_region
from .registry import FormatSpec, Probe, detect_format, formats, get_format, open, register, save
from .stack import ReaderStack, Stack, ViewStack

__all__ = [
    "Axis",
    "default_axes",
    "config",
    "settings",
    "FormatError",
    "FrameIndexError",
    "ScanstackError",
    "UnknownFormatError",
    "UnsupportedError",
    "WriteError",
    "Reader",
    "crop",
    "normalize_region",
    "FormatSpec",
    "Probe",
    "detect_format",
    "formats",
    "get_format",
    "open",
    "register",
    "save",
    "ReaderStack",
    "Stack",
    "ViewStack",
]

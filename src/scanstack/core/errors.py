"""One exception family for everything scanstack raises on purpose.

Every message names the file (and dataset or byte offset) and says what was expected and what was
found, so a user can tell a corrupt file from a wrong option without reading a traceback.
"""

from __future__ import annotations

import os


class ScanstackError(Exception):
    """Base class of all scanstack errors."""


class FormatError(ScanstackError, ValueError):
    """The input is not in the expected format, or it is corrupt or truncated.

    Parameters
    ----------
    message:
        What was expected and what was found.
    path:
        The file concerned (str, Path or None for in-memory input).
    where:
        A dataset name, a byte offset (int) or a YAML key, when known.
    """

    def __init__(self, message: str, path=None, where=None):
        self.path = (
            None if path is None else os.fspath(path) if not isinstance(path, bytes) else None
        )
        self.where = where
        self.reason = message
        prefix = f"{self.path}" if self.path else "<in-memory input>"
        if where is not None:
            loc = f"byte offset {where}" if isinstance(where, int) else f"{where}"
            prefix += f" ({loc})"
        super().__init__(f"{prefix}: {message}")


class UnknownFormatError(ScanstackError, KeyError):
    """No format could be found for the input, or an unknown format name was given."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnsupportedError(ScanstackError, NotImplementedError):
    """The format (or this variant of it) cannot do what was asked."""


class WriteError(ScanstackError, OSError):
    """Writing failed, or was refused because it would destroy data."""

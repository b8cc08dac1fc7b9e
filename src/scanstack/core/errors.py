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


class UnknownOptionError(ScanstackError, TypeError):
    """An option the format's reader or writer does not accept (the message lists the accepted)."""


class UnsupportedError(ScanstackError, NotImplementedError):
    """The format (or this variant of it) cannot do what was asked."""


class WriteError(ScanstackError, OSError):
    """Writing failed, or was refused because it would destroy data."""


class FrameIndexError(ScanstackError, IndexError):
    """A frame or region index that is not an integer, or is out of range (also an IndexError)."""


#: packages that decode files for scanstack: an exception raised inside one of them while a reader
#: opens or reads a file means the file is corrupt (or not what it claims to be), not a bug of ours
DECODER_PACKAGES = (
    "h5py",
    "hdf5plugin",
    "zipfile",
    "zlib",
    "gzip",
    "bz2",
    "lzma",
    "numpy.lib.format",
    "numpy.lib._format_impl",
    "tifffile",
    "imagecodecs",
    "zarr",
    "numcodecs",
    "PIL",
    "fabio",
    "simplejpeg",
    "yaml",
    "rsciio",  # the RosettaSciIO fallback reader (formats/rsciio_fallback.py)
)


def _decoder_frame(exc: BaseException):
    """The innermost traceback frame of ``exc`` when it lies in a decoder package, else None."""
    tb = exc.__traceback__
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    if any(module == p or module.startswith(p + ".") for p in DECODER_PACKAGES):
        return tb
    return None


def _where_in_file(exc: BaseException, path=None) -> str | None:
    """The HDF5 object or zip member being read when ``exc`` was raised, when it can be told."""
    where = None
    skip = {None, ""}
    if isinstance(path, (str, os.PathLike)):
        skip |= {os.fspath(path), os.path.basename(os.fspath(path))}
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        module = str(frame.f_globals.get("__name__", ""))
        if module.startswith(("h5py", "zipfile")):
            obj = frame.f_locals.get("self")
            try:
                name = getattr(obj, "name", None)
            except Exception:  # noqa: BLE001 - a corrupt object may not even have a name
                name = None
            local = frame.f_locals.get("name")
            for candidate in (local, name):
                if isinstance(candidate, bytes):
                    candidate = candidate.decode("utf-8", "replace")
                if isinstance(candidate, str) and candidate not in skip:
                    where = candidate
        tb = tb.tb_next
    return where


def decoder_error(
    exc: BaseException, path=None, expected: str = "a readable file"
) -> FormatError | None:
    """``exc`` as a :class:`FormatError` naming ``path`` when a decoder package raised it.

    Returns None for exceptions raised by scanstack's own code (bugs must stay visible), for
    :class:`ScanstackError`, for a missing file or a permission denied (not corruption), and for
    ``MemoryError`` and ``RecursionError``.
    """
    passed = (ScanstackError, MemoryError, RecursionError, FileNotFoundError, PermissionError)
    if isinstance(exc, passed) or not isinstance(exc, Exception):
        return None
    tb = _decoder_frame(exc)
    if tb is None:
        return None
    package = str(tb.tb_frame.f_globals.get("__name__", "")).split(".")[0]
    text = str(exc).strip().replace("\n", " ") or type(exc).__name__
    return FormatError(
        f"expected {expected}; the file is corrupt or truncated ({package}: "
        f"{type(exc).__name__}: {text})",
        path,
        _where_in_file(exc, path),
    )


class MemoryBudgetError(ScanstackError, MemoryError):
    """A read would hold more than ``scanstack.config.memory_budget`` at once.

    Raised before anything is allocated: a frame larger than the budget (a header claiming a
    65535 x 65535 frame), an index or per-frame table larger than the budget read at open, a
    compressed member declaring more bytes than the budget. The message names the file, the
    dataset or member, the size asked for and the budget.
    """

    def __init__(self, message: str, path=None, where=None):
        self.path = None if path is None else os.fspath(path)
        self.where = where
        prefix = self.path or "<in-memory input>"
        if where is not None:
            prefix += f" ({where})"
        super().__init__(f"{prefix}: {message}")


def check_fits(nbytes: int, what: str, path=None, where=None, budget: int | None = None) -> None:
    """Raise :class:`MemoryBudgetError` if ``nbytes`` (for ``what``) exceed the memory budget.

    ``budget`` defaults to ``scanstack.config.memory_budget``.
    """
    if budget is None:
        from .config import config

        budget = config.memory_budget
    if nbytes > budget:
        raise MemoryBudgetError(
            f"{what}: {nbytes / 2**20:,.1f} MiB, more than the memory budget of "
            f"{budget / 2**20:,.1f} MiB (scanstack.config.memory_budget, --memory-budget)",
            path,
            where,
        )

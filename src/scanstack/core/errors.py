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

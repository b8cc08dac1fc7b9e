"""Writing that never destroys data, and paths from files that cannot escape their folder."""

from __future__ import annotations

import os
from pathlib import Path

# writing lives in .atomic; these names stay importable from here
from .atomic import atomic_path, check_not_input, check_output, clean_leftovers
from .errors import FormatError

#: how every refusal of a path leaving the file's folder ends
OUTSIDE_HINT = "pass allow_outside=True (command line: --allow-outside) to allow it"

__all__ = [
    "OUTSIDE_HINT",
    "atomic_path",
    "check_not_input",
    "check_output",
    "clean_leftovers",
    "is_inside",
    "resolve_inside",
]


def resolve_inside(
    base_file: str | os.PathLike | None, relative: str | os.PathLike, allow_outside: bool = False
) -> Path:
    """Resolve a path named inside a file against that file's folder.

    Raises :class:`FormatError` when the result leaves the folder (``..``, absolute paths,
    symlinks) unless ``allow_outside`` is set.
    """
    base = Path(base_file).resolve().parent if base_file is not None else Path.cwd().resolve()
    candidate = (base / Path(relative)).resolve()
    if not allow_outside and not is_inside(candidate, base):
        raise FormatError(
            f"path {os.fspath(relative)!r} points outside the folder {base}; {OUTSIDE_HINT}",
            base_file,
        )
    return candidate


def is_inside(path: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """True when ``path``, symlinks resolved, is ``folder`` (resolved) or lies below it."""
    resolved, root = Path(path).resolve(), Path(folder).resolve()
    return resolved == root or root in resolved.parents

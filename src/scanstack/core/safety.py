"""Writing that never destroys data, and paths from files that cannot escape their folder."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import FormatError, WriteError

#: how every refusal of a path leaving the file's folder ends
OUTSIDE_HINT = "pass allow_outside=True (command line: --allow-outside) to allow it"


def check_not_input(output: str | os.PathLike, inputs: Iterable[str]) -> None:
    """Refuse to write ``output`` if it is one of the files being read."""
    out = Path(output)
    for src in inputs:
        try:
            if out.exists() and Path(src).exists() and os.path.samefile(out, src):
                raise WriteError(f"{out}: refusing to overwrite an input file of this conversion")
        except OSError as exc:
            if isinstance(exc, WriteError):
                raise


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike, overwrite: bool = True, inputs: Iterable[str] = ()
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A failed or interrupted write leaves any existing ``path`` untouched and removes the temporary
    file. ``overwrite=False`` refuses an existing ``path``; inputs are never overwritten.
    """
    target = Path(path)
    check_not_input(target, inputs)
    if target.exists() and not overwrite:
        raise WriteError(f"{target}: exists; pass overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)  # writers create the file themselves (h5py, numpy, zarr want a fresh path)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_dir() and target.is_dir():
            import shutil

            shutil.rmtree(target)
        os.replace(tmp_path, target)
    except BaseException:
        if tmp_path.is_dir():
            import shutil

            shutil.rmtree(tmp_path, ignore_errors=True)
        elif tmp_path.exists():
            tmp_path.unlink()
        raise


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

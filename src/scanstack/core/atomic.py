"""Atomic replacement of outputs: the final name always holds a complete old or a complete new one.

A writer writes into a hidden temporary name beside the output, ``.<name>.<pid>-<random>.part``,
and only a finished write is moved onto the final name:

- a file replaces a file with one ``rename`` (atomic on POSIX);
- a folder (a zarr store) replaces a folder by an atomic exchange of the two names
  (Linux ``renameat2(RENAME_EXCHANGE)``); where the file system lacks it, the old folder is
  renamed aside (``.<name>.<pid>-<random>.aside``), the new one renamed in, and the aside deleted,
  restoring the old folder on any error. The old folder is deleted only after the swap.

A write killed with SIGKILL leaves its hidden temporary (or aside) name behind; the next write to
the same output removes such leftovers of processes that no longer run (and puts back an aside
folder whose output name is missing), and names in a warning those of processes still running.

``overwrite=False`` (the default) refuses an existing output; inputs are never overwritten; a
folder where a file goes, a file where a folder goes and a full disk are each one clear
:class:`WriteError`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from .errors import ScanstackError, WriteError

PART = ".part"
ASIDE = ".aside"
#: errno values meaning "the device is full" (ENOSPC), "over quota" and "file too large".
FULL_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
#: test hook: ``SCANSTACK_TEST_STOP_AT=point[:n]`` stops the n-th time ``point`` is reached
STOP_AT_ENV = "SCANSTACK_TEST_STOP_AT"
STOP_FILE_ENV = "SCANSTACK_TEST_STOP_FILE"
_reached: dict[str, int] = {}
#: set to False to use rename-aside even where the atomic exchange exists (tests both ways)
use_exchange = True


def checkpoint(point: str) -> None:
    """A named point of a write, for the kill tests (does nothing unless the env var names it).

    With ``SCANSTACK_TEST_STOP_AT=point`` (or ``point:n`` for its n-th occurrence) the process
    writes its pid to ``SCANSTACK_TEST_STOP_FILE`` and waits there to be killed or interrupted,
    so a test can signal it at an exact point of the write instead of after a guessed delay.
    """
    want = os.environ.get(STOP_AT_ENV)
    if not want:
        return
    name, _, nth = want.partition(":")
    if name != point:
        return
    _reached[point] = _reached.get(point, 0) + 1
    if _reached[point] != int(nth or 1):
        return
    marker = os.environ.get(STOP_FILE_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()))
    while True:  # SIGINT (and the CLI's SIGTERM) raise here; SIGKILL just ends the process
        time.sleep(0.02)


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


def check_output(path: str | os.PathLike, overwrite: bool, folder: bool = False) -> None:
    """Refuse, before anything is written, an output that exists (unless ``overwrite``) or that
    is a folder where a file goes (or a file where a folder goes, ``folder=True``)."""
    target = Path(path)
    if not (target.exists() or target.is_symlink()):
        return
    if target.is_dir() and not folder:
        raise WriteError(
            f"{target}: is a folder, but this output is a file; remove it or choose another name"
        )
    if folder and not target.is_dir():
        raise WriteError(
            f"{target}: is a file, but this output is a folder (a store); "
            "remove it or choose another name"
        )
    if not overwrite:
        raise WriteError(f"{target}: exists; pass overwrite=True (CLI: --overwrite) to replace it")


def full_disk_error(target: str | os.PathLike, exc: BaseException) -> WriteError | None:
    """A one-line :class:`WriteError` when ``exc`` (or its cause) means the device is full.

    Called before the temporary output is removed: an ``OSError`` without an errno (tifffile's
    "N requested and M written") counts when no block of the device is left.
    """
    reason = None
    if isinstance(exc, OSError) and exc.errno is None and _device_full(Path(target).parent):
        reason = "no space left on device"
    seen = 0
    while reason is None and exc is not None and seen < 8:  # h5py and zarr wrap the OS error
        if isinstance(exc, OSError) and exc.errno in FULL_DISK_ERRNOS:
            reason = os.strerror(exc.errno).lower()
        elif isinstance(exc, OSError) and re.search(r"errno = 28\b|No space left", str(exc)):
            reason = "no space left on device"  # h5py: ENOSPC inside a plain OSError's message
        exc = exc.__cause__ or exc.__context__
        seen += 1
    if reason is None:
        return None
    return WriteError(
        f"{target}: cannot write, {reason}; nothing was replaced and the temporary output "
        "was removed"
    )


def _device_full(folder: Path) -> bool:
    statvfs = getattr(os, "statvfs", None)  # not on Windows
    try:
        return statvfs is not None and statvfs(folder).f_bavail == 0
    except OSError:
        return False


# -- hidden names and their clean-up ------------------------------------------------------------
def hidden_name(target: Path, suffix: str = PART) -> Path:
    """``.<name>.<pid>-<random><suffix>`` beside ``target`` (the pid tells whose it is)."""
    return target.with_name(f".{target.name}.{os.getpid()}-{secrets.token_hex(4)}{suffix}")


_LEFTOVER = re.compile(
    rf"\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]+(?P<kind>{re.escape(PART)}|{re.escape(ASIDE)})"
)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be writing the same output
    if os.name == "nt":  # os.kill(pid, 0) would send Ctrl-C there: assume it runs
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_path(path: Path) -> None:
    """Remove a file or a folder tree; nothing if it is gone."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_leftovers(
    path: str | os.PathLike,
    match: str | None = None,
    before_remove: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Remove the temporary and aside names that killed writes of ``path`` left behind.

    ``match`` (a regular expression of output names in the folder of ``path``) widens this to
    every output of a multi-file write; ``before_remove(leftover)`` is called before each is
    removed. Leftovers of processes still running (on this machine) are named in a warning and
    kept. An aside folder whose output name is missing is the complete old output of a write
    killed mid-swap: it is renamed back. Returns the leftovers removed (or restored).
    """
    target = Path(path)
    parent = target.parent
    if not parent.is_dir():
        return []
    wanted = re.compile(match if match is not None else re.escape(target.name))
    found = []
    with os.scandir(parent) as entries:
        for entry in entries:
            m = _LEFTOVER.fullmatch(entry.name) if entry.name.startswith(".") else None
            if m and wanted.fullmatch(m.group("name")):
                found.append((parent / entry.name, parent / m.group("name"), m))
    done: list[Path] = []
    for leftover, output, m in sorted(found):
        pid = int(m.group("pid"))
        if _alive(pid):
            if pid != os.getpid():
                warnings.warn(
                    f"{leftover}: temporary output of a running process (pid {pid}) writing "
                    f"{output}; left alone",
                    stacklevel=3,
                )
            continue
        if m.group("kind") == ASIDE and not (output.exists() or output.is_symlink()):
            os.rename(leftover, output)  # the old output, moved aside by a killed swap
            warnings.warn(
                f"{output}: restored from {leftover.name}, left by a write killed mid-swap",
                stacklevel=3,
            )
        else:
            if before_remove is not None:
                before_remove(leftover)
            remove_path(leftover)
        done.append(leftover)
    return done


# -- the swap --------------------------------------------------------------------------------
def _renameat2():
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError, TypeError):  # not glibc/Linux (macOS, Windows, musl < 1.2)
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


_RENAMEAT2 = _renameat2()
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap the names ``a`` and ``b``; False where the system cannot (then nothing
    changed)."""
    if _RENAMEAT2 is None or not use_exchange:
        return False
    if _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), os.fspath(b))


def commit(tmp: Path, target: Path) -> None:
    """Move the finished ``tmp`` onto ``target``; an existing folder is swapped, never deleted
    before the new one holds the name."""
    if tmp.is_dir() != target.is_dir() and (target.exists() or target.is_symlink()):
        check_output(target, True, folder=tmp.is_dir())  # raises: a file and a folder
    if not tmp.is_dir() or not target.is_dir():
        os.replace(tmp, target)  # atomic for files (and for a folder onto a missing name)
        checkpoint("after-commit")
        return
    if exchange(tmp, target):
        checkpoint("after-commit")
        remove_path(tmp)  # now the old store
        return
    aside = hidden_name(target, ASIDE)
    os.rename(target, aside)
    try:
        checkpoint("aside")
        os.rename(tmp, target)
    except BaseException:
        if not target.exists():
            os.rename(aside, target)
        raise
    checkpoint("after-commit")
    remove_path(aside)


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike,
    overwrite: bool = False,
    inputs: Iterable[str] = (),
    folder: bool = False,
    clean: bool = True,
) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; move it onto ``path`` only if the block
    succeeds.

    The writer creates the file (or, with ``folder=True``, the folder) at the yielded path. A
    failed or interrupted write leaves ``path`` as it was and removes the temporary output; a
    full disk becomes a :class:`WriteError`. ``overwrite=False`` refuses an existing ``path``;
    inputs are never overwritten. Leftovers of earlier killed writes of ``path`` are removed
    first (:func:`clean_leftovers`) unless ``clean=False`` (a writer of many files in one folder
    cleans them once, not once per file).
    """
    target = Path(path)
    check_not_input(target, inputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    if clean:
        clean_leftovers(target)
    check_output(target, overwrite, folder)
    tmp = hidden_name(target)
    try:
        yield tmp
        checkpoint("before-commit")
        commit(tmp, target)
    except BaseException as exc:
        full = None if isinstance(exc, ScanstackError) else full_disk_error(target, exc)
        remove_path(tmp)
        if full is not None:
            raise full from exc
        raise

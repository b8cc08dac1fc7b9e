"""Shared by the hexrd-family formats (hdf5, frame-cache, image-files, raw-image, tiff sequences).

- YAML sources: a path to a ``.yml``/``.yaml`` file or a multi-line YAML string, read with
  :func:`scanstack.core.safeyaml.load_yaml_text` only (safe tags, bounded size and aliases);
- hexrd's YAML ``meta`` triggers (``"! load-numpy-array file.npy"``, the obsolete ``"++np.array"``),
  with the file resolved against the YAML file's folder and loaded without pickle;
- HDF5 sources given as a file name or an already-open ``h5py.File``/``Group``;
- :class:`LazyPool`, the thread pool a reader decodes frames in, started on first read;
- :class:`OptionError`, a bad writer/reader option: a :class:`WriteError` that is also a
  ``ValueError`` (hexrd raises ``ValueError`` for ``gzip=10``); :class:`StyleError` and
  :class:`DatasetShapeError`, :class:`FormatError` s that are also the ``TypeError`` /
  ``RuntimeError`` hexrd raises for an unknown frame-cache style / a dataset not 2-D or 3-D.
"""

from __future__ import annotations

import copy
import os
import posixpath
import re
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import FormatError, WriteError
from ..core.h5safety import check_h5_inside, open_h5_inside
from ..core.readahead import each_run, partitions
from ..core.safety import resolve_inside
from ..core.safeyaml import MAX_YAML_BYTES, load_yaml_text

YAML_SUFFIXES = (".yml", ".yaml")
LOAD_NUMPY_TRIGGER = "! load-numpy-array"


class OptionError(WriteError, ValueError):
    """An invalid option (value out of range, missing required option)."""


class StyleError(FormatError, TypeError):
    """An unknown frame-cache ``style`` when reading (hexrd raises ``TypeError``)."""


class DatasetShapeError(FormatError, RuntimeError):
    """An image dataset that is neither 2-D nor 3-D (hexrd raises ``RuntimeError``)."""


# -- YAML ---------------------------------------------------------------------------------------
def is_yaml_text(source: Any) -> bool:
    """True when ``source`` is YAML content rather than a path (hexrd: a str of several lines)."""
    return isinstance(source, str) and "\n" in source.strip("\n")


def load_yaml(source: Any, fmt: str) -> tuple[dict, Path | None]:
    """Parse a YAML path or string; returns ``(tree, yaml_path or None)``.

    Raises :class:`FormatError` naming the file when it is not YAML or not a mapping, or
    larger than :data:`~scanstack.core.safeyaml.MAX_YAML_BYTES`.
    """
    if is_yaml_text(source):
        text, path = source, None
    else:
        path = Path(os.fspath(source))
        try:
            with open(path, "rb") as fh:  # look before reading: this may be a GB detector file
                binary = b"\x00" in fh.read(4096)
                size = fh.seek(0, os.SEEK_END)
            if not binary and size > MAX_YAML_BYTES:
                raise FormatError(
                    f"expected a {fmt} YAML file of at most {MAX_YAML_BYTES} bytes, "
                    f"found {size} bytes",
                    path,
                )
            raw = b"" if binary else path.read_bytes()
        except IsADirectoryError as exc:
            raise FormatError(f"expected a {fmt} YAML file, found a folder", path) from exc
        if binary:
            hint = "; for headerless frames pass shape= and dtype=" if fmt == "raw-image" else ""
            raise FormatError(f"expected a {fmt} YAML text file, found binary data{hint}", path)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"expected a {fmt} YAML text file (UTF-8): {exc}", path) from exc
    tree = load_yaml_text(text, path, f"{fmt} YAML")
    if not isinstance(tree, dict):
        raise FormatError(f"expected a {fmt} YAML mapping, found {type(tree).__name__}", path)
    return tree, path


def yaml_section(tree: dict, key: str, path, required: bool = True, default=None) -> Any:
    """``tree[key]`` or a :class:`FormatError` naming the key when it is missing."""
    if key not in tree:
        if required:
            raise FormatError(
                f"YAML has no {key!r} key (keys found: {', '.join(map(str, tree))})", path, key
            )
        return default
    return tree[key]


def yamlmeta(
    meta: dict | None, path: str | os.PathLike | None = None, allow_outside: bool = False
) -> dict:
    """hexrd's metadata triggers, resolved.

    - ``"! load-numpy-array file.npy"`` is replaced by ``np.load(file, allow_pickle=False)``, the
      file resolved against the folder of ``path`` (the YAML file; the current folder for YAML
      strings) and refused outside it unless ``allow_outside``;
    - ``key: "++np.array"`` with a sibling ``key-array: [...]`` becomes ``np.array([...])``;
    - any other ``"! command"`` is dropped with a warning (hexrd drops it silently).
    """
    out: dict = {}
    if meta is not None and not isinstance(meta, dict):
        raise FormatError(
            f"expected 'meta' to be a mapping, found {type(meta).__name__}", path, "meta"
        )
    meta = dict(meta or {})
    consumed = {f"{k}-array" for k, v in meta.items() if v == "++np.array"}
    for key, value in meta.items():
        if key in consumed:
            continue
        if isinstance(value, str) and value.startswith("!"):
            words = value[1:].split(None, 1)
            if words and words[0] == LOAD_NUMPY_TRIGGER[2:] and len(words) == 2:
                out[key] = load_npy(path, words[1].strip(), allow_outside, where=f"meta/{key}")
            else:
                warnings.warn(
                    f"{path or '<YAML string>'}: meta/{key}: unknown trigger {value!r} ignored",
                    UserWarning,
                    stacklevel=3,
                )
        elif value == "++np.array":
            out[key] = np.array(meta.get(f"{key}-array"))
        else:
            out[key] = value
    return out


def load_npy(yaml_path, relative: str, allow_outside: bool = False, where: str | None = None):
    """Load a ``.npy`` named in a YAML file, relative to it, never unpickling."""
    target = resolve_inside(yaml_path, relative, allow_outside)
    try:
        return np.load(target, allow_pickle=False)
    except FileNotFoundError as exc:
        raise FormatError(f"{where or 'meta'}: {target} does not exist", yaml_path, where) from exc
    except (ValueError, OSError, EOFError) as exc:
        raise FormatError(
            f"{where or 'meta'}: {target} is not a readable .npy array "
            f"(object arrays are refused, no pickle): {exc}",
            yaml_path,
            where,
        ) from exc


def yaml_head(probe) -> bytes:
    """The first bytes of a YAML file or string being sniffed (b'' when it cannot be YAML)."""
    if is_yaml_text(probe.source):
        head = probe.source[:4096].encode("utf-8", "replace")
    elif probe.suffix in YAML_SUFFIXES or probe.suffix in ("", ".txt", ".cfg"):
        head = probe.head
    else:
        return b""
    return b"" if b"\x00" in head else head


def sniff_yaml_key(probe, pattern: bytes) -> bool:
    """True when the probe is a YAML file or string whose top level has a key matching ``pattern``."""
    return re.search(rb"^" + pattern + rb"\s*:", yaml_head(probe), re.M) is not None


# -- HDF5 sources ------------------------------------------------------------------------------
def probe_h5(probe):
    """The HDF5 group to sniff: an ``h5py.File``/``Group`` given as the source, or the file."""
    import h5py

    if isinstance(probe.source, h5py.Group):
        return probe.source
    return probe.h5() if probe.is_hdf5 else None


class H5Source:
    """A file name or an open ``h5py.File``/``Group``, plus a group path inside it.

    ``filename`` and ``group_path`` (absolute) are enough to re-open after pickling; ``group()``
    returns the live group, opening the file read-only when needed. The file (given open or
    opened here) is refused when it names files outside its folder, unless ``allow_outside``
    (:mod:`scanstack.core.h5safety`).
    """

    def __init__(self, source: Any, path: str | None = None, allow_outside: bool = False):
        import h5py

        self.given = source
        self.allow_outside = allow_outside
        if isinstance(source, h5py.Group):
            check_h5_inside(source, allow_outside)
            self.filename = source.file.filename
            base = source.name
            self._file = source.file
            self.owns = False
        else:
            self.filename = os.fspath(source)
            base = "/"
            self._file = None
            self.owns = True
        self.base = base
        self.group_path = self._join(base, path)

    @staticmethod
    def _join(base: str, path: str | None) -> str:
        joined = posixpath.normpath(posixpath.join(base, path or "")) if path else base
        return joined[1:] if joined.startswith("//") else joined

    def descend(self, path: str | None) -> H5Source:
        """This source at group ``path`` (relative to the given group), sharing the file
        already opened and checked (no second open, no second outside check)."""
        other = copy.copy(self)
        other.group_path = self._join(self.base, path)
        return other

    def file(self):
        if self._file is None or not self._file.id.valid:
            if not self.owns and self._file is not None:
                # the caller closed its handle: re-open by name, read-only
                self.owns = True
            try:
                self._file = open_h5_inside(self.filename, self.allow_outside)
            except OSError as exc:
                raise FormatError(f"expected an HDF5 file: {exc}", self.filename) from exc
        return self._file

    def group(self, fmt: str):
        f = self.file()
        if self.group_path not in f:
            top = ", ".join(f.keys()) or "nothing"
            raise FormatError(
                f"expected a group {self.group_path!r} ({fmt}), the file holds at its top: {top}",
                self.filename,
                self.group_path,
            )
        group = f[self.group_path]
        if not hasattr(group, "keys"):
            raise FormatError(
                f"expected {self.group_path!r} to be a group ({fmt}), found a dataset",
                self.filename,
                self.group_path,
            )
        return group

    def close(self, force: bool = False) -> None:
        if self._file is not None and (self.owns or force):
            try:
                if self._file.id.valid:
                    self._file.close()
            except Exception as exc:  # noqa: BLE001 - closing must not raise (hexrd warns too)
                warnings.warn(
                    f"{self.filename}: could not close h5 file: {exc}", UserWarning, stacklevel=2
                )
        if self.owns or force:
            self._file = None


# -- reader thread pools -------------------------------------------------------------------------
class LazyPool:
    """A reader's thread pool, started on the first :meth:`get` (a reader that is only opened,
    or pickled to a worker, starts no threads) and stopped by :meth:`shutdown` (from ``close``).

    ``workers`` threads, default ``config.threads()``. Thread-safe.
    """

    def __init__(self, workers: int | None = None):
        self.workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                from ..core.config import config

                self._pool = ThreadPoolExecutor(self.workers or config.threads())
            return self._pool

    def size(self) -> int:
        """The number of threads (whether or not the pool has started)."""
        from ..core.config import config

        return max(1, int(self.workers or config.threads()))

    def each_run(self, func: Callable[[int, int], None], n: int) -> None:
        """``func(a, b)`` over ``range(n)`` cut into one contiguous run per thread of the pool
        (:func:`~scanstack.core.readahead.each_run`); the pool starts only for two runs or more."""
        parts = partitions(n, self.size())
        each_run(func, parts, self.get() if len(parts) > 1 else None)

    def shutdown(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)

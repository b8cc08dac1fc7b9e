"""HDF5 files that name other files: refuse every target outside the file's folder.

An HDF5 file can make the library read other files without the reader asking for them:

- **external raw storage** (``dataset.external``): the dataset's bytes live in named files,
  which HDF5 looks up relative to the *current working directory* (or ``HDF5_EXTFILE_PREFIX``);
- **external links**: a link names a file and an object in it; HDF5 tries the absolute name,
  ``HDF5_EXT_PREFIX``, the folder of the file holding the link, then the current folder;
- **virtual datasets** (VDS): each source names a file (``.`` = this file), looked up like an
  external link but with ``HDF5_VDS_PREFIX``.

:func:`check_h5_inside` walks a whole file (without following soft or external links, and
without reading any data), works out for every such name the file HDF5 would actually open,
and raises :class:`FormatError` naming the file and the dataset or link when that file is
outside the folder of the file that was opened (symlinks resolved). Target files inside the
folder are walked too, since they may name further files. Every HDF5 reader, and format
sniffing, goes through :func:`open_h5_inside` or :func:`check_h5_inside`.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any

from .errors import FormatError
from .safety import OUTSIDE_HINT, is_inside

#: the environment variable of extra search folders HDF5 reads for each kind of name
_PREFIX_ENV = {"external link": "HDF5_EXT_PREFIX", "virtual dataset source": "HDF5_VDS_PREFIX"}


def _prefixes(env: str, parent: Path) -> list[Path]:
    value = os.environ.get(env, "")
    return [Path(p.replace("${ORIGIN}", str(parent))) for p in value.split(os.pathsep) if p]


def _lookup(name: str, parent: Path, kind: str) -> list[Path]:
    """The files HDF5 tries, in its order, for ``name`` written in a file of folder ``parent``."""
    given = Path(name)
    if kind == "external storage":
        # H5Pset_efile_prefix / HDF5_EXTFILE_PREFIX, else relative to the current folder
        prefix = os.environ.get("HDF5_EXTFILE_PREFIX", "")
        if prefix and not given.is_absolute():
            return [Path(prefix.replace("${ORIGIN}", str(parent))) / given]
        return [Path.cwd() / given]
    tries = [given] if given.is_absolute() else []
    rel = Path(given.name) if given.is_absolute() else given  # HDF5 then drops the folders
    tries += [p / rel for p in _prefixes(_PREFIX_ENV[kind], parent)]
    tries += [parent / rel, Path.cwd() / rel]
    return tries


def _existing(name: str, parent: Path, kind: str) -> list[list[Path]]:
    """The places HDF5 tries for ``name``, in order, each as the existing file(s) it finds there.

    A VDS source name may hold ``%b`` (block number): all matches of a place count.
    """
    places = []
    for candidate in _lookup(name, parent, kind):
        if kind == "virtual dataset source" and "%b" in name:
            pattern = glob.escape(str(candidate)).replace("%b", "*")
            found = [Path(m) for m in sorted(glob.glob(pattern))]
        else:
            found = [candidate] if os.path.lexists(candidate) else []
        if found:
            places.append(found)
    return places


class _Walker:
    """One check: the folder everything must stay in, and the files already walked."""

    def __init__(self, top: str):
        self.top = top
        self.folder = Path(top).resolve().parent
        self.walked: set[Path] = set()

    def _elsewhere(self, holder: str) -> bool:
        """Whether ``holder`` is another file than the one being checked (messages name it)."""
        return Path(holder).resolve() != Path(self.top).resolve()

    def refuse(self, where: str, kind: str, name: str, target: Path, holder: str) -> None:
        via = f" (in {holder})" if self._elsewhere(holder) else ""
        raise FormatError(
            f"{kind} {name!r}{via} makes HDF5 read {target.resolve()}, outside the folder "
            f"{self.folder}; {OUTSIDE_HINT}",
            self.top,
            where,
        )

    def follow(self, where: str, kind: str, name: str, holder: str) -> None:
        """Check one name found in file ``holder``; walk the target file when it is inside."""
        if kind == "virtual dataset source" and name == ".":
            return  # the same file: walked already
        parent = Path(os.path.abspath(holder)).parent  # HDF5 uses the path as opened
        for found in _existing(name, parent, kind):
            for target in found:
                if not is_inside(target, self.folder):
                    self.refuse(where, kind, name, target, holder)
            if kind == "external storage":
                return  # one place only
            opened = [self.walk_path(target) for target in found]
            if any(opened):
                return  # HDF5 reads this one; if it does not open, check the next place too

    def walk_path(self, path: Path) -> bool:
        """Walk the HDF5 file at ``path`` (once); False when it is not one HDF5 can open."""
        import h5py

        resolved = path.resolve()
        if resolved in self.walked:
            return True
        try:
            f = h5py.File(os.path.abspath(path), "r")  # as HDF5 opens it (relative names)
        except OSError:
            return False
        with f:
            self.walk(f)
        return True

    def walk(self, f) -> None:
        """Check every external link, then every dataset, of the open file ``f``.

        h5py's low-level visitors: each walks hard links only (never into soft or external
        links), and the object walk reaches each object once; the high-level ones build a
        Python object per link and cost several times more on files of many datasets.
        """
        from h5py import h5l, h5o

        self.walked.add(Path(f.filename).resolve())
        holder = f.filename
        failed: list[BaseException] = []

        def on_link(name: bytes, info) -> int | None:
            # an exception must not cross h5py's C callback: keep it, stop the walk (1)
            if info.type != h5l.TYPE_EXTERNAL:
                return None
            try:
                target, _ = f.id.links.get_val(name)
                self.follow("/" + os.fsdecode(name), "external link", os.fsdecode(target), holder)
            except Exception as exc:  # noqa: BLE001 - re-raised below, outside the callback
                failed.append(exc)
                return 1
            return None

        def on_object(name: bytes, info) -> int | None:
            if info.type != h5o.TYPE_DATASET:
                return None
            try:
                self.check_dataset(f.id, name, holder)
            except Exception as exc:  # noqa: BLE001 - re-raised below, outside the callback
                failed.append(exc)
                return 1
            return None

        for visit in (
            lambda: f.id.links.visit(on_link, info=True),
            lambda: h5o.visit(f.id, on_object, info=True),
        ):
            try:
                visit()
            except Exception as exc:  # noqa: BLE001 - a damaged group: say so, in our words
                failed.append(self.damaged(holder, None, exc))
            if failed:
                raise failed[0]

    def damaged(self, holder: str, where: str | None, exc: BaseException) -> FormatError:
        via = f" {holder}:" if self._elsewhere(holder) else ""
        return FormatError(
            f"cannot check which files{via} this file names (damaged HDF5? "
            f"{type(exc).__name__}: {exc})",
            self.top,
            where,
        )

    def check_dataset(self, fid, name: bytes, holder: str) -> None:
        """The external-storage files and VDS source files of dataset ``name``, checked."""
        from h5py import h5d

        where = "/" + os.fsdecode(name)
        try:
            dcpl = h5d.open(fid, name).get_create_plist()
        except Exception:  # noqa: BLE001 - cannot be opened: HDF5 cannot read through it either
            return
        try:
            external = [
                os.fsdecode(dcpl.get_external(i)[0]) for i in range(dcpl.get_external_count())
            ]
            sources = []
            if dcpl.get_layout() == h5d.VIRTUAL:
                sources = [dcpl.get_virtual_filename(i) for i in range(dcpl.get_virtual_count())]
        except Exception as exc:  # noqa: BLE001 - unknown targets: refuse rather than guess
            raise self.damaged(holder, where, exc) from exc
        for target in external:
            self.follow(where, "external storage", target, holder)
        for target in sources:
            self.follow(where, "virtual dataset source", os.fsdecode(target), holder)


def check_h5_inside(h5: Any, allow_outside: bool = False) -> None:
    """Refuse an open HDF5 file (or any object in it) that makes HDF5 read outside its folder.

    Walks the whole file ``h5.file`` and every HDF5 file it names inside the folder; raises
    :class:`FormatError` naming the file and the dataset or link otherwise. Reads no data.
    ``allow_outside=True`` skips the check.
    """
    if allow_outside:
        return
    f = h5.file
    _Walker(f.filename).walk(f)


#: HDF5's cache of decoded chunks per open dataset, in bytes, for files opened here: HDF5 2.0's
#: default of 8 MiB per dataset is a cost on top of the memory budget; the readers read one chunk
#: at a time, so a small cache only serves consecutive reads within one chunk
H5_CHUNK_CACHE = 1 << 20


def open_h5_inside(path: str | os.PathLike, allow_outside: bool = False):
    """``h5py.File(path, 'r')`` (chunk cache :data:`H5_CHUNK_CACHE`) after
    :func:`check_h5_inside` (closed again when refused).

    h5py's ``OSError`` for a file that is not HDF5 is left to the caller to word.
    """
    import h5py

    f = h5py.File(os.fspath(path), "r", rdcc_nbytes=H5_CHUNK_CACHE)
    try:
        check_h5_inside(f, allow_outside)
    except BaseException:
        f.close()
        raise
    return f


__all__ = ["H5_CHUNK_CACHE", "check_h5_inside", "open_h5_inside"]

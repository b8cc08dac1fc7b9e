"""Writing a TIFF sequence (one TIFF per frame + an ``image-files`` YAML) replaced as a whole.

The YAML index is what readers open, so it is switched last and atomically: new frames are
written under names that no existing file has (``frames_00000.tif``…, or
``frames_<6 hex>_00000.tif`` when those exist), the index is renamed onto its name, and only then
are the old frames removed. A reader of the index sees all old frames or all new ones, never a mix.

The index starts with :data:`MARK`; only the files an index carrying it lists, and only those
named as this writer names them, are ever removed: those of the index being replaced, after the
switch (the new index names them on its second line, so a write killed between switch and
removal is finished by the next write), and those of a write killed before its switch (its
temporary index lists them from the start; the next write reads the leftover). The files of an
index this writer did not write are never removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic import atomic_path, check_not_input, checkpoint, clean_leftovers, remove_path
from ..core.errors import FormatError
from ..core.metadata import to_jsonable
from ..core.progress import Progress
from ..core.safeyaml import MAX_YAML_BYTES, load_yaml_text
from ._hexrd import LOAD_NUMPY_TRIGGER

MARK = "# scanstack TIFF sequence: the frame files below are replaced together with this index\n"
STALE = "# stale: "  # second line: the files of the index this one replaced, as a JSON list


def frame_stem(index: Path) -> str:
    """The stem of the frame names of ``index``, usable in hexrd's ``files`` string: no
    whitespace (hexrd splits on it) and no glob characters (hexrd globs every name)."""
    return re.sub(r"[\s*?\[\]]", "_", index.stem)


def own_names(index: Path) -> re.Pattern:
    """The names this writer gives to frames (``<stem>_[<6 hex>_]NNNNN.tif``) and ``.npy``
    metadata (``<stem>_[<6 hex>_]<key>.npy``) of the index ``<stem>.yml``."""
    stem = re.escape(frame_stem(index))
    return re.compile(rf"{stem}_(?:[0-9a-f]{{6}}_)?(?:\d{{5,}}\.tif|.+\.npy)")


def read_index(index: Path) -> tuple[set[str], set[str]] | None:
    """``(listed, stale)``: the files listed by a YAML index this writer wrote and those of the
    index it replaced; None when ``index`` is missing, unreadable or not this writer's."""
    try:
        with open(index, encoding="utf-8") as fh:
            if fh.readline() != MARK:
                return None
            second = fh.readline()
            tree = load_yaml_text(second + fh.read(MAX_YAML_BYTES), index)
    except (OSError, UnicodeDecodeError, FormatError):
        return None  # not an index this writer wrote: none of its files is ever removed
    if not isinstance(tree, dict):
        return None
    section = tree.get("image-files")
    files = section.get("files") if isinstance(section, dict) else None
    if isinstance(files, str):  # hexrd's form: one whitespace-separated string
        files = files.split()
    listed = {f for f in files if isinstance(f, str)} if isinstance(files, list) else set()
    meta = tree.get("meta")
    for value in meta.values() if isinstance(meta, dict) else ():
        if isinstance(value, str) and value.startswith(LOAD_NUMPY_TRIGGER):
            listed.add(value[len(LOAD_NUMPY_TRIGGER) :].strip())
    stale: set[str] = set()
    if second.startswith(STALE):
        with contextlib.suppress(ValueError):
            names = json.loads(second[len(STALE) :])
            stale = {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()
    return _in_folder(listed, index.parent), _in_folder(stale, index.parent)


def _in_folder(names: set[str], folder: Path) -> set[str]:
    """The plain names of ``names`` in ``folder`` (names or absolute paths of files there)."""
    here = folder.resolve()
    out = set()
    for name in names:
        p = Path(name)
        if name and (p.name == name or (p.is_absolute() and p.parent == here)):
            out.add(p.name)
    return out


def remove_files(index: Path, doomed: set[str]) -> None:
    """Remove the ``doomed`` files that carry this writer's names and that the index now at
    ``index`` (if this writer's) does not list."""
    ours = own_names(index)
    current = read_index(index)
    keep = current[0] if current is not None else set()
    for name in sorted(doomed - keep):
        if ours.fullmatch(name):
            remove_path(index.parent / name)


def _fresh_names(folder: Path, stem: str, nframes: int, keys: list[str]) -> tuple[list, dict]:
    """Frame and ``.npy`` names of which none exists yet."""
    digits = max(5, len(str(max(nframes - 1, 0))))
    tag = ""
    while True:
        frames = [f"{stem}_{tag}{i:0{digits}d}.tif" for i in range(nframes)]
        npys = {k: f"{stem}_{tag}{k}.npy" for k in keys}
        if not any((folder / n).exists() for n in (*frames, *npys.values())):
            return frames, npys
        tag = secrets.token_hex(3) + "_"


def write_sequence(
    stack, path: Path, compression, progress, overwrite: bool, frames, absolute: bool = False
) -> str:
    """Write ``stack`` as ``<stem>_NNNNN.tif`` files beside the YAML index ``path``.

    ``frames`` is an iterator over the stack's frames (each ``signal_shape``); ``absolute=True``
    names the folder and the ``.npy`` files by absolute path in the YAML (for hexrd, which
    resolves relative names against its current folder).
    """
    import tifffile
    import yaml

    stem, folder = frame_stem(path), path.parent
    folder.mkdir(parents=True, exist_ok=True)
    prefix = f"{folder.resolve()}{os.sep}" if absolute else ""
    if re.search(r"\s", prefix):
        warnings.warn(
            f"{path}: the absolute folder name has whitespace; hexrd splits "
            f"'{LOAD_NUMPY_TRIGGER} <file>' on whitespace and will not find the .npy metadata",
            UserWarning,
            stacklevel=3,
        )
    inputs = list(stack.source_paths())
    check_not_input(path, inputs)

    def forget_killed(leftover: Path) -> None:  # the new files of a write killed before its switch
        remove_files(path, (read_index(leftover) or (set(), set()))[0])

    clean_leftovers(path, before_remove=forget_killed)
    clean_leftovers(path, match=own_names(path).pattern)  # frames killed while being written
    old = read_index(path)
    if old is not None:  # a write killed after its switch left the files it replaced
        remove_files(path, old[1])
    metadata = dict(stack.metadata or {})
    arrays = [
        str(k)
        for k, v in metadata.items()
        if isinstance(v, np.ndarray) and v.dtype.kind in "biufc" and v.ndim >= 1
    ]
    names, npys = _fresh_names(folder, stem, stack.nframes, arrays)
    stale = (old[0] if old is not None else set()) - set(names) - set(npys.values())
    meta: dict[str, Any] = {}
    for key, value in metadata.items():
        key = str(key)
        meta[key] = (
            f"{LOAD_NUMPY_TRIGGER} {prefix}{npys[key]}" if key in npys else to_jsonable(value)
        )
    directory = os.fspath(folder.resolve()) if absolute else "."
    files = " ".join(names)  # hexrd: `for g in files.split(): glob(join(directory, g))`
    tree = {"image-files": {"directory": directory, "files": files}, "options": {}, "meta": meta}
    written: list[Path] = []
    try:
        with atomic_path(path, overwrite=overwrite, inputs=inputs) as index_tmp:
            # the temporary index lists the new files from the start: the next write undoes a
            # killed one from it
            with open(index_tmp, "w", encoding="utf-8") as fh:
                fh.write(MARK)
                fh.write(STALE + json.dumps(sorted(stale)) + "\n")
                yaml.safe_dump(tree, fh, sort_keys=False, default_flow_style=False)
            for key, npy in npys.items():
                with (
                    atomic_path(folder / npy, inputs=inputs, clean=False) as tmp,
                    open(tmp, "wb") as fh,
                ):
                    np.save(fh, metadata[key], allow_pickle=False)
                written.append(folder / npy)
            with Progress(stack.nframes, progress, "tiff sequence", "frames") as bar:
                for name, frame in zip(names, frames, strict=True):
                    with atomic_path(folder / name, inputs=inputs, clean=False) as tmp:
                        tifffile.imwrite(
                            tmp,
                            frame,
                            compression=compression,
                            photometric="minisblack" if frame.ndim == 2 else None,
                        )
                    written.append(folder / name)
                    bar.update(1)
                    checkpoint("write-block")
    except BaseException:
        for p in written:  # new names only: never an old frame
            remove_path(p)
        raise
    checkpoint("index-switched")
    remove_files(path, stale)
    return os.fspath(path)

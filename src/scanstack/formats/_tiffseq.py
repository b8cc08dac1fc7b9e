"""Writing a TIFF sequence (one TIFF per frame + an ``image-files`` YAML) replaced as a whole.

The YAML index is what readers open, so it is switched last and atomically: new frames are
written under names that no existing file has (``frames_00000.tif``…, or
``frames_<6 hex>_00000.tif`` when those exist), the index is renamed onto its name, and only then
are the old frames removed. A reader of the index sees all old frames or all new ones, never a mix.

The index starts with :data:`MARK`; only beside an index carrying it are frame files treated as
this writer's own: files named like its frames that the index does not list (left by a killed
write) are removed, as are the files the index listed when it is replaced. The temporary index
of a write in progress already lists its new frames, so the frames of a write killed before its
switch are found from the leftover and removed by the next write.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic import atomic_path, check_not_input, checkpoint, clean_leftovers, remove_path
from ..core.metadata import to_jsonable
from ..core.progress import Progress
from ._hexrd import LOAD_NUMPY_TRIGGER

MARK = "# scanstack TIFF sequence: the frame files below are replaced together with this index\n"


def frame_pattern(stem: str) -> str:
    """Regular expression of the frame file names this writer gives for ``stem``."""
    return rf"{re.escape(stem)}_(?:[0-9a-f]{{6}}_)?\d{{5,}}\.tif"


def index_files(index: Path) -> set[str] | None:
    """Files (frames and ``.npy`` metadata) listed by a YAML index this writer wrote, or None
    when ``index`` is missing, unreadable or not this writer's."""
    import yaml

    try:
        with open(index, encoding="utf-8") as fh:
            if fh.readline() != MARK:
                return None
            tree = yaml.safe_load(fh)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(tree, dict):
        return None
    section = tree.get("image-files")
    files = section.get("files") if isinstance(section, dict) else None
    out = {f for f in files if isinstance(f, str)} if isinstance(files, list) else set()
    meta = tree.get("meta")
    for value in meta.values() if isinstance(meta, dict) else ():
        if isinstance(value, str) and value.startswith(LOAD_NUMPY_TRIGGER):
            out.add(value[len(LOAD_NUMPY_TRIGGER) :].strip())
    return {f for f in out if f and Path(f).name == f}  # only plain names in this folder


def _npy_pattern(stem: str, key: str) -> str:
    return rf"{re.escape(stem)}_(?:[0-9a-f]{{6}}_)?{key}\.npy"


def _npy_key_re(stem: str) -> re.Pattern:
    return re.compile(_npy_pattern(stem, "(.+)"))


def remove_stale(index: Path, listed: set[str], keep: set[str]) -> None:
    """Remove ``listed`` files (of this writer's naming) and this writer's frame files the
    current index does not list; never a file in ``keep``."""
    folder, stem = index.parent, index.stem
    frames = re.compile(frame_pattern(stem))
    npy = re.compile(rf"{re.escape(stem)}_.+\.npy")
    current = index_files(index)
    doomed = {f for f in listed if frames.fullmatch(f) or npy.fullmatch(f)}
    if current is not None:  # files named like this writer's that its index does not list
        keys = {m.group(1) for f in current if (m := _npy_key_re(stem).fullmatch(f))}
        ours = re.compile(
            frame_pattern(stem) + "".join(f"|{_npy_pattern(stem, re.escape(k))}" for k in keys)
        )
        doomed |= {e.name for e in os.scandir(folder) if ours.fullmatch(e.name)} - current
        keep = keep | current
    for name in sorted(doomed - keep):
        remove_path(folder / name)


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


def write_sequence(stack, path: Path, compression, progress, overwrite: bool, frames) -> str:
    """Write ``stack`` as ``<stem>_NNNNN.tif`` files beside the YAML index ``path``.

    ``frames`` is an iterator over the stack's frames (each ``signal_shape``).
    """
    import tifffile
    import yaml

    stem, folder = path.stem, path.parent
    folder.mkdir(parents=True, exist_ok=True)
    inputs = list(stack.source_paths())
    check_not_input(path, inputs)
    old = index_files(path)

    def forget_killed(leftover: Path) -> None:  # frames of a write killed before its switch
        remove_stale(path, index_files(leftover) or set(), set())

    clean_leftovers(path, before_remove=forget_killed)
    clean_leftovers(path, match=frame_pattern(stem) + "|" + rf"{re.escape(stem)}_.+\.npy")
    if old is not None:
        remove_stale(path, set(), set())
    metadata = dict(stack.metadata or {})
    arrays = [
        str(k)
        for k, v in metadata.items()
        if isinstance(v, np.ndarray) and v.dtype.kind in "biufc" and v.ndim >= 1
    ]
    names, npys = _fresh_names(folder, stem, stack.nframes, arrays)
    meta: dict[str, Any] = {}
    for key, value in metadata.items():
        key = str(key)
        meta[key] = f"{LOAD_NUMPY_TRIGGER} {npys[key]}" if key in npys else to_jsonable(value)
    tree = {"image-files": {"directory": ".", "files": names}, "options": {}, "meta": meta}
    written: list[Path] = []
    try:
        with atomic_path(path, overwrite=overwrite, inputs=inputs) as index_tmp:
            # the temporary index lists the new files from the start: the next write undoes a
            # killed one from it
            with open(index_tmp, "w", encoding="utf-8") as fh:
                fh.write(MARK)
                yaml.safe_dump(tree, fh, sort_keys=False, default_flow_style=False)
            for key, npy in npys.items():
                with atomic_path(folder / npy, inputs=inputs) as tmp, open(tmp, "wb") as fh:
                    np.save(fh, metadata[key], allow_pickle=False)
                written.append(folder / npy)
            with Progress(stack.nframes, progress, "tiff sequence", "frames") as bar:
                for name, frame in zip(names, frames, strict=True):
                    with atomic_path(folder / name, inputs=inputs) as tmp:
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
    remove_stale(path, old or set(), set(names) | set(npys.values()))
    return os.fspath(path)

"""The frame-cache writer: frames thresholded in threads, written as npz or fch5."""

from __future__ import annotations

import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import WriteError
from ...core.metadata import to_jsonable
from ...core.progress import Progress
from ...core.resources import UNSET, Resources, renamed, resolve_here
from ...core.safety import atomic_path
from ...core.writing import copy_frames_per_block
from .._hexrd import OptionError
from ._layout import FRAME_KEY, HEADER_KEYS, JSON_KEY, MAX_INDEX, MAX_NZ_FRACTION, VERSION_ATTR


def _extract(frame: np.ndarray, threshold) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels with ``value > threshold`` in row-major order: (rows uint16, cols uint16, values)."""
    flat = frame.reshape(-1)
    idx = np.flatnonzero(flat > threshold)
    rows, cols = np.divmod(idx, frame.shape[1])
    return rows.astype(np.uint16), cols.astype(np.uint16), flat[idx]


def _extract_encoded(frame: np.ndarray, threshold, encode):
    r, c, v = _extract(frame, threshold)
    return r, c, v, (encode(r, c, v) if encode is not None else None)


def sparse_frames(
    stack,
    threshold,
    res: Resources,
    warn_limit: int = 5,
    encode=None,
):
    """Yield ``(i, rows, cols, values, encoded)`` for every frame of ``stack``, in order.

    Blocks are read in the background and frames thresholded in ``res.threads`` threads (the
    numpy work releases the GIL); ``encode(rows, cols, values)``, when given, also runs in the
    threads (``encoded`` is None otherwise). Warns like hexrd when a frame keeps more than 10 %
    of its pixels (the first ``warn_limit`` such frames one by one, then a count). Blocks are
    sized so that they and their sparse copies (at most as large, for a sparse frame) fit
    ``res.memory_budget`` (:func:`scanstack.core.writing.copy_frames_per_block`).
    """
    rows, cols = stack.signal_shape
    size = rows * cols
    dense = 0
    fpb = copy_frames_per_block(stack, res)
    with (
        ThreadPoolExecutor(res.threads) as pool,
        Progress(stack.nframes, res.progress, "frame-cache", "frames") as bar,
    ):
        for a, _b, block in stack.iter_blocks(fpb):
            n = len(block)
            results = pool.map(_extract_encoded, block, [threshold] * n, [encode] * n)
            for k, (r, c, v, e) in enumerate(results):
                i = a + k
                if size and r.size / size > MAX_NZ_FRACTION:
                    dense += 1
                    if dense <= warn_limit:
                        pct = 100.0 * (1 - r.size / size)
                        warnings.warn(
                            f"frame {i} is {pct:4.2f}% sparse (cutoff is 95%)",
                            UserWarning,
                            stacklevel=4,
                        )
                yield i, r, c, v, e
            bar.update(n)
    if dense > warn_limit:
        warnings.warn(
            f"... and {dense - warn_limit} more frames above {MAX_NZ_FRACTION:.0%} "
            "non-zero: is the threshold too low?",
            UserWarning,
            stacklevel=3,
        )


def _split_metadata(metadata: dict) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """npz metadata: arrays stored as hexrd does, the rest (nested, None, mixed) as JSON."""
    arrays, rest = {}, {}
    for key, value in (metadata or {}).items():
        key = str(key)
        reserved = key in HEADER_KEYS or key == JSON_KEY or FRAME_KEY.match(key)
        arr = None
        if not reserved and value is not None and not isinstance(value, dict):
            try:
                arr = np.asarray(value)
            except ValueError:  # ragged lists
                arr = None
            if arr is not None and arr.dtype.kind in "OV":
                arr = None
        if arr is None:
            rest[key] = to_jsonable(value)
        else:
            arrays[key] = arr
    return arrays, rest


def _write_npz(stack, out: Path, threshold, res: Resources, level: int = 6) -> None:
    """hexrd's npz layout (as ``np.savez_compressed``), members deflated in the worker threads."""
    from functools import partial

    from .._npzwriter import NpzWriter, deflate_npy

    encode = partial(_deflate_sparse, level=level)
    with open(out, "wb") as fh:
        zw = NpzWriter(fh)
        for i, _r, _c, _v, members in sparse_frames(stack, threshold, res, encode=encode):
            for key, member in zip(("row", "col", "data"), members, strict=True):
                member.name = f"{i}_{key}.npy".encode("ascii")
                zw.add(member)
        header = {
            "shape": np.array(stack.signal_shape),
            "nframes": np.array(stack.nframes),
            "dtype": np.array(str(np.dtype(stack.dtype)).encode()),
        }
        arrays, rest = _split_metadata(dict(stack.metadata or {}))
        if rest:
            arrays[JSON_KEY] = np.array(json.dumps(rest))
        for key, arr in {**header, **arrays}.items():
            zw.add(deflate_npy(key, arr, level))
        zw.close()


def _deflate_sparse(r, c, v, level: int = 6):
    from .._npzwriter import deflate_npy

    return [deflate_npy("", a, level) for a in (r, c, v)]


def _write_fch5(stack, group, threshold, res: Resources) -> None:
    import hdf5plugin

    from ...core.h5tree import dict_to_group

    blosc = dict(hdf5plugin.Blosc(cname="zstd", clevel=5))
    n = stack.nframes
    try:
        group.attrs[VERSION_ATTR] = 1
        group.create_dataset("shape", data=np.array(stack.signal_shape, dtype=np.int64))
        group.create_dataset("nframes", data=np.int64(n))
        group.create_dataset("dtype", data=np.bytes_(str(np.dtype(stack.dtype))))
        chunk = 1 << 16
        data = group.create_dataset(
            "data", shape=(0, 1), maxshape=(None, 1), chunks=(chunk, 1), dtype=stack.dtype, **blosc
        )
        indices = group.create_dataset(
            "indices", shape=(0, 2), maxshape=(None, 2), chunks=(chunk, 2), dtype=np.uint16, **blosc
        )
    except ValueError as exc:
        raise WriteError(
            f"frame-cache fch5: cannot create the datasets in {group.file.filename}"
            f":{group.name}: {exc}"
        ) from exc
    ids = np.zeros((n, 2), np.uint64)
    pos = 0
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    pending_len = 0

    def flush() -> None:
        nonlocal pos, pending_len
        if not pending_len:
            pending.clear()
            return
        end = pos + pending_len
        data.resize((end, 1))
        indices.resize((end, 2))
        data[pos:end, 0] = np.concatenate([p[2] for p in pending])
        indices[pos:end] = np.stack(
            [np.concatenate([p[0] for p in pending]), np.concatenate([p[1] for p in pending])],
            axis=1,
        )
        pos = end
        pending.clear()
        pending_len = 0

    # sparse values gathered before a write: 4 Mi of them, fewer if the budget asks for it
    # (each value holds its datum and two uint16 indices, and is copied once more to write)
    per_value = 2 * (np.dtype(stack.dtype).itemsize + 4)
    flush_at = max(1, min(1 << 22, res.memory_budget // (4 * per_value)))
    for i, r, c, v, _ in sparse_frames(stack, threshold, res):
        ids[i] = (pos + pending_len, pos + pending_len + r.size)
        pending.append((r, c, v))
        pending_len += r.size
        if pending_len >= flush_at:
            flush()
    flush()
    group.create_dataset("frame_ids", data=ids.reshape(-1), **blosc)
    # always present: hexrd's reader opens metadata/ unconditionally
    dict_to_group(group.create_group("metadata"), dict(stack.metadata or {}))


def write_framecache(
    stack,
    fname,
    *,
    threshold=None,
    style: str | None = None,
    cache_file=None,
    path: str | None = None,
    output_yaml=None,
    client=None,
    threads: int | None = None,
    progress=None,
    memory_budget: int | None = None,
    overwrite: bool = False,
    max_workers: int | None = UNSET,
) -> Any:
    """Write ``stack`` as a hexrd frame-cache, keeping pixels with ``value > threshold``.

    ``style`` is ``'npz'`` (a ``.npz`` suffix is appended when missing, as numpy does) or
    ``'fch5'``; by default ``'fch5'`` for an open h5py group or a name ending in ``.fch5``,
    else ``'npz'``. ``cache_file`` (relative to the folder of ``fname``) overrides ``fname``.
    ``fname`` may be an open ``h5py.File``/``Group`` for fch5, with the group ``path`` inside it.
    Frames must be 2-D with at most 65536 rows and columns (indices are uint16). Returns the path
    written (or the group). ``threads`` threshold and compress the frames (``max_workers`` is
    its deprecated name; hexrd's name through :mod:`scanstack.imageseries`); ``progress``,
    ``memory_budget``: as everywhere (:mod:`scanstack.core.resources`); ``client`` is refused
    (the frames are thresholded here, in order).
    """
    import h5py

    threads = renamed(threads, max_workers, "max_workers", "threads", "write_framecache")
    res = resolve_here(
        "frame-cache",
        client=client,
        threads=threads,
        progress=progress,
        memory_budget=memory_budget,
    )

    if style is None:  # 'out.fch5' must not silently become an npz named 'out.fch5.npz'
        name = cache_file if cache_file is not None else fname
        fch5 = isinstance(name, h5py.Group) or (
            name is not None and Path(os.fspath(name)).suffix.lower() == ".fch5"
        )
        style = "fch5" if fch5 else "npz"
    if threshold is None:
        raise OptionError("frame-cache: write needs threshold= (pixels > threshold are kept)")
    if style not in ("npz", "fch5"):
        raise OptionError(f"frame-cache: Unknown file style {style!r}; expected 'npz' or 'fch5'")
    if output_yaml:
        warnings.warn(
            "frame-cache: output_yaml is deprecated and ignored (as in hexrd)",
            DeprecationWarning,
            stacklevel=2,
        )
    if len(stack.signal_shape) != 2:
        raise WriteError(
            f"frame-cache stores 2-D frames, this stack has frames of shape {stack.signal_shape}"
        )
    if max(stack.signal_shape) > MAX_INDEX:
        raise WriteError(
            f"frame-cache stores row/col indices as uint16: frames of "
            f"{stack.signal_shape[0]}x{stack.signal_shape[1]} exceed 65536 rows "
            "or columns"
        )
    if np.dtype(stack.dtype).kind not in "biuf":
        raise WriteError(f"frame-cache stores numeric frames, not {np.dtype(stack.dtype)}")
    if isinstance(fname, h5py.Group):
        if style != "fch5":
            raise OptionError("frame-cache: an open h5py file/group needs style='fch5'")
        group = fname.require_group(path) if path else fname
        _write_fch5(stack, group, threshold, res)
        return group
    if fname is None and cache_file is None:
        raise OptionError("frame-cache: give a file name (or cache_file=)")
    out = Path(os.fspath(fname if fname is not None else cache_file))
    if cache_file is not None:
        cache = Path(os.fspath(cache_file))
        out = cache if cache.is_absolute() else out.parent / cache
    if style == "npz" and out.suffix != ".npz":
        out = out.with_name(out.name + ".npz")
    with atomic_path(out, overwrite=overwrite, inputs=stack.source_paths()) as tmp:
        if style == "npz":
            _write_npz(stack, tmp, threshold, res)
        else:
            with h5py.File(tmp, "w") as f:
                group = f.require_group(path) if path else f
                _write_fch5(stack, group, threshold, res)
    return os.fspath(out)

"""Helpers shared by the interchange formats (nexus, usid, nsid, zarr).

Compression choices, whole-frame chunking, reading a flat frame range out of an N-D navigation
grid, attribute decoding, and the per-position array convention. Axes from coordinate values and
JSON are in :mod:`._axes_io` (re-exported here); HDF5 readers and attribute trees in
:mod:`._h5io`, writing HDF5 files (atomically, block-wise) in :mod:`._h5write`.

Per-position arrays (live time, real time)
------------------------------------------
``stack.metadata["live_time"]`` and ``stack.metadata["real_time"]`` hold seconds, one value per
frame as a flat float64 array of shape ``(nframes,)`` (C order over ``nav_shape``), or a plain
float when constant. Writers also accept an array of shape ``nav_shape`` and
``metadata["positions"] = {"live_time": ..., "real_time": ...}``. Readers return the flat form.
"""

from __future__ import annotations

import itertools
import json
import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..core.errors import UnsupportedError
from ..core.h5safety import H5_CHUNK_CACHE
from ..core.metadata import to_jsonable
from ..core.reader import Region
from ..core.stack import Stack
from ._axes_io import axes_from_json as axes_from_json  # re-exported: every format uses them
from ._axes_io import axes_to_json as axes_to_json
from ._axes_io import axis_from_values as axis_from_values
from ._axes_io import unique_names as unique_names

#: per-position arrays carried by the interchange formats (seconds)
POSITION_KEYS = ("live_time", "real_time")

#: accepted ``compression=`` values (``"<name>-<level>"`` chooses a level, e.g. ``"gzip-6"``)
HDF5_COMPRESSIONS = (None, "gzip", "lzf", "blosc-zstd", "blosc-lz4", "zstd")

#: what the HDF5 interchange formats (NeXus, NSID, USID) can do, for ``scanstack formats``: all
#: three read lazily by region and write through one path (``_h5write.write_h5_file``)
HDF5_CAPABILITIES = {
    "lazy": True,
    "region": True,
    "write": "block-wise, atomic",
    "compression": list(HDF5_COMPRESSIONS),
}
ZARR_COMPRESSIONS = (None, "gzip", "zstd", "blosc-zstd", "blosc-lz4")


# -- compression ------------------------------------------------------------------------------
#: compression name -> (default level, highest level); "<name>-<level>" picks another level
COMPRESSION_LEVELS = {
    "gzip": (4, 9),
    "lzf": (0, 0),
    "zstd": (3, 22),
    "blosc-zstd": (1, 9),
    "blosc-lz4": (5, 9),
}


def parse_compression(compression: Any, fmt: str) -> tuple[str, int] | None:
    """``None`` or ``(name, level)`` from ``"gzip"``, ``"gzip-6"``, ``"blosc-zstd-3"``, ``"lzf"``…

    Defaults favour speed at a good ratio on counting data: gzip 4, zstd 3, blosc-zstd 1
    (level 5 is 7x slower for 5 % smaller files), blosc-lz4 5.
    """
    if compression is None or compression in ("none", "raw"):
        return None
    choices = "None, " + ", ".join(
        repr(n) for n in COMPRESSION_LEVELS if fmt == "hdf5" or n != "lzf"
    )
    if not isinstance(compression, str):
        raise UnsupportedError(f"compression must be a string or None, not {compression!r}")
    name, level = compression, None
    head, _, tail = compression.rpartition("-")
    if head and tail.isdigit():
        name, level = head, int(tail)
    if name not in COMPRESSION_LEVELS or (fmt == "zarr" and name == "lzf"):
        raise UnsupportedError(
            f"unknown compression {compression!r} for {fmt}; choose one of "
            f"{choices} (optionally '-<level>', e.g. 'gzip-6')"
        )
    default, top = COMPRESSION_LEVELS[name]
    level = default if level is None else level
    if not 0 <= level <= top:
        raise UnsupportedError(f"{name} level must be 0..{top}, got {compression!r}")
    return name, level


def h5_compression(compression: str | None) -> dict[str, Any]:
    """``create_dataset`` keywords for ``compression`` (see :func:`parse_compression`).

    ``None`` (raw), ``"gzip"`` (deflate + byte shuffle, readable everywhere), ``"lzf"`` (fast,
    h5py-only filter), ``"blosc-zstd"``, ``"blosc-lz4"``, ``"zstd"`` (fast; readers need the
    ``hdf5plugin`` package, which PyMca and silx load).
    """
    parsed = parse_compression(compression, "hdf5")
    if parsed is None:
        return {}
    name, level = parsed
    if name == "gzip":
        return {"compression": "gzip", "compression_opts": level, "shuffle": True}
    if name == "lzf":
        return {"compression": "lzf", "shuffle": True}
    import hdf5plugin

    if name == "zstd":
        return dict(hdf5plugin.Zstd(clevel=level))
    return dict(
        hdf5plugin.Blosc(
            cname=name.split("-", 1)[1], clevel=level, shuffle=hdf5plugin.Blosc.SHUFFLE
        )
    )


def zarr_compressors(compression: str | None):
    """Zarr v3 codecs for ``compression`` (as :func:`h5_compression`; ``"lzf"`` has no zarr codec)."""
    from zarr.codecs import BloscCodec, GzipCodec, ZstdCodec

    parsed = parse_compression(compression, "zarr")
    if parsed is None:
        return None
    name, level = parsed
    if name == "gzip":
        return [GzipCodec(level=level)]
    if name == "zstd":
        return [ZstdCodec(level=level)]
    return [BloscCodec(cname=name.split("-", 1)[1], clevel=level, shuffle="shuffle")]


# -- chunks and frame ranges -----------------------------------------------------------------
def frame_chunks(
    nav_shape: tuple[int, ...],
    signal_shape: tuple[int, ...],
    itemsize: int,
    target_bytes: int = 4 << 20,
) -> tuple[int, ...]:
    """Chunks of whole frames, about ``target_bytes`` each, filling trailing nav dims first."""
    per = max(1, math.prod(signal_shape) * itemsize)
    remaining = max(1, target_bytes // per)
    chunks = []
    for n in reversed(nav_shape):
        c = max(1, min(n, remaining))
        chunks.append(c)
        remaining = remaining // n if c == n else 1
    return tuple(reversed(chunks)) + tuple(max(1, s) for s in signal_shape)


def h5_data_kwargs(
    nav_shape: tuple[int, ...],
    signal_shape: tuple[int, ...],
    dtype: Any,
    chunk_bytes: int,
    compression_kwargs: dict[str, Any],
) -> dict[str, Any]:
    """``create_dataset`` keywords for the main data: chunks of whole frames of about
    ``chunk_bytes`` (:func:`frame_chunks`) and the filter of :func:`h5_compression`; none for an
    empty dataset (HDF5 cannot chunk a dimension of length 0)."""
    if not (math.prod(nav_shape) and all(signal_shape)):
        return {}
    chunks = frame_chunks(nav_shape, signal_shape, np.dtype(dtype).itemsize, chunk_bytes)
    return {"chunks": chunks, **compression_kwargs}


def flat_range_boxes(
    nav_shape: tuple[int, ...], start: int, stop: int
) -> Iterator[tuple[slice, ...]]:
    """Split flat frames ``start:stop`` (C order) into rectangular nav keys, in order."""
    nav_shape = tuple(nav_shape)
    if stop <= start:
        return
    if len(nav_shape) <= 1:
        yield (slice(start, stop),)[: len(nav_shape)] if nav_shape else ()
        return
    inner = math.prod(nav_shape[1:])
    i0, r0 = divmod(start, inner)
    i1, r1 = divmod(stop, inner)
    if i0 == i1:  # inside one outer index
        for sub in flat_range_boxes(nav_shape[1:], r0, r1):
            yield (slice(i0, i0 + 1), *sub)
        return
    if r0:
        for sub in flat_range_boxes(nav_shape[1:], r0, inner):
            yield (slice(i0, i0 + 1), *sub)
        i0 += 1
    if i1 > i0:
        yield (slice(i0, i1), *(slice(None),) * (len(nav_shape) - 1))
    if r1:
        for sub in flat_range_boxes(nav_shape[1:], 0, r1):
            yield (slice(i1, i1 + 1), *sub)


def read_flat_range(
    array,
    nav_shape: tuple[int, ...],
    start: int,
    stop: int,
    region: Region | None,
    signal_shape: tuple[int, ...],
) -> np.ndarray:
    """Frames ``start:stop`` of an N-D array ``nav_shape + signal_shape`` as ``(n, *region)``.

    ``array`` is an h5py dataset, a zarr array or anything indexable alike. The result is
    allocated once and filled one storage chunk at a time (``array.chunks``, when it has them):
    a compressed chunk is decoded whole even when only a region of it is wanted, so reading
    chunk by chunk keeps the scratch at one decoded chunk (:func:`chunk_scratch`) whatever the
    number of frames (zarr decodes every chunk of one selection at once).
    """
    sig_key = tuple(region) if region is not None else (slice(None),) * len(signal_shape)
    sig = tuple(s.stop - s.start for s in region) if region else tuple(signal_shape)
    out = np.empty((max(stop - start, 0), *sig), array.dtype)
    nnav = len(nav_shape)
    chunks = getattr(array, "chunks", None)
    nav_chunks = tuple(chunks[:nnav]) if chunks else tuple(max(n, 1) for n in nav_shape)
    at = 0
    for box in flat_range_boxes(nav_shape, start, stop):
        bounds = [k.indices(n)[:2] for k, n in zip(box, nav_shape, strict=True)]
        shape = tuple(b - a for a, b in bounds)
        count = math.prod(shape)
        target = out[at : at + count].reshape(shape + sig)
        pieces = [
            [(x, min(x + c - x % c, b)) for x in _chunk_starts(a, b, c)]
            for (a, b), c in zip(bounds, nav_chunks, strict=True)
        ]
        for piece in itertools.product(*pieces):
            key = tuple(slice(x, y) for x, y in piece)
            local = tuple(slice(x - a, y - a) for (x, y), (a, _) in zip(piece, bounds, strict=True))
            target[local] = array[(*key, *sig_key)]
        at += count
    return out


def _chunk_starts(a: int, b: int, c: int) -> list[int]:
    """Where ``a:b`` crosses into a new chunk of size ``c`` (``a`` first)."""
    return [a, *range((a // c + 1) * c, b, c)]


def chunk_scratch(array) -> int:
    """Bytes of scratch a read of ``array`` needs beyond its result: for a compressed chunked
    array (h5py) or any zarr array, one chunk decoded and its stored bytes (:func:`read_flat_range`
    reads one chunk at a time), plus HDF5's chunk cache; 0 for contiguous or unfiltered HDF5
    data, read in place."""
    chunks = getattr(array, "chunks", None)
    if not chunks:
        return 0
    # zarr reads every chunk whole (a chunk is one stored object); HDF5 only filtered ones
    whole = hasattr(array, "compressors")
    if not (whole or getattr(array, "compression", None) or getattr(array, "shuffle", False)):
        return 0
    cache = 0 if whole else H5_CHUNK_CACHE
    return 2 * math.prod(chunks) * np.dtype(array.dtype).itemsize + cache


# -- attributes ------------------------------------------------------------------------------
def as_str(value: Any) -> str:
    """An HDF5/zarr attribute as a Python str (bytes, numpy scalars, 1-element arrays)."""
    if isinstance(value, np.ndarray):
        if value.size == 1:
            value = value.reshape(-1)[0]
        else:
            return str(value.tolist())
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    return str(value)


def as_str_list(value: Any) -> list[str]:
    """An attribute holding a list of strings (array, list, or a single string) as a list."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, np.bytes_, np.str_)):
        return [as_str(value)]
    return [as_str(v) for v in np.asarray(value, dtype=object).reshape(-1)]


def json_dict(value: Any) -> dict | None:
    """A JSON attribute or dataset written by :func:`json_attr` for a dict, parsed; None when it
    is not valid JSON or not an object (a damaged file then keeps its data, not this metadata)."""
    try:
        tree = json.loads(as_str(value))
    except (ValueError, TypeError):
        return None
    return tree if isinstance(tree, dict) else None


def json_attr(value: Any) -> str:
    """A tree (numpy arrays allowed) as a compact JSON string for one attribute."""
    return json.dumps(to_jsonable(value), allow_nan=False, separators=(",", ":"))


# -- metadata mapping ------------------------------------------------------------------------
def position_arrays(stack: Stack, extra: bool = False) -> dict[str, np.ndarray]:
    """Per-position arrays of ``stack`` (see module docstring), each flat ``(nframes, ...)``.

    Always ``live_time``/``real_time`` (float64, scalars broadcast); with ``extra=True`` also every
    other numeric metadata array whose first dimension is ``nframes`` (e.g. CRONO's
    ``motor_positions`` or ``output_count_rate``), which writers store as datasets, not JSON.
    """
    meta = stack.metadata if isinstance(stack.metadata, dict) else {}
    sources = [meta, meta.get("positions") if isinstance(meta.get("positions"), dict) else {}]
    out: dict[str, np.ndarray] = {}
    for key in POSITION_KEYS:
        value = next((s[key] for s in sources if s.get(key) is not None), None)
        if value is None:
            continue
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            continue
        if arr.ndim == 0:
            arr = np.full(stack.nframes, float(arr))
        if arr.size != stack.nframes:
            warnings.warn(
                f"metadata[{key!r}] has {arr.size} values for {stack.nframes} frames; not written",
                stacklevel=3,
            )
            continue
        out[key] = arr.reshape(-1)
    if extra:
        for source in sources:
            for key, value in source.items():
                if key not in out and is_position_array(value, stack.nframes):
                    out[key] = np.asarray(value)
    return out


def is_position_array(value: Any, nframes: int) -> bool:
    """A numeric ndarray with one entry per frame along its first dimension."""
    return (
        isinstance(value, np.ndarray)
        and value.ndim >= 1
        and value.shape[0] == nframes
        and value.dtype.kind in "biuf"
        and nframes > 1
    )


def energy_calibration(stack: Stack) -> tuple[float, float, float] | None:
    """``(a, b, c)`` keV of E = a + b·ch + c·ch² from metadata, or from a uniform keV/eV signal axis."""
    cal = stack.metadata.get("energy_calibration") if isinstance(stack.metadata, dict) else None
    if isinstance(cal, dict) and "b" in cal:
        return (float(cal.get("a", 0.0)), float(cal["b"]), float(cal.get("c", 0.0) or 0.0))
    if isinstance(cal, (list, tuple, np.ndarray)) and len(cal) in (2, 3):
        vals = [float(v) for v in cal] + [0.0]
        return vals[0], vals[1], vals[2]
    sig = stack.signal_axes
    if len(sig) == 1 and sig[0].is_uniform and sig[0].units in ("keV", "eV"):
        k = 1e-3 if sig[0].units == "eV" else 1.0
        return float(sig[0].offset) * k, float(sig[0].scale) * k, 0.0
    return None


def calibrated_energies(cal: tuple[float, float, float], n: int) -> np.ndarray:
    """Energies (keV) of channels ``0..n-1`` under ``cal = (a, b, c)``: E = a + b·ch + c·ch²,
    shape ``(n,)`` float64."""
    ch = np.arange(n, dtype=np.float64)
    return cal[0] + cal[1] * ch + cal[2] * ch**2


def common_metadata(stack: Stack) -> dict[str, Any]:
    """``stack.metadata`` as plain JSON types, without the per-position arrays."""
    meta = dict(stack.metadata) if isinstance(stack.metadata, dict) else {}
    for key in (*POSITION_KEYS, "positions"):
        meta.pop(key, None)
    meta = {k: v for k, v in meta.items() if not is_position_array(v, stack.nframes)}
    return to_jsonable(meta)


def writer_inputs(stack: Stack) -> list[str]:
    """Files the stack reads (the writer must not overwrite them)."""
    try:
        return list(stack.source_paths())
    except Exception:  # a stack without files
        return []


def quantity_units(stack: Stack) -> tuple[str, str]:
    """``(quantity, units)`` of the data values: metadata ``quantity``/``units``, else
    ``Counts``/``counts`` for integer data and ``Intensity``/``a.u.`` otherwise."""
    meta = stack.metadata if isinstance(stack.metadata, dict) else {}
    integer = np.dtype(stack.dtype).kind in "iu"
    quantity = meta.get("quantity") or ("Counts" if integer else "Intensity")
    units = meta.get("units") or ("counts" if integer else "a.u.")
    return str(quantity), str(units)


def extra_positions(stack: Stack) -> dict[str, np.ndarray]:
    """Per-position arrays other than live/real time (flat), keyed by a name that is safe as an
    HDF5 or zarr node (``/`` -> ``_``); what writers store under ``positions/``."""
    return {
        key.replace("/", "_"): arr
        for key, arr in position_arrays(stack, extra=True).items()
        if key not in POSITION_KEYS
    }

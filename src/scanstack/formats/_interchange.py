"""Helpers shared by the interchange formats (nexus, usid, nsid, zarr).

Compression choices, whole-frame chunking, reading a flat frame range out of an N-D navigation
grid, HDF5 attribute decoding, axes <-> JSON, and the per-position array convention.

Per-position arrays (live time, real time)
------------------------------------------
``stack.metadata["live_time"]`` and ``stack.metadata["real_time"]`` hold seconds, one value per
frame as a flat float64 array of shape ``(nframes,)`` (C order over ``nav_shape``), or a plain
float when constant. Writers also accept an array of shape ``nav_shape`` and
``metadata["positions"] = {"live_time": ..., "real_time": ...}``. Readers return the flat form.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..core.axes import Axis
from ..core.errors import UnsupportedError
from ..core.metadata import to_jsonable
from ..core.reader import Region
from ..core.stack import Stack

#: per-position arrays carried by the interchange formats (seconds)
POSITION_KEYS = ("live_time", "real_time")

#: accepted ``compression=`` values (``"<name>-<level>"`` chooses a level, e.g. ``"gzip-6"``)
HDF5_COMPRESSIONS = (None, "gzip", "lzf", "blosc-zstd", "blosc-lz4", "zstd")
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
    """Frames ``start:stop`` of an N-D array ``nav_shape + signal_shape`` as ``(n, *region)``."""
    sig_key = tuple(region) if region is not None else (slice(None),) * len(signal_shape)
    parts = []
    for box in flat_range_boxes(nav_shape, start, stop):
        block = np.asarray(array[(*box, *sig_key)])
        parts.append(block.reshape((-1, *block.shape[len(nav_shape) :])))
    if len(parts) == 1:
        return parts[0]
    if not parts:
        shape = tuple(s.stop - s.start for s in region) if region else signal_shape
        return np.empty((0, *shape), array.dtype)
    return np.concatenate(parts)


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


def json_attr(value: Any) -> str:
    """A tree (numpy arrays allowed) as a compact JSON string for one attribute."""
    return json.dumps(to_jsonable(value), allow_nan=False, separators=(",", ":"))


# -- axes ------------------------------------------------------------------------------------
def axes_to_json(axes: list[Axis]) -> list[dict]:
    """Axes as plain dicts (values listed only for non-uniform axes)."""
    out = []
    for a in axes:
        d = {"name": a.name, "size": a.size, "units": a.units, "navigate": a.navigate}
        if a.values is not None:
            d["values"] = to_jsonable(np.asarray(a.values))
        else:
            d["scale"], d["offset"] = float(a.scale), float(a.offset)
        out.append(d)
    return out


def axes_from_json(items: Any, shape: tuple[int, ...]) -> list[Axis] | None:
    """Axes written by :func:`axes_to_json`, or None when they do not fit ``shape``."""
    try:
        axes = []
        for d, n in zip(items, shape, strict=True):
            if int(d["size"]) != n:
                return None
            values = d.get("values")
            axes.append(
                Axis(
                    str(d["name"]),
                    n,
                    str(d.get("units", "")),
                    float(d.get("scale", 1.0)),
                    float(d.get("offset", 0.0)),
                    None if values is None else np.asarray(values, dtype=float),
                    bool(d.get("navigate", True)),
                )
            )
        return axes
    except (TypeError, ValueError, KeyError):
        return None


def axis_from_values(name: str, values: np.ndarray, units: str, navigate: bool) -> Axis:
    """An axis from coordinate values: uniform (scale/offset) when evenly spaced, else explicit.

    Evenness is judged at the precision of the stored dtype: pyUSID keeps axis values as
    float32, so ``0.5 + 0.02·i`` is off a straight line by up to an ulp of the largest value;
    values within two ulps (float32: about 2.4e-7 relative) or a millionth of a step of the line
    through the end points are uniform. Scale and offset are then the shortest decimals that
    give back the stored values (0.02, not 0.019999999552965164 from float32 nor
    0.020000000000000018 from float64 sums), so a calibration survives a round trip.
    """
    values = np.asarray(values).reshape(-1)
    n = values.size
    if values.dtype.kind not in "iuf" or n == 0:
        return Axis(name, n, units, navigate=navigate)
    v = values.astype(float)
    if n == 1:
        return Axis(name, 1, units, 1.0, _shortest(float(v[0]), values.dtype), navigate=navigate)
    scale = (v[-1] - v[0]) / (n - 1)
    ideal = v[0] + scale * np.arange(n)
    atol = abs(scale) * 1e-6
    stored = values.dtype if values.dtype.kind == "f" else np.dtype(np.float64)
    if stored.itemsize < 8:
        atol = max(atol, 2.0 * float(np.spacing(np.abs(values).max().astype(stored))))
    if scale != 0 and np.allclose(v, ideal, rtol=0, atol=atol):
        offset, scale = _shortest_line(values.astype(stored, copy=False), float(v[0]), scale)
        return Axis(name, n, units, float(scale), offset, navigate=navigate)
    return Axis(name, n, units, values=v, navigate=navigate)


def _shortest(value: float, dtype: np.dtype) -> float:
    """The decimal with the fewest significant digits that ``dtype`` stores as ``value``."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or dtype.itemsize >= 8:
        return value
    stored = np.asarray(value, dtype=dtype)
    for digits in range(1, 18):
        candidate = float(f"{value:.{digits}g}")
        if np.asarray(candidate, dtype=dtype) == stored:
            return candidate
    return value


def _shortest_line(values: np.ndarray, offset: float, scale: float) -> tuple[float, float]:
    """``(offset, scale)`` as short decimals: the offset is the shortest decimal stored as the
    first value, the scale the shortest for which ``offset + scale·i`` stored in
    ``values.dtype`` stays within one ulp of the largest value (the axis's precision) of every
    stored value; the unrounded scale when none does."""
    offset = _shortest(offset, values.dtype)
    i = np.arange(values.size, dtype=np.float64)
    want = values.astype(np.float64)
    ulp = float(np.spacing(np.abs(values).max()))
    for digits in range(1, 18):
        b = float(f"{scale:.{digits}g}")
        line = (offset + b * i).astype(values.dtype).astype(np.float64)
        if np.all(np.abs(line - want) <= ulp):
            return offset, b
    return offset, scale


def unique_names(names: list[str]) -> list[str]:
    """Names made unique (``x``, ``x_1``…) and safe as HDF5/zarr member names."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        n = (n or "axis").replace("/", "_").replace(".", "_") or "axis"
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        seen.setdefault(n, 0)
        out.append(n)
    return out


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


# -- HDF5 --------------------------------------------------------------------------------------
@contextlib.contextmanager
def new_h5(stack: Stack, path, overwrite: bool = True) -> Iterator[Any]:
    """A new ``h5py.File`` open for writing at a temporary path beside ``path``, renamed onto
    ``path`` when the block succeeds (:func:`~scanstack.core.safety.atomic_path`: never over an
    input of ``stack``, nothing left behind on failure)."""
    import h5py

    from ..core.safety import atomic_path

    with (
        atomic_path(path, overwrite=overwrite, inputs=writer_inputs(stack)) as tmp,
        h5py.File(tmp, "w") as f,
    ):
        yield f


def small_tree(group, max_elements: int = 256, depth: int = 4) -> dict[str, Any]:
    """Attributes and small datasets of an HDF5 group as a plain dict (big arrays are skipped)."""
    import h5py

    out: dict[str, Any] = {}
    attrs = {k: _plain(v) for k, v in group.attrs.items() if not _is_reference(v)}
    if attrs:
        out["@attrs"] = attrs
    if depth <= 0:
        return out
    for key in group:
        link = group.get(key, getlink=True)
        if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
            out[key] = f"-> {getattr(link, 'path', '')}"
            continue
        item = group.get(key)
        if isinstance(item, h5py.Group):
            out[key] = small_tree(item, max_elements, depth - 1)
        elif isinstance(item, h5py.Dataset):
            if (
                item.shape is not None
                and math.prod(item.shape) <= max_elements
                and item.dtype.kind in "biufcSUOT"
                and item.dtype.kind != "V"
            ):
                try:
                    out[key] = _plain(item[()])
                except (TypeError, ValueError, OSError):
                    out[key] = f"<dataset {item.shape} {item.dtype}>"
            else:
                out[key] = f"<dataset {item.shape} {item.dtype}>"
    return out


def _is_reference(value: Any) -> bool:
    import h5py

    if isinstance(value, (h5py.Reference, h5py.RegionReference)):
        return True
    return (
        isinstance(value, np.ndarray)
        and value.dtype.kind == "O"
        and value.size > 0
        and isinstance(value.reshape(-1)[0], (h5py.Reference, h5py.RegionReference, np.ndarray))
    )


def _plain(value: Any) -> Any:
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.dtype.kind in "OS":
        return [as_str(v) for v in value.reshape(-1)]
    return to_jsonable(value)


def resolve_link(group, name: str) -> str:
    """Absolute path of ``group[name]`` after following soft links (for locating siblings)."""
    import h5py

    path = f"{group.name.rstrip('/')}/{name}"
    for _ in range(16):
        parent, _, leaf = path.rpartition("/")
        link = group.file[parent or "/"].get(leaf, getlink=True)
        if isinstance(link, h5py.SoftLink):
            target = link.path
            path = target if target.startswith("/") else f"{parent}/{target}"
            continue
        return path
    return path


class H5FileReader:
    """Mixin for readers over one HDF5 file, kept open read-only in ``self._file``.

    :meth:`_open_and_setup` opens the file (a :class:`FormatError` naming it when it is not
    HDF5, or when it names a file outside its folder and the reader's ``allow_outside`` option
    is not set) and runs the subclass's ``_setup(source, *args)``, closing the file again when
    that fails, so a reader that raises never leaks an open handle.
    """

    format_name: str
    _file = None

    def _open_and_setup(self, source, *args) -> None:
        allow = bool(getattr(self, "options", {}).get("allow_outside", False))
        self._file = open_h5(source, self.format_name, allow)
        try:
            self._setup(source, *args)
        except BaseException:
            self.close()
            raise

    def _setup(self, source, *args) -> None:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None

    def _check_open(self) -> None:
        """A clear error for a read after close (h5py's is 'NoneType' / 'identifier' noise)."""
        if self._file is None:
            raise ValueError(f"{self.source}: this {self.format_name} stack is closed")


class H5NavReader(H5FileReader):
    """Mixin for readers over one HDF5 dataset shaped ``nav_shape + signal_shape``.

    Options: ``path`` (the dataset to read, else the subclass finds it), ``signal_ndim``
    (how many trailing dimensions are the signal) and ``allow_outside`` (see
    :mod:`scanstack.core.h5safety`). Subclasses set ``self._dset`` and the reader
    attributes in ``_setup(source, path, signal_ndim)``; reading goes through
    :func:`read_flat_range` (rectangular hyperslabs, no per-frame loop).
    """

    _dset = None

    def __init__(
        self,
        source,
        *,
        path: str | None = None,
        signal_ndim: int | None = None,
        allow_outside: bool = False,
    ):
        super().__init__(source, path=path, signal_ndim=signal_ndim, allow_outside=allow_outside)
        self._open_and_setup(source, path, signal_ndim)

    def read(self, start: int, stop: int, region: Region | None = None) -> np.ndarray:
        self._check_open()
        data = read_flat_range(self._dset, self.nav_shape, start, stop, region, self.signal_shape)
        return data.astype(self.dtype, copy=False)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._dset = None


def open_h5(path, fmt: str, allow_outside: bool = False):
    """``h5py.File(path, 'r')`` with a :class:`FormatError` naming the file when it is not HDF5
    or when it names files outside its folder (unless ``allow_outside``)."""
    from ..core.errors import FormatError
    from ..core.h5safety import open_h5_inside

    try:
        return open_h5_inside(path, allow_outside)
    except OSError as exc:
        raise FormatError(f"not an HDF5 file, cannot be read as {fmt} ({exc})", path) from exc


def check_numeric(dset, path) -> np.dtype:
    """The dtype of a dataset holding numbers, else a :class:`FormatError`."""
    from ..core.errors import FormatError

    dt = dset.dtype
    if dt.kind not in "biufc":
        raise FormatError(f"expected a numeric dataset, found dtype {dt}", path, dset.name)
    return np.dtype(dt)


def extra_positions(stack: Stack) -> dict[str, np.ndarray]:
    """Per-position arrays other than live/real time (flat), keyed by a name that is safe as an
    HDF5 or zarr node (``/`` -> ``_``); what writers store under ``positions/``."""
    return {
        key.replace("/", "_"): arr
        for key, arr in position_arrays(stack, extra=True).items()
        if key not in POSITION_KEYS
    }


def write_h5_positions(group, stack: Stack, name: str = "positions") -> None:
    """:func:`extra_positions` into ``group/<name>/<key>`` (nothing when there are none)."""
    extra = extra_positions(stack)
    if extra:
        sub = group.create_group(name)
        for key, arr in extra.items():
            sub.create_dataset(key, data=arr)


def write_h5_per_position(
    group, stack: Stack, shape: tuple[int, ...] | None = None, extra: bool = True
) -> None:
    """``live_time``/``real_time`` (s) as datasets of ``group``, flat or reshaped to ``shape``,
    and (``extra=True``) the other per-position arrays under ``group/positions``
    (:func:`write_h5_positions`)."""
    for key, arr in position_arrays(stack).items():
        ds = group.create_dataset(key, data=arr if shape is None else arr.reshape(shape))
        ds.attrs["units"] = "s"
    if extra:
        write_h5_positions(group, stack)


def read_h5_per_position(group, nframes: int) -> dict[str, np.ndarray]:
    """What :func:`write_h5_per_position` wrote: ``live_time``/``real_time`` as flat float64
    ``(nframes,)`` (any stored shape with ``nframes`` values), then :func:`read_h5_positions`."""
    import h5py

    out: dict[str, np.ndarray] = {}
    for key in POSITION_KEYS:
        ds = group.get(key)
        if isinstance(ds, h5py.Dataset) and ds.size == nframes:
            out[key] = np.asarray(ds[()], dtype=np.float64).reshape(-1)
    out.update(read_h5_positions(group, nframes))
    return out


def read_h5_positions(group, nframes: int, name: str = "positions") -> dict[str, np.ndarray]:
    """Arrays written by :func:`write_h5_positions` (those with ``nframes`` entries)."""
    import h5py

    sub = group.get(name) if group is not None else None
    out: dict[str, np.ndarray] = {}
    if isinstance(sub, h5py.Group):
        for key, ds in sub.items():
            if isinstance(ds, h5py.Dataset) and ds.ndim >= 1 and ds.shape[0] == nframes:
                out[key] = ds[()]
    return out


# -- parallel chunk compression for HDF5 ---------------------------------------------------------
def _codec_encode(chunk: np.ndarray, codec) -> bytes:
    return bytes(codec.encode(np.ascontiguousarray(chunk)))


def h5_encoder(compression: str | None, dtype: np.dtype):
    """A picklable function chunk -> bytes giving exactly what HDF5's filters store, or None.

    Compression is what limits HDF5 writers; h5py compresses in the one writing thread. With an
    encoder, :func:`write_blocks` compresses chunks in threads or on a dask.distributed cluster
    (:func:`scanstack.formats._h5chunks.write_encoded`). ``lzf`` (no Python encoder) and ``None``
    return None.
    """
    import functools

    from ._h5chunks import filter_chunk

    parsed = parse_compression(compression, "hdf5")
    if parsed is None or parsed[0] == "lzf":
        return None
    name, level = parsed
    if name == "gzip":
        return functools.partial(filter_chunk, level=level, shuffle=True)
    try:
        import numcodecs
    except ImportError:  # pragma: no cover - numcodecs comes with zarr
        return None
    if name == "zstd":
        codec = numcodecs.Zstd(level=level)
    else:
        codec = numcodecs.Blosc(
            cname=name.split("-", 1)[1], clevel=level, shuffle=numcodecs.Blosc.SHUFFLE
        )
    return functools.partial(_codec_encode, codec=codec)


def write_blocks(
    stack: Stack,
    dset,
    compression: str | None,
    progress=None,
    label: str = "write",
    flat: bool = False,
    threads: int | None = None,
    client=None,
) -> None:
    """Fill ``dset`` (shape ``stack.shape``, or ``(nframes, prod(signal))`` with ``flat``) block-wise.

    Chunks of whole frames with a Python encoder for the filter are read and compressed in
    ``threads`` threads (or as tasks on ``client``'s dask.distributed cluster, whose workers
    re-open the source) and written raw (:func:`scanstack.formats._h5chunks.write_encoded`);
    otherwise :func:`scanstack.core.writing.copy_to` does a block-wise copy through h5py.
    """
    from ..core.config import config
    from ..core.writing import copy_to
    from ._h5chunks import write_encoded

    nav_ndim = 1 if flat else len(stack.nav_shape)
    encoder = h5_encoder(compression, dset.dtype)
    chunks, shape = dset.chunks, dset.shape
    if client is not None:
        workers = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
    else:
        workers = threads or config.threads()
    whole_frames = chunks is not None and tuple(chunks[nav_ndim:]) == tuple(shape[nav_ndim:])
    if (
        encoder is None
        or not whole_frames
        or stack.nframes == 0
        or (workers < 2 and client is None)
    ):
        reshape = (lambda b: b.reshape(len(b), -1)) if flat else None
        copy_to(stack, dset, progress=progress, label=label, flat=flat, transform=reshape)
        return
    write_encoded(stack, dset, encoder, progress, label, flat, workers, client)

"""USID (h5USID, pycroscopy's Universal Spectroscopy and Imaging Data): read and write.

A USID *Main* dataset is always 2-D, ``(positions, spectroscopic values)``; four ancillary
datasets, referenced by object-reference attributes of Main, give every row its position
indices/values (``Position_Indices``/``Position_Values``, shape ``(npos, n_pos_dims)``) and every
column its spectroscopic indices/values (``Spectroscopic_*``, shape ``(n_spec_dims, nspec)``),
each with ``labels`` and ``units``. Main carries ``quantity`` and ``units``.

Written layout (accepted by pyUSID's ``check_if_main``, ``USIDataset`` and
``reshape_to_n_dims``)::

    /Measurement_000              bookkeeping + title, signal_type, acquisition_time, dwell_time,
                                  energy_calibration and every other metadata value as flat
                                  attrs ("instrument-name"); scanstack_metadata / scanstack_axes (JSON)
      scanstack_original_metadata (JSON string dataset)
      Channel_000/Raw_Data        (prod(nav_shape), prod(signal_shape)), chunked by whole frames
                 Position_Indices (npos, k) uint32, Position_Values float32   columns slowest -> fastest
                 Spectroscopic_Indices (m, nspec) uint32, Spectroscopic_Values float32   rows slowest -> fastest
                 live_time, real_time (npos,) s   when the stack has them

Columns and rows are stored **slowest first**, as pyUSID 0.0.12 writes them: its
``USIDataset(sort_dims=True)`` mis-orders fastest-first files (see the project notes). The reader
accepts both orders (the speed of each dimension is found by counting index changes) and any row
order (rows are mapped to C-order frames). For 1-D signals with an energy calibration the
spectroscopic dimension is ``Energy`` in keV. Metadata keys ``quantity`` and ``units`` map to the
Main attributes (defaults ``Counts``/``counts`` for integer data, else ``Intensity``/``a.u.``).

Options: reader ``path=`` (a Main dataset when a file holds several; default the first);
writer ``compression=`` (as :func:`scanstack.formats._interchange.h5_compression`, default
``"gzip"``), ``progress=``, ``main_name=``, ``overwrite=``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import socket
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..core.errors import FormatError
from ..core.progress import ProgressArg
from ..core.reader import Reader, Region, crop
from ..core.registry import FormatSpec
from ..core.resources import UNSET, resolve
from ..core.stack import Stack
from . import _h5io as h5io
from . import _interchange as ic
from ._sniff import h5_sniffer

ANCILLARY = ("Position_Indices", "Position_Values", "Spectroscopic_Indices", "Spectroscopic_Values")
STR = h5py.string_dtype("utf-8")


# =============================================================================================
# writing
# =============================================================================================
def bookkeeping() -> dict[str, str]:
    """The bookkeeping attributes USID asks for on groups and Main datasets."""
    from .. import __version__

    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y_%m_%d-%H_%M_%S")
    return {
        "machine_id": socket.getfqdn(),
        "platform": platform.platform(),
        "timestamp": stamp,
        "time_stamp": stamp,
        "scanstack_version": __version__,
    }


def _dims(stack: Stack, nav: bool) -> list[tuple[str, str, np.ndarray]]:
    """(label, units, coordinates) per dimension, slowest first."""
    axes = stack.nav_axes if nav else stack.signal_axes
    if not axes:
        return [("Position" if nav else "Spectral", "", np.zeros(1))]
    dims = [(a.name, a.units, a.coordinates) for a in axes]
    if not nav and len(axes) == 1:
        cal = ic.energy_calibration(stack)
        if cal is not None and axes[0].units not in ("keV", "eV"):
            dims = [("Energy", "keV", ic.calibrated_energies(cal, axes[0].size))]
    labels = ic.unique_names([d[0] for d in dims])
    return [(lab, u, c) for lab, (_, u, c) in zip(labels, dims, strict=True)]


def _write_ancillary(group: h5py.Group, prefix: str, dims, nav: bool) -> tuple[h5py.Dataset, ...]:
    sizes = tuple(len(d[2]) for d in dims)
    n = int(np.prod(sizes))
    shape = (n, len(dims)) if nav else (len(dims), n)
    inds = group.create_dataset(f"{prefix}_Indices", shape=shape, dtype=np.uint32)
    vals = group.create_dataset(f"{prefix}_Values", shape=shape, dtype=np.float32)
    step = 1 << 20
    for a in range(0, n, step):  # bounded memory for very long scans
        b = min(n, a + step)
        idx = np.stack(np.unravel_index(np.arange(a, b), sizes), axis=1)
        val = np.stack([d[2][idx[:, j]] for j, d in enumerate(dims)], axis=1)
        if nav:
            inds[a:b], vals[a:b] = idx, val
        else:
            inds[:, a:b], vals[:, a:b] = idx.T, val.T
    for ds in (inds, vals):
        ds.attrs["labels"] = np.array([d[0] for d in dims], dtype=STR)
        ds.attrs["units"] = np.array([d[1] for d in dims], dtype=STR)
        ds.attrs["type"] = np.zeros(len(dims), dtype=np.int64)
    return inds, vals


def measurement_attrs(stack: Stack) -> dict[str, Any]:
    """Common metadata as plain attributes (USID keeps measurement parameters on the group)."""
    meta = ic.common_metadata(stack)
    out: dict[str, Any] = {}
    for key in ("title", "signal_type", "acquisition_time", "original_file", "format"):
        if isinstance(meta.get(key), str):
            out[key] = meta[key]
    if isinstance(meta.get("dwell_time"), (int, float)):
        out["dwell_time"] = float(meta["dwell_time"])
    cal = ic.energy_calibration(stack)
    if cal is not None:
        out["energy_calibration"] = np.asarray(cal, dtype=np.float64)
    # the rest as pyUSID translators store measurement parameters: flat attributes, nested
    # keys joined with "-" (sidpy's flatten_dict convention)
    for key, value in _flatten(meta).items():
        if key.split("-", 1)[0] not in out and key not in ("scanstack_metadata", "scanstack_axes"):
            if value is not None:
                out[key] = h5io.attr_value(value)
    out["scanstack_metadata"] = ic.json_attr(meta)
    out["scanstack_axes"] = ic.json_attr(ic.axes_to_json(stack.axes))
    return out


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "-"))
        else:
            out[name] = value
    return out


def write_usid(
    stack: Stack,
    path: str | os.PathLike,
    *,
    compression: str | None = "gzip",
    progress: ProgressArg = None,
    client=None,
    threads: int | None = None,
    memory_budget: int | None = None,
    main_name: str = "Raw_Data",
    overwrite: bool = False,
    file_chunk_bytes: int | None = None,
    chunk_bytes: int = UNSET,
) -> Path:
    """Write ``stack`` as an h5USID file (one Measurement, one Channel), block by block, atomically.

    Main is ``(prod(nav_shape), prod(signal_shape))``; returns the path written.
    ``compression``, ``file_chunk_bytes``, ``overwrite``, ``client``, ``threads``, ``progress``,
    ``memory_budget``: as for every HDF5 interchange writer (:func:`~._h5write.write_h5_file`).
    """
    npos, nspec = stack.nframes, int(np.prod(stack.signal_shape))
    book = bookkeeping()  # once: socket.getfqdn() may ask DNS

    def write_layout(t: h5io.H5Target) -> h5py.Dataset:
        meas = t.file.create_group("Measurement_000")
        meas.attrs.update(book)
        meas.attrs.update({k: v for k, v in measurement_attrs(stack).items() if k not in book})
        meas.create_dataset(
            "scanstack_original_metadata", data=ic.json_attr(stack.original_metadata or {})
        )
        chan = meas.create_group("Channel_000")
        chan.attrs.update(book)
        kwargs = ic.h5_data_kwargs((npos,), (nspec,), stack.dtype, t.chunk_bytes, t.compression)
        main = chan.create_dataset(main_name, shape=(npos, nspec), dtype=stack.dtype, **kwargs)
        quantity, units = ic.quantity_units(stack)
        main.attrs.update({"quantity": quantity, "units": units, **book})
        refs = _write_ancillary(chan, "Position", _dims(stack, True), nav=True)
        refs += _write_ancillary(chan, "Spectroscopic", _dims(stack, False), nav=False)
        for name, ds in zip(ANCILLARY, refs, strict=True):
            main.attrs[name] = ds.ref
        h5io.write_h5_per_position(chan, stack)
        return main

    res = resolve(client=client, threads=threads, progress=progress, memory_budget=memory_budget)
    return h5io.write_h5_file(
        stack,
        path,
        write_layout,
        "usid",
        res,
        compression,
        overwrite,
        file_chunk_bytes,
        chunk_bytes,
        True,
    )


# =============================================================================================
# reading
# =============================================================================================
def is_main(dset) -> bool:
    """A cheap structural test: 2-D with quantity, units and the four ancillary attributes."""
    if not isinstance(dset, h5py.Dataset) or dset.ndim != 2:
        return False
    attrs = dset.attrs
    return all(k in attrs for k in ("quantity", "units", *ANCILLARY))


def find_mains(f: h5py.File) -> list[str]:
    """Paths of every USID Main dataset in the file, sorted."""
    return h5io.find_datasets(f, is_main)


def _deref(main: h5py.Dataset, name: str, path) -> h5py.Dataset:
    ref = main.attrs[name]
    try:
        target = main.file[ref if isinstance(ref, h5py.Reference) else ic.as_str(ref)]
    except (KeyError, ValueError, TypeError) as exc:
        raise FormatError(
            f"attribute {name} does not point at a dataset ({exc})", path, f"{main.name}@{name}"
        ) from exc
    if not isinstance(target, h5py.Dataset):
        raise FormatError(
            f"attribute {name} points at a group, not a dataset", path, f"{main.name}@{name}"
        )
    return target


def _labels(ds: h5py.Dataset, key: str, n: int, default: str) -> list[str]:
    values = ic.as_str_list(ds.attrs.get(key))
    if len(values) != n:
        values = [f"{default}{i}" if default else "" for i in range(n)]
    return values


def _factorise(inds: np.ndarray, where: str, path) -> tuple[list[int], list[int], np.ndarray]:
    """``(order, sizes, frame_to_item)`` for index columns ``inds`` ``(n, k)``.

    ``order`` lists the columns slowest first (fewest index changes), ``sizes`` their lengths,
    ``frame_to_item[f]`` the row (or column) holding C-order frame ``f`` (None when identity).
    """
    n, k = inds.shape
    changes = [int(np.count_nonzero(np.diff(inds[:, j]))) for j in range(k)]
    order = sorted(range(k), key=lambda j: (changes[j], j))
    codes, sizes = [], []
    for j in order:
        uniq, inv = np.unique(inds[:, j], return_inverse=True)
        codes.append(inv.reshape(-1))
        sizes.append(len(uniq))
    if int(np.prod(sizes)) != n:
        raise FormatError(
            f"the {k} index dimensions (sizes {sizes}) do not factorise the {n} "
            "entries (dependent or incomplete dimensions are not supported)",
            path,
            where,
        )
    flat = np.ravel_multi_index(codes, sizes) if codes else np.zeros(n, np.int64)
    if np.array_equal(flat, np.arange(n)):
        return order, sizes, None
    perm = np.empty(n, dtype=np.int64)
    perm[flat] = np.arange(n)
    if np.unique(flat).size != n:
        raise FormatError("two entries share the same indices", path, where)
    return order, sizes, perm


class USIDReader(h5io.H5FileReader, Reader):
    """The N-D stack of one USID Main dataset (navigation = positions, signal = spectroscopic)."""

    format_name = "usid"

    def __init__(self, source, *, path: str | None = None, allow_outside: bool = False):
        super().__init__(source, path=path, allow_outside=allow_outside)
        self._open_and_setup(source, path)

    def _setup(self, source, where) -> None:
        f = self._file
        mains = find_mains(f)
        if where is None:
            if not mains:
                raise FormatError(
                    "no USID Main dataset (2-D, with quantity, units and the four "
                    "Position/Spectroscopic reference attributes)",
                    source,
                    "/",
                )
            where = mains[0]
        main = f.get(where)
        if not is_main(main):
            raise FormatError(
                "not a USID Main dataset (2-D with quantity, units, " + ", ".join(ANCILLARY) + ")",
                source,
                where,
            )
        self._main = main
        self.dtype = h5io.check_numeric(main, source)
        npos, nspec = main.shape
        anc = {name: _deref(main, name, source) for name in ANCILLARY}
        for prefix, axis, n in (("Position", 0, npos), ("Spectroscopic", 1, nspec)):
            ii, vv = anc[f"{prefix}_Indices"], anc[f"{prefix}_Values"]
            if ii.ndim != 2 or ii.shape != vv.shape or ii.shape[axis] != n:
                raise FormatError(
                    f"{prefix} ancillaries must be 2-D with {n} entries along axis "
                    f"{axis} and equal shapes; found {ii.shape} and {vv.shape}",
                    source,
                    ii.name,
                )
        pos_i = np.asarray(anc["Position_Indices"][()])
        spec_i = np.asarray(anc["Spectroscopic_Indices"][()]).T
        p_order, p_sizes, self._row_of_frame = _factorise(
            pos_i, anc["Position_Indices"].name, source
        )
        s_order, s_sizes, self._col_of_item = _factorise(
            spec_i, anc["Spectroscopic_Indices"].name, source
        )
        self.nav_shape = tuple(p_sizes)
        self.signal_shape = tuple(s_sizes)

        axes = []
        for kind, order, sizes, perm, nav in (
            ("Position", p_order, p_sizes, self._row_of_frame, True),
            ("Spectroscopic", s_order, s_sizes, self._col_of_item, False),
        ):
            ids, vals = anc[f"{kind}_Indices"], anc[f"{kind}_Values"]
            k = ids.shape[1] if nav else ids.shape[0]
            labels = _labels(ids, "labels", k, "dim")
            units = _labels(ids, "units", k, "")
            values = np.asarray(vals[()])  # as stored (float32 from pyUSID): see axis_from_values
            values = values if nav else values.T
            strides = np.cumprod([1, *sizes[::-1]])[:-1][::-1]
            for d, col in enumerate(order):
                items = np.arange(sizes[d]) * strides[d]
                rows = items if perm is None else perm[items]
                axes.append(ic.axis_from_values(labels[col], values[rows, col], units[col], nav))
        meas = f[main.parent.name.rsplit("/", 1)[0] or "/"]
        meta, own_axes = self._metadata(source, meas, main)
        if own_axes is not None:
            fitted = ic.axes_from_json(own_axes, self.nav_shape + self.signal_shape)
            if fitted is not None and sum(a.navigate for a in fitted) == len(self.nav_shape):
                axes = fitted
        self.axes = axes
        for key, arr in h5io.read_h5_per_position(main.parent, npos).items():
            meta[key] = arr if self._row_of_frame is None else arr[self._row_of_frame]
        self.metadata = meta

    def _metadata(self, source, meas: h5py.Group, main: h5py.Dataset):
        meta: dict[str, Any] = {}
        own_axes = None
        if "scanstack_metadata" in meas.attrs:
            meta.update(ic.json_dict(meas.attrs["scanstack_metadata"]) or {})
            try:
                own_axes = json.loads(ic.as_str(meas.attrs.get("scanstack_axes", "null")))
            except ValueError:
                pass
        else:
            for key in ("title", "signal_type", "acquisition_time"):
                if key in meas.attrs:
                    meta[key] = ic.as_str(meas.attrs[key])
        orig = meas.get("scanstack_original_metadata")
        if isinstance(orig, h5py.Dataset):
            self.original_metadata = ic.json_dict(orig[()]) or {}
        else:
            self.original_metadata = {
                "measurement": h5io.small_tree(meas, depth=0),
                "main": h5io.small_tree(main.parent, depth=0),
                "main_attrs": {
                    k: ic.as_str(v) for k, v in main.attrs.items() if k not in ANCILLARY
                },
            }
        meta["quantity"] = ic.as_str(main.attrs["quantity"])
        meta["units"] = ic.as_str(main.attrs["units"])
        meta["format"] = "usid"
        meta["original_file"] = os.fspath(source)
        return meta, own_axes

    def read(self, start: int, stop: int, region: Region | None = None) -> np.ndarray:
        self._check_open()
        main = self._main
        if self._row_of_frame is None:
            if region is not None and self._col_of_item is None:
                return self._read_band(start, stop, region)
            block = main[start:stop, :]
        else:  # rows not in C order: h5py wants increasing indices, so sort then put back
            rows = self._row_of_frame[start:stop]
            order = np.argsort(rows)
            block = np.empty((len(rows), main.shape[1]), main.dtype)
            block[order] = main[rows[order], :]
        if self._col_of_item is not None:
            block = block[:, self._col_of_item]
        block = block.reshape((len(block), *self.signal_shape))
        return np.ascontiguousarray(crop(block, region)).astype(self.dtype, copy=False)

    def _read_band(self, start: int, stop: int, region: Region) -> np.ndarray:
        """Frames ``start:stop`` of ``region`` when Main's columns are the frames in C order:
        only the columns of the region's rows (first signal dimension) are read, so a pixel
        tile of all frames costs that band, not whole frames."""
        inner = int(np.prod(self.signal_shape[1:], dtype=np.int64))
        r0, r1, _ = region[0].indices(self.signal_shape[0])  # regions have unit steps
        band = self._main[start:stop, r0 * inner : r1 * inner]
        band = band.reshape((stop - start, max(0, r1 - r0), *self.signal_shape[1:]))
        rest = (slice(None), slice(None), *region[1:])
        return np.ascontiguousarray(band[rest]).astype(self.dtype, copy=False)

    def read_overhead(self) -> int:
        """HDF5's chunk cache and one decoded chunk when Main is filtered (see chunk_scratch)."""
        main = getattr(self, "_main", None)
        return ic.chunk_scratch(main) if main is not None else 0


@h5_sniffer
def sniff(f: h5py.File) -> float:
    for name in sorted(f):  # Measurement_xxx/Channel_xxx/<main>: look two levels down
        g = f.get(name)
        if not isinstance(g, h5py.Group):
            if is_main(g):
                return 0.95
            continue
        for sub in g.values():
            items = sub.values() if isinstance(sub, h5py.Group) else [sub]
            if any(is_main(d) for d in items):
                return 0.95
    return 0.0


FORMAT = FormatSpec(
    name="usid",
    description="h5USID (pyUSID/pycroscopy): 2-D Main dataset + Position/Spectroscopic ancillaries; "
    "read option path=; write compression=, main_name=",
    extensions=(".h5", ".hdf5", ".h5usid"),
    reader=USIDReader,
    writer=write_usid,
    sniff=sniff,
    capabilities=dict(ic.HDF5_CAPABILITIES),
)

__all__ = ["FORMAT", "USIDReader", "write_usid", "find_mains"]

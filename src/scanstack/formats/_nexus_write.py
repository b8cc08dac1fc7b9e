"""Writing NeXus / PyMca HDF5 (the layouts are drawn in :mod:`scanstack.formats.nexus`)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from ..core.errors import UnsupportedError
from ..core.progress import ProgressArg
from ..core.resources import UNSET, resolve
from ..core.stack import Stack
from . import _h5io as h5io
from . import _interchange as ic

#: NXdata ``@interpretation`` of a signal of 1, 2 or 3 dimensions
INTERPRETATION = {1: "spectrum", 2: "image", 3: "rgba-image"}


def write_nexus(
    stack: Stack,
    path: str | os.PathLike,
    *,
    compression: str | None = "gzip",
    progress: ProgressArg = None,
    client=None,
    threads: int | None = None,
    memory_budget: int | None = None,
    layout: str = "nexus",
    overwrite: bool = False,
    file_chunk_bytes: int | None = None,
    chunk_bytes: int = UNSET,
) -> Path:
    """Write ``stack`` to a NeXus/PyMca HDF5 file, block by block, atomically.

    ``layout``: ``"nexus"`` (NXentry/NXinstrument/NXdetector + default NXdata, see module doc) or
    ``"mca_0"`` (PyMca's minimal layout). Returns the path written.
    ``compression``, ``file_chunk_bytes``, ``overwrite``, ``client``, ``threads``, ``progress``,
    ``memory_budget``: as for every HDF5 interchange writer (:func:`~._h5write.write_h5_file`).
    """
    if layout not in ("nexus", "mca_0"):
        raise UnsupportedError(f"layout must be 'nexus' or 'mca_0', not {layout!r}")
    if layout == "mca_0" and len(stack.signal_shape) != 1:
        raise UnsupportedError(
            "the mca_0 layout holds spectra (1-D frames); this stack has "
            f"frames of shape {stack.signal_shape}; use layout='nexus'"
        )

    def write_layout(t: h5io.H5Target) -> h5py.Dataset:
        if layout == "nexus":
            return _write_nexus_tree(t.file, stack, t.compression, t.chunk_bytes, t.path.name)
        group = t.file.create_group("mca_0")
        data = _create_data(group, stack, t.compression, t.chunk_bytes)
        _write_detector_info(group, stack, mca0=True)
        _write_scanstack_group(group, stack)
        return data

    res = resolve(client=client, threads=threads, progress=progress, memory_budget=memory_budget)
    return h5io.write_h5_file(
        stack,
        path,
        write_layout,
        "nexus",
        res,
        compression,
        overwrite,
        file_chunk_bytes,
        chunk_bytes,
    )


def _create_data(group: h5py.Group, stack: Stack, comp: dict, chunk_bytes: int) -> h5py.Dataset:
    shape = stack.shape
    kwargs = ic.h5_data_kwargs(stack.nav_shape, stack.signal_shape, stack.dtype, chunk_bytes, comp)
    data = group.create_dataset("data", shape=shape, dtype=stack.dtype, **kwargs)
    nsig = len(stack.signal_shape)
    if nsig in INTERPRETATION:
        data.attrs["interpretation"] = INTERPRETATION[nsig]
    units = stack.metadata.get("units") if isinstance(stack.metadata, dict) else None
    if units or np.dtype(stack.dtype).kind in "iu":
        data.attrs["units"] = str(units or "counts")
    return data


def _write_detector_info(group: h5py.Group, stack: Stack, mca0: bool = False) -> None:
    """channels, calibration, live/real time and preset time beside ``data`` (PyMca's names)."""
    if len(stack.signal_shape) == 1:
        nch = stack.signal_shape[0]
        group.create_dataset("channels", data=np.arange(nch, dtype=np.int32))
        cal = ic.energy_calibration(stack)
        if cal is not None:
            d = group.create_dataset("calibration", data=np.asarray(cal, dtype=np.float64))
            d.attrs["units"] = "keV"
    shape = stack.nav_shape if stack.nav_shape else (1,)
    names = {"live_time": "live_time", "real_time": "elapsed_time" if mca0 else "real_time"}
    for key, arr in ic.position_arrays(stack).items():
        d = group.create_dataset(names[key], data=arr.reshape(shape))
        d.attrs["units"] = "s"
    dwell = stack.metadata.get("dwell_time") if isinstance(stack.metadata, dict) else None
    if isinstance(dwell, (int, float)) and not isinstance(dwell, bool):
        group.create_dataset("preset_time", data=float(dwell)).attrs["units"] = "s"


def _signal_energy_axis(stack: Stack) -> tuple[str, np.ndarray, str] | None:
    cal = ic.energy_calibration(stack)
    if cal is None or len(stack.signal_shape) != 1:
        return None
    return "energy", ic.calibrated_energies(cal, stack.signal_shape[0]), "keV"


def _write_nexus_tree(
    f: h5py.File, stack: Stack, comp: dict, chunk_bytes: int, file_name: str
) -> h5py.Dataset:
    from .. import __version__

    meta = stack.metadata if isinstance(stack.metadata, dict) else {}
    f.attrs.update(
        {
            "NX_class": "NXroot",
            "default": "entry",
            "creator": f"scanstack {__version__}",
            "file_name": file_name,
            "HDF5_Version": h5py.version.hdf5_version,
        }
    )
    entry = f.create_group("entry")
    entry.attrs.update({"NX_class": "NXentry", "default": "data"})
    entry.create_dataset("title", data=str(meta.get("title") or ""))
    if meta.get("acquisition_time"):
        entry.create_dataset("start_time", data=str(meta["acquisition_time"]))
    instrument = entry.create_group("instrument")
    instrument.attrs["NX_class"] = "NXinstrument"
    inst = meta.get("instrument")
    if isinstance(inst, dict) and inst.get("name"):
        instrument.create_dataset("name", data=str(inst["name"]))
    elif isinstance(inst, str) and inst:
        instrument.create_dataset("name", data=inst)
    positioners = meta.get("positioners")
    if isinstance(positioners, dict) and positioners:
        # PyMca's place for motor positions per spectrum (HDF5Stack1D -> info["positioners"])
        group = instrument.create_group("positioners")
        group.attrs["NX_class"] = "NXcollection"
        for name, values in positioners.items():
            values = np.asarray(values)
            if values.dtype.kind in "biuf" and values.size in (1, stack.nframes):
                group.create_dataset(str(name).replace("/", "_"), data=values.reshape(-1))
    detector = instrument.create_group("detector")
    detector.attrs["NX_class"] = "NXdetector"
    data = _create_data(detector, stack, comp, chunk_bytes)
    _write_detector_info(detector, stack)
    data_path = data.name

    # coordinates of every dimension: scan axes then the signal (energy when calibrated)
    axes = stack.axes
    names = ic.unique_names([a.name for a in axes] + ["data"])[:-1]
    coords = [(n, a.coordinates, a.units) for n, a in zip(names, axes, strict=True)]
    energy = _signal_energy_axis(stack)
    if energy is not None and energy[0] not in names[:-1]:
        coords[-1] = energy

    if len(stack.nav_shape) == 2 and len(stack.signal_shape) == 1:
        # PyMca reads pixel scales from dim0/dim1 in <detector>/map (McaStackExport layout)
        pm = detector.create_group("map")
        pm.attrs.update({"NX_class": "NXdata", "signal": "data", "axes": ["dim0", "dim1", "dim2"]})
        pm["data"] = h5py.SoftLink(data_path)
        for i in range(2):
            d = pm.create_dataset(f"dim{i}", data=np.asarray(coords[i][1], dtype=np.float64))
            if coords[i][2]:
                d.attrs["units"] = coords[i][2]
        pm["dim2"] = h5py.SoftLink(f"{detector.name}/channels")
        detector.attrs["default"] = "map"

    nxdata = entry.create_group("data")
    nxdata.attrs.update(
        {"NX_class": "NXdata", "signal": "data", "axes": [c[0] for c in coords] if coords else "."}
    )
    nxdata["data"] = h5py.SoftLink(data_path)
    if len(stack.signal_shape) in INTERPRETATION:
        nxdata.attrs["interpretation"] = INTERPRETATION[len(stack.signal_shape)]
    for i, (name, values, units) in enumerate(coords):
        d = nxdata.create_dataset(name, data=np.asarray(values))
        if units:
            d.attrs["units"] = units
        d.attrs["long_name"] = f"{name} ({units})" if units else name
        nxdata.attrs[f"{name}_indices"] = np.int32(i)
    if meta.get("title"):
        nxdata.attrs["title"] = str(meta["title"])

    _write_scanstack_group(entry, stack)
    return data


def _write_scanstack_group(parent: h5py.Group, stack: Stack) -> None:
    """``<parent>/scanstack``: metadata, axes and original metadata (JSON) and per-position arrays.

    Datasets, not attributes (no 64 kB limit); the group name keeps PyMca from taking its
    arrays for spectra (it does so for any array in a group named ``mca*``).
    """
    extra = parent.create_group("scanstack")
    extra.attrs["NX_class"] = "NXcollection"
    extra.create_dataset("metadata", data=ic.json_attr(ic.common_metadata(stack)))
    extra.create_dataset("axes", data=ic.json_attr(ic.axes_to_json(stack.axes)))
    extra.create_dataset("original_metadata", data=ic.json_attr(stack.original_metadata or {}))
    h5io.write_h5_positions(extra, stack)

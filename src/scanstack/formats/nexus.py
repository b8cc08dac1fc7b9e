"""NeXus / PyMca HDF5: read and write maps of spectra (XRF) and stacks of frames.

Layout written by default (``layout="nexus"``), checked with PyMca's own loader (HDF5Stack1D) and
silx's NXdata validation::

    /                     @NX_class=NXroot  @default="entry"
    /entry                @NX_class=NXentry @default="data"; title, start_time
      instrument          @NX_class=NXinstrument; name
        positioners       @NX_class=NXcollection: metadata["positioners"] (one value per spectrum)
        detector          @NX_class=NXdetector @default="map"
          data            nav_shape + signal_shape, chunked by whole frames, @interpretation
          channels        (nch,)   channel numbers             } only for 1-D signals
          calibration     (3,)     a, b, c keV, E = a + b·ch + c·ch²   (PyMca's McaCalib)
          live_time, real_time  nav_shape, s   (PyMca corrects with live_time)
          preset_time     scalar s (the common ``dwell_time``)
          map             @NX_class=NXdata dim0 (y), dim1 (x), dim2 -> channels (PyMca's scales)
      data                @NX_class=NXdata @signal="data" @axes=[...] @<axis>_indices
        data -> /entry/instrument/detector/data;  one 1-D coordinate dataset per axis, @units
      scanstack           @NX_class=NXcollection: metadata, axes, original_metadata (JSON)

``layout="mca_0"`` writes PyMca's minimal layout instead: ``/mca_0/{data, channels, calibration,
live_time, elapsed_time, preset_time}`` (metadata and axes in ``/mca_0/scanstack``).

Reading follows ``@default`` (root -> NXentry -> NXdata), else the first NXentry's NXdata, else a
PyMca-style spectrum dataset (``@interpretation="spectrum"`` or a group named ``mca*``). Options:
``path=`` (a dataset or NXdata group inside the file), ``signal_ndim=`` (1 spectra, 2 images).
Detector information is looked up as PyMca does: beside the signal (after following links), in a
sibling ``info`` group, or in the grand-parent NXdetector; the map's row/column scales, when the
NXdata has no axes, from PyMca's ``dim0``/``dim1`` (beside the data or in ``map``); motor
positions from ``<NXinstrument>/positioners`` as ``metadata["positioners"]``; axis units from
``@units``, else from a ``@long_name`` such as ``"energy (keV)"``; the title from the NXentry,
else the NXdata (silx's ``save_NXdata``). Per-position ``live_time`` /
``real_time`` come back in ``metadata`` as flat ``(nframes,)`` arrays (see
:mod:`scanstack.formats._interchange`), the calibration as ``metadata["energy_calibration"]``.

Compression (``compression=``): ``"gzip"`` (default; level 4, readable by every HDF5 tool),
``"gzip-1"``..``"gzip-9"``, ``"lzf"``, ``"blosc-zstd"``, ``"blosc-lz4"``, ``"zstd"`` (need
hdf5plugin to read), or ``None``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import h5py
import numpy as np

from ..core.axes import Axis, default_axes
from ..core.errors import FormatError
from ..core.reader import Reader
from ..core.registry import FormatSpec
from . import _h5io as h5io
from . import _interchange as ic
from ._nexus_layout import (
    INFO_NAMES,
    axis_from_dataset,
    child,
    find_spectrum_dataset,
    info_groups,
    locate_signal,
    nx_class,
    nxdata_title,
    positioners,
    pymca_map_scales,
    scanstack_block,
)
from ._nexus_write import write_nexus
from ._sniff import h5_sniffer

SIGNAL_NDIM = {"spectrum": 1, "image": 2, "rgba-image": 3, "rgb-image": 3, "scalar": 0}


# =============================================================================================
# reading (where things are: ._nexus_layout)
# =============================================================================================
class NexusReader(h5io.H5NavReader, Reader):
    """A map of spectra (or stack of frames) from a NeXus or PyMca-style HDF5 file."""

    format_name = "nexus"

    def _setup(self, source, where, signal_ndim) -> None:
        f = self._file
        dset, nxd, target = locate_signal(f, source, where)
        self._dset = dset
        self.dtype = h5io.check_numeric(dset, source)
        shape = tuple(dset.shape or ())
        own = scanstack_block(f, nxd, target)
        interp = ic.as_str(
            dset.attrs.get("interpretation", "")
            or (nxd.attrs.get("interpretation", "") if nxd is not None else "")
        )
        info = {}
        for g in info_groups(f, target):
            for name in INFO_NAMES:
                if name not in info and isinstance(child(g, name), h5py.Dataset):
                    info[name] = g[name]
        own_axes = own.get("axes")
        if signal_ndim is None:
            if isinstance(own_axes, list) and len(own_axes) == len(shape):
                signal_ndim = sum(1 for a in own_axes if not a.get("navigate", True))
            elif interp in SIGNAL_NDIM:
                signal_ndim = SIGNAL_NDIM[interp]
            elif "channels" in info or "calibration" in info or len(shape) == 1:
                signal_ndim = 1
            else:
                signal_ndim = 2 if len(shape) >= 2 else 1
        if not 0 <= signal_ndim <= len(shape):
            raise FormatError(
                f"dataset of shape {shape} cannot hold {signal_ndim}-D frames", source, dset.name
            )
        self.nav_shape = shape[: len(shape) - signal_ndim]
        self.signal_shape = shape[len(shape) - signal_ndim :]

        meta: dict[str, Any] = {}
        entry = None
        if nxd is not None:
            entry = f[nxd.name.rsplit("/", 1)[0] or "/"]
            if nx_class(entry) != "NXentry":
                entry = None
        if entry is not None:
            for key, name in (("title", "title"), ("acquisition_time", "start_time")):
                ds = child(entry, name)
                if isinstance(ds, h5py.Dataset) and ds.shape in ((), (1,)):
                    value = ic.as_str(ds[()])
                    if value:
                        meta[key] = value
        if "title" not in meta and nxd is not None:
            title = nxdata_title(nxd)  # silx's save_NXdata puts the title on the NXdata
            if title:
                meta["title"] = title
        if isinstance(own.get("metadata"), dict):
            meta.update(own["metadata"])
        nframes = int(np.prod(self.nav_shape)) if self.nav_shape else 1
        if entry is not None:
            motors = positioners(entry, nframes)
            if motors:
                meta["positioners"] = motors
        cal = None
        if "calibration" in info:
            values = np.asarray(info["calibration"][()], dtype=np.float64).reshape(-1)
            if values.size not in (2, 3):
                raise FormatError(
                    f"calibration must hold 2 or 3 values (a, b[, c]), found {values.size}",
                    source,
                    info["calibration"].name,
                )
            cal = (float(values[0]), float(values[1]), float(values[2]) if values.size > 2 else 0.0)
            meta["energy_calibration"] = {"a": cal[0], "b": cal[1], "c": cal[2]}
        for key, names in (
            ("live_time", ("live_time",)),
            ("real_time", ("real_time", "elapsed_time")),
        ):
            name = next((n for n in names if n in info), None)
            if name is None:
                continue
            values = np.asarray(info[name][()], dtype=np.float64)
            if values.size == 1:
                meta[key] = float(values.reshape(-1)[0])
            elif values.size == nframes:
                meta[key] = values.reshape(-1)
            else:
                warnings.warn(
                    f"{os.fspath(source)} ({info[name].name}): {values.size} values "
                    f"for {nframes} spectra; ignored",
                    stacklevel=4,
                )
        for name in ("preset_time", "count_time"):
            if name in info and "dwell_time" not in meta and info[name].size == 1:
                meta["dwell_time"] = float(np.asarray(info[name][()]).reshape(-1)[0])
        meta.update(h5io.read_h5_positions(own.get("group"), nframes))
        if signal_ndim == 1 and "signal_type" not in meta and cal is not None:
            meta["signal_type"] = "xrf"
        meta["format"] = "nexus"
        meta["original_file"] = os.fspath(source)
        self.metadata = meta
        self.axes = self._read_axes(source, nxd, dset, own_axes, cal, info, shape, target)
        if isinstance(own.get("original_metadata"), dict):
            self.original_metadata = own["original_metadata"]
        else:
            self.original_metadata = h5io.small_tree(
                entry if entry is not None else f[target.rsplit("/", 1)[0] or "/"]
            )

    def _read_axes(self, source, nxd, dset, own_axes, cal, info, shape, target):
        own = ic.axes_from_json(own_axes, shape) if own_axes is not None else None
        if own is not None and [a.navigate for a in own].count(True) == len(self.nav_shape):
            return own
        axes = default_axes(self.nav_shape, self.signal_shape)
        nnav = len(self.nav_shape)
        found: set[int] = set()
        names: list[str] = []
        if nxd is not None:
            if "axes" in nxd.attrs:
                raw = nxd.attrs["axes"]
                names = (
                    ic.as_str(raw).split(":")
                    if isinstance(raw, (str, bytes)) and ":" in ic.as_str(raw)
                    else ic.as_str_list(raw)
                )
            elif "axes" in dset.attrs:  # legacy "x:y:z" on the signal
                names = ic.as_str(dset.attrs["axes"]).replace(",", ":").split(":")
        # axes listed right-aligned when fewer than dims (NeXus: axes of the last dims)
        offset = len(shape) - len(names) if len(names) < len(shape) else 0
        for i, name in enumerate(names[: len(shape)]):
            dim = i + offset
            if name in (".", ""):
                continue
            if nxd is not None and f"{name}_indices" in nxd.attrs:
                idx = np.asarray(nxd.attrs[f"{name}_indices"]).reshape(-1)
                if idx.size == 1 and 0 <= int(idx[0]) < len(shape):
                    dim = int(idx[0])
            ds = child(nxd, name)
            if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
                warnings.warn(
                    f"{os.fspath(source)} ({nxd.name}): axis {name!r} is not a 1-D "
                    "dataset; using pixel indices",
                    stacklevel=5,
                )
                continue
            if ds.shape[0] != shape[dim]:
                warnings.warn(
                    f"{os.fspath(source)} ({ds.name}): axis has {ds.shape[0]} values "
                    f"for a dimension of {shape[dim]}; using pixel indices",
                    stacklevel=5,
                )
                continue
            axes[dim] = axis_from_dataset(name, ds, dim < nnav)
            found.add(dim)
        if nnav == 2 and len(shape) == 3 and not found & {0, 1}:
            for dim, axis in pymca_map_scales(self._file, target, shape).items():
                axes[dim] = axis
        if len(self.signal_shape) == 1 and not axes[-1].units and cal is not None:
            a, b, c = cal
            n = self.signal_shape[0]
            if c == 0:
                axes[-1] = Axis("energy", n, "keV", b, a, navigate=False)
            else:
                energies = ic.calibrated_energies(cal, n)
                axes[-1] = Axis("energy", n, "keV", values=energies, navigate=False)
        return axes


# =============================================================================================
@h5_sniffer
def sniff(f: h5py.File) -> float:
    if nx_class(f) == "NXroot" and "default" in f.attrs:
        return 0.85
    for key in f:
        obj = child(f, key)
        if isinstance(obj, h5py.Group) and nx_class(obj) == "NXentry":
            return 0.8
        if isinstance(obj, h5py.Group) and key.lower().startswith("mca") and "data" in obj:
            return 0.6
    return 0.4 if find_spectrum_dataset(f, depth=2) is not None else 0.0


FORMAT = FormatSpec(
    name="nexus",
    description="NeXus / PyMca HDF5 maps of spectra (NXentry/NXdetector/NXdata, mca_0); "
    "read options path=, signal_ndim=; write layout='nexus'|'mca_0', compression=",
    extensions=(".nxs", ".nx5", ".nx", ".h5", ".hdf5", ".hdf"),
    reader=NexusReader,
    writer=write_nexus,
    sniff=sniff,
    capabilities={
        **ic.HDF5_CAPABILITIES,
        "metadata": "title, start_time, calibration, live_time, real_time, preset_time",
    },
)

__all__ = ["FORMAT", "NexusReader", "write_nexus", "locate_signal"]

"""NSID (pyNSID's N-dimensional spectroscopic and imaging data in HDF5): read and write.

Unlike USID, the Main dataset keeps its N-D shape; every dimension has a 1-D HDF5 *dimension
scale* sibling (named after the dimension) with ``name``, ``units``, ``quantity`` and
``dimension_type`` attributes, all non-empty (:func:`describe_dimension`). Layout written
(``pyNSID.io.hdf_utils.check_if_main`` and ``read_h5py_dataset`` accept it and keep every
dimension)::

    /Measurement_000/Channel_000/<name>/          group (bookkeeping, scanstack_axes JSON)
        <name>        nav_shape + signal_shape, chunked by whole frames; quantity, units,
                      main_data_name (title), data_type, modality, source, pyNSID_version
        <dim>         one dimension scale per axis (attached via DIMENSION_LIST)
        metadata/     common metadata as nested attributes (sidpy's ``Dataset.metadata``)
        original_metadata/  the format's own tree (nested attributes, JSON for awkward values)
        live_time, real_time   nav_shape, s (per-position arrays, when present)
    /Measurement_000/Channel_000/<name>_positions/<key>   other per-position arrays (nframes, ...)

pyNSID turns every group beside Main into attribute-only metadata and fails on a group that
holds datasets, so the other per-position arrays live in a sibling of Main's group (files
written before kept them in ``<name>/positions/``; both are read).
``pyNSID_version`` is required by pyNSID's checker; scanstack writes the NSID layout version it
follows ("0.0.7") with its own name appended. ``data_type`` follows sidpy (SPECTRAL_IMAGE,
IMAGE_STACK, IMAGE_4D, SPECTRUM, IMAGE …), ``dimension_type`` SPATIAL / SPECTRAL / RECIPROCAL /
TEMPORAL / UNKNOWN.

Reader options: ``path=`` (the Main dataset; default the first found), ``signal_ndim=``
(otherwise from ``data_type``, else from the dimension types). Writer: ``compression=``
(as the other HDF5 formats, default ``"gzip"``), ``progress=``, ``name=`` (default "data").
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..core.errors import FormatError
from ..core.metadata import to_jsonable
from ..core.progress import ProgressArg
from ..core.reader import Reader
from ..core.registry import FormatSpec
from ..core.resources import UNSET, resolve
from ..core.stack import Stack
from . import _h5io as h5io
from . import _interchange as ic
from ._sniff import h5_sniffer
from .usid import bookkeeping

NSID_LAYOUT_VERSION = "0.0.7"
#: signal dims implied by sidpy's data_type
DATA_TYPE_SIGNAL_NDIM = {
    "SPECTRUM": 1,
    "LINE_PLOT": 1,
    "LINE_PLOT_FAMILY": 1,
    "SPECTRAL_IMAGE": 1,
    "IMAGE": 2,
    "IMAGE_STACK": 2,
    "IMAGE_MAP": 2,
    "IMAGE_4D": 2,
}
SIGNAL_DIM_TYPES = ("SPECTRAL", "RECIPROCAL", "CHANNEL")


# =============================================================================================
# writing
# =============================================================================================
def data_type(nav_ndim: int, sig_ndim: int) -> str:
    """sidpy's DataType name for a stack with these navigation and signal dimensions."""
    if sig_ndim == 1:
        return "SPECTRUM" if nav_ndim == 0 else "SPECTRAL_IMAGE"
    if sig_ndim == 2:
        return {0: "IMAGE", 1: "IMAGE_STACK", 2: "IMAGE_4D"}.get(nav_ndim, "UNKNOWN")
    return "UNKNOWN"


#: units -> kind of physical quantity (what sidpy calls a dimension's ``quantity``)
UNIT_KINDS: dict[str, tuple[str, ...]] = {
    "Length": ("m", "mm", "cm", "um", "µm", "μm", "nm", "pm", "Å", "angstrom"),
    "Time": ("s", "ms", "us", "µs", "μs", "ns", "ps", "fs", "min", "h"),
    "Energy": ("eV", "keV", "MeV", "meV"),
    "Angle": ("rad", "mrad", "urad", "µrad", "μrad", "deg", "degree", "degrees", "°"),
}
#: quantity of an axis without units, by its dimension type
PIXEL_QUANTITY = {
    "SPATIAL": "Length",
    "RECIPROCAL": "Reciprocal length",
    "SPECTRAL": "Channel",
    "TEMPORAL": "Frame",
}


def _unit_kind(units: str) -> str | None:
    u = units.strip()
    if u.endswith(("-1", "^-1", "⁻¹")) or u.startswith("1/"):
        return "Reciprocal length"
    return next((kind for kind, names in UNIT_KINDS.items() if u in names), None)


def describe_dimension(
    axis, nav_ndim: int, sig_ndim: int, signal_type: str = ""
) -> tuple[str, str, str]:
    """``(units, quantity, dimension_type)`` of one axis for NSID / sidpy.

    sidpy refuses empty units (pyNSID then drops *every* dimension), so an axis without units
    gets ``"pixel"`` when its coordinates are pixel indices (uniform, scale 1, integer offset)
    and ``"a.u."`` otherwise. The type follows the units (time -> TEMPORAL, energy -> SPECTRAL,
    reciprocal length -> RECIPROCAL), then the axis's place: navigation axes are SPATIAL
    (a scan grid, or named x/y/z) unless 1-D and not spatial (a series: TEMPORAL); 1-D signals
    are SPECTRAL; 2-D signals RECIPROCAL for diffraction (``signal_type``) or angle units,
    else SPATIAL. The quantity names the kind of units, else the axis name for unknown units,
    else a word for the type (Length, Reciprocal length, Channel, Frame).
    """
    units = axis.units or ""
    kind = _unit_kind(units)
    name = (axis.name or "").lower()
    if kind == "Time" or name in ("frame", "frames", "time", "t"):
        dim_type = "TEMPORAL"
    elif kind == "Energy":
        dim_type = "SPECTRAL"
    elif kind == "Reciprocal length":
        dim_type = "RECIPROCAL"
    elif axis.navigate:
        spatial = kind == "Length" or name.rsplit("_", 1)[-1] in ("x", "y", "z")
        dim_type = "SPATIAL" if spatial or nav_ndim > 1 else "TEMPORAL"
    elif sig_ndim == 1:
        dim_type = "SPECTRAL"
    elif kind == "Angle" or "diffraction" in signal_type.lower():
        dim_type = "RECIPROCAL"
    else:
        dim_type = "SPATIAL"
    if not units:
        pixels = axis.is_uniform and axis.scale == 1 and float(axis.offset).is_integer()
        units = "pixel" if pixels else "a.u."
    quantity = kind or (axis.name if axis.units else PIXEL_QUANTITY[dim_type])
    return units, quantity or PIXEL_QUANTITY[dim_type], dim_type


def attrs_tree(group: h5py.Group, tree: dict[str, Any]) -> None:
    """A nested dict as nested groups of attributes (sidpy/pyNSID metadata layout)."""
    for key, value in to_jsonable(tree).items():
        key = str(key).replace("/", "_") or "_"
        if isinstance(value, dict):
            attrs_tree(group.require_group(key), value)
        elif value is not None:
            group.attrs[key] = h5io.attr_value(value)


def write_nsid(
    stack: Stack,
    path: str | os.PathLike,
    *,
    compression: str | None = "gzip",
    progress: ProgressArg = None,
    client=None,
    threads: int | None = None,
    memory_budget: int | None = None,
    name: str = "data",
    overwrite: bool = False,
    file_chunk_bytes: int | None = None,
    chunk_bytes: int = UNSET,
) -> Path:
    """Write ``stack`` as an NSID HDF5 file (N-D Main + dimension scales), block by block.

    Main is the dataset ``name`` in ``/Measurement_000/Channel_000/<name>``; returns the path.
    ``compression``, ``file_chunk_bytes``, ``overwrite``, ``client``, ``threads``, ``progress``,
    ``memory_budget``: as for every HDF5 interchange writer (:func:`~._h5write.write_h5_file`).
    """
    from .. import __version__

    meta = ic.common_metadata(stack)
    book = bookkeeping()  # once: socket.getfqdn() may ask DNS

    def write_layout(t: h5io.H5Target) -> h5py.Dataset:
        chan = t.file.create_group("Measurement_000/Channel_000")
        group = chan.create_group(name)
        group.attrs.update(book)
        group.attrs["scanstack_axes"] = ic.json_attr(ic.axes_to_json(stack.axes))
        group.attrs["scanstack_metadata"] = ic.json_attr(meta)
        kwargs = ic.h5_data_kwargs(
            stack.nav_shape, stack.signal_shape, stack.dtype, t.chunk_bytes, t.compression
        )
        main = group.create_dataset(name, shape=stack.shape, dtype=stack.dtype, **kwargs)
        quantity, units = ic.quantity_units(stack)
        main.attrs.update(
            {
                "quantity": quantity,
                "units": units,
                "main_data_name": str(meta.get("title") or name),
                "title": str(meta.get("title") or name),
                "data_type": data_type(len(stack.nav_shape), len(stack.signal_shape)),
                "modality": str(meta.get("signal_type") or "generic"),
                "source": str(meta.get("original_file") or meta.get("format") or "scanstack"),
                "pyNSID_version": f"{NSID_LAYOUT_VERSION} (scanstack {__version__})",
                **book,
            }
        )
        reserved = [name, "metadata", "original_metadata", *ic.POSITION_KEYS]
        dim_names = ic.unique_names(reserved + [a.name for a in stack.axes])[len(reserved) :]
        signal_type = str(meta.get("signal_type") or "")
        nav_ndim, sig_ndim = len(stack.nav_shape), len(stack.signal_shape)
        for i, (dim, axis) in enumerate(zip(dim_names, stack.axes, strict=True)):
            scale = group.create_dataset(dim, data=np.asarray(axis.coordinates, dtype=np.float64))
            units, quantity, dim_type = describe_dimension(axis, nav_ndim, sig_ndim, signal_type)
            scale.attrs.update(
                {"name": dim, "units": units, "quantity": quantity, "dimension_type": dim_type}
            )
            scale.make_scale(dim)
            main.dims[i].attach_scale(scale)
            main.dims[i].label = dim
        attrs_tree(group.create_group("metadata"), meta)
        attrs_tree(group.create_group("original_metadata"), stack.original_metadata or {})
        # live/real time beside Main (pyNSID ignores datasets there); the other per-position
        # arrays in a sibling group outside Main's group: pyNSID reads every group beside Main
        # as attribute-only metadata and raises TypeError on a group holding datasets
        h5io.write_h5_per_position(group, stack, stack.nav_shape or (1,), extra=False)
        h5io.write_h5_positions(chan, stack, positions_group_name(name))
        return main

    res = resolve(client=client, threads=threads, progress=progress, memory_budget=memory_budget)
    return h5io.write_h5_file(
        stack,
        path,
        write_layout,
        "nsid",
        res,
        compression,
        overwrite,
        file_chunk_bytes,
        chunk_bytes,
    )


def positions_group_name(main_group: str) -> str:
    """Name of the sibling group holding the per-position arrays of Main's group (a path or a
    name): ``<group name>_positions``."""
    return main_group.rsplit("/", 1)[-1] + "_positions"


# =============================================================================================
# reading
# =============================================================================================
def is_main(dset) -> bool:
    """N-D dataset with quantity/units/data_type attributes and a scale on every dimension."""
    if not isinstance(dset, h5py.Dataset) or "DIMENSION_LIST" not in dset.attrs:
        return False
    if not all(k in dset.attrs for k in ("quantity", "units", "data_type")):
        return False
    try:
        # libhdf5's dimension-scale calls corrupt memory (and abort) on a DIMENSION_LIST with
        # another length than the dataset's rank: look at the attribute before ``dset.dims``
        if dset.attrs.get_id("DIMENSION_LIST").shape != (dset.ndim,):
            return False
        return all(len(d) > 0 for d in dset.dims)
    except (RuntimeError, ValueError, OSError):
        return False


def find_mains(f: h5py.File) -> list[str]:
    """Paths of every NSID Main dataset in the file, sorted."""
    return h5io.find_datasets(f, is_main)


def _group_attrs(group: h5py.Group) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in group.attrs.items():
        value = h5io._plain(value)
        if isinstance(value, str) and value[:1] in "[{":
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out[key] = value
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _group_attrs(item)
    return out


class NSIDReader(h5io.H5NavReader, Reader):
    """The stack of one NSID Main dataset."""

    format_name = "nsid"

    def _setup(self, source, where, signal_ndim) -> None:
        f = self._file
        if where is None:
            mains = find_mains(f)
            if not mains:
                raise FormatError(
                    "no NSID Main dataset (N-D with quantity, units, data_type and a "
                    "dimension scale on every dimension)",
                    source,
                    "/",
                )
            where = mains[0]
        dset = f.get(where)
        if not is_main(dset):
            raise FormatError(
                "not an NSID Main dataset (needs quantity, units, data_type and dimension scales)",
                source,
                where,
            )
        self._dset = dset
        self.dtype = h5io.check_numeric(dset, source)
        shape = tuple(dset.shape)
        group = dset.parent
        axes_json = None
        if "scanstack_axes" in group.attrs:
            try:
                axes_json = json.loads(ic.as_str(group.attrs["scanstack_axes"]))
            except ValueError:
                axes_json = None
        scales = []
        for i, dim in enumerate(dset.dims):
            scale = dim[0]
            if scale.ndim != 1 or scale.shape[0] != shape[i]:
                raise FormatError(
                    f"dimension scale {scale.name} has shape {scale.shape}, expected ({shape[i]},)",
                    source,
                    scale.name,
                )
            scales.append(scale)
        types = [ic.as_str(s.attrs.get("dimension_type", "")).upper() for s in scales]
        dtype_name = ic.as_str(dset.attrs["data_type"]).upper().replace("DATATYPE.", "")
        if signal_ndim is None:
            if isinstance(axes_json, list) and len(axes_json) == len(shape):
                signal_ndim = sum(1 for a in axes_json if not a.get("navigate", True))
            elif dtype_name in DATA_TYPE_SIGNAL_NDIM:
                signal_ndim = min(DATA_TYPE_SIGNAL_NDIM[dtype_name], len(shape))
            else:
                signal_ndim = 0
                while (
                    signal_ndim < len(shape)
                    and types[len(shape) - 1 - signal_ndim] in SIGNAL_DIM_TYPES
                ):
                    signal_ndim += 1
                signal_ndim = signal_ndim or min(len(shape), 2 if len(shape) >= 3 else 1)
        if not 0 <= signal_ndim <= len(shape):
            raise FormatError(
                f"dataset of shape {shape} cannot hold {signal_ndim}-D frames", source, dset.name
            )
        nnav = len(shape) - signal_ndim
        self.nav_shape, self.signal_shape = shape[:nnav], shape[nnav:]
        axes = [
            ic.axis_from_values(
                ic.as_str(s.attrs.get("name", dset.dims[i].label or f"dim{i}")),
                s[()],
                ic.as_str(s.attrs.get("units", "")),
                i < nnav,
            )
            for i, s in enumerate(scales)
        ]
        own = ic.axes_from_json(axes_json, shape) if axes_json is not None else None
        if own is not None and sum(a.navigate for a in own) == nnav:
            axes = own
        self.axes = axes
        meta: dict[str, Any] = {}
        if "scanstack_metadata" in group.attrs:
            meta.update(ic.json_dict(group.attrs["scanstack_metadata"]) or {})
        elif isinstance(group.get("metadata"), h5py.Group):
            meta.update(_group_attrs(group["metadata"]))
        for key in ("quantity", "units"):
            meta[key] = ic.as_str(dset.attrs[key])
        if "title" not in meta and "main_data_name" in dset.attrs:
            meta["title"] = ic.as_str(dset.attrs["main_data_name"])
        nframes = int(np.prod(self.nav_shape)) if self.nav_shape else 1
        meta.update(h5io.read_h5_per_position(group, nframes))  # old files: positions/ inside
        meta.update(h5io.read_h5_positions(group.parent, nframes, positions_group_name(group.name)))
        meta["format"] = "nsid"
        meta["original_file"] = os.fspath(source)
        self.metadata = meta
        orig = group.get("original_metadata")
        self.original_metadata = _group_attrs(orig) if isinstance(orig, h5py.Group) else {}
        self.original_metadata.setdefault(
            "@main_attrs",
            {
                k: ic.as_str(v)
                for k, v in dset.attrs.items()
                if k not in ("DIMENSION_LIST", "DIMENSION_LABELS")
            },
        )


@h5_sniffer
def sniff(f: h5py.File) -> float:
    hits: list[bool] = []

    def visit(name, obj):
        if name.count("/") > 4:
            return None
        if isinstance(obj, h5py.Dataset) and "pyNSID_version" in obj.attrs and is_main(obj):
            hits.append(True)
            return True
        return None

    f.visititems(visit)
    return 0.95 if hits else 0.0


FORMAT = FormatSpec(
    name="nsid",
    description="NSID (pyNSID/sidpy): N-D Main dataset with HDF5 dimension scales; read options "
    "path=, signal_ndim=; write compression=, name=",
    extensions=(".h5", ".hdf5"),
    reader=NSIDReader,
    writer=write_nsid,
    sniff=sniff,
    capabilities=dict(ic.HDF5_CAPABILITIES),
)

__all__ = ["FORMAT", "NSIDReader", "write_nsid", "find_mains", "data_type"]

"""Where things are in NeXus and PyMca HDF5 files: the signal to read (``@default`` chain,
NXdata ``@signal``, PyMca's spectrum datasets), detector information beside it, scanstack's own
JSON block, and what silx's ``save_NXdata`` and PyMca's ``McaStackExport`` put elsewhere (axis
units in ``@long_name``, the title on the NXdata, ``dim0``/``dim1`` map scales, positioners)."""

from __future__ import annotations

import json
from typing import Any

import h5py
import numpy as np

from ..core.axes import Axis
from ..core.errors import FormatError
from . import _h5io as h5io
from . import _interchange as ic

#: datasets PyMca associates with a spectrum dataset (NexusTools.getMcaObjectPaths)
INFO_NAMES = (
    "channels",
    "calibration",
    "live_time",
    "real_time",
    "elapsed_time",
    "preset_time",
    "count_time",
)


def nx_class(obj) -> str:
    return ic.as_str(obj.attrs.get("NX_class", "")) if obj is not None else ""


def child(group: h5py.Group, name: str):
    try:
        return group.get(name)
    except (KeyError, OSError, ValueError):
        return None


def nxdata_signal(group: h5py.Group, path) -> tuple[h5py.Dataset, str] | None:
    """The signal dataset of an NXdata group and its name, or None when none is declared."""
    if "signal" in group.attrs:
        name = ic.as_str(group.attrs["signal"])
        ds = child(group, name)
        if not isinstance(ds, h5py.Dataset):
            raise FormatError(
                f"NXdata @signal names {name!r}, which is not a dataset here",
                path,
                f"{group.name}@signal",
            )
        return ds, name
    for name in group:  # legacy NeXus: @signal=1 on the dataset
        ds = child(group, name)
        if isinstance(ds, h5py.Dataset) and str(ds.attrs.get("signal", "")) in ("1", "b'1'"):
            return ds, name
    return None


def follow_default(obj, depth: int = 0) -> h5py.Group | None:
    if not isinstance(obj, h5py.Group) or depth > 8:
        return None
    if nx_class(obj) == "NXdata":
        return obj
    if "default" in obj.attrs:
        return follow_default(child(obj, ic.as_str(obj.attrs["default"])), depth + 1)
    return None


def find_spectrum_dataset(group: h5py.Group, depth: int = 4) -> h5py.Dataset | None:
    """PyMca's rule: @interpretation == 'spectrum', or (risky) a dataset in a group named mca*."""
    found: list[h5py.Dataset] = []

    def visit(g: h5py.Group, level: int) -> None:
        for name in sorted(g):
            if found:
                return
            link = g.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                continue
            item = child(g, name)
            if isinstance(item, h5py.Group) and level < depth:
                visit(item, level + 1)
            elif isinstance(item, h5py.Dataset) and item.ndim >= 1 and item.shape[-1] > 1:
                interp = ic.as_str(item.attrs.get("interpretation", ""))
                parent = g.name.rsplit("/", 1)[-1].lower()
                if interp == "spectrum" or (
                    not interp
                    and name not in INFO_NAMES
                    and (name.lower().startswith("mca") or parent.startswith("mca"))
                ):
                    found.append(item)

    visit(group, 0)
    return found[0] if found else None


def locate_signal(f: h5py.File, path=None, where: str | None = None):
    """``(dataset, nxdata_group_or_None, target_path)`` of the data to read from a NeXus file."""
    if where is not None:
        obj = child(f, where)
        if obj is None:
            raise FormatError(f"no dataset or group {where!r} in the file", path, where)
        if isinstance(obj, h5py.Group):
            nxd = follow_default(obj) or (obj if nx_class(obj) == "NXdata" else None)
            found = nxdata_signal(nxd, path) if nxd is not None else None
            if found is None:
                ds = find_spectrum_dataset(obj)
                if ds is None:
                    raise FormatError(
                        "group has no NXdata signal nor spectrum dataset", path, where
                    )
                return ds, None, ds.name
            return found[0], nxd, h5io.resolve_link(nxd, found[1])
        return (
            obj,
            None,
            h5io.resolve_link(f[where.rsplit("/", 1)[0] or "/"], where.rsplit("/", 1)[-1]),
        )
    nxd = follow_default(f)
    if nxd is None:
        entries = [
            f[k]
            for k in sorted(f)
            if isinstance(child(f, k), h5py.Group) and nx_class(f[k]) == "NXentry"
        ]
        for entry in entries:
            nxd = follow_default(entry)
            if nxd is None:
                nxd = next(
                    (
                        entry[k]
                        for k in sorted(entry)
                        if isinstance(child(entry, k), h5py.Group)
                        and nx_class(entry[k]) == "NXdata"
                    ),
                    None,
                )
            if nxd is not None:
                break
    if nxd is not None:
        found = nxdata_signal(nxd, path)
        if found is not None:
            return found[0], nxd, h5io.resolve_link(nxd, found[1])
    ds = find_spectrum_dataset(f)
    if ds is None:
        raise FormatError(
            "no NeXus default NXdata (root @default -> NXentry -> NXdata) and no "
            "PyMca spectrum dataset (@interpretation='spectrum' or a group mca*)",
            path,
            "/",
        )
    return ds, None, ds.name


def info_groups(f: h5py.File, target_path: str) -> list[h5py.Group]:
    """Where PyMca looks for channels/calibration/live_time of the dataset at ``target_path``."""
    parent_path = target_path.rsplit("/", 1)[0] or "/"
    parent = f[parent_path]
    groups = [parent]
    info = child(parent, "info")
    if isinstance(info, h5py.Group):
        groups.append(info)
    if parent_path != "/":
        grand = f[parent_path.rsplit("/", 1)[0] or "/"]
        if nx_class(grand) == "NXdetector":
            groups.append(grand)
    return groups


def scanstack_block(f: h5py.File, nxd, target_path: str) -> dict[str, Any]:
    """Our own JSON (metadata, axes, original_metadata) if the file was written by scanstack."""
    out: dict[str, Any] = {}
    holders = []
    if nxd is not None:
        entry = f[nxd.name.rsplit("/", 1)[0] or "/"]
        holders.append(child(entry, "scanstack"))
    parent = f[target_path.rsplit("/", 1)[0] or "/"]
    holders.append(child(parent, "scanstack"))  # the mca_0 layout
    for holder in holders:
        if "group" in out:
            break
        if isinstance(holder, h5py.Group):
            out["group"] = holder
            for key in ("metadata", "axes", "original_metadata"):
                ds = child(holder, key)
                if isinstance(ds, h5py.Dataset):
                    try:
                        out[key] = json.loads(ic.as_str(ds[()]))
                    except (ValueError, TypeError):
                        pass
    return out


# -- what other writers put elsewhere (silx's save_NXdata, PyMca's McaStackExport) -------------
def axis_from_dataset(name: str, ds: h5py.Dataset, navigate: bool) -> Axis:
    """An axis from a 1-D coordinate dataset; units from ``@units``, else from a ``@long_name``
    of the form ``"name (units)"`` (what silx's ``save_NXdata`` and many NeXus writers give)."""
    units = ic.as_str(ds.attrs.get("units", ""))
    if not units:
        units = units_in_label(ic.as_str(ds.attrs.get("long_name", "")))
    return ic.axis_from_values(name, ds[()], units, navigate)


def units_in_label(label: str) -> str:
    """``"keV"`` from ``"energy (keV)"`` or ``"energy [keV]"``; ``""`` when there are none."""
    label = label.strip()
    for opening, closing in ("()", "[]"):
        if label.endswith(closing) and opening in label:
            head, _, units = label[:-1].rpartition(opening)
            if head.strip() and units.strip() and opening not in units:
                return units.strip()
    return ""


def nxdata_title(nxd: h5py.Group) -> str:
    """The title of an NXdata group (``@title``, or a ``title`` dataset)."""
    if "title" in nxd.attrs:
        return ic.as_str(nxd.attrs["title"])
    ds = child(nxd, "title")
    if isinstance(ds, h5py.Dataset) and ds.shape in ((), (1,)):
        return ic.as_str(ds[()])
    return ""


def pymca_map_scales(f: h5py.File, target: str, shape: tuple[int, ...]) -> dict[int, Axis]:
    """Row and column axes of a map of spectra from ``dim0``/``dim1`` beside the data or in a
    ``map`` group beside it, where PyMca's ``McaStackExport`` writes them and ``HDF5Stack1D``
    reads its ``yScale``/``xScale``."""
    folder = target.rsplit("/", 1)[0] or "/"
    for group_path in (folder, f"{folder.rstrip('/')}/map"):
        group = child(f, group_path)
        if not isinstance(group, h5py.Group):
            continue
        found: dict[int, Axis] = {}
        for dim, default in ((0, "y"), (1, "x")):
            ds = child(group, f"dim{dim}")
            if isinstance(ds, h5py.Dataset) and ds.ndim == 1 and ds.shape[0] == shape[dim]:
                label = ic.as_str(ds.attrs.get("long_name", ""))
                units = units_in_label(label)
                name = label[: label.rfind(" (")].strip() if units and " (" in label else label
                found[dim] = axis_from_dataset(name or default, ds, True)
        if len(found) == 2:
            return found
    return {}


def positioners(entry: h5py.Group, nframes: int) -> dict[str, np.ndarray]:
    """Motor positions per spectrum from ``<entry>/<NXinstrument>/positioners`` (PyMca's place;
    its ``HDF5Stack1D`` gives them as ``info["positioners"]``): the 1-D ones with ``nframes``
    values, flat."""
    out: dict[str, np.ndarray] = {}
    for key in sorted(entry):
        inst = child(entry, key)
        if not isinstance(inst, h5py.Group) or nx_class(inst) != "NXinstrument":
            continue
        group = child(inst, "positioners")
        if not isinstance(group, h5py.Group):
            continue
        for name in group:
            ds = child(group, name)
            if isinstance(ds, h5py.Dataset) and ds.size == nframes and ds.dtype.kind in "biuf":
                out[name] = np.asarray(ds[()]).reshape(-1)
        break
    return out

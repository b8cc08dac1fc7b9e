"""Metadata of a CRONO file, native or Exported: settings, system status, ROIs, camera, times
(:func:`read_common`), the scan geometry from the settings (:func:`scan_geometry`), the energy
axis (:func:`energy_axis`) and the map axes in µm (:func:`map_axes`)."""

from __future__ import annotations

import datetime as _dt
import math
import os
import warnings
from typing import Any

import h5py
import numpy as np

from ...core.axes import Axis
from ...core.errors import FormatError
from .geometry import DEFAULT_BINNING, ScanGeometry, grid_shape, linear_energy
from .h5values import as_text, attr_value, blob
from .nrbf import NrbfError, decode

ANODES = {45: "Rh", 42: "Mo", 74: "W", 47: "Ag", 29: "Cu", 24: "Cr", 26: "Fe", 28: "Ni"}
#: per-spectrum datasets of /XRF (per-pixel ``<name> Regular Matrix`` in an Exported file) ->
#: metadata key, and the scale to physical units (the times are stored in µs)
PER_SPECTRUM = (
    ("LiveTimes", "live_time", 1e-6),
    ("RealTimes", "real_time", 1e-6),
    ("OutputCountRates", "output_count_rate", None),
    ("Detected", "detected", None),
    ("MotorsPositions", "motor_positions", None),
)


def _us_date(text: str) -> str | None:
    """CRONO's US local time ``MM/DD/YYYY HH:MM:SS`` as ISO 8601 (no zone: it is local time)."""
    try:
        return _dt.datetime.strptime(text.strip(), "%m/%d/%Y %H:%M:%S").isoformat()
    except ValueError:
        return None


class _Blobs:
    """Decodes BinaryFormatter blobs under the ``blobs=`` policy."""

    def __init__(self, policy: str, path):
        if policy not in ("warn", "strict", "skip"):
            raise ValueError(f"blobs must be 'warn', 'strict' or 'skip', not {policy!r}")
        self.policy, self.path = policy, path

    def __call__(self, data: bytes, context: str) -> Any:
        if self.policy == "skip":
            return None
        if not data:
            return None  # an empty slot: nothing saved there
        try:
            return decode(data, path=self.path, context=context)
        except NrbfError as exc:
            if self.policy == "strict":
                raise
            warnings.warn(str(exc), stacklevel=4)
            return {"__error__": str(exc)}


def read_common(f: h5py.File, path, blobs: str = "warn") -> tuple[dict, dict, dict]:
    """(metadata, original_metadata, settings attributes) of a native or Exported CRONO file."""
    dec = _Blobs(blobs, path)
    orig: dict[str, Any] = {}
    for name in ("CreatedDateTime", "CreatedWithSoftwareVersion"):
        if name in f:
            orig[name] = as_text(f[name][()])
    if "FileStructureVersion" in f:
        orig["FileStructureVersion"] = f["FileStructureVersion"][()].tolist()
    conf: dict[str, Any] = {}
    attrs: dict[str, Any] = {}
    if "Configuration/Settings" in f:
        ds = f["Configuration/Settings"]
        for key in ds.attrs:
            attrs[key] = attr_value(ds, key)
        conf["Settings"] = dec(
            blob(ds) if ds.shape and ds.shape[0] else b"", "/Configuration/Settings"
        )
        map_setup = attrs.pop("MapSetup", b"")
        conf["MapSetup"] = dec(map_setup, "/Configuration/Settings attribute MapSetup")
        conf["Settings.attrs"] = dict(attrs)
    for name in ("InitialSystemStatus", "FinalSystemStatus"):
        key = f"Configuration/{name}"
        if key in f:
            ds = f[key]
            conf[name] = dec(blob(ds) if ds.shape and ds.shape[0] else b"", f"/{key}")
            conf[f"{name}.attrs"] = {k: attr_value(ds, k) for k in ds.attrs}
    orig["Configuration"] = conf

    rois = []
    if "XRF/ROIs/ROIsEnergies" in f:
        energies = f["XRF/ROIs/ROIsEnergies"][()]
        names = f["XRF/ROIs/ROIsNames"][()] if "XRF/ROIs/ROIsNames" in f else []
        for i, (lo, hi) in enumerate(np.asarray(energies, float).reshape(-1, 2)):
            name = as_text(np.asarray(names[i])) if i < len(names) else f"ROI {i}"
            rois.append({"name": name, "start": float(lo), "end": float(hi), "units": "keV"})
        if "XRF/ROIs/ROIsObjects" in f:
            ds = f["XRF/ROIs/ROIsObjects"]
            orig["ROIsObjects"] = [
                dec(blob(ds, i), f"/XRF/ROIs/ROIsObjects[{i}]") for i in range(ds.shape[0])
            ]

    orig["Images"] = _images_info(f)

    settings_tree = conf.get("Settings") if isinstance(conf.get("Settings"), dict) else {}
    map_setup_tree = conf.get("MapSetup") if isinstance(conf.get("MapSetup"), dict) else {}
    anode_z = settings_tree.get("tube_material_atomic_number")
    units2steps = None
    try:
        units2steps = settings_tree["motors_settings"]["X_motor"]["configuration"]["units2steps"]
    except (KeyError, TypeError):
        pass
    settings = {
        "tube_voltage": attrs.get("TubekV"),
        "tube_current": attrs.get("TubemA"),
        "tube_anode": ANODES.get(anode_z, anode_z),
        "collimator": attrs.get("Collimator"),
        "filter": attrs.get("Filter"),
        "acceleration": attrs.get("Acceleration"),
        "spectra_time": attrs.get("SpectraTime"),
        "motor_units_per_step": units2steps,
        "units": {
            "tube_voltage": "kV",
            "tube_current": "µA (CRONO calls it mA)",
            "acceleration": "mm/s²",
            "spectra_time": "ms",
        },
    }
    meta: dict[str, Any] = {
        "title": _title(path),
        "original_file": os.fspath(path) if path is not None else None,
        "format": "crono",
        "signal_type": "xrf",
        "instrument": {
            "name": "CRONO MA-XRF",
            "manufacturer": "Bruker / XGLab",
            "software": orig.get("CreatedWithSoftwareVersion"),
        },
        "acquisition_time_local": _us_date(orig.get("CreatedDateTime", "")),
        "settings": settings,
        "rois": rois,
        # the same ROIs as arrays: (R, 2) keV [start, end], names in order
        "roi_energies": np.array([[r["start"], r["end"]] for r in rois], float).reshape(-1, 2),
        "roi_names": [r["name"] for r in rois],
    }
    if attrs.get("SpectraTime") is not None:
        meta["dwell_time"] = float(attrs["SpectraTime"]) / 1000.0
    start = conf.get("InitialSystemStatus.attrs", {}).get("DateTime")
    end = conf.get("FinalSystemStatus.attrs", {}).get("DateTime")
    if start or end:
        meta["scan_time_local"] = {"start": _us_date(start or ""), "end": _us_date(end or "")}
    meta["camera"] = orig["Images"]
    meta["_map_setup"] = map_setup_tree
    return meta, orig, attrs


def _images_info(f: h5py.File) -> dict[str, Any]:
    """What /Images holds: camera frame count (slot 0 is always empty), pixel size, and which
    of StitchedImage / VideoStreams / Documentation have content (empty slots are normal)."""
    info: dict[str, Any] = {"frames": 0, "pixel_size": None, "units": "µm per camera pixel"}
    if "Images/Static" in f:
        st = f["Images/Static"]
        info["frames"] = max(0, st.shape[0] - 1) if st.shape else 0
        if info["frames"] == 0 and st.shape and st.shape[0] == 1 and np.asarray(st[0]).size:
            info["frames"] = 1  # an unusual file without the empty slot 0
    if "Images/ImageAdjusting/ImagePixelSizeRatio" in f:
        info["pixel_size"] = (
            np.asarray(f["Images/ImageAdjusting/ImagePixelSizeRatio"][()], float)
            .reshape(-1)[:2]
            .tolist()
        )
    for name in ("StitchedImage", "VideoStreams", "Documentation"):
        key = f"Images/{name}"
        if key in f:
            ds = f[key]
            info[name] = any(np.asarray(ds[i]).size for i in range(min(ds.shape[0], 16)))
    return info


def _title(path) -> str:
    if path is None:
        return ""
    stem = os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return stem.split("-", 1)[1] if "-" in stem and stem.split("-", 1)[0].isdigit() else stem


#: ScanGeometry field <- its /Configuration/Settings attribute (binningFactor: of MapSetup)
GEOMETRY_FROM_SETTINGS = {
    "x_origin": "XStart",
    "y_origin": "YStart",
    "z": "ZStart",
    "y_pitch": "YStep",
    "x_size": "XSize",
    "y_size": "YSize",
    "x_speed": "XSpeed",
    "dwell_time": "SpectraTime",
    "binning": "binningFactor",
}


def scan_geometry(
    attrs: dict, map_setup: dict, rows: int, columns: int, path=None
) -> ScanGeometry | None:
    """The scan geometry from the Settings attributes (and MapSetup's binning and dead time).

    None when an attribute is missing; a :class:`FormatError` naming the attribute when one is
    not a finite number, or a size, speed, step, time or binning is not positive (a ``YStep`` of
    0 would divide by zero).
    """
    needed = [k for k in GEOMETRY_FROM_SETTINGS.values() if k not in ("ZStart", "binningFactor")]
    if any(attrs.get(k) is None for k in needed):
        return None
    binning = map_setup.get("binningFactor", DEFAULT_BINNING) or DEFAULT_BINNING
    given = {k: attrs[k] for k in needed} | {"ZStart": attrs.get("ZStart") or 0.0}
    values: dict[str, float] = {}
    for key, value in (*given.items(), ("binningFactor", binning)):
        where = (
            "/Configuration/Settings attribute MapSetup (binningFactor)"
            if key == "binningFactor"
            else f"/Configuration/Settings attribute {key}"
        )
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        positive = key not in ("XStart", "YStart", "ZStart")
        if not math.isfinite(number) or (positive and number <= 0):
            expected = "a positive number" if positive else "a finite number"
            raise FormatError(f"expected {expected}, found {value!r}", path, where)
        values[key] = number
    return ScanGeometry(
        rows=rows,
        columns=columns,
        x_pitch=values["XSpeed"] * values["SpectraTime"] * values["binningFactor"],
        line_dead_time=map_setup.get("line_dead_time"),
        **{field: values[key] for field, key in GEOMETRY_FROM_SETTINGS.items()},
    )


def energy_axis(f: h5py.File, channels: int, path) -> tuple[Axis, dict | None]:
    """Signal axis in keV from CalibrationPoints (linear), else EnergyVector, else channels."""
    if "XRF/CalibrationPoints" in f:
        ds = f["XRF/CalibrationPoints"]
        equation = attr_value(ds, "CalibrationEquation") if "CalibrationEquation" in ds.attrs else 0
        if equation == 0:
            try:
                offset, gain = linear_energy(ds[()], channels)
            except ValueError as exc:
                raise FormatError(str(exc), path, "/XRF/CalibrationPoints") from None
            return (
                Axis("energy", channels, "keV", gain, offset, navigate=False),
                {"a": offset, "b": gain, "c": 0.0},
            )
    if "XRF/EnergyVector" in f and f["XRF/EnergyVector"].shape == (channels,):
        values = f["XRF/EnergyVector"][()].astype(np.float64)
        return Axis("energy", channels, "keV", values=values, navigate=False), None
    return Axis("channel", channels, navigate=False), None


def map_axes(meta: dict[str, Any], geometry: ScanGeometry | None, rows: int, columns: int):
    """The ``[y, x]`` map axes, in µm (x at pixel centres) when the scan ``geometry`` is known,
    pixel indices otherwise; a known geometry is also recorded in ``meta['geometry']`` with the
    grid its settings imply."""
    if geometry is None:
        return [Axis("y", rows), Axis("x", columns)]
    meta["geometry"] = geometry.as_metadata()
    meta["geometry"]["grid_from_settings"] = list(
        grid_shape(
            geometry.x_size,
            geometry.y_size,
            geometry.x_speed,
            geometry.dwell_time,
            geometry.y_pitch,
            geometry.binning,
        )
    )
    return [
        Axis("y", rows, "µm", geometry.y_pitch, geometry.y_origin),
        Axis("x", columns, "µm", geometry.x_pitch, geometry.x_origin + geometry.x_pitch / 2),
    ]

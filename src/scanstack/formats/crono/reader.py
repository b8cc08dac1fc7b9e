"""Reader of CRONO MA-XRF native HDF5 files (format ``crono``).

The map is ``/XRF/Spectra[SpectraSelectedIndex[r, c, 0]]`` for every pixel: the instrument stores
every spectrum in acquisition order (serpentine rows, acceleration ramps, more spectra than map
pixels) and records which one it picked for each pixel. Blocks of map pixels are read as one slab
of the spectra they need (they are close in acquisition order), never the whole dataset.

Options of ``scanstack.open(path, 'crono', ...)``:

- ``spectra='map'`` (default): nav ``(rows, columns)``; ``'acquisition'``: every stored spectrum,
  nav ``(N,)``, in acquisition order (including ramps and unselected spectra);
- ``blobs='warn'`` (default): a malformed BinaryFormatter blob (settings, status, map setup, ROI)
  is replaced in ``original_metadata`` by ``{"__error__": message}`` with a warning, so the
  spectra stay readable; ``'strict'`` raises the :class:`NrbfError`; ``'skip'`` does not decode.

Documented behaviour: ``/XRF/Maps/ComputedMaps`` full of NaN (the instrument's default) is
reported as absent (``metadata['computed_maps'] is None``); :func:`read_computed_maps` returns it
otherwise. Empty image slots (``/Images/Static[0]``, empty StitchedImage…) are not errors.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import warnings
from typing import Any

import h5py
import numpy as np

from ...core.axes import Axis
from ...core.errors import FormatError, check_fits
from ...core.reader import Reader, Region
from ...core.values import numeric_dtype
from .. import _h5io as h5io
from .._sniff import h5_sniffer
from .geometry import DEFAULT_BINNING, ScanGeometry, grid_shape, linear_energy
from .nrbf import NrbfError, decode
from .spectra_rows import SpectraRows

SPECTRA = "XRF/Spectra"
SELECTED = "XRF/SpectraSelectedIndex"
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


# -- sniffing ------------------------------------------------------------------------------------
@h5_sniffer(errors=Exception)
def sniff(f: h5py.File) -> float:
    """0.95 for a native CRONO file (spectra + selection index), 0.6 for one missing them."""
    if SPECTRA in f and SELECTED in f:
        return 0.95 if f[SPECTRA].shape[0] > 0 else 0.0
    if "XRF" in f and "Configuration" in f and not _has_regular_matrix(f):
        return 0.6  # CRONO-shaped but incomplete: let the reader explain what is missing
    return 0.0


def _has_regular_matrix(f: h5py.File) -> bool:
    return "XRF" in f and any(k.endswith(" Regular Matrix") for k in f["XRF"].keys())


# -- value helpers -----------------------------------------------------------------------------
def as_text(value: Any) -> str:
    """A CRONO string (fixed (50,) |S1, vlen of |S1, bytes) as str (NUL padding dropped)."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "OU":  # vlen str arrive as 'U'
        value = value.reshape(-1)[0] if value.size else b""
    if isinstance(value, np.ndarray):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.split(b"\0", 1)[0].decode("latin-1")
    return str(value)


def attr_value(obj: h5py.HLObject, name: str) -> Any:
    """An attribute as a plain value: 1-element arrays unwrapped (0-d scalars accepted too),
    vlen strings as str, vlen opaque as bytes."""
    raw = obj.attrs[name]
    dt = obj.attrs.get_id(name).dtype
    base = h5py.check_vlen_dtype(dt)
    arr = np.asarray(raw)
    first = arr.reshape(-1)[0] if arr.size else None
    if base is not None:
        opaque = isinstance(base, np.dtype) and base.kind == "V"  # base is str/bytes for strings
        if first is None:
            return b"" if opaque else ""
        return np.asarray(first).tobytes() if opaque else as_text(np.asarray(first))
    if first is None:
        return None
    return first.item() if isinstance(first, np.generic) else first


def blob(ds: h5py.Dataset, index: int = 0) -> bytes:
    """Element ``index`` of a vlen-opaque dataset as bytes (b"" for an empty slot)."""
    return np.asarray(ds[index]).tobytes()


def _dataset(f: h5py.File, name: str, path, ndim: int | None = None) -> h5py.Dataset:
    if name not in f:
        raise FormatError(
            f"missing dataset /{name} (a CRONO MA-XRF file needs it)", path, f"/{name}"
        )
    ds = f[name]
    if not isinstance(ds, h5py.Dataset):
        raise FormatError(f"/{name} is a group, expected a dataset", path, f"/{name}")
    if ndim is not None and ds.ndim != ndim:
        raise FormatError(
            f"/{name} has shape {ds.shape}, expected {ndim} dimensions", path, f"/{name}"
        )
    return ds


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


# -- metadata shared with the Exported variant ------------------------------------------------------
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


def scan_geometry(
    attrs: dict, map_setup: dict, rows: int, columns: int, path=None
) -> ScanGeometry | None:
    """The scan geometry from the Settings attributes (and MapSetup's binning and dead time).

    None when an attribute is missing; a :class:`FormatError` naming the attribute when one is
    not a finite number, or a size, speed, step, time or binning is not positive (a ``YStep`` of
    0 would divide by zero).
    """
    needed = ("XStart", "YStart", "XSize", "YSize", "XSpeed", "YStep", "SpectraTime")
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
    pitch = values["XSpeed"] * values["SpectraTime"] * values["binningFactor"]
    return ScanGeometry(
        rows=rows,
        columns=columns,
        x_origin=values["XStart"],
        y_origin=values["YStart"],
        z=values["ZStart"],
        x_pitch=pitch,
        y_pitch=values["YStep"],
        x_size=values["XSize"],
        y_size=values["YSize"],
        x_speed=values["XSpeed"],
        dwell_time=values["SpectraTime"],
        binning=values["binningFactor"],
        line_dead_time=map_setup.get("line_dead_time"),
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


def _check_index(index: np.ndarray, n_spectra: int, path) -> None:
    if index.size and (index.min() < 0 or index.max() >= n_spectra):
        bad = int(index.max() if index.max() >= n_spectra else index.min())
        raise FormatError(
            f"SpectraSelectedIndex holds {bad}, outside the {n_spectra} spectra of /XRF/Spectra",
            path,
            f"/{SELECTED}",
        )


def read_computed_maps(path: str | os.PathLike, allow_outside: bool = False) -> np.ndarray | None:
    """``/XRF/Maps/ComputedMaps`` (rows, columns, ROIs) float64, or None when absent or all NaN
    (the instrument writes NaN unless the operator computed the maps)."""
    with h5io.open_h5(path, "crono", allow_outside) as f:
        if "XRF/Maps/ComputedMaps" not in f:
            return None
        maps = f["XRF/Maps/ComputedMaps"][()]
    return None if np.isnan(maps).all() else maps


class CronoReader(h5io.H5FileReader, Reader):
    """Spectra of a native CRONO file, as a map (default) or in acquisition order."""

    format_name = "crono"

    def __init__(
        self, source, *, spectra: str = "map", blobs: str = "warn", allow_outside: bool = False
    ):
        super().__init__(source, spectra=spectra, blobs=blobs, allow_outside=allow_outside)
        if spectra not in ("map", "acquisition"):
            raise ValueError(f"spectra must be 'map' or 'acquisition', not {spectra!r}")
        self._open_and_setup(source, spectra, blobs)

    def _setup(self, source, mode: str, blobs: str) -> None:
        f, path = self._file, self.path
        ds = _dataset(f, SPECTRA, path, ndim=2)
        n, channels = ds.shape
        if n == 0:
            hint = (
                " (an 'Exported' file: open it with format 'crono-exported')"
                if _has_regular_matrix(f)
                else ""
            )
            raise FormatError(f"/XRF/Spectra holds no spectra{hint}", path, f"/{SPECTRA}")
        self._spectra = ds
        self._rows = SpectraRows(ds, path, f"/{SPECTRA}")
        self.dtype = numeric_dtype(ds.dtype, path, f"/{SPECTRA}")  # an S1 dataset is not counts
        self.mode = mode
        sel = _dataset(f, SELECTED, path)
        if sel.ndim not in (2, 3) or (sel.ndim == 3 and sel.shape[2] != 1):
            raise FormatError(
                f"/{SELECTED} has shape {sel.shape}, expected (rows, columns, 1)",
                path,
                f"/{SELECTED}",
            )
        if sel.dtype.kind not in "iu":  # 2.7 must not silently select spectrum 2
            raise FormatError(
                f"expected integer spectrum numbers, found dtype {sel.dtype}", path, f"/{SELECTED}"
            )
        rows, columns = sel.shape[:2]
        index = read_table(sel, path, f"the selection index of {rows} x {columns} pixels")
        index = index.reshape(rows, columns).astype(np.int64, copy=False)
        _check_index(index, n, path)
        self.selected_index = index

        meta, orig, attrs = read_common(f, path, blobs)
        map_setup = meta.pop("_map_setup")
        energy, calibration = energy_axis(f, channels, path)
        nav = map_axes(meta, scan_geometry(attrs, map_setup, rows, columns, path), rows, columns)
        if calibration is not None:
            meta["energy_calibration"] = calibration
        maps = f["XRF/Maps/ComputedMaps"] if "XRF/Maps/ComputedMaps" in f else None
        meta["computed_maps"] = None if maps is None or _all_nan(maps) else list(maps.shape)
        meta["spectra"] = mode
        meta["n_spectra_acquired"] = int(n)

        per = self._per_spectrum(f, n, path)
        if mode == "map":
            self.nav_shape = (rows, columns)
            flat = index.reshape(-1)
            per = {k: v[flat] for k, v in per.items()}
        else:
            self.nav_shape = (n,)
            nav = [Axis("spectrum", n)]
            check_fits(16 * n, f"the map pixel of each of {n} spectra", path, f"/{SPECTRA}")
            per["selected_pixel"] = _pixel_of_spectrum(index, n)
        meta.update(per)
        self.signal_shape = (channels,)
        self.axes = nav + [energy]
        self.metadata = meta
        self.original_metadata = orig

    @staticmethod
    def _per_spectrum(f: h5py.File, n: int, path=None) -> dict[str, np.ndarray]:
        """Per-spectrum arrays in physical units (flat, acquisition order).

        An array whose length is not the number of spectra is left out with a warning (the
        spectra stay readable; pass ``live_time=`` etc. to the xrf tools).
        """
        out = {}
        table = PER_SPECTRUM + (
            ("Timestamps", "timestamp", None),
            ("SpectraIDs", "spectrum_id", None),
        )
        for name, key, scale in table:
            name = f"XRF/{name}"
            if name not in f:
                continue
            if f[name].shape[:1] != (n,):
                warnings.warn(
                    f"{path} (/{name}): shape {f[name].shape} does not match the {n} spectra "
                    f"of /XRF/Spectra; metadata['{key}'] is left out",
                    stacklevel=4,
                )
                continue
            arr = read_table(f[name], path, f"the per-spectrum table /{name}")
            out[key] = arr * scale if scale else arr
        return out

    # -- reading ---------------------------------------------------------------------------
    def _piece(self) -> int:
        """Frames read as one piece: whole map rows (a row's spectra are contiguous in
        acquisition order, so pieces walk the chunks forwards), about one chunk of spectra."""
        if self.mode == "acquisition":
            return self._rows.rows_per_chunk
        columns = max(1, self.nav_shape[1])
        return columns * max(1, self._rows.rows_per_chunk // columns)

    def _width(self, region: Region | None) -> tuple[slice, int]:
        csl = region[0] if region else slice(None)
        return csl, len(range(*csl.indices(self.signal_shape[0])))

    def read(self, start: int, stop: int, region: Region | None = None) -> np.ndarray:
        csl, width = self._width(region)
        out = np.empty((max(0, stop - start), width), self.dtype)
        if self.mode == "acquisition":
            self._rows.range_into(start, stop, csl, out)
            return out
        flat, step = self.selected_index.reshape(-1), self._piece()
        for a in range(start - start % step, stop, step):  # pieces on a grid of whole rows
            lo, hi = max(a, start), min(a + step, stop)
            self._rows.take_into(flat[lo:hi], csl, out[lo - start : hi - start])
        return out

    def read_frames(self, frames: np.ndarray, region: Region | None = None) -> np.ndarray:
        frames = np.asarray(frames, dtype=np.int64).reshape(-1)
        csl, width = self._width(region)
        out = np.empty((frames.size, width), self.dtype)
        if self.mode == "map":
            frames = self.selected_index.reshape(-1)[frames]
        step = self._piece()
        for a in range(0, frames.size, step):
            self._rows.take_into(frames[a : a + step], csl, out[a : a + step])
        return out

    def read_overhead(self) -> int:
        """A decoded chunk of /XRF/Spectra (kept in its cache), its stored bytes, a slab of one
        chunk's rows and a piece's index arrays (:meth:`SpectraRows.overhead`)."""
        return self._rows.overhead(self._piece())

    def as_array(self):
        return self._spectra if self.mode == "acquisition" else None


def read_table(ds: h5py.Dataset, path, what: str) -> np.ndarray:
    """A whole dataset read at open, refused first when it (and a 64-bit copy) would not fit in
    the memory budget: an unwritten dataset of a tiny file may claim any size."""
    check_fits(ds.size * (ds.dtype.itemsize + 8), what, path, f"/{ds.name.lstrip('/')}")
    return ds[()]


def _all_nan(ds: h5py.Dataset) -> bool:
    """True if every value is NaN, reading at most a few rows at a time."""
    if ds.id.get_storage_size() == 0:  # nothing written: every value is the fill value
        fill = ds.fillvalue
        return bool(np.all(np.isnan(fill))) if np.asarray(fill).dtype.kind == "f" else False
    step = max(1, (8 << 20) // max(1, int(np.prod(ds.shape[1:])) * 8))
    for a in range(0, ds.shape[0], step):
        if not np.isnan(ds[a : a + step]).all():
            return False
    return True


def _pixel_of_spectrum(index: np.ndarray, n: int) -> np.ndarray:
    """(N, 2) map (row, column) each acquired spectrum was selected for, −1 if none."""
    out = np.full((n, 2), -1, np.int64)
    rr, cc = np.indices(index.shape)
    out[index.reshape(-1), 0] = rr.reshape(-1)
    out[index.reshape(-1), 1] = cc.reshape(-1)
    return out

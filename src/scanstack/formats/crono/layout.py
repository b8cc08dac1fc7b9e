"""The CRONO instrument file's building blocks: vlen blobs, 1-element attributes, NRBF settings.

Everything here writes a piece of the native file exactly as the instrument does (dataset dtypes,
vlen string/opaque encodings, .NET BinaryFormatter blobs, the camera's JPEG/EXIF variant). It is
shared by the format writer (:mod:`.save`, any spectrum map as a native file) and by the
simulator :func:`scanstack.datasets.write_crono` (synthetic scans with ground truth), so the
layout is written once. Layout facts: ``shared/notes/format-crono.md``.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import h5py
import numpy as np

from .geometry import ScanGeometry
from .nrbf import NrbfClass, Typed, TypedArray, encode

VB = h5py.vlen_dtype(np.dtype("V1"))  # vlen of 1-byte opaque: every binary blob
VS = h5py.vlen_dtype(np.dtype("S1"))  # vlen of 1-byte strings: ROI names, string attributes

HW_LIB = "xglabhwlib, Version=3.2.4.18, Culture=neutral, PublicKeyToken=null"
MAP_LIB = "XGLabMappingLib, Version=1.2.4.45, Culture=neutral, PublicKeyToken=null"
UNITS2STEPS = 0.09921875  # motor units per motor step (demo instrument)
DPP_START = 125_903_380_430  # µs, /XRF/DPPStartTimestamp of the demo file


# -- small encoders --------------------------------------------------------------------------
def vlen_bytes(data: bytes) -> np.ndarray:
    return np.frombuffer(data, "V1")


def _vs(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("latin-1"), "S1")


def _one(value: Any, dtype: Any) -> np.ndarray:
    if dtype in (VB, VS):
        out = np.empty(1, object)
        out[0] = value
        return out
    return np.array([value], dtype=dtype)


def _fixed50(text: str) -> np.ndarray:
    out = np.zeros(50, "S1")
    out[: len(text)] = _vs(text)
    return out


def write_vlen(ds: h5py.Dataset, start: int, items: list[np.ndarray]) -> None:
    """Write vlen elements ``items`` (|V1 or |S1 arrays) to ``ds[start:start + len(items)]``.

    Goes through the low-level API: h5py's ``ds[a:b] = object_array`` garbles vlen-opaque
    elements (it keeps the first byte of each), and one-by-one writes are ~50× slower.
    """
    if not items:
        return
    arr = np.empty(len(items), object)
    for i, item in enumerate(items):
        arr[i] = item
    mspace = h5py.h5s.create_simple((len(items),))
    fspace = ds.id.get_space()
    fspace.select_hyperslab((start,), (len(items),))
    ds.id.write(mspace, fspace, arr, mtype=h5py.h5t.py_create(ds.dtype))


def blob_dataset(group: h5py.Group, name: str, blobs: list[bytes]) -> h5py.Dataset:
    ds = group.create_dataset(name, (len(blobs),), VB)
    write_vlen(ds, 0, [vlen_bytes(b) for b in blobs])
    return ds


def _enum(name: str, value: int, library: str) -> NrbfClass:
    return NrbfClass(name, [("value__", value)], library)


def exif_app1(stamp: str) -> bytes:
    """The instrument's EXIF segment: big-endian TIFF, IFD0 → Exif IFD → DateTimeOriginal only."""
    text = stamp.encode("ascii") + b"\0"
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += struct.pack(">HHHII", 1, 0x8769, 4, 1, 26) + struct.pack(">I", 0)
    if len(text) <= 4:
        entry = struct.pack(">HHI", 0x9003, 2, len(text)) + text.ljust(4, b"\0")
    else:
        entry = struct.pack(">HHII", 0x9003, 2, len(text), 44)
    tiff += struct.pack(">H", 1) + entry + struct.pack(">I", 0)
    if len(text) > 4:
        tiff += text
    if len(tiff) % 2:
        tiff += b"\0"
    payload = b"Exif\0\0" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


_APP0_96DPI = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x01\x00\x60\x00\x60\x00\x00"


def encode_frame(rgb: np.ndarray, stamp_us: int, quality: int = 75) -> bytes:
    """JPEG like the CRONO camera's: JFIF 96 dpi, EXIF DateTimeOriginal = µs counter, 4:2:0."""
    rgb = np.ascontiguousarray(rgb)
    try:
        import simplejpeg

        jpeg = simplejpeg.encode_jpeg(
            rgb, quality=quality, colorspace="RGB", colorsubsampling="420"
        )
    except ImportError:  # Pillow is a core dependency; simplejpeg is faster
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
        jpeg = buf.getvalue()
    # drop the encoder's own APP0 (if any) and put the instrument's APP0 + APP1 after SOI
    rest = jpeg[2:]
    if rest[:2] == b"\xff\xe0":
        rest = rest[2 + int.from_bytes(rest[2:4], "big") :]
    return b"\xff\xd8" + _APP0_96DPI + exif_app1(str(int(stamp_us))) + rest


def _settings_blob(cal: np.ndarray, channels: int) -> bytes:
    def motor(type_name: str, address: int, axis: int, lock: bool) -> NrbfClass:
        config_ = NrbfClass(
            "XGLabHWLib.MotorsLibClasses.MotorConfiguration",
            [
                ("type_name", type_name),
                ("address", address),
                ("axis", axis),
                ("isLockStep", lock),
                ("type", _enum("XGLabHWLib.MotorsLibClasses.MotorType", 0, HW_LIB)),
                ("microsteps_resolution", 0),
                ("max_speed", 693546),
                ("acceleration", 1000),
                ("units2steps", UNITS2STEPS),
                ("offset", 0),
                ("maximum_position", 0),
            ],
            HW_LIB,
        )
        return NrbfClass(
            "XGLabHWLib.MotorsLibClasses.MotorSettings",
            [("enabled", True), ("configuration", config_)],
            HW_LIB,
        )

    def calibration(counts, energies, n):
        return NrbfClass(
            "XGLabHWLib.XGLabHWControl+CalibrationSettings",
            [
                ("calib_p1_count", 0.0),
                ("calib_p1_energy", 0.0),
                ("calib_p2_count", 0.0),
                ("calib_p2_energy", 0.0),
                ("calib_counts", TypedArray("Double", counts)),
                ("calib_energies", TypedArray("Single", energies)),
                ("calib_channels", n),
                ("calib_mode", 0),
                ("calib_equation", 0),
            ],
            HW_LIB,
        )

    root = NrbfClass(
        "XGLabHWLib.XGLabHWControl+Settings",
        [
            (
                "dpp_settings",
                NrbfClass(
                    "XGLabHWLib.DPPLib+DPP_settings",
                    [
                        ("detection_thr", 35),
                        ("pileup_thr", 200),
                        ("gain", 1.0),
                        ("peaking_time", 8),
                        ("flat_top", 7),
                        ("edge_peaking_time", 7),
                        ("edge_flat_top", 1),
                        ("reset_recovery_time", 1000),
                        ("inverted_input", False),
                        ("zero_peak_freq", 1.0),
                        ("other_param", 0),
                    ],
                    HW_LIB,
                ),
            ),
            (
                "motors_settings",
                NrbfClass(
                    "XGLabHWLib.MotorsLibClasses.MotorsSettings",
                    [
                        ("X_motor", motor("Standard Linear 600 mm", 3, 1, False)),
                        ("Y_motor", motor("Standard Linear 450 mm", 1, 1, True)),
                        ("Z_motor", motor("Standard Linear 075 mm", 3, 2, False)),
                    ],
                    HW_LIB,
                ),
            ),
            (
                "xrf_calibration",
                calibration(
                    [float(cal[0, 0]), float(cal[1, 0])],
                    [float(cal[0, 1]), float(cal[1, 1])],
                    channels,
                ),
            ),
            ("tube_material_atomic_number", 45),
        ],
        HW_LIB,
    )
    return encode(root)


def _mapsetup_blob(g: ScanGeometry) -> bytes:
    return encode(
        NrbfClass(
            "XGLabMappingLib.MapSetup",
            [
                ("ASCII_optionalFiles_enabled", False),
                ("folder_images_enabled", False),
                ("hdf5_images_enabled", True),
                ("folder", "C:\\Users\\CRONO\\Documents\\Maps\\synthetic"),
                ("speed", g.x_speed),
                ("acceleration", 100.0),
                ("x_map_size", Typed("UInt32", int(g.x_size))),
                ("y_map_size", Typed("UInt32", int(g.y_size))),
                ("spectra_time", Typed("UInt32", int(g.dwell_time))),
                ("_rowsDistance", g.y_pitch),
                ("x_map_left", int(g.x_origin)),
                ("y_map_bottom", int(g.y_origin)),
                ("origin_width_height_mode", False),
                ("required_pixel_size", Typed("UInt32", int(g.y_pitch))),
                ("required_time", Typed("TimeSpan", 600_000_000)),
                ("manual_resolution_mode", True),
                ("guided_mode", _enum("XGLabMappingLib.MapSetup+guided_modes", 2, MAP_LIB)),
                ("line_dead_time", float(g.line_dead_time or 0.0)),
                ("binningFactor", g.binning),
                ("NyquistMarginFactor", 1.0),
            ],
            MAP_LIB,
        )
    )


def _status_blob(x: float, y: float, z: float) -> bytes:
    def motor(pos: float) -> NrbfClass:
        return NrbfClass(
            "XGLabHWLib.MotorsLibClasses.MotorStatus",
            [
                ("state", _enum("XGLabHWLib.MotorsLibClasses.MotorState", 1, HW_LIB)),
                ("Position", int(round(pos / UNITS2STEPS))),
                ("Moving", _enum("XGLabHWLib.MotorsLibClasses.MotorMoving", 0, HW_LIB)),
            ],
            HW_LIB,
        )

    return encode(
        NrbfClass(
            "XGLabHWLib.XGLabHWControl+Status",
            [
                ("state", _enum("XGLabHWLib.XGLabHWControl+DeviceState", 2, HW_LIB)),
                (
                    "dpp_info",
                    NrbfClass(
                        "XGLabHWLib.DPPLib+DPP_info",
                        [
                            ("name", "SN00000"),
                            ("channels", 1),
                            ("lib_version", "2.4.3.0"),
                            ("timestamps_conv_factor_ticks_to_us", 0.54),
                        ],
                        HW_LIB,
                    ),
                ),
                (
                    "motors_status",
                    NrbfClass(
                        "XGLabHWLib.MotorsLibClasses.MotorsStatus",
                        [("X_motor", motor(x)), ("Y_motor", motor(y)), ("Z_motor", motor(z))],
                        HW_LIB,
                    ),
                ),
            ],
            HW_LIB,
        )
    )


def _roi_blob(name: str, start: float, end: float) -> bytes:
    palette = NrbfClass(
        "XGLabMappingLib.Palette",
        [
            ("_colorSteps", None),
            ("<autoMaxMin>k__BackingField", True),
            ("<smooth>k__BackingField", True),
        ],
        MAP_LIB,
    )
    roi = NrbfClass(
        "XGLabMappingLib.ROI",
        [
            ("<name>k__BackingField", name),
            ("<element>k__BackingField", ""),
            ("<definition>k__BackingField", _enum("XGLabMappingLib.ROIDefinition", 0, MAP_LIB)),
            ("<type>k__BackingField", _enum("XGLabMappingLib.ROIAnalysisType", 2, MAP_LIB)),
            ("<start>k__BackingField", Typed("Decimal", f"{start:.14g}")),
            ("<end>k__BackingField", Typed("Decimal", f"{end:.14g}")),
            ("<palette>k__BackingField", palette),
            ("<editable>k__BackingField", True),
        ],
        MAP_LIB,
    )
    return encode(NrbfClass("XGLabMappingLib.ObservableROIWrapper", [("_roi", roi)], MAP_LIB))


def write_root_and_configuration(f, g: ScanGeometry, cal, channels, rois, rng, xs, ys, z0):
    f["CreatedDateTime"] = _fixed50("10/15/2021 14:20:02")
    f["CreatedWithSoftwareVersion"] = _fixed50("CRONO 1.2.4.54")
    f["FileStructureVersion"] = np.array([1, 6], "<i4")
    c = f.create_group("Configuration")
    blob_dataset(c, "Settings", [_settings_blob(cal, channels)])
    blob_dataset(c, "InitialSystemStatus", [_status_blob(xs[0], ys[0], z0)])
    blob_dataset(c, "FinalSystemStatus", [_status_blob(xs[-1], ys[-1], z0)])
    for name, stamp in (
        ("InitialSystemStatus", "10/15/2021 14:20:06"),
        ("FinalSystemStatus", "10/15/2021 14:27:31"),
    ):
        c[name].attrs.create("DateTime", _one(_vs(stamp), VS), dtype=VS)
        c[name].attrs.create("TubeTemperature", _one(57.33, "<f4"))
    attrs = [
        ("Acceleration", 100.0, "<f8"),
        ("Collimator", _vs("0,5 mm"), VS),
        ("Filter", _vs("No filter"), VS),
        ("MapSetup", vlen_bytes(_mapsetup_blob(g)), VB),
        ("SpectraTime", int(g.dwell_time), "<u4"),
        ("TubekV", 40, "<i4"),
        ("TubemA", 250, "<i4"),
        ("XSize", int(g.x_size), "<u4"),
        ("XSpeed", g.x_speed, "<f8"),
        ("XStart", int(g.x_origin), "<u8"),
        ("YSize", int(g.y_size), "<u4"),
        ("YStart", int(g.y_origin), "<u8"),
        ("YStep", g.y_pitch, "<f8"),
        ("ZStart", int(g.z), "<u8"),
    ]
    for key, value, dt in attrs:
        c["Settings"].attrs.create(key, _one(value, dt), dtype=dt)


def write_xrf_tables(
    x: h5py.Group,
    cal: np.ndarray,
    energies: np.ndarray,
    selected: np.ndarray,
    rois: list,
    maps: np.ndarray | None = None,
    equation: int = 0,
) -> None:
    """Calibration, energy vector, selection index, computed maps (NaN unless given) and ROIs."""
    rows, cols = selected.shape[:2]
    cp = x.create_dataset("CalibrationPoints", data=np.asarray(cal, "<f4"))
    cp.attrs.create("CalibrationBins", _one(energies.size, "<u4"))
    cp.attrs.create("CalibrationEquation", _one(equation, "<u4"))
    x["EnergyVector"] = np.asarray(energies, "<f4")
    x["SpectraSelectedIndex"] = np.asarray(selected, "<u8")
    if maps is None:
        maps = np.full((rows, cols, len(rois)), np.nan)
    x.create_group("Maps")["ComputedMaps"] = maps
    x["XComputedMapsCoordinate"] = np.full((rows, cols, 1), np.nan)
    x["YComputedMapsCoordinate"] = np.full((rows, cols, 1), np.nan)
    r = x.create_group("ROIs")
    r["ROIsEnergies"] = np.array([[lo, hi] for _, lo, hi in rois], "<f8").reshape(-1, 2)
    names = r.create_dataset("ROIsNames", (len(rois),), VS)
    write_vlen(names, 0, [_vs(name) for name, _, _ in rois])
    blob_dataset(r, "ROIsObjects", [_roi_blob(*roi) for roi in rois])

"""Synthetic CRONO files that a CRONO reader cannot tell from the instrument's, with ground truth.

:func:`write_crono` simulates a whole MA-XRF scan of a procedurally drawn object ("paper with
inks"): the serpentine stage motion with acceleration ramps and row changes, one spectrum every
``SpectraTime`` with element peaks that follow the ink under the beam, the selection of the
spectrum nearest to each map pixel, and a 30 fps camera whose frames are crops of the object image
at the stage position of their time stamp (so frames really move across the object). Every dataset,
dtype, attribute (1-element arrays), vlen string/opaque encoding and BinaryFormatter blob follows
the instrument file described in ``shared/notes/format-crono.md``; ``exported=True`` writes the
instrument's "Export to HDF5" variant (regular matrices, empty per-spectrum datasets).

It returns a :class:`CronoGroundTruth`: the object image, where each camera frame was cut from it,
the frames' time stamps and stage positions, the element concentration maps and the selection
index, for tests of readers, mosaics and XRF tools. The drawn object and its spectra are
:mod:`.crono_scene`, the ground truth record :mod:`.crono_truth`; this module writes the file.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import h5py
import numpy as np

from ..core.config import config
from ..core.safety import atomic_path
from ..formats.crono.geometry import ScanGeometry, energy_vector, select_nearest
from ..formats.crono.layout import (
    DPP_START,
    VB,
    blob_dataset,
    encode_frame,
    vlen_bytes,
    write_root_and_configuration,
    write_vlen,
    write_xrf_tables,
)
from ..formats.crono.nrbf import encode_byte_array
from .crono_scene import DEFAULT_ELEMENTS, ObjectModel, simulate_spectra, spectrum_shapes
from .crono_truth import CronoGroundTruth

__all__ = ["DEFAULT_ELEMENTS", "CronoGroundTruth", "write_crono"]

CAMERA_SHAPE = (107, 143)  # rows, columns of a camera frame
CAMERA_PIXEL = 11.085714  # µm per camera pixel (/Images/ImageAdjusting/ImagePixelSizeRatio)
FIRST_FRAME = -210_012  # µs of the first camera frame relative to the DPP start (demo file)


# -- the writer ------------------------------------------------------------------------------------
def write_crono(
    path: str | os.PathLike,
    *,
    rows: int = 6,
    columns: int = 5,
    channels: int = 4096,
    ramp: int = 3,
    spectra_time_ms: int = 60,
    speed: float = 13.89,
    y_step: float = 500.0,
    binning: float = 1.2,
    line_dead_time: float = 2.0,
    origin: tuple[int, int, int] = (132252, 111817, 46018),
    calibration_points: tuple[tuple[float, float], tuple[float, float]] = (
        (771.0, 8.046),
        (1952.0, 22.163),
    ),
    counts_per_spectrum: float = 600.0,
    elements: dict[str, tuple[float, tuple[int, int, int]]] | None = None,
    images: bool = True,
    fps: float = 30.0,
    lead_time_us: int = 1_000_000,
    object_cell: int = 24,
    exported: bool = False,
    computed_maps: bool = False,
    seed: int = 0,
    threads: int | None = None,
    truth_path: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> CronoGroundTruth:
    """Write a synthetic CRONO MA-XRF HDF5 file to ``path`` (atomically) and return the truth.

    Geometry: a ``rows × columns`` map with ``y_step`` µm between rows and columns
    ``speed · spectra_time_ms · binning`` µm apart; ``ramp`` extra spectra before and after every
    row. ``lead_time_us`` is the time between the DPP start and the first spectrum (the demo
    file has 14.88 s; the camera films from 0.21 s before the DPP start, at ``fps``).
    ``elements`` maps ROI names to ``(line keV, ink RGB)``; ``images=False`` leaves
    ``/Images/Static`` with only its empty element (much faster for XRF-only tests).
    ``exported=True`` writes the "Export to HDF5" variant instead. ``computed_maps=True`` fills
    ``/XRF/Maps/ComputedMaps`` with ROI sums (the instrument leaves NaN unless asked).
    ``truth_path`` also saves the ground truth there (``.npz``). An existing ``path`` is
    replaced only with ``overwrite=True``.
    """
    if rows < 1 or columns < 1 or channels < 2 or ramp < 0:
        raise ValueError(
            f"write_crono needs rows, columns >= 1, channels >= 2 and ramp >= 0 "
            f"(got {rows}, {columns}, {channels}, {ramp})"
        )
    rng = np.random.default_rng(seed)
    elements = dict(DEFAULT_ELEMENTS if elements is None else elements)
    x0, y0, z0 = origin
    step = speed * spectra_time_ms  # µm of travel per spectrum
    pitch = step * binning
    geometry = ScanGeometry(
        rows=rows,
        columns=columns,
        x_origin=float(x0),
        y_origin=float(y0),
        z=float(z0),
        x_pitch=pitch,
        y_pitch=y_step,
        x_size=float(int((columns + 0.5) * pitch)),
        y_size=float(int(rows * y_step + 3)),
        x_speed=speed,
        dwell_time=float(spectra_time_ms),
        binning=binning,
        line_dead_time=line_dead_time,
    )

    # acquisition: every row covers [x0 - ramp·step, x0 + XSize + ramp·step] at constant speed
    per_row = int(math.ceil(geometry.x_size / step)) + 2 * ramp
    gap = int(round(line_dead_time * 1000 / spectra_time_ms))
    k = np.arange(per_row)
    x_fwd = x0 - ramp * step + (k + 0.5) * step
    xs, ys, ids, row_of = [], [], [], []
    sid = 0
    for r in range(rows):
        xs.append(x_fwd if r % 2 == 0 else x_fwd[::-1])
        ys.append(np.full(per_row, y0 + r * y_step))
        ids.append(sid + k)
        row_of.append(np.full(per_row, r))
        sid += per_row + gap
    xs, ys = np.concatenate(xs), np.concatenate(ys)
    ids, row_of = np.concatenate(ids), np.concatenate(row_of)
    n_spectra = xs.size
    times = (ids * spectra_time_ms * 1000 + lead_time_us).astype(np.int64)  # µs since DPP start
    selected = select_nearest(xs, row_of, geometry)

    # the object, in camera pixels, large enough for every frame
    fh, fw = CAMERA_SHAPE
    ps = CAMERA_PIXEL
    margin = max(fh, fw) // 2 + 4
    ox = xs.min() - margin * ps
    oy = ys.min() - margin * ps
    obj_shape = (
        int(math.ceil((ys.max() - ys.min()) / ps)) + 2 * margin + 1,
        int(math.ceil((xs.max() - xs.min()) / ps)) + 2 * margin + 1,
    )
    model = ObjectModel(rng, obj_shape, elements, object_cell)
    # the full-resolution image is only needed for camera frames (it is large for big maps)
    obj = model.draw(rng) if images else np.zeros((0, 0, 3), np.uint8)
    names = list(elements)
    spectrum_conc = np.zeros((n_spectra, len(names)))
    for i, name in enumerate(names):
        spectrum_conc[:, i] = model.sample(name, (ys - oy) / ps, (xs - ox) / ps)
    cal = np.asarray(calibration_points, np.float64)
    energies = energy_vector(cal, channels)
    bg, scatter, peaks = spectrum_shapes(energies, [elements[n][0] for n in names])

    camera = _camera_track(times, xs, ys, fps, ox, oy, ps, obj_shape) if images else None
    truth = CronoGroundTruth(
        path=os.fspath(path),
        geometry=geometry,
        object_image=obj,
        object_origin=(ox, oy),
        pixel_size=ps,
        frame_shape=CAMERA_SHAPE,
        frame_origins=camera[0] if camera else np.zeros((0, 2), np.int64),
        frame_positions=camera[1] if camera else np.zeros((0, 2)),
        frame_timestamps=camera[2] if camera else np.zeros(0, np.int64),
        dpp_start=DPP_START,
        selected_index=selected[..., 0].astype(np.int64),
        spectra_positions=np.stack([xs, ys], 1),
        spectra_times=times,
        element_lines={n: elements[n][0] for n in names},
        element_maps={
            n: spectrum_conc[selected[..., 0].astype(np.int64), i] for i, n in enumerate(names)
        },
        calibration=tuple(float(v) for v in _offset_gain(cal)),
    )

    rois = [(n, elements[n][0] - 0.22, elements[n][0] + 0.22) for n in names]
    rois.append(("Compton", 18.20641518, 19.48980331))
    with atomic_path(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
        write_root_and_configuration(f, geometry, cal, channels, rois, rng, xs, ys, z0)
        _write_images(f, obj, camera, rng, threads, exported or not images)
        _write_xrf(
            f,
            rng=rng,
            geometry=geometry,
            xs=xs,
            ys=ys,
            z0=z0,
            ids=ids,
            times=times,
            selected=selected,
            cal=cal,
            energies=energies,
            bg=bg,
            scatter=scatter,
            peaks=peaks,
            conc=spectrum_conc,
            counts=counts_per_spectrum,
            ms=spectra_time_ms,
            rois=rois,
            exported=exported,
            computed_maps=computed_maps,
        )
    if truth_path is not None:
        truth.save(truth_path)
    return truth


def _offset_gain(cal: np.ndarray) -> tuple[float, float]:
    (c1, e1), (c2, e2) = cal
    gain = (e2 - e1) / (c2 - c1)
    return e1 - c1 * gain, gain


def _camera_track(times, xs, ys, fps, ox, oy, ps, obj_shape):
    """Frame origins in the object image, stage centres and EXIF stamps of every camera frame."""
    fh, fw = CAMERA_SHAPE
    period = 1e6 / fps
    t_end = times[-1] + 500_000
    n = int((t_end - FIRST_FRAME) // period) + 1
    t = FIRST_FRAME + np.round(np.arange(n) * period).astype(np.int64)
    x = np.interp(t, times, xs)  # the stage waits at the start before the first spectrum
    y = np.interp(t, times, ys)
    r0 = np.round((y - oy) / ps - (fh - 1) / 2).astype(np.int64)
    c0 = np.round((x - ox) / ps - (fw - 1) / 2).astype(np.int64)
    r0 = np.clip(r0, 0, obj_shape[0] - fh)
    c0 = np.clip(c0, 0, obj_shape[1] - fw)
    return np.stack([r0, c0], 1), np.stack([x, y], 1), DPP_START + t


def _write_images(f, obj, camera, rng, threads, empty_static):
    im = f.create_group("Images")
    for name in ("Documentation",):
        blob_dataset(im, name, [b""])
    im.create_group("ImageAdjusting")["ImagePixelSizeRatio"] = np.array(
        [[CAMERA_PIXEL, CAMERA_PIXEL]], "<f4"
    )
    if empty_static or camera is None:
        blob_dataset(im, "Static", [b""])
    else:
        origins, _, stamps = camera
        n = len(stamps)
        ds = im.create_dataset("Static", (n + 1,), VB)
        write_vlen(ds, 0, [vlen_bytes(b"")])
        fh, fw = CAMERA_SHAPE

        def encode_range(a: int, b: int) -> list[np.ndarray]:
            out = []
            for i in range(a, b):
                r, c = origins[i]
                jpeg = encode_frame(obj[r : r + fh, c : c + fw], stamps[i])
                out.append(vlen_bytes(encode_byte_array(jpeg)))
            return out

        block, task = 2048, 64  # frames per HDF5 write, frames per thread task
        nthreads = threads or config.threads()
        with ThreadPoolExecutor(nthreads) as pool:
            for a in range(0, n, block):
                b = min(n, a + block)
                starts = list(range(a, b, task))
                parts = pool.map(encode_range, starts, [min(b, s + task) for s in starts])
                write_vlen(ds, a + 1, [item for part in parts for item in part])
    for name in ("StitchedImage", "VideoStreams"):
        blob_dataset(im, name, [b""])


def _write_xrf(
    f,
    *,
    rng,
    geometry,
    xs,
    ys,
    z0,
    ids,
    times,
    selected,
    cal,
    energies,
    bg,
    scatter,
    peaks,
    conc,
    counts,
    ms,
    rois,
    exported,
    computed_maps,
):
    n, channels = xs.size, energies.size
    rows, cols = geometry.rows, geometry.columns
    x = f.create_group("XRF")
    # spectra in blocks: background + scatter + element peaks ∝ concentration under the beam
    spectra = simulate_spectra(rng, conc, bg, scatter, peaks, counts)
    det = spectra.sum(1, dtype=np.int64)
    real = np.full(n, ms * 1000, "<u8")
    live = (ms * 1000 - np.round(det * 1.05 + rng.normal(0, 5, n)).clip(0, ms * 500)).astype("<u8")
    motors = np.stack([xs + rng.normal(0, 20, n), ys + rng.normal(0, 1, n), np.full(n, z0)], 1)
    motors = motors.round().astype("<u4")
    per_spectrum = {
        "DPPStartTimestamp": np.full(n, DPP_START, "<u8"),
        "Detected": det.astype("<u4"),
        "LiveTimes": live,
        "RealTimes": real,
        "OutputCountRates": (det / ms).astype("<f8"),
        "ResetCounterValue": rng.integers(8, 12, n).astype("<u4"),
        "MotorsPositions": motors,
        "MotorsPositionsStats": np.ones(n, "u1"),
        "MotorsTimestamps": rng.integers(8000, 14000, (n, 3)).astype("<u8"),
        "SpectraIDs": ((ids + 20518) % 65536).astype("<u2"),
        "Timestamps": times.astype("<u8"),
    }
    sel = selected[..., 0].astype(np.int64)
    if exported:
        for name, arr in per_spectrum.items():
            x.create_dataset(name, shape=(0, *arr.shape[1:]), dtype=arr.dtype)
        x.create_dataset("Spectra", shape=(0, channels), dtype="<u2")
        x.create_dataset(
            "Spectra Regular Matrix",
            data=spectra[sel].astype("<u4"),
            chunks=(1, cols, channels),
            compression="gzip",
            compression_opts=4,
        )
        for name, dt in (
            ("Detected", "<u4"),
            ("LiveTimes", "<u8"),
            ("RealTimes", "<u8"),
            ("OutputCountRates", "<f8"),
            ("MotorsPositionsStats", "u1"),
        ):
            x[f"{name} Regular Matrix"] = per_spectrum[name][sel][..., None].astype(dt)
        x["MotorsPositions Regular Matrix"] = motors[sel]
        x["MotorsTimestamps Regular Matrix"] = per_spectrum["MotorsTimestamps"][sel].astype("<u4")
    else:
        for name, arr in per_spectrum.items():
            x[name] = arr
        x.create_dataset(
            "Spectra",
            data=spectra,
            chunks=(min(n, 64), channels),
            compression="gzip",
            compression_opts=4,
        )
    maps = None
    if computed_maps:
        maps = np.full((rows, cols, len(rois)), np.nan)
        for i, (_, lo, hi) in enumerate(rois):
            band = (energies >= lo) & (energies <= hi)
            maps[..., i] = spectra[sel][..., band].sum(-1)
    write_xrf_tables(x, cal, energies, selected, rois, maps)

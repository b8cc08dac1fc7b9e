"""``scanstack.save(stack, path, 'crono')``: any spectrum map as a native CRONO file.

The map becomes spectra in serpentine acquisition order (row 0 left to right, row 1 right to
left, …; no ramps, no dropped spectra) with ``/XRF/SpectraSelectedIndex`` pointing back at the
pixels, so every CRONO reader (scanstack's, cronomaxrf's) rebuilds the same cube. Written block
by block (memory bounded by the block size), to a temporary file renamed at the end.

What is carried over: the energy axis (keV or eV; linear axes as CalibrationPoints, others also
as EnergyVector with CalibrationEquation 1), the scan geometry (``metadata['geometry']`` of a
CRONO stack, else the navigation axes in µm or mm), per-frame ``live_time``/``real_time`` (s),
``motor_positions``, the ROIs (``metadata['rois']``) and the dwell time. Spectra keep their dtype
when it is an unsigned integer of at most 16 bits (the instrument's ``<u2``); wider or float data
are written with their own dtype rather than clipped.
"""

from __future__ import annotations

import os

import numpy as np

from ...core.errors import UnsupportedError, WriteError
from ...core.progress import Progress, ProgressArg
from ...core.resources import resolve_here
from ...core.stack import Stack
from ...core.writing import copy_frames_per_block, file_chunk_target
from .. import _h5io as h5io
from .._interchange import frame_chunks
from .geometry import DEFAULT_BINNING, ScanGeometry
from .layout import (
    DPP_START,
    blob_dataset,
    write_root_and_configuration,
    write_xrf_tables,
)

#: bytes of one stored chunk of /XRF/Spectra when neither file_chunk_bytes nor the budget says
DEFAULT_CHUNK = 1 << 20


def _energy(stack: Stack) -> tuple[np.ndarray, np.ndarray, int]:
    """(calibration points (2, 2), energy vector keV, CalibrationEquation)."""
    axis = stack.signal_axes[0]
    scale = {"keV": 1.0, "eV": 1e-3}.get(axis.units)
    if scale is None:
        raise UnsupportedError(
            f"CRONO files need an energy axis in keV; this stack's signal axis is "
            f"{axis.name!r} in {axis.units or 'no units'!r}"
        )
    energies = axis.coordinates.astype(np.float64) * scale
    n = energies.size
    c1, c2 = (n // 4, (3 * n) // 4) if n >= 4 else (0, max(n - 1, 1))
    c2 = min(c2, n - 1)
    if c1 == c2:
        raise UnsupportedError("CRONO files need at least 2 energy channels")
    cal = np.array([[c1, energies[c1]], [c2, energies[c2]]])
    linear = axis.is_uniform
    return cal, energies, 0 if linear else 1


def _geometry(stack: Stack, rows: int, columns: int, dwell_ms: float) -> ScanGeometry:
    meta = stack.metadata if isinstance(stack.metadata, dict) else {}
    g = meta.get("geometry")
    if isinstance(g, dict) and g.get("rows") == rows and g.get("columns") == columns:
        keys = ScanGeometry.__dataclass_fields__
        return ScanGeometry(**{k: v for k, v in g.items() if k in keys})
    pitch, origin = [1000.0, 500.0], [0.0, 0.0]  # x, y in µm
    nav = stack.nav_axes
    for i, axis in enumerate(nav[-2:][::-1]):  # x first
        factor = {"µm": 1.0, "um": 1.0, "mm": 1000.0, "nm": 1e-3}.get(axis.units)
        if factor and axis.is_uniform and axis.size > 0:
            pitch[i] = abs(axis.scale) * factor or pitch[i]
            origin[i] = axis.offset * factor - (pitch[i] / 2 if i == 0 else 0.0)
    speed = pitch[0] / (dwell_ms * DEFAULT_BINNING)  # mm/s = µm/ms
    return ScanGeometry(
        rows=rows,
        columns=columns,
        x_origin=origin[0],
        y_origin=origin[1],
        z=0.0,
        x_pitch=pitch[0],
        y_pitch=pitch[1],
        x_size=(columns + 0.5) * pitch[0],
        y_size=rows * pitch[1] + 3,
        x_speed=speed,
        dwell_time=dwell_ms,
        binning=DEFAULT_BINNING,
        line_dead_time=2.0,
    )


def _per_frame(meta: dict, key: str, n: int, width: int = 1) -> np.ndarray | None:
    value = meta.get(key)
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.size != n * width:
        return None
    return arr.reshape((n, width) if width > 1 else (n,))


def write_stack(
    stack: Stack,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
    dwell_time: float | None = None,
    file_chunk_bytes: int | None = None,
) -> None:
    """Write a spectrum map (nav ``(rows, columns)`` or ``(n,)``, 1-D spectra) as a CRONO file.

    ``dwell_time`` (s) defaults to ``metadata['dwell_time']`` or 0.06 s. ``progress``,
    ``memory_budget`` (the blocks of spectra read at once; per-spectrum tables are the file's
    own): as everywhere (:mod:`scanstack.core.resources`); spectra are written in order in this
    thread (``threads`` is accepted and unused; ``client`` is refused). ``file_chunk_bytes``:
    the HDF5 chunk of ``/XRF/Spectra`` (whole spectra, gzip), default 1 MiB, less when
    ``memory_budget`` asks for it (:func:`~scanstack.core.writing.file_chunk_target`, the same
    decision as the other writers); a reader decodes one chunk at a time.
    """
    res = resolve_here(
        "crono", client=client, threads=threads, progress=progress, memory_budget=memory_budget
    )
    chunk_bytes = file_chunk_target(file_chunk_bytes, DEFAULT_CHUNK, res, where="write_crono")
    if len(stack.signal_shape) != 1:
        raise UnsupportedError(
            f"CRONO files hold 1-D spectra; frames here are {stack.signal_shape}"
        )
    if len(stack.nav_shape) == 2:
        rows, columns = stack.nav_shape
    elif len(stack.nav_shape) == 1:
        rows, columns = 1, stack.nav_shape[0]
    else:
        raise UnsupportedError(f"CRONO maps are 2-D; navigation shape {stack.nav_shape}")
    if rows * columns == 0:
        raise WriteError(
            f"{os.fspath(path)}: nothing to write (navigation shape {stack.nav_shape})"
        )
    meta = stack.metadata if isinstance(stack.metadata, dict) else {}
    dwell_s = float(dwell_time or meta.get("dwell_time") or 0.06)
    dwell_ms = dwell_s * 1000.0
    cal, energies, equation = _energy(stack)
    g = _geometry(stack, rows, columns, dwell_ms)
    if g.x_origin < 0 or g.y_origin < 0:
        raise WriteError(
            f"{os.fspath(path)}: CRONO stores the map origin as unsigned motor "
            f"units; this map starts at x={g.x_origin} µm, y={g.y_origin} µm"
        )
    n, channels = rows * columns, energies.size
    dtype = np.dtype(stack.dtype)
    out_dtype = (
        np.dtype("<u2") if dtype.kind in "ub" and dtype.itemsize <= 2 else dtype.newbyteorder("<")
    )

    # acquisition order: spectrum k of row r is pixel column k (even rows) or columns-1-k (odd)
    acq = np.arange(n).reshape(rows, columns)
    acq[1::2] = acq[1::2, ::-1]
    selected = acq[..., None].astype("<u8")  # pixel (r, c) -> spectrum acq[r, c]
    pixel_of = np.empty(n, np.int64)
    pixel_of[acq.reshape(-1)] = np.arange(n)  # spectrum -> flat pixel

    cx = g.x_origin + (np.arange(columns) + 0.5) * g.x_pitch
    ry = g.y_origin + np.arange(rows) * g.y_pitch
    motors = _per_frame(meta, "motor_positions", n, 3)
    if motors is None:
        motors = np.stack(
            [
                np.broadcast_to(cx, (rows, columns)).reshape(-1),
                np.broadcast_to(ry[:, None], (rows, columns)).reshape(-1),
                np.full(n, g.z),
            ],
            1,
        )
    motors = motors[pixel_of]
    gap = int(round((g.line_dead_time or 0.0) * 1000 / dwell_ms))
    ids = np.arange(n) + (np.arange(n) // columns) * gap
    times = (ids * dwell_ms * 1000).astype("<u8")
    real = _per_frame(meta, "real_time", n)
    real = np.full(n, dwell_s) if real is None else real[pixel_of]
    live = _per_frame(meta, "live_time", n)
    live = real.copy() if live is None else live[pixel_of]
    rois = [
        (str(r["name"]), float(r["start"]), float(r["end"]))
        for r in meta.get("rois") or []
        if isinstance(r, dict) and {"name", "start", "end"} <= set(r)
    ]

    with h5io.new_h5(stack, path, overwrite) as f:
        write_root_and_configuration(
            f, g, cal, channels, rois, None, motors[:, 0], motors[:, 1], g.z
        )
        im = f.create_group("Images")
        for name in ("Documentation", "Static", "StitchedImage", "VideoStreams"):
            blob_dataset(im, name, [b""])
        x = f.create_group("XRF")
        ds = x.create_dataset(
            "Spectra",
            (n, channels),
            out_dtype,
            chunks=frame_chunks((n,), (channels,), out_dtype.itemsize, chunk_bytes),
            compression="gzip",
            compression_opts=4,
        )
        detected = np.zeros(n, np.int64)
        # whole scan lines (reversed in place every other line), as many as fit the budget
        fpb = copy_frames_per_block(stack, res)
        per_block = max(columns, (fpb // columns) * columns)
        with Progress(n, res.progress, "crono", "spectra") as bar:
            for a, b, block in stack.iter_blocks(per_block):
                block = np.asarray(block).reshape(b - a, channels)
                for r in range(a // columns, (b - 1) // columns + 1):
                    row = block[r * columns - a : (r + 1) * columns - a]
                    if r % 2:
                        row = row[::-1]
                    ds[r * columns : (r + 1) * columns] = row.astype(out_dtype, copy=False)
                    detected[r * columns : (r + 1) * columns] = row.sum(1)
                bar.update(b - a)
        per_spectrum = {
            "DPPStartTimestamp": np.full(n, DPP_START, "<u8"),
            "Detected": np.clip(detected, 0, 2**32 - 1).astype("<u4"),
            "LiveTimes": np.round(live * 1e6).astype("<u8"),
            "RealTimes": np.round(real * 1e6).astype("<u8"),
            "OutputCountRates": (detected / dwell_ms).astype("<f8"),
            "ResetCounterValue": np.zeros(n, "<u4"),
            "MotorsPositions": np.round(motors).clip(0, 2**32 - 1).astype("<u4"),
            "MotorsPositionsStats": np.ones(n, "u1"),
            "MotorsTimestamps": np.zeros((n, 3), "<u8"),
            "SpectraIDs": (ids % 65536).astype("<u2"),
            "Timestamps": times,
        }
        for name, arr in per_spectrum.items():
            x[name] = arr
        write_xrf_tables(x, cal, energies, selected, rois, equation=equation)

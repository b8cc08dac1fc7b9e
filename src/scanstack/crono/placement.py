"""Placing camera frames in time and space, and why there are about 3x more frames than spectra.

Time: a frame's EXIF ``DateTimeOriginal`` is a µs counter on the clock of
``/XRF/DPPStartTimestamp`` (format notes §4), so ``t = stamp - DPPStart`` is its time on the
same axis as ``/XRF/Timestamps`` (µs since the detector start).

Space: ``/XRF/MotorsPositions`` (µm) is known at every spectrum time; a frame's position is the
linear interpolation of the motor track at ``t``. Rows are found from the gaps in
``/XRF/Timestamps`` (no spectra are stored while the stage changes row), so the serpentine is
handled by construction: within a row the stage runs at constant speed in one direction; between
rows (``phase == ROW_CHANGE``) the interpolation goes straight from the last spectrum of one row
to the first of the next (the true path there is unknown: decelerate, step ``YStep`` in y,
accelerate back), so those positions are approximate. Frames before the first or after the last
spectrum get the end positions (``phase == BEFORE / AFTER``).

Why more frames than spectra: the camera runs as a free video stream at ~30 frames/s for the
whole acquisition, while the detector stores one spectrum per ``SpectraTime`` (60 ms → 16.7/s)
and only while a row is being scanned. :meth:`FramePlacement.summary` computes both rates and the
time spent in row changes, which together account for the ratio (≈3.1 in the demo file:
13357 frames over ≈445 s against 4284 spectra).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass

import h5py
import numpy as np

from ..core.errors import FormatError
from ._files import open_h5

BEFORE, IN_ROW, ROW_CHANGE, AFTER, EMPTY = 0, 1, 2, 3, 4
PHASE_NAMES = ("before", "row", "row_change", "after", "empty")


@dataclass
class ScanTrack:
    """The motor track of a scan, one entry per stored spectrum (acquisition order).

    ``t_us`` (N,) µs since the detector start; ``x_um, y_um`` (N,) motor positions (µm);
    ``row`` (N,) row number of each spectrum; ``row_start, row_stop`` (R,) spectrum index
    ranges of each row; ``dpp_start_us`` the detector start on the frame-stamp clock;
    ``spectra_time_us`` the dwell per spectrum.
    """

    t_us: np.ndarray
    x_um: np.ndarray
    y_um: np.ndarray
    row: np.ndarray
    row_start: np.ndarray
    row_stop: np.ndarray
    dpp_start_us: int
    spectra_time_us: float
    y_step_um: float | None = None

    @property
    def n_rows(self) -> int:
        return int(self.row_start.size)

    @property
    def row_direction(self) -> np.ndarray:
        """+1 where a row runs towards +x, -1 towards -x (serpentine alternates), shape (R,)."""
        a, b = self.row_start, self.row_stop - 1
        return np.where(self.x_um[b] >= self.x_um[a], 1, -1)

    @classmethod
    def from_arrays(
        cls,
        t_us,
        x_um,
        y_um,
        dpp_start_us: int,
        spectra_time_us: float | None = None,
        y_step_um: float | None = None,
    ) -> ScanTrack:
        """Build a track; rows are split where the time step exceeds 1.5x the median step."""
        t = np.asarray(t_us, dtype=np.float64)
        if t.ndim != 1 or t.size < 2:
            raise ValueError(f"need at least 2 spectrum times to place frames, got {t.size}")
        dt = np.diff(t)
        if np.any(dt <= 0):
            raise ValueError("spectrum timestamps must increase strictly")
        step = float(np.median(dt)) if spectra_time_us is None else float(spectra_time_us)
        breaks = np.flatnonzero(dt > 1.5 * step) + 1
        starts = np.concatenate(([0], breaks)).astype(np.int64)
        stops = np.concatenate((breaks, [t.size])).astype(np.int64)
        row = np.repeat(np.arange(starts.size), stops - starts)
        return cls(
            t,
            np.asarray(x_um, float),
            np.asarray(y_um, float),
            row,
            starts,
            stops,
            int(dpp_start_us),
            step,
            y_step_um,
        )

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> ScanTrack:
        """Read ``/XRF/Timestamps``, ``MotorsPositions``, ``DPPStartTimestamp`` and settings."""
        path = os.fspath(path)
        with open_h5(path) as f:
            arrays = {}
            for name in ("Timestamps", "MotorsPositions", "DPPStartTimestamp"):
                ds = f.get(f"/XRF/{name}")
                if not isinstance(ds, h5py.Dataset):
                    raise FormatError(
                        "dataset not found; frames cannot be placed without the "
                        "spectra time stamps and motor positions",
                        path,
                        f"/XRF/{name}",
                    )
                arrays[name] = ds[()]
            settings = f.get("/Configuration/Settings")
            attrs = dict(settings.attrs) if settings is not None else {}
        t, pos, dpp = arrays["Timestamps"], arrays["MotorsPositions"], arrays["DPPStartTimestamp"]
        if t.ndim != 1 or pos.ndim != 2 or pos.shape[0] != t.shape[0] or pos.shape[1] < 2:
            raise FormatError(
                f"Timestamps {t.shape} and MotorsPositions {pos.shape} do not match "
                "(expected (N,) and (N, 3))",
                path,
                "/XRF/MotorsPositions",
            )
        if np.asarray(dpp).size == 0:
            raise FormatError("is empty", path, "/XRF/DPPStartTimestamp")

        def attr(key):
            v = attrs.get(key)
            return None if v is None else float(np.asarray(v).reshape(-1)[0])

        ms = attr("SpectraTime")
        try:
            return cls.from_arrays(
                t,
                pos[:, 0],
                pos[:, 1],
                int(np.asarray(dpp).reshape(-1)[0]),
                None if ms is None else ms * 1000.0,
                attr("YStep"),
            )
        except ValueError as exc:
            raise FormatError(str(exc), path, "/XRF/Timestamps") from exc


@dataclass
class FramePlacement:
    """Time and position of every frame (all arrays have shape ``(n_frames,)``).

    ``stamp_us`` raw EXIF value (-1: empty slot); ``t_us`` µs since the detector start;
    ``x_um, y_um`` interpolated motor position; ``phase`` one of BEFORE, IN_ROW, ROW_CHANGE,
    AFTER, EMPTY (an empty slot read with ``on_empty="zeros"``: no time, no position); ``row`` the row being scanned (for a row change: the row just finished; -1 before
    the scan); ``spectrum`` index of the nearest stored spectrum in time for IN_ROW frames,
    else -1.
    """

    stamp_us: np.ndarray
    t_us: np.ndarray
    x_um: np.ndarray
    y_um: np.ndarray
    phase: np.ndarray
    row: np.ndarray
    spectrum: np.ndarray
    track: ScanTrack

    def __len__(self) -> int:
        return int(self.t_us.size)

    @property
    def in_row(self) -> np.ndarray:
        """Boolean mask of frames taken while a row was being scanned (reliable positions)."""
        return self.phase == IN_ROW

    def summary(self) -> dict:
        """Counts and rates that explain why there are more frames than spectra."""
        valid = self.stamp_us >= 0
        st = np.sort(self.stamp_us[valid])
        frame_dt = float(np.median(np.diff(st))) if st.size > 1 else float("nan")
        tr = self.track
        n_frames, n_spectra = int(valid.sum()), int(tr.t_us.size)
        duration = (st[-1] - st[0]) / 1e6 if st.size > 1 else 0.0
        row_time = (
            float(np.sum(tr.t_us[tr.row_stop - 1] - tr.t_us[tr.row_start] + tr.spectra_time_us))
            / 1e6
        )
        counts = {PHASE_NAMES[k]: int(np.sum(self.phase[valid] == k)) for k in range(4)}
        fps = 1e6 / frame_dt if frame_dt > 0 else float("nan")
        sps = 1e6 / tr.spectra_time_us
        return {
            "n_frames": n_frames,
            "n_spectra": n_spectra,
            "frames_per_spectrum": n_frames / n_spectra if n_spectra else float("nan"),
            "frame_rate_hz": fps,
            "spectrum_rate_hz": sps,
            "camera_duration_s": duration,
            "row_scanning_s": row_time,
            "n_rows": tr.n_rows,
            "row_change_s": float(np.sum(tr.t_us[tr.row_start[1:]] - tr.t_us[tr.row_stop[:-1] - 1]))
            / 1e6,
            "frames_by_phase": counts,
            "explanation": (
                f"The camera is a free-running video stream at {fps:.1f} frames/s for the whole "
                f"{duration:.0f} s, while the detector stores one spectrum per "
                f"{tr.spectra_time_us / 1000:.0f} ms ({sps:.1f}/s) and only while a row is scanned "
                f"({row_time:.0f} s in {tr.n_rows} rows): {counts['row']} frames fall inside rows "
                f"({fps / sps:.2f} per spectrum), {counts['row_change']} during row changes and "
                f"{counts['before'] + counts['after']} before or after the spectra."
            ),
        }

    def write_csv(
        self, path: str | os.PathLike, first_slot: int = 1, overwrite: bool = False
    ) -> None:
        """Write ``frame, slot, stamp_us, t_s, x_um, y_um, phase, row, spectrum`` rows."""
        from ..core.safety import atomic_path

        with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(
                ["frame", "slot", "stamp_us", "t_s", "x_um", "y_um", "phase", "row", "spectrum"]
            )
            for i in range(len(self)):
                w.writerow(
                    [
                        i,
                        i + first_slot,
                        int(self.stamp_us[i]),
                        f"{self.t_us[i] / 1e6:.6f}",
                        f"{self.x_um[i]:.2f}",
                        f"{self.y_um[i]:.2f}",
                        PHASE_NAMES[self.phase[i]],
                        int(self.row[i]),
                        int(self.spectrum[i]),
                    ]
                )


def place_frames(
    stamps_us: np.ndarray, track: ScanTrack, time_offset_us: float = 0.0
) -> FramePlacement:
    """Place frames with EXIF stamps ``stamps_us`` (int µs, shape (n,)) on the scan ``track``.

    ``time_offset_us`` is added to every frame time (a camera latency, if one is calibrated).
    Vectorised: ~1 µs per frame.
    """
    stamps = np.asarray(stamps_us, dtype=np.int64)
    t = (stamps - track.dpp_start_us).astype(np.float64) + time_offset_us
    T = track.t_us
    x = np.interp(t, T, track.x_um)
    y = np.interp(t, T, track.y_um)
    # which row (or gap after which row) the frame falls in
    k = np.searchsorted(T[track.row_start], t, side="right") - 1  # last row started before t
    kk = np.clip(k, 0, track.n_rows - 1)
    end_t = T[track.row_stop[kk] - 1]
    phase = np.where(
        t < T[0], BEFORE, np.where(t > T[-1], AFTER, np.where(t <= end_t, IN_ROW, ROW_CHANGE))
    )
    row = np.where(phase == BEFORE, -1, kk)
    nearest = np.clip(np.searchsorted(T, t), 1, T.size - 1)
    nearest = np.where(np.abs(T[nearest - 1] - t) <= np.abs(T[nearest] - t), nearest - 1, nearest)
    spectrum = np.where(phase == IN_ROW, nearest, -1)
    empty = stamps < 0
    if empty.any():
        phase = np.where(empty, EMPTY, phase)
        t = np.where(empty, np.nan, t)
        x = np.where(empty, np.nan, x)
        y = np.where(empty, np.nan, y)
        row = np.where(empty, -1, row)
        spectrum = np.where(empty, -1, spectrum)
    return FramePlacement(
        stamps,
        t,
        x,
        y,
        phase.astype(np.uint8),
        row.astype(np.int64),
        spectrum.astype(np.int64),
        track,
    )


def map_positions(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Where every map pixel was measured: ``MotorsPositions[SpectraSelectedIndex]`` as two
    ``(rows, cols)`` float arrays (x, y) in µm (grid order, row 0 = first row scanned)."""
    path = os.fspath(path)
    with open_h5(path) as f:
        sel = f.get("/XRF/SpectraSelectedIndex")
        pos = f.get("/XRF/MotorsPositions")
        if not isinstance(sel, h5py.Dataset) or not isinstance(pos, h5py.Dataset):
            raise FormatError(
                "needs /XRF/SpectraSelectedIndex and /XRF/MotorsPositions",
                path,
                "/XRF/SpectraSelectedIndex",
            )
        idx = np.asarray(sel[()]).astype(np.int64)
        idx = idx[..., 0] if idx.ndim == 3 else idx
        p = pos[()]
    if idx.size and (idx.min() < 0 or idx.max() >= p.shape[0]):
        raise FormatError(
            f"indices run to {idx.max()}, beyond the {p.shape[0]} spectra",
            path,
            "/XRF/SpectraSelectedIndex",
        )
    return p[idx, 0].astype(float), p[idx, 1].astype(float)

"""CRONO scan geometry and energy calibration, shared by the reader and the writer.

Units: CRONO "motor units" are motor steps × ``units2steps`` (0.09921875 on the demo instrument);
they are micrometres as far as every cross-check goes (the 500-unit row step matches the 0.5 mm
collimator), so this module calls them µm. Times are in ms (``SpectraTime``) or µs (time stamps),
speeds in mm/s (= µm/ms), energies in keV.

Scan model: continuous motion along X at ``XSpeed``, one spectrum every ``SpectraTime``; a step of
``YStep`` in Y between rows, serpentine (row 0 left to right at the lowest Y, row 1 right to left,
…). Map columns are ``XSpeed · SpectraTime · binningFactor`` apart; the instrument picks for every
map pixel the spectrum acquired nearest to it (``/XRF/SpectraSelectedIndex``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

#: default MapSetup.binningFactor when the MapSetup blob is absent (the demo file's value)
DEFAULT_BINNING = 1.2


@dataclass
class ScanGeometry:
    """Where the map pixels are (all lengths in µm, times in ms).

    Pixel ``(r, c)`` of the map is centred at ``x = x_origin + (c + 0.5) · x_pitch``,
    ``y = y_origin + r · y_pitch`` (row 0 at the lowest Y, the first row scanned).
    """

    rows: int
    columns: int
    x_origin: float
    y_origin: float
    z: float
    x_pitch: float
    y_pitch: float
    x_size: float
    y_size: float
    x_speed: float  # mm/s
    dwell_time: float  # ms per spectrum
    binning: float
    serpentine: bool = True
    first_row_direction: str = "+x"  # row 0 runs towards increasing X
    line_dead_time: float | None = None  # s spent changing rows

    def as_metadata(self) -> dict:
        """Plain dict with explicit units, for ``stack.metadata['geometry']``."""
        d = asdict(self)
        d["units"] = {
            "x_origin": "µm",
            "y_origin": "µm",
            "z": "µm",
            "x_pitch": "µm",
            "y_pitch": "µm",
            "x_size": "µm",
            "y_size": "µm",
            "x_speed": "mm/s",
            "dwell_time": "ms",
            "line_dead_time": "s",
        }
        return d

    def column_centres(self) -> np.ndarray:
        """X of every map column, µm, shape ``(columns,)``."""
        return self.x_origin + (np.arange(self.columns) + 0.5) * self.x_pitch

    def row_positions(self) -> np.ndarray:
        """Y of every map row, µm, shape ``(rows,)``."""
        return self.y_origin + np.arange(self.rows) * self.y_pitch


def grid_shape(
    x_size: float,
    y_size: float,
    x_speed: float,
    spectra_time_ms: float,
    y_step: float,
    binning: float = DEFAULT_BINNING,
) -> tuple[int, int]:
    """(rows, columns) the instrument derives from its settings.

    ``rows = floor(YSize / YStep)``, ``columns = floor(XSize / (XSpeed · SpectraTime · binning))``
    (85 × 37 for the demo file). The file itself only records the result, as the shape of
    ``SpectraSelectedIndex``; the reader uses this as a cross-check.
    """
    pitch = x_speed * spectra_time_ms * binning
    return int(math.floor(y_size / y_step)), int(math.floor(x_size / pitch))


def linear_energy(calibration_points: np.ndarray, channels: int) -> tuple[float, float]:
    """(offset, gain) in keV and keV/channel from CalibrationPoints ``[[c1, e1], [c2, e2]]``.

    ``E(i) = e1 + (i − c1)(e2 − e1)/(c2 − c1)`` (CalibrationEquation 0). Raises ValueError when
    the two points share a channel.
    """
    pts = np.asarray(calibration_points, dtype=np.float64)
    if pts.shape != (2, 2):
        raise ValueError(f"CalibrationPoints must have shape (2, 2), found {pts.shape}")
    (c1, e1), (c2, e2) = pts
    if c1 == c2:
        raise ValueError(f"CalibrationPoints use the same channel twice ({c1})")
    gain = (e2 - e1) / (c2 - c1)
    return float(e1 - c1 * gain), float(gain)


def energy_vector(calibration_points: np.ndarray, channels: int) -> np.ndarray:
    """keV of every channel, float32, shape ``(channels,)`` (as /XRF/EnergyVector)."""
    offset, gain = linear_energy(calibration_points, channels)
    return (offset + gain * np.arange(channels)).astype("<f4")


def select_nearest(
    acquired_x: np.ndarray, row_of: np.ndarray, geometry: ScanGeometry
) -> np.ndarray:
    """SpectraSelectedIndex: for every map pixel the spectrum acquired nearest to its centre.

    ``acquired_x`` (N,) is the X of each spectrum (µm), ``row_of`` (N,) its map row (−1 for none).
    Returns uint64 ``(rows, columns, 1)``.
    """
    out = np.zeros((geometry.rows, geometry.columns, 1), "<u8")
    centres = geometry.column_centres()
    for r in range(geometry.rows):
        idx = np.flatnonzero(row_of == r)
        if idx.size == 0:
            raise ValueError(f"no spectrum was acquired on map row {r}")
        nearest = np.abs(acquired_x[idx][None, :] - centres[:, None]).argmin(axis=1)
        out[r, :, 0] = idx[nearest]
    return out

"""The common metadata tree and helpers that make any tree JSON-serialisable.

Common keys (all optional), shared by every format so writers can map them to their conventions:

``title`` (str), ``original_file`` (str), ``format`` (str), ``signal_type`` (str, e.g.
``"electron_diffraction"``, ``"xrf"``, ``"image"``), ``instrument`` (dict), ``acquisition_time``
(ISO 8601 string in UTC), ``dwell_time`` (seconds), ``energy_calibration`` (dict: ``a``, ``b``, ``c``
for E = a + b·ch + c·ch², keV), plus format-specific keys such as hexrd's ``omega`` (degrees).
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
from typing import Any

import numpy as np

COMMON_KEYS = (
    "title",
    "original_file",
    "format",
    "signal_type",
    "instrument",
    "acquisition_time",
    "dwell_time",
    "energy_calibration",
)


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, bytes, datetimes and nested containers to plain JSON types.

    NaN and infinities become ``None`` so the result passes ``json.dumps(..., allow_nan=False)``.
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        # tolist() of a 0-d array is its element (a str must not become a list of characters)
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def utc_iso(moment: _dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix (naive datetimes are taken to be UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


#: metadata arrays with one row per frame (flat, C order over nav_shape); views cut them like frames
PER_FRAME_METADATA_KEYS = (
    "omega",
    "live_time",
    "real_time",
    "output_count_rate",
    "detected",
    "motor_positions",
    "timestamp",
    "spectrum_id",
    "selected_pixel",
)
#: units of the per-frame arrays where every format that writes them agrees (xarray/HyperSpy attrs)
PER_FRAME_UNITS = {
    "omega": "deg",
    "live_time": "s",
    "real_time": "s",
    "output_count_rate": "counts/ms",
    "motor_positions": "µm",
}


def select_per_frame_metadata(metadata: dict, frames: np.ndarray, nframes: int) -> dict:
    """Copy of ``metadata`` with per-frame arrays (hexrd's ``omega``) cut to ``frames``."""
    out = copy.deepcopy(metadata)
    for key in PER_FRAME_METADATA_KEYS:
        value = out.get(key)
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == nframes:
            out[key] = value[np.asarray(frames).reshape(-1)]
    return out

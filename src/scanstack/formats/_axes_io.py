"""Axes of the interchange formats: from stored coordinate values, to and from JSON, and names
safe as HDF5/zarr members."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.axes import Axis
from ..core.metadata import to_jsonable


def axes_to_json(axes: list[Axis]) -> list[dict]:
    """Axes as plain dicts (values listed only for non-uniform axes)."""
    out = []
    for a in axes:
        d = {"name": a.name, "size": a.size, "units": a.units, "navigate": a.navigate}
        if a.values is not None:
            d["values"] = to_jsonable(np.asarray(a.values))
        else:
            d["scale"], d["offset"] = float(a.scale), float(a.offset)
        out.append(d)
    return out


def axes_from_json(items: Any, shape: tuple[int, ...]) -> list[Axis] | None:
    """Axes written by :func:`axes_to_json`, or None when they do not fit ``shape``."""
    try:
        axes = []
        for d, n in zip(items, shape, strict=True):
            if int(d["size"]) != n:
                return None
            values = d.get("values")
            axes.append(
                Axis(
                    str(d["name"]),
                    n,
                    str(d.get("units", "")),
                    float(d.get("scale", 1.0)),
                    float(d.get("offset", 0.0)),
                    None if values is None else np.asarray(values, dtype=float),
                    bool(d.get("navigate", True)),
                )
            )
        return axes
    except (TypeError, ValueError, KeyError):
        return None


def axis_from_values(name: str, values: np.ndarray, units: str, navigate: bool) -> Axis:
    """An axis from coordinate values: uniform (scale/offset) when evenly spaced, else explicit.

    Evenness is judged at the precision of the stored dtype: pyUSID keeps axis values as
    float32, so ``0.5 + 0.02·i`` is off a straight line by up to an ulp of the largest value;
    values within two ulps (float32: about 2.4e-7 relative) or a millionth of a step of the line
    through the end points are uniform. Scale and offset are then the shortest decimals that
    give back the stored values (0.02, not 0.019999999552965164 from float32 nor
    0.020000000000000018 from float64 sums), so a calibration survives a round trip.
    """
    values = np.asarray(values).reshape(-1)
    n = values.size
    if values.dtype.kind not in "iuf" or n == 0:
        return Axis(name, n, units, navigate=navigate)
    v = values.astype(float)
    if n == 1:
        return Axis(name, 1, units, 1.0, _shortest(float(v[0]), values.dtype), navigate=navigate)
    scale = (v[-1] - v[0]) / (n - 1)
    ideal = v[0] + scale * np.arange(n)
    atol = abs(scale) * 1e-6
    stored = values.dtype if values.dtype.kind == "f" else np.dtype(np.float64)
    if stored.itemsize < 8:
        atol = max(atol, 2.0 * float(np.spacing(np.abs(values).max().astype(stored))))
    if scale != 0 and np.allclose(v, ideal, rtol=0, atol=atol):
        offset, scale = _shortest_line(values.astype(stored, copy=False), float(v[0]), scale)
        return Axis(name, n, units, float(scale), offset, navigate=navigate)
    return Axis(name, n, units, values=v, navigate=navigate)


def _shortest(value: float, dtype: np.dtype) -> float:
    """The decimal with the fewest significant digits that ``dtype`` stores as ``value``."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or dtype.itemsize >= 8:
        return value
    stored = np.asarray(value, dtype=dtype)
    for digits in range(1, 18):
        candidate = float(f"{value:.{digits}g}")
        if np.asarray(candidate, dtype=dtype) == stored:
            return candidate
    return value


def _shortest_line(values: np.ndarray, offset: float, scale: float) -> tuple[float, float]:
    """``(offset, scale)`` as short decimals: the offset is the shortest decimal stored as the
    first value, the scale the shortest for which ``offset + scale·i`` stored in
    ``values.dtype`` stays within one ulp of the largest value (the axis's precision) of every
    stored value; the unrounded scale when none does."""
    offset = _shortest(offset, values.dtype)
    i = np.arange(values.size, dtype=np.float64)
    want = values.astype(np.float64)
    ulp = float(np.spacing(np.abs(values).max()))
    for digits in range(1, 18):
        b = float(f"{scale:.{digits}g}")
        line = (offset + b * i).astype(values.dtype).astype(np.float64)
        if np.all(np.abs(line - want) <= ulp):
            return offset, b
    return offset, scale


def unique_names(names: list[str]) -> list[str]:
    """Names made unique (``x``, ``x_1``…) and safe as HDF5/zarr member names."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        n = (n or "axis").replace("/", "_").replace(".", "_") or "axis"
        if n in seen:
            seen[n] += 1
            n = f"{n}_{seen[n]}"
        seen.setdefault(n, 0)
        out.append(n)
    return out

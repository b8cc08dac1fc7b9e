"""Checking the camera against the scan: the camera's axis directions and pixel size measured
from the frames themselves (:func:`estimate_camera`), and where the X-ray spot sits in a frame,
from a mosaic and an element map (:func:`locate_spot`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from .camera import CameraModel
from .frames import CronoFramesReader
from .placement import FramePlacement
from .registration import gray_frames, phase_correlate

if TYPE_CHECKING:  # only annotated: the mosaic module re-exports this one's functions
    from .mosaic import Mosaic


# -- checking the camera model against the motor track -------------------------------------------
def estimate_camera(
    reader: CronoFramesReader,
    placement: FramePlacement,
    max_pairs: int = 200,
    min_peak: float = 0.05,
) -> tuple[CameraModel, dict]:
    """Measure the camera's axis directions and pixel size from the frames themselves.

    Consecutive frames of a row (the stage moved ``dx`` ≈ 0.46 mm) and frames of neighbouring
    rows at the same X (``dy`` = YStep) are phase-correlated without any prior; the image shift
    against the motor displacement gives ``x_sign · sx`` and ``y_sign · sy`` (median over
    pairs). Returns the model and ``{"pairs_x", "pairs_y", "sx_spread_um", "sy_spread_um"}``;
    a scale is ``nan`` (and its sign kept at the default) when no pair measured it.
    """
    x, y, row = placement.x_um, placement.y_um, placement.row
    inrow = np.flatnonzero(placement.in_row)
    cand_x = [
        (i, j)
        for i, j in zip(inrow[:-1], inrow[1:], strict=True)
        if j == i + 1 and row[i] == row[j] and abs(x[j] - x[i]) > 50
    ]
    cand_y = []
    for r in np.unique(row[inrow]):
        a = inrow[row[inrow] == r]
        b = inrow[row[inrow] == r + 1]
        if a.size and b.size:
            for i in a[:: max(1, a.size // 8)]:
                j = b[np.argmin(np.abs(x[b] - x[i]))]
                if abs(x[j] - x[i]) < 300 and abs(y[j] - y[i]) > 50:
                    cand_y.append((int(i), int(j)))
    rng = np.random.default_rng(0)

    def measure(cands, axis):
        if len(cands) > max_pairs:
            cands = [cands[k] for k in sorted(rng.choice(len(cands), max_pairs, replace=False))]
        ratios = []
        for i, j in cands:
            gi, gj = gray_frames(reader.read_frames(np.array([i, j])))
            dr, dc, peak = phase_correlate(gi, gj)
            shift = dc if axis == 0 else dr
            if peak >= min_peak and abs(shift) > 1:
                delta = (x[j] - x[i]) if axis == 0 else (y[j] - y[i])
                ratios.append(delta / shift / reader.scale)
        return np.array(ratios)

    kx, ky = measure(cand_x, 0), measure(cand_y, 1)
    default = CameraModel(reader.full_shape, reader.pixel_size_um or (np.nan, np.nan))
    mx = float(np.median(kx)) if kx.size else float("nan")
    my = float(np.median(ky)) if ky.size else float("nan")
    cam = CameraModel(
        reader.full_shape,
        (
            abs(mx) if kx.size else default.pixel_size_um[0],
            abs(my) if ky.size else default.pixel_size_um[1],
        ),
        int(np.sign(mx)) if kx.size else default.x_sign,
        int(np.sign(my)) if ky.size else default.y_sign,
    )
    stats = {
        "pairs_x": int(kx.size),
        "pairs_y": int(ky.size),
        "sx_spread_um": float(np.std(np.abs(kx))) if kx.size else float("nan"),
        "sy_spread_um": float(np.std(np.abs(ky))) if ky.size else float("nan"),
        "sx_um": abs(mx),
        "sy_um": abs(my),
    }
    return cam, stats


# -- the X-ray spot -----------------------------------------------------------------------------------
@dataclass
class SpotEstimate:
    """Where the X-ray spot sits in a full-size camera frame.

    ``spot_px`` (col, row); ``offset_um`` (dx, dy) of the spot from where the mosaic assumed it;
    ``ncc`` the correlation between the shifted mosaic and the element map at the optimum
    (colour fit: 0..1; grey: negative when the element shows dark, e.g. iron-gall ink);
    ``camera`` the camera model with the spot set.
    """

    spot_px: tuple[float, float]
    offset_um: tuple[float, float]
    ncc: float
    camera: CameraModel


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    m = np.isfinite(a) & np.isfinite(b)
    if m.sum() < 4:
        return 0.0
    a, b = a[m] - a[m].mean(), b[m] - b[m].mean()
    d = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / d) if d > 0 else 0.0


def locate_spot(
    mosaic: Mosaic,
    element_map: np.ndarray,
    map_x_um: np.ndarray,
    map_y_um: np.ndarray,
    spot_sigma_um: float = 250.0,
    search_um: tuple[float, float] | None = None,
    step_um: float | None = None,
    color: bool = True,
) -> SpotEstimate:
    """Register the mosaic with an element map to find the X-ray spot in the camera frame.

    ``element_map`` (rows, cols): e.g. the Fe Kα map, in CRONO's grid order (row 0 = first
    row); ``map_x_um, map_y_um`` the motor position of every map pixel, either (rows, cols)
    arrays — best: where each selected spectrum was really taken, see
    :func:`scanstack.crono.placement.map_positions` — or the nominal column (cols,) and row
    (rows,) coordinates.

    The mosaic, blurred by ``spot_sigma_um`` (the X-ray spot), is sampled at the map positions
    shifted by ``(dx, dy)``. With ``color=True`` the map is fitted as a linear function of the
    R, G, B values there (a pigment has a colour, not just a darkness) and the score is the
    correlation of the fit (√R²); with ``color=False`` it is ``|NCC|`` with the grey level
    (its sign is reported). The best shift over ``±search_um`` (default: half a frame) is the
    spot's offset from the spot the mosaic assumed. Coarse grid, then local refinement.
    The map needs structure at its own pixel pitch (~1 mm), otherwise the estimate is weak
    (see ``SpotEstimate.ncc``).
    """
    cam = mosaic.camera
    E = np.asarray(element_map, float)
    mx, my = np.asarray(map_x_um, float), np.asarray(map_y_um, float)
    if mx.ndim == 1 and my.ndim == 1:
        mx, my = np.meshgrid(mx, my)
    if mx.shape != E.shape or my.shape != E.shape:
        raise ValueError(
            f"element map shape {E.shape} does not match its coordinates {mx.shape} / {my.shape}"
        )
    fw, fh = cam.footprint_um()
    sx_max, sy_max = search_um or (fw / 2, fh / 2)
    sig = spot_sigma_um / mosaic.resolution_um
    cov = mosaic.covered
    norm = ndimage.gaussian_filter(cov.astype(np.float32), sig)
    img = mosaic.image.astype(np.float32)
    chans = [img[..., k] for k in range(3)] if color else [img.mean(-1)]
    blurred = []
    for ch in chans:
        with np.errstate(invalid="ignore", divide="ignore"):
            b = ndimage.gaussian_filter(np.where(cov, ch, 0.0), sig) / norm
        b[norm < 0.5] = np.nan
        blurred.append(b)
    finite_e = np.isfinite(E)

    def score(dx: float, dy: float) -> float:
        c = (mx + dx - mosaic.x0_um) / mosaic.resolution_um
        r = (my + dy - mosaic.y0_um) / mosaic.resolution_um
        vals = [
            ndimage.map_coordinates(b, [r, c], order=1, mode="constant", cval=np.nan)
            for b in blurred
        ]
        if not color:
            return _ncc(vals[0], E)
        ok = finite_e & np.all([np.isfinite(v) for v in vals], axis=0)
        if ok.sum() < 8:
            return 0.0
        A = np.column_stack([np.ones(ok.sum())] + [v[ok] for v in vals])
        coef = np.linalg.lstsq(A, E[ok], rcond=None)[0]
        return max(_ncc(A @ coef, E[ok]), 0.0)

    step = step_um or max(mosaic.resolution_um, min(fw, fh) / 40)
    best = (0.0, 0.0, score(0.0, 0.0))
    for dy in np.arange(-sy_max, sy_max + step / 2, step):
        for dx in np.arange(-sx_max, sx_max + step / 2, step):
            s = score(dx, dy)
            if abs(s) > abs(best[2]):
                best = (dx, dy, s)
    fine = step
    while fine > mosaic.resolution_um / 4:
        fine /= 2
        bx, by, _ = best
        for dy in (by - fine, by, by + fine):
            for dx in (bx - fine, bx, bx + fine):
                s = score(dx, dy)
                if abs(s) > abs(best[2]):
                    best = (dx, dy, s)
    dx, dy, s = best
    sc, sr = cam.spot
    col = sc + dx / (cam.x_sign * cam.pixel_size_um[0])
    row = sr + dy / (cam.y_sign * cam.pixel_size_um[1])
    return SpotEstimate((col, row), (dx, dy), s, cam.with_spot(col, row))

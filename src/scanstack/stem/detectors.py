"""Virtual detector masks and a guess of the bright-field disk.

Coordinates are in pixels of the frame, ``(row, col)`` = ``(y, x)``; a pixel's centre is at its
integer index. Masks are float64 arrays of the frame shape (1 inside, 0 outside).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _dist2(shape: Sequence[int], center: Sequence[float]) -> np.ndarray:
    rows, cols = (int(n) for n in shape)
    if len(center) != 2:
        raise ValueError(f"center must be (y, x) in pixels, got {tuple(center)}")
    cy, cx = (float(c) for c in center)
    y = (np.arange(rows) - cy)[:, None]
    x = (np.arange(cols) - cx)[None, :]
    return y * y + x * x


def _check_radii(*radii: float) -> None:
    for r in radii:  # squared below, so -5 would silently act as 5
        if not float(r) >= 0 or not np.isfinite(float(r)):
            raise ValueError(f"radius must be a finite number of pixels >= 0, got {r}")


def disk_mask(shape: Sequence[int], center: Sequence[float], radius: float) -> np.ndarray:
    """1 where the distance to ``center`` (y, x) is at most ``radius`` pixels; ``shape`` (rows, cols)."""
    _check_radii(radius)
    return (_dist2(shape, center) <= float(radius) ** 2).astype(np.float64)


def ring_mask(
    shape: Sequence[int], center: Sequence[float], inner_radius: float, outer_radius: float
) -> np.ndarray:
    """1 where ``inner_radius < distance <= outer_radius`` (pixels).

    The inner edge is open so that a bright-field disk of radius ``r`` and a ring with
    ``inner_radius=r`` never count the same pixel.
    """
    _check_radii(inner_radius, outer_radius)
    if outer_radius < inner_radius:
        raise ValueError(f"outer radius {outer_radius} is smaller than inner radius {inner_radius}")
    d2 = _dist2(shape, center)
    return ((d2 > float(inner_radius) ** 2) & (d2 <= float(outer_radius) ** 2)).astype(np.float64)


def guess_disk(pattern: np.ndarray) -> tuple[tuple[float, float], float]:
    """Centre ``(y, x)`` and radius (pixels) of the bright-field disk in a sum pattern.

    The disk is taken as the largest connected region brighter than half the 99.9th percentile
    (robust to a few hot pixels). Falls back to the frame centre and an eighth of the smaller
    frame side when nothing stands out (a flat or empty pattern).
    """
    from scipy import ndimage

    img = np.asarray(pattern, dtype=np.float64)
    rows, cols = img.shape
    fallback = ((rows - 1) / 2, (cols - 1) / 2), max(1.0, min(rows, cols) / 8)
    finite = img[np.isfinite(img)]
    if finite.size == 0:
        return fallback
    background = float(np.median(finite))
    top = float(np.percentile(finite, 99.9))
    if not top > background:
        return fallback
    labels, n = ndimage.label(img > background + 0.5 * (top - background))
    if n == 0:
        return fallback
    areas = np.bincount(labels.ravel())[1:]
    best = int(np.argmax(areas)) + 1
    if areas[best - 1] < 3:
        return fallback
    cy, cx = ndimage.center_of_mass(np.ones_like(img), labels, best)
    return (float(cy), float(cx)), float(np.sqrt(areas[best - 1] / np.pi))

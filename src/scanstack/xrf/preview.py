"""What ``scanstack preview`` shows for a spectrum stack: spectra, ROI bands and element maps."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.progress import ProgressArg
from ..core.stack import Stack
from .lines import ELEMENT_LINES, detector_fwhm
from .spectra import Band, element_maps, resolve_bands, summarize

#: ROI names that are scattering, not elements: never chosen as "element maps"
SCATTER = ("compton", "rayleigh", "coherent", "incoherent", "scatter")


def _is_scatter(name: str) -> bool:
    return any(word in name.lower() for word in SCATTER)


def detect_lines(
    energy: np.ndarray,
    spectrum: np.ndarray,
    max_lines: int = 6,
    min_significance: float = 5.0,
    exclude: tuple[str, ...] = (),
) -> list[Band]:
    """Lines of :data:`ELEMENT_LINES` (Kα/Lα) that stand out of a sum spectrum.

    For every line inside the energy range the net counts in ± one FWHM above the mean of two
    side windows are compared with their Poisson noise; the ``max_lines`` most significant
    (above ``min_significance`` σ) are returned as ``(name, start_keV, end_keV)`` bands, each
    element at most once. ``exclude`` lists elements to skip (the tube anode: its lines are
    scattered tube radiation, not the object).
    """
    found: list[tuple[float, Band]] = []
    lo_e, hi_e = float(energy.min()), float(energy.max())
    for element, lines in ELEMENT_LINES.items():
        if element in exclude:
            continue
        best: tuple[float, Band] | None = None
        for line in ("Ka", "La"):
            if line not in lines:
                continue
            e0 = lines[line]
            w = detector_fwhm(e0)
            if e0 - 3 * w < max(lo_e, 0.8) or e0 + 3 * w > hi_e:
                continue
            peak = spectrum[(energy >= e0 - w) & (energy <= e0 + w)]
            side = np.concatenate(
                [
                    spectrum[(energy >= e0 - 3 * w) & (energy < e0 - 2 * w)],
                    spectrum[(energy > e0 + 2 * w) & (energy <= e0 + 3 * w)],
                ]
            )
            if peak.size == 0 or side.size == 0:
                continue
            background = side.mean() * peak.size
            net = peak.sum() - background
            significance = net / np.sqrt(max(background, 1.0))
            if significance >= min_significance and (best is None or significance > best[0]):
                best = (significance, (f"{element}{line}", e0 - w, e0 + w))
        if best is not None:
            found.append(best)
    found.sort(key=lambda t: -t[0])
    return [band for _, band in found[:max_lines]]


def preview_data(
    stack: Stack,
    max_maps: int = 4,
    *,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
) -> dict[str, Any]:
    """Everything a preview of a spectrum stack needs, in at most two block-wise passes.

    Returns ``{"energy": (C,) keV or None, "sum_spectrum": (C,), "max_spectrum": (C,),
    "rois": [{"name", "start", "end", "units": "keV"}], "maps": {name: nav_shape array},
    "map_source": "file ROIs" | "detected lines" | None}``. Maps come from the file's ROIs
    (the ``max_maps`` with most counts, scatter ROIs excluded) or, without ROIs, from the element
    lines most visible in the sum spectrum. Keywords as in :func:`summarize`.
    """
    kw = {
        "client": client,
        "threads": threads,
        "progress": progress,
        "memory_budget": memory_budget,
    }
    rois = stack.metadata.get("rois") if isinstance(stack.metadata, dict) else None
    if rois:
        bands = resolve_bands(stack, rois)
        summary = summarize(stack, bands, **kw)
        totals = {name: float(np.nansum(m)) for name, m in summary.maps.items()}
        chosen = [
            b[0] for b in sorted(bands, key=lambda b: -totals[b[0]]) if not _is_scatter(b[0])
        ][:max_maps]
        maps = {name: summary.maps[name] for name in chosen}
        source = "file ROIs"
    else:
        summary = summarize(stack, (), **kw)
        bands, maps, source = [], {}, None
        if summary.energy is not None and summary.sum_spectrum is not None:
            anode = (stack.metadata.get("settings") or {}).get("tube_anode")
            bands = detect_lines(
                summary.energy,
                summary.sum_spectrum,
                max_maps,
                exclude=(anode,) if isinstance(anode, str) else (),
            )
            if bands:
                maps = element_maps(stack, bands, **kw)
                source = "detected lines"
    return {
        "energy": summary.energy,
        "sum_spectrum": summary.sum_spectrum,
        "max_spectrum": summary.max_spectrum,
        "rois": [{"name": n, "start": lo, "end": hi, "units": "keV"} for n, lo, hi in bands],
        "maps": maps,
        "map_source": source,
    }

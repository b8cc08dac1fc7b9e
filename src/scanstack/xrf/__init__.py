"""XRF tools for any spectrum stack (frames = 1-D spectra with a keV axis).

- :func:`sum_spectrum`, :func:`mean_spectrum`, :func:`max_spectrum`: ``(channels,)`` spectra;
- :func:`element_maps`: counts in energy windows per pixel, from the file's ROIs, line names
  (``"FeKa"``, ``"PbLa"``) or explicit ``(name, start_keV, end_keV)`` windows;
- :func:`normalize_live_time`: a lazy stack in counts per live second; :func:`normalize_maps`;
- :func:`preview_data`: sum/max spectra, ROI bands and a few element maps for ``scanstack preview``;
- :data:`ELEMENT_LINES`, :func:`line_energy`: Kα/Kβ/Lα/Lβ energies of heritage elements.

All reductions are block-wise (:mod:`scanstack.core.blockwise`): bounded memory, threads, and
``client=`` for a dask.distributed cluster.

Example::

    s = scanstack.open("14200215102021-blindTest2AgedDetail.HDF5")
    fe = scanstack.xrf.element_maps(s, ["FeKa"])["FeKa"]          # (rows, columns)
    cps = scanstack.xrf.element_maps(scanstack.xrf.normalize_live_time(s), ["PbLa"])
"""

from .lines import ELEMENT_LINES, line_energy, line_window, parse_line
from .livetime import live_times, normalize_live_time, normalize_maps
from .preview import detect_lines, preview_data
from .spectra import (
    XRFSummary,
    element_maps,
    energy_axis,
    max_spectrum,
    mean_spectrum,
    resolve_bands,
    sum_spectrum,
    summarize,
)

normalise_live_time = normalize_live_time  # British spelling, as in the issue

__all__ = [
    "ELEMENT_LINES",
    "XRFSummary",
    "detect_lines",
    "element_maps",
    "energy_axis",
    "line_energy",
    "line_window",
    "live_times",
    "max_spectrum",
    "mean_spectrum",
    "normalise_live_time",
    "normalize_live_time",
    "normalize_maps",
    "parse_line",
    "preview_data",
    "resolve_bands",
    "sum_spectrum",
    "summarize",
]

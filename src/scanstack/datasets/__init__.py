"""Synthetic sample data with known ground truth, for the demo, tests and benchmarks.

These are instrument *simulators*, not format writers: they invent data (a scanned object, its
spectra, camera frames, detector noise) and write it in an instrument's layout through the
format packages' own layout code. Format readers and writers live in :mod:`scanstack.formats`;
the reader contract checks live in :mod:`scanstack.testing`.

- :func:`write_crono` → :class:`CronoGroundTruth`: a CRONO MA-XRF scan (serpentine stage motion,
  Poisson spectra of inks on paper, 30 fps camera frames cut from the object image).
- :class:`SyntheticFrames`: deterministic pseudo-random detector frames, sliceable like an array
  (``frames[a:b]`` is ``(b - a, rows, cols)``), e.g. for :func:`scanstack.formats.mib.write_mib`.
- :func:`write_rotation_series`, :func:`write_stem_scan`: the demo's hexrd series (with omega)
  and 4D-STEM Merlin scan.
"""

from __future__ import annotations

from .crono import CronoGroundTruth, write_crono
from .frames import SyntheticFrames
from .samples import write_rotation_series, write_stem_scan

__all__ = [
    "CronoGroundTruth",
    "SyntheticFrames",
    "write_crono",
    "write_rotation_series",
    "write_stem_scan",
]

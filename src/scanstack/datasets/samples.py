"""The demo's sample files: a rotating-crystal X-ray series and a 4D-STEM Merlin scan.

Both are small (a few MB), deterministic (fixed seeds) and written by scanstack's own writers.
"""

from __future__ import annotations

import os

import numpy as np


def write_rotation_series(path: str | os.PathLike, overwrite: bool = False) -> None:
    """hexrd ``hdf5`` (group ``imageseries``) of 48 frames of 256×256 uint16 with ``omega``.

    A dark level of 100 counts, Poisson noise (mean 3) and 60 Bragg spots (Gaussian, peak 2000
    counts) that each light up 3 consecutive frames; omega covers 0°..48° in 1° wedges.
    """
    import scanstack
    from scanstack.omega import OmegaWedges

    rng = np.random.default_rng(7)
    n, size = 48, 256
    frames = rng.poisson(3.0, (n, size, size)).astype(np.uint16) + 100
    yy, xx = np.mgrid[:size, :size]
    for _ in range(60):
        r, c = rng.uniform(20, size - 20, 2)
        f0 = rng.integers(0, n - 4)
        spot = (2000 * np.exp(-((yy - r) ** 2 + (xx - c) ** 2) / 8)).astype(np.uint16)
        frames[f0 : f0 + 3] += spot
    wedges = OmegaWedges(n)
    wedges.addwedge(0.0, 48.0, n)
    stack = scanstack.open(None, "array", data=frames, meta={"omega": wedges.omegas})
    scanstack.save(stack, path, "hdf5", path="imageseries", overwrite=overwrite)


def write_stem_scan(path: str | os.PathLike, overwrite: bool = False) -> None:
    """Merlin ``.mib`` + ``.hdr``: a 16×16 scan of 256×256 12-bit frames (1x1 layout).

    Each frame is Poisson noise (mean 2) plus a bright disk (radius 30 px, ~400 counts scaled by
    a smooth "thickness" map) whose centre moves with the scan position.
    """
    from scanstack.formats.mib.writer import write_mib

    rng = np.random.default_rng(3)
    ny = nx = 16
    yy, xx = np.mgrid[:256, :256]
    frames = np.empty((ny * nx, 256, 256), np.uint16)
    for i in range(ny * nx):
        y, x = divmod(i, nx)
        cy, cx = 128 + 6 * np.sin(y / 3), 128 + 6 * np.cos(x / 3)
        disk = ((yy - cy) ** 2 + (xx - cx) ** 2) < 30**2
        thickness = 1 + 0.5 * np.sin(x / 2.5) * np.cos(y / 4)
        frames[i] = rng.poisson(2, (256, 256)) + (disk * 400 * thickness).astype(np.uint16)
    write_mib(path, frames, depth=12, layout="1x1", nav_shape=(ny, nx), overwrite=overwrite)

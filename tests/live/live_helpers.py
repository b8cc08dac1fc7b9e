"""Small .mib files of every kind for the live tests."""

from __future__ import annotations

import numpy as np

from scanstack.formats.mib import write_mib

NAV = (3, 4)
#: (counter depth, layout, raw): 1/6/12-bit, processed and raw, single and quad
KINDS = [
    (1, "1x1", False),
    (6, "1x1", False),
    (12, "1x1", False),
    (1, "1x1", True),
    (6, "1x1", True),
    (12, "1x1", True),
    (1, "2x2", False),
    (12, "2x2", False),
    (1, "2x2", True),
    (6, "2x2", True),
    (12, "2x2", True),
]


def make_mib(path, depth: int, layout: str, raw: bool, n: int = 12, seed: int = 0):
    """A ``.mib`` (+ ``.hdr``) of ``n`` random frames; returns the path."""
    shape = (128, 128) if layout == "2x2" else (64, 64)
    top = 2 if depth == 1 else (1 << depth) - 1
    frames = np.random.default_rng(seed).integers(0, top, size=(n, *shape)).astype(np.uint16)
    write_mib(path, frames, depth=depth, layout=layout, raw=raw, nav_shape=(n,))
    return path

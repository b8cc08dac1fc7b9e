"""hexrd's abstract image series: a read-only sequence of 2-D frames."""

from __future__ import annotations

from collections.abc import Sequence

#: ``((r0, r1), (c0, c1))``: rows r0..r1-1 and columns c0..c1-1 of a frame
RegionType = tuple[tuple[int, int], tuple[int, int]]


class ImageSeriesABC(Sequence):
    """A sequence of frames: ``len``, ``ims[i]``, iteration (hexrd's base class)."""

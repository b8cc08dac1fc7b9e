"""hexrd's ``OmegaImageSeries``, ``OmegaWedges`` and ``OmegaSeriesError`` (angles in degrees)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.stack import Stack
from ..omega import OmegaSeriesError, OmegaStack, OmegaWedges, omega_index
from ._stack import to_stack
from .baseclass import ImageSeries
from .load import StackAdapter

__all__ = ["OmegaImageSeries", "OmegaSeriesError", "OmegaWedges"]


class OmegaImageSeries(ImageSeries):
    """An image series whose ``metadata['omega']`` (``(nframes, 2)``, degrees) gives each
    frame's rotation range; adds wedges and angle → frame look-ups.

    Raises :class:`OmegaSeriesError` when the omega array is missing, has not one row per frame,
    or is not increasing (every frame is checked, unlike hexrd).
    """

    def __init__(self, ims: Any):
        self._index = omega_index(ims)
        if isinstance(ims, Stack):
            ims = StackAdapter(OmegaStack(ims, index=self._index))
        super().__init__(ims)

    @property
    def stack(self) -> OmegaStack:
        if self._stack is None:
            inner = to_stack(self._adapter)
            self._stack = (
                inner if isinstance(inner, OmegaStack) else OmegaStack(inner, index=self._index)
            )
        return self._stack

    @property
    def omega(self) -> np.ndarray:
        """``(nframes, 2)`` start/end angle of each frame, degrees."""
        return self._index.omega

    @property
    def omegawedges(self) -> OmegaWedges:
        return self._index.omegawedges

    @property
    def nwedges(self) -> int:
        return self._index.nwedges

    def wedge(self, i: int) -> dict:
        """Wedge ``i``: ``{'ostart', 'ostop', 'nsteps', 'delta'}``."""
        return self._index.wedge(i)

    def omega_to_frame(self, om: float) -> tuple[int, int]:
        """``(frame, wedge)`` holding angle ``om`` (modulo 360°), or ``(-1, -1)``."""
        return self._index.omega_to_frame(om)

    def omegarange_to_frames(self, omin: float, omax: float) -> list[int] | tuple[()]:
        """Frames from ``omin`` to ``omax``; ``()`` when they are not in joined wedges."""
        return self._index.omegarange_to_frames(omin, omax)

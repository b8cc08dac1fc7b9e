"""hexrd's ``OmegaImageSeries``, ``OmegaWedges`` and ``OmegaSeriesError`` (angles in degrees)."""

from __future__ import annotations

from typing import Any

from ..core.stack import Stack
from ..omega import OmegaLookups, OmegaSeriesError, OmegaStack, OmegaWedges, omega_index
from ._stack import to_stack
from .baseclass import ImageSeries
from .load import StackAdapter

__all__ = ["OmegaImageSeries", "OmegaSeriesError", "OmegaWedges"]


class OmegaImageSeries(OmegaLookups, ImageSeries):
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

"""hexrd's ``ImageSeries``: a thin sequence-of-frames front end over a scanstack Stack."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..core.stack import Stack
from ._stack import to_stack
from .imageseriesabc import ImageSeriesABC, RegionType
from .load import StackAdapter, check_key


class ImageSeries(ImageSeriesABC):
    """A series of 2-D frames, as in hexrd: ``len``, ``ims[i]``, ``ims[i, rows, cols]``,
    ``ims[a:b]`` (3-D), iteration, ``shape`` (of one frame), ``dtype``, ``metadata`` (a mutable
    dict), ``get_region``.

    ``adapter`` is a scanstack :class:`~scanstack.Stack`, a hexrd-style adapter, another image
    series, or any object with ``len`` and ``obj[i]``. :attr:`stack` gives the scanstack Stack
    (lazy, block-wise, dask-ready) behind the series.
    """

    def __init__(self, adapter: Any):
        if isinstance(adapter, Stack):
            adapter = StackAdapter(adapter)
        self._adapter = adapter
        self._stack: Stack | None = None

    @property
    def stack(self) -> Stack:
        """The scanstack :class:`~scanstack.Stack` of this series."""
        current = getattr(self._adapter, "stack", None)
        if isinstance(current, Stack):  # the adapter's own (it changes with set_option)
            return current
        if self._stack is None:
            self._stack = to_stack(self._adapter)
        return self._stack

    def __getitem__(self, key) -> np.ndarray:
        return self._adapter[check_key(key)]

    def __len__(self) -> int:
        return len(self._adapter)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._adapter)

    @property
    def dtype(self) -> np.dtype:
        return self._adapter.dtype

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one frame, ``(rows, cols)``."""
        return self._adapter.shape

    @property
    def metadata(self) -> dict:
        """The metadata dict itself (not a copy): ``ims.metadata['omega'] = ...`` sticks."""
        return self._adapter.metadata

    def get_region(self, frame_idx: int, region: RegionType) -> np.ndarray:
        """Frame ``frame_idx`` cut to ``((r0, r1), (c0, c1))``, reading only that region."""
        getreg = getattr(self._adapter, "get_region", None)
        if getreg is None:
            (r0, r1), (c0, c1) = region
            return self[frame_idx][r0:r1, c0:c1]
        return getreg(frame_idx, region)

    def option_values(self) -> dict:
        fn = getattr(self._adapter, "option_values", None)
        return {} if fn is None else fn()

    def set_option(self, key: str, value: Any) -> None:
        self._adapter.set_option(key, value)

    def close(self) -> None:
        close = getattr(self._adapter, "close", None)
        if close is not None:
            close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {len(self)} frames of {self.shape} {self.dtype}>"

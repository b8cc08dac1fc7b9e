"""hexrd's ``array`` adapter: ``open(None, 'array', data=<array>, meta=<dict>)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import FormatAdapter, MissingOptionError


class ArrayImageSeriesAdapter(FormatAdapter):
    """Frames of an in-memory array ``(nframes, rows, cols)`` (a 2-D array is one frame).

    The data is copied at construction and every frame read is a copy, as in hexrd; ``meta`` is
    the metadata dict (kept, not copied). More than 3 dimensions raise ``RuntimeError``.
    """

    format = "array"

    def __init__(self, fname: Any = None, **kwargs: Any):
        if "data" not in kwargs:
            raise MissingOptionError("the array format needs data=<array>")
        data = np.array(kwargs.pop("data"))
        if data.ndim > 3:
            raise RuntimeError(f"array image series must be 2-D or 3-D, got shape {data.shape}")
        if data.ndim < 2:
            raise RuntimeError(f"array image series must be 2-D or 3-D, got shape {data.shape}")
        kwargs.setdefault("meta", {})
        super().__init__(fname, data=data, **kwargs)

    @property
    def _data(self) -> np.ndarray:
        """The (copied) array, ``(nframes, rows, cols)``."""
        return self.stack.reader.data

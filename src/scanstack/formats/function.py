"""hexrd's ``function`` image series: frame ``i`` is ``func(i)``.

``scanstack.open(None, 'function', func=f, num_frames=n, meta={})``; ``func(0)`` is called once at
open to learn the frame shape and dtype. ``func`` must be picklable for the stack to pickle.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.errors import FormatError
from ..core.reader import Reader, crop
from ..core.registry import FormatSpec


class FunctionReader(Reader):
    """Frames computed on demand by ``func(i) -> 2-D array`` for ``i`` in ``range(num_frames)``."""

    format_name = "function"

    def __init__(
        self,
        source=None,
        *,
        func: Callable[[int], np.ndarray] | None = None,
        num_frames: int | None = None,
        meta: dict | None = None,
    ):
        super().__init__(source, func=func, num_frames=num_frames, meta=meta)
        if func is None or num_frames is None:
            missing = "func" if func is None else "num_frames"
            raise FormatError(
                f"the function format needs func=<callable> and num_frames=<int>; "
                f"{missing} is missing",
                None,
                missing,
            )
        if not callable(func):
            raise FormatError(f"func must be callable, got {type(func).__name__}", None, "func")
        self.func = func
        n = int(num_frames)
        if n < 0:
            raise FormatError(f"num_frames must be >= 0, got {n}", None, "num_frames")
        first = np.asarray(func(0))
        if first.ndim == 0:
            raise FormatError(
                "func(0) returned a scalar; expected a frame (an array)", None, "func"
            )
        self.nav_shape = (n,)
        self.signal_shape = tuple(first.shape)
        self.dtype = first.dtype
        self.metadata = meta if meta is not None else {}

    def _frame(self, i: int) -> np.ndarray:
        frame = np.asarray(self.func(i))
        if frame.shape != self.signal_shape:
            raise FormatError(
                f"func({i}) returned shape {frame.shape}; func(0) had {self.signal_shape}",
                None,
                f"frame {i}",
            )
        return frame

    def read(self, start, stop, region=None):
        out = np.empty((stop - start, *self.signal_shape), self.dtype)
        for k, i in enumerate(range(start, stop)):
            out[k] = self._frame(i)
        return crop(out, region)


FORMAT = FormatSpec(
    name="function",
    description="frames computed by a Python function (hexrd 'function'; options func=, "
    "num_frames=, meta=)",
    reader=FunctionReader,
    capabilities={"lazy": True, "source": "none (func=...)"},
)

"""Turning whatever a hexrd user has (an image series, an adapter, an array, a duck-typed
sequence of frames) into a scanstack :class:`~scanstack.Stack`, the one thing the library
computes on."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import FormatError
from ..core.stack import ReaderStack, Stack
from ..stats import as_stack
from ..stats._common import SequenceReader


class SeriesReader(SequenceReader):
    """:func:`scanstack.stats.as_stack`'s sequence reader, plus what a hexrd-style series has:
    its ``metadata`` dict (shared, not copied) and region reads through
    ``get_region(i, ((r0, r1), (c0, c1)))``, so a rectangle reads only the region."""

    def __init__(self, source: Any = None, **options: Any):
        super().__init__(source, **options)
        meta = getattr(source, "metadata", None)
        if isinstance(meta, dict):
            self.metadata = meta

    def read(self, start, stop, region=None):
        # only a get_region the class defines (a mock's made-up attribute returns no frames)
        getreg = self.source.get_region if _defines(self.source, "get_region") else None
        if region is None or getreg is None or len(region) != 2:
            return super().read(start, stop, region)
        rr = tuple((s.start, s.stop) for s in region)
        shape = tuple(s.stop - s.start for s in region)
        out = np.empty((stop - start, *shape), self.dtype)
        for k, i in enumerate(range(start, stop)):  # all such a series offers: one frame at a time
            part = np.asarray(getreg(i, rr))
            if part.shape != shape:  # a clear error, not numpy's "could not broadcast"
                raise FormatError(
                    f"{type(self.source).__name__}.get_region returned shape {part.shape}, "
                    f"expected {shape}",
                    None,
                    f"get_region({i}, {rr})",
                )
            out[k] = part
        return out


def _defines(obj: Any, name: str) -> bool:
    return callable(getattr(type(obj), name, None))


def to_stack(obj: Any) -> Stack:
    """A scanstack Stack over ``obj``: an ImageSeries or adapter (its stack), a Stack, an array
    (frames first; a 2-D array is one frame) or any sequence of 2-D frames."""
    if isinstance(obj, Stack):
        return obj
    stack = getattr(obj, "stack", None)
    if isinstance(stack, Stack):
        return stack
    if (
        not isinstance(obj, np.ndarray)
        and (_defines(obj, "get_region") or isinstance(getattr(obj, "metadata", None), dict))
        and hasattr(obj, "__len__")
        and hasattr(obj, "__getitem__")
    ):
        return ReaderStack(SeriesReader(obj))
    return as_stack(obj)

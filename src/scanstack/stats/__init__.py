"""Statistics over the frames of a stack, out of core (hexrd's ``imageseries.stats``, faster).

>>> from scanstack import stats
>>> stats.max(stack)                   # pixel-wise, in the stack's dtype
>>> stats.average(stack, nframes=10)   # float32 mean of the first 10 frames
>>> stats.median(stack, progress=True) # float32, pixel tile by pixel tile
>>> stats.percentile(stack, [10, 90], client=client)  # (2, rows, cols) on dask.distributed

Every function takes a :class:`~scanstack.core.stack.Stack`, an array ``(nframes, rows, cols)``
or any sequence of frames (:func:`as_stack`), works over frames (the result has the frame's
shape), and keeps its memory within ``memory_budget`` (default ``scanstack.config.memory_budget``).
``nframes=0`` means all frames, otherwise the first ``min(nframes, len(stack))``.
"""

from ._common import as_stack
from .quantiles import median, percentile
from .reductions import average, max, mean, min, reduce_together, sum

__all__ = [
    "as_stack",
    "average",
    "max",
    "mean",
    "median",
    "min",
    "percentile",
    "reduce_together",
    "sum",
]

"""Lazy frame processing: dark/flat correction, flips, crops, binning, thresholds, masks, user ops.

>>> from scanstack.process import process
>>> p = process(stack, [("dark", dark), ("flip", "ccw90"), ("rectangle", ((0, 256), (0, 256)))])
>>> p[3]            # frame 3, processed; only the needed region is read from the file
>>> p.to_dask()     # lazy, block-wise; p pickles for dask.distributed

The result is a :class:`~scanstack.Stack`, so everything (stats, save, views, nesting) works on it.
"""

from .ops import FLIPS, Op, ProcessError, UnknownOpError, builtin_ops
from .stack import ProcessedStack, process

__all__ = [
    "FLIPS",
    "Op",
    "ProcessError",
    "ProcessedStack",
    "UnknownOpError",
    "builtin_ops",
    "process",
]

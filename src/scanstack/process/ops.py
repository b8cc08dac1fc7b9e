"""The built-in frame operations of :class:`~scanstack.process.ProcessedStack`.

Every op works on a *block* of frames ``(n, rows, cols)`` at once (numpy broadcasting over the
frame axis), never frame by frame, except ``gauss_laplace`` (scipy filters one frame at a time
anyway) and user ops declared per frame.

An op knows three things:

- ``infer(shape, dtype, data)``: the frame shape and dtype it produces (None when unknowable
  without running it, then frame 0 is processed, as hexrd does);
- ``input_region(data, in_shape, out_region)``: which region of its input it needs to produce
  ``out_region`` of its output (None: the whole frame). This is how a ``rectangle`` (or an
  ``isig`` crop, or ``get_region``) is pushed down to the file reader through the ops before it;
- ``apply(block, data, in_shape, in_region, out_region)``: ``block`` covers ``in_region`` of the
  op's input (what ``input_region`` asked for); the result covers ``out_region`` of its output.

Ops never modify their input block in place (it may be a view of a reader's cache).

The protocol, pixel-by-pixel ops and ``addop`` functions are in :mod:`.base`, the ops
themselves in :mod:`.pointwise` (dark, flat, add, threshold, mask) and :mod:`.geometry`
(flip, rectangle, bin, add-row/column); this module holds ``gauss_laplace`` and the table of
built-in ops, and every name stays importable from here.
"""

from __future__ import annotations

import numpy as np

from .base import Op, PointwiseOp, ProcessError, Shape, UnknownOpError, UserOp
from .geometry import FLIPS, NO_FLIP, Bin, Flip, Insert, Rectangle
from .pointwise import Add, Dark, Flat, Mask, Threshold


class GaussLaplace(Op):
    """``scipy.ndimage.gaussian_laplace(img, sigma)`` per frame, same dtype as the input."""

    name = "gauss_laplace"

    def infer(self, shape, dtype, data):
        return shape, np.dtype(dtype)

    def full(self, block, data):
        from scipy import ndimage

        out = np.empty_like(block)
        for i in range(block.shape[0]):  # the filter is the cost, not the loop
            ndimage.gaussian_laplace(block[i], data, output=out[i])
        return out


def builtin_ops() -> dict[str, Op]:
    """A fresh ``name -> op`` table (per stack, so ``addop`` never leaks between stacks)."""
    ops: list[Op] = [
        Dark(),
        Flat(),
        Add(),
        Threshold(),
        Mask(),
        Flip(),
        Rectangle(),
        Bin(),
        Insert(0),
        Insert(1),
        GaussLaplace(),
    ]
    return {op.name: op for op in ops}


__all__ = [
    "FLIPS",
    "NO_FLIP",
    "Add",
    "Bin",
    "Dark",
    "Flat",
    "Flip",
    "GaussLaplace",
    "Insert",
    "Mask",
    "Op",
    "PointwiseOp",
    "ProcessError",
    "Rectangle",
    "Shape",
    "Threshold",
    "UnknownOpError",
    "UserOp",
    "builtin_ops",
]

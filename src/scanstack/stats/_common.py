"""Shared helpers of the statistics: what to compute over, how many frames, how many threads."""

from __future__ import annotations

import mmap
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.errors import FormatError
from ..core.progress import ProgressArg
from ..core.reader import Reader, Region, crop, region_shape
from ..core.resources import reader_scratch, resolve  # noqa: F401 (reader_scratch re-exported)
from ..core.stack import ReaderStack, Stack


class SequenceReader(Reader):
    """Frames ``obj[i]`` of any sequence (``__len__`` + integer ``__getitem__``).

    Used for duck-typed image series (hexrd's ``ImageSeries``, test doubles). The frame shape
    and dtype come from frame 0; each frame read is checked against them.
    """

    format_name = "sequence"

    def __init__(self, source: Any = None, **options: Any):
        super().__init__(source, **options)
        n = len(source)
        if n:
            first = np.asarray(source[0])
            self.signal_shape = tuple(first.shape)
            self.dtype = first.dtype
        else:
            self.signal_shape = tuple(getattr(source, "shape", ()) or ())
            try:
                self.dtype = np.dtype(getattr(source, "dtype", np.float64))
            except TypeError:
                self.dtype = np.dtype(np.float64)
        self.nav_shape = (n,)
        self.metadata = {}

    def read(self, start: int, stop: int, region: Region | None = None) -> np.ndarray:
        out = np.empty((stop - start, *region_shape(region, self.signal_shape)), self.dtype)
        for i in range(start, stop):
            frame = np.asarray(self.source[i])
            if frame.shape != self.signal_shape:
                raise FormatError(
                    f"frame {i} has shape {frame.shape}, expected {self.signal_shape} like frame 0",
                    None,
                    f"frame {i}",
                )
            out[i - start] = crop(frame[None], region)[0]
        return out


def as_stack(obj: Any) -> Stack:
    """A :class:`~scanstack.core.stack.Stack` over ``obj``.

    - a Stack is returned as is;
    - a numpy (or dask) array of 2 or more dimensions becomes ``Stack.from_array(obj)``: the
      last two axes are the frame ``(rows, cols)``, a 2-D array is one frame;
    - any other object with ``__len__`` and integer ``__getitem__`` returning frames (hexrd's
      ``ImageSeries``, mocks) is read frame by frame through a small reader over ``obj[i]``.
    """
    if isinstance(obj, Stack):
        return obj
    if isinstance(obj, np.ndarray) or type(obj).__module__.split(".")[0] == "dask":
        if obj.ndim < 2:
            raise ValueError(
                f"need frames: an array of 2 or more dimensions, got shape {obj.shape}"
            )
        return Stack.from_array(obj, signal_ndim=2)
    if hasattr(obj, "__len__") and hasattr(obj, "__getitem__"):
        return ReaderStack(SequenceReader(obj))
    raise TypeError(
        f"cannot compute statistics over {type(obj).__name__}: need a Stack, an "
        "array or a sequence of frames"
    )


def frame_count(stack: Stack, nframes: int) -> int:
    """hexrd's ``nframes``: 0 means all frames, otherwise the first ``min(nframes, len)``."""
    nframes = operator.index(nframes)
    if nframes < 0:
        raise ValueError(f"nframes must be >= 0 (0 means all frames), got {nframes}")
    return stack.nframes if nframes == 0 else min(nframes, stack.nframes)


def budget_and_threads(memory_budget: int | None, threads: int | None) -> tuple[int, int]:
    """The budget and thread count of a statistic, resolved as everywhere
    (:func:`scanstack.core.resources.resolve`)."""
    res = resolve(threads=threads, memory_budget=memory_budget)
    return res.memory_budget, res.threads


def in_memory_array(stack: Stack) -> np.ndarray | None:
    """The stack's data as an in-RAM ndarray ``(nframes, *signal_shape)``, else None.

    Only arrays already held in memory qualify: reading a memory map through a view would pull
    the whole file into the process's resident memory, so memory maps go through ``read``.
    """
    get = getattr(stack, "as_array", None)
    arr = get() if callable(get) else None
    if not isinstance(arr, np.ndarray) or isinstance(arr, np.memmap):
        return None
    base = arr
    while base is not None:
        if isinstance(base, (np.memmap, mmap.mmap)):
            return None
        base = getattr(base, "base", None)
    if arr.shape != (stack.nframes, *stack.signal_shape):
        return None
    return arr


def per_pixel(name: str, doc: str, run: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """The public statistic ``name``: ``f(stack, nframes=0, *, client=None, progress=None,
    memory_budget=None, threads=None)`` calling ``run(stack, nframes, client, progress,
    memory_budget, threads)``, documented by ``doc``.

    One signature for every per-pixel statistic (max, min, sum, average, median), explicit and
    keyword-only, so ``inspect.signature`` shows the same four keywords everywhere.
    """

    def statistic(
        stack: Any,
        nframes: int = 0,
        *,
        client=None,
        progress: ProgressArg = None,
        memory_budget: int | None = None,
        threads: int | None = None,
    ) -> np.ndarray:
        return run(stack, nframes, client, progress, memory_budget, threads)

    statistic.__name__ = statistic.__qualname__ = name
    statistic.__doc__ = doc
    statistic.__module__ = run.__module__ if hasattr(run, "__module__") else __name__
    return statistic

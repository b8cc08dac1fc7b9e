"""ProcessedStack: a lazy stack of frames passed through a list of operations.

Nothing is computed until frames are read, and then block by block: a read of ``n`` frames
(optionally a region of them) reads the parent's frames in blocks bounded by
``scanstack.config.block_bytes`` and runs every op on each whole block with numpy.
Regions are pushed down through the ops (see :mod:`scanstack.process.ops`), so a ``rectangle``,
``s.isig[...]``, ``s.get_region`` or ``s[i, r0:r1, c0:c1]`` reads only what it needs from the
file, whatever the order of the ops.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..core.axes import Axis, default_axes
from ..core.config import config
from ..core.errors import ScanstackError
from ..core.metadata import select_per_frame_metadata
from ..core.reader import Region, region_shape
from ..core.stack import Stack
from .ops import GaussLaplace, Op, PointwiseOp, ProcessError, UnknownOpError, UserOp, builtin_ops

Shape = tuple[int, ...]


class ProcessedStack(Stack):
    """Frames of ``parent`` (optionally only ``frame_list``) passed through ``oplist``.

    Parameters
    ----------
    parent:
        Any :class:`~scanstack.Stack` (a file, a view, another processed stack, an omega stack).
    oplist:
        ``[(name, data), ...]`` applied in order, e.g. ``[("dark", dark), ("flip", "v"),
        ("rectangle", ((0, 100), (0, 200)))]``. Held *by reference*: changing the list (or an
        entry) changes what later reads return, as in hexrd.
    frame_list:
        Parent frames to keep (flat indices, any order, negatives allowed); ``metadata['omega']``
        is cut accordingly. ``None`` keeps every frame and the parent's navigation shape.

    Built-in ops: ``dark``, ``flat``, ``add``, ``threshold``, ``mask``, ``flip``, ``rectangle``,
    ``bin``, ``add-row``, ``add-column``, ``gauss_laplace`` (see :mod:`scanstack.process.ops`);
    more with :meth:`addop`. Frame shape and dtype come from the ops analytically; when a user op
    makes that impossible, from processing frame 0, as hexrd does.
    """

    def __init__(
        self,
        parent: Stack,
        oplist: Sequence[tuple[str, Any]],
        frame_list: Sequence[int] | np.ndarray | None = None,
    ):
        if not isinstance(parent, Stack):
            raise TypeError(
                f"ProcessedStack needs a scanstack Stack, got {type(parent).__name__}"
                " (scanstack.stats.as_stack converts arrays and sequences)"
            )
        self.parent = parent
        self.oplist = oplist if isinstance(oplist, list) else list(oplist)
        self._opdict: dict[str, Op | Callable] = dict(builtin_ops())
        self._cache: tuple | None = None
        if frame_list is None:
            self.frame_list = None
            self.nav_shape = tuple(parent.nav_shape)
            self.metadata = copy.deepcopy(parent.metadata)
        else:
            idx = np.asarray(frame_list, dtype=np.int64).reshape(-1)
            self.frame_list = parent._check_frames(idx)
            self.nav_shape = (int(self.frame_list.size),)
            self.metadata = select_per_frame_metadata(
                parent.metadata, self.frame_list, parent.nframes
            )
        self.original_metadata = parent.original_metadata

    # -- ops ------------------------------------------------------------------------------
    def addop(
        self, name: str, func: Callable[[np.ndarray, Any], np.ndarray], *, block: bool = False
    ) -> None:
        """Add (or replace) op ``name``: ``func(img, data) -> img`` on each 2-D frame.

        With ``block=True`` ``func`` gets whole blocks ``(n, rows, cols)`` instead (faster when
        it is vectorised). The function must be picklable for the stack to pickle.
        """
        self._opdict[name] = func if not block else UserOp(name, func, True)

    def _op(self, name: str) -> Op:
        try:
            op = self._opdict[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(map(str, self._opdict)))
            raise UnknownOpError(
                f"unknown operation {name!r}; known operations: {known} "
                "(add your own with addop(name, func))"
            ) from None
        return op if isinstance(op, Op) else UserOp(name, op, False)

    def _steps(self) -> list[tuple[Op, Any]]:
        steps = []
        for k, item in enumerate(self.oplist):
            try:
                name, data = item
            except (TypeError, ValueError):
                raise ProcessError(f"oplist entry {k} is {item!r}, expected (name, data)") from None
            steps.append((self._op(name), data))
        return steps

    def _stages(self) -> tuple[list[tuple[Op, Any]], list[tuple[Shape, np.dtype]]]:
        """The ops and the (frame shape, dtype) before each op and after the last.

        Cached while the oplist entries, the op table and the parent's frames stay the same
        objects (the cache holds references, so identities cannot be recycled).
        """
        key = (
            list(self.oplist),
            dict(self._opdict),
            tuple(self.parent.signal_shape),
            np.dtype(self.parent.dtype),
        )
        c = self._cache
        if (
            c is not None
            and c[0][2:] == key[2:]
            and _same_items(c[0][0], key[0])
            and _same_items(list(c[0][1].items()), list(key[1].items()))
        ):
            return c[1], c[2]
        steps = self._steps()
        stages = [(tuple(self.parent.signal_shape), np.dtype(self.parent.dtype))]
        for k, (op, data) in enumerate(steps):
            shape, dtype = stages[-1]
            with _naming(op, data):
                found = op.infer(shape, dtype, data)
            if found is None:
                stages += self._probe(steps, stages, k)
                break
            stages.append((tuple(int(n) for n in found[0]), np.dtype(found[1])))
        self._cache = (key, steps, stages)
        return steps, stages

    def _probe(self, steps, stages, k) -> list[tuple[Shape, np.dtype]]:
        """Shapes and dtypes after ops ``k...`` found by processing frame 0."""
        if self.nframes == 0:
            return [stages[-1]] * (len(steps) - k)
        first = 0 if self.frame_list is None else int(self.frame_list[0])
        block = self.parent._read_frames(np.array([first]), None)
        found = []
        for op, data in steps:
            with _naming(op, data):
                block = op.apply(block, data, block.shape[1:], None, None)
            found.append((tuple(block.shape[1:]), block.dtype))
        return found[k:]

    # -- Stack interface ------------------------------------------------------------------
    @property
    def signal_shape(self) -> Shape:  # type: ignore[override]
        return self._stages()[1][-1][0]

    @property
    def dtype(self) -> np.dtype:  # type: ignore[override]
        return self._stages()[1][-1][1]

    @property
    def axes(self) -> list[Axis]:
        if self.frame_list is None:
            nav = self.parent.nav_axes
        elif len(self.parent.nav_shape) == 1:
            nav = [self.parent.nav_axes[0].index(self.frame_list)]
        else:
            nav = default_axes(self.nav_shape, ())
        if all(isinstance(op, (PointwiseOp, GaussLaplace)) for op, _ in self._stages()[0]):
            sig = self.parent.signal_axes
        else:
            sig = default_axes((), tuple(self.signal_shape))
        return list(nav) + list(sig)

    @property
    def path(self):
        return getattr(self.parent, "path", None)

    def _plan(self, region: Region | None):
        """Per op: (op, data, input shape, input region, output region); and the parent region."""
        steps, stages = self._stages()
        plan = []
        want = region
        for (op, data), (shape, _) in zip(reversed(steps), reversed(stages[:-1]), strict=True):
            need = op.input_region(data, shape, want)
            plan.append((op, data, shape, need, want))
            want = need
        plan.reverse()
        return plan, want, stages

    def _read_frames(self, frames: np.ndarray, region: Region | None) -> np.ndarray:
        plan, first, stages = self._plan(region)
        out_shape = region_shape(region, stages[-1][0])
        parent_frames = frames if self.frame_list is None else self.frame_list[frames]
        if parent_frames.size == 0:
            return np.empty((0, *out_shape), stages[-1][1])
        # bound the working memory: the biggest intermediate frame of any stage decides
        per = max(
            int(np.prod(region_shape(first, stages[0][0]))) * stages[0][1].itemsize,
            *(int(np.prod(s)) * d.itemsize for s, d in stages[1:]),
            1,
        )
        step = max(1, config.block_bytes // per)
        if parent_frames.size <= step:
            return self._run(plan, parent_frames, first)
        out = np.empty((parent_frames.size, *out_shape), stages[-1][1])
        for a in range(0, parent_frames.size, step):
            out[a : a + step] = self._run(plan, parent_frames[a : a + step], first)
        return out

    def _run(self, plan, parent_frames: np.ndarray, first: Region | None) -> np.ndarray:
        block = self.parent._read_frames(parent_frames, first)
        for op, data, shape, need, want in plan:
            with _naming(op, data):
                block = op.apply(block, data, shape, need, want)
        return block

    def source_paths(self) -> list[str]:
        return self.parent.source_paths()

    def close(self) -> None:
        self.parent.close()

    # -- pickling: the shape cache is rebuilt on the other side ------------------------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = None
        return state


@contextmanager
def _naming(op: Op, data: Any):
    """Bad op data (None, a string...) as a ProcessError naming the op, not a bare numpy error."""
    try:
        yield
    except ScanstackError:
        raise
    except (TypeError, ValueError, IndexError) as exc:
        raise ProcessError(f"op {op.name!r} cannot use {data!r}: {exc}") from exc


def _same_items(a: list, b: list) -> bool:
    """Same length and the same objects (names, data arrays, functions) in every entry."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x is y:
            continue
        if not (
            isinstance(x, tuple)
            and isinstance(y, tuple)
            and len(x) == len(y)
            and all(u is v for u, v in zip(x, y, strict=True))
        ):
            return False
    return True


def process(
    stack: Stack,
    oplist: Sequence[tuple[str, Any]],
    frame_list: Sequence[int] | np.ndarray | None = None,
) -> ProcessedStack:
    """``ProcessedStack(stack, oplist, frame_list)``: lazy ops over any stack.

    >>> p = process(s, [("dark", dark), ("flip", "v"), ("rectangle", ((0, 512), (0, 512)))])
    >>> p[0]                     # frame 0, reading only the 512x512 corner it needs
    """
    return ProcessedStack(stack, oplist, frame_list)

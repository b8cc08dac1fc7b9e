"""Lazy views of a stack: ``inav`` (navigation, numpy-style), ``isig`` (a region of the frames),
``frames``/``reshape_nav`` selections. A view reads through its parent; nothing is copied."""

from __future__ import annotations

import copy
import operator

import numpy as np

from .axes import Axis, default_axes
from .errors import FrameIndexError
from .indexing import is_identity, is_integer
from .metadata import select_per_frame_metadata
from .reader import Region, compose_regions, normalize_region, region_shape
from .stack import Stack


class ViewStack(Stack):
    """A lazy selection of another stack's frames (any nav shape) and of a region of its frames.

    ``frame_map`` holds, for each new navigation position, the parent's flat frame index;
    ``region`` the unit-step region read from the parent; ``post`` keys applied after reading
    (strides or integer indices over the signal dims).
    """

    def __init__(
        self,
        parent: Stack,
        frame_map: np.ndarray,
        region: Region | None,
        post: tuple,
        axes: list[Axis],
        metadata: dict | None = None,
    ):
        self.parent = parent
        self.frame_map = np.asarray(frame_map, dtype=np.int64)
        self.region = region
        self.post = post
        self._axes = axes
        self.nav_shape = self.frame_map.shape
        probe = np.empty(region_shape(region, parent.signal_shape), dtype=np.bool_)
        self.signal_shape = probe[post].shape if post else probe.shape
        self.dtype = parent.dtype
        self.metadata = (
            metadata
            if metadata is not None
            else select_per_frame_metadata(parent.metadata, self.frame_map, parent.nframes)
        )
        self.original_metadata = parent.original_metadata

    @property
    def axes(self) -> list[Axis]:
        return self._axes

    @property
    def rsciio_metadata(self):
        return getattr(self.parent, "rsciio_metadata", None)

    @property
    def path(self):
        return getattr(self.parent, "path", None)

    def _read_frames(self, frames: np.ndarray, region: Region | None) -> np.ndarray:
        parent_frames = self.frame_map.reshape(-1)[frames]
        if not self.post:
            return self.parent._read_frames(parent_frames, compose_regions(self.region, region))
        data = self.parent._read_frames(parent_frames, self.region)[(slice(None), *self.post)]
        return data if region is None else data[(slice(None), *region)]

    def source_paths(self) -> list[str]:
        return self.parent.source_paths()

    def close(self) -> None:
        self.parent.close()


class NavIndexer:
    """``stack.inav[...]``: a lazy view indexed numpy-style over the navigation axes."""

    def __init__(self, stack: Stack):
        self.stack = stack

    def __getitem__(self, key) -> Stack:
        s = self.stack
        key = key if isinstance(key, tuple) else (key,)
        nnav = len(s.nav_shape)
        if any(k is Ellipsis for k in key):
            i = key.index(Ellipsis)
            key = key[:i] + (slice(None),) * (nnav - len(key) + 1) + key[i + 1 :]
        if len(key) > nnav:
            raise FrameIndexError(f"{len(key)} indices for {nnav} navigation axes")
        key = key + (slice(None),) * (nnav - len(key))
        try:
            frame_map = np.arange(s.nframes).reshape(s.nav_shape)[key]
        except (IndexError, TypeError, ValueError) as exc:
            raise FrameIndexError(
                f"cannot index navigation axes {s.nav_shape} with {key!r}: {exc}"
            ) from exc
        arrays = [k for k in key if not isinstance(k, slice) and not is_integer(k)]
        if len(arrays) <= 1 and all(np.ndim(k) <= 1 for k in arrays):
            axes = []
            for axis, k in zip(s.nav_axes, key, strict=True):
                if is_integer(k):
                    continue
                if isinstance(k, slice):
                    axes.append(axis.index(k))
                else:
                    k = np.asarray(k)
                    axes.append(axis.index(np.flatnonzero(k) if k.dtype == bool else k))
        else:
            axes = default_axes(frame_map.shape, ())
        return ViewStack(s, frame_map, None, (), axes + s.signal_axes)


class SigIndexer:
    """``stack.isig[...]``: a lazy view of a region (integers, slices) of every frame."""

    def __init__(self, stack: Stack):
        self.stack = stack

    def __getitem__(self, key) -> Stack:
        s = self.stack
        key = key if isinstance(key, tuple) else (key,)
        nsig = len(s.signal_shape)
        if len(key) > nsig:
            raise FrameIndexError(f"{len(key)} indices for {nsig} signal axes")
        key = key + (slice(None),) * (nsig - len(key))
        region, post, axes = [], [], []
        for axis, k, n in zip(s.signal_axes, key, s.signal_shape, strict=True):
            if is_integer(k):
                i = operator.index(k)
                if not -n <= i < n:
                    raise FrameIndexError(f"index {i} out of range for signal axis of size {n}")
                i %= n
                region.append(slice(i, i + 1))
                post.append(0)
            elif isinstance(k, slice):
                try:
                    start, stop, step = k.indices(n)
                except TypeError as exc:
                    raise FrameIndexError(f"isig slices take integers, not {k!r}") from exc
                if step < 0:
                    region.append(slice(0, n))
                    post.append(k)
                else:
                    region.append(slice(start, max(start, stop)))
                    post.append(slice(None, None, step))
                axes.append(axis.index(k))
            else:
                raise FrameIndexError("isig takes integers and slices")
        post_t = tuple(post)
        if all(is_identity(p) for p in post_t):  # no step, no dropped axis: a plain region
            post_t = ()
        nreg = normalize_region(tuple(region), s.signal_shape)
        frame_map = np.arange(s.nframes).reshape(s.nav_shape)
        return ViewStack(
            s, frame_map, nreg, post_t, s.nav_axes + axes, metadata=copy.deepcopy(s.metadata)
        )

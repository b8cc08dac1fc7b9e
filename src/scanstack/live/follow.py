"""Follow a scan while it is recorded: a growing ``.mib`` and a picture that fills in.

>>> import scanstack
>>> from scanstack.live.follow import LivePicture, detector_masks
>>> s = scanstack.open("scan.mib", follow=True, nav_shape=(256, 256))  # len(s) grows
>>> pic = LivePicture(s, detector_masks(s.signal_shape, bf=30))
>>> pic.run("live.png", every_frames=4096)   # PNG rewritten atomically as frames land

:class:`LivePicture` works on any stack; on a growing one (``frames_available()`` /
``wait_for()``, :class:`scanstack.core.growing.Growing`) it reads only frames that have landed,
so a followed file and a live detector stream are driven the same way. An ordinary file is a
stack that has already arrived whole.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.errors import ScanstackError
from ..core.growing import KEEPS_ALL, Growing, StalledError
from ..core.safety import check_output
from ..core.stack import Stack
from ..formats.mib.follow import FollowMibStack, open_follow

__all__ = [
    "FollowMibStack",
    "Growing",
    "LivePicture",
    "StalledError",
    "detector_masks",
    "open_follow",
]


def detector_masks(
    signal_shape: Sequence[int],
    bf: float | None = None,
    adf: tuple[float, float] | None = None,
    center: Sequence[float] | None = None,
) -> dict[str, np.ndarray]:
    """Virtual detectors by name: ``"BF"`` a disk of radius ``bf`` px, ``"ADF"`` a ring
    ``adf = (inner, outer)`` px, around ``center`` (row, col; default the frame centre)."""
    from ..stem.detectors import disk_mask, ring_mask

    rows, cols = signal_shape[-2:]
    c = tuple(center) if center is not None else ((rows - 1) / 2, (cols - 1) / 2)
    masks = {}
    if bf is not None:
        masks[f"BF r={bf:g}"] = disk_mask((rows, cols), c, bf)
    if adf is not None:
        masks[f"ADF {adf[0]:g}-{adf[1]:g}"] = ring_mask((rows, cols), c, *adf)
    return masks


class LivePicture:
    """Virtual images (one per detector) and the sum pattern of a stack, filled in frame order.

    ``images[name]``: float64 ``nav_shape``, NaN where no frame has been read yet;
    ``sum_pattern``: float64 frame shape, the sum of the frames read; ``done``: frames read.
    """

    def __init__(self, stack: Stack, detectors: dict[str, np.ndarray], sum_pattern: bool = True):
        if len(stack.signal_shape) != 2:
            raise ValueError(f"live pictures need 2-D frames, not {stack.signal_shape}")
        self.stack = stack
        self.names = list(detectors)
        self._masks = [np.asarray(detectors[k], np.float64) for k in self.names]
        self.nav_shape = tuple(stack.nav_shape) or (1,)
        self.nframes = stack.nframes
        self._flat = np.full((len(self.names), self.nframes), np.nan)
        self.sum_pattern = np.zeros(stack.signal_shape, np.float64) if sum_pattern else None
        self.done = 0
        self.writes = 0

    @property
    def images(self) -> dict[str, np.ndarray]:
        return {k: self._flat[i].reshape(self.nav_shape) for i, k in enumerate(self.names)}

    def available(self) -> int:
        """Frames readable now."""
        if isinstance(self.stack, Growing):
            return self.stack.frames_available()
        return self.nframes

    def update(self, stop: int | None = None) -> int:
        """Read and fold frames ``done:stop`` (default: all available); returns how many."""
        stop = self.available() if stop is None else min(stop, self.nframes)
        start = self.done
        if stop <= start:
            return 0
        from .. import stem

        # the frames that have landed as an ordinary stack: stem's compiled kernels fold them
        # in place from the memory map (no copy), exactly as for a finished file
        growing = isinstance(self.stack, Growing)
        with self.stack.hold(start) if growing else KEEPS_ALL:  # a live ring keeps them meanwhile
            whole = self.stack.arrived() if growing else self.stack
            part = whole.frames(slice(start, stop))
            if self.names:
                self._flat[:, start:stop] = stem.virtual_images(part, self._masks, progress=False)
            if self.sum_pattern is not None:
                self.sum_pattern += stem.sum_pattern(part, progress=False)
        self.done = stop
        return stop - start

    def render(self):
        """The picture: one panel per detector and the sum pattern (a matplotlib ``Figure``)."""
        from ..preview import render

        nav = self.nav_shape if len(self.nav_shape) == 2 else (1, self.nframes)
        panels = [(k, img.reshape(nav), False) for k, img in self.images.items()]
        if self.sum_pattern is not None:
            panels.append(("sum pattern (log)", self.sum_pattern, True))
        fig = render.new_figure(3.2 * len(panels), 3.4)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (title, data, log) in zip(axes, panels, strict=True):
            render.show_image(ax, data, title=title, units="counts", log=log)
        fig.suptitle(f"{self.done} / {self.nframes} frames")
        return fig

    def write(self, path: str | Path, overwrite: bool = False) -> None:
        """Write the picture as PNG, atomically (a viewer never sees half a file).

        An existing ``path`` is refused unless ``overwrite`` or this picture wrote it before."""
        from ..preview import render

        again = overwrite or self.writes > 0  # refreshing its own picture
        render.save_png(self.render(), path, inputs=self.stack.source_paths(), overwrite=again)
        self.writes += 1

    def run(
        self,
        path: str | Path,
        every_frames: int | None = None,
        every_seconds: float | None = 1.0,
        timeout: float | None = None,
        on_write=None,
        overwrite: bool = False,
    ) -> int:
        """Fill the picture to the end of the scan, rewriting ``path`` every ``every_frames``
        frames or ``every_seconds`` s (whichever comes first), and once at the end.

        A growing source that stalls for ``timeout`` s (default: the source's own) ends with
        :class:`StalledError` (a live stream that fails: its ``LiveError``) after the picture
        of the frames seen has been written.
        Returns the number of pictures written. ``on_write(done, nframes)`` is called after each.
        An existing ``path`` is refused at the start unless ``overwrite``.
        """
        check_output(path, overwrite or self.writes > 0)  # refuse before the scan, not after
        last_write, written_at = time.monotonic(), self.done
        try:
            for _ in self.steps(every_frames, timeout):
                due_frames = every_frames is not None and self.done - written_at >= every_frames
                due_time = every_seconds is not None and (
                    time.monotonic() - last_write >= every_seconds
                )
                if (due_frames or due_time) and self.done < self.nframes:
                    self.write(path, overwrite)
                    last_write, written_at = time.monotonic(), self.done
                    if on_write:
                        on_write(self.done, self.nframes)
        except ScanstackError:  # the source stalled or failed: keep the picture of what came
            self.write(path, overwrite)
            if on_write:
                on_write(self.done, self.nframes)
            raise
        self.write(path, overwrite)
        if on_write:
            on_write(self.done, self.nframes)
        return self.writes

    def steps(self, every_frames: int | None = None, timeout: float | None = None):
        """Fill the picture to the end of the scan, yielding the frames done after each step.

        Each step waits for the next frame (a growing source: ``timeout`` s at most, default the
        source's own) and folds what has arrived, at most ``every_frames`` frames (default one
        block), so the picture stays fresh while a fast source runs ahead. The one loop that
        ``run`` (PNG) and the napari layer (:mod:`scanstack.napari`) both drive.
        """
        growing = isinstance(self.stack, Growing)
        # held from the first frame still to read: a live ring keeps every frame for the picture
        with self.stack.hold(self.done) if growing else KEEPS_ALL as cursor:
            step = cursor.batch(every_frames or self.stack.frames_per_block())
            while self.done < self.nframes:
                if growing:
                    self.stack.wait_for(self.done, timeout)
                self.update(min(self.available(), self.done + step))
                cursor.advance(self.done)
                yield self.done

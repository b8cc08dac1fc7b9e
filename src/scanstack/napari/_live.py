"""A napari image layer that fills in while a scan is recorded (a live stream, a followed file).

>>> s = scanstack.open("merlin://127.0.0.1:6342", nav_shape=(256, 256))
>>> layers, worker = add_live_layers(viewer, s, bf=30)     # returns at once, fills in a thread

Each layer is a virtual detector image over the scan grid (``BF r=30``, ``ADF 40-80``), NaN
where no frame has arrived yet. :class:`~scanstack.live.follow.LivePicture` folds the frames as
they land (``steps()``, the same loop ``scanstack live`` writes PNGs from); napari's
``thread_worker`` runs it off the GUI thread and every yielded image replaces ``layer.data`` in
the GUI thread. ``background=False`` runs the same loop in the caller (headless viewers,
``napari.components.ViewerModel``, scripts).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..core.stack import Stack
from ._layers import placement


def live_images(
    stack: Stack,
    bf: float | None = None,
    adf: tuple[float, float] | None = None,
    center: Sequence[float] | None = None,
    every_frames: int | None = None,
    timeout: float | None = None,
) -> Iterator[dict[str, np.ndarray]]:
    """Yields ``{detector name: image (nav_shape float64, NaN not yet arrived)}`` (copies) after
    each step of frames, the last one when the scan is complete."""
    from ..live.follow import LivePicture, detector_masks

    masks = detector_masks(stack.signal_shape, bf=bf, adf=adf, center=center)
    if not masks:
        raise ValueError("give bf= and/or adf= (the detectors to show)")
    picture = LivePicture(stack, masks, sum_pattern=False)
    for _ in picture.steps(every_frames, timeout):
        yield {k: v.copy() for k, v in picture.images.items()}


def _layer_kwargs(stack: Stack, name: str) -> dict[str, Any]:
    nav = stack.nav_axes
    return {
        "name": f"{name} (live)",
        **placement(nav),
        "axis_labels": tuple(a.name for a in nav),
        "metadata": {"scanstack_live": name, "path": getattr(stack, "path", None)},
    }


def add_live_layers(
    viewer: Any,
    stack: Stack,
    bf: float | None = None,
    adf: tuple[float, float] | None = None,
    center: Sequence[float] | None = None,
    every_frames: int | None = None,
    timeout: float | None = None,
    background: bool = True,
) -> tuple[list[Any], Any]:
    """Add one image layer per virtual detector to ``viewer``; fill them as frames arrive.

    ``bf``: disk radius (px), ``adf``: ring ``(inner, outer)`` px, around ``center`` (row, col;
    default the frame centre). ``every_frames``: frames folded per update (default one block).
    Returns ``(layers, worker)``: ``worker`` is napari's started ``thread_worker`` (None with
    ``background=False``, where the layers are complete on return). The layers' ``data`` end
    equal to ``stem.virtual_image`` of the complete scan.
    """
    from ..live.follow import detector_masks

    names = list(detector_masks(stack.signal_shape, bf=bf, adf=adf, center=center))
    if not names:
        raise ValueError("give bf= and/or adf= (the detectors to show)")
    nav = tuple(stack.nav_shape)
    layers = [
        viewer.add_image(np.full(nav, np.nan), **_layer_kwargs(stack, name)) for name in names
    ]
    images = live_images(stack, bf, adf, center, every_frames, timeout)

    def show(update: dict[str, np.ndarray]) -> None:
        for layer, name in zip(layers, names, strict=True):
            img = update[name]
            layer.data = img
            if np.isfinite(img).any():
                layer.contrast_limits = (float(np.nanmin(img)), float(np.nanmax(img)) + 1e-9)

    if not background:
        for update in images:
            show(update)
        return layers, None
    from napari.qt.threading import thread_worker

    worker = thread_worker(lambda: (yield from images), start_thread=False)()
    worker.yielded.connect(show)
    worker.start()
    return layers, worker

"""PNG previews of any stack: what a scientist would rather look at than read.

- 1-D signals (spectra): the sum spectrum on the energy axis, ROI/element bands, and element maps
  (via :mod:`scanstack.xrf`);
- 2-D signals over a 2-D scan (4D-STEM): the sum diffraction pattern and a virtual bright-field
  image (via :mod:`scanstack.stem`);
- 2-D signals over a frame series: the sum frame and the max frame.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..core.progress import ProgressArg
from ..core.stack import Stack
from . import render


def _axis_label(axis) -> str:
    return f"{axis.name} ({axis.units})" if axis.units else axis.name


def _map_aspect(stack: Stack) -> float:
    """Height / width of one scan pixel when both scan axes share units (else square pixels)."""
    if len(stack.nav_shape) != 2:
        return 1.0
    rows, cols = stack.nav_axes
    if rows.values is not None or cols.values is not None or rows.units != cols.units:
        return 1.0
    ratio = abs(float(rows.scale)) / abs(float(cols.scale)) if cols.scale else 0.0
    return ratio if 0.01 < ratio < 100 else 1.0


def preview(
    stack: Stack,
    progress: ProgressArg = None,
    *,
    client=None,
    threads: int | None = None,
    memory_budget: int | None = None,
) -> Image.Image:
    """A picture summarising ``stack`` (reads every frame once, out of core).

    ``client``, ``threads``, ``progress``, ``memory_budget``: as in every out-of-core function
    (:mod:`scanstack.core.resources`).
    """
    import os

    kw = {"client": client, "threads": threads, "progress": progress}
    kw["memory_budget"] = memory_budget
    title = stack.metadata.get("title") or stack.metadata.get("original_file")
    if not title and getattr(stack, "path", None):
        title = os.path.basename(stack.path)
    title = str(title or "")
    if len(stack.signal_shape) == 1:
        return _spectrum_preview(stack, title, kw)
    if len(stack.signal_shape) == 2 and len(stack.nav_shape) == 2:
        from ..stem import preview_images

        images = preview_images(stack, **kw)
        titles = _stem_titles(images["sum pattern"])
        panels = [
            render.image(
                img,
                log=(name == "sum pattern"),
                title=titles.get(name, name),
                aspect=1.0 if name == "sum pattern" else _map_aspect(stack),
                units="counts",
            )
            for name, img in images.items()
        ]
        return render.stack_vertically([_caption(stack, title), render.grid(panels, 3)])
    from .. import stats

    both = stats.reduce_together(stack, ("sum", "max"), **kw)  # one read of the file
    total, peak = both["sum"], both["max"]
    panels = [
        render.image(total, title=f"sum of {stack.nframes} frames", units="counts"),
        render.image(peak, title="max frame", units="counts"),
    ]
    return render.stack_vertically([_caption(stack, title), render.grid(panels, 2)])


def _stem_titles(sum_pattern: np.ndarray) -> dict[str, str]:
    """Panel titles that say which disk the virtual image integrates (found as preview_images does)."""
    from ..stem import guess_disk

    (cy, cx), radius = guess_disk(sum_pattern)
    return {
        "sum pattern": "sum pattern (log scale)",
        "virtual bright field": f"virtual bright field: disk (y {cy:.0f}, x {cx:.0f}) "
        f"r {radius:.0f} px",
    }


def _caption(stack: Stack, title: str) -> Image.Image:
    text = (
        f"{title}  nav {stack.nav_shape}  signal {stack.signal_shape}  {np.dtype(stack.dtype).name}"
    )
    return render.titled(Image.new("RGB", (700, 1), "white"), text)


def _spectrum_preview(stack: Stack, title: str, kw: dict) -> Image.Image:
    from ..xrf import preview_data

    data = preview_data(stack, **kw)
    axis = stack.signal_axes[0]
    plot = render.line_plot(
        data["energy"],
        data["sum_spectrum"],
        xlabel=_axis_label(axis),
        ylabel="counts (sum spectrum)",
        title=title,
        bands=[(r["start"], r["end"], r["name"]) for r in data.get("rois", ())],
        log=True,
    )
    aspect = _map_aspect(stack)
    maps = [
        render.image(m, title=f"{name} (counts in ROI)", aspect=aspect, units="counts")
        for name, m in data.get("maps", {}).items()
        if np.ndim(m) == 2  # a series of spectra (e.g. spectra='acquisition') has no map
    ]
    parts = [plot]
    if maps:
        parts.append(render.grid(maps, 4))
    return render.stack_vertically(parts)


def save_preview(
    stack: Stack,
    path,
    progress: ProgressArg = None,
    overwrite: bool = False,
    *,
    client=None,
    threads: int | None = None,
    memory_budget: int | None = None,
) -> None:
    """Write :func:`preview` as a PNG file (atomically; an existing ``path`` only with
    ``overwrite=True``); keywords as in :func:`preview`."""
    from ..core.safety import atomic_path

    img = preview(stack, progress, client=client, threads=threads, memory_budget=memory_budget)
    with atomic_path(path, overwrite=overwrite, inputs=stack.source_paths()) as tmp:
        img.save(tmp, format="PNG")

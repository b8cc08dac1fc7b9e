"""PNG previews of any stack, drawn by matplotlib (Agg): what a scientist would rather look at.

- 1-D signals (spectra): the sum spectrum on the energy axis, ROI/element bands, and element maps
  (via :mod:`scanstack.xrf`);
- 2-D signals over a 2-D scan (4D-STEM): the sum diffraction pattern and a virtual bright-field
  image (via :mod:`scanstack.stem`);
- 2-D signals over a frame series: the sum frame and the max frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.progress import ProgressArg
from ..core.stack import Stack
from . import render

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _axis_label(axis) -> str:
    return f"{axis.name} ({axis.units})" if axis.units else axis.name


def _map_geometry(stack: Stack) -> tuple[list[float] | None, Any, str, str]:
    """How to draw a ``nav_shape`` map: ``(extent, aspect, xlabel, ylabel)`` for ``imshow``.

    Uniform scan axes in the same units are drawn in those units with equal scales, so a map
    keeps the proportions of the scanned area (CRONO: columns ~1000 µm apart, rows 500 µm);
    otherwise pixel indices with square pixels. Row 0 (the first scanned row) is at the top.
    """
    rows, cols = stack.nav_axes[-2:]
    if (
        rows.is_uniform
        and cols.is_uniform
        and rows.units == cols.units
        and rows.scale
        and cols.scale
    ):
        x0, sx, nx = float(cols.offset), float(cols.scale), cols.size
        y0, sy, ny = float(rows.offset), float(rows.scale), rows.size
        extent = [x0 - sx / 2, x0 + (nx - 0.5) * sx, y0 + (ny - 0.5) * sy, y0 - sy / 2]
        return extent, "equal", _axis_label(cols), _axis_label(rows)
    return None, 1.0, f"{cols.name} (index)", f"{rows.name} (index)"


def _map_row_height(maps: dict, extent: list[float] | None, cell_width_in: float) -> float:
    """Inches for a row of maps ``cell_width_in`` wide each: the map's height at its drawn
    proportions (``extent`` in data units, else square pixels), clipped to 1-5 in, plus 1.6 in
    for the title, the tick labels and the colour bar below."""
    rows, cols = np.shape(next(iter(maps.values())))
    if extent is not None:
        ratio = abs(extent[2] - extent[3]) / max(abs(extent[1] - extent[0]), 1e-12)
    else:
        ratio = rows / max(cols, 1)
    return float(np.clip(0.75 * cell_width_in * ratio, 1.0, 5.0)) + 1.6


def _title(stack: Stack) -> str:
    import os

    title = stack.metadata.get("title") or stack.metadata.get("original_file")
    if not title and getattr(stack, "path", None):
        title = os.path.basename(stack.path)
    return str(title or "")


def _caption(stack: Stack, title: str) -> str:
    return (
        f"{title}  nav {stack.nav_shape}  signal {stack.signal_shape}  {np.dtype(stack.dtype).name}"
    ).strip()


def preview(
    stack: Stack,
    progress: ProgressArg = None,
    *,
    client=None,
    threads: int | None = None,
    memory_budget: int | None = None,
) -> Figure:
    """A matplotlib ``Figure`` summarising ``stack`` (reads every frame once, out of core).

    Spectra: the sum spectrum (log y-axis, ROI/element bands) over up to four element maps;
    4D-STEM: the sum pattern (log colour scale) and a virtual bright-field image; frame series:
    the sum frame and the max frame. Every image has a colour bar in counts.

    ``client``, ``threads``, ``progress``, ``memory_budget``: as in every out-of-core function
    (:mod:`scanstack.core.resources`).
    """
    kw = {
        "client": client,
        "threads": threads,
        "progress": progress,
        "memory_budget": memory_budget,
    }
    title = _title(stack)
    if len(stack.signal_shape) == 1:
        return _spectrum_preview(stack, title, kw)
    if len(stack.signal_shape) == 2 and len(stack.nav_shape) == 2:
        from ..stem import preview_images

        images = preview_images(stack, **kw)
        titles = _stem_titles(images["sum pattern"])
        fig = render.new_figure(10, 4.6)
        axes = fig.subplots(1, len(images))
        for ax, (name, img) in zip(np.atleast_1d(axes), images.items(), strict=True):
            pattern = name == "sum pattern"
            if pattern:
                extent, aspect, xlabel, ylabel = (
                    None,
                    1.0,
                    "detector column (px)",
                    "detector row (px)",
                )
            else:
                extent, aspect, xlabel, ylabel = _map_geometry(stack)
            render.show_image(
                ax,
                img,
                log=pattern,
                title=titles.get(name, name),
                aspect=aspect,
                extent=extent,
                units="counts",
            )
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
        fig.suptitle(_caption(stack, title))
        return fig
    from .. import stats

    both = stats.reduce_together(stack, ("sum", "max"), **kw)  # one read of the file
    fig = render.new_figure(10, 4.6)
    axes = fig.subplots(1, 2)
    for ax, (name, label) in zip(
        axes, (("sum", f"sum of {stack.nframes} frames"), ("max", "max frame")), strict=True
    ):
        render.show_image(ax, both[name], title=label, units="counts")
        ax.set_xlabel("column (px)")
        ax.set_ylabel("row (px)")
    fig.suptitle(_caption(stack, title))
    return fig


def _stem_titles(sum_pattern: np.ndarray) -> dict[str, str]:
    """Panel titles that say which disk the virtual image integrates (found as preview_images does)."""
    from ..stem import guess_disk

    (cy, cx), radius = guess_disk(sum_pattern)
    return {
        "sum pattern": "sum pattern (log scale)",
        "virtual bright field": f"virtual bright field: disk (y {cy:.0f}, x {cx:.0f}) "
        f"r {radius:.0f} px",
    }


def _spectrum_preview(stack: Stack, title: str, kw: dict) -> Figure:
    from ..xrf import preview_data

    data = preview_data(stack, **kw)
    maps = {n: m for n, m in data.get("maps", {}).items() if np.ndim(m) == 2}
    # a series of spectra (e.g. spectra='acquisition') has no map: the spectrum alone
    ncols = max(len(maps), 1)
    width = max(9.0, 3.2 * ncols)
    extent, aspect, xlabel, ylabel = _map_geometry(stack) if maps else (None, 1.0, "", "")
    # the map row is as tall as its maps drawn at their own proportions (plus title, tick
    # labels and colour bar), so an equal-aspect map leaves no empty band above it
    map_height = _map_row_height(maps, extent, width / ncols) if maps else 0.0
    fig = render.new_figure(width, 4.0 + map_height)
    # two sub-figures, each laid out on its own: the spectrum's decorations do not widen the
    # maps' row, nor the maps' colour bars the spectrum's
    top, bottom = fig.subfigures(2, 1, height_ratios=[4.0, map_height]) if maps else (fig, None)
    energy = data["energy"]
    x = energy if energy is not None else np.arange(stack.signal_shape[0])
    render.spectrum(
        top.add_subplot(),
        x,
        data["sum_spectrum"],
        xlabel=_axis_label(stack.signal_axes[0]) if energy is not None else "channel",
        ylabel="counts (sum spectrum)",
        title=_caption(stack, title),
        bands=[(r["start"], r["end"], r["name"]) for r in data.get("rois", ())],
        log=True,
    )
    for k, (name, m) in enumerate(maps.items()):
        ax = bottom.add_subplot(1, ncols, k + 1)
        render.show_image(
            ax,
            m,
            title=f"{name} (counts in ROI)",
            aspect=aspect,
            extent=extent,
            units="counts",
            colorbar_location="bottom",
        )
        ax.locator_params(nbins=4)  # stage coordinates have six digits: few ticks stay legible
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    return fig


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
    fig = preview(stack, progress, client=client, threads=threads, memory_budget=memory_budget)
    render.save_png(fig, path, inputs=stack.source_paths(), overwrite=overwrite)

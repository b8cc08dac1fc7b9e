"""Element maps laid over the camera mosaic of a CRONO scan, in stage coordinates (mm).

Both pictures live on the same motor axes: the mosaic (:class:`scanstack.crono.Mosaic`) puts
pixel ``(r, c)`` at ``X = x0_um + c·resolution_um``, ``Y = y0_um + r·resolution_um``, and every
map pixel was measured at the motor position :func:`scanstack.crono.map_positions` returns. So
the overlay needs no registration: each map is drawn as a mesh on its measured positions, in
one colour whose opacity grows with the counts, over the mosaic; north (highest Y) is up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import render

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: map values below this percentile are fully transparent (the detector's background is not
#: the element); opacity then grows linearly up to the 99.5th percentile
TRANSPARENT_BELOW_PERCENTILE = 50.0
#: opacity of the highest counts: the object stays visible under the strongest signal
MAX_ALPHA = 0.85


def element_colours(n: int) -> list[tuple[float, float, float]]:
    """``n`` saturated, well separated colours (matplotlib's qualitative "Set1" map)."""
    render._matplotlib()
    from matplotlib import colormaps

    colours = colormaps["Set1"].colors
    return [tuple(colours[i % len(colours)][:3]) for i in range(n)]


def nice_length(span: float) -> float:
    """A round length (1, 2 or 5 × 10^k) near a fifth of ``span``, for a scale bar."""
    target = span / 5
    if not target > 0:
        return 1.0
    power = 10 ** np.floor(np.log10(target))
    return float(max(m * power for m in (1, 2, 5) if m * power <= target))


def overlay_figure(
    mosaic: Any,
    maps: Mapping[str, np.ndarray],
    map_x_um: np.ndarray,
    map_y_um: np.ndarray,
    *,
    title: str = "",
    units: str = "counts",
    width_in: float = 10.0,
) -> Figure:
    """The mosaic with every map of ``maps`` (name -> ``(rows, cols)``) over it.

    ``map_x_um``, ``map_y_um``: the stage position of every map pixel, ``(rows, cols)`` µm.
    Each element gets its own colour and colour bar (in ``units``); a scale bar in mm sits in
    the lower left. Axes are stage X and Y in mm, equal scales, highest Y at the top.
    """
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    mx = np.asarray(map_x_um, float) / 1000.0
    my = np.asarray(map_y_um, float) / 1000.0
    for name, m in maps.items():
        if np.shape(m) != mx.shape or my.shape != mx.shape:
            raise ValueError(
                f"map {name!r} has shape {np.shape(m)}, its positions {mx.shape} / {my.shape}"
            )
    res_mm = mosaic.resolution_um / 1000.0
    rows, cols = mosaic.weight.shape
    x0, y0 = mosaic.x0_um / 1000.0, mosaic.y0_um / 1000.0
    extent = [
        x0 - res_mm / 2,
        x0 + (cols - 0.5) * res_mm,
        y0 - res_mm / 2,
        y0 + (rows - 0.5) * res_mm,
    ]
    # the picture's height follows the scanned area, so millimetres are square
    width_mm, height_mm = extent[1] - extent[0], extent[3] - extent[2]
    height_in = float(np.clip(width_in * 0.8 * height_mm / max(width_mm, 1e-9), 2.5, 12.0)) + 1.2
    fig = render.new_figure(width_in, height_in)
    ax = fig.add_subplot()
    # the camera picture in grey: colour on the picture belongs to the elements alone (a red
    # object under a red Pb map could not be told apart)
    grey = np.asarray(mosaic.image[..., :3], float) @ np.array([0.299, 0.587, 0.114])
    rgba = np.dstack([np.repeat(grey[..., None], 3, axis=2) / 255.0, mosaic.covered.astype(float)])
    ax.imshow(rgba, origin="lower", extent=extent, interpolation="bilinear")
    bars = []
    for (name, m), colour in zip(maps.items(), element_colours(len(maps)), strict=True):
        values = np.asarray(m, float)
        finite = values[np.isfinite(values)]
        lo = float(np.percentile(finite, TRANSPARENT_BELOW_PERCENTILE)) if finite.size else 0.0
        hi = float(np.percentile(finite, 99.5)) if finite.size else 1.0
        cmap = LinearSegmentedColormap.from_list(
            name, [(*colour, 0.0), (*colour, MAX_ALPHA)], N=256
        )
        mesh = ax.pcolormesh(
            mx,
            my,
            values,
            cmap=cmap,
            norm=Normalize(lo, hi if hi > lo else lo + 1, clip=True),
            shading="nearest",
            rasterized=True,
        )
        bars.append((name, mesh))
    # constrained layout puts each new colour bar between the axes and the earlier ones: adding
    # them last to first reads them left to right in the order the elements were asked for
    for name, mesh in reversed(bars):
        fig.colorbar(mesh, ax=ax, label=f"{name} ({units})", shrink=0.8, pad=0.01, aspect=30)
    ax.set_xlim(min(extent[0], np.nanmin(mx)), max(extent[1], np.nanmax(mx)))
    ax.set_ylim(min(extent[2], np.nanmin(my)), max(extent[3], np.nanmax(my)))
    ax.set_aspect("equal")
    ax.set_facecolor("0.85")  # where no frame was taken
    length = nice_length(float(np.diff(ax.get_xlim())[0]))
    ax.add_artist(
        AnchoredSizeBar(
            ax.transData,
            length,
            f"{length:g} mm",
            "lower left",
            pad=0.4,
            sep=4,
            frameon=True,
            size_vertical=length / 25,
            color="black",
        )
    )
    ax.set_xlabel("stage X (mm)")
    ax.set_ylabel("stage Y (mm)")
    if title:
        ax.set_title(title, fontsize="medium")
    return fig


def element_list(text: str | Sequence[str]) -> list[str]:
    """``"Pb,Fe,Cu"`` (or a list) as line names, blanks dropped, order kept, no repeats."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for item in (s.strip() for s in items):
        if item and item not in out:
            out.append(item)
    return out

"""Pictures drawn by matplotlib's Agg backend: images with colour bars, spectra with bands.

Figures are made with :class:`matplotlib.figure.Figure` and an Agg canvas, never through
``pyplot``: no display is needed, no global figure state is touched (safe in threads and in a
notebook whose backend is interactive), and nothing here changes the user's ``rcParams``.
matplotlib is the optional extra ``scanstack[plot]`` (part of ``[all]``): it is imported when a
picture is drawn, so reading and converting data never pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.errors import UnsupportedError

#: dots per inch of every figure: sizes below are in inches, so a 9-inch-wide figure is 900 px
DPI = 100


def _matplotlib():
    try:
        import matplotlib
    except ImportError as exc:
        raise UnsupportedError(
            "pictures are drawn with matplotlib: pip install 'scanstack[plot]'"
        ) from exc
    return matplotlib


def new_figure(width_in: float, height_in: float) -> Any:
    """An empty ``Figure`` (``width_in`` × ``height_in`` inches at :data:`DPI`) on an Agg canvas."""
    _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def display_limits(
    data: np.ndarray, log: bool = False, low: float = 0.5, high: float = 99.5
) -> tuple[float, float]:
    """The ``low`` and ``high`` percentiles of the finite values (of the positive ones if ``log``).

    A hot pixel or a dead one must not stretch the colour scale over the whole picture.
    """
    values = np.asarray(data, dtype=float)
    values = values[np.isfinite(values) & ((values > 0) if log else True)]
    if not values.size:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = (float(v) for v in np.percentile(values, [low, high]))
    if hi <= lo:
        hi = lo * 10 if log else lo + 1.0
    return lo, hi


def show_image(
    ax: Any,
    data: np.ndarray,
    *,
    title: str = "",
    units: str = "",
    log: bool = False,
    aspect: float = 1.0,
    cmap: str = "viridis",
    extent: Sequence[float] | None = None,
    colorbar: bool = True,
    colorbar_location: str = "right",
) -> Any:
    """Draw a 2-D array (or an RGB ``(h, w, 3)`` uint8 array) on ``ax`` and return the image.

    ``aspect``: height / width of one data pixel (e.g. 0.5 for a map with 1000 µm columns and
    500 µm rows) so maps keep the proportions of the scanned area. Colours span the 0.5–99.5
    percentiles (:func:`display_limits`), on a logarithmic norm when ``log``; the colour bar is
    labelled ``units`` (at ``colorbar_location``: "bottom" suits maps wider than tall).
    """
    from matplotlib.colors import LogNorm, Normalize

    data = np.asarray(data)
    rgb = data.ndim == 3 and data.shape[2] in (3, 4)
    if rgb:
        im = ax.imshow(data, aspect=aspect, extent=extent, interpolation="nearest")
    else:
        values = np.asarray(data, dtype=float)
        lo, hi = display_limits(values, log)
        norm = LogNorm(lo, hi, clip=True) if log else Normalize(lo, hi, clip=True)
        if log:  # zeros and negatives have no place on a log scale: leave them blank
            values = np.where(values > 0, values, np.nan)
        im = ax.imshow(
            values, cmap=cmap, norm=norm, aspect=aspect, extent=extent, interpolation="nearest"
        )
        if colorbar:
            ax.figure.colorbar(
                im, ax=ax, label=units or None, shrink=0.9, location=colorbar_location
            )
    if title:
        ax.set_title(title, fontsize="medium")
    return im


def spectrum(
    ax: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    bands: Sequence[tuple[float, float, str]] = (),
    log: bool = True,
) -> None:
    """``y`` against ``x`` on ``ax``, a log y-axis if ``log``, with shaded, labelled ``bands``."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    colours = colour_cycle(len(bands))
    for (lo, hi, label), colour in zip(sorted(bands), colours, strict=True):
        ax.axvspan(lo, hi, color=colour, alpha=0.25, lw=0)
        # labels sit just under the top edge, in axes coordinates so a log scale does not matter
        ax.text(
            (lo + hi) / 2,
            0.97,
            label,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            rotation=90,
            fontsize="small",
            color=colour,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )
    if log:
        y = np.where(y > 0, y, np.nan)  # log axes cannot show 0
        ax.set_yscale("log")
    ax.plot(x, y, lw=0.8, color="#14288f")
    if x.size:
        ax.set_xlim(float(np.nanmin(x)), float(np.nanmax(x)))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize="medium")
    ax.grid(True, which="major", alpha=0.3)


def colour_cycle(n: int) -> list[str]:
    """``n`` distinct colours of matplotlib's default cycle (repeating after ten)."""
    _matplotlib()
    from matplotlib import rcParamsDefault

    cycle = rcParamsDefault["axes.prop_cycle"].by_key()["color"]
    return [cycle[i % len(cycle)] for i in range(n)]


def save_png(
    fig: Any, path: str | os.PathLike, inputs: Sequence[Any] = (), overwrite: bool = False
) -> None:
    """Write ``fig`` as a PNG (atomically; never over one of ``inputs``; over an existing
    ``path`` only with ``overwrite=True``)."""
    from ..core.safety import atomic_path

    with atomic_path(path, overwrite=overwrite, inputs=inputs) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, facecolor="white")


def array_png(array: np.ndarray, path: str | os.PathLike, cmap: str = "viridis") -> None:
    """One data pixel per picture pixel (no axes): a 2-D array through ``cmap`` between its 0.5
    and 99.5 percentiles (NaN black), or an RGB uint8 array as it is."""
    _matplotlib()
    from matplotlib import colormaps

    data = np.asarray(array)
    if not (data.ndim == 3 and data.shape[2] in (3, 4) and data.dtype == np.uint8):
        values = np.asarray(data, dtype=float)
        lo, hi = display_limits(values)
        finite = np.isfinite(values)
        scaled = np.clip((np.where(finite, values, lo) - lo) / (hi - lo), 0, 1)
        data = colormaps[cmap](scaled, bytes=True)[..., :3]
        data[~finite] = 0
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(data)).save(path, format="PNG")

"""Pictures with Pillow only: arrays as colour images, line plots with bands, and grids of panels.

No plotting library is needed; the output is meant for a quick look (``scanstack preview``), with
axis labels and units so the picture can be read without the file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# anchor colours of matplotlib's viridis (public colour values), interpolated linearly
_VIRIDIS = np.array(
    [
        [68, 1, 84],
        [72, 40, 120],
        [62, 74, 137],
        [49, 104, 142],
        [38, 130, 142],
        [31, 158, 137],
        [53, 183, 121],
        [109, 205, 89],
        [180, 222, 44],
        [253, 231, 37],
    ],
    float,
)


def _lut(name: str) -> np.ndarray:
    x = np.linspace(0, 1, 256)
    if name == "gray":
        return np.repeat((x * 255)[:, None], 3, axis=1).astype(np.uint8)
    anchors = np.linspace(0, 1, len(_VIRIDIS))
    return np.stack([np.interp(x, anchors, _VIRIDIS[:, c]) for c in range(3)], 1).astype(np.uint8)


def _font(size: int = 12):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def _display_values(data: np.ndarray, log: bool) -> np.ndarray:
    """The values a picture shows: float, ``log1p`` of the non-negative part if ``log``."""
    data = np.asarray(data, dtype=float)
    return np.log1p(np.clip(data, 0, None)) if log else data


def _limits(values: np.ndarray, low: float, high: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(finite, [low, high]))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _to_uint8(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    finite = np.isfinite(values)
    out = np.clip((np.where(finite, values, lo) - lo) / (hi - lo), 0, 1) * 255
    out[~finite] = 0
    return out.astype(np.uint8)


def display_limits(
    data: np.ndarray, log: bool = False, low: float = 0.5, high: float = 99.5
) -> tuple[float, float]:
    """The ``low`` and ``high`` percentiles of the finite values (after ``log1p`` if ``log``)."""
    return _limits(_display_values(data, log), low, high)


def scale_to_uint8(
    data: np.ndarray, log: bool = False, low: float = 0.5, high: float = 99.5
) -> np.ndarray:
    """Map finite values between the ``low`` and ``high`` percentiles onto 0..255 (NaN -> 0)."""
    values = _display_values(data, log)
    return _to_uint8(values, *_limits(values, low, high))


def colorbar(
    height: int, lo: float, hi: float, cmap: str = "viridis", log: bool = False, label: str = ""
) -> Image.Image:
    """A vertical colour scale ``height`` px tall with its end values (data units) and a label."""
    font = _font(11)
    if log:  # limits were computed on log1p(values): label with the values themselves
        lo, hi = float(np.expm1(lo)), float(np.expm1(hi))
    ramp = _lut(cmap)[np.linspace(255, 0, max(height, 2)).astype(np.uint8)]
    strip = Image.fromarray(np.repeat(ramp[:, None, :], 12, axis=1))
    out = Image.new("RGB", (100, height), "white")
    out.paste(strip, (2, 0))
    draw = ImageDraw.Draw(out)
    draw.text((17, 0), f"{hi:.3g}", fill="black", font=font)
    draw.text((17, max(0, height - 12)), f"{lo:.3g}", fill="black", font=font)
    note = (label + (" (log)" if log else "")).strip()
    if note and height > 40:
        draw.text((17, height // 2 - 6), note[:16], fill="black", font=font)
    return out


def image(
    data: np.ndarray,
    cmap: str = "viridis",
    log: bool = False,
    size: int | None = 320,
    title: str = "",
    aspect: float = 1.0,
    scale: bool = True,
    units: str = "",
) -> Image.Image:
    """A 2-D array (or an RGB ``(h, w, 3)`` uint8 array) as a picture, longest side ``size`` px.

    ``aspect``: height / width of one data pixel (e.g. 0.5 for a map with 1000 µm columns and
    500 µm rows), so that maps keep the proportions of the scanned area. ``scale`` adds a colour
    bar with the displayed range in data units (labelled ``units``).
    """
    data = np.asarray(data)
    limits = None  # the displayed range, computed once for the picture and its colour bar
    if data.ndim == 3 and data.shape[2] in (3, 4) and data.dtype == np.uint8:
        img = Image.fromarray(data[..., :3])
    else:
        values = _display_values(data, log)
        limits = _limits(values, 0.5, 99.5)
        img = Image.fromarray(_lut(cmap)[_to_uint8(values, *limits)])
    if size:
        w, h = img.size[0], img.size[1] * aspect
        factor = size / max(w, h)
        new = (max(1, round(w * factor)), max(1, round(h * factor)))
        img = img.resize(new, Image.NEAREST if factor >= 1 else Image.BILINEAR)
    if scale and limits is not None:
        bar = colorbar(img.size[1], *limits, cmap=cmap, log=log, label=units)
        both = Image.new("RGB", (img.size[0] + 4 + bar.size[0], img.size[1]), "white")
        both.paste(img.convert("RGB"), (0, 0))
        both.paste(bar, (img.size[0] + 4, 0))
        img = both
    return titled(img, title) if title else img


def titled(img: Image.Image, title: str) -> Image.Image:
    """The picture with a caption line above it."""
    font = _font(13)
    out = Image.new("RGB", (img.size[0], img.size[1] + 20), "white")
    out.paste(img.convert("RGB"), (0, 20))
    ImageDraw.Draw(out).text((4, 3), title, fill="black", font=font)
    return out


def _nice_ticks(lo: float, hi: float, n: int = 6) -> np.ndarray:
    if hi <= lo:
        return np.array([lo])
    raw = (hi - lo) / n
    mag = 10 ** np.floor(np.log10(raw))
    step = min((s * mag for s in (1, 2, 5, 10) if s * mag >= raw), default=raw)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)


def line_plot(
    x: np.ndarray,
    y: np.ndarray,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    bands: Sequence[tuple[float, float, str]] = (),
    log: bool = False,
    size: tuple[int, int] = (900, 380),
) -> Image.Image:
    """A line plot of ``y`` against ``x`` with shaded, labelled ``bands`` (lo, hi, label)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    width, height = size
    left, right, top, bottom = 70, 15, 28, 45
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = _font(12)
    yplot = np.log10(np.clip(y, 1e-1, None)) if log else y
    finite = np.isfinite(yplot)
    ylo, yhi = (float(yplot[finite].min()), float(yplot[finite].max())) if finite.any() else (0, 1)
    if yhi <= ylo:
        yhi = ylo + 1
    xlo, xhi = (float(x.min()), float(x.max())) if x.size else (0.0, 1.0)
    if xhi <= xlo:
        xhi = xlo + 1

    def px(xv, yv):
        u = left + (np.asarray(xv) - xlo) / (xhi - xlo) * (width - left - right)
        v = height - bottom - (np.asarray(yv) - ylo) / (yhi - ylo) * (height - top - bottom)
        return u, v

    palette = [(255, 200, 200), (200, 220, 255), (200, 255, 200), (255, 235, 180), (230, 200, 255)]
    labels = []
    for i, (lo, hi, label) in enumerate(sorted(bands, key=lambda b: b[0])):
        u0, _ = px(lo, ylo)
        u1, _ = px(hi, ylo)
        draw.rectangle(
            [float(u0), top, float(max(u1, u0 + 1)), height - bottom],
            fill=palette[i % len(palette)],
        )
        # neighbouring bands get labels on different lines, drawn over the curve
        labels.append(((float(u0), top + 1 + 11 * (i % 3)), label))
    u, v = px(x[finite], yplot[finite])
    if u.size > 1:
        draw.line(list(zip(u.tolist(), v.tolist(), strict=True)), fill=(20, 40, 160), width=1)
    for xy, label in labels:
        box = draw.textbbox(xy, label, font=font)
        draw.rectangle(box, fill="white")
        draw.text(xy, label, fill=(90, 0, 0), font=font)
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for t in _nice_ticks(xlo, xhi):
        uu, _ = px(t, ylo)
        draw.line([float(uu), height - bottom, float(uu), height - bottom + 4], fill="black")
        draw.text((float(uu) - 12, height - bottom + 6), f"{t:g}", fill="black", font=font)
    for t in _nice_ticks(ylo, yhi, 4):
        _, vv = px(xlo, t)
        label = f"1e{t:g}" if log else f"{t:.3g}"
        draw.line([left - 4, float(vv), left, float(vv)], fill="black")
        draw.text((4, float(vv) - 6), label, fill="black", font=font)
    draw.text((width // 2 - 40, height - 18), xlabel, fill="black", font=font)
    draw.text(
        (4, 4),
        (ylabel + ("  (log scale)" if log else "")) if ylabel else "",
        fill="black",
        font=font,
    )
    if title:
        draw.text((width // 2 - 60, 6), title, fill="black", font=font)
    return img


def grid(panels: Sequence[Image.Image], ncols: int = 3, pad: int = 6) -> Image.Image:
    """Panels laid out left to right, top to bottom, on a white page."""
    if not panels:
        return Image.new("RGB", (10, 10), "white")
    ncols = max(1, min(ncols, len(panels)))
    nrows = -(-len(panels) // ncols)
    cw = max(p.size[0] for p in panels)
    ch = max(p.size[1] for p in panels)
    page = Image.new("RGB", (ncols * (cw + pad) + pad, nrows * (ch + pad) + pad), "white")
    for i, p in enumerate(panels):
        r, c = divmod(i, ncols)
        page.paste(p.convert("RGB"), (pad + c * (cw + pad), pad + r * (ch + pad)))
    return page


def stack_vertically(parts: Sequence[Image.Image], pad: int = 6) -> Image.Image:
    width = max(p.size[0] for p in parts)
    height = sum(p.size[1] for p in parts) + pad * (len(parts) + 1)
    page = Image.new("RGB", (width + 2 * pad, height), "white")
    y = pad
    for p in parts:
        page.paste(p.convert("RGB"), (pad, y))
        y += p.size[1] + pad
    return page

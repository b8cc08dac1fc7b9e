"""Pictures drawn by matplotlib: sizes, content, colour bars, log axes, stage proportions."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import scanstack
from scanstack.preview import preview, render, save_preview

pytest.importorskip("matplotlib")


def _png(fig, path) -> np.ndarray:
    render.save_png(fig, path)
    return np.asarray(Image.open(path).convert("RGB"))


def _region(fig, ax, pixels: np.ndarray) -> np.ndarray:
    """The PNG pixels inside ``ax`` (matplotlib's origin is bottom left, the PNG's top left)."""
    box = ax.get_window_extent()
    h = pixels.shape[0]
    return pixels[int(h - box.y1) + 2 : int(h - box.y0) - 2, int(box.x0) + 2 : int(box.x1) - 2]


def _colourbars(fig) -> list:
    return [ax for ax in fig.axes if hasattr(ax, "_colorbar")]


def test_frame_series_preview(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.poisson(5, (6, 40, 50)).astype(np.uint16)
    frames[3, 10:14, 20:24] = 900
    fig = preview(scanstack.Stack.from_array(frames))
    pixels = _png(fig, tmp_path / "p.png")
    assert pixels.shape == (460, 1000, 3)  # 10 x 4.6 inches at 100 dpi
    images, bars = [ax for ax in fig.axes if ax.images], _colourbars(fig)
    assert len(images) == 2 and len(bars) == 2
    assert {ax.get_title() for ax in images} == {"sum of 6 frames", "max frame"}
    assert all(bar.get_ylabel() == "counts" for bar in bars)
    np.testing.assert_array_equal(images[1].images[0].get_array(), frames.max(0))
    for ax in images + bars:  # every panel and every colour bar has content, not a blank box
        region = _region(fig, ax, pixels)
        assert (
            region.size and region.std() > 10 and len(np.unique(region.reshape(-1, 3), axis=0)) > 8
        )


def test_spectrum_preview_has_a_log_axis_bands_and_maps_in_stage_units(tmp_path):
    from scanstack.datasets import write_crono

    path = tmp_path / "s.HDF5"
    truth = write_crono(path, rows=5, columns=6, channels=1024, images=False, seed=2)
    with scanstack.open(path) as stack:
        fig = preview(stack)
        save_preview(stack, tmp_path / "s.png")
    spectrum = fig.axes[0]
    assert spectrum.get_yscale() == "log" and spectrum.get_xlabel() == "energy (keV)"
    labels = {t.get_text() for t in spectrum.texts}
    assert {"FeKa", "CuKa"} <= labels
    maps = [ax for ax in fig.axes[1:] if ax.images]
    assert len(maps) == 4 and len(_colourbars(fig)) == 4
    # drawn in µm with equal scales: the panel's proportions are those of the scanned area
    g = truth.geometry
    (x0, x1), (y0, y1) = maps[0].get_xlim(), maps[0].get_ylim()
    assert abs(x1 - x0) == pytest.approx(6 * g.x_pitch) and abs(y1 - y0) == pytest.approx(
        5 * g.y_pitch
    )
    assert maps[0].get_aspect() == 1.0 and maps[0].get_xlabel().endswith("(µm)")
    pixels = np.asarray(Image.open(tmp_path / "s.png").convert("RGB"))
    assert pixels.shape[1] == 1280 and pixels.std() > 20
    drawn = _png(fig, tmp_path / "again.png")
    for ax in maps + _colourbars(fig):  # every map and colour bar has content
        region = _region(fig, ax, drawn)
        assert region.size and region.std() > 10, ax.get_title() or ax.get_xlabel()
    # no empty band between the spectrum and the maps (the maps' row is sized to their
    # proportions): from the spectrum's axis to the maps' top only its tick labels, its axis
    # label and the maps' titles
    gap_px = spectrum.get_window_extent().y0 - max(m.get_window_extent().y1 for m in maps)
    assert 0 < gap_px < 160, gap_px  # 116 px now; 252 px with a fixed 1 : 1.1 split


def test_array_png_is_one_pixel_per_value(tmp_path):
    data = np.linspace(0, 1000, 64 * 48).reshape(64, 48)
    data[0, 0] = np.nan
    render.array_png(data, tmp_path / "a.png")
    pixels = np.asarray(Image.open(tmp_path / "a.png"))
    assert pixels.shape == (64, 48, 3)
    assert (pixels[0, 0] == 0).all() and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100
    lo, hi = render.display_limits(data)
    assert 0 <= lo < 10 and 990 < hi <= 1000
    assert render.display_limits(np.array([0.0, 0.0, 5.0, 50.0]), log=True)[0] > 0

"""A synthetic CRONO scan with known truth: the mosaic and the element maps share stage µm."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import scanstack
import scanstack.xrf
from scanstack.datasets import write_crono
from scanstack.napari import read_layers

npe2 = pytest.importorskip("npe2")


def ncc(a, b) -> float:
    a = a - a.mean()
    b = b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def to_index(kwargs, world):
    """Layer data indices of world points ``(n, ndim)`` (napari's scale/translate, no affine)."""
    return (np.asarray(world, float) - kwargs["translate"]) / kwargs["scale"]


@pytest.fixture(scope="module")
def crono_scan(tmp_path_factory):
    """A 10 x 12 map over ~1 mm ink cells, with camera frames: ``(path, truth, layers)``."""
    path = tmp_path_factory.mktemp("crono") / "map.HDF5"
    truth = write_crono(path, rows=10, columns=12, line_dead_time=0.5, object_cell=96, seed=5)
    layers = npe2.read([str(path)], stack=False, plugin_name="scanstack")
    return path, truth, layers


def test_layers_are_mosaic_then_element_maps(crono_scan):
    path, truth, layers = crono_scan
    names = [k["name"] for _, k, _ in layers]
    assert names[0] == "camera mosaic"
    assert set(truth.element_lines) <= set(names[1:])  # the file's ROIs (plus Compton)
    mosaic, mk, _ = layers[0]
    assert mk["rgb"] and mosaic.ndim == 3 and mosaic.shape[2] == 3
    assert mk["units"] == ("µm", "µm")
    maps = layers[1:]
    assert {k["blending"] for _, k, _ in maps} == {"additive"}
    assert len({k["colormap"] for _, k, _ in maps}) == len(maps)  # one colour each
    with scanstack.open(path) as s:
        expected = scanstack.xrf.element_maps(s)
    for data, k, _ in maps:
        np.testing.assert_array_equal(data, expected[k["name"]])
        assert k["units"] == ("µm", "µm") and k["axis_labels"] == ("y", "x")
        lo, hi = k["contrast_limits"]
        assert lo == data.min() and hi == data.max()


def test_maps_sit_where_the_spectra_were_measured(crono_scan):
    """The stage position of each map pixel's spectrum (noiseless truth) lies inside the pixel
    napari draws: within half a pitch of its centre (the instrument picks one spectrum per
    pixel from a faster stream, so it is not at the centre)."""
    _, truth, layers = crono_scan
    _, k, _ = layers[1]
    rows, cols = np.indices(truth.selected_index.shape)
    world = np.asarray(k["translate"]) + np.stack([rows, cols], -1) * np.asarray(k["scale"])
    measured = truth.spectra_positions[truth.selected_index]  # (rows, cols, (x, y))
    g = truth.geometry
    assert np.abs(world[..., 0] - measured[..., 1]).max() < 0.05 * abs(g.y_pitch)
    assert np.abs(world[..., 1] - measured[..., 0]).max() < 0.5 * abs(g.x_pitch)


def test_mosaic_lies_on_the_object_in_stage_coordinates(crono_scan):
    """Sample the mosaic layer and the true object at the same world points: they agree."""
    _, truth, layers = crono_scan
    mosaic, mk, _ = layers[0]
    gray = mosaic.astype(np.float32).mean(-1)
    r, c = np.mgrid[0 : gray.shape[0] : 4, 0 : gray.shape[1] : 4]
    world = np.asarray(mk["translate"]) + np.stack([r, c], -1) * np.asarray(mk["scale"])
    obj = truth.object_image.astype(np.float32).mean(-1)
    oy = (world[..., 0] - truth.object_origin[1]) / truth.pixel_size
    ox = (world[..., 1] - truth.object_origin[0]) / truth.pixel_size
    ref = ndimage.map_coordinates(obj, [oy, ox], order=1)
    inside = (gray[r, c] > 0) & (oy > 0) & (ox > 0) & (oy < obj.shape[0] - 1)
    inside &= ox < obj.shape[1] - 1
    assert inside.mean() > 0.5
    assert ncc(gray[r, c][inside], ref[inside]) > 0.9


def test_element_maps_show_the_ink_under_them(crono_scan):
    """Each element map correlates with its true map, and the maps' world extent lies on the
    mosaic's: the overlay is right without any alignment by the user."""
    _, truth, layers = crono_scan
    mosaic, mk, _ = layers[0]
    lo_m = np.asarray(mk["translate"])
    hi_m = lo_m + (np.asarray(mosaic.shape[:2]) - 1) * np.asarray(mk["scale"])
    for data, k, _ in layers[1:]:
        corners = np.asarray(k["translate"]) + np.array(
            [[0, 0], [data.shape[0] - 1, data.shape[1] - 1]]
        ) * np.asarray(k["scale"])
        assert (corners >= lo_m).all() and (corners <= hi_m).all()
        if k["name"] in truth.element_maps:
            assert ncc(data, truth.element_maps[k["name"]]) > 0.9


def test_crono_without_frames_opens_its_maps(tmp_path):
    path = tmp_path / "noimages.HDF5"
    write_crono(path, rows=3, columns=4, images=False, seed=1)
    with pytest.warns(UserWarning, match="no camera mosaic"):
        layers = read_layers(str(path))
    assert layers and all(k["blending"] == "additive" for _, k, _ in layers)


def test_exported_crono_gives_maps(tmp_path):
    path = tmp_path / "exported.h5"
    write_crono(path, rows=3, columns=4, exported=True, seed=2)
    layers = read_layers(str(path))
    assert layers and all(d.shape == (3, 4) for d, _, _ in layers)

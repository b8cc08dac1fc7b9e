"""napari itself, headless: ``ViewerModel`` (no Qt) opens files through our manifest."""

from __future__ import annotations

import numpy as np
import pytest

from scanstack.datasets import write_crono

pytest.importorskip("napari")
from napari.components import ViewerModel  # noqa: E402


def test_viewer_opens_a_scan_with_sliders(scan_mib):
    viewer = ViewerModel()
    [layer] = viewer.open(str(scan_mib), plugin="scanstack")
    assert viewer.dims.ndim == 4
    assert viewer.dims.axis_labels == ("y", "x", "row", "column")
    assert viewer.dims.nsteps[:2] == (2, 4)  # navigation: two sliders
    assert viewer.dims.displayed == (2, 3)  # the frame is shown
    viewer.dims.set_current_step(0, 1)
    viewer.dims.set_current_step(1, 3)
    layer.refresh()
    import scanstack

    with scanstack.open(scan_mib) as s:
        expected = s.inav[1, 3][0]
    np.testing.assert_array_equal(np.asarray(layer._slice.image.raw), expected)


def test_viewer_overlays_crono_maps_on_the_mosaic(tmp_path):
    path = tmp_path / "scan.HDF5"
    write_crono(path, rows=4, columns=5, line_dead_time=1.0, seed=3)
    viewer = ViewerModel()
    layers = viewer.open(str(path), plugin="scanstack")
    mosaic, *maps = layers
    assert mosaic.name == "camera mosaic" and mosaic.rgb
    assert [str(u) for u in mosaic.units] == ["micrometer", "micrometer"]
    lo, hi = mosaic.extent.world
    for m in maps:
        assert m.blending == "additive"
        mlo, mhi = m.extent.world
        assert (mlo >= lo).all() and (mhi <= hi).all()  # on the object, in stage µm
        assert [str(u) for u in m.units] == ["micrometer", "micrometer"]
    assert len({m.colormap.name for m in maps}) == len(maps)


def test_viewer_layer_saves_through_our_writer(tmp_path):
    import scanstack

    viewer = ViewerModel()
    data = np.arange(3 * 8 * 10, dtype=np.uint16).reshape(3, 8, 10)
    viewer.add_image(data, scale=(2.0, 0.5, 0.5), units=("s", "µm", "µm"), name="img")
    out = tmp_path / "img.nxs"
    written = viewer.layers.save(str(out), plugin="scanstack")
    assert written == [str(out)]
    with scanstack.open(out) as s:
        np.testing.assert_array_equal(s.to_numpy(), data)
        assert [a.units for a in s.axes] == ["s", "µm", "µm"]
        assert [a.scale for a in s.axes] == [2.0, 0.5, 0.5]


def test_readme_example_runs(tmp_path, monkeypatch):
    """The README's napari example, as written (run in a temporary folder)."""
    import re
    from pathlib import Path

    import scanstack

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## napari", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    saved = tmp_path / f"{namespace['maps'][0].name}.nxs"
    with scanstack.open(saved) as s:
        data = namespace["maps"][0].data  # one frame: the file adds a frame axis of 1
        np.testing.assert_array_equal(s.to_numpy().reshape(data.shape), data)
        assert [(a.name, a.units) for a in s.signal_axes] == [("y", "µm"), ("x", "µm")]
        assert [a.scale for a in s.signal_axes] == list(namespace["maps"][0].scale)

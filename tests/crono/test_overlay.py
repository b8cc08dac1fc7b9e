"""`scanstack crono overlay`: element maps over the camera mosaic, in stage millimetres."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import scanstack
from scanstack.cli.main import main

pytest.importorskip("matplotlib")


def test_overlay_command_writes_the_picture(map_scan, tmp_path, capsys):
    path, _ = map_scan
    out = tmp_path / "overlay.png"
    argv = ["crono", "overlay", str(path), "--elements", "Pb,Fe,Cu", "-o", str(out), "-q"]
    assert main([*argv, "-r", "40"]) == 0
    assert "Pb, Fe, Cu over the camera mosaic" in capsys.readouterr().out
    pixels = np.asarray(Image.open(out).convert("RGB"))
    assert pixels.shape[1] == 1000 and 300 < pixels.shape[0] < 1400
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1000
    # an existing picture is kept unless --overwrite (checked before the work)
    assert main([*argv, "-r", "40"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    # unknown elements and wrong outputs are one-line errors
    other = str(tmp_path / "other.png")
    assert main(["crono", "overlay", str(path), "--elements", "Xx", "-o", other]) == 2
    assert "Xx" in capsys.readouterr().err
    assert (
        main(["crono", "overlay", str(path), "--elements", "Fe", "-o", str(tmp_path / "o.jpg")])
        == 2
    )


def test_overlay_places_each_map_on_its_stage_positions(map_scan, tmp_path):
    from scanstack.crono import ScanTrack, build_mosaic, map_positions, open_frames, place_frames
    from scanstack.preview.overlay import element_colours, overlay_figure

    path, truth = map_scan
    with scanstack.open(path) as stack:
        maps = scanstack.xrf.element_maps(stack, ["FeKa", "CuKa"])
    mx, my = map_positions(path)
    with open_frames(path) as frames:
        placement = place_frames(frames.reader.stamps(), ScanTrack.from_file(path))
        mosaic = build_mosaic(frames.reader, placement, resolution_um=40, refine=False)
    fig = overlay_figure(mosaic, maps, mx, my, title="t")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "stage X (mm)" and ax.get_ylabel() == "stage Y (mm)"
    assert ax.get_aspect() == 1.0 and ax.get_ylim()[1] > ax.get_ylim()[0]  # north up
    bars = [a for a in fig.axes if hasattr(a, "_colorbar")]
    fig.canvas.draw()  # lay out, so the colour bars have their places
    # read left to right, the colour bars come in the order the elements were asked for
    bars.sort(key=lambda b: b.get_window_extent().x0)
    assert [b.get_ylabel() for b in bars] == ["FeKa (counts)", "CuKa (counts)"]
    assert all(b.get_window_extent().x0 > ax.get_window_extent().x1 for b in bars)
    # the camera picture is drawn in grey, so colour on the picture is an element's alone
    picture = ax.images[0].get_array()
    assert np.allclose(picture[..., 0], picture[..., 1]) and np.allclose(
        picture[..., 1], picture[..., 2]
    )
    assert np.ptp(picture[..., 0]) > 0.3  # the mosaic's contrast is kept
    meshes = ax.collections
    assert len(meshes) == 2
    for mesh, m in zip(meshes, maps.values(), strict=True):
        np.testing.assert_array_equal(np.asarray(mesh.get_array()).reshape(m.shape), m)
        corners = mesh.get_coordinates()  # cell edges (mm) half a pitch around every position
        assert corners[..., 0].min() < mx.min() / 1000 < corners[..., 0].max()
        assert corners[..., 1].max() > my.max() / 1000
    scale_texts = [
        t.get_text() for a in ax.artists for t in a.findobj(lambda o: hasattr(o, "get_text"))
    ]
    assert any(s.endswith(" mm") for s in scale_texts)
    pixels = np.asarray(Image.open(_save(fig, tmp_path)).convert("RGB")).astype(int)
    # the Fe colour is in the picture: its colour bar at least, and the map over the mosaic
    fe = np.array(element_colours(2)[0]) * 255
    near = np.abs(pixels - fe).sum(-1) < 60
    assert near.sum() > 200


def _save(fig, tmp_path):
    from scanstack.preview import render

    out = tmp_path / "o.png"
    render.save_png(fig, out)
    return out


def test_nice_length_and_element_list():
    from scanstack.preview.overlay import element_list, nice_length

    assert nice_length(17.3) == 2.0 and nice_length(0.9) == 0.1 and nice_length(60) == 10
    assert element_list(" Pb, Fe,,Pb ,Cu") == ["Pb", "Fe", "Cu"]

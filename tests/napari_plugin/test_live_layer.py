"""A live stream (our Merlin simulator on loopback) shown in a headless napari viewer: the
virtual BF/ADF layers fill in as frames arrive and end equal to the file's images."""

from __future__ import annotations

import numpy as np
import pytest

import scanstack
from scanstack import stem
from scanstack.core.registry import register
from scanstack.formats.mib import write_mib
from scanstack.live import FORMAT
from scanstack.live.follow import detector_masks
from scanstack.live.simulator import MerlinSimulator
from scanstack.napari import add_live_layers

pytest.importorskip("napari")
from napari.components import ViewerModel  # noqa: E402


@pytest.fixture
def served(tmp_path):
    register(FORMAT)  # the merlin entry point exists only after a reinstall
    frames = np.random.default_rng(3).integers(0, 4000, size=(48, 128, 128)).astype(np.uint16)
    path = tmp_path / "scan.mib"
    write_mib(path, frames, depth=12, layout="2x2", raw=False, nav_shape=(48,))
    with MerlinSimulator(path) as sim:
        yield path, sim


def test_live_layers_fill_in_and_end_equal_to_the_scan(tmp_path, served):
    path, sim = served
    viewer = ViewerModel()
    steps = []
    with scanstack.open(
        f"merlin://127.0.0.1:{sim.data_port}", nav_shape=(6, 8), spill=tmp_path / "s.mib"
    ) as s:
        viewer.layers.events.inserted.connect(
            lambda e: e.value.events.data.connect(
                lambda ev: steps.append(int(np.isfinite(ev.source.data).sum()))
            )
        )
        layers, worker = add_live_layers(
            viewer, s, bf=20, adf=(30, 60), every_frames=8, background=False
        )
    assert worker is None
    assert [layer.name for layer in layers] == ["BF r=20 (live)", "ADF 30-60 (live)"]
    ref = scanstack.open(path, nav_shape=(6, 8))
    masks = detector_masks(ref.signal_shape, bf=20, adf=(30, 60))
    for layer, mask in zip(layers, masks.values(), strict=True):
        assert layer.data.shape == (6, 8)
        np.testing.assert_allclose(layer.data, stem.virtual_image(ref, mask))
    # filled in steps of at most 8 frames (fewer when the picture catches up with the stream):
    # pixels known per update, the same for both layers, growing to the whole scan
    bf_steps = steps[::2]
    assert steps[1::2] == bf_steps and bf_steps[-1] == 48 and len(bf_steps) >= 6
    assert all(0 < b - a <= 8 for a, b in zip([0, *bf_steps], bf_steps, strict=False))
    assert viewer.dims.axis_labels == ("y", "x")
    lo, hi = layers[0].contrast_limits
    assert lo == pytest.approx(layers[0].data.min()) and hi >= layers[0].data.max()


def test_live_layers_need_a_detector(served, tmp_path):
    path, _ = served
    with scanstack.open(path, nav_shape=(6, 8)) as s, pytest.raises(ValueError, match="bf="):
        add_live_layers(ViewerModel(), s, background=False)


def test_live_layers_over_a_ring(served):
    """Nothing recorded (``spill=False``, a 4-frame ring): the layers still get every frame."""
    path, sim = served
    stride = path.stat().st_size // 48
    viewer = ViewerModel()
    with scanstack.open(
        f"merlin://127.0.0.1:{sim.data_port}",
        nav_shape=(6, 8),
        spill=False,
        memory_budget=4 * 4 * stride,
    ) as s:
        assert s.ring.capacity == 4
        layers, _ = add_live_layers(viewer, s, bf=20, every_frames=8, background=False)
    ref = scanstack.open(path, nav_shape=(6, 8))
    mask = detector_masks(ref.signal_shape, bf=20)["BF r=20"]
    np.testing.assert_allclose(layers[0].data, stem.virtual_image(ref, mask))

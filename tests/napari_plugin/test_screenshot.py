"""A real napari window under Xvfb: the CRONO overlay is drawn (slow: starts Qt and a display)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scanstack.datasets import write_crono

pytestmark = pytest.mark.slow


def test_screenshot_shows_maps_over_the_mosaic(tmp_path):
    pytest.importorskip("napari")
    pytest.importorskip("qtpy.QtWidgets", exc_type=ImportError)
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run") is None:
        pytest.skip("no display and no xvfb-run")
    path = tmp_path / "scan.HDF5"
    write_crono(path, rows=4, columns=5, line_dead_time=1.0, seed=3)
    with_maps, mosaic_only = tmp_path / "maps.png", tmp_path / "mosaic.png"
    cmd = [sys.executable, str(Path(__file__).with_name("_screenshot.py"))]
    cmd += [str(path), str(with_maps), str(mosaic_only)]
    if not os.environ.get("DISPLAY"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", *cmd]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    a = np.asarray(Image.open(with_maps).convert("RGB")).astype(int)
    b = np.asarray(Image.open(mosaic_only).convert("RGB")).astype(int)
    assert a.shape == b.shape == (400, 600, 3)
    lit = b.sum(-1) > 30  # the mosaic covers part of the canvas, the rest is black
    assert 0.2 < lit.mean() < 0.95 and b[lit].std() > 20  # a picture, not a flat colour
    changed = np.abs(a - b).sum(-1) > 30
    assert changed.mean() > 0.05  # the maps are drawn ...
    assert (changed & ~lit).mean() < 0.01  # ... over the mosaic, not beside it


def test_live_layer_fills_in_a_real_window(tmp_path):
    """add_live_layers' default path: napari's thread_worker in a Qt window under Xvfb, fed by
    our Merlin simulator; the BF layer ends equal to the file's virtual image."""
    pytest.importorskip("napari")
    pytest.importorskip("qtpy.QtWidgets", exc_type=ImportError)
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run") is None:
        pytest.skip("no display and no xvfb-run")
    import scanstack
    from scanstack import stem
    from scanstack.formats.mib import write_mib
    from scanstack.live.follow import detector_masks

    frames = np.random.default_rng(3).integers(0, 4000, size=(48, 128, 128)).astype(np.uint16)
    mib = tmp_path / "scan.mib"
    write_mib(mib, frames, depth=12, layout="2x2", raw=False, nav_shape=(48,))
    out_npz, out_png = tmp_path / "live.npz", tmp_path / "live.png"
    cmd = [sys.executable, str(Path(__file__).with_name("_live_window.py"))]
    cmd += [str(mib), str(tmp_path / "spill.mib"), str(out_npz), str(out_png)]
    if not os.environ.get("DISPLAY"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", *cmd]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.load(out_npz)
    assert got["done"]
    ref = scanstack.open(mib, nav_shape=(6, 8))
    (mask,) = detector_masks(ref.signal_shape, bf=20).values()
    np.testing.assert_allclose(got["bf"], stem.virtual_image(ref, mask))
    updates = list(got["updates"])
    assert updates[-1] == 48 and updates == sorted(updates) and len(updates) >= 2
    shot = np.asarray(Image.open(out_png).convert("RGB")).astype(int)
    assert shot.shape == (300, 400, 3) and shot.std() > 10  # the image is drawn, not blank

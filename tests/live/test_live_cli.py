"""``scanstack live`` and LivePicture on a followed .mib that a writer thread is appending to."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from test_follow_mib import _acquisition, _start_live

import scanstack
from scanstack import stem
from scanstack.cli.main import main
from scanstack.core.growing import StalledError
from scanstack.live.follow import LivePicture, detector_masks


def test_live_picture_equals_the_finished_reductions(tmp_path):
    src, ref = _acquisition(tmp_path)
    dst, w = _start_live(src, tmp_path, delay=0.01)
    w.start()
    s = scanstack.open(dst, follow=True, timeout=5)
    masks = detector_masks(s.signal_shape, bf=3, adf=(4, 7))
    pic = LivePicture(s, masks)
    png = tmp_path / "live.png"
    writes = pic.run(png, every_frames=4, every_seconds=None)
    w.join()
    assert pic.done == 20 and writes == 5  # after 4, 8, 12, 16 frames, and the final picture
    bf, adf = (pic.images[k] for k in masks)
    np.testing.assert_allclose(bf, stem.virtual_image(ref, masks["BF r=3"]))
    np.testing.assert_allclose(adf, stem.virtual_image(ref, masks["ADF 4-7"]))
    np.testing.assert_array_equal(pic.sum_pattern, stem.sum_pattern(ref))
    assert Image.open(png).size[0] > 100
    assert not list(tmp_path.glob(".live.png.*"))  # no temporary left behind


def test_live_picture_of_a_stalled_scan_keeps_what_arrived(tmp_path):
    src, ref = _acquisition(tmp_path)
    stride = src.stat().st_size // ref.nframes
    dst, w = _start_live(src, tmp_path, upto=9 * stride + 3)
    w.start()
    w.join()
    s = scanstack.open(dst, follow=True, timeout=0.3)
    pic = LivePicture(s, detector_masks(s.signal_shape, bf=3))
    png = tmp_path / "stalled.png"
    with pytest.raises(StalledError, match="9 of 20 frames"):
        pic.run(png)
    bf = pic.images["BF r=3"].reshape(-1)
    assert np.isfinite(bf[:9]).all() and np.isnan(bf[9:]).all()
    np.testing.assert_allclose(
        bf[:9], stem.virtual_image(ref, detector_masks((16, 16), bf=3)["BF r=3"]).reshape(-1)[:9]
    )
    assert png.exists()  # the picture of the frames seen was written before the error


def test_cli_live_on_a_followed_file(tmp_path, capsys):
    src, ref = _acquisition(tmp_path)
    dst, w = _start_live(src, tmp_path, delay=0.01)
    w.start()
    png = tmp_path / "out" / "live.png"
    rc = main(
        [
            "live",
            str(dst),
            "--nav",
            "4x5",
            "--bf",
            "r=3",
            "--adf",
            "4,7",
            "-o",
            str(png),
            "--every-frames",
            "5",
            "-q",
        ]
    )
    w.join()
    assert rc == 0
    assert "20 frames" in capsys.readouterr().out
    img = np.asarray(Image.open(png).convert("L"))
    assert img.std() > 10  # panels with content, not a blank page


def test_cli_live_stalled_and_bad_options(tmp_path, capsys):
    src, ref = _acquisition(tmp_path)
    stride = src.stat().st_size // ref.nframes
    dst, w = _start_live(src, tmp_path, upto=5 * stride)
    w.start()
    w.join()
    png = tmp_path / "live.png"
    rc = main(["live", str(dst), "--bf", "r=3", "-o", str(png), "--timeout", "0.3", "-q"])
    assert rc == 2 and png.exists()
    assert "5 of 20 frames" in capsys.readouterr().err
    assert main(["live", str(dst), "--bf", "r=3", "-o", str(png)]) == 2  # exists: refused first
    assert "exists" in capsys.readouterr().err
    png = tmp_path / "other.png"
    assert main(["live", str(dst), "--nav", "4by5", "--bf", "3", "-o", str(png)]) == 2
    assert "--nav wants ROWSxCOLUMNS" in capsys.readouterr().err
    assert main(["live", str(dst), "--bf", "radius=3", "-o", str(png)]) == 2
    assert "--bf wants r=N" in capsys.readouterr().err


def test_cli_live_on_a_merlin_stream(tmp_path, simulate, capsys):
    """``scanstack live merlin://HOST:PORT``: the picture of a stream from our simulator, whose
    BF panel equals the BF image of the file served."""
    from live_helpers import make_mib

    path = make_mib(tmp_path / "scan.mib", 12, "2x2", False, n=48)
    sim = simulate(path)
    png = tmp_path / "live.png"
    spill = tmp_path / "spill.mib"
    args = ["live", f"merlin://127.0.0.1:{sim.data_port}", "--nav", "6x8", "--bf", "r=30"]
    rc = main([*args, "--no-sum", "-o", str(png), "-i", f"spill={spill}", "--timeout", "30"])
    out = capsys.readouterr().out
    assert rc == 0 and "48 frames" in out and f"recorded: {spill} (+ .hdr)" in out
    # the same picture drawn from the file served: pixel for pixel the same PNG
    ref = scanstack.open(path, nav_shape=(6, 8))
    masks = detector_masks(ref.signal_shape, bf=30)
    ref_png = tmp_path / "ref.png"
    LivePicture(ref, masks, sum_pattern=False).run(ref_png)
    got = np.asarray(Image.open(png).convert("RGB"))
    np.testing.assert_array_equal(got, np.asarray(Image.open(ref_png).convert("RGB")))
    assert got.std() > 10  # a picture, not a blank page
    assert spill.read_bytes() == path.read_bytes()  # the recording is the file served


def test_live_picture_of_a_stream_equals_the_bf_image(tmp_path, simulate):
    from live_helpers import make_mib

    path = make_mib(tmp_path / "scan.mib", 6, "1x1", True, n=40)
    sim = simulate(path)
    ref = scanstack.open(path, nav_shape=(5, 8))
    with scanstack.open(
        f"merlin://127.0.0.1:{sim.data_port}", nav_shape=(5, 8), spill=tmp_path / "s.mib"
    ) as s:
        masks = detector_masks(s.signal_shape, bf=20)
        pic = LivePicture(s, masks)
        pic.run(tmp_path / "p.png", every_frames=8, every_seconds=None)
        assert s.frames_available() == 40 and s.arrived().nframes == 40
    np.testing.assert_allclose(pic.images["BF r=20"], stem.virtual_image(ref, masks["BF r=20"]))
    np.testing.assert_array_equal(pic.sum_pattern, stem.sum_pattern(ref))

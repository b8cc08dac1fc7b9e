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

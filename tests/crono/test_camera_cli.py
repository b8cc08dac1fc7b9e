"""``scanstack crono frames|mosaic|summary`` through the main CLI."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from scanstack.cli.main import main
from scanstack.crono import open_frames

REPO = Path(__file__).resolve().parents[2]


def test_frames_command(small_scan, tmp_path, capsys):
    path, truth = small_scan
    out = tmp_path / "frames"
    assert main(["crono", "frames", str(path), "-o", str(out), "-q"]) == 0
    files = sorted(out.glob("frame_*.jpg"))
    assert len(files) == truth.n_frames
    with open_frames(path) as stack:
        assert files[5].read_bytes() == stack.reader.jpeg(5)  # the original bytes, not re-encoded
    with open(out / "frames.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["stamp_us"]) for r in rows] == truth.frame_timestamps.tolist()
    assert {r["phase"] for r in rows} == {"before", "row", "row_change", "after"}
    assert "free-running" in capsys.readouterr().out
    # a range of frames
    part = tmp_path / "part"
    assert main(["crono", "frames", str(path), "-o", str(part), "-q", "--frames", "10:20"]) == 0
    assert len(list(part.glob("*.jpg"))) == 10


def test_mosaic_command(small_scan, tmp_path, capsys):
    path, truth = small_scan
    out = tmp_path / "mosaic.png"
    res = 2 * truth.pixel_size
    assert main(["crono", "mosaic", str(path), "-o", str(out), "-q", "--resolution", str(res)]) == 0
    img = np.asarray(Image.open(out))
    assert img.ndim == 3 and img.shape[2] == 3 and img.shape[0] > 50
    up = tmp_path / "north.png"
    assert (
        main(["crono", "mosaic", str(path), "-o", str(up), "-q", "-r", str(res), "--north-up"]) == 0
    )
    np.testing.assert_array_equal(np.asarray(Image.open(up)), img[::-1])
    # the scale is stored in the picture: pixel size and the motor position of pixel (0, 0)
    desc = Image.open(out).text["Description"]
    assert f"{res:g} um per pixel" in desc and "y increases downwards" in desc
    assert "y decreases downwards" in Image.open(up).text["Description"]
    assert "registered pairs" in capsys.readouterr().out
    flipped = tmp_path / "flipped.png"
    args = ["crono", "mosaic", str(path), "-o", str(flipped), "-q", "-r", str(res)]
    assert main([*args, "--flip-y", "--auto-camera"]) == 0  # the measurement undoes the flip
    assert "y_sign=+1" in capsys.readouterr().out
    again = np.asarray(Image.open(flipped)).astype(float).mean(-1)
    h, w = min(again.shape[0], img.shape[0]), min(again.shape[1], img.shape[1])
    a, b = again[:h, :w], img[:h, :w].astype(float).mean(-1)  # same picture, same way up
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9
    assert main(["crono", "summary", str(path), "-q", "--json"]) == 0
    assert '"frames_per_spectrum"' in capsys.readouterr().out


def test_empty_slots_are_skipped_not_fatal(small_scan, tmp_path, capsys):
    import shutil

    import h5py

    path, truth = small_scan
    holed = tmp_path / "holed.HDF5"
    shutil.copy(path, holed)
    with h5py.File(holed, "a") as f:
        f["Images/Static"][5] = np.zeros(0, np.uint8)  # frame 4 (slot 0 is always empty)
    out = tmp_path / "frames"
    assert main(["crono", "frames", str(holed), "-o", str(out), "-q"]) == 0
    assert "1 empty image slot(s) skipped (frames 4)" in capsys.readouterr().err
    assert len(list(out.glob("frame_*.jpg"))) == truth.n_frames - 1
    assert not (out / "frame_000004.jpg").exists()
    with open(out / "frames.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[4]["phase"] == "empty" and int(rows[5]["stamp_us"]) == truth.frame_timestamps[5]
    mosaic = tmp_path / "m.png"
    args = ["crono", "mosaic", str(holed), "-o", str(mosaic), "-q", "-r", str(2 * truth.pixel_size)]
    assert main([*args, "--all-frames"]) == 0
    assert np.asarray(Image.open(mosaic)).shape[0] > 50


def test_cli_errors(tmp_path, write_static, real_blob, capsys):
    bad = tmp_path / "bad.HDF5"
    write_static(bad, [b"", real_blob[:-3]])
    assert main(["crono", "frames", str(bad), "-o", str(tmp_path / "o")]) == 2
    assert "Static[1]" in capsys.readouterr().err
    assert main(["crono", "mosaic", str(bad), "-o", str(tmp_path / "m.gif")]) == 2
    assert "write .png" in capsys.readouterr().err


@pytest.mark.slow
def test_benchmark_quick():
    """The benchmark script runs end to end (speed itself is read from its output, not asserted)."""
    script = REPO / "benchmarks" / "bench_crono_frames.py"
    run = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    assert "ratio" in run.stdout and "frames/s" in run.stdout


@pytest.mark.slow
def test_registration_benchmark_quick():
    """Ours against scikit-image on the same frame pairs (speed is read, not asserted)."""
    pytest.importorskip("skimage")
    script = REPO / "benchmarks" / "bench_registration.py"
    run = subprocess.run(
        [sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    assert "pairs/s" in run.stdout and "ours / scikit-image speed" in run.stdout

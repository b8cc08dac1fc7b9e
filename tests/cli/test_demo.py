"""`scanstack demo` (what `make demo` runs) writes every output and they open again."""

import numpy as np
import pytest
import tifffile
from PIL import Image

import scanstack
from scanstack.cli.main import main


def test_demo_writes_and_reopens(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "outputs in" in printed
    for name in ("series.png", "scan-mib.png", "crono.png", "crono-mosaic.png"):
        assert Image.open(out / name).format == "PNG"
    # the pictures drawn by matplotlib: their sizes and real content (not a blank page)
    sizes = {"series.png": (1000, 460), "scan-mib.png": (1000, 460), "crono.png": (1280, 699)}
    for name, size in sizes.items():
        img = Image.open(out / name)
        assert img.size == size, name
        assert np.asarray(img.convert("L")).std() > 20, name
    overlay = Image.open(out / "crono-overlay.png")
    assert overlay.size[0] == 1000 and np.asarray(overlay.convert("RGB")).std() > 20
    series = scanstack.open(out / "series.h5")
    np.testing.assert_array_equal(tifffile.imread(out / "max.tif"), series.to_numpy().max(0))
    clean = scanstack.open(out / "series-clean.npz")
    assert clean.nav_shape == series.nav_shape and "omega" in clean.metadata
    mib = scanstack.open(out / "scan.mib")
    zarr = scanstack.open(out / "scan.zarr")
    assert zarr.shape == mib.shape == (16, 16, 256, 256)
    np.testing.assert_array_equal(zarr.inav[3, 4].to_numpy(), mib.inav[3, 4].to_numpy())
    # the live step: the recording is the scan served, the picture its BF while it arrived
    assert (out / "scan-live.mib").read_bytes() == (out / "scan.mib").read_bytes()
    live = Image.open(out / "scan-live.png")
    assert np.asarray(live.convert("L")).std() > 20
    crono = next(out.glob("*.HDF5"))
    nexus = scanstack.open(out / "crono.nxs")
    np.testing.assert_array_equal(nexus.to_numpy(), scanstack.open(crono).to_numpy())


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    out = tmp_path / "demo"
    out.mkdir()
    (out / "series.h5").write_bytes(b"someone's data")
    assert main(["demo", "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "is not empty" in err and "--overwrite" in err
    assert (out / "series.h5").read_bytes() == b"someone's data"


@pytest.mark.slow
def test_demo_runs_again_with_overwrite(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out), "--quiet"]) == 0
    first = sorted(p.name for p in out.iterdir())
    assert main(["demo", "--output", str(out), "--quiet", "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == first

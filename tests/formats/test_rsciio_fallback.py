"""Files RosettaSciIO reads and scanstack does not: opened through the RosettaSciIO fallback.

The format is registered here with ``register()`` (its entry point is only seen after the
package is reinstalled). Files are written by RosettaSciIO's own blockfile writer and, for MRC,
byte by byte from the format's published header layout.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import scanstack
from scanstack import stats, stem
from scanstack.cli.main import main
from scanstack.core import registry

pytest.importorskip("rsciio")
pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def fallback_registered(monkeypatch):
    """The fallback registered for one test (restored after it, whatever was there)."""
    from scanstack.formats import rsciio_fallback

    registry.formats()  # the natives first, as the entry points load them
    monkeypatch.setitem(registry._registry, "rsciio", rsciio_fallback.FORMAT)
    return rsciio_fallback


def _blockfile(path, data: np.ndarray, scale_nm: float = 2.5) -> None:
    from rsciio.blockfile import file_writer

    ny, nx, h, w = data.shape
    axes = [
        {
            "name": "y",
            "size": ny,
            "scale": scale_nm,
            "offset": 0.0,
            "units": "nm",
            "navigate": True,
        },
        {
            "name": "x",
            "size": nx,
            "scale": scale_nm,
            "offset": 0.0,
            "units": "nm",
            "navigate": True,
        },
        {"name": "ky", "size": h, "scale": 0.1, "offset": 0.0, "units": "1/nm", "navigate": False},
        {"name": "kx", "size": w, "scale": 0.1, "offset": 0.0, "units": "1/nm", "navigate": False},
    ]
    signal = {
        "data": data,
        "axes": axes,
        "metadata": {"General": {"title": "blo test"}},
        "original_metadata": {},
        "attributes": {"_lazy": False},
    }
    file_writer(str(path), signal, show_progressbar=False)


def _mrc(path, data: np.ndarray, voxel_a: float = 1.5) -> None:
    """A minimal MRC2014 file: 1024-byte header (nx, ny, nz, mode, cell, axis map, 'MAP ')."""
    nz, ny, nx = data.shape
    header = np.zeros(256, "<i4")
    header[0:3] = nx, ny, nz
    header[3] = 2  # mode 2: float32
    header[7:10] = nx, ny, nz  # sampling = size: the cell is voxel_a per pixel
    header[10:13] = np.array([nx, ny, nz], "<f4").view("<i4") * 0 + np.array(
        [nx * voxel_a, ny * voxel_a, nz * voxel_a], "<f4"
    ).view("<i4")
    header[13:16] = np.array([90, 90, 90], "<f4").view("<i4")
    header[16:19] = 1, 2, 3
    header[52] = np.frombuffer(b"MAP ", "<i4")[0]
    header[53] = np.frombuffer(b"\x44\x44\x00\x00", "<i4")[0]
    with open(path, "wb") as fh:
        fh.write(header.tobytes())
        fh.write(np.ascontiguousarray(data, "<f4").tobytes())


@pytest.fixture
def blo(tmp_path):
    rng = np.random.default_rng(4)
    data = rng.integers(0, 255, (3, 4, 16, 16)).astype(np.uint8)
    path = tmp_path / "scan.blo"
    _blockfile(path, data)
    return path, data


def test_blockfile_opens_by_detection_with_axes_and_values(blo):
    path, data = blo
    assert registry.detect_format(path) == "rsciio"
    with scanstack.open(path) as stack:
        assert stack.nav_shape == (3, 4) and stack.signal_shape == (16, 16)
        np.testing.assert_array_equal(stack.to_numpy(), data)
        np.testing.assert_array_equal(stack.inav[2, 1].to_numpy(), data[2, 1])
        np.testing.assert_array_equal(stack[5, 2:6, 3:9], data.reshape(12, 16, 16)[5, 2:6, 3:9])
        nav = stack.nav_axes
        assert [a.units for a in nav] == ["nm", "nm"] and nav[0].scale == pytest.approx(2.5)
        assert stack.reader.plugin == "Blockfile"
        assert stack.metadata["original_file"] == "scan.blo"
        back = pickle.loads(pickle.dumps(stack.reader))  # re-opens by path
        np.testing.assert_array_equal(back.read(0, 2), data.reshape(12, 16, 16)[:2])


def test_mrc_values_and_every_tool(tmp_path):
    data = np.random.default_rng(1).normal(size=(5, 12, 10)).astype(np.float32)
    path = tmp_path / "vol.mrc"
    _mrc(path, data)
    with scanstack.open(path) as stack:
        assert stack.reader.plugin == "MRC"
        assert stack.shape == data.shape
        np.testing.assert_array_equal(stack.to_numpy(), data)
        np.testing.assert_allclose(stats.max(stack), data.max(0))
        np.testing.assert_allclose(stats.average(stack), data.mean(0), rtol=1e-5)
    # conversion and previews through the command line
    assert main(["convert", str(path), str(tmp_path / "vol.zarr"), "--format", "zarr", "-q"]) == 0
    np.testing.assert_array_equal(scanstack.open(tmp_path / "vol.zarr").to_numpy(), data)
    assert main(["preview", str(path), "-o", str(tmp_path / "vol.png"), "-q"]) == 0
    assert (tmp_path / "vol.png").stat().st_size > 10_000


def test_reader_contract(blo, tmp_path):
    from scanstack.testing import check_reader

    path, data = blo
    check_reader(path, "rsciio", expected=data)
    vol = np.random.default_rng(2).normal(size=(4, 9, 7)).astype(np.float32)
    _mrc(tmp_path / "v.mrc", vol)
    check_reader(tmp_path / "v.mrc", "rsciio", expected=vol)


def test_stem_tools_on_a_blockfile(blo):
    path, data = blo
    with scanstack.open(path) as stack:
        images = stem.preview_images(stack)
    np.testing.assert_array_equal(images["sum pattern"], data.sum(axis=(0, 1)))


def test_native_readers_stay_first(tmp_path, fallback_registered):
    """An extension both read (.tif, .mib, .h5, .nxs, .npy, ...) is never claimed by the fallback."""
    native = fallback_registered.native_extensions()
    shared = native & set(fallback_registered.rsciio_extensions())
    assert {".tif", ".mib", ".h5", ".nxs"} <= shared
    spec = registry.formats()["rsciio"]
    for ext in sorted(shared):
        probe_path = tmp_path / f"probe{ext}"
        probe_path.write_bytes(b"\0" * 64)
        assert spec.sniff(registry.Probe(probe_path)) == 0, ext
    blo = tmp_path / "probe.blo"
    blo.write_bytes(b"\0" * 64)
    assert spec.sniff(registry.Probe(blo)) == fallback_registered.FALLBACK_SCORE
    path = tmp_path / "a.tif"
    import tifffile

    tifffile.imwrite(path, np.zeros((2, 4, 4), np.uint16))
    assert registry.detect_format(path) == "tiff"


def test_unreadable_file_is_a_format_error(tmp_path, capsys):
    bad = tmp_path / "junk.dm4"
    bad.write_bytes(b"not a DM4 file at all" * 10)
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("scanstack: error:") and "junk.dm4" in err and "Traceback" not in err


def test_formats_lists_the_fallback_last(capsys):
    assert main(["formats"]) == 0
    out = capsys.readouterr().out
    head, _, tail = out.partition("fallback, used when no format above reads the file: rsciio")
    assert tail and ".dm4" in tail and ".blo" in tail and ".mrc" in tail
    assert ".tif" not in tail.split() and "rsciio" not in head

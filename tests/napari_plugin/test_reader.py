"""The reader contribution through npe2's own ``read``: real .mib files, a hexrd series, NeXus."""

from __future__ import annotations

import shutil

import dask.array as da
import h5py
import numpy as np
import pytest

import scanstack
from scanstack.core.axes import Axis
from scanstack.core.errors import ScanstackError
from scanstack.napari import get_reader, read_layers

npe2 = pytest.importorskip("npe2")


def read(path):
    return npe2.read([str(path)], stack=False, plugin_name="scanstack")


def test_real_mib_scan_is_a_lazy_layer_with_sliders(scan_mib):
    [(data, kwargs, kind)] = read(scan_mib)
    assert kind == "image" and isinstance(data, da.Array)
    with scanstack.open(scan_mib) as s:
        assert data.shape == s.shape == (2, 4, 256, 256)
        np.testing.assert_array_equal(data[1, 2].compute(), s.inav[1, 2][0])
    assert kwargs["axis_labels"] == ("y", "x", "row", "column")
    assert kwargs["scale"] == (1.0, 1.0, 1.0, 1.0)
    assert kwargs["units"] == ("pixel",) * 4  # the file has no calibration
    assert kwargs["name"] == "001_4x2_6bit.mib"
    assert kwargs["metadata"]["scanstack_format"] == "mib"


def test_nothing_is_read_at_open(scan_mib, tmp_path):
    """Overwrite a frame's pixels after the layer exists: the layer shows the new pixels, so
    opening kept no copy and reads when napari asks."""
    path = tmp_path / scan_mib.name
    shutil.copy(scan_mib, path)
    shutil.copy(scan_mib.with_suffix(".hdr"), path.with_suffix(".hdr"))
    [(data, _, _)] = read(path)
    frame_bytes = path.stat().st_size // 8  # 8 frames of (header + 256 * 256 bytes)
    header = frame_bytes - 256 * 256
    with open(path, "r+b") as fh:  # frame 5 = scan position (1, 1)
        fh.seek(5 * frame_bytes + header)
        fh.write(bytes([7]) * (256 * 256))
    np.testing.assert_array_equal(data[1, 1].compute(), np.full((256, 256), 7, np.uint8))


@pytest.mark.filterwarnings("ignore:.*sequence numbers")  # the real file says so: a MibWarning
def test_real_single_mib(shared_data):
    [(data, kwargs, _)] = read(shared_data / "mib" / "readmib_example.mib")
    with scanstack.open(shared_data / "mib" / "readmib_example.mib") as s:
        np.testing.assert_array_equal(data.compute(), s.to_numpy())
    assert kwargs["axis_labels"] == ("frame", "row", "column")


def test_nexus_axes_become_scale_translate_units(tmp_path):
    data = np.random.default_rng(0).integers(0, 1000, (3, 4, 6, 5)).astype(np.uint16)
    axes = [
        Axis("y", 3, "µm", 25.0, 1000.0),
        Axis("x", 4, "µm", 10.0, -50.0),
        Axis("ky", 6, "1/nm", 0.02, -0.06, navigate=False),
        Axis("kx", 5, "1/nm", 0.02, -0.04, navigate=False),
    ]
    path = scanstack.save(scanstack.Stack.from_array(data, 2, axes), tmp_path / "s.nxs", "nexus")
    [(layer, kwargs, _)] = read(path)
    np.testing.assert_array_equal(layer.compute(), data)
    assert kwargs["scale"] == pytest.approx((25.0, 10.0, 0.02, 0.02))
    assert kwargs["translate"] == pytest.approx((1000.0, -50.0, -0.06, -0.04))
    assert kwargs["units"] == ("µm", "µm", "1/nm", "1/nm")
    assert kwargs["axis_labels"] == ("y", "x", "ky", "kx")


def test_hexrd_series(tmp_path):
    frames = np.arange(5 * 8 * 6, dtype=np.uint16).reshape(5, 8, 6)
    path = scanstack.save(
        scanstack.Stack.from_array(frames), tmp_path / "series.h5", "hdf5", path="imageseries"
    )
    [(layer, kwargs, _)] = read(path)
    np.testing.assert_array_equal(layer.compute(), frames)
    assert layer.shape == (5, 8, 6) and len(kwargs["scale"]) == 3


def test_spectrum_stack_puts_energy_on_a_slider(tmp_path):
    cube = np.random.default_rng(1).poisson(3.0, (4, 5, 32)).astype(np.uint32)
    axes = [
        Axis("y", 4, "µm", 100.0, 0.0),
        Axis("x", 5, "µm", 50.0, 0.0),
        Axis("energy", 32, "keV", 0.5, 0.1, navigate=False),
    ]
    path = scanstack.save(scanstack.Stack.from_array(cube, 1, axes), tmp_path / "x.nxs", "nexus")
    [(layer, kwargs, _)] = read(path)
    assert layer.shape == (32, 4, 5)
    np.testing.assert_array_equal(layer[7].compute(), cube[..., 7])
    assert kwargs["axis_labels"] == ("energy", "y", "x")
    assert kwargs["units"] == ("keV", "µm", "µm")
    assert kwargs["scale"] == pytest.approx((0.5, 100.0, 50.0))


def test_unknown_units_fall_back_to_pixels(tmp_path):
    data = np.ones((2, 3, 4), np.float32)
    axes = [
        Axis("t", 2, "a.u.", 2.0),
        Axis("r", 3, "arb units", navigate=False),
        Axis("c", 4, "mrad", navigate=False),
    ]
    path = scanstack.save(scanstack.Stack.from_array(data, 2, axes), tmp_path / "u.nxs", "nexus")
    [(_, kwargs, _)] = read(path)
    assert kwargs["units"] == ("pixel", "pixel", "mrad")
    assert kwargs["metadata"]["axes"][0]["units"] == "a.u."  # the file's text is kept


def test_foreign_files_are_declined(tmp_path):
    """A .h5 none of our formats reads, and a text file called .tif: no reader offered."""
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["table"] = np.arange(3)
    (tmp_path / "notes.tif").write_text("not an image")
    assert get_reader(str(tmp_path / "other.h5")) is None
    assert get_reader(str(tmp_path / "notes.tif")) is None
    assert get_reader([str(tmp_path / "a.mib"), str(tmp_path / "b.mib")]) is None
    with pytest.raises(ValueError):  # npe2: no plug-in returned data
        read(tmp_path / "other.h5")


def test_bad_file_is_a_scanstack_error(scan_mib, tmp_path):
    """A .mib cut inside its first frame: a clear error naming the file."""
    path = tmp_path / "cut.mib"
    path.write_bytes(scan_mib.read_bytes()[:1000])
    with pytest.raises(ScanstackError, match="cut.mib"):
        read_layers(str(path))

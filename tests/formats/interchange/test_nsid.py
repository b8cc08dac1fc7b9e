"""NSID: files written by scanstack pass pyNSID's checks and read back; pyNSID-written files read."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
from _interchange_helpers import assert_same_stack

import scanstack
from scanstack.core.errors import FormatError
from scanstack.formats.nsid import write_nsid


@pytest.fixture(scope="module")
def pynsid():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyNSID
        import sidpy

    return pyNSID, sidpy


def test_pynsid_validates_and_reads(tmp_path, pynsid, xrf_stack):
    pyNSID, _ = pynsid
    out = scanstack.save(xrf_stack, tmp_path / "map.h5", "nsid", compression="gzip", progress=True)
    with h5py.File(out) as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main = f["/Measurement_000/Channel_000/data/data"]
        assert bool(pyNSID.io.hdf_utils.check_if_main(main))
        ds = pyNSID.io.hdf_utils.read_h5py_dataset(main)
        assert ds.shape == (5, 10, 256)
        np.testing.assert_array_equal(np.asarray(ds), xrf_stack.to_numpy())
        assert [ds._axes[i].name for i in range(3)] == ["y", "x", "energy"]
        assert ds._axes[0].units == "mm" and ds._axes[2].units == "keV"
        np.testing.assert_allclose(np.asarray(ds._axes[1]), 5.0 + 0.01 * np.arange(10))
        assert ds.data_type.name == "SPECTRAL_IMAGE"
        assert ds.metadata["title"] == "synthetic XRF map"
        assert ds.metadata["energy_calibration"]["b"] == pytest.approx(0.0119281593146)


def test_pynsid_validates_4d(tmp_path, pynsid, stem_stack):
    pyNSID, _ = pynsid
    out = write_nsid(stem_stack, tmp_path / "stem.h5", compression=None)
    with h5py.File(out) as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main = f["/Measurement_000/Channel_000/data/data"]
        assert bool(pyNSID.io.hdf_utils.check_if_main(main))
        ds = pyNSID.io.hdf_utils.read_h5py_dataset(main)
        assert ds.data_type.name == "IMAGE_4D"
        assert ds._axes[2].dimension_type.name == "RECIPROCAL"


@pytest.mark.parametrize("which", ["xrf", "stem"])
def test_round_trip(tmp_path, xrf_stack, stem_stack, which):
    stack = xrf_stack if which == "xrf" else stem_stack
    out = write_nsid(stack, tmp_path / "rt.h5")
    assert scanstack.detect_format(out) == "nsid"
    with scanstack.open(out) as s:
        assert_same_stack(s, stack)
        np.testing.assert_array_equal(s.inav[1:, 1::2].to_numpy(), stack.to_numpy()[1:, 1::2])
        original = {k: v for k, v in s.original_metadata.items() if k != "@main_attrs"}
        assert original == stack.original_metadata


def test_read_pynsid_written(tmp_path, pynsid):
    pyNSID, sidpy = pynsid
    arr = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    ds = sidpy.Dataset.from_array(arr, title="probe")
    ds.data_type = "SPECTRAL_IMAGE"
    ds.quantity, ds.units, ds.modality, ds.source = "Counts", "counts", "xrf", "test"
    ds.set_dimension(
        0,
        sidpy.Dimension(
            np.arange(2) * 0.2, "y", units="mm", quantity="Length", dimension_type="spatial"
        ),
    )
    ds.set_dimension(
        1,
        sidpy.Dimension(
            np.arange(3) * 0.1, "x", units="mm", quantity="Length", dimension_type="spatial"
        ),
    )
    ds.set_dimension(
        2,
        sidpy.Dimension(
            np.linspace(1, 5, 5),
            "energy",
            units="keV",
            quantity="Energy",
            dimension_type="spectral",
        ),
    )
    ds.metadata = {"a": 1, "b": {"c": "x"}}
    path = tmp_path / "pynsid.h5"
    with h5py.File(path, "w") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyNSID.io.hdf_io.write_nsid_dataset(
            ds, f.create_group("Measurement_000/Channel_000"), main_data_name="xrf_map"
        )
    assert scanstack.detect_format(path) == "nsid"
    s = scanstack.open(path)
    assert s.nav_shape == (2, 3) and s.signal_shape == (5,)
    np.testing.assert_array_equal(s.to_numpy(), arr)
    assert [a.name for a in s.axes] == ["y", "x", "energy"]
    np.testing.assert_allclose(s.axes[0].coordinates, [0.0, 0.2])
    assert s.axes[2].units == "keV"
    assert s.metadata["a"] == 1 and s.metadata["b"] == {"c": "x"}
    assert s.metadata["quantity"] == "Counts"


def test_errors_for_malformed_input(tmp_path, xrf_stack):
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["data"] = np.zeros((3, 4))
    with pytest.raises(FormatError, match="no NSID Main dataset"):
        scanstack.open(plain, "nsid")
    out = write_nsid(xrf_stack, tmp_path / "ok.h5")
    with pytest.raises(FormatError, match="not an NSID Main dataset") as err:
        scanstack.open(out, "nsid", path="/Measurement_000/Channel_000/data/x")
    assert err.value.where == "/Measurement_000/Channel_000/data/x"
    with pytest.raises(FormatError, match="cannot hold 5-D frames"):
        scanstack.open(out, "nsid", signal_ndim=5)

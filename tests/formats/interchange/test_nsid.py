"""NSID: files written by scanstack pass pyNSID's checks and read back; pyNSID-written files read."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
from _interchange_helpers import assert_same_axes, assert_same_stack

import scanstack
from scanstack import Axis
from scanstack.core.errors import FormatError
from scanstack.core.metadata import to_jsonable
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


def _pynsid_read(pyNSID, path, capsys):
    """pyNSID's own reader on the Main dataset; it prints (not warns) when it drops a dimension."""
    with h5py.File(path) as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main = f["/Measurement_000/Channel_000/data/data"]
        assert bool(pyNSID.io.hdf_utils.check_if_main(main))
        ds = pyNSID.io.hdf_utils.read_h5py_dataset(main)
        data = np.asarray(ds)
        dims = [
            (
                ds._axes[i].name,
                ds._axes[i].units,
                ds._axes[i].quantity,
                ds._axes[i].dimension_type.name,
                np.asarray(ds._axes[i]),
            )
            for i in range(ds.ndim)
        ]
        meta = dict(ds.metadata)
    assert "not NSID type" not in capsys.readouterr().out
    return ds, data, dims, meta


def test_crono_map_converted_by_the_cli_reads_in_pynsid(tmp_path, pynsid, crono_file, capsys):
    from scanstack.cli.main import main

    pyNSID, _ = pynsid
    out = tmp_path / "crono_nsid.h5"
    assert main(["convert", str(crono_file), str(out), "--format", "nsid", "--quiet"]) == 0
    with scanstack.open(crono_file) as src:
        ds, data, dims, meta = _pynsid_read(pyNSID, out, capsys)
        np.testing.assert_array_equal(data, src.to_numpy())
        assert ds.data_type.name == "SPECTRAL_IMAGE"
        assert (ds.quantity, ds.units) == ("Counts", "counts")
        assert [d[:4] for d in dims] == [
            ("y", "µm", "Length", "SPATIAL"),
            ("x", "µm", "Length", "SPATIAL"),
            ("energy", "keV", "Energy", "SPECTRAL"),
        ]
        for (*_, values), axis in zip(dims, src.axes, strict=True):
            np.testing.assert_allclose(values, axis.coordinates, rtol=1e-12)
        assert meta["title"] == src.metadata["title"]
        assert meta["dwell_time"] == src.metadata["dwell_time"]
        assert meta["energy_calibration"] == src.metadata["energy_calibration"]
        with h5py.File(out) as f:  # per-position arrays outside Main's group, as datasets
            chan = f["/Measurement_000/Channel_000"]
            assert "positions" not in chan["data"]
            np.testing.assert_array_equal(
                chan["data_positions/motor_positions"][()], src.metadata["motor_positions"]
            )
        with scanstack.open(out) as back:  # and our reader still finds everything
            np.testing.assert_array_equal(back.to_numpy(), src.to_numpy())
            assert_same_axes(back.axes, src.axes)
            for key, value in src.metadata.items():
                if key in ("format", "original_file"):
                    continue
                if isinstance(value, np.ndarray):
                    np.testing.assert_array_equal(back.metadata[key], value, err_msg=key)
                else:
                    assert back.metadata[key] == to_jsonable(value), key


def test_mib_converted_keeps_every_dimension_in_pynsid(tmp_path, pynsid, mib_file, capsys):
    pyNSID, _ = pynsid
    with scanstack.open(mib_file) as src:
        out = scanstack.save(src, tmp_path / "mib_nsid.h5", "nsid")
        ds, data, dims, _ = _pynsid_read(pyNSID, out, capsys)
        np.testing.assert_array_equal(data, src.to_numpy())
        assert ds.data_type.name == "IMAGE_4D"
        assert [d[:4] for d in dims] == [
            ("y", "pixel", "Length", "SPATIAL"),
            ("x", "pixel", "Length", "SPATIAL"),
            ("row", "pixel", "Reciprocal length", "RECIPROCAL"),
            ("column", "pixel", "Reciprocal length", "RECIPROCAL"),
        ]
        for (*_, values), n in zip(dims, src.shape, strict=True):
            np.testing.assert_array_equal(values, np.arange(n))
        with scanstack.open(out) as back:  # our own reader gives back the unit-less axes
            assert [a.units for a in back.axes] == ["", "", "", ""]
            assert [a.name for a in back.axes] == ["y", "x", "row", "column"]


@pytest.mark.parametrize(
    "axis, nav_ndim, sig_ndim, signal_type, expected",
    [
        (Axis("frame", 5), 1, 2, "", ("pixel", "Frame", "TEMPORAL")),
        (Axis("t", 5, "ms", 0.5), 1, 1, "", ("ms", "Time", "TEMPORAL")),
        (Axis("x", 5, "nm", 0.5), 1, 2, "", ("nm", "Length", "SPATIAL")),
        (Axis("scan_y", 5), 2, 2, "", ("pixel", "Length", "SPATIAL")),
        (Axis("nav0", 5, scale=0.5), 3, 1, "", ("a.u.", "Length", "SPATIAL")),
        (Axis("omega", 5, "deg", 0.25), 1, 2, "", ("deg", "Angle", "TEMPORAL")),
        (Axis("channel", 9, navigate=False), 2, 1, "xrf", ("pixel", "Channel", "SPECTRAL")),
        (Axis("bias", 9, "V", 0.1, navigate=False), 2, 1, "", ("V", "bias", "SPECTRAL")),
        (Axis("E", 9, "eV", 5.0, navigate=False), 0, 1, "", ("eV", "Energy", "SPECTRAL")),
        (Axis("kx", 9, "mrad", 0.1, navigate=False), 2, 2, "", ("mrad", "Angle", "RECIPROCAL")),
        (
            Axis("q", 9, "1/nm", 0.1, navigate=False),
            2,
            2,
            "",
            ("1/nm", "Reciprocal length", "RECIPROCAL"),
        ),
        (
            Axis("row", 9, navigate=False),
            2,
            2,
            "electron_diffraction",
            ("pixel", "Reciprocal length", "RECIPROCAL"),
        ),
        (Axis("row", 9, navigate=False), 1, 2, "camera", ("pixel", "Length", "SPATIAL")),
    ],
)
def test_describe_dimension(axis, nav_ndim, sig_ndim, signal_type, expected, pynsid):
    from scanstack.formats.nsid import describe_dimension

    got = describe_dimension(axis, nav_ndim, sig_ndim, signal_type)
    assert got == expected
    _, sidpy = pynsid
    units, quantity, dim_type = got  # sidpy itself accepts every one
    dim = sidpy.Dimension(axis.coordinates, axis.name, quantity, units, dim_type)
    assert dim.dimension_type.name == dim_type


def test_reads_files_with_positions_inside_the_main_group(tmp_path, crono_file):
    """Files written before per-position arrays moved out of Main's group still read."""
    with scanstack.open(crono_file) as src:
        out = write_nsid(src, tmp_path / "old.h5")
        with h5py.File(out, "r+") as f:
            f.move(
                "/Measurement_000/Channel_000/data_positions",
                "/Measurement_000/Channel_000/data/positions",
            )
        with scanstack.open(out) as back:
            for key in ("motor_positions", "output_count_rate", "live_time"):
                np.testing.assert_array_equal(back.metadata[key], src.metadata[key])


@pytest.mark.parametrize("kind", ["IMAGE_STACK", "IMAGE_4D"])
def test_read_pynsid_written_images(tmp_path, pynsid, kind):
    """sidpy's data_type decides which dimensions are the frame; every axis comes back."""
    pyNSID, sidpy = pynsid
    if kind == "IMAGE_STACK":
        arr = np.arange(5 * 4 * 6, dtype=np.uint16).reshape(5, 4, 6)
        dims = [
            ("time", "s", "Time", "temporal", 0.5 * np.arange(5)),
            ("y", "nm", "Length", "spatial", 0.2 * np.arange(4)),
            ("x", "nm", "Length", "spatial", 0.2 * np.arange(6)),
        ]
    else:
        arr = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
        dims = [
            ("y", "nm", "Length", "spatial", np.arange(2.0)),
            ("x", "nm", "Length", "spatial", np.arange(3.0)),
            ("ky", "1/nm", "Reciprocal length", "reciprocal", 0.1 * np.arange(4) - 0.2),
            ("kx", "1/nm", "Reciprocal length", "reciprocal", 0.1 * np.arange(5) - 0.2),
        ]
    ds = sidpy.Dataset.from_array(arr, title="series")
    ds.data_type = kind
    ds.quantity, ds.units = "Intensity", "a.u."
    for i, (name, units, quantity, dim_type, values) in enumerate(dims):
        ds.set_dimension(
            i,
            sidpy.Dimension(values, name, units=units, quantity=quantity, dimension_type=dim_type),
        )
    path = tmp_path / "pynsid.h5"
    with h5py.File(path, "w") as f, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pyNSID.io.hdf_io.write_nsid_dataset(ds, f.create_group("Measurement_000/Channel_000"))
    with scanstack.open(path) as s:
        assert s.format == "nsid"
        assert len(s.nav_shape) == (1 if kind == "IMAGE_STACK" else 2)
        assert len(s.signal_shape) == 2
        np.testing.assert_array_equal(s.to_numpy(), arr)
        assert [(a.name, a.units) for a in s.axes] == [(d[0], d[1]) for d in dims]
        for axis, d in zip(s.axes, dims, strict=True):
            np.testing.assert_allclose(axis.coordinates, d[4], atol=1e-12)
        assert (s.metadata["quantity"], s.metadata["units"]) == ("Intensity", "a.u.")


@pytest.fixture(scope="module")
def real_mib_files(tmp_path_factory, shared_data):
    """Real Merlin files (RosettaSciIO's test data): one plain, one 4x2 scan with a row ROI."""
    import zipfile

    out = tmp_path_factory.mktemp("mib")
    with zipfile.ZipFile(shared_data / "mib" / "Merlin_navigation4x2_ROI.zip") as z:
        z.extractall(out)
    return [shared_data / "mib" / "readmib_example.mib", out / "002_4x2_6bit_roi128.mib"]


def test_real_mib_files_keep_every_dimension_in_pynsid(tmp_path, pynsid, real_mib_files, capsys):
    pyNSID, _ = pynsid
    for path in real_mib_files:
        with scanstack.open(path) as src:
            out = scanstack.save(src, tmp_path / f"{path.stem}.h5", "nsid")
            ds, data, dims, _ = _pynsid_read(pyNSID, out, capsys)
            np.testing.assert_array_equal(data, src.to_numpy())
            assert [d[0] for d in dims] == [a.name for a in src.axes]
            for (name, units, quantity, dim_type, values), axis in zip(dims, src.axes, strict=True):
                np.testing.assert_allclose(values, axis.coordinates)
                assert units and quantity, name
                assert dim_type in ("SPATIAL", "RECIPROCAL", "SPECTRAL", "TEMPORAL"), name
            assert [d[3] for d in dims][-2:] == ["RECIPROCAL", "RECIPROCAL"]

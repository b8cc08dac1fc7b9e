"""USID: files written by scanstack pass pyUSID's checks; pyUSID-written files read correctly."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
from _interchange_helpers import assert_same_stack

import scanstack
from scanstack.core.errors import FormatError
from scanstack.formats import _interchange as ic
from scanstack.formats.usid import write_usid


def check_with_pyusid(usid, path, expected: np.ndarray, labels: list[str]):
    with h5py.File(path) as f:
        mains = usid.hdf_utils.get_all_main(f)
        assert len(mains) == 1
        main = mains[0]
        assert bool(usid.hdf_utils.check_if_main(main))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ud = usid.USIDataset(main)
            nd = ud.get_n_dim_form()
        assert not any("N-dimensional form" in str(w.message) for w in caught)
        assert nd.shape == expected.shape
        np.testing.assert_array_equal(nd, expected)
        assert list(ud.n_dim_labels) == labels
        arr, ok, labs = usid.hdf_utils.reshape_to_n_dims(main, get_labels=True, sort_dims=True)
        assert ok is True
        np.testing.assert_array_equal(arr, expected)
        assert [str(x) for x in labs] == labels
        return main.attrs["quantity"], main.attrs["units"]


def test_pyusid_validates_and_reshapes_xrf(tmp_path, usid, xrf_stack):
    out = scanstack.save(xrf_stack, tmp_path / "map.h5", "usid", compression="gzip", progress=True)
    quantity, units = check_with_pyusid(usid, out, xrf_stack.to_numpy(), ["y", "x", "energy"])
    assert (quantity, units) == ("Counts", "counts")
    with h5py.File(out) as f:
        ud = usid.USIDataset(f["/Measurement_000/Channel_000/Raw_Data"])
        np.testing.assert_allclose(ud.get_pos_values("x"), 5.0 + 0.01 * np.arange(10), rtol=1e-6)
        np.testing.assert_allclose(
            ud.get_spec_values("energy")[:3], xrf_stack.axes[2].coordinates[:3], rtol=1e-5
        )
        spec = f["/Measurement_000/Channel_000/Spectroscopic_Values"]
        assert [v.decode() if isinstance(v, bytes) else v for v in spec.attrs["units"]] == ["keV"]


def test_pyusid_validates_and_reshapes_4d(tmp_path, usid, stem_stack):
    out = write_usid(stem_stack, tmp_path / "stem.h5", compression="lzf")
    check_with_pyusid(usid, out, stem_stack.to_numpy(), ["scan_y", "scan_x", "ky", "kx"])


def test_round_trip(tmp_path, xrf_stack, stem_stack):
    for stack in (xrf_stack, stem_stack):
        out = write_usid(stack, tmp_path / "rt.h5", compression="blosc-zstd", overwrite=True)
        with scanstack.open(out) as s:
            assert s.format == "usid"
            assert_same_stack(s, stack)
            first_signal_dim = (slice(None),) * len(stack.nav_shape) + (slice(2, 5),)
            np.testing.assert_array_equal(
                s.isig[2:5].to_numpy(), stack.to_numpy()[first_signal_dim]
            )
            assert s.original_metadata == stack.original_metadata


def _pyusid_file(usid, path, slow_to_fast: bool):
    cube = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)  # (Y, X, Energy)
    x = usid.Dimension("X", "um", np.linspace(0, 2, 3))
    y = usid.Dimension("Y", "um", np.linspace(0, 1, 2))
    spec = [usid.Dimension("Energy", "keV", np.linspace(1, 5, 5))]
    pos = [y, x] if slow_to_fast else [x, y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with h5py.File(path, "w") as f:
            grp = usid.hdf_utils.create_indexed_group(f, "Measurement")
            chan = usid.hdf_utils.create_indexed_group(grp, "Channel")
            usid.hdf_utils.write_main_dataset(
                chan,
                cube.reshape(6, 5),
                "Raw_Data",
                "Counts",
                "counts",
                pos,
                spec,
                slow_to_fast=slow_to_fast,
            )
    return cube


@pytest.mark.parametrize("slow_to_fast", [False, True])
def test_read_pyusid_written(tmp_path, usid, slow_to_fast):
    path = tmp_path / "pyusid.h5"
    cube = _pyusid_file(usid, path, slow_to_fast)
    assert scanstack.detect_format(path) == "usid"
    s = scanstack.open(path)
    assert s.nav_shape == (2, 3) and s.signal_shape == (5,)
    np.testing.assert_array_equal(s.to_numpy(), cube)
    assert [a.name for a in s.axes] == ["Y", "X", "Energy"]
    assert [a.units for a in s.axes] == ["um", "um", "keV"]
    np.testing.assert_allclose(s.axes[1].coordinates, [0, 1, 2])
    np.testing.assert_allclose(s.axes[2].coordinates, [1, 2, 3, 4, 5])
    assert s.metadata["quantity"] == "Counts" and s.metadata["units"] == "counts"


def _hand_written(path, columns_fast_first=True, shuffle_rows=False):
    """The USID documentation's order (fastest dimension in the first column), by hand."""
    ny, nx, ne = 2, 3, 5
    cube = np.arange(ny * nx * ne, dtype=np.float32).reshape(ny, nx, ne)
    yy, xx = np.unravel_index(np.arange(ny * nx), (ny, nx))
    rows = np.arange(ny * nx)
    if shuffle_rows:
        rows = np.random.default_rng(0).permutation(rows)
    with h5py.File(path, "w") as f:
        ch = f.create_group("Measurement_000/Channel_000")
        main = ch.create_dataset("Raw_Data", data=cube.reshape(ny * nx, ne)[rows])
        main.attrs["quantity"] = "Current"
        main.attrs["units"] = "nA"
        cols, labels = ([xx, yy], ["X", "Y"]) if columns_fast_first else ([yy, xx], ["Y", "X"])
        scale = {"X": 0.1, "Y": 0.2}
        pos_inds = np.column_stack(cols)[rows].astype(np.uint32)
        pos_vals = np.column_stack([c * scale[lab] for c, lab in zip(cols, labels, strict=True)])
        for name, arr, labs, units in [
            ("Position_Indices", pos_inds, labels, ["mm", "mm"]),
            ("Position_Values", pos_vals[rows].astype(np.float32), labels, ["mm", "mm"]),
            ("Spectroscopic_Indices", np.arange(ne, dtype=np.uint32)[None], ["Bias"], ["V"]),
            (
                "Spectroscopic_Values",
                np.linspace(-1, 1, ne, dtype=np.float32)[None],
                ["Bias"],
                ["V"],
            ),
        ]:
            d = ch.create_dataset(name, data=arr)
            d.attrs["labels"] = np.array(labs, dtype="S")
            d.attrs["units"] = np.array(units, dtype="S")
            main.attrs[name] = d.ref
    return cube


@pytest.mark.parametrize("fast_first,shuffle", [(True, False), (False, False), (True, True)])
def test_read_hand_written_orders(tmp_path, usid, fast_first, shuffle):
    path = tmp_path / "hand.h5"
    cube = _hand_written(path, fast_first, shuffle)
    with h5py.File(path) as f:  # the file is valid USID
        assert bool(usid.hdf_utils.check_if_main(f["/Measurement_000/Channel_000/Raw_Data"]))
    s = scanstack.open(path)
    assert s.nav_shape == (2, 3)
    np.testing.assert_array_equal(s.to_numpy(), cube)
    np.testing.assert_array_equal(s[4], cube[1, 1])
    np.testing.assert_array_equal(s.read(1, 5, (slice(1, 3),)), cube.reshape(6, 5)[1:5, 1:3])
    assert [a.name for a in s.axes] == ["Y", "X", "Bias"]
    np.testing.assert_allclose(s.axes[1].coordinates, [0.0, 0.1, 0.2], rtol=1e-6)
    np.testing.assert_allclose(s.axes[0].coordinates, [0.0, 0.2], rtol=1e-6)


def test_several_mains_and_path_option(tmp_path, xrf_stack, usid):
    path = tmp_path / "pyusid.h5"
    cube = _pyusid_file(usid, path, True)
    with pytest.raises(FormatError, match="not a USID Main dataset"):
        scanstack.open(path, "usid", path="/Measurement_000/Channel_000/Position_Indices")
    s = scanstack.open(path, "usid", path="/Measurement_000/Channel_000/Raw_Data")
    np.testing.assert_array_equal(s.to_numpy(), cube)


def test_errors_for_malformed_input(tmp_path):
    path = tmp_path / "hand.h5"
    _hand_written(path)
    with h5py.File(path, "r+") as f:  # spectroscopic ancillaries must be 2-D
        ch = f["/Measurement_000/Channel_000"]
        del ch["Spectroscopic_Values"]
        d = ch.create_dataset("Spectroscopic_Values", data=np.linspace(-1, 1, 5))
        d.attrs["labels"], d.attrs["units"] = ["Bias"], ["V"]
        ch["Raw_Data"].attrs["Spectroscopic_Values"] = d.ref
    with pytest.raises(FormatError, match="Spectroscopic ancillaries must be 2-D") as err:
        scanstack.open(path, "usid")
    assert err.value.where.endswith("Spectroscopic_Indices")

    _hand_written(path)
    with h5py.File(path, "r+") as f:  # two positions with the same indices
        f["/Measurement_000/Channel_000/Position_Indices"][1] = [0, 0]
    with pytest.raises(FormatError, match="do not factorise|share the same indices"):
        scanstack.open(path, "usid")

    _hand_written(path)
    with h5py.File(path, "r+") as f:
        f["/Measurement_000/Channel_000/Raw_Data"].attrs["Position_Values"] = "/nowhere"
    with pytest.raises(FormatError, match="does not point at a dataset") as err:
        scanstack.open(path, "usid")
    assert err.value.where == "/Measurement_000/Channel_000/Raw_Data@Position_Values"

    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["data"] = np.zeros((3, 4))
    with pytest.raises(FormatError, match="no USID Main dataset"):
        scanstack.open(plain, "usid")


@pytest.mark.parametrize(
    "values, uniform, scale, offset",
    [
        ((0.5 + 0.02 * np.arange(256)).astype(np.float32), True, 0.02, 0.5),
        (np.linspace(-1.17, 5, 2048).astype(np.float32), True, 6.17 / 2047, -1.17),
        ((111817 + 500 * np.arange(4)).astype(np.float32), True, 500.0, 111817.0),
        (np.linspace(0, 1, 11).astype(np.float16), True, 0.1, 0.0),
        ((0.5 + 0.02 * np.arange(256)), True, 0.02, 0.5),
        (np.arange(7, dtype=np.uint32), True, 1.0, 0.0),
        (np.array([0.0, 1.0, 2.5], dtype=np.float32), False, None, None),
        # one step of 1e-4 of a scale in float64 data is not uniform ...
        (np.r_[0.0, 1.0, 2.0001, 3.0], False, None, None),
        # ... nor in float32 data, whose precision near 3 is 2.4e-7
        (np.r_[0.0, 1.0, 2.0001, 3.0].astype(np.float32), False, None, None),
    ],
)
def test_axis_from_values_judges_linearity_at_the_stored_precision(values, uniform, scale, offset):
    axis = ic.axis_from_values("energy", values, "keV", False)
    assert axis.is_uniform is uniform
    if uniform:
        assert axis.scale == pytest.approx(scale, rel=1e-6)
        assert axis.offset == pytest.approx(offset, abs=1e-7)
        # the coordinates give back the stored values to their own precision (an ulp of the
        # largest value)
        ulp = float(np.spacing(np.abs(values).max())) if values.dtype.kind == "f" else 0
        np.testing.assert_allclose(axis.coordinates.astype(values.dtype), values, rtol=0, atol=ulp)
    else:
        np.testing.assert_array_equal(axis.values, values.astype(float))


def test_pyusid_float32_calibration_survives_to_nexus_and_pymca(tmp_path, usid):
    """usid (written by pyUSID, float32 axis values) -> scanstack -> nexus -> PyMca's McaCalib."""
    from PyMca5.PyMcaIO import HDF5Stack1D

    from scanstack.cli.main import main

    cube = np.random.default_rng(0).poisson(5, (3, 4, 256)).astype(np.uint16)
    pos = [
        usid.Dimension("Y", "um", 10 + 2.5 * np.arange(3)),
        usid.Dimension("X", "um", 0.1 * np.arange(4)),
    ]
    spec = [usid.Dimension("Energy", "keV", 0.5 + 0.02 * np.arange(256))]
    src = tmp_path / "pyusid.h5"
    with warnings.catch_warnings(), h5py.File(src, "w") as f:
        warnings.simplefilter("ignore")
        chan = f.create_group("Measurement_000/Channel_000")
        usid.hdf_utils.write_main_dataset(
            chan,
            cube.reshape(12, 256),
            "Raw_Data",
            "Counts",
            "counts",
            pos,
            spec,
            slow_to_fast=True,
        )
        assert chan["Spectroscopic_Values"].dtype == np.float32  # pyUSID's choice
    with scanstack.open(src) as s:
        energy = s.axes[-1]
        assert (energy.is_uniform, energy.scale, energy.offset) == (True, 0.02, 0.5)
        assert [(a.name, a.scale, a.offset) for a in s.nav_axes] == [
            ("Y", 2.5, 10.0),
            ("X", 0.1, 0.0),
        ]
    out = tmp_path / "map.nxs"
    assert main(["convert", str(src), str(out), "--format", "nexus", "--quiet"]) == 0
    pm = HDF5Stack1D.HDF5Stack1D([str(out)], {"y": "/instrument/detector/data"})
    np.testing.assert_array_equal(pm.data, cube)
    np.testing.assert_array_equal(pm.info["McaCalib"], [0.5, 0.02, 0.0])
    np.testing.assert_allclose(pm.info["yScale"], [10.0, 2.5])  # PyMca's y: rows, x: columns
    np.testing.assert_allclose(pm.info["xScale"], [0.0, 0.1])
    with h5py.File(out) as f:
        np.testing.assert_allclose(f["/entry/data/energy"][()], 0.5 + 0.02 * np.arange(256))

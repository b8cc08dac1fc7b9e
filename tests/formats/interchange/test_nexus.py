"""NeXus / PyMca HDF5: files written by scanstack open in PyMca and silx; round trips; foreign files."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from _interchange_helpers import assert_same_axes

import scanstack
from scanstack import Stack
from scanstack.core.errors import FormatError, UnsupportedError, WriteError
from scanstack.formats.nexus import write_nexus


def pymca_stack(path, selection, scanlist=None):
    from PyMca5.PyMcaIO import HDF5Stack1D

    return HDF5Stack1D.HDF5Stack1D([os.fspath(path)], {"y": selection}, scanlist=scanlist)


# -- PyMca's own loader -------------------------------------------------------------------------
@pytest.mark.parametrize("selection", ["/instrument/detector/data", "/data/data"])
def test_pymca_finds_map_live_time_and_calibration(tmp_path, xrf_stack, selection):
    out = scanstack.save(xrf_stack, tmp_path / "map.h5", "nexus", compression="gzip", progress=True)
    st = pymca_stack(out, selection)
    data = xrf_stack.to_numpy()
    assert st.data.shape == (5, 10, 256)
    assert st.info["McaIndex"] == 2
    np.testing.assert_array_equal(st.data, data)
    np.testing.assert_allclose(np.ravel(st.info["McaLiveTime"]), xrf_stack.metadata["live_time"])
    cal = xrf_stack.metadata["energy_calibration"]
    np.testing.assert_allclose(st.info["McaCalib"], [cal["a"], cal["b"], cal["c"]])
    np.testing.assert_array_equal(st.x[0], np.arange(256))
    # pixel scales from <detector>/map/dim0, dim1: [origin, step]
    np.testing.assert_allclose(np.asarray(st.info["xScale"], float), [5.0, 0.01], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(st.info["yScale"], float), [1.0, 0.02], rtol=1e-6)


def test_pymca_mca0_layout(tmp_path, xrf_stack):
    from PyMca5.PyMcaCore import NexusTools

    xrf_stack.metadata["motor_positions"] = np.arange(150.0).reshape(50, 3)
    out = write_nexus(xrf_stack, tmp_path / "plain.h5", layout="mca_0", compression=None)
    with h5py.File(out) as f:
        assert set(f) == {"mca_0"}
        assert {"data", "channels", "calibration", "live_time"} <= set(f["mca_0"])
        # our metadata and per-position arrays are not taken for spectra
        assert NexusTools.getMcaList(f, "/") == ["/mca_0/data"]
    back = scanstack.open(out)
    np.testing.assert_array_equal(back.metadata["motor_positions"], np.arange(150.0).reshape(50, 3))
    for sel in ("/mca_0/data", "/data"):
        st = pymca_stack(out, sel)
        np.testing.assert_array_equal(st.data, xrf_stack.to_numpy())
        np.testing.assert_allclose(
            np.ravel(st.info["McaLiveTime"]), xrf_stack.metadata["live_time"]
        )
        assert list(np.round(st.info["McaCalib"], 12)) != [0.0, 1.0, 0.0]


def test_pymca_fast_fit_applies_live_time(tmp_path):
    """Counts proportional to live time must give flat mass fractions after PyMca's fit."""
    import PyMca5
    from PyMca5.PyMcaIO import ConfigDict
    from PyMca5.PyMcaIO import specfilewrapper as specfile
    from PyMca5.PyMcaPhysics.xrf import FastXRFLinearFit

    folder = Path(PyMca5.__file__).parent / "PyMcaData"
    spectrum = np.asarray(specfile.Specfile(os.fspath(folder / "Steel.spe"))[0].mca(1), float)
    live = np.tile([1.0, 2.0, 3.0], 17)[:50] * 300.0
    data = (spectrum[None] * (live / 300.0)[:, None]).reshape(5, 10, -1).astype(np.float32)
    cal = {"a": -0.00612446976449, "b": 0.0119281593146, "c": 0.0}
    cfg = ConfigDict.ConfigDict()
    cfg.read(os.fspath(folder / "Steel.cfg"))
    cfg["fit"]["stripalgorithm"] = 1  # the fast fit needs SNIP
    cfg["concentrations"]["useautotime"] = 1

    def fe_fractions(live_time):
        stack = Stack.from_array(
            data, signal_ndim=1, metadata={"energy_calibration": cal, "live_time": live_time}
        )
        out = write_nexus(stack, tmp_path / "steel.h5", overwrite=True)
        pm = FastXRFLinearFit.prepareDataStack([f"{out}::/entry/instrument/detector/data"])
        res = FastXRFLinearFit.FastXRFLinearFit().fitMultipleSpectra(
            y=pm, configuration=cfg, concentrations=True, refit=1, save=False
        )
        labels = list(res.labels("massfractions"))
        return res["massfractions"][labels.index("Fe Ka")]

    fe = fe_fractions(live)
    assert fe.shape == (5, 10)
    assert np.ptp(fe) / fe.mean() < 1e-2  # live time corrected: one composition everywhere
    wrong = fe_fractions(np.full(50, 300.0))  # negative control: constant live time
    assert np.ptp(wrong) / wrong.mean() > 1.0


# -- silx / NeXus default plot -------------------------------------------------------------------
def test_silx_finds_valid_default_nxdata(tmp_path, xrf_stack):
    from silx.io.nxdata import get_default, is_NXroot_with_default_NXdata

    out = write_nexus(xrf_stack, tmp_path / "map.nxs")
    with h5py.File(out) as f:
        assert is_NXroot_with_default_NXdata(f)
        nxd = get_default(f)
        assert nxd.is_valid, nxd.issues
        assert nxd.signal.shape == (5, 10, 256)
        assert nxd.interpretation == "spectrum"
        assert nxd.axes_names == ["y (mm)", "x (mm)", "energy (keV)"]
        np.testing.assert_allclose(
            nxd.axes[2][:3], -0.00612446976449 + 0.0119281593146 * np.arange(3)
        )
        det = f["/entry/instrument/detector"]
        assert det.attrs["NX_class"] == "NXdetector"
        assert f["/entry/instrument"].attrs["NX_class"] == "NXinstrument"
        assert f["/entry/title"][()].decode() == "synthetic XRF map"
        assert f["/entry/start_time"][()].decode() == "2024-05-06T07:08:09Z"
        assert det["preset_time"][()] == 0.25
        np.testing.assert_allclose(det["real_time"][()].ravel(), xrf_stack.metadata["real_time"])


def test_silx_image_stack_interpretation(tmp_path, stem_stack):
    from silx.io.nxdata import get_default

    out = write_nexus(stem_stack, tmp_path / "stem.h5", compression="lzf")
    with h5py.File(out) as f:
        nxd = get_default(f)
        assert nxd.is_valid, nxd.issues
        assert nxd.interpretation == "image"
        assert nxd.axes_dataset_names == ["scan_y", "scan_x", "ky", "kx"]
        np.testing.assert_allclose(nxd.axes[0], [0.0, 1.5, 4.0])


@pytest.mark.parametrize("fmt", ["nexus", "usid", "nsid"])
def test_read_after_close_is_a_clear_error(tmp_path, xrf_stack, fmt):
    # was TypeError "'NoneType' object is not subscriptable" (nexus, nsid) or an h5py OSError
    out = scanstack.save(xrf_stack, tmp_path / "c.h5", fmt)
    with scanstack.open(out, fmt) as s:
        np.testing.assert_array_equal(s[1], xrf_stack[1])
    with pytest.raises(ValueError, match=f"this {fmt} stack is closed"):
        s[1]


# -- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["nexus", "mca_0"])
def test_round_trip_xrf(tmp_path, xrf_stack, layout):
    out = write_nexus(xrf_stack, tmp_path / "rt.h5", layout=layout)
    with scanstack.open(out) as s:
        assert s.format == "nexus"
        assert s.nav_shape == (5, 10) and s.signal_shape == (256,) and s.dtype == np.uint16
        np.testing.assert_array_equal(s.to_numpy(), xrf_stack.to_numpy())
        np.testing.assert_array_equal(s[7], xrf_stack[7])
        np.testing.assert_array_equal(s.inav[1:3, 2:7].to_numpy(), xrf_stack.to_numpy()[1:3, 2:7])
        np.testing.assert_array_equal(s.isig[10:20].to_numpy(), xrf_stack.to_numpy()[..., 10:20])
        assert_same_axes(s.axes, xrf_stack.axes)
        for key in (
            "title",
            "signal_type",
            "acquisition_time",
            "dwell_time",
            "energy_calibration",
            "instrument",
        ):
            assert s.metadata[key] == xrf_stack.metadata[key], key
        np.testing.assert_allclose(s.metadata["live_time"], xrf_stack.metadata["live_time"])
        np.testing.assert_allclose(s.metadata["real_time"], xrf_stack.metadata["real_time"])
        assert s.metadata["format"] == "nexus"
        if layout == "nexus":
            assert s.original_metadata == xrf_stack.original_metadata


def test_round_trip_stem_and_extra_position_arrays(tmp_path, stem_stack):
    stem_stack.metadata["motor_positions"] = np.arange(36.0).reshape(12, 3)
    out = write_nexus(stem_stack, tmp_path / "stem.h5", compression="blosc-zstd")
    s = scanstack.open(out)
    assert s.nav_shape == (3, 4) and s.signal_shape == (16, 12)
    np.testing.assert_array_equal(s.to_numpy(), stem_stack.to_numpy())
    assert_same_axes(s.axes, stem_stack.axes)
    np.testing.assert_array_equal(
        s.metadata["motor_positions"], stem_stack.metadata["motor_positions"]
    )
    s.close()


@pytest.mark.parametrize("compression", [None, "gzip", "gzip-1", "lzf", "blosc-zstd", "zstd"])
def test_compression_choices(tmp_path, xrf_stack, compression):
    out = scanstack.save(xrf_stack, tmp_path / "c.h5", "nexus", compression=compression)
    with h5py.File(out) as f:
        dset = f["/entry/instrument/detector/data"]
        assert (dset.compression is not None or bool(dset._filters)) == (compression is not None)
        assert dset.chunks is not None and dset.chunks[-1] == 256  # whole spectra per chunk
    np.testing.assert_array_equal(scanstack.open(out).to_numpy(), xrf_stack.to_numpy())


# -- files written by others (the PyMca documentation recipes) -------------------------------------
def _pymca_doc_data():
    rng = np.random.default_rng(3)
    data = rng.poisson(3.0, (5, 10, 2048)).astype(np.float64)
    calibration = np.array([-0.00612446976449, 0.0119281593146, 0.0])
    live_time = np.tile([300.0, 600.0, 900.0], 17)[:50]
    return data, calibration, live_time


def _assert_pymca_doc_map(s, data, live_time) -> None:
    """What both PyMca recipes must read as: the 5x10 map of 2048-channel spectra, live times."""
    assert s.format == "nexus"
    assert s.nav_shape == (5, 10) and s.signal_shape == (2048,)
    np.testing.assert_array_equal(s.to_numpy(), data)
    # in the NeXus recipe the NXdata only links the data: detector info is found at the link
    # target, as PyMca does
    np.testing.assert_allclose(s.metadata["live_time"], live_time)


def test_read_pymca_plain_mca0_example(tmp_path):
    data, calibration, live_time = _pymca_doc_data()
    path = tmp_path / "plain_mca0.h5"
    with h5py.File(path, "w") as h5:
        h5["/mca_0/data"] = data
        h5["/mca_0/channels"] = np.arange(2048.0)
        h5["/mca_0/calibration"] = calibration
        h5["/mca_0/live_time"] = live_time
    assert scanstack.detect_format(path) == "nexus"
    s = scanstack.open(path)
    _assert_pymca_doc_map(s, data, live_time)
    assert s.metadata["energy_calibration"] == dict(zip("abc", calibration.tolist(), strict=True))
    energy = s.axes[-1]
    assert (energy.name, energy.units) == ("energy", "keV")
    np.testing.assert_allclose(
        energy.coordinates[[0, 100]], calibration[0] + calibration[1] * np.array([0, 100])
    )


def test_read_pymca_nexus_example(tmp_path):
    data, calibration, live_time = _pymca_doc_data()
    path = tmp_path / "nexus_steel.h5"
    with h5py.File(path, "w") as h5:
        h5["/entry/instrument/detector/calibration"] = calibration
        h5["/entry/instrument/detector/channels"] = np.arange(2048)
        h5["/entry/instrument/detector/data"] = data
        h5["/entry/instrument/detector/live_time"] = live_time
        h5["/entry/title"] = "Dummy generated map"
        h5["/entry"].attrs["NX_class"] = "NXentry"
        h5["/entry/instrument"].attrs["NX_class"] = "NXinstrument"
        h5["/entry/instrument/detector/"].attrs["NX_class"] = "NXdetector"
        h5["/entry/instrument/detector/data"].attrs["interpretation"] = "spectrum"
        h5["/entry/measurement/data"] = h5py.SoftLink("/entry/instrument/detector/data")
        h5["/entry/measurement"].attrs["NX_class"] = "NXdata"
        h5["/entry/measurement"].attrs["signal"] = "data"
        h5["/entry"].attrs["default"] = "measurement"
    s = scanstack.open(path)  # no root @default: falls back to the NXentry's default
    _assert_pymca_doc_map(s, data, live_time)
    assert s.metadata["energy_calibration"]["b"] == calibration[1]
    assert s.metadata["title"] == "Dummy generated map"
    s2 = scanstack.open(path, "nexus", path="/entry/instrument/detector/data")
    np.testing.assert_array_equal(s2[3], data.reshape(50, -1)[3])


def test_read_nxdata_axes_written_by_others(tmp_path):
    data = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    path = tmp_path / "other.nxs"
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "e"
        e = f.create_group("e")
        e.attrs.update({"NX_class": "NXentry", "default": "plot"})
        p = e.create_group("plot")
        p.attrs.update(
            {
                "NX_class": "NXdata",
                "signal": "counts",
                "axes": [".", "xx", "E"],
                "xx_indices": 1,
                "E_indices": 2,
            }
        )
        p["counts"] = data
        p["counts"].attrs["interpretation"] = "spectrum"
        p["xx"] = np.array([0.0, 0.5, 1.5])
        p["xx"].attrs["units"] = "mm"
        p["E"] = np.linspace(1.0, 4.0, 4)
        p["E"].attrs["units"] = "keV"
    s = scanstack.open(path)
    assert s.nav_shape == (2, 3)
    assert [a.name for a in s.axes] == ["y", "xx", "E"]
    np.testing.assert_allclose(s.axes[1].coordinates, [0.0, 0.5, 1.5])
    assert (
        s.axes[2].units == "keV" and s.axes[2].is_uniform and s.axes[2].scale == pytest.approx(1.0)
    )


def test_read_pymca_mcastackexport_file(tmp_path):
    """A map written by PyMca's own exporter: data, calibration, live time, map scales, motors."""
    from PyMca5.PyMcaCore import DataObject, McaStackExport

    data, calibration, live_time = _pymca_doc_data()
    stack = DataObject.DataObject()
    stack.data = data
    stack.x = [np.arange(2048.0)]
    motors = {
        "sx": 5.0 + 0.01 * np.tile(np.arange(10), 5),
        "sy": np.repeat(1 + 0.02 * np.arange(5), 10),
    }
    stack.info = {
        "McaCalib": list(calibration),
        "McaLiveTime": live_time,
        "xScale": [5.0, 0.01],
        "yScale": [1.0, 0.02],
        "positioners": motors,
        "McaIndex": 2,
    }
    path = tmp_path / "pymca_export.h5"
    McaStackExport.exportStackList(stack, str(path))
    s = scanstack.open(path)
    assert s.format == "nexus" and s.nav_shape == (5, 10) and s.signal_shape == (2048,)
    np.testing.assert_array_equal(s.to_numpy(), data)
    assert s.metadata["energy_calibration"] == dict(zip("abc", calibration.tolist(), strict=True))
    np.testing.assert_allclose(s.metadata["live_time"], live_time)
    # PyMca's dim0/dim1 (float32) give the scales HDF5Stack1D calls yScale/xScale
    y, x, energy = s.axes
    assert (y.name, y.scale, y.offset) == ("y", 0.02, 1.0)
    assert (x.name, x.scale, x.offset) == ("x", 0.01, 5.0)
    assert (energy.units, energy.scale, energy.offset) == ("keV", calibration[1], calibration[0])
    assert set(s.metadata["positioners"]) == {"sx", "sy"}
    for key, values in motors.items():
        np.testing.assert_array_equal(s.metadata["positioners"][key], values)
    assert "acquisition_time" in s.metadata  # PyMca's start_time


def test_positioners_round_trip_to_pymca(tmp_path, xrf_stack):
    motors = {"sx": np.arange(50.0), "sy": np.arange(50.0) * 2}
    xrf_stack.metadata["positioners"] = motors
    out = scanstack.save(xrf_stack, tmp_path / "map.nxs", "nexus")
    st = pymca_stack(out, "/instrument/detector/data")
    assert set(st.info["positioners"]) == {"sx", "sy"}
    for key, values in motors.items():
        np.testing.assert_array_equal(np.ravel(st.info["positioners"][key]), values)
        np.testing.assert_array_equal(scanstack.open(out).metadata["positioners"][key], values)


def test_read_silx_save_nxdata_file(tmp_path):
    """silx's writer keeps units only in @long_name ("x (mm)") and the title on the NXdata."""
    from silx.io.nxdata import save_NXdata

    data = np.random.default_rng(5).poisson(4.0, (5, 10, 256)).astype(np.float32)
    coords = [1 + 0.02 * np.arange(5), 5 + 0.01 * np.arange(10), 0.5 + 0.02 * np.arange(256)]
    path = tmp_path / "silx.h5"
    save_NXdata(
        str(path),
        data,
        axes=coords,
        axes_names=["y", "x", "energy"],
        axes_long_names=["y (mm)", "x (mm)", "energy (keV)"],
        signal_long_name="counts",
        title="silx map",
        interpretation="spectrum",
    )
    s = scanstack.open(path)
    assert s.format == "nexus" and s.nav_shape == (5, 10) and s.signal_shape == (256,)
    np.testing.assert_array_equal(s.to_numpy(), data)
    assert [(a.name, a.units, a.scale, a.offset) for a in s.axes] == [
        ("y", "mm", 0.02, 1.0),
        ("x", "mm", 0.01, 5.0),
        ("energy", "keV", 0.02, 0.5),
    ]
    assert s.metadata["title"] == "silx map"
    # and the keV axis is a calibration PyMca sees after conversion
    out = scanstack.save(s, tmp_path / "again.nxs", "nexus")
    np.testing.assert_array_equal(
        pymca_stack(out, "/instrument/detector/data").info["McaCalib"], [0.5, 0.02, 0.0]
    )


@pytest.mark.parametrize(
    "label, units",
    [
        ("energy (keV)", "keV"),
        ("q [1/nm]", "1/nm"),
        ("x", ""),
        ("(mm)", ""),
        ("f(x) (a.u.)", "a.u."),
    ],
)
def test_units_in_label(label, units):
    from scanstack.formats._nexus_layout import units_in_label

    assert units_in_label(label) == units


# -- errors ------------------------------------------------------------------------------------------
def test_errors_for_malformed_input(tmp_path):
    not_h5 = tmp_path / "text.nxs"
    not_h5.write_text("hello")
    with pytest.raises(FormatError, match="not an HDF5 file"):
        scanstack.open(not_h5, "nexus")

    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f["numbers"] = np.arange(3)
    with pytest.raises(FormatError, match="no NeXus default NXdata") as err:
        scanstack.open(empty, "nexus")
    assert err.value.path == os.fspath(empty)

    bad_signal = tmp_path / "bad_signal.h5"
    with h5py.File(bad_signal, "w") as f:
        f.attrs["default"] = "entry"
        f.create_group("entry").attrs.update({"NX_class": "NXentry", "default": "d"})
        f["entry"].create_group("d").attrs.update({"NX_class": "NXdata", "signal": "counts"})
    with pytest.raises(FormatError, match="@signal names 'counts'") as err:
        scanstack.open(bad_signal, "nexus")
    assert err.value.where == "/entry/d@signal"

    bad_cal = tmp_path / "bad_cal.h5"
    with h5py.File(bad_cal, "w") as f:
        f["/mca_0/data"] = np.ones((2, 3, 8))
        f["/mca_0/calibration"] = np.arange(5.0)
    with pytest.raises(FormatError, match="calibration must hold 2 or 3 values") as err:
        scanstack.open(bad_cal, "nexus")
    assert err.value.where == "/mca_0/calibration"

    text = tmp_path / "text_data.h5"
    with h5py.File(text, "w") as f:
        f["/mca_0/data"] = np.array([["a", "b"], ["c", "d"]], dtype="S1")
        f["/mca_0/data"].attrs["interpretation"] = "spectrum"
    with pytest.raises(FormatError, match="numeric"):
        scanstack.open(text, "nexus")

    with pytest.raises(FormatError, match="cannot hold 4-D frames"):
        scanstack.open(bad_cal, "nexus", signal_ndim=4)


def test_writer_refusals_and_atomicity(tmp_path, xrf_stack, stem_stack):
    with pytest.raises(UnsupportedError, match="compression"):
        write_nexus(xrf_stack, tmp_path / "x.h5", compression="bzip9")
    with pytest.raises(UnsupportedError, match="gzip level must be 0..9"):
        write_nexus(xrf_stack, tmp_path / "x.h5", compression="gzip-10")
    with pytest.raises(UnsupportedError, match="mca_0 layout holds spectra"):
        write_nexus(stem_stack, tmp_path / "x.h5", layout="mca_0")
    src = write_nexus(xrf_stack, tmp_path / "in.h5")
    with scanstack.open(src) as s, pytest.raises(WriteError, match="input"):
        write_nexus(s, src)

    class Boom(Exception):
        pass

    def exploding(done, total):
        if done:
            raise Boom

    target = tmp_path / "never.h5"
    target.write_bytes(b"old content")
    with pytest.raises(Boom):
        write_nexus(xrf_stack, target, progress=exploding, overwrite=True)
    assert target.read_bytes() == b"old content"  # untouched, and no temporary left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.h5", "never.h5"]


@pytest.mark.parametrize("compression", ["gzip", "gzip-9", "blosc-zstd", "blosc-lz4", "zstd"])
def test_parallel_chunk_compression_matches_hdf5_filters(tmp_path, compression):
    """Chunks compressed in threads and written raw decode through HDF5's own filters,
    edge chunks included (7 x 13 positions in chunks of 1 x 5)."""
    from scanstack.core.config import settings
    from scanstack.formats import _h5io
    from scanstack.formats.usid import write_usid

    data = np.random.default_rng(5).poisson(3.0, (7, 13, 64)).astype(np.uint16)
    stack = Stack.from_array(data, signal_ndim=1)
    assert _h5io.h5_encoder(compression) is not None
    with settings(num_threads=3):
        out = write_nexus(
            stack, tmp_path / "p.h5", compression=compression, file_chunk_bytes=5 * 64 * 2
        )
        usid_out = write_usid(
            stack, tmp_path / "u.h5", compression=compression, file_chunk_bytes=5 * 64 * 2
        )
    with h5py.File(out) as f:
        dset = f["/entry/instrument/detector/data"]
        assert dset.chunks == (1, 5, 64)
        np.testing.assert_array_equal(dset[()], data)
    with h5py.File(usid_out) as f:
        dset = f["/Measurement_000/Channel_000/Raw_Data"]
        assert dset.chunks == (5, 64)
        np.testing.assert_array_equal(dset[()], data.reshape(91, 64))

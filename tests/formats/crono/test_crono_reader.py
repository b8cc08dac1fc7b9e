"""The crono reader against cronomaxrf's own cube, on synthetic instrument-like files."""

import pickle

import h5py
import numpy as np
import pytest

import scanstack
from scanstack.core.errors import FormatError
from scanstack.datasets import write_crono
from scanstack.formats.crono.reader import read_computed_maps


@pytest.mark.parametrize("rows,columns,ramp", [(2, 2, 0), (4, 3, 2), (7, 6, 3), (12, 17, 5)])
def test_cube_equals_cronomaxrf(tmp_path, rows, columns, ramp, cronomaxrf_cube):
    path = tmp_path / f"14200215102021-test{rows}x{columns}.HDF5"
    truth = write_crono(path, rows=rows, columns=columns, ramp=ramp, images=False, seed=rows)
    stack = scanstack.open(path)
    assert stack.format == "crono"
    assert stack.nav_shape == (rows, columns) and stack.signal_shape == (4096,)
    ref, energies = cronomaxrf_cube(path)
    np.testing.assert_array_equal(stack.to_numpy(), ref)
    np.testing.assert_allclose(stack.axes[-1].coordinates, energies, atol=2e-5)
    # blocks in any order and regions read the same pixels
    flat = ref.reshape(rows * columns, -1)
    frames = np.random.default_rng(0).permutation(rows * columns)
    np.testing.assert_array_equal(stack.read_frames(frames), flat[frames])
    np.testing.assert_array_equal(stack.isig[500:900].to_numpy(), ref[..., 500:900])
    np.testing.assert_array_equal(stack.to_dask(chunks=(1, 2, 4096)).compute(), ref)
    assert (truth.selected_index == stack.reader.selected_index).all()
    stack.close()


def test_map_is_not_a_reshape_and_rows_snake(tmp_path):
    path = tmp_path / "snake.HDF5"
    write_crono(path, rows=4, columns=5, ramp=2, images=False)
    stack = scanstack.open(path)
    with h5py.File(path, "r") as f:
        spectra = f["XRF/Spectra"][()]
        sel = f["XRF/SpectraSelectedIndex"][:, :, 0].astype(np.int64)
    assert spectra.shape[0] != 4 * 5
    naive = spectra[: 4 * 5].reshape(4, 5, -1)
    assert not np.array_equal(stack.to_numpy(), naive)
    assert (np.diff(sel[0]) > 0).all() and (np.diff(sel[1]) < 0).all()  # serpentine
    acq = scanstack.open(path, spectra="acquisition")
    assert acq.nav_shape == (spectra.shape[0],)
    np.testing.assert_array_equal(acq[sel[1, 0]], stack.to_numpy()[1, 0])
    pix = acq.metadata["selected_pixel"]
    assert (pix[sel[2, 3]] == [2, 3]).all() and (pix == -1).all(axis=1).sum() == spectra.shape[
        0
    ] - 20


def test_geometry_energy_and_per_pixel_metadata(tmp_path):
    path = tmp_path / "meta.HDF5"
    truth = write_crono(path, rows=5, columns=4, images=False)
    stack = scanstack.open(path)
    g = stack.metadata["geometry"]
    assert (g["rows"], g["columns"]) == (5, 4) and g["grid_from_settings"] == [5, 4]
    assert g["x_pitch"] == pytest.approx(13.89 * 60 * 1.2) and g["y_pitch"] == 500.0
    assert (g["x_origin"], g["y_origin"]) == (132252.0, 111817.0) and g["serpentine"]
    assert g["units"]["x_pitch"] == "µm" and g["units"]["dwell_time"] == "ms"
    cal = stack.metadata["energy_calibration"]
    assert cal["a"] + 771 * cal["b"] == pytest.approx(8.046, abs=1e-5)
    assert cal["a"] + 1952 * cal["b"] == pytest.approx(22.163, abs=1e-5)
    assert stack.metadata["dwell_time"] == 0.06
    with h5py.File(path, "r") as f:
        sel = f["XRF/SpectraSelectedIndex"][:, :, 0].reshape(-1)
        live = f["XRF/LiveTimes"][()][sel] * 1e-6
        motors = f["XRF/MotorsPositions"][()][sel]
    np.testing.assert_allclose(stack.metadata["live_time"], live)
    np.testing.assert_array_equal(stack.metadata["motor_positions"], motors)
    np.testing.assert_allclose(stack.metadata["real_time"], 0.06)
    # motors sit on the map grid the axes describe (noise of a few µm)
    x_axis, y_axis = stack.axes[1], stack.axes[0]
    xs = np.broadcast_to(x_axis.coordinates, (5, 4)).reshape(-1)
    ys = np.broadcast_to(y_axis.coordinates[:, None], (5, 4)).reshape(-1)
    assert np.abs(motors[:, 0] - xs).max() < 13.89 * 60 / 2 + 100
    assert np.abs(motors[:, 1] - ys).max() < 10
    assert [r["name"] for r in stack.metadata["rois"]][:2] == ["FeKa", "CuKa"]
    with h5py.File(path, "r") as f:
        np.testing.assert_array_equal(stack.metadata["roi_energies"], f["XRF/ROIs/ROIsEnergies"])
    assert stack.metadata["roi_names"] == [r["name"] for r in stack.metadata["rois"]]
    assert stack.metadata["settings"]["tube_anode"] == "Rh"
    assert stack.metadata["computed_maps"] is None and read_computed_maps(path) is None
    assert stack.original_metadata["Configuration"]["MapSetup"]["x_map_left"] == 132252
    assert truth.calibration[1] == pytest.approx(cal["b"])


def test_computed_maps_when_present(tmp_path):
    path = tmp_path / "maps.HDF5"
    write_crono(path, rows=3, columns=3, images=False, computed_maps=True)
    stack = scanstack.open(path)
    assert stack.metadata["computed_maps"] == [3, 3, 5]
    maps = read_computed_maps(path)
    energy = stack.axes[-1].coordinates
    lo, hi = stack.metadata["rois"][0]["start"], stack.metadata["rois"][0]["end"]
    band = (energy >= lo) & (energy <= hi)
    np.testing.assert_array_equal(maps[..., 0], stack.to_numpy()[..., band].sum(-1))


def test_pickles_by_reopening(tmp_path):
    path = tmp_path / "p.HDF5"
    write_crono(path, rows=3, columns=4, images=False)
    stack = scanstack.open(path)
    clone = pickle.loads(pickle.dumps(stack))
    np.testing.assert_array_equal(clone.to_numpy(), stack.to_numpy())


def test_exported_variant(tmp_path):
    native, exported = tmp_path / "n.HDF5", tmp_path / "n.Exported.HDF5"
    write_crono(native, rows=6, columns=5, images=False, seed=3)
    write_crono(exported, rows=6, columns=5, images=False, seed=3, exported=True)
    a, b = scanstack.open(native), scanstack.open(exported)
    assert b.format == "crono-exported" and b.dtype == np.uint32
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    np.testing.assert_array_equal(b.read(7, 19, (slice(10, 20),)), a.read(7, 19, (slice(10, 20),)))
    np.testing.assert_allclose(a.metadata["live_time"], b.metadata["live_time"])
    assert b.metadata["geometry"]["rows"] == 6
    with pytest.raises(FormatError, match="crono-exported"):
        scanstack.open(exported, "crono")


# -- bad input ---------------------------------------------------------------------------------
def _copy_without(src, dst, drop):
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        for key in f:
            f.copy(key, g)
        del g[drop]


def test_missing_datasets_are_named(tmp_path):
    src = tmp_path / "ok.HDF5"
    write_crono(src, rows=2, columns=2, images=False)
    for drop in ("XRF/SpectraSelectedIndex", "XRF/Spectra"):
        bad = tmp_path / "bad.HDF5"
        _copy_without(src, bad, drop)
        with pytest.raises(FormatError, match=f"missing dataset /{drop}") as info:
            scanstack.open(bad, "crono")
        assert str(bad) in str(info.value)
    bad = tmp_path / "auto.HDF5"
    _copy_without(src, bad, "XRF/Spectra")
    with pytest.raises(FormatError, match="missing dataset"):
        scanstack.open(bad)  # still detected as crono, so the message says what is missing


def test_per_spectrum_array_of_wrong_length_is_left_out_with_a_warning(tmp_path):
    path = tmp_path / "short.HDF5"
    write_crono(path, rows=2, columns=3, images=False)
    with h5py.File(path, "a") as f:
        live = f["XRF/LiveTimes"][()]
        del f["XRF/LiveTimes"]
        f["XRF/LiveTimes"] = live[:-2]
    with pytest.warns(UserWarning, match="LiveTimes.*does not match") as record:
        stack = scanstack.open(path)
    assert str(path) in str(record[0].message)
    assert "live_time" not in stack.metadata and "real_time" in stack.metadata
    stack.close()


def test_selection_index_out_of_range(tmp_path):
    path = tmp_path / "idx.HDF5"
    write_crono(path, rows=2, columns=3, images=False)
    with h5py.File(path, "r+") as f:
        f["XRF/SpectraSelectedIndex"][1, 2, 0] = 10**6
    with pytest.raises(FormatError, match="SpectraSelectedIndex holds 1000000"):
        scanstack.open(path)


def test_malformed_blob_policies(tmp_path):
    path = tmp_path / "blob.HDF5"
    write_crono(path, rows=2, columns=2, images=False)
    with h5py.File(path, "r+") as f:
        ds = f["Configuration/Settings"]
        good = np.asarray(ds[0]).tobytes()
        ds[0] = np.frombuffer(good[:-40], "V1")
    with pytest.warns(UserWarning, match="Configuration/Settings, byte offset"):
        stack = scanstack.open(path)
    assert "__error__" in stack.original_metadata["Configuration"]["Settings"]
    assert stack.to_numpy().shape == (2, 2, 4096)  # the spectra stay readable
    with pytest.raises(FormatError, match="byte offset"):
        scanstack.open(path, blobs="strict")
    quiet = scanstack.open(path, blobs="skip")
    assert quiet.original_metadata["Configuration"]["Settings"] is None


def test_empty_blob_slots_are_not_errors(tmp_path):
    path = tmp_path / "empty.HDF5"
    write_crono(path, rows=2, columns=2, images=False)
    with h5py.File(path, "r+") as f:
        f["Configuration/InitialSystemStatus"][0] = np.frombuffer(b"", "V1")
    stack = scanstack.open(path, blobs="strict")
    assert stack.original_metadata["Configuration"]["InitialSystemStatus"] is None


def test_scalar_attributes_are_accepted(tmp_path):
    """cronomaxrf fails on 0-d attributes; we read them like the 1-element arrays."""
    path = tmp_path / "scalar.HDF5"
    write_crono(path, rows=2, columns=2, images=False)
    with h5py.File(path, "r+") as f:
        f["Configuration/Settings"].attrs["SpectraTime"] = np.uint32(60)
    assert scanstack.open(path).metadata["dwell_time"] == 0.06


def test_corrupt_spectra_chunk_names_the_dataset(tmp_path):
    path = tmp_path / "chunk.HDF5"
    write_crono(path, rows=3, columns=3, images=False)
    with h5py.File(path, "r") as f:
        info = f["XRF/Spectra"].id.get_chunk_info(0)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + 10)
        fh.write(b"\xde\xad\xbe\xef" * 8)
    stack = scanstack.open(path)
    with pytest.raises(FormatError, match="/XRF/Spectra") as err:
        stack.to_numpy()
    assert str(path) in str(err.value)


def test_non_linear_calibration_uses_the_energy_vector(tmp_path):
    path = tmp_path / "cal.HDF5"
    write_crono(path, rows=2, columns=2, images=False)
    with h5py.File(path, "r+") as f:
        f["XRF/CalibrationPoints"].attrs["CalibrationEquation"] = np.array([1], "<u4")
        ev = f["XRF/EnergyVector"][()]
        f["XRF/EnergyVector"][...] = ev + 0.001 * (ev / 40) ** 2
        expected = f["XRF/EnergyVector"][()]
    stack = scanstack.open(path)
    axis = stack.axes[-1]
    assert not axis.is_uniform and "energy_calibration" not in stack.metadata
    np.testing.assert_allclose(axis.coordinates, expected)


def test_camera_summary_in_metadata(tmp_path):
    path = tmp_path / "cam.HDF5"
    truth = write_crono(path, rows=2, columns=2)
    with scanstack.open(path) as stack:
        cam = stack.metadata["camera"]
    assert cam["frames"] == truth.n_frames
    assert cam["pixel_size"] == pytest.approx([truth.pixel_size] * 2)
    assert cam["StitchedImage"] is False  # one empty slot: nothing stitched
    write_crono(path, rows=2, columns=2, images=False, overwrite=True)
    assert scanstack.open(path).metadata["camera"]["frames"] == 0


def test_exported_matrices_outside_xrf(tmp_path):
    path = tmp_path / "moved.Exported.HDF5"
    write_crono(path, rows=3, columns=4, images=False, exported=True)
    with h5py.File(path, "r+") as f:
        expected = f["XRF/Spectra Regular Matrix"][()]
        f.create_group("Export")
        for key in [k for k in f["XRF"] if k.endswith(" Regular Matrix")]:
            f.move(f"XRF/{key}", f"Export/{key}")
    stack = scanstack.open(path, "crono-exported")
    np.testing.assert_array_equal(stack.to_numpy(), expected)
    assert stack.metadata["live_time"].shape == (12,)
    stack.close()
    with h5py.File(path, "r+") as f:
        del f["Export/Spectra Regular Matrix"]
    with pytest.raises(FormatError, match="no 'Spectra Regular Matrix'"):
        scanstack.open(path, "crono-exported")

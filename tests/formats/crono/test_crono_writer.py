"""The synthetic CRONO writer: instrument layout (checked with cronomaxrf), frames, ground truth."""

import io

import h5py
import numpy as np
import pytest
from PIL import Image

from scanstack.datasets import CronoGroundTruth, write_crono
from scanstack.formats.crono import unwrap_byte_array
from scanstack.formats.crono.reader import attr_value

cronomaxrf_crono = pytest.importorskip("cronomaxrf.crono")

# /XRF and friends as listed by cronomaxrf.read_datasets on the instrument's demo file (notes §1.2)
INSTRUMENT_DATASETS = [
    ("/Configuration/FinalSystemStatus", "O"),
    ("/Configuration/InitialSystemStatus", "O"),
    ("/Configuration/Settings", "O"),
    ("/CreatedDateTime", "|S1"),
    ("/CreatedWithSoftwareVersion", "|S1"),
    ("/FileStructureVersion", "<i4"),
    ("/Images/Documentation", "O"),
    ("/Images/ImageAdjusting/ImagePixelSizeRatio", "<f4"),
    ("/Images/Static", "O"),
    ("/Images/StitchedImage", "O"),
    ("/Images/VideoStreams", "O"),
    ("/XRF/CalibrationPoints", "<f4"),
    ("/XRF/DPPStartTimestamp", "<u8"),
    ("/XRF/Detected", "<u4"),
    ("/XRF/EnergyVector", "<f4"),
    ("/XRF/LiveTimes", "<u8"),
    ("/XRF/Maps/ComputedMaps", "<f8"),
    ("/XRF/MotorsPositions", "<u4"),
    ("/XRF/MotorsPositionsStats", "|u1"),
    ("/XRF/MotorsTimestamps", "<u8"),
    ("/XRF/OutputCountRates", "<f8"),
    ("/XRF/ROIs/ROIsEnergies", "<f8"),
    ("/XRF/ROIs/ROIsNames", "O"),
    ("/XRF/ROIs/ROIsObjects", "O"),
    ("/XRF/RealTimes", "<u8"),
    ("/XRF/ResetCounterValue", "<u4"),
    ("/XRF/Spectra", "<u2"),
    ("/XRF/SpectraIDs", "<u2"),
    ("/XRF/SpectraSelectedIndex", "<u8"),
    ("/XRF/Timestamps", "<u8"),
    ("/XRF/XComputedMapsCoordinate", "<f8"),
    ("/XRF/YComputedMapsCoordinate", "<f8"),
]
SETTINGS_ATTRS = {
    "Acceleration": "<f8",
    "Collimator": "O",
    "Filter": "O",
    "MapSetup": "O",
    "SpectraTime": "<u4",
    "TubekV": "<i4",
    "TubemA": "<i4",
    "XSize": "<u4",
    "XSpeed": "<f8",
    "XStart": "<u8",
    "YSize": "<u4",
    "YStart": "<u8",
    "YStep": "<f8",
    "ZStart": "<u8",
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("crono") / "14200215102021-synthetic.HDF5"
    truth = write_crono(path, rows=5, columns=6, ramp=3, seed=7)
    return path, truth


def test_layout_matches_the_instrument(written, capsys):
    path, _ = written
    datasets = cronomaxrf_crono.read_datasets(str(path))
    try:
        assert [
            (d.name, d.dtype.str if d.dtype.kind != "O" else "O") for d in datasets
        ] == INSTRUMENT_DATASETS
        cronomaxrf_crono.report(str(path))  # the reference's own dump runs through every dataset
    finally:
        datasets[0].file.close()
    out = capsys.readouterr().out
    assert "(32 DATASETS)" in out and "CRONO 1.2.4.54" in out


def test_vlen_types_and_one_element_attributes(written):
    path, _ = written
    with h5py.File(path, "r") as f:
        st = f["Images/Static"]
        assert h5py.check_vlen_dtype(st.dtype) == np.dtype("V1")
        assert st[0].dtype == np.dtype("V1") and st[0].size == 0  # the empty slot 0
        assert h5py.check_vlen_dtype(f["XRF/ROIs/ROIsNames"].dtype) == np.dtype("S1")
        settings = f["Configuration/Settings"]
        assert set(settings.attrs) == set(SETTINGS_ATTRS)
        for key, dt in SETTINGS_ATTRS.items():
            raw = settings.attrs[key]
            assert raw.shape == (1,), key
            assert (raw.dtype.str if raw.dtype.kind != "O" else "O") == dt, key
        assert attr_value(settings, "Collimator") == "0,5 mm"
        status = f["Configuration/FinalSystemStatus"]
        assert attr_value(status, "DateTime") == "10/15/2021 14:27:31"
        assert b"".join(f["CreatedDateTime"][()]).decode() == "10/15/2021 14:20:02"
        assert f["CreatedDateTime"].shape == (50,)
        assert np.isnan(f["XRF/Maps/ComputedMaps"][()]).all()
        assert f["XRF/Spectra"].compression == "gzip"


def test_frames_are_crops_of_the_object_with_exif_stamps(written):
    path, truth = written
    fh, fw = truth.frame_shape
    with h5py.File(path, "r") as f:
        st = f["Images/Static"]
        assert st.shape == (truth.n_frames + 1,)
        dpp = int(f["XRF/DPPStartTimestamp"][0])
        assert dpp == truth.dpp_start
        for k in (0, truth.n_frames // 3, truth.n_frames - 1):
            blob = np.asarray(st[k + 1]).tobytes()
            jpeg = unwrap_byte_array(blob)
            assert len(blob) == len(jpeg) + 28
            img = Image.open(io.BytesIO(jpeg))
            assert img.size == (fw, fh) and img.info.get("dpi") == (96, 96)
            stamp = int(img.getexif().get_ifd(0x8769)[0x9003])
            assert stamp == truth.frame_timestamps[k]
            r, c = truth.frame_origins[k]
            expected = truth.object_image[r : r + fh, c : c + fw].astype(float)
            err = np.abs(np.asarray(img.convert("RGB"), float) - expected).mean()
            assert err < 8, err  # JPEG q75 noise only
            other = truth.object_image[r + 20 : r + 20 + fh, c + 30 : c + 30 + fw].astype(float)
            if other.shape == expected.shape:
                assert np.abs(np.asarray(img.convert("RGB"), float) - other).mean() > err


def test_frames_follow_the_recorded_motion(written):
    path, truth = written
    with h5py.File(path, "r") as f:
        t = f["XRF/Timestamps"][()].astype(float)
        xy = f["XRF/MotorsPositions"][()][:, :2].astype(float)
    frame_t = truth.frame_timestamps - truth.dpp_start
    x = np.interp(frame_t, t, xy[:, 0])
    y = np.interp(frame_t, t, xy[:, 1])
    assert np.abs(x - truth.frame_positions[:, 0]).max() < 100  # motor noise ~20 µm
    assert np.abs(y - truth.frame_positions[:, 1]).max() < 5
    moves = np.abs(np.diff(truth.frame_origins, axis=0)).sum(1)
    assert (moves > 0).mean() > 0.5  # frames really move across the object
    # the truth positions and the crop origins agree with pixel size and frame centre
    centre_col = truth.frame_origins[:, 1] + (truth.frame_shape[1] - 1) / 2
    expected = (truth.frame_positions[:, 0] - truth.object_origin[0]) / truth.pixel_size
    assert np.abs(centre_col - expected).max() <= 0.5 + 1e-9


def test_ground_truth_round_trip(written, tmp_path):
    _, truth = written
    truth.save(tmp_path / "truth.npz")
    back = CronoGroundTruth.load(tmp_path / "truth.npz")
    np.testing.assert_array_equal(back.object_image, truth.object_image)
    np.testing.assert_array_equal(back.frame_origins, truth.frame_origins)
    assert back.geometry == truth.geometry and back.element_lines == truth.element_lines
    for name in truth.element_maps:
        np.testing.assert_array_equal(back.element_maps[name], truth.element_maps[name])


def test_writer_is_atomic_and_refuses_nothing_silently(tmp_path):
    path = tmp_path / "a.HDF5"
    path.write_bytes(b"keep me")
    with pytest.raises(ValueError, match="rows, columns >= 1"):
        write_crono(path, rows=0, columns=3, images=False)
    assert path.read_bytes() == b"keep me"
    assert not list(tmp_path.glob(".a.HDF5.*"))


@pytest.mark.slow
def test_demo_sized_file_has_ten_thousand_frames(tmp_path):
    truth = write_crono(tmp_path / "demo.HDF5", rows=85, columns=37, ramp=3)
    assert truth.n_frames >= 10_000
    with h5py.File(tmp_path / "demo.HDF5", "r") as f:
        assert f["Images/Static"].shape == (truth.n_frames + 1,)
        assert f["XRF/SpectraSelectedIndex"].shape == (85, 37, 1)


def test_few_channels_write_finite_spectra(tmp_path):
    """Element lines above the last channel emit nothing instead of NaN probabilities."""
    import warnings

    import scanstack
    from scanstack.datasets import write_crono

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        write_crono(tmp_path / "c.HDF5", rows=3, columns=4, channels=256, images=False)
    cube = scanstack.open(tmp_path / "c.HDF5").to_numpy()
    assert cube.shape == (3, 4, 256) and cube.sum() > 0

"""Frames placed in time and space against write_crono's ground truth."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from scanstack.core.errors import FormatError
from scanstack.crono import (
    AFTER,
    BEFORE,
    EMPTY,
    IN_ROW,
    ROW_CHANGE,
    ScanTrack,
    map_positions,
    open_frames,
    place_frames,
)

# write_crono records MotorsPositions with 20 µm (1 σ) of noise in x, 1 µm in y
NOISE_X = 20.0


@pytest.fixture(scope="module")
def placed(small_scan):
    path, truth = small_scan
    with open_frames(path) as stack:
        stamps = stack.reader.stamps()
    return truth, ScanTrack.from_file(path), place_frames(stamps, ScanTrack.from_file(path))


def test_track_rows_and_serpentine(placed):
    truth, track, _ = placed
    g = truth.geometry
    assert track.n_rows == g.rows
    assert track.dpp_start_us == truth.dpp_start
    assert track.spectra_time_us == 60_000
    assert track.row_direction.tolist() == [1, -1] * (g.rows // 2) + [1] * (g.rows % 2)
    assert np.all(track.row_stop - track.row_start == track.row_stop[0] - track.row_start[0])
    np.testing.assert_array_equal(track.t_us, truth.spectra_times)


def test_frame_times_and_positions_against_truth(placed):
    truth, track, pl = placed
    np.testing.assert_array_equal(pl.t_us, truth.frame_timestamps - truth.dpp_start)
    ex = pl.x_um - truth.frame_positions[:, 0]
    ey = pl.y_um - truth.frame_positions[:, 1]
    rows = pl.phase == IN_ROW
    # inside rows the position comes from the two recorded spectra around the frame time
    assert np.sqrt(np.mean(ex[rows] ** 2)) < NOISE_X
    assert np.abs(ex[rows]).max() < 4 * NOISE_X
    assert np.abs(ey[rows]).max() < 5
    # the row changes: y moves by YStep between the rows, and the frame lies between them
    rc = pl.phase == ROW_CHANGE
    assert rc.any()
    assert np.all(np.abs(ey[rc]) < truth.geometry.y_pitch)
    assert np.all((pl.row[rc] >= 0) & (pl.row[rc] < truth.geometry.rows - 1))


def test_phases_and_nearest_spectrum(placed):
    truth, track, pl = placed
    t0, t1 = truth.spectra_times[0], truth.spectra_times[-1]
    t = pl.t_us
    assert np.all((pl.phase == BEFORE) == (t < t0))
    assert np.all((pl.phase == AFTER) == (t > t1))
    rows = pl.phase == IN_ROW
    # the nearest spectrum is within half a dwell, on the same row
    dt = np.abs(truth.spectra_times[pl.spectrum[rows]] - t[rows])
    assert dt.max() <= 30_000
    assert np.all(track.row[pl.spectrum[rows]] == pl.row[rows])
    assert np.all(pl.spectrum[~rows] == -1)


def test_summary_explains_the_ratio(placed):
    truth, track, pl = placed
    s = pl.summary()
    assert s["n_frames"] == truth.n_frames
    assert s["n_spectra"] == track.t_us.size
    assert s["frames_per_spectrum"] == pytest.approx(truth.n_frames / track.t_us.size)
    assert s["frame_rate_hz"] == pytest.approx(30.0, rel=1e-3)
    assert s["spectrum_rate_hz"] == pytest.approx(1e6 / 60_000)
    # inside rows the camera takes frame rate / spectrum rate = 1.8 frames per spectrum
    span = np.sum(track.t_us[track.row_stop - 1] - track.t_us[track.row_start]) / 1e6
    assert abs(s["frames_by_phase"]["row"] - 30.0 * span) <= track.n_rows
    assert sum(s["frames_by_phase"].values()) == s["n_frames"]
    assert s["row_change_s"] == pytest.approx((truth.geometry.rows - 1) * (1.0 + 0.06), rel=0.05)
    assert "free-running" in s["explanation"]


def test_csv_and_map_positions(placed, small_scan, tmp_path):
    truth, _, pl = placed
    out = tmp_path / "frames.csv"
    pl.write_csv(out)
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == truth.n_frames
    k = len(rows) // 2
    assert int(rows[k]["slot"]) == k + 1
    assert int(rows[k]["stamp_us"]) == truth.frame_timestamps[k]
    assert float(rows[k]["x_um"]) == pytest.approx(pl.x_um[k], abs=0.01)
    mx, my = map_positions(small_scan[0])
    assert mx.shape == (truth.geometry.rows, truth.geometry.columns)
    sel = truth.selected_index
    assert np.abs(mx - truth.spectra_positions[sel, 0]).max() < 5 * NOISE_X
    assert np.abs(my - truth.spectra_positions[sel, 1]).max() < 5


def test_track_errors(tmp_path, write_static, real_blob):
    path = tmp_path / "frames-only.HDF5"
    write_static(path, [b"", real_blob])
    with pytest.raises(FormatError, match="/XRF/Timestamps"):
        ScanTrack.from_file(path)
    with pytest.raises(ValueError, match="increase"):
        ScanTrack.from_arrays([0, 10, 5], [0, 1, 2], [0, 0, 0], 0)
    with pytest.raises(ValueError, match="at least 2"):
        ScanTrack.from_arrays([0], [0], [0], 0)


def test_empty_slots_are_not_placed(placed):
    truth, track, pl = placed
    stamps = pl.stamp_us.copy()
    stamps[[3, 50]] = -1  # what on_empty="zeros" reports for an empty slot
    out = place_frames(stamps, track)
    assert out.phase[[3, 50]].tolist() == [EMPTY, EMPTY]
    assert np.isnan(out.x_um[[3, 50]]).all() and np.isnan(out.t_us[3])
    assert out.spectrum[50] == -1 and out.row[50] == -1
    np.testing.assert_array_equal(np.delete(out.x_um, [3, 50]), np.delete(pl.x_um, [3, 50]))
    assert out.summary()["n_frames"] == truth.n_frames - 2


def test_map_positions_of_a_file_that_is_not_hdf5_is_a_clear_error(tmp_path):
    import pytest

    from scanstack.core.errors import FormatError
    from scanstack.crono import map_positions

    bad = tmp_path / "not-crono.HDF5"
    bad.write_bytes(b"plain text, not HDF5")
    with pytest.raises(FormatError, match="not-crono.HDF5.*cannot open as HDF5"):
        map_positions(bad)

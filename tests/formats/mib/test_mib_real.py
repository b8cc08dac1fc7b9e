"""Real Merlin files against RosettaSciIO (the reference) and raw files against processed twins."""

from __future__ import annotations

import pickle
import shutil
import warnings

import numpy as np
import pytest
from _mibtest_helpers import (
    FRAME_OPTIONS,
    SCAN_4X2,
    SINGLE_9,
    as_native,
    real_mib_names,
    rsciio_read,
)

import scanstack
from scanstack.formats import mib
from scanstack.formats.mib import MibWarning

NAMES = real_mib_names()
PROCESSED = [n for n in NAMES if not n.endswith("RAW.mib")]
RAW = [n for n in NAMES if n.endswith("RAW.mib")]
#: RosettaSciIO turns 10 ns of timestamp jitter into a 3x3 scan here (see navigation.py)
JITTER_FILE = "Merlin_Single_Quad.zip/Quad_9_Frame_CounterDepth_24_Rows_256.mib"


def _open(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MibWarning)
        return scanstack.open(path, **kw)


def test_real_files_found():
    assert len(PROCESSED) >= 60 and len(RAW) >= 16


@pytest.mark.parametrize("name", PROCESSED)
def test_processed_matches_rsciio(mib_dir, name):
    path = mib_dir / name
    ref = rsciio_read(path)
    ref_data = np.asarray(ref["data"])
    s = scanstack.open(path) if name != "readmib_example.mib" else _open(path)
    assert s.format == "mib"
    if name == JITTER_FILE:
        # default robust heuristic: uniform spacing (10 ns jitter) is a 1-D series
        assert s.nav_shape == (9,) and ref_data.shape[:2] == (3, 3)
        s = _open(path, nav_heuristic="rsciio")
    assert s.shape == ref_data.shape
    data = s.to_numpy()
    assert data.dtype == ref_data.dtype.newbyteorder("=")
    np.testing.assert_array_equal(data, as_native(ref_data))
    # the drop-in file_reader: identical dicts, big-endian dtype included
    ours = mib.file_reader(str(path))[0]
    assert ours["data"].dtype == ref_data.dtype
    np.testing.assert_array_equal(ours["data"], ref_data)
    assert ours["axes"] == ref["axes"]
    assert ours["metadata"] == ref["metadata"]
    assert ours["original_metadata"].get("hdr_file") == ref["original_metadata"].get("hdr_file")


@pytest.mark.parametrize("name", [SCAN_4X2, SINGLE_9])
@pytest.mark.parametrize("kw", FRAME_OPTIONS, ids=str)
def test_frame_range_and_navigation_shape_match_rsciio(mib_dir, name, kw):
    path = mib_dir / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = np.asarray(rsciio_read(path, **kw)["data"])
        ours = mib.file_reader(str(path), **kw)[0]["data"]
        s = scanstack.open(path, **kw)
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)
    assert s.shape == ref.shape
    np.testing.assert_array_equal(s.to_numpy(), as_native(ref))


def test_lazy_and_chunks_match_rsciio(mib_dir):
    path = mib_dir / "Merlin_navigation4x2_ROI.zip/002_4x2_6bit_roi128.mib"
    ref = rsciio_read(path, lazy=True, chunks=(1, 2, 64, 256))["data"]
    ours = mib.file_reader(str(path), lazy=True, chunks=(1, 2, 64, 256))[0]["data"]
    assert type(ours).__name__ == "Array" and ours.chunks == ref.chunks
    np.testing.assert_array_equal(ours.compute(), ref.compute())
    s = scanstack.open(path, chunks=(1, 2, 64, 256))
    assert s.to_dask().chunks == ref.chunks
    eager = scanstack.open(path, lazy=False)
    np.testing.assert_array_equal(eager.to_numpy(), as_native(ref.compute()))
    with scanstack.open(path, mmap_mode="c") as cow:
        np.testing.assert_array_equal(cow[3], as_native(ref.compute()[0, 3]))


def test_file_order_matches_load_mib_data_and_hot_pixel(mib_dir):
    from rsciio.quantumdetector import load_mib_data

    path = mib_dir / (
        "Merlin_navigation4x2_signalNx256_ROI.zip/"
        "002_merlin_test_roi_sig256x128_nav4x2_hot_pixel_52x_39y.mib"
    )
    raw_order = np.asarray(load_mib_data(str(path)))
    s = scanstack.open(path, flip=False)
    assert s.nav_shape == (2, 4)
    np.testing.assert_array_equal(s.to_numpy().reshape(raw_order.shape), as_native(raw_order))
    frame = s[0]
    assert np.unravel_index(np.argmax(frame), frame.shape) == (39, 52)
    flipped = scanstack.open(path)[0]
    assert np.unravel_index(np.argmax(flipped), flipped.shape) == (128 - 1 - 39, 52)


def _jaccard(a, b):
    a, b = a.astype(bool), b.astype(bool)
    return (a & b).sum() / max((a | b).sum(), 1)


@pytest.mark.parametrize("name", RAW)
def test_raw_decodes_to_processed_twin(mib_dir, name):
    """Twins are separate acquisitions of the same scene (different noise): the counts agree
    on ~98-99 % of lit pixels, every chip quadrant on its own, and a mirrored frame agrees far less."""
    path = mib_dir / name
    twin = path.with_name(path.name.replace("RAW.mib", ".mib"))
    from rsciio.quantumdetector import file_reader

    with pytest.raises(NotImplementedError):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            file_reader(str(path))
    r, p = _open(path), _open(twin)
    assert r.shape == p.shape and r.dtype == p.dtype
    a, b = r.to_numpy(), p.to_numpy()
    assert a.max() <= 1
    jac = _jaccard(a, b)
    assert jac > 0.95
    rows, cols = a.shape[-2:]
    quads = [
        (rs, cs)
        for rs in (slice(0, rows // 2), slice(rows // 2, rows))
        for cs in (slice(0, cols // 2), slice(cols // 2, cols))
    ]
    for q in quads:  # each chip lands where the processed file has it, not elsewhere
        own = _jaccard(a[(..., *q)], b[(..., *q)])
        assert own > 0.8
        assert all(own > _jaccard(a[(..., *q)], b[(..., *o)]) for o in quads if o != q)
    assert _jaccard(a[..., ::-1, :], b) < jac - 0.2
    assert _jaccard(a[..., :, ::-1], b) < jac - 0.2
    # region reads of raw data decode the same pixels
    np.testing.assert_array_equal(
        r.get_region(0, ((3, 20), (5, 70))), a.reshape(-1, rows, cols)[0, 3:20, 5:70]
    )


@pytest.mark.parametrize(
    "name",
    [
        "Merlin_Single_Quad.zip/Single_9_Frame_CounterDepth_12_Rows_256.mib",
        "Merlin_Single_Quad.zip/Quad_9_Frame_CounterDepth_6_Rows_256.mib",
        "Merlin_Single_Quad.zip/Quad_9_Frame_CounterDepth_1_Rows_256RAW.mib",
    ],
)
def test_bytes_buffer_single_and_quad(mib_dir, name):
    path = mib_dir / name
    from_path = _open(path, hdr=False)
    buf = path.read_bytes()
    for source in (buf, bytearray(buf), np.frombuffer(buf, np.uint8)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MibWarning)
            s = scanstack.open(source, "mib")
        assert s.shape == from_path.shape
        np.testing.assert_array_equal(s.to_numpy(), from_path.to_numpy())
    assert scanstack.detect_format(buf) == "mib"
    np.testing.assert_array_equal(_open(buf)[-1], from_path[-1])


def test_path_and_uppercase_names(mib_dir, tmp_path):
    src = mib_dir / "Merlin_navigation4x2_signalNx256_ROI.zip"
    name = "003_merlin_test_roi_sig256x64_nav4x2_hot_pixel_52x_39y"
    shutil.copy(src / f"{name}.mib", tmp_path / "SCAN.MIB")
    shutil.copy(src / f"{name}.hdr", tmp_path / "SCAN.HDR")
    ref = np.asarray(rsciio_read(src / f"{name}.mib")["data"])
    s = scanstack.open(tmp_path / "SCAN.MIB")
    assert s.nav_shape == (2, 4) and s.reader.hdr_path.endswith("SCAN.HDR")
    assert s.metadata["navigation_source"] == "hdr ScanX/ScanY"
    np.testing.assert_array_equal(s.to_numpy(), as_native(ref))
    np.testing.assert_array_equal(
        scanstack.open(str(tmp_path / "SCAN.MIB")).to_numpy(), as_native(ref)
    )
    # the .hdr names the acquisition too
    assert scanstack.open(tmp_path / "SCAN.HDR").nav_shape == (2, 4)


def test_frame_headers_all_frames_not_off_by_one(mib_dir):
    from rsciio.quantumdetector import load_mib_data, parse_exposures, parse_timestamps

    path = mib_dir / "Merlin_navigation4x2_ROI.zip/001_4x2_6bit.mib"
    _, headers = load_mib_data(str(path), return_headers=True)
    table = mib.frame_headers(path)
    n = len(headers)
    assert len(parse_timestamps(headers, max_index=-1)) == n - 1  # RosettaSciIO's off-by-one
    ts = np.array(
        [t.rstrip("Z") for t in parse_timestamps(headers, max_index=n)], dtype="datetime64[ns]"
    )
    np.testing.assert_array_equal(table["timestamp"], ts)
    np.testing.assert_allclose(table["exposure"] * 1e3, parse_exposures(headers, max_index=n))
    assert table["sequence"].tolist() == list(range(1, n + 1))
    assert table["depth"].tolist() == [6] * n
    assert table["thresholds"].shape == (n, 8) and table["dacs"].shape == (n, 1, 27)
    s = scanstack.open(path)
    np.testing.assert_array_equal(s.timestamps(), ts)
    assert s.reader.first_header.thresholds == list(table["thresholds"][0])
    om = scanstack.open(path, frame_headers=True).original_metadata
    np.testing.assert_array_equal(om["frame_headers"]["timestamp"], ts)


def test_as_array_is_zero_copy_memmap(mib_dir):
    path = mib_dir / "Merlin_Single_Quad.zip/Quad_9_Frame_CounterDepth_12_Rows_256.mib"
    s = scanstack.open(path)
    view = s.as_array()
    assert isinstance(view, np.memmap) and view.dtype == np.dtype(">u2")
    assert view.shape == (9, 512, 512) and view.strides[0] == 768 + 512 * 512 * 2
    np.testing.assert_array_equal(view[2], s[2])
    np.testing.assert_array_equal(view[:, 10:20, 30:40], s.read(0, 9, ((10, 20), (30, 40))))
    assert s.reader.as_packed() is None  # processed data has no packed lanes
    unflipped = scanstack.open(path, flip=False)
    np.testing.assert_array_equal(unflipped.as_array()[1], view[1][::-1])
    assert (
        scanstack.open(
            str(path).replace(".mib", "RAW.mib").replace("CounterDepth_12", "CounterDepth_1")
        ).as_array()
        is None
    )


def test_metadata_common_keys_and_pickle(mib_dir):
    path = mib_dir / "Merlin_Single_Quad.zip/Quad_9_Frame_CounterDepth_24_Rows_256.mib"
    s = scanstack.open(path)
    md = s.metadata
    assert md["signal_type"] == "electron_diffraction" and md["format"] == "mib"
    assert md["dwell_time"] == pytest.approx(0.001)
    assert md["acquisition_time"] == "2021-04-15T14:04:00.746234381Z"
    assert md["instrument"]["layout"] == "2x2" and md["instrument"]["counter_depth"] == 24
    assert s.original_metadata["hdr_file"]["Counter Depth (number)"] == "24"
    d = s.to_rsciio_dicts(lazy=False)[0]
    assert d["metadata"] == rsciio_read(path)["metadata"]
    assert [a["size"] for a in d["axes"]] == [9, 512, 512]
    s2 = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(s2[4], s[4])
    assert "Merlin" in s.reader.info()

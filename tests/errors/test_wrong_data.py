"""Issue 8 item 6: data that would come back silently wrong is a clear error (or a warning).

Each file is written by scanstack's writers or by numpy/h5py/tifffile with the one defect, and the
error must name the file and the dataset, member, key or option, and say what was expected.
"""

from __future__ import annotations

import shutil
import warnings

import h5py
import numpy as np
import pytest
import tifffile

import scanstack
from scanstack.core.errors import FormatError, FrameIndexError, ScanstackError
from scanstack.datasets import write_crono


def _npz_cache(path, row, col, data, dtype="uint16", shape=(4, 5)):
    """A one-frame npz frame-cache with the given sparse frame (no validation: hexrd's layout)."""
    np.savez(
        path,
        shape=np.array(shape),
        nframes=np.array(1),
        dtype=np.array(dtype.encode()),
        **{"0_row": np.asarray(row), "0_col": np.asarray(col), "0_data": np.asarray(data)},
    )
    return path


@pytest.mark.parametrize(
    ("row", "col", "where"),
    [
        ([0, -1], [1, 2], "rows -1..0, cols 1..2"),
        ([0, 4], [1, 2], "rows 0..4, cols 1..2"),
        ([0, 1], [1, 5], "rows 0..1, cols 1..5"),
    ],
)
def test_frame_cache_pixel_indices_outside_the_frame(tmp_path, row, col, where):
    """A negative index used to wrap to the other edge of the frame; one past it too."""
    path = _npz_cache(tmp_path / "c.npz", np.array(row, np.int16), np.array(col, np.int16), [5, 6])
    with pytest.raises(
        FormatError,
        match=rf"c\.npz \(0_row\): frame 0: expected pixel indices inside the 4x5 frame, found {where}",
    ):
        scanstack.open(path)[0]


def test_frame_cache_values_that_do_not_fit_the_declared_dtype(tmp_path):
    path = _npz_cache(tmp_path / "c.npz", [0], [1], np.array([999], np.int64), dtype="uint8")
    with pytest.raises(
        FormatError, match=r"c\.npz \(0_data\).*999.*does not fit the declared dtype uint8"
    ):
        scanstack.open(path)[0]  # used to give 231
    path = _npz_cache(tmp_path / "f.npz", [0], [1], np.array([1e12]), dtype="uint16")
    with pytest.raises(
        FormatError,
        match=r"f\.npz \(0_data\): value 1000000000000\.0 \(float64\) does not fit the declared dtype uint16",
    ):
        scanstack.open(path)[0]
    path = _npz_cache(tmp_path / "ok.npz", [0], [1], np.array([255], np.int64), dtype="uint8")
    assert scanstack.open(path)[0][0, 1] == 255  # values that fit are cast exactly


def test_fch5_frame_ids_must_be_integers(tmp_path):
    stack = scanstack.open(None, "array", data=np.arange(40, dtype=np.uint16).reshape(2, 4, 5))
    path = tmp_path / "c.fch5"
    scanstack.save(stack, path, "frame-cache", threshold=0, style="fch5")
    with h5py.File(path, "r+") as f:
        ids = f["frame_ids"][()]
        del f["frame_ids"]
        f["frame_ids"] = ids.astype(np.float64) + 0.5
    with pytest.raises(
        FormatError, match=r"c\.fch5 \(/frame_ids\): expected integer frame_ids, found float64"
    ):
        scanstack.open(path)


def test_image_files_dtype_option_must_be_numeric_and_casts_exactly(tmp_path):
    tifffile.imwrite(tmp_path / "a.tif", np.full((3, 4), 1.5, np.float32))
    yml = tmp_path / "s.yml"
    yml.write_text("image-files: {directory: ., files: a.tif}\noptions: {dtype: object}\n")
    with pytest.raises(
        FormatError, match=r"s\.yml \(options/dtype\): expected a numeric dtype.*object"
    ):
        scanstack.open(yml)
    yml.write_text("image-files: {directory: ., files: a.tif}\noptions: {dtype: uint16}\n")
    with pytest.raises(FormatError, match=r"a\.tif \(options/dtype\): value 1\.5 .*does not fit"):
        scanstack.open(yml)[0]  # used to give 1


def test_tiff_whose_pages_differ_in_shape(tmp_path):
    path = tmp_path / "mixed.tif"
    with tifffile.TiffWriter(path) as tw:
        tw.write(np.zeros((4, 5), np.uint16))
        tw.write(np.ones((6, 7), np.uint16))
        tw.write(np.ones((6, 7), np.uint16))
    with pytest.raises(
        FormatError,
        match=r"mixed\.tif \(series\): expected pages of one shape and dtype, found 3 image series \(0: 1 page\(s\) of \(4, 5\) uint16, 1: .*pass series=N",
    ):
        scanstack.open(path)  # used to return the first page as a 1-frame stack
    s = scanstack.open(path, series=1)
    assert s.signal_shape == (6, 7) and s[0].sum() == 42


def test_missing_zarr_chunk_is_a_warning(tmp_path):
    data = np.arange(1, 4 * 6 * 5 + 1, dtype=np.uint16).reshape(4, 6, 5)
    path = tmp_path / "s.zarr"
    scanstack.save(scanstack.open(None, "array", data=data), path, "zarr", file_chunk_bytes=60)
    chunks = sorted((path / "data" / "c").rglob("*"))
    chunks = [c for c in chunks if c.is_file()]
    assert len(chunks) == 4  # one frame per chunk, all stored (zeros too)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(scanstack.open(path).to_numpy(), data)
    chunks[1].unlink()
    with pytest.warns(
        UserWarning,
        match=r"s\.zarr \(data\): 1 of 4 chunks are not stored and read as the fill value 0 \(scanstack writes every chunk",
    ):
        s = scanstack.open(path)
    assert not s[1].any() and np.array_equal(s[0], data[0])  # zarr's own rule, now announced


def test_zarr_writer_stores_all_zero_chunks(tmp_path):
    data = np.zeros((3, 4, 5), np.uint16)
    path = tmp_path / "z.zarr"
    scanstack.save(scanstack.open(None, "array", data=data), path, "zarr", file_chunk_bytes=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "missing chunk" warning for all-zero frames
        assert not scanstack.open(path).to_numpy().any()


@pytest.fixture(scope="module")
def crono_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("crono") / "143000011120261-e.HDF5"
    write_crono(path, rows=3, columns=4, channels=32, images=False, seed=2)
    return path


def _edit(src, dst, fn):
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        fn(f)
    return dst


def test_crono_float_selection_index(tmp_path, crono_file):
    def floats(f):
        sel = f["XRF/SpectraSelectedIndex"][()]
        del f["XRF/SpectraSelectedIndex"]
        f["XRF/SpectraSelectedIndex"] = sel.astype(np.float64) + 0.7

    path = _edit(crono_file, tmp_path / crono_file.name, floats)
    with pytest.raises(
        FormatError,
        match=r"\(/XRF/SpectraSelectedIndex\): expected integer spectrum numbers, found dtype float64",
    ):
        scanstack.open(path)  # used to select spectrum int(i + 0.7) = i


def test_crono_s1_spectra(tmp_path, crono_file):
    def strings(f):
        shape = f["XRF/Spectra"].shape
        del f["XRF/Spectra"]
        f["XRF/Spectra"] = np.full(shape, b"7", "S1")

    path = _edit(crono_file, tmp_path / crono_file.name, strings)
    with pytest.raises(
        FormatError, match=r"\(/XRF/Spectra\): expected a numeric dtype .*found \|S1"
    ):
        scanstack.open(path)  # used to come back as bytes


def test_raw_image_fractional_counts(tmp_path):
    (tmp_path / "f.bin").write_bytes(np.arange(40, dtype="<u2").tobytes())
    yml = tmp_path / "f.yml"
    yml.write_text("filename: f.bin\nshape: 4 5\nskip: 1.5\nscalar: {type: i, bytes: 2}\n")
    with pytest.raises(FormatError, match=r"f\.yml \(skip\): expected a whole number, found 1\.5"):
        scanstack.open(yml)  # used to skip 1 byte and read shifted frames
    yml.write_text("filename: f.bin\nshape: 4 5.5\nscalar: {type: i, bytes: 2}\n")
    with pytest.raises(FormatError, match=r"f\.yml \(shape\): expected shape 'rows cols'"):
        scanstack.open(yml)
    yml.write_text("filename: f.bin\nshape: 4 5\nskip: 0.0\nscalar: {type: i, bytes: 2}\n")
    np.testing.assert_array_equal(scanstack.open(yml)[1], np.arange(20, 40).reshape(4, 5))


def test_fractional_frame_numbers_are_not_truncated():
    s = scanstack.open(None, "array", data=np.arange(24).reshape(2, 3, 4))
    with pytest.raises(FrameIndexError, match="frame numbers are integers, not float64"):
        s.read_frames([1.5])  # used to read frame 1
    with pytest.raises(FrameIndexError):
        s.read(0.5, 2)
    assert isinstance(FrameIndexError("x"), (ScanstackError, IndexError))
    np.testing.assert_array_equal(s.read_frames(np.array([1], np.uint8)), s[1:2])


def test_mib_hdr_fractional_counts_are_not_read_as_integers():
    from scanstack.formats.mib.header import hdr_int

    assert hdr_int({"ScanX": "12.7"}, "ScanX") is None  # not 12: treated as not given
    assert hdr_int({"Frames per Trigger (Number)": "\t4"}, "Frames per Trigger") == 4

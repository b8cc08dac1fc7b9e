"""Issue 8 item 7: only scanstack's errors escape, each naming the file, the place and what was
expected — h5py's KeyError/RuntimeError, zlib.error, a pickled npz member's ValueError, IndexError
from float indices, ZeroDivisionError from a CRONO YStep of 0, a negative ScanX."""

from __future__ import annotations

import re
import shutil
import zipfile

import h5py
import numpy as np
import pytest

import scanstack
from scanstack.core.errors import FormatError, FrameIndexError, ScanstackError
from scanstack.core.reader import Reader
from scanstack.datasets import write_crono
from scanstack.formats.mib.writer import write_mib


def _hexrd_h5(path, libver="latest"):
    with h5py.File(path, "w", libver=libver) as f:
        g = f.create_group("imageseries")
        g.create_dataset("images", data=np.arange(60, dtype=np.uint16).reshape(3, 4, 5))
    return path


@pytest.mark.parametrize("which", [0, 1, 2])
def test_corrupt_hdf5_object_header(tmp_path, which):
    """A damaged object header (root, group or dataset): h5py raises KeyError or RuntimeError."""
    path = _hexrd_h5(tmp_path / "oh.h5")
    raw = bytearray(path.read_bytes())
    offsets = [m.start() for m in re.finditer(b"OHDR", raw)]  # v2 object headers
    assert len(offsets) == 3
    raw[offsets[which] + 6 : offsets[which] + 14] = b"\xff" * 8
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError) as info:
        with scanstack.open(path, "hdf5", path="imageseries") as s:
            s[0]
    text = str(info.value)
    # the HDF5 reader's safety walk (paths named inside files) or the decoder translation says it
    assert text.startswith(f"{path}") and re.search(r"corrupt|damaged", text), text
    assert re.search(r"(KeyError|RuntimeError): ", text), text  # what h5py said, on the line


def test_decoder_errors_name_the_object(tmp_path):
    """Past the open, an error decoding a chunk names the dataset and the frames."""
    path = tmp_path / "g.h5"
    data = np.arange(4 * 64 * 64, dtype=np.uint16).reshape(4, 64, 64)
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", data=data, chunks=(1, 64, 64), compression="gzip")
    with h5py.File(path, "r") as f:
        offset, size = f["imageseries/images"].id.get_chunk_info(2).byte_offset, 64
    raw = bytearray(path.read_bytes())
    raw[offset : offset + size] = b"\x00" * size  # frame 2's deflate stream
    path.write_bytes(bytes(raw))
    s = scanstack.open(path, "hdf5", path="imageseries")
    np.testing.assert_array_equal(s[1], data[1])
    with pytest.raises(
        FormatError, match=r"g\.h5 \(/imageseries/images\): cannot read frames 2:3 \(file corrupt"
    ):
        s[2]


def test_corrupt_npz_member_is_not_zlib_error(tmp_path):
    data = np.zeros((2, 4, 5), np.uint16)
    data[:, 1, 2] = 7
    path = tmp_path / "c.npz"
    scanstack.save(scanstack.open(None, "array", data=data), path, "frame-cache", threshold=0)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("1_data.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for k in range(info.compress_size):  # a broken deflate stream
        raw[start + k] ^= 0x5A
    path.write_bytes(bytes(raw))
    s = scanstack.open(path)
    np.testing.assert_array_equal(s[0], data[0])  # the other frames stay readable
    with pytest.raises(
        FormatError, match=r"c\.npz \(1_data\): corrupt or truncated array '1_data'"
    ):
        s[1]


def test_pickled_npz_member_is_not_valueerror(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(
        path,
        shape=np.array([4, 5]),
        nframes=np.array(1),
        dtype=np.array(b"uint16"),
        **{"0_row": np.array([1]), "0_col": np.array([2])},
        **{"0_data": np.array([None], dtype=object)},
    )
    with pytest.raises(
        FormatError,
        match=r"p\.npz \(0_data\): expected a numeric array '0_data', found a pickled object array",
    ):
        scanstack.open(path)[0]


def test_float_indices_are_frame_index_errors():
    s = scanstack.open(None, "array", data=np.arange(24).reshape(2, 3, 4))
    for key in (1.5, np.float64(1), (0, 1.5), [0.5], (0, slice(0.5, 2))):
        with pytest.raises(FrameIndexError, match="cannot index a stack of 2 frames"):
            s[key]
    with pytest.raises(FrameIndexError, match="frame 2 is out of range for a stack of 2 frames"):
        s[2]
    with pytest.raises(IndexError):  # hexrd's contract: still an IndexError
        s[-3]
    with pytest.raises(FrameIndexError, match="integers"):
        s.get_region(0, ((0.5, 2), (0, 1)))


@pytest.fixture(scope="module")
def crono_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("crono") / "143000011120261-e.HDF5"
    write_crono(path, rows=3, columns=4, channels=32, images=False, seed=2)
    return path


@pytest.mark.parametrize(
    ("attr", "value", "expected"),
    [
        ("YStep", 0.0, "expected a positive number, found 0.0"),
        ("XSpeed", -2.0, "expected a positive number, found -2.0"),
        ("SpectraTime", np.nan, "expected a positive number, found nan"),
        ("XStart", "garbage", "expected a finite number, found 'garbage'"),
    ],
)
def test_crono_settings_that_cannot_give_a_geometry(tmp_path, crono_file, attr, value, expected):
    path = tmp_path / crono_file.name
    shutil.copy(crono_file, path)
    with h5py.File(path, "r+") as f:
        f["Configuration/Settings"].attrs[attr] = value
    with pytest.raises(FormatError) as info:
        scanstack.open(path)  # YStep 0 used to raise ZeroDivisionError
    assert str(info.value) == (f"{path} (/Configuration/Settings attribute {attr}): {expected}")


def test_negative_scan_x_in_the_hdr(tmp_path):
    frames = np.ones((4, 256, 256), np.uint8)
    write_mib(tmp_path / "s.mib", frames, depth=6, nav_shape=(2, 2))
    hdr = tmp_path / "s.hdr"
    hdr.write_text(re.sub(r"ScanX:\s*\d+", "ScanX:\t-12", hdr.read_text()))
    with pytest.raises(
        FormatError, match=r"s\.hdr \(ScanX\): ScanX: expected a count >= 0, found -12"
    ):
        scanstack.open(tmp_path / "s.mib")  # used to report a scan of "-12 frames"


class _BuggyReader(Reader):
    """A reader with a bug of its own and one that hits a corrupt HDF5 file."""

    format_name = "buggy"

    def __init__(self, source, *, bug: bool):
        super().__init__(source, bug=bug)
        if bug:
            {}["a key this reader forgot"]  # noqa: B018 - the bug under test
        with h5py.File(source, "r") as f:
            f.visititems(lambda name, obj: None)


def test_only_decoder_errors_are_translated(tmp_path):
    """A KeyError of the reader's own code stays a KeyError (a bug must stay visible); the same
    class of error raised inside h5py on a corrupt file becomes a FormatError."""
    path = _hexrd_h5(tmp_path / "b.h5")
    with pytest.raises(KeyError, match="a key this reader forgot"):
        _BuggyReader(path, bug=True)
    raw = bytearray(path.read_bytes())
    at = [m.start() for m in re.finditer(b"OHDR", raw)][1]
    raw[at + 6 : at + 14] = b"\xff" * 8
    path.write_bytes(bytes(raw))
    with pytest.raises(
        FormatError,
        match=r"b\.h5: expected a readable buggy file; the file is corrupt or truncated \(h5py: RuntimeError",
    ):
        _BuggyReader(path, bug=False)
    assert issubclass(FormatError, ScanstackError)

"""hexrd ``raw-image`` plus ImageJ-style extras: gap between frames, several files, nframes."""

import pickle

import numpy as np
import pytest

import scanstack
from scanstack.core.errors import FormatError
from scanstack.formats.rawimage import scalar_dtype


def frames(n=4, rows=8, cols=6, dtype="<u2", seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 60000, (n, rows, cols)).astype(dtype)


def write_raw(path, data, header=0, gap=0, trailing_gap=False):
    with open(path, "wb") as fh:
        fh.write(b"\xab" * header)
        for i, f in enumerate(data):
            fh.write(f.tobytes())
            if gap and (i + 1 < len(data) or trailing_gap):
                fh.write(b"\xcd" * gap)
    return path


def test_hexrd_yaml_ge_like_file(tmp_path, monkeypatch):
    data = frames()
    write_raw(tmp_path / "scan.ge", data, header=8192)
    yml = tmp_path / "raw.yml"
    yml.write_text(
        "filename: scan.ge\nshape: 8 6\nskip: 8192\n"
        "scalar: {type: i, bytes: 2, signed: false, endian: little}\n"
    )
    monkeypatch.chdir("/")  # resolved against the YAML's folder
    s = scanstack.open(yml)
    assert s.format == "raw-image"
    assert s.shape == data.shape and s.dtype == np.uint16
    np.testing.assert_array_equal(s[:], data)
    assert s.metadata == {}
    assert s.as_array() is not None  # zero-copy memory map
    np.testing.assert_array_equal(s[np.int64(-1)], data[-1])


def test_offset_gap_and_several_files(tmp_path):
    data = frames(n=5, dtype=">i4")
    write_raw(tmp_path / "a.bin", data[:2], header=100, gap=12)
    write_raw(tmp_path / "b.bin", data[2:], header=100, gap=12, trailing_gap=True)
    s = scanstack.open(
        [tmp_path / "a.bin", tmp_path / "b.bin"],
        "raw-image",
        shape=(8, 6),
        dtype=">i4",
        offset=100,
        gap=12,
    )
    assert s.dtype == np.dtype("int32") and s.dtype.isnative
    assert len(s) == 5
    np.testing.assert_array_equal(s[:], data)
    np.testing.assert_array_equal(s[1:4], data[1:4])  # across the file boundary
    np.testing.assert_array_equal(s.get_region(3, ((2, 5), (1, 4))), data[3, 2:5, 1:4])
    (tmp_path / "r.yaml").write_text(
        "filenames: [a.bin, b.bin]\nshape: [8, 6]\nskip: 100\ngap: 12\n"
        "scalar: {type: i, bytes: 4, signed: true, endian: big}\n"
    )
    y = scanstack.open(tmp_path / "r.yaml", "raw-image")
    np.testing.assert_array_equal(y[:], data)
    clone = pickle.loads(pickle.dumps(y))
    np.testing.assert_array_equal(clone[4], data[4])


def test_explicit_nframes_reads_fewer(tmp_path):
    data = frames(n=3)
    path = write_raw(tmp_path / "d.raw", data, header=10)
    with open(path, "ab") as fh:
        fh.write(b"trailer")
    s = scanstack.open(path, "raw-image", shape=(8, 6), dtype="<u2", offset=10, nframes=2)
    np.testing.assert_array_equal(s[:], data[:2])


def test_scalar_types():
    assert scalar_dtype({"type": "i", "bytes": 2, "signed": False}) == np.dtype("<u2")
    assert scalar_dtype({"type": "i", "bytes": 8, "signed": True, "endian": "big"}) == np.dtype(
        ">i8"
    )
    assert scalar_dtype({"type": "f", "bytes": 4}) == np.dtype("<f4")
    assert scalar_dtype({"type": "d"}) == np.dtype("<f8")
    assert scalar_dtype({"type": "b", "bytes": 1}) == np.dtype("?")
    with pytest.raises(FormatError, match='endian must be "big" or "little"'):
        scalar_dtype({"type": "i", "bytes": 2, "endian": "middle"})


def test_sizes_are_validated_with_clear_errors(tmp_path):
    data = frames(n=3)
    path = write_raw(tmp_path / "d.raw", data, header=8192)
    with open(path, "ab") as fh:
        fh.write(b"x" * 5)
    with pytest.raises(
        FormatError,
        match=r"d\.raw \(byte offset \d+\).*not a whole number.*"
        r"8x6 uint16.*leave 5 bytes",
    ):
        scanstack.open(path, "raw-image", shape=(8, 6), dtype="<u2", offset=8192)
    # the header is larger than one frame: hexrd's modulo check wrongly rejects this file
    good = write_raw(tmp_path / "g.raw", data, header=8192)
    assert len(scanstack.open(good, "raw-image", shape=(8, 6), dtype="<u2", skip=8192)) == 3
    with pytest.raises(FormatError, match=r"g\.raw.*288 bytes.*4 8x6 uint16 frames.*need 384"):
        scanstack.open(good, "raw-image", shape=(8, 6), dtype="<u2", skip=8192, nframes=4)
    with pytest.raises(FormatError, match=r"g\.raw.*less than one"):
        scanstack.open(good, "raw-image", shape=(800, 600), dtype="<u2", skip=8192)
    yml = tmp_path / "bad.yml"
    yml.write_text("filename: g.raw\nshape: 8 by 6\nscalar: {type: i, bytes: 2}\n")
    with pytest.raises(FormatError, match=r"bad\.yml \(shape\).*'rows cols'"):
        scanstack.open(yml, "raw-image")
    yml.write_text("filename: ../g.raw\nshape: 8 6\nscalar: {type: i, bytes: 2}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "esc.yml").write_text(yml.read_text())
    with pytest.raises(FormatError, match="outside"):
        scanstack.open(tmp_path / "sub" / "esc.yml", "raw-image")
    with pytest.raises(FormatError, match=r"d\.raw \(dtype\).*needs dtype"):
        scanstack.open(path, "raw-image", shape=(8, 6))


def test_binary_file_without_shape_is_not_read_whole(tmp_path, monkeypatch):
    # without shape= the source is taken for a YAML description: a multi-GB .ge5 was read
    # into memory in full only to be refused as binary
    from pathlib import Path

    ge = tmp_path / "scan.ge2"
    ge.write_bytes(bytes(8192) + np.ones((2, 64, 64), "<u2").tobytes())

    def no_whole_read(self):
        raise AssertionError(f"read_bytes({self.name})")

    monkeypatch.setattr(Path, "read_bytes", no_whole_read)
    with pytest.raises(FormatError, match="found binary data; for headerless frames pass shape="):
        scanstack.open(ge, "raw-image")
    s = scanstack.open(ge, "raw-image", shape=(64, 64), dtype="<u2", offset=8192)
    np.testing.assert_array_equal(s[1], np.ones((64, 64)))


def test_empty_read_has_the_region_shape(tmp_path):
    import numpy as np

    import scanstack

    path = tmp_path / "d.bin"
    np.arange(3 * 4 * 5, dtype="<u2").tofile(path)
    stack = scanstack.open(path, "raw-image", shape=(4, 5), dtype="<u2")
    assert stack.reader.read(2, 2, (slice(1, 3), slice(0, 2))).shape == (0, 2, 2)

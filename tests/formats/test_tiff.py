"""TIFF stacks (read lazily, written frame by frame) and TIFF sequences with an image-files YAML."""

import pickle

import numpy as np
import pytest
import tifffile
import yaml
from _hexrd_helpers import omega

import scanstack
from scanstack.core.errors import FormatError, UnsupportedError, WriteError


def frames(n=5, rows=9, cols=7, dtype=np.uint16):
    return (np.arange(n * rows * cols).reshape(n, rows, cols) * 3).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32])
@pytest.mark.parametrize("compression", [None, "zlib"])
def test_multi_page_round_trip(tmp_path, dtype, compression):
    data = frames(dtype=dtype)
    meta = {"omega": omega(5), "panel": "ff1", "nested": {"a": None, "b": [1, 2]}}
    src = scanstack.Stack.from_array(data, metadata=meta)
    out = scanstack.save(src, tmp_path / "s.tif", "tiff", compression=compression)
    s = scanstack.open(out)
    assert s.format == "tiff" and s.dtype == np.dtype(dtype) and s.shape == data.shape
    np.testing.assert_array_equal(s[:], data)
    np.testing.assert_array_equal(s[1:4], data[1:4])
    np.testing.assert_array_equal(s.get_region(2, ((1, 5), (2, 6))), data[2, 1:5, 2:6])
    np.testing.assert_array_equal(s.metadata["omega"], omega(5))
    assert s.metadata["panel"] == "ff1" and s.metadata["nested"] == {"a": None, "b": [1, 2]}
    assert (s.as_array() is not None) == (compression is None)  # memory map when possible
    # other readers see an ordinary multi-page TIFF
    np.testing.assert_array_equal(tifffile.imread(out), data)
    with tifffile.TiffFile(out) as tif:
        assert len(tif.pages) == 5
    clone = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(clone[4], data[4])


def test_reads_tiffs_written_by_tifffile(tmp_path):
    data = frames(n=3)
    tifffile.imwrite(tmp_path / "plain.tif", data, photometric="minisblack")
    s = scanstack.open(tmp_path / "plain.tif")
    np.testing.assert_array_equal(s[:], data)
    assert s.metadata == {}
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tw:  # separate, unshaped pages
        for f in data:
            tw.write(f, contiguous=False, metadata=None)
    s = scanstack.open(tmp_path / "pages.tif", "tiff")
    np.testing.assert_array_equal(s[:], data)
    tifffile.imwrite(tmp_path / "one.tif", data[0])
    s = scanstack.open(tmp_path / "one.tif")
    assert s.shape == (1, 9, 7)
    np.testing.assert_array_equal(s[0], data[0])


def test_sequence_with_image_files_yaml(tmp_path):
    data = frames(n=4)
    meta = {"omega": omega(4), "panel": "ff1", "nested": {"x": 1}}
    src = scanstack.Stack.from_array(data, metadata=meta)
    out = scanstack.save(src, tmp_path / "seq" / "frames.yml", "tiff")
    tree = yaml.safe_load(open(out))
    assert tree["image-files"]["directory"] == "."
    # one whitespace-separated string, as hexrd writes it (hexrd calls files.split())
    assert tree["image-files"]["files"].split() == [f"frames_{i:05d}.tif" for i in range(4)]
    assert tree["meta"]["omega"] == "! load-numpy-array frames_omega.npy"
    s = scanstack.open(out)  # read back as image-files
    assert s.format == "image-files"
    np.testing.assert_array_equal(s[:], data)
    np.testing.assert_array_equal(s.metadata["omega"], omega(4))
    assert s.metadata["panel"] == "ff1" and s.metadata["nested"] == {"x": 1}
    # the folder can move: paths are relative
    moved = tmp_path / "moved"
    (tmp_path / "seq").rename(moved)
    np.testing.assert_array_equal(scanstack.open(moved / "frames.yml")[2], data[2])
    with pytest.raises(WriteError, match="yml"):
        scanstack.save(src, tmp_path / "x.tif", "tiff", sequence=True)


def test_never_overwrites_its_input(tmp_path):
    data = frames()
    out = scanstack.save(scanstack.Stack.from_array(data), tmp_path / "s.tif", "tiff")
    s = scanstack.open(out)
    with pytest.raises(WriteError, match="input"):
        scanstack.save(s, out, "tiff")
    np.testing.assert_array_equal(scanstack.open(out)[:], data)


def test_corrupt_and_wrong_inputs(tmp_path):
    text = tmp_path / "a.tif"
    text.write_text("not a tiff")
    with pytest.raises(FormatError, match=r"a\.tif.*expected a TIFF"):
        scanstack.open(text, "tiff")
    data = frames(n=6, rows=64, cols=64)
    out = scanstack.save(
        scanstack.Stack.from_array(data), tmp_path / "z.tif", "tiff", compression="zlib"
    )
    raw = open(out, "rb").read()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FormatError, match=r"cut\.tif"):
        scanstack.open(cut, "tiff")[:]
    plain = scanstack.save(scanstack.Stack.from_array(data), tmp_path / "p.tif", "tiff")
    raw = open(plain, "rb").read()
    cut.write_bytes(raw[: len(raw) - 100])
    with pytest.raises(FormatError, match=r"cut\.tif.*truncated"):
        scanstack.open(cut, "tiff")[:]


def test_unusable_compression_is_refused_before_writing(tmp_path):
    # tifffile's KeyError/ValueError/ModuleNotFoundError('compression') came out bare
    src = scanstack.Stack.from_array(np.ones((2, 4, 5), np.uint16))
    for bad in ("gzip", "no-such-codec"):
        with pytest.raises(UnsupportedError, match=f"compression '{bad}'"):
            scanstack.save(src, tmp_path / "a.tif", "tiff", compression=bad)
        with pytest.raises(UnsupportedError, match=f"compression '{bad}'"):
            scanstack.save(src, tmp_path / "s.yml", "tiff", compression=bad)
    assert list(tmp_path.iterdir()) == []


def test_pixel_size_from_tiffs_written_by_tifffile(tmp_path):
    """ImageJ's unit/spacing/finterval and TIFF resolution tags become axes."""
    data = frames(n=3)
    tifffile.imwrite(
        tmp_path / "ij.tif",
        data,
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.5),
        metadata={"unit": "um", "axes": "ZYX", "spacing": 2.0},
    )
    s = scanstack.open(tmp_path / "ij.tif")
    assert [(a.name, a.units, a.scale) for a in s.axes] == [
        ("z", "µm", 2.0),
        ("y", "µm", 0.5),
        ("x", "µm", 0.25),
    ]
    tifffile.imwrite(
        tmp_path / "cm.tif",
        data,
        resolution=(1000, 500),
        resolutionunit="CENTIMETER",
        photometric="minisblack",
    )
    s = scanstack.open(tmp_path / "cm.tif")  # pixels per cm -> µm per pixel
    assert [(a.name, a.units, a.scale) for a in s.axes[1:]] == [
        ("y", "µm", 20.0),
        ("x", "µm", 10.0),
    ]
    tifffile.imwrite(
        tmp_path / "t.tif", data, imagej=True, metadata={"axes": "TYX", "finterval": 0.5}
    )
    s = scanstack.open(tmp_path / "t.tif")
    assert (s.axes[0].name, s.axes[0].units, s.axes[0].scale) == ("time", "s", 0.5)
    assert [a.units for a in s.axes[1:]] == ["", ""]  # no resolution unit: pixels
    np.testing.assert_array_equal(s.to_numpy(), data)


def test_pixel_size_written_for_tiff_viewers(tmp_path):
    from scanstack import Axis, Stack

    data = frames(n=3)
    axes = [
        Axis("frame", 3),
        Axis("y", data.shape[1], "nm", 0.5, navigate=False),
        Axis("x", data.shape[2], "µm", 0.002, navigate=False),
    ]
    out = scanstack.save(
        Stack.from_array(data, signal_ndim=2, axes=axes), tmp_path / "s.tif", "tiff"
    )
    with tifffile.TiffFile(out) as tif:  # pixels per cm, as TIFF viewers read them
        page = tif.pages[0]
        assert int(page.resolutionunit) == 3
        np.testing.assert_allclose([float(v) for v in page.resolution], [5e6, 2e7])
    plain = scanstack.save(Stack.from_array(data, signal_ndim=2), tmp_path / "p.tif", "tiff")
    with tifffile.TiffFile(plain) as tif:  # pixel axes: no unit, as before
        assert int(tif.pages[0].resolutionunit) == 1

"""hexrd ``image-files``: YAML-listed images, paths relative to the YAML, order kept."""

import pickle

import fabio
import numpy as np
import pytest
import tifffile
from PIL import Image

import scanstack
from scanstack.core.errors import FormatError


def frame(i, shape=(6, 5), dtype=np.uint16):
    return (np.arange(np.prod(shape)).reshape(shape) + 100 * i).astype(dtype)


@pytest.fixture
def tiff_dir(tmp_path):
    d = tmp_path / "frames"
    d.mkdir()
    for name, i in [("b_001.tif", 1), ("b_000.tif", 0), ("a_002.tif", 2), ("a_001.tif", 3)]:
        tifffile.imwrite(d / name, frame(i))
    return d


def test_string_of_globs_each_sorted_in_the_order_given(tmp_path, tiff_dir, monkeypatch):
    yml = tmp_path / "ims.yml"
    yml.write_text(
        "image-files:\n  directory: frames\n  files: 'b_*.tif a_*.tif'\noptions: {}\nmeta: {}\n"
    )
    monkeypatch.chdir(tiff_dir)  # the YAML's folder counts, not the current one
    s = scanstack.open(yml)
    assert s.format == "image-files"
    # b_000 (0), b_001 (1), then a_001 (3), a_002 (2)
    np.testing.assert_array_equal(s[:], np.stack([frame(0), frame(1), frame(3), frame(2)]))
    assert s.dtype == np.uint16 and s.metadata == {}


def test_explicit_list_keeps_its_order_and_missing_options_default(tmp_path, tiff_dir):
    np.save(tmp_path / "omega.npy", np.arange(6.0).reshape(3, 2))
    yml = tmp_path / "ims.yaml"
    yml.write_text(
        "image-files:\n  directory: frames\n  files: [b_001.tif, a_002.tif, "
        "b_000.tif]\nmetadata:\n  omega: '! load-numpy-array omega.npy'\n"
        "  panel: ff1\n"
    )
    s = scanstack.open(yml, "image-files")
    np.testing.assert_array_equal(s[:], np.stack([frame(1), frame(2), frame(0)]))
    np.testing.assert_array_equal(s.metadata["omega"], np.arange(6.0).reshape(3, 2))
    assert s.metadata["panel"] == "ff1"
    np.testing.assert_array_equal(s[np.int64(-1)], frame(0))
    np.testing.assert_array_equal(s.get_region(1, ((1, 4), (2, 5))), frame(2)[1:4, 2:5])
    clone = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(clone[0], frame(1))


def test_yaml_string_source_resolves_against_the_current_folder(tmp_path, tiff_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = "image-files:\n  directory: frames\n  files: a_001.tif\noptions: {}\nmeta: {}\n"
    s = scanstack.open(text)  # a YAML string is detected too
    assert s.format == "image-files"
    np.testing.assert_array_equal(s[0], frame(3))


def test_paths_cannot_escape_the_yaml_folder(tmp_path, tiff_dir):
    sub = tmp_path / "sub"
    sub.mkdir()
    yml = sub / "esc.yml"
    yml.write_text("image-files:\n  directory: ../frames\n  files: a_001.tif\n")
    with pytest.raises(FormatError, match=r"esc\.yml.*outside.*allow_outside=True"):
        scanstack.open(yml, "image-files")
    s = scanstack.open(yml, "image-files", allow_outside=True)
    np.testing.assert_array_equal(s[0], frame(3))
    yml.write_text("image-files:\n  directory: .\n  files: [../frames/a_001.tif]\n")
    with pytest.raises(FormatError, match="outside"):
        scanstack.open(yml, "image-files")
    np.save(tmp_path / "om.npy", np.zeros((1, 2)))
    (tiff_dir / "m.yml").write_text(
        "image-files: {directory: ., files: a_001.tif}\n"
        "meta: {omega: '! load-numpy-array ../om.npy'}\n"
    )
    with pytest.raises(FormatError, match="outside"):
        scanstack.open(tiff_dir / "m.yml", "image-files")


def test_multi_frame_options(tmp_path):
    d = tmp_path
    for k in range(2):
        tifffile.imwrite(
            d / f"m{k}.tif",
            np.stack([frame(10 * k + j) for j in range(4)]),
            photometric="minisblack",
        )
    yml = d / "m.yml"
    yml.write_text(
        "image-files: {directory: ., files: 'm*.tif'}\n"
        "options: {empty-frames: 1, max-file-frames: 2, max-total-frames: 3}\n"
        "meta: {}\n"
    )
    s = scanstack.open(yml)
    # file 0 frames 1, 2; file 1 frame 1 (total capped at 3)
    np.testing.assert_array_equal(s[:], np.stack([frame(1), frame(2), frame(11)]))
    yml.write_text("image-files: {directory: ., files: 'm*.tif'}\noptions: {empty-frames: 4}\n")
    with pytest.raises(FormatError, match=r"m0\.tif.*empty-frames = 4"):
        scanstack.open(yml)


def test_dtype_option_casts_and_refuses_truncation(tmp_path):
    tifffile.imwrite(tmp_path / "big.tif", frame(3) * 10)  # values up to 329
    tifffile.imwrite(tmp_path / "small.tif", frame(0))
    yml = tmp_path / "c.yml"
    yml.write_text("image-files: {directory: ., files: small.tif}\noptions: {dtype: float32}\n")
    s = scanstack.open(yml)
    assert s.dtype == np.float32 and s[0].dtype == np.float32
    np.testing.assert_array_equal(s[0], frame(0).astype(np.float32))
    yml.write_text("image-files: {directory: ., files: big.tif}\noptions: {dtype: uint8}\n")
    with pytest.raises(FormatError, match=r"big\.tif.*does not fit the declared dtype uint8"):
        scanstack.open(yml)[0]


def test_png_and_fabio_images(tmp_path):
    for i in range(2):
        Image.fromarray(frame(i, dtype=np.uint8)).save(tmp_path / f"p{i}.png")
        fabio.edfimage.EdfImage(data=frame(i, dtype=np.float32)).write(str(tmp_path / f"e{i}.edf"))
    (tmp_path / "png.yml").write_text("image-files: {directory: ., files: 'p*.png'}\n")
    s = scanstack.open(tmp_path / "png.yml")
    assert s.dtype == np.uint8
    np.testing.assert_array_equal(s[1], frame(1, dtype=np.uint8))
    (tmp_path / "edf.yml").write_text("image-files: {directory: ., files: 'e*.edf'}\n")
    s = scanstack.open(tmp_path / "edf.yml")
    assert s.dtype == np.float32
    np.testing.assert_array_equal(s[:], np.stack([frame(0), frame(1)]).astype(np.float32))


def test_unknown_trigger_is_dropped_with_a_warning(tmp_path, tiff_dir):
    yml = tmp_path / "t.yml"
    yml.write_text(
        "image-files: {directory: frames, files: a_001.tif}\nmeta: {x: '! shell rm -rf', y: 2}\n"
    )
    with pytest.warns(UserWarning, match="unknown trigger"):
        s = scanstack.open(yml)
    assert s.metadata == {"y": 2}


def test_clear_errors(tmp_path, tiff_dir):
    yml = tmp_path / "e.yml"
    yml.write_text("image-files: {directory: frames, files: [a_001.tif, nope.tif]}\n")
    with pytest.raises(FormatError, match=r"e\.yml.*nope\.tif does not exist"):
        scanstack.open(yml, "image-files")
    yml.write_text("image-files: {directory: frames, files: 'z*.tif'}\n")
    with pytest.raises(FormatError, match=r"e\.yml.*matches no files"), pytest.warns(UserWarning):
        scanstack.open(yml, "image-files")
    yml.write_text("images: {directory: frames}\n")
    with pytest.raises(FormatError, match=r"e\.yml \(image-files\).*no 'image-files' key"):
        scanstack.open(yml, "image-files")
    (tiff_dir / "broken.tif").write_bytes(b"II*\x00" + b"\x00" * 20)
    yml.write_text("image-files: {directory: frames, files: broken.tif}\n")
    with pytest.raises(FormatError, match=r"broken\.tif.*cannot read as an image"):
        scanstack.open(yml, "image-files")
    tifffile.imwrite(tiff_dir / "wide.tif", np.zeros((6, 7), np.uint16))
    yml.write_text("image-files: {directory: frames, files: [a_001.tif, wide.tif]}\n")
    with pytest.raises(FormatError, match=r"wide\.tif.*\(6, 7\).*differ.*a_001\.tif"):
        scanstack.open(yml, "image-files")
    yml.write_bytes(b"\x00\x01binary")
    with pytest.raises(FormatError, match=r"e\.yml.*YAML"):
        scanstack.open(yml, "image-files")

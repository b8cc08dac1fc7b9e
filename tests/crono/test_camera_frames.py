"""The /Images/Static frame stack: decoding against Pillow, EXIF stamps, empty and bad slots."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
from PIL import Image

from scanstack.core.errors import FormatError
from scanstack.crono import iter_decoded, open_frames
from scanstack.crono.jpeg import JpegError, decode, decode_many, jpeg_shape, scaled_shape
from scanstack.formats.crono.nrbf import encode_byte_array, unwrap_byte_array

# libjpeg-turbo (simplejpeg) and Pillow's libjpeg may differ by a rounding step in the IDCT and
# the chroma upsampling: allow a few levels per pixel, and require near-equality on average.
MAX_DIFF = 8
MEAN_DIFF = 1.0


def pillow_rgb(jpeg: bytes, scale: int = 1) -> np.ndarray:
    im = Image.open(io.BytesIO(jpeg))
    if scale > 1:
        im.draft("RGB", (im.width // scale, im.height // scale))
    return np.asarray(im.convert("RGB"))


def assert_close(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= MAX_DIFF and diff.mean() <= MEAN_DIFF, (diff.max(), diff.mean())


@pytest.mark.parametrize("backend", ["simplejpeg", "pillow"])
@pytest.mark.parametrize("scale", [1, 2, 4, 8])
def test_decode_real_frame_like_pillow(real_jpeg, backend, scale):
    img = decode(real_jpeg, scale, backend=backend)
    assert img.shape == (*scaled_shape((107, 143), scale), 3)
    assert_close(img, pillow_rgb(real_jpeg, scale))


def test_decode_many_threads_equal_serial(real_jpeg):
    jpegs = [real_jpeg] * 40
    one = decode_many(jpegs, threads=1)
    two = decode_many(jpegs, threads=2)
    assert one.shape == (40, 107, 143, 3)
    np.testing.assert_array_equal(one, two)


def test_decode_errors(real_jpeg):
    assert jpeg_shape(real_jpeg) == (107, 143)
    with pytest.raises(JpegError, match="FFD8"):
        jpeg_shape(b"\x89PNG....")
    with pytest.raises(JpegError) as info:
        decode_many([real_jpeg] * 9 + [real_jpeg[:300]], threads=1)
    assert info.value.index == 9
    small = io.BytesIO()
    Image.fromarray(np.zeros((10, 12, 3), np.uint8)).save(small, "JPEG")
    with pytest.raises(JpegError, match="expected 143x107") as info:
        decode_many([real_jpeg] * 9 + [small.getvalue()], threads=1)
    assert info.value.index == 9
    with pytest.raises(ValueError, match="scale"):
        decode(real_jpeg, 3)


def test_real_blob_in_a_file(tmp_path, real_blob, real_jpeg, write_static):
    # the real blob, parsed (not sliced) by the NRBF decoder of formats.crono
    assert unwrap_byte_array(real_blob) == real_jpeg
    path = tmp_path / "real.HDF5"
    write_static(path, [b"", real_blob, real_blob])
    with open_frames(path) as stack:
        assert len(stack) == 2 and stack.signal_shape == (107, 143, 3)
        assert stack.dtype == np.uint8
        assert_close(stack[0], pillow_rgb(real_jpeg))
        assert stack.reader.stamps().tolist() == [125903170418] * 2
        assert stack.reader.pixel_size_um is None  # no ImagePixelSizeRatio in this file
        assert stack.axes[1].units == "px"


def test_synthetic_frames_equal_pillow_and_truth(small_scan):
    path, truth = small_scan
    with open_frames(path) as stack:
        reader = stack.reader
        assert len(stack) == truth.n_frames
        assert reader.first_slot == 1
        assert reader.pixel_size_um == pytest.approx((truth.pixel_size,) * 2)
        idx = np.array([0, 7, truth.n_frames // 2, truth.n_frames - 1])
        frames = stack[idx]
        for k, i in enumerate(idx):
            jpeg = reader.jpeg(int(i))
            assert_close(frames[k], pillow_rgb(jpeg))
            r, c = truth.frame_origins[i]
            crop = truth.object_image[r : r + 107, c : c + 143]
            assert np.abs(frames[k].astype(int) - crop).mean() < 6  # JPEG q75 of the true crop
        # EXIF stamps equal Pillow's and the writer's
        np.testing.assert_array_equal(reader.stamps(), truth.frame_timestamps)
        for i in idx:
            tag = Image.open(io.BytesIO(reader.jpeg(int(i)))).getexif().get_ifd(0x8769)[0x9003]
            assert int(tag) == reader.stamps()[i]
        # lazy views and the one-pass iterator agree with plain indexing
        np.testing.assert_array_equal(stack.isig[10:20, 30:50][3], frames[1][10:20, 30:50])
        seen = 0
        for a, block, stamps in iter_decoded(reader, frames_per_block=64):
            np.testing.assert_array_equal(stamps, truth.frame_timestamps[a : a + len(block)])
            if a <= 7 < a + len(block):
                np.testing.assert_array_equal(block[7 - a], frames[1])
            seen += len(block)
        assert seen == truth.n_frames
        # reduced-size stack
        half = open_frames(path, scale=2)
        assert half.signal_shape == (54, 72, 3)
        assert_close(half[7], pillow_rgb(reader.jpeg(7), 2))
        assert half.axes[2].scale == pytest.approx(2 * truth.pixel_size)
        half.close()


def test_pickles_by_reopening(small_scan):
    path, _ = small_scan
    with open_frames(path) as stack:
        clone = pickle.loads(pickle.dumps(stack))
        np.testing.assert_array_equal(clone[5], stack[5])
        clone.close()


def test_empty_slot_error_or_zeros(tmp_path, real_blob, write_static):
    path = tmp_path / "gap.HDF5"
    write_static(path, [b"", real_blob, b"", real_blob])
    with open_frames(path) as stack:
        assert len(stack) == 3
        stack[0]
        with pytest.raises(FormatError, match=r"/Images/Static\[2\].*empty image slot"):
            stack[1]
        with pytest.raises(FormatError, match=r"/Images/Static\[2\]"):
            stack.reader.stamps()
    with open_frames(path, on_empty="zeros") as stack:
        block = stack[0:3]
        assert not block[1].any() and block[0].any() and block[2].any()
        assert stack.reader.stamps().tolist() == [125903170418, -1, 125903170418]


def test_malformed_blobs_name_the_slot(tmp_path, real_blob, real_jpeg, write_static):
    cases = {
        "truncated": real_blob[:-10],
        "not NRBF": b"\x01" * 64,
        "not JPEG": encode_byte_array(b"\x89PNG" + b"\0" * 100),
        "corrupt JPEG": encode_byte_array(real_jpeg[:400]),
    }
    for name, blob in cases.items():
        path = tmp_path / f"{name}.HDF5"
        write_static(path, [b"", real_blob, blob])
        with open_frames(path) as stack, pytest.raises(FormatError) as info:
            stack[0:2]
        assert "/Images/Static[2]" in str(info.value), name
        assert str(path) in str(info.value)
    # a first frame that is not a JPEG fails at open, naming it
    path = tmp_path / "first.HDF5"
    write_static(path, [b"", encode_byte_array(b"hello")])
    with pytest.raises(FormatError, match=r"Static\[1\].*not a JPEG"):
        open_frames(path)


def test_files_without_frames(tmp_path, write_static):
    path = tmp_path / "none.HDF5"
    write_static(path, [b""])
    with pytest.raises(FormatError, match="holds no camera frames"):
        open_frames(path)
    other = tmp_path / "other.h5"
    import h5py

    with h5py.File(other, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(FormatError, match="dataset not found"):
        open_frames(other)
    with pytest.raises(FormatError, match="cannot open as HDF5"):
        open_frames(tmp_path / "missing.HDF5")
    with pytest.raises(ValueError, match="on_empty"):
        open_frames(other, on_empty="skip")


def test_without_simplejpeg_falls_back_to_pillow(small_scan, monkeypatch):
    import scanstack.crono.jpeg as jpeg_mod

    path, _ = small_scan
    with open_frames(path) as stack:
        fast = stack[0:20]
    monkeypatch.setattr(jpeg_mod, "simplejpeg", None)  # as if the 'jpeg' extra were missing
    assert jpeg_mod.available_backend() == "pillow"
    with open_frames(path) as stack:
        assert stack.reader.backend == "pillow"
        slow = stack[0:20]
    for a, b in zip(fast, slow, strict=True):
        assert_close(a, b)

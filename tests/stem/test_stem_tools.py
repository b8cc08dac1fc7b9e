"""4D-STEM tools against plain numpy on the dense array: in memory, memory-mapped with header gaps
(big-endian, flipped), bit-packed raw frames, lazy views and block-wise (dask-backed) stacks."""

from __future__ import annotations

import numpy as np
import pytest
from stem_helpers import (
    RNG,
    GappedMemmapReader,
    PackedReader,
    check_all,
    detectors,
    make_frames,
    numpy_virtual,
    write_gapped,
    write_packed,
)

from scanstack import Stack, settings, stem
from scanstack.core.lanes import direct_source
from scanstack.core.stack import ReaderStack


@pytest.mark.parametrize("nav", [(1,), (7,), (3, 5), (2, 3, 2)])
@pytest.mark.parametrize("dtype", ["u1", "<u2", ">u2", ">u4", "<i2", "f4", "?"])
def test_in_memory_stacks_equal_numpy(nav, dtype):
    dense = make_frames((*nav, 12, 10), dtype)
    stack = Stack.from_array(dense)
    assert direct_source(stack) is not None
    check_all(stack, dense)


@pytest.mark.parametrize(
    "view, dense_frames",
    [
        (lambda d: np.swapaxes(d, -1, -2), True),  # transposed frames
        (lambda d: d[..., ::-1, :], True),
        (lambda d: d[..., :, ::-1], True),
        (lambda d: d[..., ::-1, ::-1], True),
        (lambda d: d[..., ::2, :], False),  # not a dense block: read block-wise
        (lambda d: d.reshape(12, 12, 10)[::-1], False),  # frames in reverse memory order
    ],
)
def test_strided_in_memory_arrays(view, dense_frames):
    base = make_frames((3, 4, 12, 10), ">u2")
    dense = view(base)
    stack = Stack.from_array(dense)
    assert (direct_source(stack) is not None) == dense_frames
    check_all(stack, dense, threads=2)


@pytest.mark.parametrize("dtype", ["u1", ">u2", ">u4", "<u2", "<f8", ">i2", ">f4"])
@pytest.mark.parametrize("flip", [False, True])
def test_memmap_with_header_gaps(tmp_path, dtype, flip):
    nav, sig = (4, 6), (16, 24)
    frames = make_frames((24, *sig), dtype)
    path = tmp_path / "frames.bin"
    write_gapped(path, frames, dtype, header=384)
    stack = ReaderStack(
        GappedMemmapReader(str(path), nav_shape=nav, signal_shape=sig, dtype=dtype, flip=flip)
    )
    dense = frames[:, ::-1] if flip else frames
    dense = dense.reshape(*nav, *sig)
    src = direct_source(stack)
    # big-endian signed and float data have no zero-copy native view: read block-wise instead
    assert (src is not None) == (np.dtype(dtype).kind == "u" or np.dtype(dtype).isnative)
    check_all(stack, dense, threads=2)
    with settings(block_bytes=3 * frames[0].nbytes):  # several chunks per thread
        check_all(stack, dense, threads=2)


def test_lazy_views_of_a_memmap(tmp_path):
    nav, sig = (5, 6), (16, 20)
    frames = make_frames((30, *sig), ">u2")
    path = tmp_path / "frames.bin"
    write_gapped(path, frames, ">u2")
    stack = ReaderStack(
        GappedMemmapReader(str(path), nav_shape=nav, signal_shape=sig, dtype=">u2", flip=True)
    )
    dense = frames[:, ::-1].reshape(*nav, *sig)
    check_all(stack.inav[1:4, ::2], dense[1:4, ::2])
    check_all(stack.inav[::-1, 3], dense[::-1, 3])
    check_all(stack.frames([29, 0, 7, 7]), dense.reshape(30, *sig)[[29, 0, 7, 7]])
    check_all(stack.isig[2:14, 3:17], dense[:, :, 2:14, 3:17])  # region: block-wise path
    check_all(stack.isig[::2, ::-1].inav[1:3], dense[1:3, :, ::2, ::-1])
    check_all(stack.inav[2:4].isig[1:9, 4:12].inav[::-1], dense[2:4, :, 1:9, 4:12][::-1])


@pytest.mark.parametrize("lanes", ["bits", "u1", ">u2"])
@pytest.mark.parametrize("gap", [0, 2])
def test_packed_raw_frames(tmp_path, lanes, gap):
    nav, stored = (3, 7), (16, 32)
    hi = {"bits": 2, "u1": 64, ">u2": 4096}[lanes]
    frames = RNG.integers(0, hi, (21, *stored)).astype(np.uint16)
    path = tmp_path / "raw.bin"
    write_packed(path, frames, lanes)
    reader = PackedReader(str(path), nav_shape=nav, stored_shape=stored, lanes=lanes, gap=gap)
    stack = ReaderStack(reader)
    dense = reader.read(0, 21).reshape(*nav, *reader.signal_shape)
    np.testing.assert_array_equal(dense[..., : stored[1]], frames.reshape(*nav, *stored))
    src = direct_source(stack)
    assert src is not None and src.bits == (lanes == "bits")
    check_all(stack, dense, threads=2)
    with settings(block_bytes=4096):
        check_all(stack, dense, threads=2)
    # views: frame maps and regions are applied to the packed source too
    check_all(stack.inav[::2, 1:6], dense[::2, 1:6])
    assert direct_source(stack.isig[3:12, 5:30]) is not None
    check_all(stack.isig[3:12, 5:30].inav[1], dense[1, :, 3:12, 5:30])


def test_packed_bit_counters_do_not_overflow(tmp_path):
    # 1-bit sums go through 8-bit counters flushed every few hundred frames: cross that point
    frames = np.ones((1000, 8, 64), np.uint8)
    frames[::7, 3, 5] = 0
    path = tmp_path / "ones.bin"
    write_packed(path, frames, "bits")
    stack = ReaderStack(
        PackedReader(str(path), nav_shape=(1000,), stored_shape=(8, 64), lanes="bits")
    )
    expect = frames.sum(axis=0)
    np.testing.assert_array_equal(stem.sum_pattern(stack, threads=1), expect)
    np.testing.assert_array_equal(stem.sum_pattern(stack.frames(np.arange(999, -1, -1))), expect)
    assert stem.sum_pattern(stack).max() == 1000


def test_fast_false_reads_blocks_with_the_same_result(tmp_path):
    frames = make_frames((12, 16, 24), ">u2")
    path = tmp_path / "frames.bin"
    write_gapped(path, frames, ">u2")
    stack = ReaderStack(
        GappedMemmapReader(str(path), nav_shape=(3, 4), signal_shape=(16, 24), dtype=">u2")
    )
    check_all(stack, frames.reshape(3, 4, 16, 24), fast=False)


def test_block_wise_path_over_dask(tmp_path):
    da = pytest.importorskip("dask.array")
    dense = make_frames((6, 5, 12, 14), ">u2")
    stack = Stack.from_array(da.from_array(dense, chunks=(2, 5, 12, 14)))
    assert direct_source(stack) is None
    with settings(block_bytes=5 * dense[0, 0].nbytes):
        check_all(stack, dense, threads=2)


def test_progress_is_reported():
    dense = make_frames((4, 5, 8, 8), "u1")
    seen = []
    stem.sum_pattern(
        Stack.from_array(dense), progress=lambda done, total: seen.append((done, total))
    )
    assert seen and seen[-1] == (20, 20)
    seen.clear()
    stem.virtual_image(
        Stack.from_array(dense).isig[1:5],
        np.ones((4, 8)),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (20, 20)


def test_guess_disk_and_preview_images():
    rows, cols = 64, 80
    center, radius = (30.0, 41.0), 9.0
    disk = stem.disk_mask((rows, cols), center, radius)
    frames = RNG.poisson(2.0, (3, 4, rows, cols)) + (disk * RNG.poisson(50.0, (3, 4, rows, cols)))
    frames = frames.astype(np.uint16)
    frames[0, 0, 5, 5] = 60000  # a hot pixel must not win
    (cy, cx), r = stem.guess_disk(frames.sum(axis=(0, 1)))
    assert abs(cy - center[0]) < 0.5 and abs(cx - center[1]) < 0.5 and abs(r - radius) < 1
    images = stem.preview_images(Stack.from_array(frames))
    np.testing.assert_array_equal(images["sum pattern"], frames.sum(axis=(0, 1)))
    guessed = stem.disk_mask((rows, cols), (cy, cx), r)
    np.testing.assert_allclose(images["virtual bright field"], numpy_virtual(frames, [guessed])[0])
    bf = stem.virtual_bright_field(Stack.from_array(frames))  # guesses the same disk
    np.testing.assert_allclose(bf, images["virtual bright field"])
    # the preview says which disk its virtual image integrates
    from scanstack.preview import _stem_titles

    title = _stem_titles(images["sum pattern"])["virtual bright field"]
    assert "(y 30, x 41) r 9 px" in title


def test_guess_disk_falls_back_on_flat_patterns():
    (cy, cx), r = stem.guess_disk(np.zeros((10, 20)))
    assert (cy, cx) == (4.5, 9.5) and r == 1.25


def test_masks_partition_the_plane():
    shape, c = (33, 40), (16.2, 19.7)
    bf = stem.disk_mask(shape, c, 6)
    ring = stem.ring_mask(shape, c, 6, 12)
    outer = stem.disk_mask(shape, c, 12)
    np.testing.assert_array_equal(bf + ring, outer)
    yy, xx = np.mgrid[:33, :40]
    d = np.hypot(yy - c[0], xx - c[1])
    np.testing.assert_array_equal(ring.astype(bool), (d > 6) & (d <= 12))
    with pytest.raises(ValueError, match="outer radius"):
        stem.ring_mask(shape, c, 5, 4)


def test_bad_input_is_refused():
    spectra = Stack.from_array(np.zeros((4, 100)), signal_ndim=1)
    with pytest.raises(ValueError, match="2-D frames"):
        stem.sum_pattern(spectra)
    stack = Stack.from_array(np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"detector 1 has shape \(8, 7\)"):
        stem.virtual_images(stack, [np.ones((8, 8)), np.ones((8, 7))])
    with pytest.raises(ValueError, match="no detectors"):
        stem.virtual_images(stack, [])


def test_sum_does_not_overflow_uint16_chunks():
    # 8-bit/16-bit data is summed into uint32 per chunk, then uint64: a chunk must never overflow
    dense = np.full((70000, 1, 2), 65535, np.uint16)
    total = stem.sum_pattern(Stack.from_array(dense))
    assert total.dtype == np.uint64 and (total == 70000 * 65535).all()


def test_cluster_task_falls_back_to_blocks():
    # a worker without a zero-copy view (here: a dask-backed stack) reads its partition in blocks
    da = pytest.importorskip("dask.array")
    from scanstack.core.fold import _fold_task, fold_path
    from scanstack.core.lane_folds import ExtremeFold, SumFold
    from scanstack.stem.virtual import _DotFold

    dense = make_frames((4, 5, 8, 6), ">u2")
    stack = Stack.from_array(da.from_array(dense, chunks=(1, 5, 8, 6)))
    assert fold_path(stack) == "blocks"
    flat = dense.reshape(20, 8, 6)

    def task(fold):
        return _fold_task(stack, 3, 17, fold=fold, region=None, fpb=4, fast=True)

    np.testing.assert_array_equal(task(SumFold()), flat[3:17].sum(axis=0))
    np.testing.assert_array_equal(task(ExtremeFold("max")), flat[3:17].max(axis=0))
    masks = detectors((8, 6))
    pieces = task(_DotFold(np.stack(masks)))
    assert [a for a, _ in pieces] == [3, 7, 11, 15]
    np.testing.assert_allclose(
        np.concatenate([v for _, v in pieces]).T, numpy_virtual(flat[3:17], masks)
    )


def test_detector_mistakes_are_errors_not_silent_images():
    stack = Stack.from_array(make_frames((2, 3, 12, 10), np.uint16))
    with pytest.raises(ValueError, match="radius must be"):
        stem.virtual_bright_field(stack, (6, 5), -3)  # squared, it would act as radius 3
    with pytest.raises(ValueError, match="radius must be"):
        stem.virtual_annular_dark_field(stack, (6, 5), float("nan"), 4)
    with pytest.raises(ValueError, match="center must be"):
        stem.virtual_bright_field(stack, (1, 2, 3), 2)
    with pytest.raises(ValueError, match="no non-zero weight"):
        stem.virtual_bright_field(stack, (500, 500), 3)  # disk off the detector
    with pytest.raises(ValueError, match="NaN"):
        stem.virtual_images(stack, [np.full((12, 10), np.nan)])


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("nan_frame", [0, 1, 2])
def test_max_pattern_propagates_nan_like_numpy(fast, nan_frame):
    frames = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 1, 4, 4)
    frames[nan_frame, 0, 1, 2] = np.nan
    stack = Stack.from_array(frames)
    result = stem.max_pattern(stack, fast=fast)
    np.testing.assert_array_equal(result, np.max(frames, axis=(0, 1)))
    assert np.isnan(result[1, 2])

"""core.fold: every reduction takes the same path, and the in-place path equals the block path.

Each case folds the same file twice — in place (the reader's memory map or packed raw frames) and
block by block (``fast=False``: ``reader.read`` + the same folds) — and compares both with numpy on
the dense data: memory-mapped and not, native and big-endian, processed and raw ``.mib``,
contiguous (memory-mapped) and chunked HDF5.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import scanstack
from scanstack import Stack, settings, stats, stem, xrf
from scanstack.core.fold import fold_frames, fold_path
from scanstack.core.lane_folds import ExtremeFold, SumFold, Together
from scanstack.datasets import SyntheticFrames
from scanstack.formats import mib


def _frames(shape, dtype, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        data = rng.normal(100, 30, shape)
    elif dt.kind == "b":
        data = rng.random(shape) < 0.3
    else:
        top = 4000 if dt.itemsize >= 2 else 250
        data = rng.integers(0, top, shape)
        if dt.kind == "i":
            data -= top // 2
    return data.astype(dt)


def _both_paths(stack, func):
    """``func(fast)`` on the in-place and on the block path, results checked equal."""
    fast, blocks = func(True), func(False)
    np.testing.assert_array_equal(fast, blocks)
    return fast


def _check_stats(stack, dense: np.ndarray) -> None:
    flat = dense.reshape(-1, *dense.shape[-2:])
    for name, expected in (
        ("max", flat.max(axis=0)),
        ("min", flat.min(axis=0)),
        ("sum", flat.sum(axis=0, dtype=np.float64)),
    ):
        if name == "sum" and flat.dtype.kind == "f":
            continue  # float sums: checked with a tolerance below
        fold = {"max": ExtremeFold("max"), "min": ExtremeFold("min"), "sum": SumFold(False)}[name]
        got = _both_paths(stack, lambda fast, fold=fold: fold_frames(stack, fold, fast=fast))
        np.testing.assert_array_equal(got.astype(expected.dtype), expected)
        result = getattr(stats, name)(stack, threads=2)
        np.testing.assert_array_equal(result, expected)
        assert result.dtype == expected.dtype.newbyteorder("=")
    np.testing.assert_allclose(stats.sum(stack), flat.sum(axis=0, dtype=np.float64), rtol=1e-12)
    np.testing.assert_allclose(
        stats.mean(stack), flat.mean(axis=0, dtype=np.float64).astype(np.float32), rtol=1e-6
    )


def _check_stem(stack, dense: np.ndarray) -> None:
    flat = dense.reshape(-1, *dense.shape[-2:])
    total = _both_paths(stack, lambda fast: stem.sum_pattern(stack, threads=2, fast=fast))
    if flat.dtype.kind == "f":  # a float64 sum, frame by frame (numpy's pairwise order differs)
        np.testing.assert_allclose(total, flat.sum(axis=0, dtype=np.float64), rtol=1e-12)
    else:
        np.testing.assert_array_equal(total, flat.sum(axis=0))
    top = _both_paths(stack, lambda fast: stem.max_pattern(stack, threads=2, fast=fast))
    np.testing.assert_array_equal(top, flat.max(axis=0))
    mask = stem.disk_mask(flat.shape[1:], (flat.shape[1] / 2, flat.shape[2] / 3), 9)
    vbf = _both_paths(stack, lambda fast: stem.virtual_image(stack, mask, fast=fast))
    np.testing.assert_allclose(
        vbf.reshape(-1), (flat * mask).sum(axis=(1, 2), dtype=np.float64), rtol=1e-12
    )


@pytest.mark.parametrize("dtype", ["<u2", ">u2", "u1", "<i2", ">i2", "<f4", ">f8", "<u4", "?"])
def test_raw_image_memmap_in_place_equals_blocks(tmp_path, dtype):
    dense = _frames((13, 24, 20), dtype)
    path = tmp_path / "frames.raw"
    dense.tofile(path)
    stack = scanstack.open(path, "raw-image", shape=(24, 20), dtype=np.dtype(dtype).str)
    # native data and big-endian unsigned data are folded in place; the rest through blocks
    dt = np.dtype(dtype)
    in_place = dt.isnative or dt.kind == "u"
    assert fold_path(stack) == ("in place" if in_place else "blocks")
    assert fold_path(stack, fast=False) == "blocks"
    with settings(block_bytes=3 * dense[0].nbytes):  # several calls per thread
        _check_stats(stack, dense)
        if dt.kind != "b":
            _check_stem(stack, dense)


@pytest.mark.parametrize("dtype", ["<u2", ">u2", "<f4"])
def test_arrays_in_ram_fold_in_place(dtype):
    dense = _frames((3, 5, 16, 12), dtype)
    stack = Stack.from_array(dense)
    assert fold_path(stack) == "in place"
    _check_stats(stack, dense)
    _check_stem(stack, dense)
    # lazy views: frame maps compose with the memory map; crops read less through blocks
    assert fold_path(stack.inav[1:, ::2]) == "in place"
    _check_stats(stack.inav[1:, ::2], dense[1:, ::2])
    assert fold_path(stack.isig[2:9, 3:10]) == "blocks"
    _check_stats(stack.isig[2:9, 3:10], dense[..., 2:9, 3:10])


@pytest.mark.parametrize("depth", [1, 6, 12])
@pytest.mark.parametrize("raw", [False, True])
def test_mib_processed_and_raw_in_place_equals_blocks(tmp_path, depth, raw):
    frames = SyntheticFrames(12, (128, 128), depth, seed=depth)[0:12]
    path = tmp_path / "scan.mib"
    mib.write_mib(path, frames, depth, layout="2x2", raw=raw, nav_shape=(3, 4))
    dense = frames.reshape(3, 4, 128, 128)
    with scanstack.open(str(path)) as stack:
        # processed: a big-endian memory map, rows flipped; raw: packed lanes (bits for depth
        # 1) in the chips' order; both permuted to frame order once at the end
        assert fold_path(stack) == ("packed" if raw else "in place")
        with settings(block_bytes=5 * frames[0].nbytes):
            _check_stats(stack, dense)
            _check_stem(stack, dense)
        # stats.sum and stem.sum_pattern fold the same lanes with the same kernels
        np.testing.assert_array_equal(stats.sum(stack), stem.sum_pattern(stack))


@pytest.mark.filterwarnings("ignore:.*sequence numbers")
def test_real_mib_files_both_paths(shared_data):
    names = sorted((shared_data / "mib").glob("**/*.mib"))
    if not names:
        pytest.skip("no .mib files in the shared data")
    checked = 0
    for name in names[:40]:
        try:
            stack = scanstack.open(str(name))
        except scanstack.ScanstackError:
            continue  # e.g. a file without its .hdr; the format tests cover those
        with stack:
            if len(stack.signal_shape) != 2 or fold_path(stack) == "blocks":
                continue
            dense = stack.to_numpy()
            _check_stats(stack, dense)
            checked += 1
    assert checked > 0


@pytest.mark.parametrize("dtype", ["<u2", ">u2", "<f4", ">i4"])
def test_hdf5_contiguous_is_memory_mapped(tmp_path, dtype):
    dense = _frames((9, 32, 24), dtype)
    path = tmp_path / "series.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", data=dense)  # contiguous, like hexrd's writer
    chunked = tmp_path / "chunked.h5"
    scanstack.save(Stack.from_array(dense), chunked, "hdf5", path="imageseries", gzip=1)
    dt = np.dtype(dtype)
    with scanstack.open(path, "hdf5", path="imageseries") as s:
        assert isinstance(s.as_array(), np.memmap)
        assert fold_path(s) == ("in place" if dt.isnative or dt.kind == "u" else "blocks")
        _check_stats(s, dense)
    with scanstack.open(chunked, "hdf5", path="imageseries") as s:
        assert fold_path(s) == "blocks"  # compressed chunks: decoded block by block
        _check_stats(s, dense)


def test_hdf5_not_mapped_where_offsets_are_not_plain_file_offsets(tmp_path):
    # a user block shifts HDF5 addresses; an in-memory (core driver) file has no file to map:
    # both are read through h5py instead, with the same results
    dense = _frames((6, 32, 24), "<u2")
    path = tmp_path / "userblock.h5"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_dataset("imageseries/images", data=dense)
    with scanstack.open(path, "hdf5", path="imageseries") as s:
        assert not isinstance(s.as_array(), np.memmap) and fold_path(s) == "blocks"
        _check_stats(s, dense)
        np.testing.assert_array_equal(s.to_numpy(), dense)
    core = h5py.File(tmp_path / "core.h5", "w", driver="core", backing_store=False)
    core.create_dataset("imageseries/images", data=dense)
    with scanstack.open(core, "hdf5", path="imageseries") as s:
        assert fold_path(s) == "blocks"
        _check_stats(s, dense)


def test_spectra_memmap_folds_in_place(tmp_path):
    # 1-D frames (spectra) of a memory map are lanes too: the XRF tools get the fast path
    dense = _frames((6, 7, 64), "<u2")
    stack = Stack.from_array(dense, signal_ndim=1)
    assert fold_path(stack) == "in place"
    summary = xrf.summarize(stack, (), sum_spectrum=True, max_spectrum=True)
    np.testing.assert_array_equal(summary.sum_spectrum, dense.sum(axis=(0, 1), dtype=np.float64))
    np.testing.assert_array_equal(summary.max_spectrum, dense.max(axis=(0, 1)))
    both = fold_frames(stack, Together([SumFold(), ExtremeFold("min")]), threads=2)
    np.testing.assert_array_equal(both[0], dense.sum(axis=(0, 1)))
    np.testing.assert_array_equal(both[1], dense.min(axis=(0, 1)))


def test_start_stop_and_threads_cover_every_frame_once():
    dense = _frames((50, 4, 6), "<u2")
    stack = Stack.from_array(dense)
    for fast in (True, False):
        for threads in (1, 2, 3):
            with settings(block_bytes=7 * dense[0].nbytes):
                got = fold_frames(stack, SumFold(), start=5, stop=44, threads=threads, fast=fast)
            np.testing.assert_array_equal(got, dense[5:44].sum(axis=0))
    assert fold_frames(stack, SumFold(), start=10, stop=10) is None

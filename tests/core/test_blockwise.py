"""The block engine and the block-wise copy used by every writer."""

import numpy as np
import pytest

from scanstack.core import Stack
from scanstack.core.blockwise import gather, map_frames, partitions, reduce_frames
from scanstack.core.writing import copy_to, nav_blocks


def _sum_fold(acc, block, a, b):
    s = block.sum(axis=0, dtype=np.int64)
    return s if acc is None else acc + s


def _add(x, y):
    return x + y


def _frame_max(block):
    return block.reshape(len(block), -1).max(axis=1)


@pytest.fixture
def data():
    return np.random.default_rng(1).integers(0, 1000, (7, 9, 5, 6)).astype(np.uint16)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("fpb", [1, 4, 100])
def test_reduce_and_map_equal_numpy(data, threads, fpb):
    s = Stack.from_array(data)
    total = reduce_frames(s, _sum_fold, _add, frames_per_block=fpb, threads=threads)
    np.testing.assert_array_equal(total, data.sum(axis=(0, 1), dtype=np.int64))
    peaks = map_frames(s, _frame_max, out_dtype=np.uint16, frames_per_block=fpb, threads=threads)
    np.testing.assert_array_equal(peaks, data.max(axis=(2, 3)))


def test_reduce_region_and_range(data):
    s = Stack.from_array(data)
    part = reduce_frames(s, _sum_fold, _add, region=((1, 3), (2, 6)), start=5, stop=40)
    np.testing.assert_array_equal(part, data.reshape(63, 5, 6)[5:40, 1:3, 2:6].sum(0))


def test_progress_callback(data):
    calls = []
    reduce_frames(
        Stack.from_array(data),
        _sum_fold,
        _add,
        frames_per_block=10,
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (63, 63)


def test_gather_places_pieces_in_frame_order():
    # pieces arrive in any order (threads, cluster tasks); each lands at its first frame
    pieces = [(3, np.array([[7, 8], [9, 10]])), (0, np.array([[1, 2], [3, 4], [5, 6]]))]
    out = gather(pieces, 5, (2,), np.int32)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.arange(1, 11).reshape(5, 2))
    empty = gather(None, 0, (3,))
    assert empty.shape == (0, 3) and empty.dtype == np.float64


def test_partitions_cover_range():
    parts = partitions(103, 4, 10)
    assert parts[0][0] == 0 and parts[-1][1] == 103
    assert all(b == c for (_, b), (c, _) in zip(parts, parts[1:], strict=False))
    assert all(a % 10 == 0 for a, _ in parts)
    assert partitions(0, 3, 5) == []


@pytest.mark.parametrize("nav", [(12,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("fpb", [1, 3, 5, 50])
def test_nav_blocks_tile_the_grid(nav, fpb):
    seen = np.zeros(nav, int)
    for key in nav_blocks(nav, fpb):
        assert seen[key].size <= fpb
        seen[key] += 1
    assert (seen == 1).all()


@pytest.mark.parametrize("fpb", [1, 4, 20, 1000])
def test_copy_to(data, fpb):
    s = Stack.from_array(data)
    target = np.zeros_like(data)
    copy_to(s, target, frames_per_block=fpb)
    np.testing.assert_array_equal(target, data)
    flat = np.zeros((63, 5, 6), data.dtype)
    copy_to(s, flat, frames_per_block=fpb, flat=True)
    np.testing.assert_array_equal(flat, data.reshape(63, 5, 6))

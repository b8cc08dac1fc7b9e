"""scanstack.stats equals numpy on the dense array, for every statistic, dtype and selection."""

from __future__ import annotations

import numpy as np
import pytest
from stats_data import make_frames

import scanstack
from scanstack import stats
from scanstack.core.stack import Stack
from scanstack.stats import quantiles
from scanstack.stats.quantiles import plan_tiles

DTYPES = ["uint8", "uint16", "int32", "float32", "float64"]


def reference(data: np.ndarray, name: str, *args):
    """What numpy gives on the dense array, in hexrd's result dtypes."""
    if name == "max":
        return data.max(axis=0)
    if name == "min":
        return data.min(axis=0)
    if name == "sum":
        return data.astype(np.float64).sum(axis=0)
    if name == "average":
        return data.astype(np.float64).mean(axis=0).astype(np.float32)
    if name == "median":
        return np.median(data, axis=0).astype(np.float32)
    if name == "percentile":
        return np.percentile(data, args[0], axis=0).astype(np.float32)
    raise AssertionError(name)


def check(result: np.ndarray, expected: np.ndarray, dtype) -> None:
    assert result.shape == expected.shape
    assert result.dtype == expected.dtype
    if np.dtype(dtype).kind == "f" or result.dtype == np.float64:
        np.testing.assert_allclose(result, expected, rtol=2e-6, atol=1e-6, equal_nan=True)
    else:
        np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["max", "min", "sum", "average", "median"])
def test_matches_numpy(dtype, name):
    data = make_frames(dtype)
    result = getattr(stats, name)(Stack.from_array(data))
    check(result, reference(data, name), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_percentile_matches_numpy(dtype):
    data = make_frames(dtype)
    s = Stack.from_array(data)
    for q in (0, 10, 37.5, 50, 90, 100):
        check(stats.percentile(s, q), reference(data, "percentile", q), dtype)
    many = stats.percentile(s, [5, 50, 95])
    assert many.shape == (3, *data.shape[1:])
    check(many, reference(data, "percentile", [5, 50, 95]), dtype)
    grid = stats.percentile(s, np.array([[1, 2], [98, 99]]))
    assert grid.shape == (2, 2, *data.shape[1:])


def test_integer_median_is_exact_as_numpy():
    """Integer data: our float64 interpolation is numpy's, so results are bit-identical."""
    for dtype in ("uint8", "uint16", "int32"):
        data = make_frames(dtype, shape=(60, 64, 48))
        np.testing.assert_array_equal(stats.median(data), reference(data, "median"))
        np.testing.assert_array_equal(stats.percentile(data, 90), reference(data, "percentile", 90))


def test_mean_is_average():
    data = make_frames("uint16")
    np.testing.assert_array_equal(stats.mean(data), stats.average(data))
    assert stats.average(data).dtype == np.float32
    # hexrd's identity: sum == average * n (to float32 rounding)
    np.testing.assert_allclose(stats.sum(data), stats.average(data) * len(data), rtol=1e-6)


@pytest.mark.parametrize("dtype", ["int8", "int16", "uint32", "int64", "uint64", "float16", "bool"])
def test_other_dtypes(dtype):
    rng = np.random.default_rng(5)
    if dtype == "bool":
        data = rng.random((11, 9, 13)) < 0.4
    elif dtype == "float16":
        data = rng.normal(0, 10, (11, 9, 13)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -(2**40)), min(info.max, 2**40)
        data = rng.integers(lo, hi, (11, 9, 13), endpoint=True).astype(dtype)
    # float16 is computed in float32 (numpy interpolates in float16, less precisely); numpy's
    # percentile refuses bool, we count False/True as 0/1
    dense = {"float16": np.float32, "bool": np.uint8}.get(dtype)
    dense = data if dense is None else data.astype(dense)
    np.testing.assert_allclose(
        stats.median(data), np.median(dense, axis=0).astype(np.float32), rtol=1e-6
    )
    np.testing.assert_allclose(
        stats.percentile(data, [3, 71]),
        np.percentile(dense, [3, 71], axis=0).astype(np.float32),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(stats.max(data), data.max(axis=0))


def test_big_endian_data():
    data = make_frames("uint16").astype(">u2")
    check(stats.median(data), reference(data, "median"), "uint16")
    check(stats.percentile(data, [20, 80]), reference(data, "percentile", [20, 80]), "uint16")
    check(stats.max(data), reference(data, "max"), "uint16")
    check(stats.sum(data), reference(data, "sum"), "uint16")
    floats = make_frames("float32").astype(">f4")
    check(stats.median(floats), reference(floats, "median"), "float32")


def test_integer_extremes_and_wide_ranges():
    """Values at the dtype's limits (threshold passes must not wrap) and wide per-pixel ranges."""
    rng = np.random.default_rng(7)
    u8 = rng.integers(240, 256, (31, 20, 20)).astype(np.uint8)
    u8[:, :5] = 255
    i8 = rng.integers(-128, -120, (31, 20, 20)).astype(np.int8)
    wide = rng.integers(0, 60000, (31, 20, 20)).astype(np.uint16)
    mixed = rng.poisson(1.0, (31, 20, 20)).astype(np.uint16)
    mixed[::3, ::2] = 65535
    for data in (u8, i8, wide, mixed):
        np.testing.assert_array_equal(stats.median(data), reference(data, "median"))
        np.testing.assert_array_equal(
            stats.percentile(data, [0, 13, 99.5, 100]),
            reference(data, "percentile", [0, 13, 99.5, 100]),
        )


def test_nan_semantics():
    data = make_frames("float32", nan=False)
    data[4, 2, 3] = np.nan
    data[:, 5, 6] = np.nan
    for result in (
        stats.median(data),
        stats.percentile(data, 30),
        stats.max(data),
        stats.average(data),
    ):
        assert np.isnan(result[2, 3]) and np.isnan(result[5, 6])
        assert np.isfinite(result[0, 0])


@pytest.mark.parametrize("nframes", [0, 1, 5, 23, 100])
def test_nframes(nframes):
    data = make_frames("uint16")
    n = len(data) if nframes == 0 else min(nframes, len(data))
    s = Stack.from_array(data)
    for name in ("max", "min", "sum", "average", "median"):
        check(getattr(stats, name)(s, nframes), reference(data[:n], name), "uint16")
    check(
        stats.percentile(s, [25, 75], nframes),
        reference(data[:n], "percentile", [25, 75]),
        "uint16",
    )
    check(stats.percentile(s, 60, nframes=nframes), reference(data[:n], "percentile", 60), "uint16")


def test_bad_arguments():
    data = make_frames("uint16")
    with pytest.raises(ValueError, match="range"):
        stats.percentile(data, 101)
    with pytest.raises(ValueError, match="range"):
        stats.percentile(data, [10, -1])
    with pytest.raises(ValueError, match="nframes"):
        stats.median(data, -1)
    with pytest.raises(ValueError, match="zero frames"):
        stats.max(Stack.from_array(np.zeros((0, 3, 4), np.uint16)))
    with pytest.raises(TypeError):
        stats.median(Stack.from_array(np.zeros((3, 2, 2), np.complex64)))
    with pytest.raises(TypeError):
        stats.as_stack(42)


def test_regions_and_views(raw_stack):
    data = make_frames("uint16", shape=(20, 30, 40))
    s = raw_stack(data)
    views = {
        "isig": (s.isig[5:25, 3:33], data[:, 5:25, 3:33]),
        "isig-strided": (s.isig[::2, 1::3], data[:, ::2, 1::3]),
        "inav": (s.inav[4:17], data[4:17]),
        "frames": (s.frames([9, 2, 15, 15, 0]), data[[9, 2, 15, 15, 0]]),
    }
    for name, (view, dense) in views.items():
        for stat in ("max", "sum", "average", "median"):
            check(getattr(stats, stat)(view), reference(dense, stat), "uint16"), name
        check(stats.percentile(view, [10, 90]), reference(dense, "percentile", [10, 90]), "uint16")


def test_navigation_in_two_dimensions():
    """A 4D-STEM-like stack (scan y, scan x, ky, kx): statistics run over all scan positions."""
    data = make_frames("uint16", shape=(6 * 7, 16, 12)).reshape(6, 7, 16, 12)
    s = Stack.from_array(data)
    flat = data.reshape(-1, 16, 12)
    check(stats.median(s), reference(flat, "median"), "uint16")
    check(stats.max(s), reference(flat, "max"), "uint16")


def test_spectra_one_dimensional_signal():
    data = np.random.default_rng(2).poisson(5, (300, 128)).astype(np.uint16)
    s = Stack.from_array(data, signal_ndim=1)
    check(stats.median(s), np.median(data, axis=0).astype(np.float32), "uint16")
    check(stats.sum(s), data.sum(axis=0, dtype=np.float64), "uint16")


def test_threads_and_tiles_give_the_same_result(raw_stack, monkeypatch):
    data = make_frames("uint16", shape=(30, 64, 50))
    s = raw_stack(data)
    expected = reference(data, "median")
    one = stats.median(s, threads=1)
    # a tiny budget forces tiles shorter than a row: result + one thread's temporaries and
    # kernel buffers + 2 tiles (one read ahead) of 20 pixels × 30 frames × 2 bytes
    tiny = 64 * 50 * 4 + (64 << 10) + 257 * 30 * 2 + 2 * 20 * 30 * 2
    planned = []

    def spy(shape, max_pixels):
        planned.append(plan_tiles(shape, max_pixels))
        return planned[-1]

    monkeypatch.setattr(quantiles, "plan_tiles", spy)
    many = stats.median(s, threads=1, memory_budget=tiny)
    assert len(planned[0]) > 64 and max(b - a for a, b, _ in planned[0]) < 50
    two = stats.percentile(s, 50, threads=2, memory_budget=1 << 20)
    with scanstack.settings(num_threads=3):
        default = stats.median(s)
    for result in (one, many, two, default):
        np.testing.assert_array_equal(result, expected)
    for name in ("max", "sum", "average"):
        check(getattr(stats, name)(s, threads=1), getattr(stats, name)(s, threads=2), "float64")


def test_plan_tiles_cover_every_pixel_once():
    for shape, max_pixels in (
        ((7, 9), 20),
        ((7, 9), 4),
        ((7, 9), 1000),
        ((3, 4, 5), 7),
        ((3, 4, 5), 25),
        ((100,), 33),
    ):
        tiles = plan_tiles(shape, max_pixels)
        covered = np.zeros(shape, np.int32).reshape(-1)
        flat_ids = np.arange(covered.size).reshape(shape)
        for a, b, region in tiles:
            assert 0 < b - a <= max_pixels
            ids = flat_ids[region].reshape(-1)
            np.testing.assert_array_equal(ids, np.arange(a, b))
            covered[a:b] += 1
        assert np.all(covered == 1)


def test_progress_callbacks(raw_stack):
    data = make_frames("uint16", shape=(40, 64, 64))
    for name in ("max", "sum", "average", "median"):
        calls = []
        getattr(stats, name)(
            Stack.from_array(data), progress=lambda d, t, c=calls: c.append((d, t)), threads=2
        )
        assert calls, name
        assert calls[-1][0] == calls[-1][1] > 0
        assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    calls = []
    stats.percentile(
        raw_stack(data),
        [1, 99],
        progress=lambda d, t: calls.append((d, t)),
        memory_budget=200_000,
        threads=1,
    )
    assert len(calls) > 1 and calls[-1][0] == calls[-1][1]


def test_progress(capsys):
    data = make_frames("uint16", shape=(10, 16, 16))
    stats.median(data, progress=True)
    # tqdm's convention: no bar (no carriage returns) when stderr is not a terminal, as here;
    # the bar on a terminal is tested in tests/core/test_progress.py
    assert capsys.readouterr().err == ""
    seen = []
    stats.median(data, progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1] > 0


class FakeImageSeries:
    """A duck-typed image series: only __len__ and integer __getitem__, like hexrd's mocks."""

    def __init__(self, n, shape=(4, 4)):
        self.n, self.shape = n, shape

    def __len__(self):
        return self.n

    def __getitem__(self, k):
        if not isinstance(k, int):
            raise TypeError("only int keys")
        if not 0 <= k < self.n:
            raise IndexError(k)
        return np.full(self.shape, float(k), dtype=np.float32)


def test_as_stack_variants():
    data = make_frames("uint16")
    s = Stack.from_array(data)
    assert stats.as_stack(s) is s
    from_array = stats.as_stack(data)
    assert from_array.nframes == len(data) and from_array.signal_shape == data.shape[1:]
    one_frame = stats.as_stack(data[0])
    assert one_frame.nframes == 1
    seq = stats.as_stack([data[i] for i in range(len(data))])
    np.testing.assert_array_equal(stats.median(seq), reference(data, "median"))
    check(stats.percentile(seq, 80), reference(data, "percentile", 80), "uint16")


def test_duck_typed_series_like_hexrd_tests():
    """hexrd's tests pass a mock whose frame k is full of k: check its expected values."""
    ims = FakeImageSeries(10)
    assert np.all(stats.max(ims) == 9.0) and np.all(stats.max(ims, nframes=5) == 4.0)
    assert np.all(stats.min(ims) == 0.0)
    assert np.all(stats.average(ims) == 4.5) and np.all(stats.average(ims, nframes=5) == 2.0)
    assert np.all(stats.percentile(ims, 50) == 4.5) and np.all(stats.percentile(ims, 100) == 9.0)
    assert np.all(stats.median(ims) == 4.5)
    assert stats.max(ims).dtype == np.float32 and stats.sum(ims).dtype == np.float64


def test_duck_typed_series_with_magicmock():
    from unittest.mock import MagicMock

    ims = MagicMock()
    ims.__len__.return_value = 10
    ims.__getitem__.side_effect = lambda k: np.full((4, 4), float(k), dtype=np.float32)
    assert np.all(stats.median(ims) == 4.5)
    assert np.all(stats.average(ims, nframes=5) == 2.0)


def test_sequence_with_inconsistent_frames_is_a_clear_error():
    frames = [np.zeros((4, 4)), np.zeros((4, 5))]
    with pytest.raises(scanstack.FormatError, match="frame 1 has shape"):
        stats.max(frames)


def test_integer_sums_do_not_overflow_the_small_accumulator():
    """8/16-bit sums run in 32-bit accumulators that are flushed before they could overflow."""
    rng = np.random.default_rng(3)
    i16 = rng.integers(32000, 32768, (70_000, 2, 2)).astype(np.int16)
    i16[::2] *= -1
    u16 = np.full((70_000, 3), 65535, np.uint16)
    u16[5] = 7
    for data, ndim in ((i16, 2), (u16, 1)):
        s = Stack.from_array(data, signal_ndim=ndim)
        expected = data.sum(axis=0, dtype=np.int64).astype(np.float64)
        np.testing.assert_array_equal(stats.sum(s), expected)
        np.testing.assert_array_equal(stats.sum(s, threads=1, memory_budget=100_000), expected)
        np.testing.assert_allclose(stats.average(s), expected / len(data), rtol=1e-7)


def test_reduce_together_equals_each_statistic_in_one_read():
    from scanstack import stats
    from scanstack.core.memory import ArrayReader
    from scanstack.core.stack import ReaderStack

    class Counting(ArrayReader):
        frames_read = 0

        def read(self, start, stop, region=None):
            Counting.frames_read += stop - start
            return super().read(start, stop, region)

        def as_array(self):  # like a file: no in-memory view to fold in place
            return None

    data = np.random.default_rng(5).integers(0, 4000, (23, 9, 11)).astype(np.uint16)
    stack = ReaderStack(Counting(None, data=data))
    together = stats.reduce_together(stack, ("sum", "max", "min", "average"), threads=2)
    assert Counting.frames_read == 23
    for name, func in [
        ("sum", stats.sum),
        ("max", stats.max),
        ("min", stats.min),
        ("average", stats.average),
    ]:
        expected = func(data)
        assert together[name].dtype == expected.dtype
        np.testing.assert_array_equal(together[name], expected)
    with pytest.raises(ValueError, match="unknown statistics"):
        stats.reduce_together(stack, ("median",))

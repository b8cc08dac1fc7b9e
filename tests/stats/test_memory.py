"""Out of core: a stack 4x larger than the memory budget, peak memory measured with tracemalloc."""

from __future__ import annotations

import numpy as np
from stats_data import make_frames

import scanstack
from scanstack import stats
from traced_peak import traced_peak

#: numpy scalars, small arrays, Python objects of the machinery: well below one tile
SLACK = 256 << 10


def test_median_of_a_file_four_times_the_budget(raw_stack):
    data = make_frames("uint16", shape=(64, 256, 256))  # 8 MiB on disk
    s = raw_stack(data)
    budget = data.nbytes // 4
    expected_median = np.median(data, axis=0).astype(np.float32)
    expected_p90 = np.percentile(data, [10, 90], axis=0).astype(np.float32)
    del data
    with scanstack.settings(memory_budget=budget, num_threads=2):
        median, peak = traced_peak(lambda: stats.median(s))
        np.testing.assert_array_equal(median, expected_median)
        assert peak <= budget + SLACK, (peak, budget)
        p90, peak = traced_peak(lambda: stats.percentile(s, [10, 90]))
        np.testing.assert_array_equal(p90, expected_p90)
        assert peak <= budget + SLACK, (peak, budget)


def test_reductions_of_a_file_four_times_the_budget(raw_stack):
    data = make_frames("float32", shape=(64, 128, 256), nan=False)  # 8 MiB on disk
    s = raw_stack(data)
    budget = data.nbytes // 4
    for name, expected in (
        ("max", data.max(axis=0)),
        ("average", data.mean(axis=0, dtype=np.float64).astype(np.float32)),
        ("sum", data.sum(axis=0, dtype=np.float64)),
    ):
        result, peak = traced_peak(
            lambda name=name: getattr(stats, name)(s, memory_budget=budget, threads=2)
        )
        np.testing.assert_allclose(result, expected, rtol=1e-6)
        assert peak <= budget + SLACK, (name, peak, budget)


def test_quantile_kernel_buffers_fit_the_budget_with_many_frames(raw_stack):
    """Many frames of few pixels (a map of spectra read as frames): the kernel's chunk of pixels
    x all frames is made narrower so its buffers fit the budget (256 pixels of 16384 frames
    would take 8 MiB per thread), and the results still equal numpy's."""
    from scanstack.stats.quantiles import kernel_plan

    data = make_frames("uint16", shape=(16384, 8, 16))  # 4 MiB, 128 pixels
    budget = 1 << 20
    width, threads = kernel_plan(data.shape[0], 2, 2, budget)
    assert 1 <= width < 256 and threads >= 1
    assert threads * (width + 1) * data.shape[0] * 2 <= budget // 4
    # a roomy budget keeps the full chunk of pixels and every thread
    assert kernel_plan(64, 2, 2, 1 << 30) == (256, 2)
    s = raw_stack(data)
    median = stats.median(s, memory_budget=budget, threads=2)
    np.testing.assert_array_equal(median, np.median(data, axis=0).astype(np.float32))
    p = stats.percentile(s, [10, 90], memory_budget=budget, threads=2)
    np.testing.assert_array_equal(p, np.percentile(data, [10, 90], axis=0).astype(np.float32))

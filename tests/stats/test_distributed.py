"""Statistics on a dask.distributed cluster of two processes give the local results exactly."""

from __future__ import annotations

import numpy as np
import pytest
from stats_data import make_frames

from scanstack import stats

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_cluster_matches_threads(client, raw_stack):
    data = make_frames("uint16", shape=(40, 96, 80))
    s = raw_stack(data)  # pickles to the workers by re-opening the file
    budget = 400_000  # several tiles and blocks, so several tasks per worker
    calls = []
    for name in ("max", "min", "sum", "average", "median"):
        local = getattr(stats, name)(s, memory_budget=budget)
        remote = getattr(stats, name)(
            s, client=client, memory_budget=budget, progress=lambda d, t: calls.append((d, t))
        )
        assert remote.dtype == local.dtype, name
        np.testing.assert_array_equal(remote, local, err_msg=name)
    np.testing.assert_array_equal(stats.median(s), np.median(data, axis=0).astype(np.float32))
    p = stats.percentile(s, [10, 50, 90], client=client, memory_budget=budget)
    np.testing.assert_array_equal(p, stats.percentile(s, [10, 50, 90]))
    m = stats.median(s, nframes=7, client=client)
    np.testing.assert_array_equal(m, np.median(data[:7], axis=0).astype(np.float32))
    assert calls and calls[-1][0] == calls[-1][1]


def test_cluster_float_data_with_nans(client):
    data = make_frames("float32", shape=(21, 30, 20))
    for name in ("max", "average", "median"):
        np.testing.assert_array_equal(
            getattr(stats, name)(data, client=client), getattr(stats, name)(data), err_msg=name
        )

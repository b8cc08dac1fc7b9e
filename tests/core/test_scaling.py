"""The same calls with ``client=`` on a LocalCluster of worker processes give the threaded results.

The fast test runs a small series; the slow one runs ``benchmarks/bench_scaling.py`` on a series
larger than one worker's memory limit (median and conversion to zarr, results compared there).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_scaling.py"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_scaling", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_median_and_zarr_on_worker_processes_equal_the_threaded_run(tmp_path):
    bench = _bench()
    src = tmp_path / "series.h5"
    bench.make_series(src, frames=21, side=96)
    budget = 21 * 96 * 96 * 2 // 3  # tiles and chunks smaller than the series: several tasks
    local = bench.run(src, tmp_path / "threads.zarr", threads=2, budget=budget)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        remote = bench.run(src, tmp_path / "cluster.zarr", client=client, budget=budget)
        assert len(client.scheduler_info()["workers"]) == 2
    import h5py

    with h5py.File(src) as f:
        data = f["imageseries/images"][()]
    np.testing.assert_array_equal(local["median"], np.median(data, axis=0).astype(np.float32))
    np.testing.assert_array_equal(remote["median"], local["median"])
    assert bench.zarr_equal(tmp_path / "threads.zarr", tmp_path / "cluster.zarr")
    import scanstack

    np.testing.assert_array_equal(scanstack.open(tmp_path / "cluster.zarr").to_numpy(), data)


@pytest.mark.slow
def test_bench_scaling_series_larger_than_a_worker(tmp_path, capsys):
    # 100 x 2048^2 uint16 = 839 MB > the 768 MiB limit of each worker process
    rows = _bench().main(["--frames", "100", "--worker-memory", "768", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "DIFFERENT" not in out
    runs = [r for r in rows if "operation" in r]
    assert len(runs) == 4 and all(r["equal"] and r["mb_s"] > 0 for r in runs)
    assert rows[-1]["worker_peak_mib"] < rows[-1]["worker_limit_mib"]

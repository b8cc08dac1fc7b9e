"""Scale-out: median and a conversion to zarr on a dask.distributed LocalCluster of processes.

The series is larger than one worker's memory limit; the same calls run once on this machine's
threads and once with ``client=`` on the cluster (2 worker processes, 1 thread each), the results
are compared (median equal, zarr contents equal), and the throughputs printed side by side with
the per-core rates that docs/scaling.md works from.

    python benchmarks/bench_scaling.py [--quick] [--frames N] [--side S] [--worker-memory MiB]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import scanstack
from scanstack import stats


def make_series(path: Path, frames: int, side: int) -> None:
    """An uncompressed hexrd hdf5 series of random counts 0..63 (uint16), written block-wise."""
    import h5py

    rng = np.random.default_rng(11)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(
            "imageseries/images",
            shape=(frames, side, side),
            dtype=np.uint16,
            chunks=(1, side, side),
        )
        for a in range(0, frames, 8):
            b = min(a + 8, frames)
            ds[a:b] = rng.integers(0, 64, size=(b - a, side, side), dtype=np.uint16)


def make_mib(path: Path, hdf5: Path) -> None:
    """The same series as a Merlin .mib (raw frames, read through a memory map)."""
    with scanstack.open(hdf5, "hdf5", path="imageseries") as s:
        scanstack.save(s, path, "mib", progress=False)


def _open(path: Path):
    if path.suffix == ".mib":
        return scanstack.open(path)
    return scanstack.open(path, "hdf5", path="imageseries")


def _worker_peak_rss() -> int:
    """Peak resident memory of this (worker) process, bytes (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def zarr_equal(a: Path, b: Path, block: int = 8) -> bool:
    """The arrays of two zarr stores written by scanstack hold the same values (block-wise)."""
    sa, sb = scanstack.open(a), scanstack.open(b)
    if (sa.shape, sa.dtype) != (sb.shape, sb.dtype):
        return False
    for start in range(0, sa.nframes, block):
        stop = min(start + block, sa.nframes)
        if not np.array_equal(sa.read(start, stop), sb.read(start, stop)):
            return False
    return True


def run(
    path: Path, out: Path, *, client=None, threads: int = 2, budget: int = 96 << 20
) -> dict[str, float | np.ndarray]:
    """Median and zarr conversion of ``path`` with the same keywords; times in seconds."""
    kw = {"client": client, "threads": threads, "memory_budget": budget, "progress": False}
    with _open(path) as s:
        t0 = time.perf_counter()
        median = stats.median(s, **kw)
        t1 = time.perf_counter()
        scanstack.save(s, out, "zarr", compression="blosc-zstd", **kw)
        t2 = time.perf_counter()
        nbytes = s.nbytes
    return {"median": median, "median_s": t1 - t0, "zarr_s": t2 - t1, "nbytes": nbytes}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a small series (a check, not figures)"
    )
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--side", type=int, default=None)
    parser.add_argument("--worker-memory", type=int, default=None, help="MiB per worker process")
    parser.add_argument(
        "--dir", default=None, help="where to write the series (default: a tmp dir)"
    )
    parser.add_argument(
        "--source",
        choices=("hdf5", "mib"),
        default="hdf5",
        help="the series as uncompressed hexrd hdf5 (default) or as a Merlin .mib (memory map)",
    )
    args = parser.parse_args(argv)
    frames = args.frames or (24 if args.quick else 160)
    side = args.side or (1024 if args.quick else 2048)
    # a worker process holds ~250 MiB before any task (interpreter, numpy, h5py, numba, dask);
    # dask pauses a worker at 80 % of its limit
    worker_mib = args.worker_memory or 768
    budget = (32 if args.quick else 96) << 20

    from distributed import Client, LocalCluster

    work = Path(args.dir or tempfile.mkdtemp(prefix="scanstack-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "series.h5"
    t = time.perf_counter()
    make_series(src, frames, side)
    if args.source == "mib":
        make_mib(work / "series.mib", src)
        src.unlink()
        src = work / "series.mib"
    gen = time.perf_counter() - t
    series_mb = frames * side * side * 2 / 1e6
    load = os.getloadavg()[0]
    print(
        f"series: {frames} x {side}x{side} uint16 = {series_mb:.0f} MB, {args.source} "
        f"(generated in {gen:.1f} s); "
        f"{os.cpu_count()} CPUs, load {load:.1f}; memory budget per call {budget >> 20} MiB"
    )
    rows = []
    try:
        local = run(src, work / "threads.zarr", threads=2, budget=budget)
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                memory_limit=f"{worker_mib}MiB",
                dashboard_address=":0",
            ) as cluster,
            Client(cluster) as client,
        ):
            print(
                f"cluster: LocalCluster, 2 worker processes x 1 thread, memory_limit "
                f"{worker_mib} MiB each (the series is {series_mb / worker_mib / 1.048576:.2f}x that)"
            )
            remote = run(src, work / "cluster.zarr", client=client, budget=budget)
            peaks = client.run(_worker_peak_rss)
        median_equal = bool(np.array_equal(local["median"], remote["median"]))
        zarr_same = zarr_equal(work / "threads.zarr", work / "cluster.zarr")
        worker_peak = max(peaks.values()) / 2**20
        print()
        print(f"{'operation':<22}{'run':<26}{'time s':>8}{'MB/s':>8}{'MB/s/core':>11}  result")
        for op, key, same in (
            ("median", "median_s", median_equal),
            ("convert to zarr", "zarr_s", zarr_same),
        ):
            for label, res, cores in (
                ("threads (2)", local, 2),
                ("LocalCluster (2 procs)", remote, 2),
            ):
                mb_s = series_mb / res[key]
                row = {
                    "operation": op,
                    "run": label,
                    "seconds": round(res[key], 3),
                    "mb_s": round(mb_s, 1),
                    "mb_s_core": round(mb_s / cores, 1),
                    "equal": same,
                }
                rows.append(row)
                verdict = "equal" if same else "DIFFERENT"
                print(
                    f"{op:<22}{label:<26}{res[key]:>8.2f}{mb_s:>8.0f}{mb_s / cores:>11.0f}  "
                    f"{verdict}"
                )
        print(
            f"\nworker peak RSS {worker_peak:.0f} MiB (limit {worker_mib} MiB); "
            f"load after {os.getloadavg()[0]:.1f}"
        )
        print(json.dumps({"series_mb": series_mb, "worker_peak_mib": round(worker_peak)}))
        if not (median_equal and zarr_same):
            raise SystemExit("cluster results differ from the threaded ones")
        rows.append({"worker_peak_mib": worker_peak, "worker_limit_mib": worker_mib})
    finally:
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])

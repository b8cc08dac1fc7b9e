"""Conversions of a stack larger than the memory budget to NeXus, USID, NSID and Zarr.

A map of XRF-like spectra (uint16, low Poisson counts: realistic compressibility) is generated
block by block into an uncompressed HDF5 file, larger than ``scanstack.config.memory_budget``
(set low for the run). It is opened with scanstack (a lazy, file-backed stack) and converted with
``scanstack.save(stack, out, fmt, compression=...)`` to every format. Each conversion is compared,
in the same run, with the plain peer copy of the same array: an h5py loop ``dst[a:b] = src[a:b]``
into a dataset with the same chunks and filter (for the HDF5 formats) or the same loop into a zarr
array with the same chunks and codec (zarr v3 writes the chunks of one assignment concurrently).
The raw read speed of the source (h5py, whole file once) is the hardware line.

Prints MB/s (of uncompressed data), the ratio to the peer, the peak resident memory added during
the conversion (it must stay near the budget, not the file size) and the output size.

Usage: ``python benchmarks/bench_convert.py [--quick] [--client]``
(``--client`` also converts to zarr and nexus on a local dask.distributed cluster of 2 worker
processes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import dask.array  # noqa: F401 - imported up front: import time and memory are not conversion cost
import h5py
import numpy as np
import zarr  # noqa: F401

import scanstack
from _memory import PeakRSS
from scanstack.core.config import settings
from scanstack.formats import _interchange as ic

CHANNELS = 2048


def make_source(path: Path, rows: int, cols: int) -> None:
    rng = np.random.default_rng(0)
    lam = 0.5 + 4.0 * np.exp(-0.5 * ((np.arange(CHANNELS) - 700) / 30.0) ** 2)
    with h5py.File(path, "w") as f:
        d = f.create_dataset(
            "/mca_0/data", (rows, cols, CHANNELS), np.uint16, chunks=(1, min(cols, 64), CHANNELS)
        )
        f["/mca_0/calibration"] = [0.0, 0.01, 0.0]
        f["/mca_0/live_time"] = np.full(rows * cols, 0.1)
        block = rng.poisson(lam, (4, cols, CHANNELS)).astype(np.uint16)
        for r in range(0, rows, 4):
            n = min(4, rows - r)
            d[r : r + n] = np.roll(block, r, axis=1)[:n]


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def h5_peer(src: Path, out: Path, compression, block_rows: int) -> None:
    with h5py.File(src, "r") as f, h5py.File(out, "w") as g:
        s = f["/mca_0/data"]
        chunks = ic.frame_chunks(s.shape[:2], s.shape[2:], 2, 4 << 20)
        d = g.create_dataset(
            "data", s.shape, s.dtype, chunks=chunks, **ic.h5_compression(compression)
        )
        for a in range(0, s.shape[0], block_rows):
            d[a : a + block_rows] = s[a : a + block_rows]


def zarr_peer(src: Path, out: Path, compression, block_rows: int) -> None:

    with h5py.File(src, "r") as f:
        s = f["/mca_0/data"]
        chunks = ic.frame_chunks(s.shape[:2], s.shape[2:], 2, 8 << 20)
        z = zarr.create_array(
            str(out),
            shape=s.shape,
            dtype=s.dtype,
            chunks=chunks,
            compressors=ic.zarr_compressors(compression),
            zarr_format=3,
        )
        for a in range(0, s.shape[0], block_rows):
            z[a : a + block_rows] = s[a : a + block_rows]


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small file (~130 MB), for tests")
    parser.add_argument("--client", action="store_true", help="also zarr on a local cluster")
    parser.add_argument("--dir", default=None, help="work folder (default: a temporary one)")
    args = parser.parse_args(argv)

    rows, cols = (32, 1000) if args.quick else (256, 1000)  # 131 MB / 1.05 GB
    budget = (32 << 20) if args.quick else (256 << 20)
    work = Path(args.dir or tempfile.mkdtemp(prefix="bench_convert_"))
    work.mkdir(parents=True, exist_ok=True)
    src = work / "source.h5"
    t = time.perf_counter()
    make_source(src, rows, cols)
    nbytes = rows * cols * CHANNELS * 2
    print(
        f"source: {rows} x {cols} x {CHANNELS} uint16 = {nbytes / 1e6:.0f} MB, generated in "
        f"{time.perf_counter() - t:.1f} s; memory budget {budget >> 20} MiB, "
        f"{os.cpu_count()} CPUs"
    )

    t = time.perf_counter()
    with h5py.File(src, "r") as f:
        d = f["/mca_0/data"]
        for a in range(0, rows, 8):
            d[a : a + 8]
    read_s = time.perf_counter() - t
    print(f"hardware line: h5py reads the source at {nbytes / read_s / 1e6:.0f} MB/s")

    cases = [
        ("nexus", None),
        ("nexus", "gzip-1"),
        ("nexus", "lzf"),
        ("nexus", "blosc-zstd"),
        ("usid", "lzf"),
        ("nsid", "lzf"),
        ("zarr", None),
        ("zarr", "blosc-zstd"),
        ("zarr", "gzip-1"),
    ]
    results = []
    block_rows = max(1, (8 << 20) // (cols * CHANNELS * 2))
    print(
        f"\n{'format':<7}{'compression':<12}{'scanstack MB/s':>15}{'peer MB/s':>11}{'ratio':>7}"
        f"{'peak +RSS MiB':>15}{'out MB':>8}"
    )
    for fmt, comp in cases:
        out = work / f"out.{fmt}"
        peer_out = work / f"peer.{fmt}"
        for p in (out, peer_out):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        with settings(memory_budget=budget, block_bytes=min(8 << 20, budget // 4)):
            stack = scanstack.open(src, "nexus")
            with PeakRSS() as mem:
                t = time.perf_counter()
                scanstack.save(stack, out, fmt, compression=comp, progress=False)
                ours = time.perf_counter() - t
            stack.close()
        t = time.perf_counter()
        (zarr_peer if fmt == "zarr" else h5_peer)(src, peer_out, comp, block_rows)
        peer = time.perf_counter() - t
        row = {
            "format": fmt,
            "compression": comp,
            "mb_s": nbytes / ours / 1e6,
            "peer_mb_s": nbytes / peer / 1e6,
            "ratio": peer / ours,
            "peak_rss_mib": mem.added / 2**20,
            "out_mb": size_of(out) / 1e6,
        }
        results.append(row)
        print(
            f"{fmt:<7}{comp or 'none':<12}{row['mb_s']:>15.0f}{row['peer_mb_s']:>11.0f}"
            f"{row['ratio']:>7.2f}{row['peak_rss_mib']:>15.0f}{row['out_mb']:>8.0f}"
        )
        check = scanstack.open(out, fmt)
        assert check.shape == (rows, cols, CHANNELS)
        np.testing.assert_array_equal(check[rows * cols - 1], scanstack.open(src, "nexus")[-1])
        check.close()
        for p in (out, peer_out):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

    if args.client:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            for fmt, comp in (("zarr", "blosc-zstd"), ("nexus", "gzip-1")):
                stack = scanstack.open(src, "nexus")
                out = work / f"cluster.{fmt}"
                t = time.perf_counter()
                scanstack.save(stack, out, fmt, compression=comp, client=client, overwrite=True)
                dt = time.perf_counter() - t
                stack.close()
                print(
                    f"{fmt} {comp} on a 2-process dask.distributed cluster: "
                    f"{nbytes / dt / 1e6:.0f} MB/s"
                )
                shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink()
    if args.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()

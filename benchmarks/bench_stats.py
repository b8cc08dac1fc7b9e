"""Out-of-core statistics: scanstack.stats against numpy and hexrd's algorithm, in one run.

Generates (block by block, into a temporary folder or ``--dir``) hexrd's benchmark case: frames of
uint16 with Poisson(2) noise and about 1 % bright pixels (default 60 frames of 2048 x 2048,
480 MB), stored as an uncompressed HDF5 image series (hexrd's ``hdf5`` layout) — larger than the
memory budget set for the run (256 MiB). Then prints, for each operation, the best wall time of
``--repeat`` runs, the peak resident memory added while it ran (psutil, sampled every 5 ms) and
the ratios:

- the single-pass limits: ``np.bitwise_xor.reduce`` over a uint64 view and a memcpy of the frames
  in RAM, and one block-wise read of the file;
- numpy on the dense array in RAM: ``np.median`` / ``np.percentile(90)`` / ``max`` / ``mean``
  (``axis=0``) — what hexrd's stats call;
- hexrd's algorithm re-expressed: read every frame into one array, then ``np.percentile(axis=0)``;
- scanstack.stats on the file-backed stack (within the budget) and on the in-RAM stack;
- scanstack median with a budget of a quarter of the file, with tracemalloc's peak;
- frame-cache write/read (npz and fch5, threshold 10) against numpy doing the same by hand
  (``np.nonzero`` per frame + ``np.savez_compressed`` of the ijv arrays / ``np.load`` + dense).

Usage: ``python benchmarks/bench_stats.py [--quick] [--repeat N] [--dir PATH]``
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

import h5py
import numpy as np

import scanstack
from _common import h5py_read, hexrd_file, in_work_folder, load, touch_file
from _common import per_frame_npz_read as numpy_framecache_read
from _common import per_frame_npz_write as numpy_framecache_write
from _memory import PeakRSS
from scanstack import stats
from scanstack.core.config import config, settings
from scanstack.core.stack import Stack

MB = 1 << 20


def measure(func, repeat: int):
    """(result, best seconds, largest peak RSS added) over ``repeat`` runs."""
    best, peak, result = float("inf"), 0, None
    for _ in range(repeat):
        result = None
        with PeakRSS() as mem:
            t0 = time.perf_counter()
            result = func()
            best = min(best, time.perf_counter() - t0)
        peak = max(peak, mem.added)
    return result, best, peak


def hexrd_percentile(path: Path, q: float) -> np.ndarray:
    """hexrd's stats.percentile re-expressed: every frame into one array, then np.percentile."""
    with h5py.File(path, "r") as f:
        ds = f["imageseries/images"]
        frames = np.empty(ds.shape, ds.dtype)
        for i in range(len(ds)):
            frames[i] = ds[i]
    return np.percentile(frames, q, axis=0).astype(np.float32)


def read_once(stack) -> int:
    total = 0
    for _, _, block in stack.iter_blocks():
        total += block.shape[0]
    return total


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run (20 frames of 512x512)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per timing (best kept)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the data")
    args = parser.parse_args(argv)
    nframes, size = (20, 512) if args.quick else (60, 2048)
    repeat = args.repeat or (1 if args.quick else 2)
    in_work_folder("bench_stats_", args.dir, run, nframes, size, repeat)


def run(workdir: Path, nframes: int, size: int, repeat: int) -> None:
    path, nbytes, seconds = hexrd_file(workdir, nframes, size)
    budget = min(256 * MB, nbytes // 2)
    print(
        f"data: {nframes} frames of {size}x{size} uint16 = {nbytes / MB:.0f} MB in {path.name} "
        f"(generated in {seconds:.1f} s); memory budget {budget / MB:.0f} MB; "
        f"{config.threads()} threads; best of {repeat}; {load()}"
    )
    stack = scanstack.open(path, "hdf5", path="imageseries")
    rows: list[tuple[str, float, int, str]] = []

    def row(name, seconds, peak, note=""):
        rows.append((name, seconds, peak, note))
        print(f"  {name:<52} {seconds:8.3f} s {peak / MB:8.0f} MB  {note}", flush=True)

    # warm the numba kernels (compile or load the cache for each array layout) outside the timings
    small = Stack.from_array(np.zeros((3, 1024, 1024), np.uint16))
    stats.median(small), stats.percentile(small, 90), stats.median(stack, nframes=2)

    read_once(stack)  # the file in the page cache, as for every run after it
    with settings(memory_budget=budget):
        _, t_touch, m = measure(lambda: touch_file(path), max(repeat, 3))
        row("limit: touch every byte of the file (memmap xor, 1 thread)", t_touch, m)
        _, t_read, m = measure(lambda: read_once(stack), repeat)
        row("single pass: read the file block-wise (h5py)", t_read, m)
        _, t_h5, m = measure(lambda: h5py_read(path), repeat)
        row("h5py: whole dataset ds[()]", t_h5, m)
        dense, t, m = measure(stack.to_numpy, repeat)
        row("scanstack to_numpy() (into the result)", t, m, f"{t_h5 / t:5.2f}x h5py's speed")
        flat64 = dense.view(np.uint64).reshape(-1)
        _, t_xor, m = measure(lambda: np.bitwise_xor.reduce(flat64), repeat)
        row("single pass: np.bitwise_xor.reduce in RAM", t_xor, m)
        _, t_copy, m = measure(lambda: dense.copy(), repeat)
        row("single pass: memcpy in RAM", t_copy, m)

        ref_med, t_np_med, m_np_med = measure(lambda: np.median(dense, axis=0), repeat)
        row("numpy: np.median(dense, axis=0)", t_np_med, m_np_med)
        ref_p90, t_np_p90, m_np_p90 = measure(lambda: np.percentile(dense, 90, axis=0), repeat)
        row("numpy: np.percentile(dense, 90, axis=0)", t_np_p90, m_np_p90)
        ref_max, t_np_max, m = measure(lambda: dense.max(axis=0), repeat)
        row("numpy: dense.max(axis=0)", t_np_max, m)
        ref_mean, t_np_mean, m = measure(lambda: dense.mean(axis=0, dtype=np.float64), repeat)
        row("numpy: dense.mean(axis=0)", t_np_mean, m)
        _, t_hexrd, m_hexrd = measure(lambda: hexrd_percentile(path, 50), repeat)
        row("hexrd's median: read all frames + np.percentile(50)", t_hexrd, m_hexrd)

        mem_stack = Stack.from_array(dense)
        res = {}
        for where, s in (("file", stack), ("RAM", mem_stack)):
            res[where, "median"], t, m = measure(lambda s=s: stats.median(s), repeat)
            row(f"scanstack median ({where})", t, m, f"{t_np_med / t:5.1f}x np.median")
            res[where, "p90"], t, m = measure(lambda s=s: stats.percentile(s, 90), repeat)
            row(f"scanstack percentile 90 ({where})", t, m, f"{t_np_p90 / t:5.1f}x np.percentile")
            res[where, "max"], t, m = measure(lambda s=s: stats.max(s), repeat)
            limit, lname = (t_touch, "limit") if where == "file" else (t_xor, "xor pass")
            row(
                f"scanstack max ({where})",
                t,
                m,
                f"{t / limit:5.2f}x {lname}, {t_np_max / t:4.1f}x numpy",
            )
            res[where, "mean"], t, m = measure(lambda s=s: stats.mean(s), repeat)
            row(
                f"scanstack mean ({where})",
                t,
                m,
                f"{t / limit:5.2f}x {lname}, {t_np_mean / t:4.1f}x numpy",
            )
        del mem_stack

    for where in ("file", "RAM"):
        assert np.array_equal(res[where, "median"], ref_med.astype(np.float32))
        assert np.array_equal(res[where, "p90"], ref_p90.astype(np.float32))
        assert np.array_equal(res[where, "max"], ref_max)
        assert np.allclose(res[where, "mean"], ref_mean, rtol=1e-6)
    print("  (every scanstack result above equals numpy's)")

    quarter = nbytes // 4
    with settings(memory_budget=quarter):
        tracemalloc.start()
        med, t, m = measure(lambda: stats.median(stack), 1)
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert np.array_equal(med, ref_med.astype(np.float32))
    row(
        f"scanstack median, budget = file/4 = {quarter / MB:.0f} MB",
        t,
        m,
        f"tracemalloc peak {traced / MB:.0f} MB "
        f"({'within' if traced <= quarter else 'OVER'} budget); {t_np_med / t:4.1f}x np.median",
    )

    gzipped(workdir, stack, ref_med, budget, row)
    framecache(workdir, stack, dense, repeat, row)
    print_summary(rows)
    print(f"({load()} at the end)")


def gzipped(workdir, stack, ref_med, budget, row) -> None:
    """hexrd's default hdf5 (gzip 1, one chunk per frame): each tile read decodes whole frames."""
    path = workdir / "gzip.h5"
    t0 = time.perf_counter()
    scanstack.save(stack, path, "hdf5", path="imageseries", gzip=1, overwrite=True)
    print(
        f"  (wrote hexrd-style gzip=1 hdf5 in {time.perf_counter() - t0:.1f} s, "
        f"{path.stat().st_size / MB:.0f} MB)"
    )
    _, t_hexrd, m = measure(lambda: hexrd_percentile(path, 50), 1)
    row("hexrd's median on gzip hdf5", t_hexrd, m)
    _, t_h5, m = measure(lambda: h5py_read(path), 1)
    row("h5py: whole gzip dataset ds[()]", t_h5, m)
    gz = scanstack.open(path, "hdf5", path="imageseries")
    back, t, m = measure(gz.to_numpy, 1)
    assert back.shape == gz.shape
    row("scanstack to_numpy() of the gzip file", t, m, f"{t_h5 / t:5.2f}x h5py's speed")
    del back
    for limit in (budget, max(4 * budget, 1 << 30)):
        with settings(memory_budget=limit):
            med, t, m = measure(lambda: stats.median(gz), 1)
        assert np.array_equal(med, ref_med.astype(np.float32))
        row(
            f"scanstack median on gzip hdf5, budget {limit / MB:.0f} MB",
            t,
            m,
            f"{t_hexrd / t:4.1f}x hexrd",
        )
    gz.close()


def framecache(workdir, stack, dense, repeat, row) -> None:
    try:
        from scanstack.formats import framecache  # noqa: F401
    except ImportError:
        print("  frame-cache format not available: skipped")
        return
    threshold = 10
    npz = workdir / "np.npz"
    _, t_np_w, m = measure(lambda: numpy_framecache_write(dense, npz, threshold), 1)
    row(
        "numpy: frame-cache npz write (nonzero + savez_compressed)",
        t_np_w,
        m,
        f"{npz.stat().st_size / MB:.1f} MB",
    )
    _, t_np_r, m = measure(lambda: numpy_framecache_read(npz), repeat)
    row("numpy: frame-cache npz read to dense (np.load)", t_np_r, m)
    for style in ("npz", "fch5"):
        out = workdir / f"cache.{style}"

        def write(out=out, style=style):
            out.unlink(missing_ok=True)
            scanstack.save(stack, out, "frame-cache", threshold=threshold, style=style)

        _, t, m = measure(write, 1)
        row(
            f"scanstack frame-cache write ({style})",
            t,
            m,
            f"{out.stat().st_size / MB:.1f} MB, {t_np_w / t:4.1f}x numpy npz write",
        )
        cached = scanstack.open(out, "frame-cache")
        back, t, m = measure(lambda c=cached: c.to_numpy(), repeat)
        row(
            f"scanstack frame-cache read to dense ({style})",
            t,
            m,
            f"{t_np_r / t:4.1f}x numpy npz read",
        )
        assert np.array_equal(back, np.where(dense > threshold, dense, 0))
        cached.close()


def print_summary(rows) -> None:
    print()
    print(f"| {'operation':<58} | {'time s':>8} | {'peak MB':>8} | note |")
    print(f"|{'-' * 60}|{'-' * 10}|{'-' * 10}|------|")
    for name, seconds, peak, note in rows:
        print(f"| {name:<58} | {seconds:8.3f} | {peak / MB:8.0f} | {note} |")


if __name__ == "__main__":
    main()

"""Processing: scanstack's lazy block-wise ProcessedStack against hexrd's per-frame method.

Data: an hdf5 series of uint16 frames (Poisson noise) with a uint16 dark. Two pipelines:

- ``full``: ``dark`` then ``flip cw90`` on whole frames;
- ``roi``: the same followed by a 512 x 512 ``rectangle`` — hexrd reads whole frames for it
  (its region read only happens when the rectangle comes first); scanstack pushes the region
  down through the flip and the dark and reads only the rectangle from the file.

The reference ("per-frame") is hexrd's algorithm re-done with numpy/h5py in this script: for each
frame ``ds[i]``, ``img - dark`` with negatives set to 0, the flip as a view, the crop. The floor is
reading the same bytes from the file in blocks with no processing.

Usage: ``python benchmarks/bench_process.py [--quick] [--frames N] [--size S]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import h5py
import numpy as np

import scanstack
from scanstack.process import process


def timed(fn, repeat: int = 2) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def per_frame(path: str, dark: np.ndarray, roi) -> float:
    """hexrd's method: one frame at a time, ops in Python, crop last."""
    total = 0.0
    with h5py.File(path, "r") as f:
        ds = f["imageseries/images"]
        for i in range(ds.shape[0]):
            img = ds[i]
            ret = img.astype(np.int32) - dark  # (hexrd wraps on uint; the cost is the same)
            ret[ret < 0] = 0
            ret = ret.T[:, ::-1]
            if roi is not None:
                (r0, r1), (c0, c1) = roi
                ret = ret[r0:r1, c0:c1]
            total += float(ret[0, 0])
    return total


def blockwise(path: str, dark: np.ndarray, roi) -> float:
    oplist = [("dark", dark), ("flip", "cw90")]
    if roi is not None:
        oplist.append(("rectangle", roi))
    p = process(scanstack.open(path, "hdf5", path="imageseries"), oplist)
    total = 0.0
    for _, _, block in p.iter_blocks():
        total += float(block[:, 0, 0].sum())
    p.close()
    return total


def floor(path: str, roi, size: int) -> float:
    """Reading the bytes the pipeline needs, in blocks, without processing."""
    with h5py.File(path, "r") as f:
        ds = f["imageseries/images"]
        n = ds.shape[0]
        step = max(1, (32 << 20) // (size * size * 2))
        total = 0.0
        for a in range(0, n, step):
            if roi is None:
                block = ds[a : a + step]
            else:  # cw90 maps output rows to input columns
                (r0, r1), (c0, c1) = roi
                block = ds[a : a + step, size - c1 : size - c0, r0:r1]
            total += float(block[:, 0, 0].sum())
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small data (CI smoke run)")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--size", type=int, default=2048)
    args = ap.parse_args()
    n, size = (8, 512) if args.quick else (args.frames, args.size)
    rng = np.random.default_rng(0)
    dark = rng.poisson(3, (size, size)).astype(np.uint16)
    roi = (
        (size // 4, size // 4 + min(512, size // 2)),
        (size // 8, size // 8 + min(512, size // 2)),
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "series.h5")
        with h5py.File(path, "w") as f:
            ds = f.create_dataset(
                "imageseries/images", (n, size, size), np.uint16, chunks=(1, size, size)
            )
            for i in range(n):
                ds[i] = rng.poisson(5, (size, size)).astype(np.uint16)
        mb = n * size * size * 2 / 1e6
        print(f"{n} frames of {size}x{size} uint16 ({mb:.0f} MB), hdf5, {os.cpu_count()} cores")
        print(
            f"{'pipeline':<10}{'per-frame s':>13}{'scanstack s':>13}{'floor s':>10}"
            f"{'speed-up':>10}{'of floor':>10}"
        )
        for name, region in (("full", None), ("roi", roi)):
            t_ref, v_ref = timed(lambda r=region: per_frame(path, dark, r))
            t_new, v_new = timed(lambda r=region: blockwise(path, dark, r))
            t_floor, _ = timed(lambda r=region: floor(path, r, size))
            assert v_ref == v_new, (name, v_ref, v_new)
            print(
                f"{name:<10}{t_ref:>13.3f}{t_new:>13.3f}{t_floor:>10.3f}"
                f"{t_ref / t_new:>9.1f}x{t_floor / t_new:>9.0%}"
            )


if __name__ == "__main__":
    main()

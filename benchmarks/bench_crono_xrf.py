"""CRONO MA-XRF spectra: build the (rows, columns, channels) map and XRF summaries.

A synthetic CRONO file (``write_crono``, instrument layout: gzip-chunked /XRF/Spectra in
acquisition order, serpentine rows with ramps, SpectraSelectedIndex) is generated in a temporary
folder (images off: this measures the spectra). Then, in one run:

- hardware limit: h5py reads (and inflates) the whole /XRF/Spectra once, nothing else;
- cronomaxrf.gridify (the peer; writes the gridified cube to HDF5 with dask ``vindex``);
- scanstack: ``scanstack.open(f).to_numpy()`` (the map built block by block through the index);
- scanstack XRF: sum + max spectra + every ROI map in one block-wise pass
  (``scanstack.xrf.summarize``) against numpy on the cube already in memory;
- the synthetic writer with camera frames (frames per second).

Prints seconds and ratios. Usage: ``python benchmarks/bench_crono_xrf.py [--quick]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import tempfile
import time

import h5py
import numpy as np

import scanstack
import scanstack.xrf as xrf
from scanstack.datasets import write_crono


def timed(label: str, func, repeat: int = 2):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - t)
    print(f"  {label:<58s} {best:7.3f} s")
    return best, out


def cronomaxrf_gridify(path: str) -> str:
    """cronomaxrf.gridify; on recent dask (uint64 vindex bug) on an int64-index copy."""
    from cronomaxrf.gridify import gridify

    with contextlib.redirect_stdout(io.StringIO()):
        try:
            return gridify(path)
        except IndexError:
            copy = path.replace(".HDF5", "-i64.HDF5")
            if not os.path.exists(copy):
                with h5py.File(path, "r") as f, h5py.File(copy, "w") as g:
                    for key in f:
                        f.copy(key, g)
                    sel = g["XRF/SpectraSelectedIndex"][()]
                    del g["XRF/SpectraSelectedIndex"]
                    g["XRF/SpectraSelectedIndex"] = sel.astype(np.int64)
            return gridify(copy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small file (CI smoke run)")
    args = parser.parse_args()
    rows, columns = (20, 15) if args.quick else (170, 74)  # 4x the demo map's pixels
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "14200215102021-bench.HDF5")
        t = time.perf_counter()
        write_crono(path, rows=rows, columns=columns, images=False, seed=1)
        with h5py.File(path, "r") as f:
            n, c = f["XRF/Spectra"].shape
        print(
            f"file: {rows}x{columns} map, {n} spectra x {c} channels "
            f"({n * c * 2 / 1e6:.0f} MB raw, {os.path.getsize(path) / 1e6:.0f} MB on disk), "
            f"written in {time.perf_counter() - t:.1f} s"
        )

        def raw():
            with h5py.File(path, "r") as f:
                return f["XRF/Spectra"][()]

        t_raw, _ = timed("hardware limit: h5py read of /XRF/Spectra", raw)
        t_peer, out = timed("cronomaxrf.gridify (peer)", lambda: cronomaxrf_gridify(path))
        with h5py.File(out, "r") as f:
            ref = f["/spectra"][()]

        def ours():
            with scanstack.open(path) as s:
                return s.to_numpy()

        t_ours, cube = timed("scanstack.open(f).to_numpy()", ours)
        assert np.array_equal(cube, ref), "cube differs from cronomaxrf's"
        print(
            f"  -> scanstack is {t_peer / t_ours:.1f}x faster than cronomaxrf.gridify, "
            f"at {t_raw / t_ours:.2f}x the hardware limit"
        )

        stack = scanstack.open(path)
        bands = xrf.resolve_bands(stack)
        energy = stack.axes[-1].coordinates

        def numpy_summary():
            flat = cube.reshape(-1, c)
            maps = {
                name: cube[..., (energy >= lo) & (energy <= hi)].sum(-1) for name, lo, hi in bands
            }
            return flat.sum(0), flat.max(0), maps

        t_np, (s_np, m_np, maps_np) = timed(
            f"numpy on the in-memory cube ({len(bands)} ROIs)", numpy_summary
        )
        t_x, summary = timed(
            "scanstack.xrf.summarize from the file (one pass)", lambda: xrf.summarize(stack, None)
        )
        assert np.array_equal(summary.sum_spectrum, s_np)
        assert all(np.array_equal(summary.maps[k], maps_np[k]) for k in maps_np)
        print(
            f"  -> from the file in {t_x / (t_ours + t_np):.2f}x the time of "
            f"read-all-then-numpy ({t_ours + t_np:.2f} s), memory bounded by blocks"
        )
        stack.close()

        # the writer with camera frames: the demo file's map (85 x 37, ~12,800 frames)
        t = time.perf_counter()
        frows = 9 if args.quick else 85
        truth = write_crono(os.path.join(tmp, "frames.HDF5"), rows=frows, columns=37, seed=2)
        dt = time.perf_counter() - t
        print(
            f"  write_crono {frows}x37 with {truth.n_frames} camera frames: {dt:.1f} s "
            f"({truth.n_frames / dt:,.0f} frames/s on {os.cpu_count()} CPUs)"
        )


if __name__ == "__main__":
    main()

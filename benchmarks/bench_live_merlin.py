"""Frames/s received and reduced (virtual bright field) from a Merlin quad stream on loopback.

    PYTHONPATH=src python benchmarks/bench_live_merlin.py [--nav 16x32] [--libertem]

Writes a 12-bit quad (512x512 frames) ``.mib`` in a temporary folder, serves it with our
simulator and measures (1) receiving into the spill + ``stem.virtual_bright_field`` over the
stream, (2) the same reduction on the file from the page cache; ``--libertem`` also times
receiving the same file served by LiberTEM-live's ``CameraSim`` (its first frame waits for its
numba warm-up, which is excluded). The full 256x256 scan (65,536 frames, 32 GB) is scaled down
by default: the shared machine has 2 cores and limited disk.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

import scanstack
from scanstack import stem
from scanstack.core.registry import register
from scanstack.formats.mib import write_mib
from scanstack.live import FORMAT
from scanstack.live.simulator import MerlinSimulator


def make(path: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 4095, size=(64, 512, 512), dtype=np.uint16)

    class Cycle:  # n frames from 64 distinct ones, written block by block
        shape = (n, 512, 512)
        dtype = frames.dtype
        ndim = 3

        def __len__(self):
            return n

        def __getitem__(self, key):
            idx = np.arange(n)[key]
            return frames[idx % 64]

    write_mib(path, Cycle(), depth=12, layout="2x2", raw=False, nav_shape=(n,))


def live_rate(url: str, nav: tuple[int, int], spill: Path, **options) -> tuple[float, float]:
    t0 = time.perf_counter()
    s = scanstack.open(url, nav_shape=nav, spill=spill, timeout=120, **options)
    t1 = time.perf_counter()
    with s:
        bf = stem.virtual_bright_field(s, center=(255.5, 255.5), radius=30, progress=False)
        s.wait()
    t2 = time.perf_counter()
    assert bf.shape == nav
    return s.nframes / (t2 - t1), t1 - t0


def libertem_rate(sim, nav: tuple[int, int]) -> float:
    """LiberTEM-live's own client on the same stream: a disk mask of r=30 (second run timed)."""
    from libertem.executor.inline import InlineJobExecutor
    from libertem.udf.masks import ApplyMasksUDF
    from libertem_live.api import LiveContext

    yy, xx = np.mgrid[:512, :512]
    disk = ((yy - 256) ** 2 + (xx - 256) ** 2 < 30**2).astype(np.float32)
    ctx = LiveContext(executor=InlineJobExecutor())
    conn = ctx.make_connection("merlin").open(
        api_host="127.0.0.1",
        api_port=sim.control_t.sockname[1],
        data_host="127.0.0.1",
        data_port=sim.server_t.sockname[1],
    )
    try:
        for _ in range(2):
            aq = ctx.make_acquisition(conn=conn, nav_shape=nav)
            t = time.perf_counter()
            ctx.run_udf(
                dataset=aq, udf=ApplyMasksUDF(mask_factories=[lambda: disk]), progress=False
            )
            dt = time.perf_counter() - t
        return nav[0] * nav[1] / dt
    finally:
        conn.close()
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nav", default="16x32")
    ap.add_argument("--libertem", action="store_true")
    args = ap.parse_args()
    nav = tuple(int(v) for v in args.nav.split("x"))
    n = nav[0] * nav[1]
    register(FORMAT)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "quad.mib"
        make(path, n)
        size = path.stat().st_size
        print(f"{n} frames of 512x512 12-bit quad, {size / 2**20:.0f} MiB")
        with MerlinSimulator(path) as sim:
            url = f"merlin://127.0.0.1:{sim.data_port}"
            live_rate(url, (1, 8), Path(tmp) / "warm.mib")  # imports and numba kernels: excluded
            rate, _ = live_rate(url, nav, Path(tmp) / "s.mib")
            t = time.perf_counter()
            with scanstack.open(url, nav_shape=nav, spill=Path(tmp) / "r.mib") as s:
                s.wait()
            recv = n / (time.perf_counter() - t)
        print(
            f"scanstack, our simulator: {rate:,.0f} frames/s received + virtual BF "
            f"({rate * size / n / 2**30:.2f} GiB/s); received only: {recv:,.0f} frames/s"
        )
        ref = scanstack.open(path, nav_shape=nav)
        stem.virtual_bright_field(ref, progress=False)  # page cache warm
        t = time.perf_counter()
        stem.virtual_bright_field(ref, progress=False)
        print(f"page cache (file): {n / (time.perf_counter() - t):,.0f} frames/s virtual BF")
        if args.libertem:
            from libertem_live.detectors.merlin.sim import CameraSim

            lt = CameraSim(
                path=str(path),
                nav_shape=nav,
                host="127.0.0.1",
                data_port=0,
                control_port=0,
                trigger_port=0,
            )
            lt.start()
            lt.wait_for_listen()
            try:
                url = f"merlin://127.0.0.1:{lt.server_t.sockname[1]}"
                live_rate(url, (1, 8), Path(tmp) / "warm.mib")  # its warm-up, excluded
                rate, _ = live_rate(url, nav, Path(tmp) / "l.mib")
                print(f"scanstack, LiberTEM-live's CameraSim: {rate:,.0f} frames/s received + BF")
                print(
                    f"LiberTEM-live, its CameraSim: {libertem_rate(lt, nav):,.0f} frames/s "
                    "received + virtual BF (ApplyMasksUDF, inline executor)"
                )
            finally:
                lt.stop()


if __name__ == "__main__":
    main()

"""Frames/s received and reduced (virtual bright field) from a Merlin quad stream on loopback.

    PYTHONPATH=src python benchmarks/bench_live_merlin.py [--nav 32x64] [--libertem]
    PYTHONPATH=src python benchmarks/bench_live_merlin.py --nav 256x256 --libertem   # the issue's
    PYTHONPATH=src python benchmarks/bench_live_merlin.py --quick   # 8x16, seconds (tests)

A 12-bit quad ``.mib`` (512x512 frames, 524,800-byte records) of ``--file-frames`` frames is
written to a temporary folder and served as a stream of ``--nav`` frames (the file's frames over
and over: our simulator's ``frames=``, LiberTEM-live's ``CameraSim(continuous=True)``), so the
issue's 256x256 scan (65,536 frames, 34 GB on the wire) needs no 34 GB file. Measured, warm-up
excluded: (1) receiving into the spill ``.mib`` + ``stem.virtual_bright_field`` (r=30 disk) as
the frames arrive, and the same recording nothing (``spill=False``: a ring of memory, as
LiberTEM-live, which records nothing), with the growth of resident memory during that run;
(2) receiving only, then once per receive path in turn (``recv`` + ``write`` and ``os.splice``,
with this process's CPU time per frame); (3) the same reduction on the served file from the
page cache; with ``--libertem`` also (4) our client on LiberTEM-live's ``CameraSim`` (recording
and not) and (5) LiberTEM-live's own client (``ApplyMasksUDF``, inline executor) on it. Our
BF images from our simulator are checked equal to the file's. Every spill is deleted after its
run (the disk needs one stream's size free: ``df -h``). The simulator, the receiver and the
reduction share this machine's cores; the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import scanstack
from _common import load, rss_growth
from scanstack import stem
from scanstack.core.registry import register
from scanstack.formats.mib import write_mib
from scanstack.live import FORMAT
from scanstack.live.simulator import MerlinSimulator

CENTER, RADIUS = (255.5, 255.5), 30


def make(path: Path, n: int) -> None:
    """``n`` random 12-bit quad frames (64 distinct ones), written block by block."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 4095, size=(64, 512, 512), dtype=np.uint16)

    class Cycle:
        shape = (n, 512, 512)
        dtype = frames.dtype
        ndim = 3

        def __len__(self):
            return n

        def __getitem__(self, key):
            return frames[np.arange(n)[key] % 64]

    write_mib(path, Cycle(), depth=12, layout="2x2", raw=False, nav_shape=(n,))


def live_rate(
    url: str,
    nav: tuple[int, ...],
    spill: Path | bool,
    bf: bool = True,
    splice: bool = True,
    check: np.ndarray | None = None,
) -> float:
    """Frames/s from opening the stream to the last frame reduced (or received); spill deleted.
    ``spill=False``: nothing recorded (a ring of memory). ``splice=False``: the receiver's
    recv + write path instead of ``os.splice``. ``check``: the served file's BF values (one per
    file frame); the stream's BF image must equal them, frame ``i`` being file frame
    ``i % len(check)`` (our simulator's ``frames=``)."""
    try:
        t = time.perf_counter()  # opening counts: it allocates the ring or reserves the spill
        with scanstack.open(url, nav_shape=nav, spill=spill, timeout=120, splice=splice) as s:
            if bf:
                img = stem.virtual_bright_field(s, center=CENTER, radius=RADIUS, progress=False)
                assert img.shape == nav and np.isfinite(img).all()
                if check is not None:
                    want = check[np.arange(img.size) % check.size].reshape(nav)
                    np.testing.assert_allclose(img, want, rtol=1e-12)
            s.wait()
            return s.nframes / (time.perf_counter() - t)
    finally:
        if spill:
            spill.unlink(missing_ok=True)


def libertem_rate(sim, nav: tuple[int, int]) -> float:
    """LiberTEM-live's own client on the same stream: a disk mask of r=30 (second run timed)."""
    from libertem.executor.inline import InlineJobExecutor
    from libertem.udf.masks import ApplyMasksUDF
    from libertem_live.api import LiveContext

    yy, xx = np.mgrid[:512, :512]
    disk = (((yy - CENTER[0]) ** 2 + (xx - CENTER[1]) ** 2) <= RADIUS**2).astype(np.float32)
    ctx = LiveContext(executor=InlineJobExecutor())
    conn = ctx.make_connection("merlin").open(
        api_host="127.0.0.1",
        api_port=sim.control_t.sockname[1],
        data_host="127.0.0.1",
        data_port=sim.server_t.sockname[1],
    )
    try:
        for k in range(2):  # the first run compiles and warms up: excluded
            aq = ctx.make_acquisition(conn=conn, nav_shape=nav if k else (1, 64))
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
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nav", default="32x64", help="scan shape of the stream (default 32x64)")
    ap.add_argument("--file-frames", type=int, default=256, help="frames in the served file")
    ap.add_argument("--libertem", action="store_true", help="also LiberTEM-live (~1 min warm-up)")
    ap.add_argument("--dir", default=None, help="folder for the file and spills (default: tmp)")
    ap.add_argument("--quick", action="store_true", help="a 8x16 stream from 64 frames (tests)")
    args = ap.parse_args()
    if args.quick:
        args.nav, args.file_frames = "8x16", 64
    nav = tuple(int(v) for v in args.nav.lower().split("x"))
    n = int(np.prod(nav))
    register(FORMAT)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "quad.mib"
        make(path, min(args.file_frames, n))
        stride = path.stat().st_size // min(args.file_frames, n)
        print(
            f"stream: {nav[0]}x{nav[1]} = {n:,} frames of 512x512 12-bit quad "
            f"({n * stride / 1e9:.1f} GB), served from a {path.stat().st_size / 2**20:.0f} MiB file"
        )
        print(f"{os.cpu_count()} cores; before: {load()}")
        ref = scanstack.open(path, nav_shape=(min(args.file_frames, n),))
        ref_bf = stem.virtual_bright_field(ref, center=CENTER, radius=RADIUS, progress=False)
        with MerlinSimulator(path, frames=n) as sim:
            url = f"merlin://127.0.0.1:{sim.data_port}"
            # imports, numba kernels: excluded
            live_rate(url, (1, min(64, n)), Path(tmp) / "warm.mib", check=ref_bf)
            rate = live_rate(url, nav, Path(tmp) / "s.mib", check=ref_bf)
            print(
                f"scanstack, our simulator: {rate:,.0f} frames/s received + virtual BF "
                f"({rate * stride / 2**30:.2f} GiB/s); {load()}"
            )
            recv = live_rate(url, nav, Path(tmp) / "r.mib", bf=False)
            print(f"scanstack, our simulator: {recv:,.0f} frames/s received only; {load()}")
            grew, ring = rss_growth(lambda: live_rate(url, nav, False, check=ref_bf))
            print(
                f"scanstack, our simulator, nothing recorded (spill=False): {ring:,.0f} frames/s "
                f"received + virtual BF ({ring * stride / 2**30:.2f} GiB/s); resident memory "
                f"grew by at most {grew / 2**20:.0f} MiB during the run (ring included); {load()}"
            )
            for splice in (False, True):  # the two receive paths on the same stream, in turn
                t = os.times()
                recv = live_rate(url, nav, Path(tmp) / "r.mib", bf=False, splice=splice)
                cpu = os.times()
                print(
                    f"  received only, {'os.splice' if splice else 'recv + write'}: "
                    f"{recv:,.0f} frames/s, CPU of this process (receiver + simulator) "
                    f"{(cpu.user - t.user) / n * 1e6:.0f} us user + "
                    f"{(cpu.system - t.system) / n * 1e6:.0f} us system per frame; {load()}"
                )
        t = time.perf_counter()
        stem.virtual_bright_field(ref, center=CENTER, radius=RADIUS, progress=False)
        rate = ref.nframes / (time.perf_counter() - t)
        print(f"the served file from the page cache: {rate:,.0f} frames/s virtual BF")
        if args.libertem:
            from scanstack.live.simulator import start_libertem_sim

            lt, data_port, _ = start_libertem_sim(
                path, (1, min(args.file_frames, n)), continuous=True
            )
            try:
                url = f"merlin://127.0.0.1:{data_port}"
                # its numba warm-up: excluded
                live_rate(url, (1, min(64, n)), Path(tmp) / "warm.mib")
                rate = live_rate(url, nav, Path(tmp) / "l.mib")
                print(
                    f"scanstack, LiberTEM-live's CameraSim: {rate:,.0f} frames/s received + "
                    f"virtual BF; {load()}"
                )
                ring = live_rate(url, nav, False)
                print(
                    f"scanstack, LiberTEM-live's CameraSim, nothing recorded (spill=False): "
                    f"{ring:,.0f} frames/s received + virtual BF; {load()}"
                )
                print(
                    f"LiberTEM-live's client, its CameraSim: {libertem_rate(lt, nav):,.0f} "
                    f"frames/s received + virtual BF (ApplyMasksUDF, inline executor); {load()}"
                )
            finally:
                lt.stop()


if __name__ == "__main__":
    main()

"""Merlin ``.mib`` full passes: scanstack's 4D-STEM tools against RosettaSciIO, LiberTEM, naive numpy
and the machine's limit, in one run.

Data (generated once with scanstack's mib writer into ``benchmarks/data/``, git-ignored, reused):

- ``u16``: processed 12-bit quad, 512 x 512 ``>u2`` frames, 64 x 64 scan (2.15 GB);
- ``r1``: raw 1-bit quad (``R64``), 256 x 256 scan (2.2 GB).

Frames are synthetic diffraction patterns (a bright disk on a dim background). For each file,
with the page cache warm, one full pass computes (a) the sum of all frames and (b) a virtual
annular dark-field image (ring 60 < r <= 200 px around the centre). Every time is the best of
``--repeat`` runs (slower than 10 s: one run) and is shown with its ratio to the **limit**: touching every byte of the file
once through a fresh memory map (``np.bitwise_xor.reduce`` over a uint64 view, one thread).

Peers: RosettaSciIO ``file_reader(path, lazy=True)`` + dask ``.sum(axis=(0, 1))`` /
``(data * mask).sum(axis=(2, 3))`` (processed only: it cannot read raw); LiberTEM
``Context.make_with("threads", cpus=2)`` with ``SumUDF`` and ``create_ring_analysis`` after a
warm-up run (``BufferedBackend`` for raw, its memory-map backend refuses raw quad files); naive
numpy ``memmap.astype().sum()`` (processed sum only). Missing peers are reported as such.

``scanstack.stats.sum`` / ``stats.max`` (the hexrd-style API, what ``scanstack stats`` runs) are
timed on the same file: they ask the same core machinery (``core.fold``) for the in-place path.

Usage: ``python benchmarks/bench_mib.py [--quick] [--repeat N] [--data DIR] [--cases u16,r1]
[--scan u16=32,r1=128]``
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np

import scanstack
from scanstack import stats, stem
from scanstack.formats.mib import write_mib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of as best  # noqa: E402
from _common import touch_file as limit  # noqa: E402

HERE = Path(__file__).resolve().parent
SHAPE = (512, 512)
CENTER = (255.5, 255.5)  # symmetric under the row flip between file order and reader order
RING = (60.0, 200.0)
CASES = {
    # name: counter depth, raw, scan (full), scan (--quick)
    "u16": (12, False, (64, 64), (16, 16)),
    "r1": (1, True, (256, 256), (64, 64)),
}


class DiffractionFrames:
    """``(n, 512, 512)`` synthetic 4D-STEM frames cycled from a bank (cheap to generate).

    A bright disk of radius 50 px whose centre wanders by a few pixels over a dim background;
    depth 1 frames are 0/1 (hit probability 0.7 in the disk, 0.05 outside).
    """

    def __init__(self, n: int, depth: int, bank: int = 32, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.shape = (n, *SHAPE)
        self.dtype = np.dtype(np.uint16 if depth > 6 else np.uint8)
        yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1]]
        frames = []
        for i in range(bank):
            cy, cx = CENTER[0] + 3 * np.sin(i), CENTER[1] + 3 * np.cos(i)
            disk = (yy - cy) ** 2 + (xx - cx) ** 2 <= 50**2
            if depth == 1:
                p = np.where(disk, 0.7, 0.05)
                frames.append(rng.random(SHAPE) < p)
            else:
                lam = np.where(disk, 40.0, 0.5)
                frames.append(np.minimum(rng.poisson(lam), (1 << depth) - 1))
        self.bank = np.stack(frames).astype(self.dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        start, stop, _ = key.indices(self.shape[0])
        return self.bank[np.arange(start, stop) % len(self.bank)]


def ensure_file(folder: Path, name: str, quick: bool, side: int | None = None) -> Path:
    depth, raw, scan, quick_scan = CASES[name]
    nav = (side, side) if side else quick_scan if quick else scan
    path = folder / f"bench_{name}_{nav[0]}x{nav[1]}.mib"
    n = math.prod(nav)
    if path.exists():
        try:
            with scanstack.open(str(path)) as s:
                if s.nframes == n and s.signal_shape == SHAPE:
                    return path
        except scanstack.ScanstackError:
            pass
    folder.mkdir(parents=True, exist_ok=True)
    print(f"writing {path} ({n} frames) ...", file=sys.stderr, flush=True)
    write_mib(
        path,
        DiffractionFrames(n, depth),
        depth,
        layout="2x2",
        raw=raw,
        nav_shape=nav,
        progress=sys.stderr.isatty(),
        overwrite=True,  # a stale or broken file of this name (checked above)
    )
    return path


# -- contenders -------------------------------------------------------------------------------
def ring_mask() -> np.ndarray:
    return stem.ring_mask(SHAPE, CENTER, *RING)


def scanstack_runs(path: Path, fast: bool = True, reader_options: dict | None = None):
    opts = reader_options or {}

    def total():
        with scanstack.open(str(path), **opts) as s:
            return stem.sum_pattern(s, fast=fast)

    def ring():
        with scanstack.open(str(path), **opts) as s:
            return stem.virtual_image(s, ring_mask(), fast=fast)

    return total, ring


def stats_runs(path: Path):
    """``scanstack.stats.sum`` / ``stats.max``: the hexrd-style API and what ``scanstack stats`` runs."""

    def total():
        with scanstack.open(str(path)) as s:
            return stats.sum(s)

    def top():
        with scanstack.open(str(path)) as s:
            return stats.max(s)

    return total, top


def rsciio_runs(path: Path):
    from rsciio.quantumdetector import file_reader

    def data():
        return file_reader(str(path), lazy=True)[0]["data"]

    def total():
        return data().sum(axis=(0, 1)).compute()

    def ring():
        return (data() * ring_mask()).sum(axis=(2, 3)).compute()

    return total, ring


class LiberTEM:
    def __init__(self, path: Path, raw: bool):
        from libertem.api import Context

        self.ctx = Context.make_with("threads", cpus=2)
        kwargs = {}
        if raw:
            from libertem.io.dataset.base import BufferedBackend

            kwargs["io_backend"] = BufferedBackend()
        # the .hdr gives LiberTEM the scan shape
        self.ds = self.ctx.load("mib", path=str(path.with_suffix(".hdr")), **kwargs)

    def runs(self):
        from libertem.udf.sum import SumUDF

        def total():
            return self.ctx.run_udf(self.ds, SumUDF())["intensity"].data

        def ring():
            # LiberTEM's ring: cx, cy in pixels of the file-order frame (centre is flip-symmetric)
            a = self.ctx.create_ring_analysis(
                self.ds, cx=CENTER[1], cy=CENTER[0], ri=RING[0], ro=RING[1]
            )
            return self.ctx.run(a).intensity.raw_data

        total()  # warm-up: numba compilation, executor start
        ring()
        return total, ring

    def close(self):
        self.ctx.close()


def naive_sum(path: Path):
    with scanstack.open(str(path)) as s:
        geo = s.reader.geometry
    if geo.raw:
        return None
    record = np.dtype([("h", f"V{geo.header_size}"), ("px", geo.file_dtype, SHAPE)])

    def total():
        mm = np.memmap(path, record, "r")
        return mm["px"].astype(np.uint16).sum(axis=0)[::-1]  # rows flipped like the reader

    return total


# -- the run ----------------------------------------------------------------------------------
def deviation(a, b) -> str:
    if a is None or b is None:
        return ""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        b = b.reshape(a.shape) if a.size == b.size else b
    if a.shape != b.shape:
        return "shape!"
    scale = max(np.abs(a).max(), 1e-30)
    d = float(np.abs(a - b).max() / scale)
    return "equal" if d == 0 else f"{d:.0e}"


def run_case(name: str, path: Path, repeat: int, peers: bool) -> list[tuple]:
    depth, raw, _, _ = CASES[name]
    size = path.stat().st_size
    limit(path)  # warm the page cache
    t_lim, _ = best(lambda: limit(path), max(repeat, 3))
    rows = [("limit: touch every byte (memmap, 1 thread)", t_lim, None, None, None, None)]
    with scanstack.open(str(path)) as s:
        flipped = s.reader.flip

    def add(label, runs):
        if runs is None:
            rows.append((label, None, None, None, None, "n/a"))
            return
        total, ring = runs
        t_sum, v_sum = best(total, repeat)
        t_ring, v_ring = best(ring, repeat) if ring is not None else (None, None)
        rows.append((label, t_sum, v_sum, t_ring, v_ring, ""))

    if raw:
        add("scanstack (bit kernels on the memmap, 2 threads)", scanstack_runs(path))
    else:
        add("scanstack (numba on the memmap, 2 threads)", scanstack_runs(path))
    add("scanstack block-wise (reader.read + kernels)", scanstack_runs(path, fast=False))
    total, top = stats_runs(path)
    t_stat, v_stat = best(total, repeat)
    t_max, _ = best(top, repeat)
    # the ADF columns of this row hold stats.max (same pass over the file, another fold)
    rows.append(("scanstack.stats.sum (ADF columns: stats.max)", t_stat, v_stat, t_max, None, ""))
    if peers:
        if raw:
            rows.append(("RosettaSciIO (cannot read raw)", None, None, None, None, "n/a"))
        else:
            try:
                add("RosettaSciIO lazy + dask", rsciio_runs(path))
            except ImportError:
                rows.append(("RosettaSciIO", None, None, None, None, "not installed"))
        try:
            lt = LiberTEM(path, raw)
        except ImportError:
            rows.append(("LiberTEM", None, None, None, None, "not installed"))
        except Exception as exc:  # a peer failing must not stop the benchmark
            rows.append(("LiberTEM", None, None, None, None, f"failed: {exc}"))
        else:
            try:
                total, ring = lt.runs()
                t_sum, v_sum = best(total, repeat)
                t_ring, v_ring = best(ring, repeat)
                # LiberTEM reads file order; scanstack's default is RosettaSciIO's (rows flipped)
                if flipped and v_sum is not None:
                    v_sum = v_sum[::-1]
                rows.append(
                    ("LiberTEM threads cpus=2 (after warm-up)", t_sum, v_sum, t_ring, v_ring, "")
                )
            finally:
                lt.close()
        if not raw:
            add("naive numpy memmap.astype().sum()", (naive_sum(path), None))
    print(
        f"\n## {name}: {'raw 1-bit' if raw else 'processed 12-bit (U16)'} quad 512x512, "
        f"{size / 1e9:.2f} GB, {path.name}"
    )
    ref_sum, ref_ring = rows[1][2], rows[1][4]
    print("| method | sum [s] | × limit | GB/s | virtual ADF [s] | × limit | check |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for label, t_sum, v_sum, t_ring, v_ring, note in rows:
        if t_sum is None:
            print(f"| {label} | {note} | | | | | |")
            continue
        ring_txt = f"{t_ring:.3f} | {t_ring / t_lim:.1f}" if t_ring is not None else "— | —"
        if ref_sum is None or label.startswith("limit"):
            check = ""
        else:
            check = f"sum {deviation(ref_sum, v_sum)}"
            if v_ring is not None:
                check += f", ADF {deviation(ref_ring, v_ring)}"
        print(
            f"| {label} | {t_sum:.3f} | {t_sum / t_lim:.1f} | {size / t_sum / 1e9:.1f} | "
            f"{ring_txt} | {check} |"
        )
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small files (about 135 MB each)")
    p.add_argument("--repeat", type=int, default=None, help="runs per measurement (best kept)")
    p.add_argument("--data", type=Path, default=HERE / "data", help="where the files live")
    p.add_argument("--cases", default="u16,r1", help="comma-separated: u16, r1")
    p.add_argument("--no-peers", action="store_true", help="scanstack and the limit only")
    p.add_argument(
        "--scan",
        default="",
        help="square scan side per case, e.g. u16=32,r1=128 (smaller files, same method)",
    )
    args = p.parse_args(argv)
    repeat = args.repeat or (2 if args.quick else 3)
    warnings.simplefilter("ignore")
    print(f"# .mib full-pass benchmark — {os.cpu_count()} CPUs, page cache warm, best of {repeat}")
    sides = {k: int(v) for k, v in (kv.split("=") for kv in args.scan.split(",") if kv)}
    print(f"load average {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} (1, 5 min)")
    for name in args.cases.split(","):
        path = ensure_file(args.data, name.strip(), args.quick, sides.get(name.strip()))
        run_case(name.strip(), path, repeat, not args.no_peers)
    return 0


if __name__ == "__main__":
    sys.exit(main())

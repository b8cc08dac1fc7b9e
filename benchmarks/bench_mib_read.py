"""Merlin .mib reading: scanstack against RosettaSciIO and LiberTEM, and the machine's floor.

Synthetic files are written with scanstack's own writer (block-wise, timed too):

- ``u16``: single chip 256 x 256, 12-bit processed (U16);
- ``u08q``: quad 512 x 512, 6-bit processed (U08);
- ``r12q``: quad, 12-bit raw (R64: word swap + quad reassembly);
- ``r1q``: quad, 1-bit raw.

For each file, the task is the sum of all frames (a mean diffraction pattern):

- floor: read the file's bytes in 32 MiB blocks into one reused buffer (no decoding);
- scanstack ``read()``: ``reader.read(a, b, out=buf)`` block by block into one reused buffer
  (memmap -> native-endian copy, or the compiled raw decoder), summed with numpy;
- scanstack ``view``: the zero-copy ``as_array()`` memmap view summed directly (processed only);
- RosettaSciIO: ``file_reader(lazy=True)`` dask array ``.sum(axis=0).compute()`` (processed only,
  it cannot read raw);
- LiberTEM (if installed, ``pip install libertem``): ``SumUDF`` with the inline executor.

Prints GB/s of file bytes and the ratios to scanstack. The machine is shared, so numbers vary:
run twice. Usage: ``python benchmarks/bench_mib_read.py [--quick] [--frames N] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
import warnings

import numpy as np

from scanstack.datasets import SyntheticFrames
from scanstack.formats.mib import MibReader, write_mib

CASES = {  # name: (depth, layout, raw, frame shape)
    "u16": (12, "1x1", False, (256, 256)),
    "u08q": (6, "2x2", False, (512, 512)),
    "r12q": (12, "2x2", True, (512, 512)),
    "r1q": (1, "2x2", True, (512, 512)),
}


CPU: dict[str, float] = {}  # CPU seconds of the last best_of call, per label


def best_of(fn, repeat=2, label=None):
    """Best wall time of ``repeat`` runs (and, under ``label``, the best CPU time: the machine
    may be shared, CPU seconds are steadier than wall time)."""
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t)
        cpu = min(cpu, time.process_time() - c)
    if label:
        CPU[label] = cpu
    return best, out


def floor(path: str) -> float:
    buf = bytearray(32 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        while fh.readinto(view):
            pass
    return 0.0


def scanstack_sum(path: str) -> np.ndarray:
    r = MibReader(path, hdr=False)
    fpb = max(1, (32 << 20) // (int(np.prod(r.signal_shape)) * r.dtype.itemsize))
    total = np.zeros(r.signal_shape, np.uint64)
    buf = np.empty((fpb, *r.signal_shape), r.dtype)  # one block buffer, reused (read(out=))
    for a in range(0, r.nframes, fpb):
        b = min(a + fpb, r.nframes)
        total += r.read(a, b, out=buf[: b - a]).sum(axis=0, dtype=np.uint64)
    r.close()
    return total


def scanstack_view_sum(path: str) -> np.ndarray:
    """The zero-copy path for processed files: sum straight from ``as_array()`` (big-endian)."""
    r = MibReader(path, hdr=False)
    view = r.as_array()
    fpb = max(1, (32 << 20) // (int(np.prod(r.signal_shape)) * r.dtype.itemsize))
    total = np.zeros(r.signal_shape, np.uint64)
    for a in range(0, r.nframes, fpb):
        total += view[a : a + fpb].sum(axis=0, dtype=np.uint64)
    del view
    r.close()
    return total


def rsciio_sum(path: str, n: int) -> np.ndarray:
    from rsciio.quantumdetector import file_reader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = file_reader(path, lazy=True, navigation_shape=(n,))[0]["data"]
    data = data.reshape((-1, *data.shape[-2:]))
    return np.flip(data.sum(axis=0, dtype=np.uint64).compute(), 0)  # back to file order


def libertem_sum(path: str, n: int, sig_shape) -> np.ndarray:
    from libertem.api import Context
    from libertem.executor.inline import InlineJobExecutor
    from libertem.udf.sum import SumUDF

    ctx = Context(executor=InlineJobExecutor())
    ds = ctx.load("mib", path=path, nav_shape=(n,), sig_shape=sig_shape)
    return ctx.run_udf(ds, SumUDF())["intensity"].data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small files (CI smoke run)")
    ap.add_argument("--frames", type=int, default=None, help="frames per single-chip file")
    ap.add_argument("--keep", default=None, help="folder for the files (kept)")
    args = ap.parse_args()
    import rsciio.quantumdetector  # noqa: F401 - rsciio sets its log level on import

    for name in ("rsciio", "RosettaSciIO"):
        logging.getLogger(name).setLevel(logging.ERROR)
    n1 = args.frames or (256 if args.quick else 4096)
    try:
        import libertem  # noqa: F401

        have_lt = True
    except ImportError:
        have_lt = False
    folder = args.keep or tempfile.mkdtemp(prefix="bench_mib_")
    print(f"files in {folder}; LiberTEM {'found' if have_lt else 'not installed (skipped)'}")
    print(
        f"{'case':6} {'MB':>6} {'write':>7} {'floor':>7} {'read()':>7} {'view':>7} "
        f"{'rsciio':>7} {'libtem':>7}   (GB/s of file bytes; x = time / scanstack read())"
    )
    for name, (depth, layout, raw, shape) in CASES.items():
        n = n1 if layout == "1x1" else max(1, n1 // 4)
        path = os.path.join(folder, f"{name}.mib")
        frames = SyntheticFrames(n, shape, depth)
        t_write, _ = best_of(
            lambda p=path, f=frames, d=depth, lay=layout, r=raw: write_mib(
                p, f, d, lay, r, hdr=False, flip=False, overwrite=True
            ),
            repeat=1,
        )
        size = os.path.getsize(path)
        t_floor, _ = best_of(lambda p=path: floor(p))
        CPU.clear()
        t_ss, ours = best_of(lambda p=path: scanstack_sum(p), label="read()")
        expected = frames[0:n].sum(axis=0, dtype=np.uint64)
        assert np.array_equal(np.flip(ours, 0), expected), "scanstack sum is wrong"
        t_rs = t_lt = t_view = float("nan")
        if not raw:
            t_view, via_view = best_of(lambda p=path: scanstack_view_sum(p), label="view")
            assert np.array_equal(via_view, ours)
            t_rs, theirs = best_of(lambda p=path, m=n: rsciio_sum(p, m), label="rsciio")
            assert np.array_equal(theirs, np.flip(ours, 0)), "RosettaSciIO disagrees"
        if have_lt:
            try:
                t_lt, lt = best_of(
                    lambda p=path, m=n, s=shape: libertem_sum(p, m, s), label="LiberTEM"
                )
            except Exception as exc:  # the peer's own failure is a result, not a crash of ours
                print(f"  note: LiberTEM failed on {name}: {type(exc).__name__}: {exc}")
            else:
                if not np.array_equal(lt, np.flip(ours, 0)):
                    print(f"  note: LiberTEM's sum differs on {name}")

        def gbs(t, size=size):
            return f"{size / t / 1e9:7.2f}" if t == t else "    n/a"

        ratio = " ".join(
            f"{lab} x{t / t_ss:.2f}"
            for lab, t in (("view", t_view), ("rsciio", t_rs), ("LiberTEM", t_lt))
            if t == t
        )
        print(
            f"{name:6} {size / 1e6:6.0f} {gbs(t_write)} {gbs(t_floor)} {gbs(t_ss)} "
            f"{gbs(t_view)} {gbs(t_rs)} {gbs(t_lt)}   {ratio}"
        )
        base = CPU["read()"]
        print(
            "       CPU s: " + ", ".join(f"{k} {v:.2f} (x{v / base:.2f})" for k, v in CPU.items())
        )


if __name__ == "__main__":
    main()

"""Peak memory of every statistic on every format, against the memory budget.

Writes the same frames (uint16, Poisson(2) noise and ~1 % bright pixels) in every format with
scanstack's writers (zarr and nexus in chunks of ``--chunk``), then runs max, min, sum, mean,
median and percentile([10, 90]) with ``memory_budget=--budget`` and 2 threads, each in a fresh
interpreter (tests/memory/probe.py), and prints the peak resident memory each adds (Linux VmHWM
reset before the call; memory-mapped input pages not counted), its time, and whether the result
equals numpy's.

Usage: ``python benchmarks/bench_memory.py [--budget 16M] [--factor 4] [--frame 512]
[--chunk 2M] [--formats hdf5-gzip,zarr]``. Run it with ``PYTHONPATH`` pointing at another
checkout's ``src`` to measure that version (the files are written by the version run).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "memory"))
import memcases as mc  # noqa: E402

MiB = 1 << 20


def size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].isalpha() else int(text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=size, default=16 * MiB)
    parser.add_argument("--factor", type=float, default=4.0, help="data size / budget")
    parser.add_argument("--frame", type=int, default=512, help="frames are FRAME x FRAME")
    parser.add_argument(
        "--chunk", type=size, default=None, help="zarr/nexus chunk (default budget/8)"
    )
    parser.add_argument("--formats", default=",".join(mc.BUILDERS))
    args = parser.parse_args(argv)
    chunk = args.chunk or args.budget // 8
    nframes = max(1, int(args.factor * args.budget / (args.frame * args.frame * 2)))
    data = mc.make_frames(nframes, args.frame, args.frame)
    folder = Path(tempfile.mkdtemp(prefix="bench_memory_"))
    try:
        cases, helds = mc.build_cases(data, folder, args.budget, args.formats.split(","), chunk)
        print(
            f"data {data.nbytes / MiB:.0f} MiB ({nframes} frames of {args.frame}x{args.frame} "
            f"uint16), budget {args.budget / MiB:.0f} MiB, zarr/nexus chunks {chunk / MiB:g} MiB"
        )
        print(f"{'format':<18}" + "".join(f"{s:>16}" for s in mc.STATS))
        results = mc.probe(cases, folder, timeout=3600)
        worst = 0
        for i in range(0, len(results), len(mc.STATS)):
            row = results[i : i + len(mc.STATS)]
            case = row[0]["name"].split(":")[0]
            held = helds[case]
            cells = []
            for r, spec in zip(row, cases[i : i + len(mc.STATS)], strict=True):
                if r["error"]:
                    cells.append(f"{'error':>16}")
                    continue
                same = np.allclose(np.load(spec["out"]), mc.expected(held, spec["call"]), rtol=1e-6)
                worst = max(worst, r["added"])
                mark = "" if same else "!"
                cells.append(f"{r['added'] / MiB:7.1f} {r['seconds']:6.2f}s{mark}")
            print(f"{case:<18}" + "".join(cells), flush=True)
        print(
            f"largest peak added: {worst / MiB:.1f} MiB = budget + {(worst - args.budget) / MiB:.1f} MiB"
        )
        errors = [r for r in results if r["error"]]
        for r in errors:
            print(f"  {r['name']}: {r['error']}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

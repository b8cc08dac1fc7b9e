"""Cold start: what a shell user waits for, as whole processes and in process, in one run.

Generates hexrd's benchmark case (as ``bench_stats.py``: 60 frames of 2048 x 2048 uint16 with
Poisson noise and bright spots, 480 MB, uncompressed hexrd hdf5) and times fresh processes — wall
time (best of ``--repeat``, after one untimed run that warms the page cache and the kernel cache)
and their CPU time (user + system, the process and its children):

- ``python -c pass`` (the interpreter), ``import scanstack``, ``scanstack --help``;
- the reference: a fresh python doing what hexrd's ``imageseries.stats.median`` path does —
  h5py reads every frame into one array, ``np.median(axis=0)``, the result saved as TIFF;
- ``scanstack stats --stat median -o median.tif`` on the same file, with the kernels compiled
  ahead of time (the default) and with numba's JIT and its on-disk cache
  (``SCANSTACK_KERNEL_CACHE=off``); the outputs are checked equal to the reference's;
- in process, in a fresh python: the first ``stats.median`` call against the second, for both
  kernel modes, on the file and on the frames already in RAM (where only starting the kernels
  differs; on the file the first call also pays the system for fresh pages of its read buffer),
  next to the reference's read + median.

Usage: ``python benchmarks/bench_coldstart.py [--quick] [--repeat N] [--dir PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

MB = 1 << 20
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import best_process, hexrd_file, in_work_folder, load, scanstack_command  # noqa: E402

#: the reference: hexrd's median path in a fresh python (read all frames, np.median, save)
REFERENCE = """
import sys
import h5py, numpy as np, tifffile
with h5py.File(sys.argv[1], "r") as f:
    ds = f["imageseries/images"]
    frames = np.empty(ds.shape, ds.dtype)
    for i in range(len(ds)):
        frames[i] = ds[i]
tifffile.imwrite(sys.argv[2], np.median(frames, axis=0).astype(np.float32))
"""


def _cpu() -> tuple[float, float, float]:
    """(wall, user CPU, system CPU) seconds so far: the first call's extra system time is the
    kernel handing out fresh memory pages (first touch), its extra user time starting up."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime, usage.ru_stime


def _since(t0: tuple[float, float, float]) -> list[float]:
    return [b - a for a, b in zip(t0, _cpu(), strict=True)]


def in_process(path: str, where: str) -> None:
    """(child) First and second ``stats.median`` of the file (``where="file"``) or of its frames
    read into RAM beforehand (``"ram"``: only the kernels' start-up differs), as JSON."""
    t0 = _cpu()
    import h5py
    import numpy as np

    import scanstack
    from scanstack import stats

    out = {"import": _since(t0)}
    if where == "file":
        data = scanstack.open(path, "hdf5", path="imageseries")
    else:
        with h5py.File(path, "r") as f:
            data = f["imageseries/images"][()]
    for name in ("first", "second"):
        t0 = _cpu()
        stats.median(data)
        out[name] = _since(t0)
    out["numba loaded"] = "numba" in sys.modules
    if where == "file":
        t0 = _cpu()
        with h5py.File(path, "r") as f:
            ds = f["imageseries/images"]
            frames = np.empty(ds.shape, ds.dtype)
            for i in range(len(ds)):
                frames[i] = ds[i]
        np.median(frames, axis=0)
        out["reference"] = _since(t0)
    print(json.dumps(out))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run (20 frames of 512x512)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per row (best kept)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the data")
    parser.add_argument("--in-process", nargs=2, metavar=("PATH", "WHERE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.in_process:
        in_process(*args.in_process)
        return
    nframes, size = (20, 512) if args.quick else (60, 2048)
    repeat = args.repeat or (2 if args.quick else 3)
    in_work_folder("bench_coldstart_", args.dir, run, nframes, size, repeat)


def run(workdir: Path, nframes: int, size: int, repeat: int) -> None:
    import numpy as np
    import tifffile

    path, nbytes, seconds = hexrd_file(workdir, nframes, size)
    print(
        f"data: {nframes} frames of {size}x{size} uint16 = {nbytes / MB:.0f} MB "
        f"(generated in {seconds:.1f} s); {os.cpu_count()} CPUs; {load()}; "
        f"fresh processes, best wall of {repeat} after a warm-up run"
    )
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    jit_env = dict(env, SCANSTACK_KERNEL_CACHE="off")
    py = sys.executable
    cli = scanstack_command()

    def row(name: str, wall: float, cpu: float, note: str = "") -> None:
        print(f"  {name:<58} {wall:7.3f} s wall {cpu:7.3f} s CPU  {note}")

    print("whole process:")
    row("python -c pass", *best_process([py, "-c", "pass"], env, repeat))
    row("python -c 'import scanstack'", *best_process([py, "-c", "import scanstack"], env, repeat))
    row("scanstack --help", *best_process([*cli, "--help"], env, repeat))
    ref_tif, aot_tif, jit_tif = (workdir / f"{n}.tif" for n in ("ref", "aot", "jit"))
    ref_wall, ref_cpu = best_process([py, "-c", REFERENCE, str(path), str(ref_tif)], env, repeat)
    row("reference: h5py read all + np.median + tifffile save", ref_wall, ref_cpu)
    stats_cmd = [*cli, "stats", str(path), "-f", "hdf5", "-i", "path=imageseries", "-q"]
    for label, out, kenv in (
        ("ahead-of-time kernels", aot_tif, env),
        ("numba JIT", jit_tif, jit_env),
    ):
        wall, cpu = best_process(
            [*stats_cmd, "--stat", "median", "-o", str(out), "--overwrite"], kenv, repeat
        )
        note = f"reference / this: {ref_wall / wall:4.1f}x wall, {ref_cpu / cpu:.1f}x CPU"
        row(f"scanstack stats --stat median ({label})", wall, cpu, note)
    reference = tifffile.imread(ref_tif)
    for out in (aot_tif, jit_tif):
        if not np.array_equal(tifffile.imread(out), reference):
            raise AssertionError(f"{out.name} differs from the reference median")
    print("  (both scanstack medians equal the reference's)")

    print("in process, a fresh python each (wall, user + system CPU):")

    def cpu_row(name: str, wall: float, user: float, system: float, note: str = "") -> None:
        row(name, wall, user + system, f"user {user:.3f} + sys {system:.3f}  {note}")

    for where in ("file", "ram"):
        for label, kenv in (("ahead-of-time kernels", env), ("numba JIT", jit_env)):
            cmd = [py, __file__, "--in-process", str(path), where]
            res = json.loads(subprocess.check_output(cmd, env=kenv))
            if where == "file":
                cpu_row(f"import scanstack + scanstack.stats ({label})", *res["import"])
            first, second = res["first"], res["second"]
            extra = (first[1] + first[2]) - (second[1] + second[2])
            cpu_row(f"first stats.median, {where} ({label})", *first)
            cpu_row(
                f"second stats.median, {where} ({label})",
                *second,
                f"first - second: {extra:+.3f} s CPU; numba loaded: {res['numba loaded']}",
            )
        if where == "file":
            cpu_row("reference in process: read all + np.median", *res["reference"])
    print(f"  ({load()} at the end)")


if __name__ == "__main__":
    main()

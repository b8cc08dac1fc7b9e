"""Helpers shared by the benchmark scripts (imported as a sibling module): timing, the machine's
load, fresh-process measurement, the limit (touching every byte of a file) and hexrd's data.

Every script that times something uses these, so "best of N", "CPU of a fresh process" and
"the limit" mean the same thing in every printed table.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

#: where hexrd keeps its image series in an hdf5 file (``path="imageseries"``)
H5_DATASET = "imageseries/images"


# -- timing -----------------------------------------------------------------------------------
def best_of(fn: Callable[[], object], repeat: int, give_up: float = 10.0) -> tuple[float, object]:
    """``(best wall seconds, last result)`` of ``repeat`` runs; once a run has taken more than
    ``give_up`` seconds it is not repeated."""
    t_best, out = float("inf"), None
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        out = fn()
        t_best = min(t_best, time.perf_counter() - t)
        if t_best > give_up:
            break
    return t_best, out


def timed(fn: Callable[[], object], repeat: int = 2) -> tuple[tuple[float, float], object]:
    """``((wall, cpu), result)`` of the fastest of ``repeat`` runs (seconds).

    CPU seconds (all threads of this process) show the work done, which a busy shared machine
    does not distort as much as wall time does.
    """
    best, out = (float("inf"), 0.0), None
    for _ in range(max(1, repeat)):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        wall = time.perf_counter() - t
        if wall < best[0]:
            best = (wall, time.process_time() - c)
    return best, out


def rss_bytes() -> int:
    """This process's resident memory now (bytes; Linux ``/proc/self/status``, else 0)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def rss_growth(fn: Callable[[], object], every: float = 0.02) -> tuple[int, object]:
    """``(largest growth of resident memory while ``fn()`` ran, in bytes; its result)``, sampled
    every ``every`` seconds from a thread (a memory peak over a long run, where ``getrusage``
    would report the peak of the whole process so far)."""
    import threading

    base, peak, done = rss_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(every):
            peak[0] = max(peak[0], rss_bytes())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        out = fn()
    finally:
        done.set()
        thread.join()
    return max(0, max(peak[0], rss_bytes()) - base), out


def load() -> str:
    """The machine's load average (1, 5, 15 min) as printed by every script."""
    try:
        return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        return "load average unknown"


# -- fresh processes --------------------------------------------------------------------------
def run_process(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run ``cmd`` to the end: (wall seconds, CPU seconds of it and its children).

    Raises ``RuntimeError`` with the command's stderr when it fails.
    """
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"{cmd} failed:\n{err.read().decode(errors='replace')}")
    return wall, usage.ru_utime + usage.ru_stime


def best_process(
    cmd: list[str], env: dict[str, str] | None, repeat: int, warm_up: bool = True
) -> tuple[float, float]:
    """(best wall, CPU of that run) over ``repeat`` runs, after one untimed warm-up run (page
    cache, kernel cache) unless ``warm_up`` is False."""
    if warm_up:
        run_process(cmd, env)
    return min(run_process(cmd, env) for _ in range(max(1, repeat)))


def scanstack_command() -> list[str]:
    """The ``scanstack`` console script next to this python, else ``python -m``."""
    script = Path(sys.executable).with_name("scanstack")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "scanstack.cli.main"]


# -- the limit --------------------------------------------------------------------------------
def touch_file(path: str | os.PathLike) -> int:
    """The limit: every byte of the file once through a fresh memory map (``np.bitwise_xor``
    reduce over a uint64 view, one thread)."""
    mm = np.memmap(path, np.uint8, "r")
    n = mm.size // 8 * 8
    value = int(np.bitwise_xor.reduce(mm[:n].view(np.uint64)))
    del mm
    return value


# -- hexrd's data -----------------------------------------------------------------------------
def write_hexrd_frames(path: Path, nframes: int, size: int, seed: int = 0) -> None:
    """hexrd's benchmark case, frame by frame into an uncompressed contiguous hdf5 image series:
    ``nframes`` uint16 frames of ``size x size``, Poisson(2) noise, ~1 % bright pixels (spots)."""
    import h5py

    rng = np.random.default_rng(seed)
    bright = rng.random((size, size)) < 0.01
    nbright = int(bright.sum())
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(H5_DATASET, (nframes, size, size), np.uint16)
        for i in range(nframes):
            frame = rng.poisson(2.0, (size, size)).astype(np.uint16)
            frame[bright] += rng.integers(200, 4000, nbright).astype(np.uint16)
            ds[i] = frame


def h5py_read(path: str | os.PathLike) -> np.ndarray:
    """h5py's own whole read of the dataset (``ds[()]``): what a whole read must match."""
    import h5py

    with h5py.File(path, "r") as f:
        return f[H5_DATASET][()]


def per_frame_npz_write(dense: np.ndarray, path: str | os.PathLike, threshold: float) -> None:
    """hexrd's frame-cache npz by hand: ``np.nonzero`` per frame, one ``np.savez_compressed``."""
    arrays = {
        "shape": np.array(dense.shape[1:]),
        "nframes": np.array(len(dense)),
        "dtype": np.array(str(dense.dtype).encode()),
    }
    for i, frame in enumerate(dense):
        rows, cols = np.nonzero(frame > threshold)
        arrays[f"{i}_row"] = rows.astype(np.uint16)
        arrays[f"{i}_col"] = cols.astype(np.uint16)
        arrays[f"{i}_data"] = frame[rows, cols]
    np.savez_compressed(path, **arrays)


def per_frame_npz_read(path: str | os.PathLike) -> np.ndarray:
    """The per-frame reference of a whole frame-cache read: ``np.load``, then each frame's
    values scattered into a dense array (what hexrd's frame-cache reader does)."""
    with np.load(path) as z:
        shape = tuple(int(v) for v in z["shape"])
        n = int(z["nframes"])
        out = np.zeros((n, *shape), np.dtype(z["dtype"].item().decode()))
        for i in range(n):
            out[i, z[f"{i}_row"], z[f"{i}_col"]] = z[f"{i}_data"]
    return out


def in_work_folder(prefix: str, parent: Path | None, run: Callable[..., object], *args) -> object:
    """``run(folder, *args)`` in a new temporary folder (under ``parent`` if given), removed
    afterwards whatever happens: the generated data never outlives the run."""
    import shutil

    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        return run(folder, *args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def hexrd_file(folder: Path, nframes: int, size: int) -> tuple[Path, int, float]:
    """:func:`write_hexrd_frames` into ``folder/frames.h5``: ``(path, data bytes, seconds)``."""
    path = folder / "frames.h5"
    t0 = time.perf_counter()
    write_hexrd_frames(path, nframes, size)
    return path, nframes * size * size * 2, time.perf_counter() - t0

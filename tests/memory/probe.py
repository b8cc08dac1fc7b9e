"""Peak memory of scanstack calls, measured in this (fresh) process: run as a script.

``python probe.py CASES.json`` reads a list of cases ``{"name", "path", "format", "options",
"call", "budget", "threads", "out"}`` and prints one JSON line per case: ``{"name", "added",
"error"}``. ``call`` is a statistic (``max``, ``min``, ``sum``, ``mean``, ``median``,
``percentile``), whose result is saved to ``out`` (.npy) for the caller to check.

``added`` is the peak resident memory (Linux ``VmHWM``, reset through ``/proc/self/clear_refs``
before each call, so no short peak is missed) minus the resident memory just before the call,
after a warm-up that imports everything and loads the numba kernels, minus the growth of the
file-backed resident pages over the call (``RssFile``: pages of memory-mapped input files, the
kernel's page cache, which it reclaims as it needs; they only grow while the file stays mapped). An ``rlimit_as`` entry
(bytes) caps the address space of the whole process (``RLIMIT_AS``).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time

import numpy as np


def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def reset_peak() -> tuple[int, int]:
    """Reset the peak resident size to the current one; returns (resident, file-backed) bytes."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    return _status("VmRSS"), _status("RssFile")


def added_since(base: tuple[int, int]) -> int:
    """Peak anonymous memory added since ``base`` (see the module's docstring)."""
    return _status("VmHWM") - base[0] - max(0, _status("RssFile") - base[1])


STATS = ("max", "min", "sum", "mean", "median", "percentile")


def run_stat(stack, call: str, budget: int, threads: int) -> np.ndarray:
    from scanstack import stats

    kw = {"memory_budget": budget, "threads": threads}
    if call == "percentile":
        return stats.percentile(stack, [10, 90], **kw)
    return getattr(stats, call)(stack, **kw)


def warm_up(dtypes: set[str]) -> None:
    """Load the libraries and the numba kernels before anything is measured.

    Small arrays in memory are reduced by numpy, so each dtype is also reduced from a file (a
    memory map: the fold kernels) under a budget small enough to cut pixel tiles into parts
    (the quantile kernel on a strided part), building any kernel missing from the cache here
    rather than inside a measurement.
    """
    import tempfile

    import h5py  # noqa: F401

    import scanstack

    with tempfile.TemporaryDirectory() as folder:
        for dt in dtypes:
            small = np.zeros((3, 8, 8), dt)
            raw = f"{folder}/{np.dtype(dt).str[1:]}.raw"
            np.arange(64 * 32 * 32).astype(dt).tofile(raw)
            options = {"shape": [32, 32], "dtype": np.dtype(dt).str}
            with scanstack.open(raw, "raw-image", **options) as mapped:
                for call in STATS:
                    for threads in (1, 2):
                        run_stat(small, call, 1 << 20, threads)
                        run_stat(mapped, call, 1 << 20, threads)
                        run_stat(mapped, call, 96 << 10, threads)


def main(argv: list[str]) -> None:
    cases = json.loads(open(argv[0]).read())
    limit = max((c.get("rlimit_as") or 0) for c in cases)
    import scanstack

    warm_up({c["dtype"] for c in cases if c.get("dtype")})
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for case in cases:
        result = {"name": case["name"], "added": None, "error": None, "seconds": None}
        stack = None
        try:
            stack = scanstack.open(case["path"], case.get("format"), **case.get("options", {}))
            stack[0]  # open the file's own machinery (h5py, zarr, zip) outside the measurement
            base = reset_peak()
            t0 = time.perf_counter()
            value = run_stat(stack, case["call"], case["budget"], case.get("threads", 2))
            result["added"] = added_since(base)
            result["seconds"] = time.perf_counter() - t0
            np.save(case["out"], value)
        except Exception as exc:  # reported to the caller, which decides
            result["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            if stack is not None:
                stack.close()
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])

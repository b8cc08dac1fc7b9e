"""Run out-of-core tools in a fresh process and report the peak anonymous memory each adds.

``python peak_tools.py SRC_DIR OUT_DIR BUDGET TOOL...`` prints, as its last line, one JSON object
``{tool: {"added": bytes, "budget": bytes}}``. SRC_DIR holds ``frames.mib`` (a Merlin frame
series) and ``spectra.npy`` (a map of 1-D spectra), and small versions of both (``small-...``),
written by the test: sources whose reads add no scratch of their own (the readers' scratch is
the business of their own tests). Each tool first runs on a tiny stack (imports, numba
compilation, thread pools: not the tool's working memory), then on the file while a thread
samples ``RssAnon`` of /proc/self/status every 0.2 ms; ``added`` is the peak minus the value just
before. Anonymous memory is what the budget is about: a memory-mapped input's pages belong to
the page cache and are not counted.

Run with ``MALLOC_MMAP_THRESHOLD_`` set (the test does), so that freed blocks go back to the
system at once instead of staying in the heap and hiding the next tool's peak.
"""

from __future__ import annotations

import functools
import gc
import json
import sys
import threading
from pathlib import Path

import numpy as np

import scanstack
from scanstack import stats, stem, xrf
from scanstack.core.axes import Axis


def rss_anon() -> int:
    with open("/proc/self/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


def peak_added(func) -> int:
    gc.collect()
    base = peak = rss_anon()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.0002):
            peak = max(peak, rss_anon())

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    try:
        func()
    finally:
        done.set()
        watcher.join()
    return max(peak, rss_anon()) - base


def tools(out: Path, budget: int) -> dict:
    """``name -> (function of (stack, tag), which source)``; keywords as every tool takes them."""
    kw = {"memory_budget": budget, "threads": 2, "progress": False}

    def save(fmt: str, suffix: str, **options):
        def run(s, tag):
            scanstack.save(s, out / f"{tag}-{fmt}{suffix}", fmt, **{**kw, **options})

        return run

    def cli_convert(suffix: str, *extra: str):
        from scanstack.cli.main import main

        def run(s, tag):
            argv = ["--memory-budget", str(budget), "--threads", "2", "convert", s.path]
            assert main([*argv, str(out / f"cli-{tag}{suffix}"), "-q", *extra]) == 0

        return run

    return {
        "stats.sum+max": (lambda s, t: stats.reduce_together(s, ("sum", "max"), **kw), "frames"),
        "stats.median": (lambda s, t: stats.median(s, **kw), "frames"),
        "stem.sum_pattern": (lambda s, t: stem.sum_pattern(s, **kw), "frames"),
        "stem.virtual_images": (
            lambda s, t: stem.virtual_images(s, [np.ones(s.signal_shape)], **kw),
            "frames",
        ),
        "xrf.summarize": (
            lambda s, t: xrf.summarize(s, {"a": (1.0, 2.0), "b": (3.0, 5.0)}, **kw),
            "spectra",
        ),
        "write zarr": (save("zarr", ".zarr"), "frames"),
        "write nexus (gzip)": (save("nexus", ".nxs", compression="gzip"), "frames"),
        "write nsid (none)": (save("nsid", ".h5", compression=None), "frames"),
        "write hexrd hdf5 (gzip)": (save("hdf5", ".h5", path="imageseries"), "frames"),
        "write frame-cache": (save("frame-cache", ".npz", threshold=3), "frames"),
        "write tiff": (save("tiff", ".tif"), "frames"),
        "write mib": (save("mib", ".mib"), "frames"),
        "write crono": (save("crono", ".crono.h5"), "spectra"),
        "cli convert -> zarr": (cli_convert(".zarr"), "frames"),
        "cli convert -> nexus": (cli_convert(".nxs", "--compression", "gzip"), "frames"),
        # the control: the same writer given 1 GiB holds the whole series at once
        "control: write nsid, 1 GiB budget": (
            save("nsid", "-1g.h5", compression=None, memory_budget=1 << 30),
            "frames",
        ),
    }


def main(argv: list[str]) -> None:
    src, out, budget, names = Path(argv[0]), Path(argv[1]), int(argv[2]), argv[3:]
    table = tools(out, budget)

    def source(kind: str, prefix: str = ""):
        if kind == "frames":
            return scanstack.open(src / f"{prefix}frames.mib")
        data = np.load(src / f"{prefix}spectra.npy", mmap_mode="r")
        rows, cols, channels = data.shape
        axes = [
            Axis(name="y", size=rows, units="mm", scale=0.1, offset=1.0),
            Axis(name="x", size=cols, units="mm", scale=0.1, offset=1.0),
            Axis(name="energy", size=channels, units="keV", scale=0.01, navigate=False),
        ]
        return scanstack.Stack.from_array(data, signal_ndim=1, axes=axes)

    report = {}
    for name in names:
        func, kind = table[name]
        with source(kind, "small-") as s:
            func(s, "warm")
        with source(kind) as s:
            report[name] = {
                "added": peak_added(functools.partial(func, s, "big")),
                "budget": budget,
            }
    print("\n" + json.dumps(report))  # the last line (the CLI prints what it wrote)


if __name__ == "__main__":
    main(sys.argv[1:])

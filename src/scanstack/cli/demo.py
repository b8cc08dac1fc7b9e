"""``scanstack demo``: write small sample datasets and run the main jobs on them.

Three instruments, each a few MB, all synthetic (:mod:`scanstack.datasets`, written by scanstack's
own writers):

1. a rotating-crystal X-ray series (hexrd hdf5 with omega): median dark, dark-subtracted and
   flipped frame-cache (npz), max frame (TIFF), preview;
2. a 4D-STEM Merlin acquisition (.mib + .hdr): info, preview (sum pattern + virtual bright field),
   conversion to Zarr; then the same scan live: our Merlin simulator serves it on loopback (a
   port the system chooses) and ``scanstack live merlin://...`` draws the virtual bright field
   while the frames arrive, recording them (``scan-live.mib``);
3. a CRONO MA-XRF scan with camera frames: info, preview (sum spectrum + element maps), camera
   mosaic, Pb/Fe/Cu maps over the mosaic (overlay), conversion to NeXus for PyMca.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..core.errors import WriteError
from ..core.safety import check_output


def run_demo(output: Path, quiet: bool = False, overwrite: bool = False) -> int:
    """Run the demo into ``output``; prints every file written. Returns an exit code.

    A folder that is not empty is refused unless ``overwrite`` (then the demo's files in it are
    replaced).
    """
    from scanstack.datasets import write_crono, write_rotation_series, write_stem_scan

    from .main import main

    check_output(output, True, folder=True)
    if not overwrite and output.is_dir() and next(output.iterdir(), None) is not None:
        raise WriteError(
            f"{output}: is not empty (an earlier demo?); pass --overwrite to write the demo "
            "into it again"
        )
    output.mkdir(parents=True, exist_ok=True)
    q = ["--quiet", "--overwrite"] if quiet else ["--overwrite"]  # the folder is the demo's
    start = time.perf_counter()
    steps: list[tuple[str, list[str]]] = []

    print("== 1. X-ray image series (hexrd hdf5 with omega) ==")
    series = output / "series.h5"
    write_rotation_series(series, overwrite)
    steps += [
        ("info", ["info", str(series)]),
        (
            "median dark",
            ["stats", str(series), "--stat", "median", "-o", str(output / "dark.npy"), *q],
        ),
        ("max frame", ["stats", str(series), "--stat", "max", "-o", str(output / "max.tif"), *q]),
        (
            "frame-cache",
            [
                "convert",
                str(series),
                str(output / "series-clean.npz"),
                "--format",
                "frame-cache",
                "--op",
                f"dark={output / 'dark.npy'}",
                "--op",
                "flip=v",
                "-O",
                "threshold=20",
                *q,
            ],
        ),
        ("preview", ["preview", str(series), "-o", str(output / "series.png"), *q]),
    ]
    if _run(main, steps):
        return 1

    print("\n== 2. 4D-STEM scan (Quantum Detectors Merlin .mib) ==")
    mib = output / "scan.mib"
    write_stem_scan(mib, overwrite)
    steps = [
        ("info", ["info", str(mib)]),
        ("preview", ["preview", str(mib), "-o", str(output / "scan-mib.png"), *q]),
        ("zarr", ["convert", str(mib), str(output / "scan.zarr"), "--format", "zarr", *q]),
    ]
    if _run(main, steps):
        return 1
    if _run_live(main, mib, output, q):
        return 1

    print("\n== 3. CRONO MA-XRF scan with camera frames ==")
    crono = output / "143000011120261-demo.HDF5"
    write_crono(crono, rows=14, columns=12, channels=2048, seed=1, overwrite=overwrite)
    steps = [
        ("info", ["info", str(crono)]),
        ("preview", ["preview", str(crono), "-o", str(output / "crono.png"), *q]),
        ("mosaic", ["crono", "mosaic", str(crono), "-o", str(output / "crono-mosaic.png"), *q]),
        (
            "overlay",
            [
                "crono",
                "overlay",
                str(crono),
                "--elements",
                "Pb,Fe,Cu",
                "-o",
                str(output / "crono-overlay.png"),
                *q,
            ],
        ),
        ("nexus", ["convert", str(crono), str(output / "crono.nxs"), "--format", "nexus", *q]),
    ]
    if _run(main, steps):
        return 1

    print(f"\ndemo finished in {time.perf_counter() - start:.1f} s; outputs in {output.resolve()}:")
    for p in sorted(output.iterdir()):
        size = sum(f.stat().st_size for f in p.rglob("*")) if p.is_dir() else p.stat().st_size
        print(f"  {p.name:<36} {size / 1e6:8.2f} MB")
    return 0


def _run_live(main, mib: Path, output: Path, q: list[str]) -> bool:
    """The scan as a live Merlin stream: our simulator on loopback, ``scanstack live`` on it."""
    from ..live.simulator import MerlinSimulator

    spill = output / "scan-live.mib"
    with MerlinSimulator(mib, control_port=None) as sim:
        print(f"\n(a simulated Merlin detector serves {mib.name} on 127.0.0.1:{sim.data_port})")
        argv = ["live", f"merlin://127.0.0.1:{sim.data_port}", "--nav", "16x16", "--bf", "r=30"]
        argv += ["-o", str(output / "scan-live.png"), "-i", f"spill={spill}"]
        failed = _run(main, [("live", [*argv, "--timeout", "30", *q])])
    if not failed:
        print(f"recorded while drawing: {spill} (+ .hdr)")
    return failed


def _run(main, steps) -> bool:
    """Run CLI steps in-process; True when one failed."""
    for label, argv in steps:
        print(f"\n$ scanstack {' '.join(argv)}")
        code = main(argv)
        if code:
            print(f"demo step {label!r} failed with exit code {code}")
            return True
    return False

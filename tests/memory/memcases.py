"""Files of every format, larger than a memory budget, and the probe that measures a statistic.

Shared by ``tests/memory`` and ``benchmarks/bench_memory.py``. Each builder writes the same
frames (counting-detector-like uint16: Poisson(2) noise and ~1 % bright pixels) with scanstack's
own writer, in the layout that format's files have in the wild (gzip chunks of whole frames for
hexrd's hdf5, sparse frames for frame-caches, 8 MiB blosc chunks for zarr...).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

import scanstack

PROBE = Path(__file__).with_name("probe.py")
STATS = ("max", "min", "sum", "mean", "median", "percentile")


def make_frames(nframes: int, rows: int, cols: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    data = rng.poisson(2.0, (nframes, rows, cols)).astype(np.uint16)
    bright = rng.random((rows, cols)) < 0.01
    data[:, bright] += rng.integers(200, 4000, (nframes, int(bright.sum()))).astype(np.uint16)
    return data


def _write(data: np.ndarray, target: Path, fmt: str, **options) -> Path:
    out = scanstack.save(scanstack.Stack.from_array(data, signal_ndim=2), target, fmt, **options)
    return Path(out if isinstance(out, (str, os.PathLike)) else target)


#: chunk size of the zarr, nexus, usid, nsid and crono files: an eighth of the budget the tests use (as 8 MiB
#: chunks are to a 64 MiB budget)
CHUNK = 1 << 19

#: format case -> (file name, write(data, path, chunk)); "hdf5-shuffle" is hexrd's gzip=0
#: (byte shuffle only), zarr and nexus are chunked by ``chunk`` bytes
BUILDERS = {
    "raw-image": ("f.raw", lambda d, p, chunk: d.tofile(p) or p),
    "hdf5-gzip": ("g.h5", lambda d, p, chunk: _write(d, p, "hdf5", path="imageseries", gzip=1)),
    "hdf5-shuffle": ("p.h5", lambda d, p, chunk: _write(d, p, "hdf5", path="imageseries", gzip=0)),
    "frame-cache-npz": ("c.npz", lambda d, p, chunk: _write(d, p, "frame-cache", threshold=1)),
    "frame-cache-fch5": (
        "c.fch5",
        lambda d, p, chunk: _write(d, p, "frame-cache", threshold=1, style="fch5"),
    ),
    "zarr": ("z.zarr", lambda d, p, chunk: _write(d, p, "zarr", file_chunk_bytes=chunk)),
    "nexus": ("n.nxs", lambda d, p, chunk: _write(d, p, "nexus", file_chunk_bytes=chunk)),
    "tiff": ("t.tif", lambda d, p, chunk: _write(d, p, "tiff")),
    "mib": ("m.mib", lambda d, p, chunk: _write(d, p, "mib", depth=12)),
    "usid": ("u.h5", lambda d, p, chunk: _write(d, p, "usid", file_chunk_bytes=chunk)),
    "nsid": ("n.h5", lambda d, p, chunk: _write(d, p, "nsid", file_chunk_bytes=chunk)),
    "crono": ("c.hdf5", lambda d, p, chunk: _write_crono(d, p, chunk)),
    "crono-exported": ("x.hdf5", lambda d, p, chunk: _write_crono_exported(d, p)),
    "eiger-stream-v1": ("e1.h5", lambda d, p, chunk: _write(d, p, "eiger-stream-v1")),
    "eiger-stream-v2": (
        "e2.h5",
        lambda d, p, chunk: _write(d, p, "eiger-stream-v2", threshold_2=d),
    ),
    "image-files": ("seq.yml", lambda d, p, chunk: _write(d, p, "tiff", sequence=True)),
}
#: not here: ``array`` and ``function`` read no file (their frames are already in memory or
#: computed); frame-cache's legacy ``yml`` names an npz, read by the npz case's own code; these
#: are every other readable format of ``scanstack formats``

#: the format each case is opened with (the rest are detected from the file)
FORMATS = {
    "raw-image": "raw-image",
    "crono": "crono",
    "crono-exported": "crono-exported",
    "eiger-stream-v1": "eiger-stream-v1",
    "eiger-stream-v2": "eiger-stream-v2",
    "image-files": "image-files",
}

#: cases whose file holds spectra, not ``data``'s frames: the frames read back are compared
SPECTRA = ("crono", "crono-exported")


def _write_crono(data: np.ndarray, target: Path, chunk: int) -> Path:
    """``data`` (rows, columns, channels) as a native CRONO map of spectra (keV axis), in
    chunks of ``chunk`` bytes."""
    from scanstack.core.axes import Axis

    rows, cols, channels = data.shape
    axes = [
        Axis("y", rows, navigate=True),
        Axis("x", cols, navigate=True),
        Axis("energy", channels, units="keV", scale=0.01, navigate=False),
    ]
    stack = scanstack.Stack.from_array(data, signal_ndim=1, axes=axes)
    scanstack.save(stack, target, "crono", file_chunk_bytes=chunk)
    return target


def _write_crono_exported(data: np.ndarray, target: Path) -> Path:
    """A simulated "Export to HDF5" CRONO file as large as ``data`` (4096 uint32 channels)."""
    from scanstack.datasets.crono import write_crono

    spectra = max(1, data.nbytes // (4096 * 4))
    columns = max(1, int(np.sqrt(spectra)))
    write_crono(target, rows=spectra // columns, columns=columns, images=False, exported=True)
    return target


def open_options(case: str, data: np.ndarray) -> tuple[str | None, dict]:
    if case == "raw-image":
        return "raw-image", {"shape": list(data.shape[1:]), "dtype": data.dtype.str}
    return FORMATS.get(case), {}


def held(case: str, data: np.ndarray, path: Path) -> np.ndarray:
    """What the file of ``case`` holds, as ``(frames, *frame shape)``: the statistics' input.

    Frame-caches hold the values above their threshold; CRONO files hold spectra (read back
    here, outside any measurement).
    """
    if case.startswith("frame-cache"):
        return sparse(data)
    if case in SPECTRA:
        with scanstack.open(path, FORMATS[case]) as stack:
            spectra = stack.to_numpy()
        return spectra.reshape(-1, spectra.shape[-1])
    return data


def build(case: str, data: np.ndarray, folder: Path, chunk: int = CHUNK) -> Path:
    """Write ``data`` as format ``case`` in ``folder``; ``chunk``: zarr/nexus chunk bytes."""
    name, write = BUILDERS[case]
    return Path(write(data, folder / name, chunk))


def build_cases(
    data: np.ndarray, folder: Path, budget: int, cases=None, chunk: int = CHUNK
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Write ``data`` in each format of ``cases`` (default: every builder) and list one probe
    case per statistic: ``(cases for probe(), {format case: the values it holds})``."""
    specs, values = [], {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the frame-caches' "too dense" warnings
        for case in cases or BUILDERS:
            path = build(case, data, folder, chunk)
            fmt, options = open_options(case, data)
            values[case] = held(case, data, path)
            for stat in STATS:
                specs.append(
                    dict(
                        name=f"{case}:{stat}",
                        path=str(path),
                        format=fmt,
                        options=options,
                        call=stat,
                        budget=budget,
                        threads=2,
                        dtype=str(values[case].dtype),
                        out=str(folder / f"{case}-{stat}.npy"),
                    )
                )
    return specs, values


#: glibc's malloc hands allocations from 64 KiB up straight to mmap and back at free (instead of
#: keeping freed memory for reuse), so resident memory follows what is allocated
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "131072"}


def probe(cases: list[dict], folder: Path, env: dict | None = None, timeout: float = 600) -> list:
    """Run ``cases`` (see probe.py) in one fresh interpreter; one result dict per case."""
    spec = folder / "cases.json"
    spec.write_text(json.dumps(cases))
    environ = dict(os.environ, **MALLOC_ENV, **(env or {}))
    done = subprocess.run(
        [sys.executable, str(PROBE), str(spec)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environ,
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe failed ({done.returncode}): {done.stderr[-3000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def expected(data: np.ndarray, call: str) -> np.ndarray:
    if call == "max":
        return data.max(axis=0)
    if call == "min":
        return data.min(axis=0)
    if call == "sum":
        return data.sum(axis=0, dtype=np.float64)
    if call == "mean":
        return data.mean(axis=0, dtype=np.float64).astype(np.float32)
    if call == "median":
        return np.median(data, axis=0).astype(np.float32)
    return np.percentile(data, [10, 90], axis=0).astype(np.float32)


def sparse(data: np.ndarray, threshold: int = 1) -> np.ndarray:
    """What a frame-cache of threshold ``threshold`` holds: values above it, zeros elsewhere."""
    return np.where(data > threshold, data, 0).astype(data.dtype)

"""CRONO camera frames: decode + EXIF + place every frame, scanstack against a plain Pillow loop.

A synthetic CRONO file with >= 10,000 camera frames (143 x 107 q75 RGB JPEGs with the EXIF µs
stamp, NRBF-wrapped, like the real /Images/Static; ``scanstack.datasets.write_crono``) is
generated once (or given with --file).
Both pipelines read the blobs from HDF5 in the same blocks of slots; then

- Pillow: per frame ``Image.open`` + ``convert('RGB')`` + ``getexif()`` (DateTimeOriginal),
  then the same vectorised placement;
- scanstack: :func:`scanstack.crono.iter_decoded` (one pass: blob read and EXIF parse of block
  k+1 in a background thread while block k is decoded by simplejpeg in ``config.threads()``
  threads), then :func:`scanstack.crono.place_frames`.

Prints frames/s of each stage and of the whole pipeline, and the ratio.
Usage: ``python benchmarks/bench_crono_frames.py [--quick] [--file F]``
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time

import numpy as np
from PIL import Image

from scanstack.core.config import config
from scanstack.crono import ScanTrack, iter_decoded, open_frames, place_frames
from scanstack.crono.exif import exif_stamp
from scanstack.crono.jpeg import available_backend, decode_many
from scanstack.datasets import write_crono


def make_file(path: str, quick: bool) -> None:
    # the demo file's geometry: 37 columns of ~1 mm, 2 s row changes, 30 frames/s
    rows = 7 if quick else 67
    t = time.perf_counter()
    truth = write_crono(path, rows=rows, columns=37, line_dead_time=2.0, seed=1)
    print(f"generated {truth.n_frames} frames in {time.perf_counter() - t:.1f} s -> {path}")


def pillow_pipeline(reader, track) -> tuple[float, np.ndarray]:
    t = time.perf_counter()
    stamps = np.empty(reader.nframes, np.int64)
    checksum = 0
    for a, jpegs in reader.iter_jpegs(per_read=256):
        for k, j in enumerate(jpegs):
            im = Image.open(io.BytesIO(j))
            rgb = np.asarray(im.convert("RGB"))
            stamps[a + k] = int(im.getexif().get_ifd(0x8769)[0x9003])
            checksum += int(rgb[0, 0, 0])
    place_frames(stamps, track)
    return time.perf_counter() - t, stamps


def scanstack_pipeline(reader, track) -> tuple[float, np.ndarray]:
    t = time.perf_counter()
    stamps = np.empty(reader.nframes, np.int64)
    checksum = 0
    for a, block, st in iter_decoded(reader, frames_per_block=256):
        stamps[a : a + len(st)] = st
        checksum += int(block[:, 0, 0, 0].sum())
    place_frames(stamps, track)
    return time.perf_counter() - t, stamps


def stage_rates(reader, n: int) -> dict[str, float]:
    jpegs = [j for _, js in reader.iter_jpegs(0, n, per_read=256) for j in js]
    out = {}
    t = time.perf_counter()
    for _ in reader.iter_jpegs(0, n, per_read=256):
        pass
    out["HDF5 blob read + NRBF unwrap"] = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for j in jpegs:
        exif_stamp(j)
    out["EXIF stamp, scanstack APP1 parser"] = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for j in jpegs:
        Image.open(io.BytesIO(j)).getexif().get_ifd(0x8769)[0x9003]
    out["EXIF stamp, Pillow getexif"] = n / (time.perf_counter() - t)
    t = time.perf_counter()
    for j in jpegs:
        np.asarray(Image.open(io.BytesIO(j)).convert("RGB"))
    out["decode, Pillow, 1 thread"] = n / (time.perf_counter() - t)
    buf = np.zeros((256, *reader.signal_shape), np.uint8)
    for threads in sorted({1, config.threads()}):
        t = time.perf_counter()
        for a in range(0, n, 256):
            part = jpegs[a : a + 256]
            decode_many(part, reader.full_shape, 1, buf[: len(part)], threads)
        out[f"decode, {available_backend()}, {threads} thread(s)"] = n / (time.perf_counter() - t)
    small = np.zeros((256, 27, 36, 3), np.uint8)
    t = time.perf_counter()
    for a in range(0, n, 256):
        part = jpegs[a : a + 256]
        decode_many(part, reader.full_shape, 4, small[: len(part)], config.threads())
    out[f"decode at 1/4 size, {available_backend()}, {config.threads()} thread(s)"] = n / (
        time.perf_counter() - t
    )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="~1,100 frames instead of ~10,000")
    ap.add_argument("--file", help="use this CRONO file (generated if it does not exist)")
    args = ap.parse_args(argv)
    tmpdir = None
    path = args.file
    if path is None:
        tmpdir = tempfile.TemporaryDirectory(prefix="bench-crono-")
        path = os.path.join(tmpdir.name, "synthetic.HDF5")
    if not os.path.exists(path):
        make_file(path, args.quick)
    try:
        stack = open_frames(path)
        reader = stack.reader
        track = ScanTrack.from_file(path)
        n = reader.nframes
        print(
            f"{n} frames of {reader.full_shape[1]}x{reader.full_shape[0]} px; "
            f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}; scanstack threads={config.threads()}; "
            f"backend={available_backend()}"
        )
        for name, rate in stage_rates(reader, min(n, 3000)).items():
            print(f"  {name:<52s} {rate:10,.0f} frames/s")
        # warm-up (file cache, thread pool); then the two pipelines alternate, best of 3 each,
        # so that a change in the machine's load hits both alike
        scanstack_pipeline(reader, track)
        wall = {"pillow": [], "scanstack": []}
        cpu = {"pillow": [], "scanstack": []}
        stamps = {}
        for _ in range(3):
            for name, run in (("pillow", pillow_pipeline), ("scanstack", scanstack_pipeline)):
                c0 = time.process_time()
                dt, stamps[name] = run(reader, track)
                cpu[name].append(time.process_time() - c0)
                wall[name].append(dt)
        t_pil, t_ss = min(wall["pillow"]), min(wall["scanstack"])
        st_pil, st_ss = stamps["pillow"], stamps["scanstack"]
        if not np.array_equal(st_pil, st_ss):
            print("ERROR: the two pipelines read different EXIF stamps", file=sys.stderr)
            return 1
        summary = place_frames(st_ss, track).summary()
        c_pil, c_ss = min(cpu["pillow"]), min(cpu["scanstack"])
        print(f"whole pipeline (read, decode, EXIF, place {n} frames), best of 3:")
        print(
            f"  Pillow loop       {n / t_pil:10,.0f} frames/s  ({t_pil:.2f} s wall, "
            f"{c_pil / n * 1e6:.0f} µs CPU per frame)"
        )
        print(
            f"  scanstack         {n / t_ss:10,.0f} frames/s  ({t_ss:.2f} s wall, "
            f"{c_ss / n * 1e6:.0f} µs CPU per frame, all threads)"
        )
        print(
            f"  ratio             {t_pil / t_ss:10.1f} x wall clock (goal >= 4x); "
            f"{c_pil / c_ss:.1f} x less CPU"
        )
        print(f"frames per spectrum {summary['frames_per_spectrum']:.2f}: {summary['explanation']}")
    finally:
        if tmpdir is not None:
            tmpdir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""hexrd formats: scanstack's writers and readers against hexrd's per-frame method, in one run.

Data as in the hexrd notes' baseline: 60 frames of 2048 x 2048 uint16, Poisson(2) noise with ~1 %
bright pixels, threshold 10. The reference ("per-frame") is hexrd's algorithm re-done with plain
numpy/h5py in this script: threshold each frame, then one ``np.savez_compressed`` of every array
(npz); ``ds[i] = frame`` / ``ds[i]`` frame by frame (hdf5 write / read); ``np.load`` + dense
rebuild per frame (frame-cache read). Whole reads are also timed against h5py's own read of the
whole dataset (``ds[()]``), gzip and plain (contiguous, uncompressed).
hexrd's own times from the notes (2 cores) are printed beside for orientation, and a memory copy
of the dense data gives the machine's floor.

Usage: ``python benchmarks/bench_hexrd_formats.py [--quick] [--frames N]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import warnings

import h5py
import numpy as np

import scanstack
from _common import h5py_read as h5py_whole_read
from _common import load, per_frame_npz_read, timed
from _common import per_frame_npz_write as per_frame_npz

HEXRD_NOTES_S = {
    "npz write": 1.8,
    "fch5 write": 1.4,
    "hdf5 write (gzip 1)": 9.2,
    "frame-cache full read": 0.33,
}


def make_data(n: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    data = rng.poisson(2, (n, size, size)).astype(np.uint16)
    hot = rng.random((n, size, size)) < 0.01
    data[hot] = rng.integers(100, 4000, int(hot.sum()), dtype=np.uint16)
    return data


def per_frame_h5(data: np.ndarray, path: str) -> None:
    with h5py.File(path, "w") as f:
        ds = f.create_group("imageseries").create_dataset(
            "images",
            shape=data.shape,
            dtype=data.dtype,
            chunks=(1, *data.shape[1:]),
            compression="gzip",
            compression_opts=1,
            shuffle=True,
        )
        for i, frame in enumerate(data):
            ds[i] = frame


def per_frame_h5_read(path: str) -> np.ndarray:
    with h5py.File(path) as f:
        ds = f["imageseries/images"]
        return np.stack([ds[i] for i in range(ds.shape[0])])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="20 frames of 1024 x 1024")
    ap.add_argument("--frames", type=int, default=None)
    args = ap.parse_args()
    n = args.frames or (20 if args.quick else 60)
    size = 1024 if args.quick else 2048
    data = make_data(n, size)
    stack = scanstack.Stack.from_array(data)
    print(
        f"{n} frames of {size}x{size} uint16 ({data.nbytes / 1e6:.0f} MB), "
        f"{os.cpu_count()} cores, threshold 10"
    )
    rows = []

    def save(name, fmt, **kw):
        return lambda: scanstack.save(stack, f"{tmp}/{name}", fmt, overwrite=True, **kw)

    def read(path, fmt=None):
        return lambda: scanstack.open(f"{tmp}/{path}", fmt).to_numpy()

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (t_copy, _), _ = timed(lambda: data.copy())
        print(
            f"machine floor: memory copy of the dense data {t_copy:.3f} s "
            f"({data.nbytes / t_copy / 1e9:.1f} GB/s); {load()}"
        )
        ref, _ = timed(lambda: per_frame_npz(data, f"{tmp}/ref.npz", 10), 1)
        ours, _ = timed(save("ss.npz", "frame-cache", threshold=10))
        rows.append(("npz write", ours, ref))
        ref5, _ = timed(save("one.fch5", "frame-cache", threshold=10, style="fch5", threads=1))
        ours5, _ = timed(save("ss.fch5", "frame-cache", threshold=10, style="fch5"))
        rows.append(("fch5 write", ours5, ref5))
        refh, _ = timed(lambda: per_frame_h5(data, f"{tmp}/ref.h5"), 1)
        oursh, _ = timed(save("ss.h5", "hdf5", path="imageseries"), 1)
        rows.append(("hdf5 write (gzip 1)", oursh, refh))
        refhr, _ = timed(lambda: per_frame_h5_read(f"{tmp}/ss.h5"), 1)
        ourshr, backh = timed(read("ss.h5", "hdf5"))
        assert np.array_equal(backh, data)
        rows.append(("hdf5 full read", ourshr, refhr))
        refhw, _ = timed(lambda: h5py_whole_read(f"{tmp}/ss.h5"))
        rows.append(("hdf5 read vs h5py ds[()]", ourshr, refhw))
        with h5py.File(f"{tmp}/plain.h5", "w") as f:  # contiguous, uncompressed
            f.create_dataset("imageseries/images", data=data)
        refpw, _ = timed(lambda: h5py_whole_read(f"{tmp}/plain.h5"))
        ourspw, backp = timed(read("plain.h5", "hdf5"))
        assert np.array_equal(backp, data)
        rows.append(("plain hdf5 vs ds[()]", ourspw, refpw))
        refr, dense = timed(lambda: per_frame_npz_read(f"{tmp}/ref.npz"))
        oursr, back = timed(read("ss.npz"))
        assert np.array_equal(dense, back)
        rows.append(("frame-cache full read", oursr, refr))
        oursr5, back5 = timed(read("ss.fch5"))
        assert np.array_equal(dense, back5)
        rows.append(("fch5 full read", oursr5, refr))
        sizes = {k: os.path.getsize(f"{tmp}/{k}") / 1e6 for k in ("ref.npz", "ss.npz", "ss.fch5")}
    print(
        f"\n{'operation':22s} {'scanstack':>10s} {'per-frame':>10s} {'speed-up':>9s} "
        f"{'CPU s ours/ref':>15s} {'hexrd (notes)':>14s}"
    )
    for name, (wall, cpu), (rwall, rcpu) in rows:
        note = None if args.quick else HEXRD_NOTES_S.get(name)
        print(
            f"{name:22s} {wall:9.2f}s {rwall:9.2f}s {rwall / wall:8.1f}x "
            f"{cpu:7.2f}/{rcpu:<7.2f} {'' if note is None else f'{note:13.2f}s'}"
        )
    print("(fch5 write 'per-frame' column: scanstack with threads=1)")
    print(
        f"sizes: npz {sizes['ss.npz']:.1f} MB (reference {sizes['ref.npz']:.1f} MB), "
        f"fch5 {sizes['ss.fch5']:.1f} MB"
    )


if __name__ == "__main__":
    main()

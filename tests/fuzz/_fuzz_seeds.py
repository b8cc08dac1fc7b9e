"""The fuzz seeds: one small valid file of every readable format (see ``_fuzz_corpus``).

Seeds are written by scanstack's own writers (and the instrument simulators); a real Merlin file
from the shared data joins when it is available. Each seed is saved with the array it must read
back as (``<name>.truth.npy``) and lists the mutation kinds that apply to it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEED = 20261203

_BYTES = ("truncate", "flip", "smash", "grow")
_H5 = (*_BYTES, "h5", "bomb")
#: every seed and the mutations that apply to it (fixed, so pytest can list the mutants)
SEED_KINDS: dict[str, tuple[str, ...]] = {
    "hdf5": _H5,
    "frame-cache-npz": (*_BYTES, "chunk", "bomb"),
    "frame-cache-fch5": _H5,
    "frame-cache-yml": ("tree", "chunk", "bomb"),
    "image-files": ("tree", "chunk"),
    "tiff": _BYTES,
    "raw-image": ("tree", "chunk", "bomb"),
    "zarr": ("tree", "chunk", "bomb"),
    "mib": (*_BYTES, "tree"),
    "mib-real": _BYTES,
    "crono": _H5,
    "crono-exported": _H5,
    "nexus": _H5,
    "usid": _H5,
    "nsid": _H5,
    "eiger-stream-v1": _H5,
    "eiger-stream-v2": _H5,
}


#: the format each seed is opened with
SEED_FORMATS: dict[str, str] = {
    "hdf5": "hdf5",
    "frame-cache-npz": "frame-cache",
    "frame-cache-fch5": "frame-cache",
    "frame-cache-yml": "frame-cache",
    "image-files": "image-files",
    "tiff": "tiff",
    "raw-image": "raw-image",
    "zarr": "zarr",
    "mib": "mib",
    "mib-real": "mib",
    "crono": "crono",
    "crono-exported": "crono-exported",
    "nexus": "nexus",
    "usid": "usid",
    "nsid": "nsid",
    "eiger-stream-v1": "eiger-stream-v1",
    "eiger-stream-v2": "eiger-stream-v2",
}


@dataclass
class Seed:
    """A valid file (or folder) of one format and the data it must read back as."""

    name: str
    format: str
    path: str  # the file given to scanstack.open (inside ``root`` for multi-file seeds)
    root: str  # the file or folder that is copied and mutated
    truth: str  # .npy of the expected stack (nav_shape + signal_shape)
    kinds: tuple[str, ...]  # which mutations apply


# -- seeds -------------------------------------------------------------------------------------
def _images() -> np.ndarray:
    """6 frames of 16x12 uint16, sparse enough for a frame-cache (threshold 0)."""
    rng = np.random.default_rng(SEED)
    data = rng.integers(0, 900, (6, 16, 12)).astype(np.uint16)
    data[data < 500] = 0
    return data


def _spectra() -> np.ndarray:
    """A 3x4 map of 32-channel uint32 spectra."""
    rng = np.random.default_rng(SEED + 1)
    return rng.poisson(20, (3, 4, 32)).astype(np.uint32)


def _spectra_stack(data: np.ndarray):
    import scanstack
    from scanstack.core.axes import Axis

    axes = [
        Axis("y", 3, navigate=True, scale=1.0, units="mm"),
        Axis("x", 4, navigate=True, scale=1.0, units="mm"),
        Axis("Energy", 32, navigate=False, scale=0.1, offset=0.0, units="keV"),
    ]
    return scanstack.open(None, "array", data=data, signal_ndim=1, axes=axes)


def build_seeds(base: Path, shared_mib: Path | None = None) -> dict[str, Seed]:
    """Write every seed under ``base``; returns them by name."""
    import scanstack
    from scanstack.datasets import write_crono
    from scanstack.formats.mib.writer import write_mib

    base.mkdir(parents=True, exist_ok=True)
    seeds: dict[str, Seed] = {}
    images, spectra = _images(), _spectra()
    img_stack = scanstack.open(None, "array", data=images)

    def add(name, path, truth, root=None):
        np.save(base / f"{name}.truth.npy", truth)
        seeds[name] = Seed(
            name,
            SEED_FORMATS[name],
            os.fspath(path),
            os.fspath(root or path),
            os.fspath(base / f"{name}.truth.npy"),
            SEED_KINDS[name],
        )

    scanstack.save(img_stack, base / "hdf5.h5", "hdf5", path="imageseries")
    add("hdf5", base / "hdf5.h5", images)
    scanstack.save(img_stack, base / "fc.npz", "frame-cache", threshold=0)
    add("frame-cache-npz", base / "fc.npz", images)
    scanstack.save(img_stack, base / "fc.fch5", "frame-cache", threshold=0, style="fch5")
    add("frame-cache-fch5", base / "fc.fch5", images)
    yml_dir = base / "fc-yml"
    yml_dir.mkdir()
    shutil.copy(base / "fc.npz", yml_dir / "cache.npz")
    (yml_dir / "cache.yml").write_text(
        "data:\n  file: cache.npz\n  dtype: uint16\n  nframes: 6\n  shape: [16, 12]\n"
        "meta:\n  kind: fuzz\n"
    )
    add("frame-cache-yml", yml_dir / "cache.yml", images, yml_dir)
    seq_dir = base / "seq"
    seq_dir.mkdir()
    scanstack.save(img_stack, seq_dir / "frames.yml", "tiff")
    add("image-files", seq_dir / "frames.yml", images, seq_dir)
    scanstack.save(img_stack, base / "stack.tif", "tiff")
    add("tiff", base / "stack.tif", images)
    raw_dir = base / "raw"
    raw_dir.mkdir()
    (raw_dir / "frames.bin").write_bytes(b"\0" * 64 + images.astype("<u2").tobytes())
    (raw_dir / "frames.yml").write_text(
        "filename: frames.bin\nshape: 16 12\nskip: 64\n"
        "scalar: {type: i, bytes: 2, signed: false, endian: little}\n"
    )
    add("raw-image", raw_dir / "frames.yml", images, raw_dir)
    scanstack.save(img_stack, base / "stack.zarr", "zarr")
    add("zarr", base / "stack.zarr", images)

    mib_dir = base / "mib"
    mib_dir.mkdir()
    mib_frames = np.random.default_rng(SEED + 2).integers(0, 60, (4, 256, 256)).astype(np.uint8)
    write_mib(mib_dir / "scan.mib", mib_frames, depth=6, nav_shape=(2, 2))
    mib_truth = scanstack.open(mib_dir / "scan.mib").to_numpy()
    if not np.array_equal(mib_truth.reshape(mib_frames.shape), mib_frames):
        raise AssertionError("the mib seed does not read back as written")
    add("mib", mib_dir / "scan.mib", mib_truth, mib_dir)
    if shared_mib is not None and shared_mib.is_file():
        real = base / "real.mib"
        shutil.copy(shared_mib, real)
        os.chmod(real, 0o644)
        add("mib-real", real, scanstack.open(real).to_numpy())

    crono = base / "143000011120261-fuzz.HDF5"
    write_crono(crono, rows=3, columns=4, channels=64, images=False, seed=1)
    add("crono", crono, scanstack.open(crono, "crono").to_numpy())
    exported = base / "exported.HDF5"
    write_crono(exported, rows=3, columns=4, channels=64, images=False, seed=1, exported=True)
    add(
        "crono-exported",
        exported,
        scanstack.open(exported, "crono-exported").to_numpy(),
    )
    scanstack.save(img_stack, base / "eiger1.h5", "eiger-stream-v1", compression="bslz4")
    add("eiger-stream-v1", base / "eiger1.h5", images)
    scanstack.save(
        img_stack, base / "eiger2.h5", "eiger-stream-v2", compression="lz4", threshold_2=images // 2
    )
    add("eiger-stream-v2", base / "eiger2.h5", images)
    spec_stack = _spectra_stack(spectra)
    for fmt, name in (("nexus", "map.nxs"), ("usid", "map.h5"), ("nsid", "map-nsid.h5")):
        scanstack.save(spec_stack, base / name, fmt)
        add(fmt, base / name, spectra)
    return seeds


def readable_file_formats() -> set[str]:
    """Registered formats that read files of their own.

    Left out: ``array`` and ``function`` (no file), formats opened by URL scheme (``merlin://``:
    a TCP stream, fuzzed by ``tests/live/test_faults.py``) and the ``rsciio`` fallback, whose
    decoding is RosettaSciIO's own (its exceptions are translated by ``errors.DECODER_PACKAGES``;
    mutating its many formats is not done here).
    """
    import scanstack

    return {
        name
        for name, spec in scanstack.formats().items()
        if spec.can_read and not spec.schemes and name not in ("array", "function", "rsciio")
    }

"""Tiny files that claim huge sizes (issue 8, item 4), written for the tests.

Each builder writes a file of a few KB (or hundreds of KB) whose header, shape or zip directory
claims gigabytes: reading what it claims would allocate in proportion to the claim.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np

GiB = 1 << 30


def hdf5_unwritten_frame(folder: Path) -> Path:
    """hexrd hdf5: one 65536 x 65536 uint16 frame (8 GiB), gzip chunks, none written."""
    path = folder / "unwritten.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "imageseries/images",
            shape=(1, 65536, 65536),
            dtype=np.uint16,
            chunks=(1, 256, 65536),
            compression="gzip",
        )
    return path


def framecache_huge_frame(folder: Path) -> Path:
    """An npz frame-cache whose header claims 65535 x 65535 uint16 frames (8 GiB each)."""
    path = folder / "huge.npz"
    arrays = {
        "shape": np.array([65535, 65535]),
        "nframes": np.array(2),
        "dtype": np.array(b"uint16"),
    }
    for i in range(2):
        arrays[f"{i}_row"] = np.array([3, 70000 - 5000], np.uint16)
        arrays[f"{i}_col"] = np.array([4, 9], np.uint16)
        arrays[f"{i}_data"] = np.array([7, 8], np.uint16)
    np.savez_compressed(path, **arrays)
    return path


def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    """The magic string and header of a .npy file (as numpy writes them)."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def npz_bomb(folder: Path, member: str, nbytes: int) -> Path:
    """A valid 2-frame 64 x 64 npz frame-cache plus ``member`` holding ``nbytes`` zero bytes
    (a ~1000:1 deflate bomb: 256 MiB take 250 KB)."""
    path = folder / f"bomb-{member}.npz"
    frames = {
        "shape": np.array([64, 64]),
        "nframes": np.array(2),
        "dtype": np.array(b"uint8"),
    }
    for i in range(2):
        frames[f"{i}_row"] = np.array([1], np.uint16)
        frames[f"{i}_col"] = np.array([2], np.uint16)
        frames[f"{i}_data"] = np.array([3], np.uint8)
    frames.pop(member, None)
    np.savez_compressed(path, **frames)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open(member + ".npy", "w", force_zip64=True) as fh:
            fh.write(_npy_header((nbytes,), "u1"))
            zeros = bytes(1 << 22)
            for _ in range(nbytes // len(zeros)):
                fh.write(zeros)
    return path


def crono_file(folder: Path, name: str) -> Path:
    from scanstack.datasets import write_crono

    path = folder / name
    write_crono(path, rows=4, columns=5, channels=256, ramp=1, images=False)
    return path


def crono_huge_index(folder: Path) -> Path:
    """CRONO: /XRF/SpectraSelectedIndex claims 65536 x 65536 pixels (32 GiB of uint64), unwritten."""
    path = crono_file(folder, "huge-index.h5")
    with h5py.File(path, "a") as f:
        del f["XRF/SpectraSelectedIndex"]
        f.create_dataset(
            "XRF/SpectraSelectedIndex",
            shape=(65536, 65536, 1),
            dtype=np.uint64,
            chunks=(256, 256, 1),
        )
    return path


def crono_huge_spectra(folder: Path) -> Path:
    """CRONO: /XRF/Spectra claims 2**31 spectra (1 TiB), unwritten, with per-spectrum tables of
    the same length (also unwritten)."""
    path = crono_file(folder, "huge-spectra.h5")
    n = 1 << 31
    with h5py.File(path, "a") as f:
        channels = f["XRF/Spectra"].shape[1]
        per = [k for k in f["XRF"] if isinstance(f["XRF"][k], h5py.Dataset)]
        lengths = {k: f["XRF"][k].shape for k in per}
        spectra = f["XRF/Spectra"].shape[0]
        for k, shape in lengths.items():
            if k == "Spectra" or (shape[:1] == (spectra,) and k != "SpectraSelectedIndex"):
                dtype = f["XRF"][k].dtype
                rest = (channels,) if k == "Spectra" else tuple(shape[1:])
                del f["XRF"][k]
                f["XRF"].create_dataset(k, shape=(n, *rest), dtype=dtype, chunks=(4096, *rest))
    return path


def copy(src: Path, folder: Path) -> Path:
    out = folder / src.name
    shutil.copy(src, out)
    return out

"""Helpers of the 4D-STEM tests: the numpy reference check, and readers of memory-mapped frames
with header gaps and of bit-packed raw frames with a pixel permutation (module-level so that
dask.distributed workers can unpickle them).
"""

from __future__ import annotations

import numpy as np

from scanstack import stem
from scanstack.core.reader import Reader, crop

RNG = np.random.default_rng(7)


def make_frames(shape, dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return RNG.random(shape) < 0.3
    if dtype.kind == "f":
        return (RNG.random(shape) * 1000 - 100).astype(dtype)
    hi = {1: 200, 2: 4095, 4: 1 << 24, 8: 1 << 40}[dtype.itemsize]
    lo = -hi if dtype.kind == "i" else 0
    return RNG.integers(lo, hi, shape).astype(dtype)


def detectors(shape):
    rows, cols = shape
    c = ((rows - 1) / 2, (cols - 1) / 2)
    yy, xx = np.mgrid[:rows, :cols]
    return [
        stem.disk_mask(shape, c, min(rows, cols) / 4),
        stem.ring_mask(shape, c, min(rows, cols) / 4, min(rows, cols) / 2),
        np.sin(yy / 3.0) * np.cos(xx / 5.0),  # arbitrary real weights
    ]


def numpy_virtual(data, masks, nsig=2):
    d = np.asarray(data, dtype=np.float64)
    return np.stack([np.tensordot(d, m, axes=nsig) for m in masks])


def check_all(stack, dense, **kwargs):
    """Every tool on ``stack`` equals numpy on ``dense`` (nav + (rows, cols))."""
    nav_axes = tuple(range(dense.ndim - 2))
    sig = dense.shape[-2:]
    total = stem.sum_pattern(stack, **kwargs)
    expect = dense.sum(axis=nav_axes)
    if dense.dtype.kind == "f":
        np.testing.assert_allclose(total, expect, rtol=1e-5)
        assert total.dtype == np.float64
    else:
        np.testing.assert_array_equal(total, expect)
        assert total.dtype == expect.dtype
    mx = stem.max_pattern(stack, **kwargs)
    np.testing.assert_array_equal(mx, dense.max(axis=nav_axes))
    assert mx.dtype == dense.dtype.newbyteorder("=")
    masks = detectors(sig)
    vi = stem.virtual_images(stack, masks, **kwargs)
    assert vi.shape == (3, *dense.shape[:-2])
    np.testing.assert_allclose(vi, numpy_virtual(dense, masks), rtol=1e-9, atol=1e-6)
    c = ((sig[0] - 1) / 2, (sig[1] - 1) / 2)
    r = min(sig) / 4
    bf = stem.virtual_bright_field(stack, c, r, **kwargs)
    np.testing.assert_allclose(bf, numpy_virtual(dense, [stem.disk_mask(sig, c, r)])[0], atol=1e-6)
    adf = stem.virtual_annular_dark_field(stack, c, r, 2 * r, **kwargs)
    ring = stem.ring_mask(sig, c, r, 2 * r)
    np.testing.assert_allclose(adf, numpy_virtual(dense, [ring])[0], rtol=1e-9, atol=1e-6)
    com = stem.center_of_mass(stack, **kwargs)
    d = dense.astype(np.float64)
    s0 = d.sum(axis=(-2, -1))
    yy, xx = np.mgrid[: sig[0], : sig[1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        expect_com = np.stack([(d * yy).sum(axis=(-2, -1)) / s0, (d * xx).sum(axis=(-2, -1)) / s0])
    expect_com[:, s0 == 0] = np.nan
    np.testing.assert_allclose(com, expect_com, rtol=1e-9, atol=1e-9)


def write_gapped(path, frames: np.ndarray, dtype, header: int = 384) -> None:
    """Frames ``(n, rows, cols)`` stored as ``dtype`` after ``header`` bytes each (like ``.mib``)."""
    n, rows, cols = frames.shape
    rec = np.dtype([("h", f"S{header}"), ("d", dtype, (rows, cols))])
    out = np.zeros(n, rec)
    out["h"] = b"HEADER"
    out["d"] = frames
    out.tofile(path)


class GappedMemmapReader(Reader):
    """Reads :func:`write_gapped` files through one ``np.memmap``; ``as_array`` is a strided view.

    ``flip`` reverses the rows (a negative-stride view, like the Merlin reader's default).
    ``read`` returns the file's dtype (big-endian stays big-endian).
    """

    format_name = "test-gapped"

    def __init__(self, source, *, nav_shape, signal_shape, dtype, header=384, flip=False):
        super().__init__(
            source,
            nav_shape=nav_shape,
            signal_shape=signal_shape,
            dtype=dtype,
            header=header,
            flip=flip,
        )
        rec = np.dtype([("h", f"V{header}"), ("d", dtype, tuple(signal_shape))])
        self._mm = np.memmap(source, rec, "r")
        self.nav_shape = tuple(nav_shape)
        self.signal_shape = tuple(signal_shape)
        self.dtype = np.dtype(dtype)
        self.flip = flip

    def as_array(self):
        view = self._mm["d"]
        return view[:, ::-1] if self.flip else view

    def read(self, start, stop, region=None):
        return np.array(crop(self.as_array()[start:stop], region))


def permutation(npix: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).permutation(npix)


class PackedReader(Reader):
    """Raw frames whose pixels are stored as lanes in a shuffled order (``as_packed``).

    Frame pixel ``perm[q]`` is stored in lane ``q``; lanes are 1-bit (LSB-first in bytes), ``u1``
    or ``>u2``. ``gap`` extra columns on the right of every frame are not stored (always 0).
    """

    format_name = "test-packed"

    def __init__(self, source, *, nav_shape, stored_shape, lanes, gap=0, header=256, seed=3):
        super().__init__(
            source,
            nav_shape=nav_shape,
            stored_shape=stored_shape,
            lanes=lanes,
            gap=gap,
            header=header,
            seed=seed,
        )
        rows, cols = stored_shape
        self.perm = permutation(rows * cols, seed)
        self.lanes, self.gap, self.stored_shape = lanes, gap, tuple(stored_shape)
        nbytes = rows * cols // 8 if lanes == "bits" else rows * cols * np.dtype(lanes).itemsize
        rec = np.dtype([("h", f"V{header}"), ("d", np.uint8, (nbytes,))])
        self._mm = np.memmap(source, rec, "r")
        self.nav_shape = tuple(nav_shape)
        self.signal_shape = (rows, cols + gap)
        self.dtype = np.dtype(np.uint8 if lanes in ("bits", "u1") else np.uint16)

    @staticmethod
    def encode(frames: np.ndarray, lanes, perm) -> np.ndarray:
        """Frames ``(n, rows, cols)`` (without gap columns) -> payloads ``(n, nbytes)``."""
        n = frames.shape[0]
        values = frames.reshape(n, -1)[:, perm]
        if lanes == "bits":
            return np.packbits(values.astype(np.uint8), axis=1, bitorder="little")
        return np.ascontiguousarray(values.astype(lanes)).view(np.uint8).reshape(n, -1)

    def decode(self, block: np.ndarray) -> np.ndarray:
        n = block.shape[0]
        rows, cols = self.stored_shape
        if self.lanes == "bits":
            values = np.unpackbits(block, axis=1, bitorder="little")
        else:
            values = np.ascontiguousarray(block).view(self.lanes).astype(self.dtype)
        flat = np.empty_like(values)
        flat[:, self.perm] = values
        out = np.zeros((n, rows, cols + self.gap), self.dtype)
        out[:, :, :cols] = flat.reshape(n, rows, cols)
        return out

    def as_packed(self):
        return {"data": self._mm["d"], "lanes": self.lanes, "decode": self.decode}

    def read(self, start, stop, region=None):
        return crop(self.decode(np.ascontiguousarray(self._mm["d"][start:stop])), region)


def write_packed(path, frames: np.ndarray, lanes, header=256, seed=3) -> None:
    n, rows, cols = frames.shape
    payload = PackedReader.encode(frames, lanes, permutation(rows * cols, seed))
    rec = np.dtype([("h", f"S{header}"), ("d", np.uint8, (payload.shape[1],))])
    out = np.zeros(n, rec)
    out["h"] = b"RAWHEADER"
    out["d"] = payload
    out.tofile(path)

"""Readers used by the 4D-STEM tests: memory-mapped frames with header gaps, and bit-packed raw
frames with a pixel permutation. Module-level so that dask.distributed workers can unpickle them.
"""

from __future__ import annotations

import numpy as np

from scanstack.core.reader import Reader, crop


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

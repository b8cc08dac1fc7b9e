"""The per-frame codecs of DECTRIS stream frames: ``lz4``, ``bslz4``, ``csrnpz`` and none.

Byte layouts (as DECTRIS' stream and ``dectris-compression`` use them):

- ``lz4``: the HDF5 LZ4 filter's chunk: 8 bytes big-endian uncompressed size, 4 bytes
  big-endian block size, then per block 4 bytes big-endian compressed size and the LZ4 block
  (stored raw when it did not shrink);
- ``bslz4``: the bitshuffle HDF5 filter's chunk: 8 bytes big-endian uncompressed size, 4 bytes
  big-endian block size in bytes, then per block 4 bytes big-endian size and the LZ4-compressed
  bit-transposed block of ``elem_size``-byte elements;
- ``csrnpz``: 8 bytes big-endian uncompressed size, then ``scipy.sparse.save_npz`` of the frame
  as a CSR matrix (a zip of ``.npy`` members; loaded without pickle);
- none (``compression_type`` ``"none"``, empty or absent): the raw bytes of the frame.

``lz4`` and ``bslz4`` are decoded and encoded by the HDF5 filters that ``hdf5plugin`` (a core
dependency) ships: the bytes are one chunk of a dataset in an in-memory HDF5 file
(``read_direct_chunk`` / ``write_direct_chunk``), so ``dectris-compression`` is not needed.
Sizes are checked before decoding: a frame never allocates more than its shape says, and the
shape never more than LZ4 can expand what is stored (255:1).
"""

from __future__ import annotations

import io
import threading
from typing import Any

import numpy as np

COMPRESSIONS = ("bslz4", "lz4", "csrnpz", "none")
#: LZ4 cannot expand data by more than 255:1 (plus a few header bytes per block)
MAX_RATIO = 256
HEADER = 12


class CodecError(ValueError):
    """Bytes that do not decode to the frame their entry describes (callers add file/entry)."""


def _filter(compression: str) -> Any:
    import hdf5plugin

    if compression == "lz4":
        return hdf5plugin.LZ4()
    return hdf5plugin.Bitshuffle(cname="lz4")


class _MemoryH5(threading.local):
    """One in-memory HDF5 file per thread, with one dataset per (filter, dtype, length)."""

    def __init__(self) -> None:
        self.file = None
        self.datasets: dict[tuple, Any] = {}

    def dataset(self, compression: str, dtype: np.dtype, n: int):
        key = (compression, dtype.str, n)
        ds = self.datasets.get(key)
        if ds is None:
            import h5py

            if self.file is None:
                name = f"scanstack-eiger-{id(self)}-{threading.get_ident()}"
                self.file = h5py.File(name, "w", driver="core", backing_store=False)
            if len(self.datasets) > 16:  # frames of many sizes: start afresh
                for old in list(self.file):
                    del self.file[old]
                self.datasets.clear()
            ds = self.file.create_dataset(
                str(len(self.file)), shape=(n,), dtype=dtype, chunks=(n,), **_filter(compression)
            )
            self.datasets[key] = ds
        return ds


_local = _MemoryH5()


def _element_dtype(elem_size: int) -> np.dtype:
    if elem_size not in (1, 2, 4, 8):
        raise CodecError(f"elem_size must be 1, 2, 4 or 8 bytes, found {elem_size}")
    return np.dtype(f"<u{elem_size}")


def stored_size(data: bytes) -> int:
    """The uncompressed size in the 8-byte big-endian header of lz4/bslz4/csrnpz bytes."""
    if len(data) < 8:
        raise CodecError(f"expected at least an 8-byte size header, found {len(data)} bytes")
    return int.from_bytes(data[:8], "big")


def decode(
    data: bytes, compression: str | None, dtype: np.dtype, shape: tuple[int, ...], elem_size: int
) -> np.ndarray:
    """The frame ``(shape)`` of ``dtype`` held in ``data`` compressed with ``compression``."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    kind = (compression or "none").lower()
    if kind == "none":
        if len(data) != nbytes:
            raise CodecError(
                f"uncompressed frame of {shape} {dtype} needs {nbytes} bytes, found {len(data)}"
            )
        return np.frombuffer(data, dtype).reshape(shape)
    if kind not in COMPRESSIONS:
        raise CodecError(
            f"Unsupported compression type: {compression} (expected one of "
            f"{', '.join(COMPRESSIONS)})"
        )
    claimed = stored_size(data)
    if claimed != nbytes:
        raise CodecError(
            f"{kind} header says {claimed} uncompressed bytes; a {shape} {dtype} frame has {nbytes}"
        )
    if kind == "csrnpz":
        return _decode_csrnpz(data[8:], dtype, shape)
    if len(data) < HEADER or nbytes > MAX_RATIO * len(data) + 4096:
        raise CodecError(
            f"{len(data)} {kind} bytes cannot hold a {shape} {dtype} frame ({nbytes} bytes)"
        )
    if nbytes == 0:
        return np.empty(shape, dtype)
    edtype = _element_dtype(elem_size) if kind == "bslz4" else np.dtype(np.uint8)
    if nbytes % edtype.itemsize:
        raise CodecError(f"{nbytes} bytes are not a whole number of {elem_size}-byte elements")
    ds = _local.dataset(kind, edtype, nbytes // edtype.itemsize)
    try:
        ds.id.write_direct_chunk((0,), data)
        flat = ds[()]
    except (OSError, ValueError, RuntimeError) as exc:
        raise CodecError(f"{kind} bytes do not decode (corrupt?): {exc}") from exc
    return flat.view(np.uint8).view(dtype).reshape(shape)


def _decode_csrnpz(payload: bytes, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    import zipfile

    from scipy.sparse import load_npz

    try:
        matrix = load_npz(io.BytesIO(payload))  # np.load(allow_pickle=False) inside
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
        raise CodecError(f"csrnpz bytes are not a scipy sparse .npz: {exc}") from exc
    if tuple(matrix.shape) != tuple(shape):
        raise CodecError(f"csrnpz matrix has shape {matrix.shape}, the entry says {shape}")
    return matrix.toarray().astype(dtype, copy=False)


def encode(frame: np.ndarray, compression: str) -> bytes:
    """``frame`` compressed as DECTRIS stores it (``bslz4``, ``lz4``, ``csrnpz`` or ``none``)."""
    frame = np.ascontiguousarray(frame)
    if compression == "none":
        return frame.tobytes()
    size = frame.nbytes.to_bytes(8, "big")
    if compression == "csrnpz":
        from scipy.sparse import csr_array, save_npz

        buf = io.BytesIO()
        buf.write(size)
        # scipy.sparse holds native byte order only; the values are the same
        save_npz(buf, csr_array(frame.astype(frame.dtype.newbyteorder("="), copy=False)))
        return buf.getvalue()
    if compression not in COMPRESSIONS:
        raise CodecError(
            f"compression must be one of {', '.join(COMPRESSIONS)}, not {compression!r}"
        )
    if frame.nbytes == 0:
        return size + b"\x00\x00\x00\x00"
    raw = frame.reshape(-1).view(np.uint8)
    # bitshuffle transposes bits within elem_size-byte elements; only the size matters
    flat = raw.view(_element_dtype(frame.dtype.itemsize)) if compression == "bslz4" else raw
    ds = _local.dataset(compression, flat.dtype, flat.size)
    ds[...] = flat
    return bytes(ds.id.read_direct_chunk((0,))[1])

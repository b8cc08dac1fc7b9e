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

``lz4`` and ``bslz4`` are decoded by the LZ4 and bitshuffle code that ``hdf5plugin`` (a core
dependency) ships, called through ctypes (no GIL, no h5py lock: frames decode in parallel
threads); where those functions cannot be loaded, and for encoding, the bytes are one chunk of a
dataset in an in-memory HDF5 file with hdf5plugin's filter (``write_direct_chunk`` /
``read_direct_chunk``). ``dectris-compression`` is not needed. Checked before decoding: a frame
never allocates more than its shape says, the shape never more than LZ4 can expand what is
stored (255:1), and every block lies inside the bytes.
"""

from __future__ import annotations

import functools
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
    data: bytes,
    compression: str | None,
    dtype: np.dtype,
    shape: tuple[int, ...],
    elem_size: int,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The frame ``(shape)`` of ``dtype`` held in ``data`` compressed with ``compression``;
    decoded straight into ``out`` (a C-contiguous array of that shape and dtype) when given."""
    dtype = np.dtype(dtype)
    if out is not None and (out.shape != tuple(shape) or out.dtype != dtype):
        raise ValueError(f"out is {out.shape} {out.dtype}, the frame {tuple(shape)} {dtype}")
    frame = _decode(data, compression, dtype, tuple(shape), elem_size, out)
    if out is None:
        return frame
    if frame is not out:
        out[...] = frame
    return out


def _decode(data, compression, dtype, shape, elem_size, out) -> np.ndarray:
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
    # every block must lie inside the bytes before a filter reads them: the C decoders trust
    # the block lengths they find (an overrun would read past the buffer)
    blocks = (
        _bslz4_blocks(data, nbytes, elem_size) if kind == "bslz4" else _lz4_blocks(data, nbytes)
    )
    target = out if out is not None and out.flags.c_contiguous else np.empty(shape, dtype)
    flat = target.reshape(-1).view(np.uint8)
    native = _native()
    if native is not None:
        native.decode(kind, data, flat, blocks, elem_size)
    else:
        _decode_with_hdf5(kind, data, flat, edtype)
    return target


def _be(data: bytes, pos: int, size: int) -> int:
    return int.from_bytes(data[pos : pos + size], "big")


def _lz4_blocks(data: bytes, nbytes: int) -> list[tuple[int, int, int]]:
    """``(offset, stored, expected)`` of every block of HDF5-LZ4 bytes, checked to lie inside
    ``data`` and to add up to ``nbytes``; ``stored == expected`` marks a block stored raw."""
    block = _be(data, 8, 4)
    if block <= 0:
        raise CodecError(f"lz4 block size is {block}")
    pos, done, out = HEADER, 0, []
    while done < nbytes:
        expected = min(block, nbytes - done)
        stored = _be(data, pos, 4) if pos + 4 <= len(data) else -1
        if stored < 0 or pos + 4 + stored > len(data):
            raise CodecError(
                f"lz4 block at byte {pos} runs past the end of the {len(data)} bytes (truncated?)"
            )
        out.append((pos + 4, stored, expected))
        pos, done = pos + 4 + stored, done + expected
    if pos != len(data):
        raise CodecError(f"lz4 bytes end at {pos} of {len(data)}: trailing data")
    return out


def _bslz4_blocks(data: bytes, nbytes: int, elem_size: int) -> list[tuple[int, int, int]]:
    """The same for bitshuffle-LZ4 bytes: full blocks, one last block of a multiple of 8
    elements, then the ``< 8`` trailing elements stored raw."""
    block_bytes = _be(data, 8, 4)
    if block_bytes <= 0 or block_bytes % (8 * elem_size):
        raise CodecError(
            f"bslz4 block size {block_bytes} bytes is not a multiple of 8 {elem_size}-byte elements"
        )
    nelem, block = nbytes // elem_size, block_bytes // elem_size
    sizes = [block] * (nelem // block)
    if (nelem % block) // 8:
        sizes.append((nelem % block) // 8 * 8)
    pos, out = HEADER, []
    for n in sizes:
        stored = _be(data, pos, 4) if pos + 4 <= len(data) else -1
        if stored < 0 or pos + 4 + stored > len(data):
            raise CodecError(
                f"bslz4 block at byte {pos} runs past the end of the {len(data)} bytes (truncated?)"
            )
        out.append((pos + 4, stored, n * elem_size))
        pos += 4 + stored
    if pos + (nelem % 8) * elem_size != len(data):
        raise CodecError(
            f"bslz4 blocks end at byte {pos}; with {nelem % 8} raw trailing elements the bytes "
            f"should be {pos + (nelem % 8) * elem_size} long, not {len(data)}"
        )
    return out


class _NativeCodecs:
    """hdf5plugin's own LZ4 and bitshuffle functions called through ctypes: the same code as
    its HDF5 filters, without h5py's global lock (ctypes releases the GIL, so the reader's
    threads decode in parallel)."""

    def __init__(self, bshuf, lz4):
        import ctypes

        self.bshuf = bshuf.bshuf_decompress_lz4
        self.bshuf.restype = ctypes.c_int64
        self.bshuf.argtypes = [ctypes.c_void_p, ctypes.c_void_p] + [ctypes.c_size_t] * 3
        self.lz4 = lz4.LZ4_decompress_safe
        self.lz4.restype = ctypes.c_int
        self.lz4.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int]

    def decode(self, kind: str, data: bytes, out: np.ndarray, blocks, elem_size: int) -> None:
        src = np.frombuffer(data, np.uint8)
        if kind == "bslz4":
            block = _be(data, 8, 4) // elem_size
            used = self.bshuf(
                src.ctypes.data + HEADER, out.ctypes.data, out.size // elem_size, elem_size, block
            )
            if used != len(data) - HEADER:
                raise CodecError(f"bslz4 bytes do not decode (corrupt?): bitshuffle said {used}")
            return
        done = 0
        for offset, stored, expected in blocks:
            if stored == expected:  # a block that did not shrink is stored as it is
                out[done : done + expected] = src[offset : offset + stored]
            else:
                got = self.lz4(src.ctypes.data + offset, out.ctypes.data + done, stored, expected)
                if got != expected:
                    raise CodecError(
                        f"lz4 block at byte {offset - 4} does not decode to {expected} bytes "
                        f"(corrupt?): LZ4 said {got}"
                    )
            done += expected


@functools.cache
def _native() -> _NativeCodecs | None:
    """hdf5plugin's codec functions, or None where they cannot be loaded (then each frame goes
    through an in-memory HDF5 dataset)."""
    import ctypes
    import glob
    import os

    try:
        import hdf5plugin

        found = {}
        for name in ("h5bshuf", "h5lz4"):
            found[name] = ctypes.CDLL(
                glob.glob(os.path.join(hdf5plugin.PLUGIN_PATH, f"*{name}.*"))[0]
            )
        return _NativeCodecs(found["h5bshuf"], found["h5lz4"])
    except (ImportError, OSError, IndexError, AttributeError):
        return None


def _decode_with_hdf5(kind: str, data: bytes, out: np.ndarray, edtype: np.dtype) -> None:
    ds = _local.dataset(kind, edtype, out.size // edtype.itemsize)
    try:
        ds.id.write_direct_chunk((0,), data)
        ds.read_direct(out.view(edtype))
    except (OSError, ValueError, RuntimeError) as exc:
        raise CodecError(f"{kind} bytes do not decode (corrupt?): {exc}") from exc


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

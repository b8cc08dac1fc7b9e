"""Rows of ``/XRF/Spectra`` (spectra × channels) read along the dataset's chunks.

A CRONO file stores its spectra in HDF5 chunks of whole spectra (gzip). A map pixel's spectrum is
any row (``SpectraSelectedIndex``), so a block of map pixels is a set of rows, usually close in
acquisition order. :class:`SpectraRows` reads such a set a chunk at a time straight into the
caller's array: each chunk is decoded once per pass (the dataset keeps exactly one decoded chunk
in HDF5's chunk cache, so the next piece of rows finds the chunk it shares with this one), and
what a read holds beyond its result is bounded by the chunk size, whatever the number of rows
(:meth:`SpectraRows.overhead`, the reader's ``read_overhead``).
"""

from __future__ import annotations

import h5py
import numpy as np

from ...core.errors import FormatError

#: rows of one piece of an unchunked (contiguous) dataset: about this many bytes
PLAIN_PIECE_BYTES = 1 << 20
#: HDF5 chunk-cache hash slots of the spectra dataset (a prime; the cache holds one chunk)
CACHE_SLOTS = 521
#: bytes of index scratch per row of a piece: the rows (int64), a mask, the rows of one chunk
#: (int64) and their offsets (int64)
INDEX_BYTES_PER_ROW = 25


def with_chunk_cache(ds: h5py.Dataset, nbytes: int) -> h5py.Dataset:
    """``ds`` opened again with an HDF5 chunk cache of ``nbytes`` (instead of the file's)."""
    dapl = h5py.h5p.create(h5py.h5p.DATASET_ACCESS)
    dapl.set_chunk_cache(CACHE_SLOTS, max(1, int(nbytes)), 0.75)
    return h5py.Dataset(h5py.h5d.open(ds.file.id, ds.name.encode(), dapl=dapl))


class SpectraRows:
    """Rows (any order, repeats allowed) of a 2-D chunked or contiguous spectra dataset."""

    def __init__(self, ds: h5py.Dataset, path, where: str):
        self.path, self.where = path, where
        n, channels = ds.shape
        row_nbytes = max(1, channels * ds.dtype.itemsize)
        chunks = ds.chunks
        self.filtered = bool(chunks) and ds.id.get_create_plist().get_nfilters() > 0
        if chunks:
            self.rows_per_chunk = int(chunks[0])
            self.chunk_nbytes = int(chunks[0]) * int(chunks[1]) * ds.dtype.itemsize
            # one whole chunk, so that the piece after this one finds their shared chunk decoded
            self.ds = with_chunk_cache(ds, self.chunk_nbytes)
        else:
            self.rows_per_chunk = max(1, PLAIN_PIECE_BYTES // row_nbytes)
            self.chunk_nbytes = 0
            self.ds = ds
        self.slab_nbytes = min(n, self.rows_per_chunk) * row_nbytes

    def overhead(self, piece_rows: int) -> int:
        """Bytes a read of pieces of ``piece_rows`` rows holds beyond its result: the decoded
        chunk kept in the cache and its stored bytes (a compressed chunk is at most its size),
        one slab of rows of one chunk, and the piece's index arrays."""
        decoded = (2 if self.filtered else 1) * self.chunk_nbytes
        return decoded + self.slab_nbytes + INDEX_BYTES_PER_ROW * max(1, int(piece_rows))

    def read(self, key) -> np.ndarray:
        """``ds[key]``, a corrupt or truncated chunk reported as a :class:`FormatError`."""
        try:
            return self.ds[key]
        except OSError as exc:
            rows = key[0]
            what = (
                f"rows {rows.start}:{rows.stop}"
                if isinstance(rows, slice)
                else f"{len(rows)} rows from {rows[0]}"
            )
            raise FormatError(
                f"cannot read {what} of {self.where} ({exc})", self.path, self.where
            ) from None

    def range_into(self, start: int, stop: int, csl: slice, dest: np.ndarray) -> None:
        """Rows ``start:stop`` (channels ``csl``) into ``dest``, one chunk of rows at a time."""
        k = self.rows_per_chunk
        for a in range(start - start % k, stop, k):
            lo, hi = max(a, start), min(a + k, stop)
            dest[lo - start : hi - start] = self.read((slice(lo, hi), csl))

    def take_into(self, rows: np.ndarray, csl: slice, dest: np.ndarray) -> None:
        """Rows ``rows`` (1-D int64, any order, repeats allowed; one piece: the index arrays are
        in proportion to it) with channels ``csl`` into ``dest`` ``(rows.size, width)``.

        Rows near each other (a block of map pixels) are read as one slab per chunk they touch,
        in chunk order; rows spread thinly over the file are read as a point selection.
        """
        if rows.size == 0:
            return
        lo, hi = int(rows.min()), int(rows.max()) + 1
        if hi - lo > 2 * rows.size + 64:  # scattered: only those rows, in one sorted selection
            uniq, inverse = np.unique(rows, return_inverse=True)
            dest[...] = self.read((uniq, csl))[inverse.reshape(-1)]
            return
        k = self.rows_per_chunk
        for c0 in range(lo - lo % k, hi, k):
            inside = (rows >= c0) & (rows < c0 + k)
            got = rows[inside]
            if got.size == 0:
                continue  # no row of this chunk is wanted (ramps, unselected spectra)
            a = int(got.min())
            slab = self.read((slice(a, int(got.max()) + 1), csl))
            dest[inside] = slab[got - a]

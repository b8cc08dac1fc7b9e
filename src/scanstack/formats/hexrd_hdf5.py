"""hexrd's ``hdf5`` image series: frames in ``<path>/images`` (nframes, rows, cols), metadata in
the HDF5 attributes of the group ``<path>``.

Read::

    s = scanstack.open("scan.h5", "hdf5", path="imageseries")      # or an open h5py.File
    s.metadata["omega"]          # the group attributes, exactly as hexrd returns them

``path`` may be omitted when exactly one group of the file holds an ``images`` dataset.
Write (byte-compatible with hexrd's writer)::

    scanstack.save(stack, "out.h5", "hdf5", path="imageseries", gzip=1, shuffle=True,
                   chunk_rows=0, compression=None)

Metadata values hexrd cannot store (nested dicts, ``None``, lists of mixed types) are written as
JSON strings and their keys listed in the group attribute ``__scanstack_json__``; scanstack decodes
them on read, hexrd sees the JSON text. Plain ``str``/``int``/``float`` are accepted (hexrd needs a
``.dtype``); unicode numpy arrays are stored as bytes (``'S'``) like hexrd does.
"""

from __future__ import annotations

import json
import zlib

import numpy as np

from ..core.errors import FormatError
from ..core.reader import Reader, region_shape
from ..core.registry import FormatSpec, Probe
from ._h5chunks import FILTER_DEFLATE, FILTER_SHUFFLE, decode_chunk_into
from ._h5map import memmap_dataset
from ._hexrd import DatasetShapeError, H5Source, LazyPool, probe_h5
from ._hexrd_hdf5_write import (
    DEFAULT_DATANAME,
    JSON_KEYS_ATTR,
    write_hdf5,
)


def image_groups(f, dataname: str = DEFAULT_DATANAME, limit: int = 10_000) -> list[str]:
    """Groups under ``f`` (relative names, ``'.'`` for ``f`` itself) holding a 2-D or 3-D dataset
    called ``dataname``."""
    import h5py

    found: list[str] = []
    seen = 0

    def visit(name, obj):
        nonlocal seen
        seen += 1
        if seen > limit:
            return True
        if (
            isinstance(obj, h5py.Dataset)
            and name.rsplit("/", 1)[-1] == dataname
            and obj.ndim in (2, 3)
        ):
            found.append(name.rsplit("/", 1)[0] if "/" in name else ".")
        return None

    f.visititems(visit)
    return found


def read_attrs(group) -> dict:
    """``dict(group.attrs)`` as hexrd returns it, with scanstack's JSON-encoded values decoded."""
    meta = dict(group.attrs)
    keys = meta.pop(JSON_KEYS_ATTR, None)
    if keys is not None:
        for key in np.atleast_1d(keys):
            key = key.decode() if isinstance(key, bytes) else str(key)
            if key in meta:
                raw = meta[key]
                raw = raw.decode() if isinstance(raw, bytes) else str(raw)
                try:
                    meta[key] = json.loads(raw)
                except ValueError:
                    pass  # leave the text as it is rather than fail on a hand-edited file
    return meta


class HDF5Reader(Reader):
    """hexrd ``hdf5`` reader.

    Options: ``path`` (group holding the dataset; auto-detected when only one group holds one),
    ``dataname`` (default ``'images'``), ``close_when_finished`` (close a passed-in ``h5py.File``
    on :meth:`close`, as hexrd does; files opened here are always closed), ``allow_outside``
    (read a file whose links, virtual sources or external storage leave its folder).
    Frames ``(rows, cols)`` in the dataset's dtype; a 2-D dataset is one frame.
    """

    format_name = "hdf5"

    def __init__(
        self,
        source=None,
        *,
        path: str | None = None,
        dataname: str = DEFAULT_DATANAME,
        close_when_finished: bool = True,
        allow_outside: bool = False,
    ):
        self._h5 = H5Source(source, None, allow_outside)
        fname = self._h5.filename
        if path is None:
            candidates = image_groups(self._h5.group("hdf5"), dataname)
            if len(candidates) != 1:
                self._h5.close()
                listed = ", ".join(candidates) if candidates else "none"
                raise FormatError(
                    f"hdf5 needs path=<group holding {dataname!r}>; groups with a 2-D/3-D "
                    f"{dataname!r} dataset: {listed}",
                    fname,
                    dataname,
                )
            path = candidates[0]
        self._h5 = self._h5.descend(str(path))
        super().__init__(
            fname,
            path=self._h5.group_path,
            dataname=dataname,
            close_when_finished=close_when_finished,
            allow_outside=allow_outside,
        )
        import h5py

        # hexrd closes a passed-in h5py.File on close(); never a passed-in sub-group's file
        self.close_when_finished = close_when_finished and isinstance(source, h5py.File)
        self.dataname = dataname
        group = self._h5.group("hdf5")
        where = f"{self._h5.group_path.rstrip('/')}/{dataname}"
        ds = group.get(dataname)
        if not isinstance(ds, h5py.Dataset):
            if ds is None and dataname in group:  # the link is there, the object is not readable
                found = "a link to an object that cannot be opened (corrupt object header?)"
            else:
                found = ", ".join(group.keys()) or "nothing"
            raise FormatError(
                f"expected a dataset {dataname!r} in group {self._h5.group_path!r}, found: {found}",
                fname,
                where,
            )
        if ds.ndim not in (2, 3):
            raise DatasetShapeError(
                f"expected a 2-D (one frame) or 3-D (frames, rows, cols) dataset, "
                f"found shape {ds.shape}",
                fname,
                where,
            )
        if ds.dtype.kind not in "biuf":
            raise FormatError(f"expected numeric image data, found dtype {ds.dtype}", fname, where)
        self._ndim = ds.ndim
        self._where = where
        self._filters = chunk_filters(ds)
        self._chunk_rows = ds.chunks[1] if self._filters is not None else 0
        self._pool = LazyPool()
        self._mm = None  # the memory map of as_array, made on first use (False: none possible)
        self.nav_shape = (ds.shape[0],) if ds.ndim == 3 else (1,)
        self.signal_shape = tuple(ds.shape[-2:])
        self.dtype = ds.dtype
        self.metadata = read_attrs(group)
        self.original_metadata = {
            "file": fname,
            "path": self._h5.group_path,
            "dataset": where,
            "chunks": ds.chunks,
            "compression": ds.compression,
            "shuffle": ds.shuffle,
        }

    def _dataset(self):
        return self._h5.group("hdf5")[self.dataname]

    def read(self, start, stop, region=None):
        out = np.empty((stop - start, *region_shape(region, self.signal_shape)), self.dtype)
        self.read_into(start, stop, out, region)
        return out

    def read_into(self, start, stop, out, region=None, *, zeroed=False) -> None:
        """Frames straight into ``out``: h5py's ``read_direct``, or chunks decoded in threads."""
        ds = self._dataset()
        sig = region if region is not None else (slice(None), slice(None))
        try:
            if stop <= start:
                return
            if self._filters is not None:
                self._read_chunks(ds, start, stop, sig, out)
            elif self._ndim == 2:
                out[...] = ds[sig][None][start:stop]
            else:
                ds.read_direct(out, np.s_[start:stop, sig[0], sig[1]])
        except (OSError, ValueError, TypeError, zlib.error) as exc:
            raise FormatError(
                f"cannot read frames {start}:{stop} (file corrupt or truncated?): {exc}",
                self.path,
                self._where,
            ) from exc

    def _read_chunks(self, ds, start: int, stop: int, sig, out: np.ndarray) -> None:
        """Frames ``start:stop`` decoded from their raw chunks in threads, into ``out``.

        Each thread takes one run of the chunks and decodes them one at a time, its last filter
        writing straight into ``out`` when whole rows are read, so a read of every frame costs its
        result plus one chunk per thread (:meth:`read_overhead`).
        """
        rows, cols = self.signal_shape
        rs, cs = (s if isinstance(s, slice) else slice(None) for s in sig)
        r0, r1, _ = rs.indices(rows)
        c0, c1, _ = cs.indices(cols)
        cr = ds.chunks[1]
        first = r0 // cr * cr
        starts = range(first, max(r1, first + 1), cr) if r1 > r0 else range(0)
        nbytes = cr * cols * self.dtype.itemsize

        def decode_into(job) -> None:
            i, a = job
            mask, raw = ds.id.read_direct_chunk((i, a, 0))
            lo, hi = max(a, r0), min(a + cr, r1, rows)
            dest = out[i - start, lo - r0 : hi - r0]
            whole = c0 == 0 and c1 == cols and dest.flags.c_contiguous  # whole rows: into place
            rows_read = dest if whole else np.empty((hi - lo, cols), self.dtype)
            decode_chunk_into(raw, mask, self._filters, nbytes, (lo - a) * cols, rows_read)
            if not whole:
                dest[...] = rows_read[:, c0:c1]

        jobs = [(i, a) for i in range(start, stop) for a in starts]

        def decode_run(j0: int, j1: int) -> None:
            for job in jobs[j0:j1]:
                decode_into(job)

        self._pool.each_run(decode_run, len(jobs))

    def read_overhead(self) -> int:
        if self._filters is None:
            return 0
        # per thread: a chunk's compressed bytes, its inflated bytes and the unshuffled array
        chunk = self._chunk_rows * self.signal_shape[1] * self.dtype.itemsize
        return self._pool.size() * 3 * chunk

    def as_array(self):
        """A memory map of the frames when stored contiguously and uncompressed (reductions then
        fold the file's bytes in place), else the h5py dataset; None for a single 2-D frame."""
        if self._ndim != 3:
            return None
        if self._mm is None:
            mm = memmap_dataset(self._dataset())
            self._mm = False if mm is None else mm
        return self._dataset() if self._mm is False else self._mm

    def close(self) -> None:
        self._mm = None
        self._pool.shutdown()
        self._h5.close(force=self.close_when_finished)

    def _picklable(self, source, options):
        # re-open by file name, whatever was passed (an open h5py.File: hexrd PR #415)
        return self._h5.filename, options


def chunk_filters(ds) -> list[int] | None:
    """The filter ids of a dataset scanstack can decode itself, in threads, or None.

    That is a 3-D dataset of full-width chunks ``(1, chunk_rows, cols)``, every chunk written,
    compressed with deflate and/or shuffle only (hexrd's layout). HDF5 would decode its chunks
    one at a time under h5py's lock.
    """
    if ds.ndim != 3 or ds.chunks is None or ds.chunks[0] != 1 or ds.chunks[2] != ds.shape[2]:
        return None
    dcpl = ds.id.get_create_plist()
    ids = [dcpl.get_filter(k)[0] for k in range(dcpl.get_nfilters())]
    if not ids or any(f not in (FILTER_DEFLATE, FILTER_SHUFFLE) for f in ids):
        return None
    if ids.index(ids[-1]) != len(ids) - 1 or ids[0] == FILTER_DEFLATE and len(ids) > 1:
        return None  # repeated filters or deflate before shuffle: leave it to HDF5
    import math

    nchunks = ds.shape[0] * math.ceil(ds.shape[1] / ds.chunks[1]) if ds.shape[1] else 0
    if ds.id.get_num_chunks() != nchunks:
        return None  # unwritten chunks hold the fill value: HDF5 knows it
    return ids


def sniff(probe: Probe) -> float:
    f = probe_h5(probe)
    if f is None:
        return 0.0
    attrs = f.attrs
    if "HEXRD_FRAMECACHE_VERSION" in attrs:
        return 0.05
    foreign = (
        "NX_class" in attrs
        or "Measurement_000" in f
        or "XRF" in f
        or any("NX_class" in getattr(f.get(k), "attrs", {}) for k in list(f)[:20])
    )
    groups = image_groups(f)
    if not groups:
        return 0.0
    if foreign:
        return 0.1
    return 0.8 if len(groups) == 1 else 0.6


FORMAT = FormatSpec(
    name="hdf5",
    description="hexrd hdf5 image series: <path>/images (frames, rows, cols), metadata in the "
    "group attributes (options path=, dataname=)",
    extensions=(".h5", ".hdf5", ".hdf"),
    reader=HDF5Reader,
    writer=write_hdf5,
    sniff=sniff,
    capabilities={"lazy": True, "region": True, "write": True, "hexrd": True},
)

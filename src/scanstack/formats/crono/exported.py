"""Reader of CRONO "Export to HDF5" files (format ``crono-exported``).

The instrument's export keeps the root, /Configuration and /Images of the native file, leaves the
per-spectrum datasets empty and adds ``<name> Regular Matrix`` datasets: ``Spectra Regular Matrix``
(rows, columns, channels) uint32 and per-pixel ``LiveTimes``/``RealTimes``/``Detected``/
``OutputCountRates`` (rows, columns, 1), ``MotorsPositions`` (rows, columns, 3). The public dump
does not say which group holds them: they are looked for in /XRF first, then anywhere.
"""

from __future__ import annotations

import h5py
import numpy as np

from ...core.errors import FormatError
from ...core.reader import Reader, Region
from ...core.values import numeric_dtype
from .. import _h5io as h5io
from .._interchange import chunk_scratch, read_flat_range
from .._sniff import h5_sniffer
from .h5values import read_table
from .metadata import PER_SPECTRUM, energy_axis, map_axes, read_common, scan_geometry

SUFFIX = " Regular Matrix"


def _matrices(f: h5py.File, search: bool = True) -> dict[str, str]:
    """Name (without the suffix) -> dataset path of every regular matrix (/XRF first; the whole
    file when ``search`` and /XRF has none)."""
    found: dict[str, str] = {}
    if "XRF" in f:
        for key, obj in f["XRF"].items():
            if key.endswith(SUFFIX) and isinstance(obj, h5py.Dataset):
                found[key[: -len(SUFFIX)]] = f"XRF/{key}"
    if not found:

        def visit(name, obj):
            if name.endswith(SUFFIX) and isinstance(obj, h5py.Dataset):
                found.setdefault(name.rsplit("/", 1)[-1][: -len(SUFFIX)], name)

        f.visititems(visit)
    return found


@h5_sniffer(errors=Exception)
def sniff(f: h5py.File) -> float:
    """0.95 when a ``Spectra Regular Matrix`` dataset is present."""
    if "XRF/Spectra" in f and f["XRF/Spectra"].shape[:1] != (0,):
        return 0.0  # a native file with its spectra
    return 0.95 if "Spectra" in _matrices(f, search="XRF" not in f) else 0.0


class CronoExportedReader(h5io.H5FileReader, Reader):
    """The regular (rows, columns, channels) matrix of an Exported CRONO file."""

    format_name = "crono-exported"

    def __init__(self, source, *, blobs: str = "warn", allow_outside: bool = False):
        super().__init__(source, blobs=blobs, allow_outside=allow_outside)
        self._open_and_setup(source, blobs)

    def _setup(self, source, blobs: str) -> None:
        f, path = self._file, self.path
        mats = _matrices(f)
        if "Spectra" not in mats:
            raise FormatError(
                "no 'Spectra Regular Matrix' dataset: not an Exported CRONO file",
                path,
                "/XRF/Spectra Regular Matrix",
            )
        ds = f[mats["Spectra"]]
        if ds.ndim != 3:
            raise FormatError(
                f"{ds.name} has shape {ds.shape}, expected (rows, columns, channels)", path, ds.name
            )
        rows, columns, channels = ds.shape
        self._data = ds
        self.nav_shape = (rows, columns)
        self.signal_shape = (channels,)
        self.dtype = numeric_dtype(ds.dtype, path, ds.name)
        meta, orig, attrs = read_common(f, path, blobs)
        map_setup = meta.pop("_map_setup")
        meta["format"] = "crono-exported"
        energy, calibration = energy_axis(f, channels, path)
        if calibration is not None:
            meta["energy_calibration"] = calibration
        nav = map_axes(meta, scan_geometry(attrs, map_setup, rows, columns, path), rows, columns)
        for name, key, scale in PER_SPECTRUM:
            if name in mats and f[mats[name]].shape[:2] == (rows, columns):
                arr = read_table(f[mats[name]], path, f"the per-pixel table {mats[name]}")
                arr = arr.reshape(rows * columns, -1)
                arr = arr[:, 0] if arr.shape[1] == 1 else arr
                meta[key] = arr * scale if scale else arr
        orig["regular_matrices"] = sorted(mats.values())
        self.axes = nav + [energy]
        self.metadata = meta
        self.original_metadata = orig

    def read(self, start: int, stop: int, region: Region | None = None) -> np.ndarray:
        # one chunk at a time into one result (the instrument chunks by map rows)
        return read_flat_range(
            self._data, self.nav_shape, start, stop, region, self.signal_shape
        ).astype(self.dtype, copy=False)

    def read_overhead(self) -> int:
        """One decoded chunk, its stored bytes and HDF5's chunk cache (:func:`chunk_scratch`)."""
        return chunk_scratch(self._data) if self._data is not None else 0

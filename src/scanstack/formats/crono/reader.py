"""Reader of CRONO MA-XRF native HDF5 files (format ``crono``).

The map is ``/XRF/Spectra[SpectraSelectedIndex[r, c, 0]]`` for every pixel: the instrument stores
every spectrum in acquisition order (serpentine rows, acceleration ramps, more spectra than map
pixels) and records which one it picked for each pixel. Blocks of map pixels are read as one slab
of the spectra they need (they are close in acquisition order), never the whole dataset.

Options of ``scanstack.open(path, 'crono', ...)``:

- ``spectra='map'`` (default): nav ``(rows, columns)``; ``'acquisition'``: every stored spectrum,
  nav ``(N,)``, in acquisition order (including ramps and unselected spectra);
- ``blobs='warn'`` (default): a malformed BinaryFormatter blob (settings, status, map setup, ROI)
  is replaced in ``original_metadata`` by ``{"__error__": message}`` with a warning, so the
  spectra stay readable; ``'strict'`` raises the :class:`NrbfError`; ``'skip'`` does not decode.

Documented behaviour: ``/XRF/Maps/ComputedMaps`` full of NaN (the instrument's default) is
reported as absent (``metadata['computed_maps'] is None``); :func:`read_computed_maps` returns it
otherwise. Empty image slots (``/Images/Static[0]``, empty StitchedImage…) are not errors.

The file's values (:mod:`.h5values`), its metadata (:mod:`.metadata`) and the chunk-wise reading
of the spectra (:mod:`.spectra_rows`) live in their own modules; their public names are
importable from here too.
"""

from __future__ import annotations

import os
import warnings

import h5py
import numpy as np

from ...core.axes import Axis
from ...core.errors import FormatError, check_fits
from ...core.reader import Reader, Region
from ...core.values import numeric_dtype
from .. import _h5io as h5io
from .._sniff import h5_sniffer
from .h5values import as_text, attr_value, blob, read_table, require_dataset
from .metadata import (
    ANODES,
    PER_SPECTRUM,
    energy_axis,
    map_axes,
    read_common,
    scan_geometry,
)
from .spectra_rows import SpectraRows

__all__ = [
    "ANODES",
    "PER_SPECTRUM",
    "CronoReader",
    "as_text",
    "attr_value",
    "blob",
    "energy_axis",
    "map_axes",
    "read_common",
    "read_computed_maps",
    "read_table",
    "scan_geometry",
    "sniff",
]

SPECTRA = "XRF/Spectra"
SELECTED = "XRF/SpectraSelectedIndex"


# -- sniffing ------------------------------------------------------------------------------------
@h5_sniffer(errors=Exception)
def sniff(f: h5py.File) -> float:
    """0.95 for a native CRONO file (spectra + selection index), 0.6 for one missing them."""
    if SPECTRA in f and SELECTED in f:
        return 0.95 if f[SPECTRA].shape[0] > 0 else 0.0
    if "XRF" in f and "Configuration" in f and not _has_regular_matrix(f):
        return 0.6  # CRONO-shaped but incomplete: let the reader explain what is missing
    return 0.0


def _has_regular_matrix(f: h5py.File) -> bool:
    return "XRF" in f and any(k.endswith(" Regular Matrix") for k in f["XRF"].keys())


def _check_index(index: np.ndarray, n_spectra: int, path) -> None:
    if index.size and (index.min() < 0 or index.max() >= n_spectra):
        bad = int(index.max() if index.max() >= n_spectra else index.min())
        raise FormatError(
            f"SpectraSelectedIndex holds {bad}, outside the {n_spectra} spectra of /XRF/Spectra",
            path,
            f"/{SELECTED}",
        )


def read_computed_maps(path: str | os.PathLike, allow_outside: bool = False) -> np.ndarray | None:
    """``/XRF/Maps/ComputedMaps`` (rows, columns, ROIs) float64, or None when absent or all NaN
    (the instrument writes NaN unless the operator computed the maps)."""
    with h5io.open_h5(path, "crono", allow_outside) as f:
        if "XRF/Maps/ComputedMaps" not in f:
            return None
        maps = f["XRF/Maps/ComputedMaps"][()]
    return None if np.isnan(maps).all() else maps


class CronoReader(h5io.H5FileReader, Reader):
    """Spectra of a native CRONO file, as a map (default) or in acquisition order."""

    format_name = "crono"

    def __init__(
        self, source, *, spectra: str = "map", blobs: str = "warn", allow_outside: bool = False
    ):
        super().__init__(source, spectra=spectra, blobs=blobs, allow_outside=allow_outside)
        if spectra not in ("map", "acquisition"):
            raise ValueError(f"spectra must be 'map' or 'acquisition', not {spectra!r}")
        self._open_and_setup(source, spectra, blobs)

    def _setup(self, source, mode: str, blobs: str) -> None:
        f, path = self._file, self.path
        ds = require_dataset(f, SPECTRA, path, ndim=2)
        n, channels = ds.shape
        if n == 0:
            hint = (
                " (an 'Exported' file: open it with format 'crono-exported')"
                if _has_regular_matrix(f)
                else ""
            )
            raise FormatError(f"/XRF/Spectra holds no spectra{hint}", path, f"/{SPECTRA}")
        self._spectra = ds
        self._rows = SpectraRows(ds, path, f"/{SPECTRA}")
        self.dtype = numeric_dtype(ds.dtype, path, f"/{SPECTRA}")  # an S1 dataset is not counts
        self.mode = mode
        sel = require_dataset(f, SELECTED, path)
        if sel.ndim not in (2, 3) or (sel.ndim == 3 and sel.shape[2] != 1):
            raise FormatError(
                f"/{SELECTED} has shape {sel.shape}, expected (rows, columns, 1)",
                path,
                f"/{SELECTED}",
            )
        if sel.dtype.kind not in "iu":  # 2.7 must not silently select spectrum 2
            raise FormatError(
                f"expected integer spectrum numbers, found dtype {sel.dtype}", path, f"/{SELECTED}"
            )
        rows, columns = sel.shape[:2]
        index = read_table(sel, path, f"the selection index of {rows} x {columns} pixels")
        index = index.reshape(rows, columns).astype(np.int64, copy=False)
        _check_index(index, n, path)
        self.selected_index = index

        meta, orig, attrs = read_common(f, path, blobs)
        map_setup = meta.pop("_map_setup")
        energy, calibration = energy_axis(f, channels, path)
        nav = map_axes(meta, scan_geometry(attrs, map_setup, rows, columns, path), rows, columns)
        if calibration is not None:
            meta["energy_calibration"] = calibration
        maps = f["XRF/Maps/ComputedMaps"] if "XRF/Maps/ComputedMaps" in f else None
        meta["computed_maps"] = None if maps is None or _all_nan(maps) else list(maps.shape)
        meta["spectra"] = mode
        meta["n_spectra_acquired"] = int(n)

        per = self._per_spectrum(f, n, path)
        if mode == "map":
            self.nav_shape = (rows, columns)
            flat = index.reshape(-1)
            per = {k: v[flat] for k, v in per.items()}
        else:
            self.nav_shape = (n,)
            nav = [Axis("spectrum", n)]
            check_fits(16 * n, f"the map pixel of each of {n} spectra", path, f"/{SPECTRA}")
            per["selected_pixel"] = _pixel_of_spectrum(index, n)
        meta.update(per)
        self.signal_shape = (channels,)
        self.axes = nav + [energy]
        self.metadata = meta
        self.original_metadata = orig

    @staticmethod
    def _per_spectrum(f: h5py.File, n: int, path=None) -> dict[str, np.ndarray]:
        """Per-spectrum arrays in physical units (flat, acquisition order).

        An array whose length is not the number of spectra is left out with a warning (the
        spectra stay readable; pass ``live_time=`` etc. to the xrf tools).
        """
        out = {}
        table = PER_SPECTRUM + (
            ("Timestamps", "timestamp", None),
            ("SpectraIDs", "spectrum_id", None),
        )
        for name, key, scale in table:
            name = f"XRF/{name}"
            if name not in f:
                continue
            if f[name].shape[:1] != (n,):
                warnings.warn(
                    f"{path} (/{name}): shape {f[name].shape} does not match the {n} spectra "
                    f"of /XRF/Spectra; metadata['{key}'] is left out",
                    stacklevel=4,
                )
                continue
            arr = read_table(f[name], path, f"the per-spectrum table /{name}")
            out[key] = arr * scale if scale else arr
        return out

    # -- reading ---------------------------------------------------------------------------
    def _piece(self) -> int:
        """Frames read as one piece: whole map rows (a row's spectra are contiguous in
        acquisition order, so pieces walk the chunks forwards), about one chunk of spectra."""
        if self.mode == "acquisition":
            return self._rows.rows_per_chunk
        columns = max(1, self.nav_shape[1])
        return columns * max(1, self._rows.rows_per_chunk // columns)

    def _width(self, region: Region | None) -> tuple[slice, int]:
        csl = region[0] if region else slice(None)
        return csl, len(range(*csl.indices(self.signal_shape[0])))

    def read(self, start: int, stop: int, region: Region | None = None) -> np.ndarray:
        csl, width = self._width(region)
        out = np.empty((max(0, stop - start), width), self.dtype)
        if self.mode == "acquisition":
            self._rows.range_into(start, stop, csl, out)
            return out
        flat, step = self.selected_index.reshape(-1), self._piece()
        for a in range(start - start % step, stop, step):  # pieces on a grid of whole rows
            lo, hi = max(a, start), min(a + step, stop)
            self._rows.take_into(flat[lo:hi], csl, out[lo - start : hi - start])
        return out

    def read_frames(self, frames: np.ndarray, region: Region | None = None) -> np.ndarray:
        frames = np.asarray(frames, dtype=np.int64).reshape(-1)
        csl, width = self._width(region)
        out = np.empty((frames.size, width), self.dtype)
        if self.mode == "map":
            frames = self.selected_index.reshape(-1)[frames]
        step = self._piece()
        for a in range(0, frames.size, step):
            self._rows.take_into(frames[a : a + step], csl, out[a : a + step])
        return out

    def read_overhead(self) -> int:
        """A decoded chunk of /XRF/Spectra (kept in its cache), its stored bytes, a slab of one
        chunk's rows and a piece's index arrays (:meth:`SpectraRows.overhead`)."""
        return self._rows.overhead(self._piece())

    def as_array(self):
        return self._spectra if self.mode == "acquisition" else None


def _all_nan(ds: h5py.Dataset) -> bool:
    """True if every value is NaN, reading at most a few rows at a time."""
    if ds.id.get_storage_size() == 0:  # nothing written: every value is the fill value
        fill = ds.fillvalue
        return bool(np.all(np.isnan(fill))) if np.asarray(fill).dtype.kind == "f" else False
    step = max(1, (8 << 20) // max(1, int(np.prod(ds.shape[1:])) * 8))
    for a in range(0, ds.shape[0], step):
        if not np.isnan(ds[a : a + step]).all():
            return False
    return True


def _pixel_of_spectrum(index: np.ndarray, n: int) -> np.ndarray:
    """(N, 2) map (row, column) each acquired spectrum was selected for, −1 if none."""
    out = np.full((n, 2), -1, np.int64)
    rr, cc = np.indices(index.shape)
    out[index.reshape(-1), 0] = rr.reshape(-1)
    out[index.reshape(-1), 1] = cc.reshape(-1)
    return out

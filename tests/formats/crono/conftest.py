"""Shared helpers for the CRONO format tests: cronomaxrf (the reference) as a fixture."""

import h5py
import numpy as np
import pytest


@pytest.fixture
def cronomaxrf_cube():
    """``cronomaxrf_cube(path) -> (cube, energies)`` from cronomaxrf.gridify.

    Recent dask cannot ``vindex`` with uint64 indices (the instrument's dtype of
    SpectraSelectedIndex): cronomaxrf.gridify then raises IndexError on every CRONO file. In that
    case the reference runs on a copy whose index is stored as int64 (same values).
    """
    gridify = pytest.importorskip("cronomaxrf.gridify").gridify

    def run(path):
        try:
            out = gridify(str(path))
        except IndexError:
            copy = path.with_name(path.stem + "-int64index.HDF5")
            with h5py.File(path, "r") as f, h5py.File(copy, "w") as g:
                for key in f:
                    f.copy(key, g)
                sel = g["XRF/SpectraSelectedIndex"][()]
                del g["XRF/SpectraSelectedIndex"]
                g["XRF/SpectraSelectedIndex"] = sel.astype(np.int64)
            out = gridify(str(copy))
        with h5py.File(out, "r") as f:
            return f["/spectra"][()], f["/energies"][()]

    return run

"""hexrd's ``hdf5`` adapter: ``open(fname_or_h5py_file, 'hdf5', path=<group>, dataname='images')``."""

from __future__ import annotations

from . import FormatAdapter


class HDF5ImageSeriesAdapter(FormatAdapter):
    """Reads with scanstack's ``hdf5`` reader; keyword arguments as in hexrd."""

    format = "hdf5"

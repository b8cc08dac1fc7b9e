"""hexrd's ``hdf5`` adapter: ``open(fname_or_h5py_file, 'hdf5', path=<group>, dataname='images')``."""

from __future__ import annotations

from . import FormatAdapter


class HDF5ImageSeriesAdapter(FormatAdapter):
    """Reads with scanstack's ``hdf5`` reader; keyword arguments as in hexrd.

    A dataset that is neither 2-D nor 3-D raises a ``FormatError`` that is also hexrd's
    ``RuntimeError``.
    """

    format = "hdf5"

    @property
    def _ndim(self) -> int:
        """Dimensions of the image dataset: 2 (one frame) or 3, as hexrd's private attribute."""
        return self.stack.reader._ndim

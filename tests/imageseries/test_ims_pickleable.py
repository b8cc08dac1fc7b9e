"""hexrd T/test_pickleable: adapters and processed series survive pickling (multiprocessing)."""

import pickle

import numpy as np
from ims_common import assert_same_series, make_array_ims

from scanstack import imageseries
from scanstack.imageseries.load.framecache import FrameCacheImageSeriesAdapter
from scanstack.imageseries.load.hdf5 import HDF5ImageSeriesAdapter


def test_hdf5_adapter_pickles(tmp_path):
    _, ims = make_array_ims()
    fname = tmp_path / "ims.h5"
    imageseries.write(ims, fname, "hdf5", path="imageseries")
    adapter = HDF5ImageSeriesAdapter(fname, path="imageseries")
    back = pickle.loads(pickle.dumps(adapter))
    np.testing.assert_array_equal(back[1], adapter[1])


def test_framecache_adapters_pickle(tmp_path):
    _, ims = make_array_ims()
    for style, name in (("npz", "fc.npz"), ("fch5", "fc.fch5")):
        fname = tmp_path / name
        imageseries.write(ims, fname, "frame-cache", threshold=0.5, style=style)
        adapter = FrameCacheImageSeriesAdapter(fname, style=style)
        back = pickle.loads(pickle.dumps(adapter))
        np.testing.assert_array_equal(back[2], ims[2])


def test_processed_series_pickles(tmp_path):
    _, ims = make_array_ims()
    fname = tmp_path / "ims.h5"
    imageseries.write(ims, fname, "hdf5", path="imageseries")
    src = imageseries.open(fname, "hdf5", path="imageseries")
    p = imageseries.process.ProcessedImageSeries(src, [("flip", "v"), ("dark", np.ones(src.shape))])
    back = pickle.loads(pickle.dumps(p))
    assert_same_series(p, back)

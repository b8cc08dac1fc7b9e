"""Behaviour found by running hexrd's own imageseries tests against the drop-in: the exception
types hexrd users catch, and clear errors from duck-typed series."""

import h5py
import numpy as np
import pytest

from scanstack import imageseries
from scanstack.core.errors import FormatError
from scanstack.imageseries import process
from scanstack.imageseries.load.framecache import FrameCacheImageSeriesAdapter
from scanstack.imageseries.load.hdf5 import HDF5ImageSeriesAdapter


@pytest.mark.parametrize("fname", ["missing.npz", None])
def test_unknown_frame_cache_style_is_a_type_error_before_the_file_is_read(tmp_path, fname):
    # hexrd checks the style first: a bad style is reported even when the file is absent
    path = tmp_path / fname if fname else tmp_path / "cache.npz"
    if fname is None:
        np.savez(path, nothing=np.zeros(2))
    with pytest.raises(TypeError, match="unknown frame-cache style 'npy'") as info:
        FrameCacheImageSeriesAdapter(path, style="npy")
    assert isinstance(info.value, FormatError)
    with pytest.raises(TypeError, match="style"):
        imageseries.open(path, "frame-cache", style="zip")


def test_known_frame_cache_styles_still_open(tmp_path):
    data = np.zeros((2, 6, 6), np.uint16)
    data[:, 2, 3] = 9
    ims = imageseries.open(None, "array", data=data)
    for style in ("npz", "fch5"):
        path = tmp_path / f"cache.{style}"
        imageseries.write(ims, path, "frame-cache", threshold=1, style=style)
        back = imageseries.open(path, "frame-cache", style=style)
        np.testing.assert_array_equal(back[1], data[1])


def test_hdf5_dataset_of_wrong_rank_is_a_runtime_error_naming_the_dataset(tmp_path):
    fname = tmp_path / "four_d.h5"
    with h5py.File(fname, "w") as f:
        f.create_dataset("scan/images", data=np.zeros((2, 3, 4, 5), np.uint8))
    with pytest.raises(RuntimeError, match=r"/scan/images.*found shape \(2, 3, 4, 5\)") as info:
        HDF5ImageSeriesAdapter(str(fname), path="scan")
    assert isinstance(info.value, FormatError)


@pytest.mark.parametrize("shape, ndim", [((4, 5), 2), ((3, 4, 5), 3)])
def test_hdf5_adapter_reports_dataset_rank(tmp_path, shape, ndim):
    fname = tmp_path / "d.h5"
    with h5py.File(fname, "w") as f:
        f.create_dataset("g/images", data=np.ones(shape, np.int16))
    adapter = HDF5ImageSeriesAdapter(str(fname), path="g")
    assert adapter._ndim == ndim
    adapter.close()


class RegionIgnoringSeries:
    """A duck-typed series whose get_region always returns the top-left 2x2 corner."""

    def __init__(self):
        self.frames = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4)
        self.shape = (4, 4)
        self.dtype = self.frames.dtype
        self.metadata = {}

    def __len__(self):
        return len(self.frames)

    def __getitem__(self, key):
        return self.frames[key]

    def get_region(self, i, region):
        return self.frames[i, :2, :2]


def test_wrong_shape_from_a_duck_typed_get_region_is_a_clear_error():
    ps = process.ProcessedImageSeries(RegionIgnoringSeries(), [])
    with pytest.raises(FormatError, match=r"RegionIgnoringSeries.get_region returned shape"):
        ps[0, 0:3]
    # a region the source does honour still comes through its get_region
    np.testing.assert_array_equal(ps[1, 0:2, 0:2], np.arange(16, 32).reshape(4, 4)[:2, :2])

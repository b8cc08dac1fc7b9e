"""hexrd TC/load: array, function, hdf5 adapters, the adapter registry, fch5 inside a group."""

import pickle

import h5py
import numpy as np
import pytest
from ims_common import assert_same_series, make_array_ims

from scanstack import imageseries
from scanstack.imageseries.load import ImageSeriesAdapter, Registry
from scanstack.imageseries.load.array import ArrayImageSeriesAdapter
from scanstack.imageseries.load.function import FunctionImageSeriesAdapter
from scanstack.imageseries.load.hdf5 import HDF5ImageSeriesAdapter


# -- array --------------------------------------------------------------------------------------
def test_array_adapter_copies():
    data = np.arange(24).reshape(2, 3, 4)
    meta = {"x": 1}
    adapter = ArrayImageSeriesAdapter(None, data=data, meta=meta)
    assert len(adapter) == 2 and adapter.shape == (3, 4) and adapter.dtype == data.dtype
    assert adapter.metadata is meta
    data[0, 0, 0] = 99  # the adapter holds its own copy
    assert adapter[0][0, 0] == 0
    frame = adapter[1]
    frame[:] = -1  # frames read are copies too
    np.testing.assert_array_equal(adapter[1], np.arange(12, 24).reshape(3, 4))
    np.testing.assert_array_equal(adapter._data, np.arange(24).reshape(2, 3, 4))


def test_array_adapter_2d_is_one_frame_and_4d_is_refused():
    adapter = ArrayImageSeriesAdapter(None, data=np.ones((3, 4)))
    assert len(adapter) == 1 and adapter.shape == (3, 4)
    with pytest.raises(RuntimeError):
        ArrayImageSeriesAdapter(None, data=np.ones((2, 2, 3, 4)))


# -- function -----------------------------------------------------------------------------------
def ramp(i):
    return np.full((4, 5), i, dtype=np.uint16)


def test_function_adapter_properties():
    adapter = FunctionImageSeriesAdapter(None, func=ramp, num_frames=6, meta={"m": 2})
    assert len(adapter) == 6
    assert adapter.shape == (4, 5)
    assert adapter.dtype == np.uint16
    assert adapter.metadata == {"m": 2}


def test_function_adapter_keys():
    ims = imageseries.open(None, "function", func=ramp, num_frames=6)
    np.testing.assert_array_equal(ims[3], ramp(3))
    np.testing.assert_array_equal(ims[np.int64(-1)], ramp(5))
    with pytest.raises(TypeError, match="integers, slices"):
        ims["3"]
    with pytest.raises(TypeError, match="integers, slices"):
        ims[1.5]


def test_function_adapter_iterates():
    ims = imageseries.open(None, "function", func=ramp, num_frames=4)
    frames = list(ims)
    assert len(frames) == 4
    for i, f in enumerate(frames):
        np.testing.assert_array_equal(f, ramp(i))


@pytest.mark.parametrize("missing", ["func", "num_frames"])
def test_function_adapter_needs_func_and_num_frames(missing):
    kwargs = {"func": ramp, "num_frames": 3}
    del kwargs[missing]
    with pytest.raises(KeyError, match=missing):
        FunctionImageSeriesAdapter(None, **kwargs)


# -- hdf5 ---------------------------------------------------------------------------------------
def _h5(tmp_path, data, name="images"):
    fname = tmp_path / "data.h5"
    with h5py.File(fname, "w") as f:
        g = f.create_group("group")
        g.create_dataset(name, data=data)
        g.attrs["omega"] = np.zeros((1 if data.ndim == 2 else data.shape[0], 2))
    return fname


def test_hdf5_adapter_2d_dataset_is_one_frame(tmp_path):
    data = np.arange(12, dtype=np.uint16).reshape(3, 4)
    adapter = HDF5ImageSeriesAdapter(_h5(tmp_path, data), path="group")
    assert len(adapter) == 1
    np.testing.assert_array_equal(adapter[0], data)
    with pytest.raises(IndexError):
        adapter[1]
    # unlike hexrd, regions of a 2-D dataset work
    np.testing.assert_array_equal(adapter.get_region(0, ((1, 3), (0, 2))), data[1:3, 0:2])


def test_hdf5_adapter_3d_tuple_index_and_region(tmp_path):
    data = np.arange(60, dtype=np.int32).reshape(3, 4, 5)
    adapter = HDF5ImageSeriesAdapter(_h5(tmp_path, data), path="group")
    assert adapter[(1, 2, 1)] == data[1, 2, 1]
    np.testing.assert_array_equal(adapter.get_region(2, ((0, 2), (1, 4))), data[2, 0:2, 1:4])
    assert adapter.metadata["omega"].shape == (3, 2)


def test_hdf5_adapter_refuses_4d(tmp_path):
    fname = _h5(tmp_path, np.zeros((2, 2, 3, 4)))
    with pytest.raises(ValueError, match="3-D"):
        HDF5ImageSeriesAdapter(fname, path="group")


def test_hdf5_adapter_open_file_and_pickle(tmp_path):
    data = np.arange(60, dtype=np.int32).reshape(3, 4, 5)
    fname = _h5(tmp_path, data)
    with h5py.File(fname, "r") as f:
        adapter = HDF5ImageSeriesAdapter(f, path="group")
        back = pickle.loads(pickle.dumps(adapter))
    np.testing.assert_array_equal(back[2], data[2])


# -- registry -----------------------------------------------------------------------------------
def test_defining_an_adapter_registers_it():
    class MyAdapter(ImageSeriesAdapter):
        format = "test-my-format"

    assert Registry.adapter_registry["test-my-format"] is MyAdapter


def test_registry_skips_the_base_class():
    before = dict(Registry.adapter_registry)
    Registry.register(ImageSeriesAdapter)
    assert Registry.adapter_registry == before


def test_registry_later_class_wins():
    class First(ImageSeriesAdapter):
        format = "test-overwrite"

    class Second(ImageSeriesAdapter):
        format = "test-overwrite"

    assert Registry.adapter_registry["test-overwrite"] is Second
    assert First is not Second


def test_hexrd_formats_are_registered():
    for fmt in ("array", "function", "hdf5", "frame-cache", "image-files", "raw-image"):
        assert fmt in Registry.adapter_registry


# -- fch5 inside an open h5py file -----------------------------------------------------------------
def test_fch5_group_round_trip(tmp_path):
    _, ims = make_array_ims()
    fname = tmp_path / "state.h5"
    with h5py.File(fname, "a") as f:
        imageseries.write(ims, f, "frame-cache", threshold=0.5, style="fch5", path="images/det")
    with h5py.File(fname, "r") as f:
        back = imageseries.open(f, "frame-cache", style="fch5", path="images/det")
        assert_same_series(ims, back)


def test_frame_cache_init_error(tmp_path):
    fname = tmp_path / "not-a-cache.npz"
    np.savez(fname, something=np.zeros(3))
    with pytest.raises(ValueError, match="frame-cache"):
        imageseries.open(fname, "frame-cache")

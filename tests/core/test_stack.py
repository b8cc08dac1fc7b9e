"""The lazy stack model: indexing, views, dask/numpy/xarray, pickling, axes."""

import pickle

import numpy as np
import pytest

from scanstack.core import Axis, Stack
from scanstack.core.reader import Reader


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.integers(0, 1000, (4, 3, 5, 6), dtype=np.uint16)


@pytest.fixture
def stack(data):
    axes = [
        Axis("y", 4, "µm", 0.5, 10.0),
        Axis("x", 3, "µm", 0.25, -1.0),
        Axis("row", 5, "px", navigate=False),
        Axis("col", 6, "px", navigate=False),
    ]
    return Stack.from_array(data, axes=axes, metadata={"title": "t"})


def test_shapes(stack, data):
    assert stack.nav_shape == (4, 3)
    assert stack.signal_shape == (5, 6)
    assert stack.shape == data.shape
    assert len(stack) == 12
    assert stack.dtype == np.uint16
    assert stack.nbytes == data.nbytes


def test_frame_access_any_integral(stack, data):
    flat = data.reshape(12, 5, 6)
    np.testing.assert_array_equal(stack[np.int64(3)], flat[3])
    np.testing.assert_array_equal(stack[np.uint8(2)], flat[2])
    np.testing.assert_array_equal(stack[-1], flat[-1])
    np.testing.assert_array_equal(stack[2, 1:3, 2:4], flat[2, 1:3, 2:4])
    rows, cols = np.array([[0, 1], [2, 3]]), np.array([[1, 1], [5, 0]])
    np.testing.assert_array_equal(stack[5, rows, cols], flat[5][rows, cols])
    np.testing.assert_array_equal(stack[1:7:2], flat[1:7:2])
    np.testing.assert_array_equal(stack[[0, 11, 4]], flat[[0, 11, 4]])
    np.testing.assert_array_equal(stack[3:5, ::2], flat[3:5, ::2])
    with pytest.raises(IndexError, match="out of range"):
        stack[12]
    with pytest.raises(IndexError):
        stack[-13]


def test_get_region(stack, data):
    flat = data.reshape(12, 5, 6)
    np.testing.assert_array_equal(stack.get_region(7, ((1, 4), (2, 5))), flat[7, 1:4, 2:5])


def test_inav_isig_views_are_lazy_and_correct(stack, data):
    v = stack.inav[1:3, ::2]
    assert v.nav_shape == (2, 2)
    np.testing.assert_array_equal(v.to_numpy(), data[1:3, ::2])
    assert v.nav_axes[0].offset == pytest.approx(10.5)
    assert v.nav_axes[1].scale == pytest.approx(0.5)
    w = v.isig[1:4, ::-2]
    np.testing.assert_array_equal(w.to_numpy(), data[1:3, ::2, 1:4, ::-2])
    point = stack.inav[2, 1]
    assert point.nav_shape == ()
    np.testing.assert_array_equal(point.to_numpy(), data[2, 1])
    line = stack.isig[3]
    assert line.signal_shape == (6,)
    np.testing.assert_array_equal(line.to_numpy(), data[:, :, 3])
    fancy = stack.inav[[3, 0], 1]
    np.testing.assert_array_equal(fancy.to_numpy(), data[[3, 0], 1])
    np.testing.assert_array_equal(fancy.nav_axes[0].coordinates, [11.5, 10.0])


def test_frames_and_reshape(stack, data):
    f = stack.frames([5, 1, 1])
    np.testing.assert_array_equal(f.to_numpy(), data.reshape(12, 5, 6)[[5, 1, 1]])
    r = stack.reshape_nav((2, 6))
    np.testing.assert_array_equal(r.to_numpy(), data.reshape(2, 6, 5, 6))
    with pytest.raises(ValueError, match="cannot view"):
        stack.reshape_nav((5, 5))


def test_dask(stack, data):
    arr = stack.to_dask()
    assert arr.shape == data.shape and arr.dtype == data.dtype
    np.testing.assert_array_equal(arr.compute(), data)
    small = stack.to_dask(chunks=(1, 2, 5, 3))
    np.testing.assert_array_equal(small[2:, 1, :, 4].compute(), data[2:, 1, :, 4])
    assert float(small.sum().compute()) == float(data.sum(dtype=np.int64))


def test_default_chunks_follow_budget(stack):
    from scanstack.core.config import settings

    with settings(block_bytes=stack.frame_nbytes * 4):
        assert stack.default_chunks() == (1, 3, 5, 6)
    with settings(block_bytes=stack.frame_nbytes * 7):
        assert stack.default_chunks() == (2, 3, 5, 6)
    with settings(block_bytes=stack.frame_nbytes):
        assert stack.default_chunks() == (1, 1, 5, 6)


def test_xarray(stack, data):
    xr = pytest.importorskip("xarray")
    da = stack.to_xarray()
    assert isinstance(da, xr.DataArray)
    assert da.dims == ("y", "x", "row", "col")
    assert da.coords["y"].attrs["units"] == "µm"
    np.testing.assert_allclose(da.coords["x"].values, [-1.0, -0.75, -0.5])
    np.testing.assert_array_equal(da.values, data)
    assert da.attrs["title"] == "t"


def test_rsciio_dicts(stack, data):
    (d,) = stack.to_rsciio_dicts(lazy=False)
    np.testing.assert_array_equal(d["data"], data)
    assert [a["name"] for a in d["axes"]] == ["y", "x", "row", "col"]
    assert d["axes"][0]["navigate"] is True and d["axes"][2]["navigate"] is False
    assert d["axes"][0]["scale"] == 0.5 and d["axes"][0]["units"] == "µm"
    assert d["metadata"]["General"]["title"] == "t"


def test_pickle_views(stack, data):
    w = stack.inav[::-1, 1:].isig[2:, :4]
    back = pickle.loads(pickle.dumps(w))
    np.testing.assert_array_equal(back.to_numpy(), data[::-1, 1:, 2:, :4])


class CountingReader(Reader):
    """A real reader over an array that records each read (frames and region)."""

    format_name = "counting"

    def __init__(self, source=None, *, data):
        super().__init__(source, data=data)
        self.data = data
        self.nav_shape = (data.shape[0],)
        self.signal_shape = data.shape[1:]
        self.dtype = data.dtype
        self.calls = []

    def read(self, start, stop, region=None):
        self.calls.append((start, stop, region))
        block = self.data[start:stop]
        return block if region is None else block[(slice(None), *region)]


def test_region_reads_reach_the_reader():
    from scanstack.core.stack import ReaderStack

    data = np.arange(10 * 8 * 8, dtype=np.int32).reshape(10, 8, 8)
    reader = CountingReader(data=data)
    s = ReaderStack(reader)
    np.testing.assert_array_equal(s.isig[2:5, 1:3][4], data[4, 2:5, 1:3])
    assert reader.calls[-1] == (4, 5, (slice(2, 5), slice(1, 3)))
    np.testing.assert_array_equal(s.get_region(9, ((0, 2), (6, 8))), data[9, :2, 6:])
    assert reader.calls[-1][2] == (slice(0, 2), slice(6, 8))
    reader.calls.clear()
    np.testing.assert_array_equal(s[[1, 2, 3, 7, 8]], data[[1, 2, 3, 7, 8]])
    assert [c[:2] for c in reader.calls] == [(1, 4), (7, 9)]


def test_a_crop_of_a_unit_step_view_reads_only_the_crop():
    # isig[2:7] (step 1, explicit or not) is a plain region: a crop of it is composed into one
    # region read, not the view's whole region read and then cut
    from scanstack.core.stack import ReaderStack

    data = np.arange(10 * 8 * 8, dtype=np.int32).reshape(10, 8, 8)
    reader = CountingReader(data=data)
    s = ReaderStack(reader)
    for view in (s.isig[2:7], s.isig[2:7:1, ::1]):
        np.testing.assert_array_equal(view[3, 1:3, 2:4], data[3, 3:5, 2:4])
        assert reader.calls[-1] == (3, 4, (slice(3, 5), slice(2, 4)))
    strided = s.isig[2:7, ::2]  # a step is applied after reading the view's region
    np.testing.assert_array_equal(strided[3, 1:3, 1:3], data[3, 3:5, 2:6:2])
    assert reader.calls[-1] == (3, 4, (slice(2, 7), slice(0, 8)))


def test_iter_blocks_cover_everything(stack, data):
    seen = np.concatenate([b for _, _, b in stack.iter_blocks(frames_per_block=5)])
    np.testing.assert_array_equal(seen, data.reshape(12, 5, 6))
    frames = list(stack)
    assert len(frames) == 12
    np.testing.assert_array_equal(frames[7], data.reshape(12, 5, 6)[7])


def test_context_manager_closes():
    closed = []

    class Closing(CountingReader):
        def close(self):
            closed.append(True)

    from scanstack.core.stack import ReaderStack

    with ReaderStack(Closing(data=np.zeros((2, 3, 3)))) as s:
        assert len(s) == 2
    assert closed == [True]


def test_axis_validation():
    with pytest.raises(ValueError, match="coordinate values"):
        Axis("e", 3, values=[1, 2])
    a = Axis("e", 4, "keV", values=[0.1, 0.2, 0.4, 0.8], navigate=False)
    assert not a.is_uniform
    assert a.index(slice(1, 3)).coordinates.tolist() == [0.2, 0.4]


def test_one_image_with_its_two_axes_gets_a_frame_axis():
    """A 2-D array with its 2 axes is one frame (as in hexrd): the stack's axes must describe all
    three dimensions (the napari writer found them one short)."""
    image = np.arange(12.0).reshape(3, 4)
    axes = [Axis("r", 3, "µm", 2.0, navigate=False), Axis("c", 4, "µm", 0.5, navigate=False)]
    s = Stack.from_array(image, signal_ndim=2, axes=axes)
    assert s.shape == (1, 3, 4)
    assert [(a.name, a.size, a.navigate) for a in s.axes] == [
        ("frame", 1, True),
        ("r", 3, False),
        ("c", 4, False),
    ]
    assert (s.axes[1].units, s.axes[1].scale) == ("µm", 2.0)
    np.testing.assert_array_equal(s[0], image)
    assert s.to_xarray().dims == ("frame", "r", "c")


def test_axes_that_do_not_match_the_array_are_refused():
    from scanstack.core.errors import FormatError

    with pytest.raises(FormatError, match=r"2 axes .* 3 dimensions"):
        Stack.from_array(np.zeros((2, 3, 4)), signal_ndim=2, axes=[Axis("r", 3), Axis("c", 4)])
    with pytest.raises(FormatError, match="axis 'r' has 5 points, the array 3"):
        Stack.from_array(np.zeros((2, 3, 4)), 2, [Axis("f", 2), Axis("r", 5), Axis("c", 4)])

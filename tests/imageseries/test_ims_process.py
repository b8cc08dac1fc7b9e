"""hexrd T/test_process and TC/test_process (public parts), through the drop-in only."""

import numpy as np
import pytest
from ims_common import make_array_ims, omega_meta

from scanstack import imageseries
from scanstack.imageseries.process import ProcessedImageSeries

FLIPS = {
    "t": lambda f: f.T,
    "T": lambda f: f.T,
    "v": lambda f: f[:, ::-1],
    "y": lambda f: f[:, ::-1],
    "h": lambda f: f[::-1, :],
    "x": lambda f: f[::-1, :],
    "vh": lambda f: f[::-1, ::-1],
    "hv": lambda f: f[::-1, ::-1],
    "r180": lambda f: np.rot90(f, 2),
    "ccw90": np.rot90,
    "r90": np.rot90,
    "cw90": lambda f: np.rot90(f, -1),
    "r270": lambda f: np.rot90(f, -1),
    "none": lambda f: f,
    "anything-else": lambda f: f,
}


def test_no_ops_is_the_original():
    a, ims = make_array_ims()
    p = ProcessedImageSeries(ims, [])
    assert len(p) == len(ims)
    for i in range(len(ims)):
        np.testing.assert_array_equal(p[i], a[i])


@pytest.mark.parametrize("code", sorted(FLIPS))
def test_flip(code):
    a, ims = make_array_ims()
    p = ProcessedImageSeries(ims, [("flip", code)])
    for i in range(len(ims)):
        np.testing.assert_array_equal(p[i], FLIPS[code](a[i]))
    assert p.shape == FLIPS[code](a[0]).shape


def test_dark_ones():
    a, ims = make_array_ims()
    dark = np.ones(ims.shape)
    p = ProcessedImageSeries(ims, [("dark", dark)])
    for i in range(len(ims)):
        np.testing.assert_array_equal(p[i], np.where(a[i] >= 1, a[i] - 1, 0))


def test_dark_follows_changes_to_the_oplist():
    a, ims = make_array_ims()
    oplist = [("dark", np.zeros(ims.shape))]
    p = ProcessedImageSeries(ims, oplist)
    np.testing.assert_array_equal(p[0], a[0])
    p.oplist[0] = ("dark", np.full(ims.shape, 10.0))
    np.testing.assert_array_equal(p[0], np.clip(a[0] - 10.0, 0, None))
    assert p.oplist is oplist


def test_frame_list_cuts_frames_and_omega():
    a, ims = make_array_ims(shape=(6, 5, 7))
    ims.metadata["omega"] = omega_meta(6)
    frames = [1, 3, 4]
    p = ProcessedImageSeries(ims, [], frame_list=frames)
    assert len(p) == 3
    for k, f in enumerate(frames):
        np.testing.assert_array_equal(p[k], a[f])
    np.testing.assert_array_equal(p.metadata["omega"], omega_meta(6)[frames])
    assert ims.metadata["omega"].shape == (6, 2)  # the source is untouched


def test_shape_and_dtype_are_those_of_frame_0():
    a, ims = make_array_ims()
    p = ProcessedImageSeries(ims, [("flip", "t"), ("add", 1.5), ("rectangle", ((0, 3), (1, 4)))])
    assert p.shape == p[0].shape == (3, 3)
    assert p.dtype == p[0].dtype


def test_add_casts_integers_to_float32():
    a, ims = make_array_ims()
    p = ProcessedImageSeries(ims, [("add", 2)])
    assert p.dtype == np.float32 and p[1].dtype == np.float32
    np.testing.assert_array_equal(p[1], a[1].astype(np.float32) + 2)


def test_gauss_laplace_matches_scipy():
    from scipy import ndimage

    a, ims = make_array_ims(dtype=np.float64)
    p = ProcessedImageSeries(ims, [("gauss_laplace", 1.5)])
    np.testing.assert_allclose(p[2], ndimage.gaussian_laplace(a[2], 1.5))
    assert p.dtype == np.float64


@pytest.mark.parametrize("where", [1, [0, 3]])
def test_add_row_and_column(where):
    a, ims = make_array_ims()
    p = ProcessedImageSeries(ims, [("add-row", where), ("add-column", where)])
    ref = np.insert(np.insert(a[0], where, 0, axis=0), where, 0, axis=1)
    np.testing.assert_array_equal(p[0], ref)
    assert p.shape == ref.shape


class SeriesRecordingRegions:
    """A duck-typed image series (hexrd's tests use one) that records get_region calls."""

    def __init__(self, data):
        self.data = data
        self.regions = []
        self.metadata = {}

    def __len__(self):
        return len(self.data)

    def __getitem__(self, key):
        return self.data[key]

    @property
    def shape(self):
        return self.data.shape[1:]

    @property
    def dtype(self):
        return self.data.dtype

    def get_region(self, i, region):
        self.regions.append((i, region))
        (r0, r1), (c0, c1) = region
        return self.data[i, r0:r1, c0:c1]


def test_rectangle_first_reads_only_the_region():
    a, _ = make_array_ims()
    src = SeriesRecordingRegions(a)
    rect = ((1, 4), (2, 6))
    p = ProcessedImageSeries(src, [("rectangle", rect), ("flip", "v")])
    np.testing.assert_array_equal(p[1], a[1, 1:4, 2:6][:, ::-1])
    assert src.regions == [(1, rect)]


def test_rectangle_after_dark_with_fancy_index():
    a, ims = make_array_ims()
    dark = np.full(ims.shape, 3)
    p = ProcessedImageSeries(ims, [("dark", dark), ("rectangle", ((1, 4), (0, 5)))])
    rows, cols = np.array([0, 2]), np.array([1, 4])
    ref = np.clip(a[2] - 3, 0, None)[1:4, 0:5][rows, cols]
    np.testing.assert_array_equal(p[2, rows, cols], ref)


def test_addop():
    a, ims = make_array_ims()
    p = ProcessedImageSeries(ims, [("double", None)])

    def double(img, data):
        return 2 * img

    p.addop("double", double)
    assert p._opdict["double"] is double
    np.testing.assert_array_equal(p[0], 2 * a[0])


def test_unknown_op_raises_keyerror():
    _, ims = make_array_ims()
    p = ProcessedImageSeries(ims, [("no-such-op", 1)])
    with pytest.raises(KeyError, match="no-such-op"):
        p[0]


def test_numpy_integer_keys_and_slices():
    a, ims = make_array_ims()
    p = ProcessedImageSeries(ims, [("flip", "h")])
    np.testing.assert_array_equal(p[np.int64(2)], a[2][::-1])
    np.testing.assert_array_equal(p[0:2], a[0:2, ::-1])
    assert ims[np.int32(1)].shape == ims.shape
    np.testing.assert_array_equal(ims[np.array(2), 1:3], a[2, 1:3])


def test_nesting_processed_series_any_order():
    a, ims = make_array_ims(shape=(4, 6, 8))
    ims.metadata["omega"] = omega_meta(4)
    inner = ProcessedImageSeries(ims, [("flip", "t")], frame_list=[3, 1, 2])
    oims = imageseries.omega.OmegaImageSeries(inner)
    outer = ProcessedImageSeries(oims, [("rectangle", ((1, 5), (2, 4))), ("add", 1)])
    ref = a[[3, 1, 2]].transpose(0, 2, 1)[:, 1:5, 2:4] + 1
    for i in range(3):
        np.testing.assert_array_equal(outer[i], ref[i])
    np.testing.assert_array_equal(oims.get_region(0, ((0, 2), (0, 3))), a[3].T[:2, :3])
    np.testing.assert_array_equal(outer.metadata["omega"], omega_meta(4)[[3, 1, 2]])


def test_options_are_forwarded():
    _, ims = make_array_ims()
    p = ProcessedImageSeries(ims, [])
    assert p.option_values() == {}

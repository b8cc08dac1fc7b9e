"""hexrd T/test_properties: an array series reports the array's length, frame shape, dtype."""

from ims_common import make_array_ims


def test_len():
    a, ims = make_array_ims()
    assert len(ims) == a.shape[0]


def test_shape_is_frame_shape():
    a, ims = make_array_ims()
    assert ims.shape == a.shape[1:]


def test_dtype():
    a, ims = make_array_ims()
    assert ims.dtype == a.dtype

"""hexrd T/test_stats and TC/test_stats (public parts): dtypes, values, chunked variants, and
every kind of input (series, Stack, ndarray, duck-typed sequence)."""

import numpy as np
import pytest
from ims_common import random_array

from scanstack import imageseries
from scanstack.imageseries import stats

A = random_array((6, 9, 8), seed=3, dtype=np.uint16)


def series(a=A):
    return imageseries.open(None, "array", data=a)


class FrameList:
    """Duck-typed input: a length, frames by index, a frame shape and dtype (no metadata)."""

    def __init__(self, a):
        self.a = a
        self.shape = a.shape[1:]
        self.dtype = a.dtype

    def __len__(self):
        return len(self.a)

    def __getitem__(self, i):
        return self.a[i]


INPUTS = {
    "series": series,
    "stack": lambda a: series(a).stack,
    "ndarray": lambda a: a,
    "duck": FrameList,
    "processed": lambda a: imageseries.process.ProcessedImageSeries(series(a), []),
}


@pytest.mark.parametrize("kind", sorted(INPUTS))
def test_results_and_dtypes(kind):
    ims = INPUTS[kind](A)
    avg = stats.average(ims)
    assert avg.dtype == np.float32
    np.testing.assert_allclose(avg, np.average(A, axis=0), rtol=1e-6)
    total = stats.sum(ims)
    assert total.dtype == np.float64
    np.testing.assert_array_equal(total, np.sum(A, axis=0))
    np.testing.assert_allclose(total, avg * len(A), rtol=1e-6)
    med = stats.median(ims)
    assert med.dtype == np.float32
    np.testing.assert_allclose(med, np.median(A, axis=0))
    mx, mn = stats.max(ims), stats.min(ims)
    assert mx.dtype == mn.dtype == A.dtype
    np.testing.assert_array_equal(mx, A.max(axis=0))
    np.testing.assert_array_equal(mn, A.min(axis=0))
    p90 = stats.percentile(ims, 90)
    assert p90.dtype == np.float32
    np.testing.assert_allclose(p90, np.percentile(A, 90, axis=0), rtol=1e-6)


def test_nframes_uses_the_first_frames():
    ims = series()
    np.testing.assert_array_equal(stats.max(ims, 2), A[:2].max(axis=0))
    np.testing.assert_allclose(stats.median(ims, nframes=3), np.median(A[:3], axis=0))
    np.testing.assert_array_equal(stats.sum(ims, nframes=100), A.sum(axis=0))


@pytest.mark.parametrize("nchunk", [1, 2, 3])
def test_frame_chunked_equal_unchunked(nchunk):
    ims = series()
    for name in ("max", "min", "sum", "average"):
        out = list(getattr(stats, f"{name}_iter")(ims, nchunk))
        assert len(out) == nchunk
        np.testing.assert_allclose(out[-1], getattr(stats, name)(ims), rtol=1e-6, err_msg=name)
        assert out[-1].dtype == getattr(stats, name)(ims).dtype
    first = next(stats.average_iter(ims, 3))  # the running mean after the first chunk
    np.testing.assert_allclose(first, A[:2].mean(axis=0), rtol=1e-6)


@pytest.mark.parametrize("nchunks", [1, 2, 3])
@pytest.mark.parametrize("use_buffer", [True, False])
def test_row_chunked_median_equals_unchunked(nchunks, use_buffer):
    ims = series()
    out = list(stats.median_iter(ims, nchunks, use_buffer=use_buffer))
    assert len(out) == nchunks
    np.testing.assert_array_equal(out[-1], stats.median(ims))
    p = list(stats.percentile_iter(FrameList(A), 25, nchunks, nframes=4))
    np.testing.assert_allclose(p[-1], np.percentile(A[:4], 25, axis=0), rtol=1e-6)
    if nchunks > 1:  # the first yield has only its band of rows filled
        assert not p[0][-1].any()


def test_too_many_chunks():
    with pytest.raises(ValueError):
        list(stats.sum_iter(series(), 7))

"""hexrd T/test_formats: write then read hdf5 and frame-cache (npz, fch5) series."""

import numpy as np
import pytest
from ims_common import assert_same_meta, assert_same_series, make_array_ims

from scanstack import imageseries

H5PATH = "imageseries"
THRESHOLD = 0.5


# -- hdf5 -------------------------------------------------------------------------------------
def test_hdf5_round_trip(tmp_path):
    _, ims = make_array_ims()
    fname = tmp_path / "ims.h5"
    imageseries.write(ims, fname, "hdf5", path=H5PATH)
    back = imageseries.open(fname, "hdf5", path=H5PATH)
    assert_same_series(ims, back)


def test_hdf5_metadata(tmp_path):
    _, ims = make_array_ims()
    fname = tmp_path / "ims.h5"
    imageseries.write(ims, fname, "hdf5", path=H5PATH)
    assert_same_meta(ims, imageseries.open(fname, "hdf5", path=H5PATH))


def test_hdf5_no_compression(tmp_path):
    _, ims = make_array_ims()
    fname = tmp_path / "ims.h5"
    imageseries.write(ims, fname, "hdf5", path=H5PATH, gzip=0)
    assert_same_series(ims, imageseries.open(fname, "hdf5", path=H5PATH))


def test_hdf5_gzip_out_of_range(tmp_path):
    _, ims = make_array_ims()
    with pytest.raises(ValueError):
        imageseries.write(ims, tmp_path / "ims.h5", "hdf5", path=H5PATH, gzip=10)


def test_hdf5_chunk_rows_zero(tmp_path):
    _, ims = make_array_ims()
    fname = tmp_path / "ims.h5"
    imageseries.write(ims, fname, "hdf5", path=H5PATH, chunk_rows=0)
    assert_same_series(ims, imageseries.open(fname, "hdf5", path=H5PATH))


# -- frame-cache --------------------------------------------------------------------------------
STYLES = {"npz": "fc.npz", "fch5": "fc.fch5"}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_framecache_round_trip(tmp_path, style):
    _, ims = make_array_ims()
    fname = tmp_path / STYLES[style]
    imageseries.write(ims, fname, "frame-cache", threshold=THRESHOLD, style=style)
    back = imageseries.open(fname, "frame-cache", style=style)
    assert_same_series(ims, back)


@pytest.mark.parametrize("style", sorted(STYLES))
def test_framecache_cache_file_wins_over_fname(tmp_path, style):
    _, ims = make_array_ims()
    cache = tmp_path / STYLES[style]
    imageseries.write(
        ims, "dummy", "frame-cache", threshold=THRESHOLD, style=style, cache_file=cache
    )
    assert not (tmp_path / "dummy").exists()
    assert_same_series(ims, imageseries.open(cache, "frame-cache", style=style))


@pytest.mark.parametrize("style", sorted(STYLES))
def test_framecache_metadata(tmp_path, style):
    _, ims = make_array_ims()
    fname = tmp_path / STYLES[style]
    imageseries.write(ims, fname, "frame-cache", threshold=THRESHOLD, style=style)
    assert_same_meta(ims, imageseries.open(fname, "frame-cache", style=style))


def test_fch5_nested_metadata(tmp_path):
    _, ims = make_array_ims()
    ims.metadata["nested"] = {"a": np.arange(4.0), "b": {"c": "text", "d": 3}}
    fname = tmp_path / STYLES["fch5"]
    imageseries.write(ims, fname, "frame-cache", threshold=THRESHOLD, style="fch5")
    back = imageseries.open(fname, "frame-cache", style="fch5")
    np.testing.assert_array_equal(back.metadata["nested"]["a"], np.arange(4.0))
    assert back.metadata["nested"]["b"]["c"] == "text"
    assert back.metadata["nested"]["b"]["d"] == 3
    # unlike hexrd, writing leaves the source's nested metadata alone
    assert set(ims.metadata["nested"]) == {"a", "b"}


def test_open_detects_the_format(tmp_path):
    _, ims = make_array_ims()
    fname = tmp_path / "ims.h5"
    imageseries.write(ims, fname, "hdf5", path=H5PATH)
    assert_same_series(ims, imageseries.open(fname))


def test_open_unknown_format_is_a_keyerror():
    with pytest.raises(KeyError, match="no-such-format"):
        imageseries.open(None, "no-such-format")


def test_open_without_anything_is_zero_length():
    with pytest.raises(RuntimeError, match="zero length imageseries"):
        imageseries.open(None)


def test_processed_series_round_trip(tmp_path):
    a, ims = make_array_ims()
    p = imageseries.process.ProcessedImageSeries(ims, [("flip", "t")], frame_list=[2, 0])
    p.metadata["omega"] = np.array([[0.0, 1.0], [1.0, 2.0]])
    fname = tmp_path / "p.npz"
    imageseries.write(p, fname, "frame-cache", threshold=THRESHOLD, style="npz")
    back = imageseries.open(fname, "frame-cache")
    assert_same_series(p, back)
    np.testing.assert_array_equal(back.metadata["omega"], p.metadata["omega"])

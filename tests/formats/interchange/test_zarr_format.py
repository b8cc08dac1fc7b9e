"""Zarr v3: parallel writing (threads and dask.distributed), lazy reading, xarray, foreign stores."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from _interchange_helpers import assert_same_axes, assert_same_stack

import scanstack
from scanstack.core.errors import FormatError, UnsupportedError
from scanstack.formats.nexus import write_nexus
from scanstack.formats.zarr import write_zarr


@pytest.mark.parametrize("compression", [None, "gzip", "zstd", "blosc-zstd", "blosc-lz4"])
def test_round_trip_and_compression(tmp_path, xrf_stack, compression):
    out = scanstack.save(
        xrf_stack, tmp_path / "map.zarr", "zarr", compression=compression, progress=True
    )
    arr = zarr.open_group(str(out), mode="r")["data"]
    assert arr.metadata.zarr_format == 3
    assert (len(arr.compressors) > 0) == (compression is not None)
    assert arr.chunks[-1] == 256  # whole spectra per chunk
    with scanstack.open(out) as s:
        assert s.format == "zarr"
        assert_same_stack(s, xrf_stack)
        assert s.original_metadata == xrf_stack.original_metadata


def test_4d_chunks_progress_and_extension(tmp_path, stem_stack):
    calls = []
    out = scanstack.save(
        stem_stack,
        tmp_path / "stem.zarr",
        file_chunk_bytes=2 * 16 * 12 * 2,
        progress=lambda done, total: calls.append((done, total)),
    )
    arr = zarr.open_group(str(out), mode="r")["data"]
    assert arr.chunks == (1, 2, 16, 12)  # two whole frames per chunk, as asked
    assert calls[-1] == (12, 12) and len(calls) == 6  # one tick per chunk, in frames
    s = scanstack.open(out)
    np.testing.assert_array_equal(s.to_numpy(), stem_stack.to_numpy())
    np.testing.assert_array_equal(
        s.isig[3:9, 2:4].to_numpy(), stem_stack.to_numpy()[:, :, 3:9, 2:4]
    )
    assert_same_axes(s.axes, stem_stack.axes)


def test_xarray_sees_dims_and_coordinates(tmp_path, xrf_stack):
    import xarray as xr

    out = write_zarr(xrf_stack, tmp_path / "map.zarr")
    ds = xr.open_zarr(out, consolidated=False)
    assert ds["data"].dims == ("y", "x", "energy")
    np.testing.assert_allclose(ds["x"].values, 5.0 + 0.01 * np.arange(10))
    assert ds["energy"].attrs["units"] == "keV"
    np.testing.assert_allclose(ds["live_time"].values.ravel(), xrf_stack.metadata["live_time"])
    np.testing.assert_array_equal(ds["data"].values, xrf_stack.to_numpy())


def test_reading_is_lazy(tmp_path, stem_stack):
    out = write_zarr(
        stem_stack, tmp_path / "stem.zarr", file_chunk_bytes=16 * 12 * 2, compression="zstd"
    )
    last_chunk = out / "data" / "c" / "2" / "3" / "0" / "0"
    assert last_chunk.is_file()
    last_chunk.write_bytes(b"garbage, not zstd")
    s = scanstack.open(out)  # opening and reading other frames never touches the damaged chunk
    np.testing.assert_array_equal(s[0], stem_stack[0])
    np.testing.assert_array_equal(s.read(0, 11), stem_stack.read(0, 11))
    with pytest.raises(FormatError, match="cannot read frames 11:12") as err:
        s[11]
    assert err.value.path == str(out) and err.value.where == "data"


def _convert_on_cluster(tmp_path, xrf_stack, processes: bool, fmt: str):
    distributed = pytest.importorskip("distributed")
    src = write_nexus(xrf_stack, tmp_path / "source.h5")
    stack = scanstack.open(src)
    done = []
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        out = scanstack.save(
            stack,
            tmp_path / f"out.{fmt}",
            fmt,
            client=client,
            compression="gzip",
            file_chunk_bytes=4 * 256 * 2,
            progress=lambda d, t: done.append(d),
        )
    assert done[-1] == 50 and len(done) > 5  # chunk by chunk
    back = scanstack.open(out, fmt)
    np.testing.assert_array_equal(back.to_numpy(), xrf_stack.to_numpy())
    np.testing.assert_allclose(back.metadata["live_time"], xrf_stack.metadata["live_time"])
    stack.close()


@pytest.mark.parametrize("fmt", ["zarr", "nexus", "usid"])
def test_distributed_client_converts_a_file(tmp_path, xrf_stack, fmt):
    """The client= path: chunks stored (zarr) or compressed (HDF5) by cluster workers (threads)."""
    _convert_on_cluster(tmp_path, xrf_stack, processes=False, fmt=fmt)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["zarr", "nexus"])
def test_distributed_worker_processes_reopen_the_file(tmp_path, xrf_stack, fmt):
    """Worker processes get the stack by pickling, re-open the source file and do the chunks."""
    _convert_on_cluster(tmp_path, xrf_stack, processes=True, fmt=fmt)


def test_read_foreign_zarr(tmp_path):
    cube = np.arange(2 * 3 * 7, dtype=np.float32).reshape(2, 3, 7)
    g = zarr.open_group(str(tmp_path / "foreign.zarr"), mode="w", zarr_format=3)
    a = g.create_array(
        "counts",
        shape=cube.shape,
        dtype="f4",
        chunks=(1, 3, 7),
        dimension_names=["row", "col", "E"],
    )
    a[...] = cube
    e = g.create_array("E", shape=(7,), dtype="f8", dimension_names=["E"])
    e[...] = np.linspace(1.0, 7.0, 7)
    e.attrs["units"] = "keV"
    assert scanstack.detect_format(tmp_path / "foreign.zarr") == "zarr"
    s = scanstack.open(tmp_path / "foreign.zarr", "zarr", signal_ndim=1)
    assert s.nav_shape == (2, 3) and s.signal_shape == (7,)
    np.testing.assert_array_equal(s.to_numpy(), cube)
    assert [a.name for a in s.axes] == ["row", "col", "E"]
    assert s.axes[2].units == "keV" and s.axes[2].scale == pytest.approx(1.0)
    # zarr v2 array: default signal_ndim is 2 (frames), as for in-memory arrays
    v2 = zarr.open_array(
        str(tmp_path / "v2.zarr"), mode="w", shape=(4, 5, 6), dtype="u2", zarr_format=2
    )
    v2[...] = 3
    s2 = scanstack.open(tmp_path / "v2.zarr")
    assert s2.nav_shape == (4,) and s2.signal_shape == (5, 6)
    assert int(s2.to_numpy().sum()) == 3 * 120


def test_errors(tmp_path, xrf_stack):
    with pytest.raises(UnsupportedError, match="lzf"):
        write_zarr(xrf_stack, tmp_path / "x.zarr", compression="lzf")
    folder = tmp_path / "not_zarr"
    folder.mkdir()
    with pytest.raises(FormatError, match="not a zarr store"):
        scanstack.open(folder, "zarr")
    g = zarr.open_group(str(tmp_path / "text.zarr"), mode="w", zarr_format=3)
    g.create_array("names", shape=(3,), dtype=str)
    with pytest.raises(FormatError, match="numeric"):
        scanstack.open(tmp_path / "text.zarr", "zarr")
    out = write_zarr(xrf_stack, tmp_path / "ok.zarr")
    with pytest.raises(FormatError, match="no array 'nope'"):
        scanstack.open(out, "zarr", path="nope")
    meta = json.loads((out / "zarr.json").read_text())
    assert meta["attributes"]["scanstack"]["nav_ndim"] == 2
    damaged = write_zarr(xrf_stack, tmp_path / "damaged.zarr")
    (damaged / "data" / "zarr.json").unlink()  # live_time (y, x) was read as the data instead
    with pytest.raises(FormatError, match="'data', which is missing"):
        scanstack.open(damaged, "zarr")


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_read_xarray_written_store(tmp_path, zarr_format):
    """A store written by xarray's to_zarr: coordinates with units become axes; long_name and
    units of the data variable become the title and units."""
    xr = pytest.importorskip("xarray")
    cube = np.random.default_rng(0).poisson(3, (5, 10, 64)).astype(np.uint16)
    coords = {
        "y": ("y", 1 + 0.02 * np.arange(5), {"units": "mm"}),
        "x": ("x", 5 + 0.01 * np.arange(10), {"units": "mm"}),
        "energy": ("energy", 0.5 + 0.02 * np.arange(64), {"units": "keV"}),
    }
    attrs = {"units": "counts", "long_name": "XRF map"}
    ds = xr.Dataset({"counts": (("y", "x", "energy"), cube, attrs)}, coords=coords)
    path = tmp_path / f"xr{zarr_format}.zarr"
    ds.to_zarr(path, zarr_format=zarr_format, consolidated=False)
    s = scanstack.open(path, "zarr", path="counts", signal_ndim=1)
    assert s.nav_shape == (5, 10) and s.signal_shape == (64,)
    np.testing.assert_array_equal(s.to_numpy(), cube)
    assert [(a.name, a.units, a.scale, a.offset) for a in s.axes] == [
        ("y", "mm", 0.02, 1.0),
        ("x", "mm", 0.01, 5.0),
        ("energy", "keV", 0.02, 0.5),
    ]
    assert (s.metadata["title"], s.metadata["units"]) == ("XRF map", "counts")

"""Whole reads (``to_numpy`` / ``np.asarray``) land straight in the result: no block filled and
then copied, so the only large allocation is the result itself (tracemalloc peak)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import scanstack
from scanstack import Stack, settings
from scanstack.datasets import SyntheticFrames
from scanstack.formats import mib
from traced_peak import traced_peak

CHUNK = 1 << 20  # blocks of 1 MiB: a fill-then-copy read would hold one or two of them


def _data(n=40, shape=(128, 256), dtype="<u2") -> np.ndarray:
    rng = np.random.default_rng(1)
    data = rng.poisson(2.0, (n, *shape)).astype(dtype)
    data[:, ::17, ::13] = 3000  # bright pixels above the frame-cache threshold
    return data


def _check(open_stack, dense, slack=CHUNK // 4):
    with settings(block_bytes=CHUNK), open_stack() as s:
        got, peak = traced_peak(s.to_numpy)
        np.testing.assert_array_equal(got, dense)
        assert got.flags.c_contiguous and got.dtype == s.dtype
        assert peak <= dense.nbytes + slack, (peak - dense.nbytes, slack)
        np.testing.assert_array_equal(np.asarray(s), dense)


@pytest.mark.parametrize("contiguous", [True, False])
def test_hdf5_reads_into_the_result(tmp_path, contiguous):
    dense = _data()
    path = tmp_path / "series.h5"
    with h5py.File(path, "w") as f:
        chunks = None if contiguous else (1, *dense.shape[1:])
        f.create_dataset("imageseries/images", data=dense, chunks=chunks)
    _check(lambda: scanstack.open(path, "hdf5", path="imageseries"), dense)


def test_gzip_hdf5_decodes_into_the_result(tmp_path):
    dense = _data()
    path = tmp_path / "series.h5"
    scanstack.save(Stack.from_array(dense), path, "hdf5", path="imageseries", gzip=1)
    # compressed chunks are decoded in threads: a block's raw and decoded chunks are alive at once
    _check(lambda: scanstack.open(path, "hdf5", path="imageseries"), dense, slack=3 * CHUNK)


@pytest.mark.parametrize("style", ["npz", "fch5"])
def test_frame_cache_scatters_into_the_result(tmp_path, style):
    dense = _data()
    dense[dense <= 10] = 0  # what a frame cache with threshold 10 keeps
    path = tmp_path / f"cache.{style}"
    scanstack.save(Stack.from_array(dense), path, "frame-cache", threshold=10, style=style)
    _check(lambda: scanstack.open(path, "frame-cache"), dense)


@pytest.mark.parametrize("dtype", ["<u2", ">u2", "<f4"])
def test_memory_maps_are_copied_in_threads(tmp_path, dtype):
    dense = _data(dtype=dtype)
    path = tmp_path / "frames.raw"
    dense.tofile(path)
    _check(lambda: scanstack.open(path, "raw-image", shape=dense.shape[1:], dtype=dtype), dense)


def test_mib_reads_into_the_result(tmp_path):
    frames = SyntheticFrames(24, (128, 128), 12, seed=2)[0:24]
    path = tmp_path / "scan.mib"
    mib.write_mib(path, frames, 12, layout="2x2", nav_shape=(4, 6))
    _check(lambda: scanstack.open(str(path)), frames.reshape(4, 6, 128, 128))


def test_frame_cache_read_into_clears_what_it_does_not_write(tmp_path):
    dense = _data(n=5)
    dense[dense <= 10] = 0
    path = tmp_path / "cache.npz"
    scanstack.save(Stack.from_array(dense), path, "frame-cache", threshold=10)
    with scanstack.open(path, "frame-cache") as s:
        out = np.full(dense.shape, 7, dense.dtype)  # not zeros: the reader must clear it
        s.reader.read_into(0, 5, out)
        np.testing.assert_array_equal(out, dense)


@pytest.mark.parametrize("first", [0, 3])
@pytest.mark.parametrize("offset", [0, 100, 70_001])
def test_memory_map_views_are_read_from_their_own_bytes(tmp_path, offset, first):
    """A memory map (or a view of one) whose bytes are the result's is read with preadv from
    the right file position, whatever the map's offset (not a multiple of the page size)."""
    from scanstack.core.wholeread import copy_in_threads

    data = _data(12, (64, 96))
    path = tmp_path / "frames.raw"
    path.write_bytes(b"\x07" * offset + data.tobytes() + b"\x09" * 33)
    src = np.memmap(path, data.dtype, "r", offset=offset, shape=data.shape)[first:]
    for step in (1, 5, 100):
        out = np.zeros_like(data[first:])
        ticks = []
        copy_in_threads(src, out, step, ticks.append)
        np.testing.assert_array_equal(out, data[first:])
        assert sum(ticks) == len(out)
    swapped = np.memmap(path, data.dtype.newbyteorder(), "r", offset=offset, shape=data.shape)
    out = np.zeros(data.shape, data.dtype)
    copy_in_threads(swapped, out, 4, lambda k: None)  # other byte order: copied, values kept
    np.testing.assert_array_equal(out, swapped)


def test_runs_cover_every_item_once():
    from concurrent.futures import ThreadPoolExecutor

    from scanstack.core.readahead import each_run, partitions

    for n in (0, 1, 2, 7, 64):
        for parts in (1, 2, 3, 100):
            got = partitions(n, parts)
            assert [i for a, b in got for i in range(a, b)] == list(range(n))
            assert len(got) <= max(1, parts) and all(b > a for a, b in got)
    seen = []
    each_run(lambda a, b: seen.extend(range(a, b)), partitions(50, 3))
    assert sorted(seen) == list(range(50))
    with pytest.raises(ZeroDivisionError):
        each_run(lambda a, b: 1 / 0, partitions(10, 2))
    # results come back in part order, on threads started for the call or on a given pool
    parts = partitions(10, 3)
    assert each_run(lambda a, b: (a, b), parts) == parts
    with ThreadPoolExecutor(2) as pool:
        assert each_run(lambda a, b: (a, b), parts, pool) == parts

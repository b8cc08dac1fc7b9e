"""The four keywords of every out-of-core function, resolved in one place; renamed keywords."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import scanstack
from scanstack import imageseries, stats, stem, xrf
from scanstack.core.config import config, settings
from scanstack.core.resources import resolve
from scanstack.core.writing import file_chunk_target
from scanstack.preview import preview, save_preview

KEYWORDS = ("client", "threads", "progress", "memory_budget")


def _writers():
    return {
        name: spec.writer
        for name, spec in scanstack.formats().items()
        if spec.writer is not None and name != "crono"  # crono's writer is a thin wrapper
    }


def _out_of_core():
    from scanstack.formats.crono.save import write_stack

    funcs = [
        stats.max,
        stats.min,
        stats.sum,
        stats.average,
        stats.median,
        stats.percentile,
        stats.reduce_together,
        stem.sum_pattern,
        stem.max_pattern,
        stem.virtual_images,
        xrf.summarize,
        xrf.sum_spectrum,
        xrf.mean_spectrum,
        xrf.max_spectrum,
        xrf.element_maps,
        xrf.preview_data,
        preview,
        save_preview,
        write_stack,
    ]
    return funcs + [w for w in _writers().values() if w.__name__ not in ("write_v1", "write_v2")]


@pytest.mark.parametrize("func", _out_of_core(), ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_every_out_of_core_function_takes_the_four_keywords(func):
    params = inspect.signature(func).parameters
    for name in KEYWORDS:
        assert name in params, (func, name)
        kind = params[name].kind
        assert kind is inspect.Parameter.KEYWORD_ONLY or (
            name == "progress" and func.__name__ in ("preview", "save_preview", "save")
        ), (func, name, kind)  # preview(stack, progress) and mib's save keep their position


def test_defaults_come_from_config():
    with settings(memory_budget=12345, num_threads=3, progress=True):
        res = resolve()
        assert (res.client, res.threads, res.progress, res.memory_budget) == (None, 3, True, 12345)
        res = resolve(threads=1, memory_budget=99, progress=False)
        assert (res.threads, res.memory_budget, res.progress) == (1, 99, False)
    assert resolve(threads=0).threads == config.threads()


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"memory_budget": 0}, ValueError, "memory_budget must be positive"),
        ({"memory_budget": -5}, ValueError, "memory_budget must be positive"),
        ({"memory_budget": "lots"}, TypeError, "memory_budget= must be a number of bytes"),
        ({"threads": -1}, ValueError, "threads= must be >= 1"),
        ({"threads": 1.5}, TypeError, "threads= must be an integer"),
        ({"client": "tcp://nowhere:8786"}, TypeError, "dask.distributed Client"),
    ],
)
def test_bad_values_are_refused_the_same_way_everywhere(kwargs, error, words):
    with pytest.raises(error, match=words):
        resolve(**kwargs)
    data = np.ones((4, 8, 8), np.uint16)
    for call in (
        lambda: stats.sum(data, **kwargs),
        lambda: stem.sum_pattern(scanstack.Stack.from_array(data), **kwargs),
    ):
        with pytest.raises(error, match=words):
            call()


def test_blocks_follow_the_budget():
    frame = 1000
    res = resolve(threads=2, memory_budget=60_000)
    assert res.frames_per_block(frame) == 10  # 3 blocks per thread, 2 threads: 10 kB blocks
    assert res.frames_per_block(frame, copies=3, concurrent=1) == 20
    assert res.frames_per_block(10**6) == 1  # never less than a frame
    with settings(block_bytes=4000):
        assert res.frames_per_block(frame) == 4  # never more than config.block_bytes
    assert file_chunk_target(None, 4 << 20, res) < 60_000  # default chunks shrink with the budget
    assert file_chunk_target(123, 4 << 20, res) == 123  # a chunk asked for is kept


@pytest.mark.parametrize("fmt", ["nexus", "nsid", "usid", "zarr"])
def test_chunk_bytes_warning_names_the_callers_line(tmp_path, fmt):
    # the HDF5 writers reach file_chunk_target through write_h5_file, one frame deeper than zarr:
    # either way the DeprecationWarning must point at the line that called the writer
    writer = scanstack.formats()[fmt].writer
    stack = scanstack.Stack.from_array(np.zeros((4, 8, 8), np.uint16))
    with pytest.warns(DeprecationWarning, match="file_chunk_bytes") as caught:
        writer(stack, tmp_path / f"a.{fmt}", chunk_bytes=2 * 8 * 8 * 2)
    assert [w.filename for w in caught if "chunk_bytes" in str(w.message)] == [__file__]


def test_the_old_names_warn_and_still_work(tmp_path):
    with pytest.warns(DeprecationWarning, match="block_bytes"):
        assert config.chunk_bytes == config.block_bytes
    with pytest.warns(DeprecationWarning, match="block_bytes"), settings(chunk_bytes=4096):
        assert config.block_bytes == 4096
    data = np.zeros((6, 16, 12), np.uint16)
    data[:, 3, 4], data[:, 7, 9] = 9, 4  # sparse, as frame-caches are
    stack = scanstack.Stack.from_array(data)
    with pytest.warns(DeprecationWarning, match="file_chunk_bytes"):
        out = scanstack.save(stack, tmp_path / "a.zarr", chunk_bytes=2 * 16 * 12 * 2)
    assert scanstack.open(out).reader._arr.chunks[0] == 2
    with pytest.warns(DeprecationWarning, match="threads"):
        scanstack.save(stack, tmp_path / "a.npz", "frame-cache", threshold=5, max_workers=2)
    with pytest.warns(DeprecationWarning, match="threads"):
        fc = scanstack.open(tmp_path / "a.npz", max_workers=2)
    np.testing.assert_array_equal(
        fc.to_numpy(), np.where(stack.to_numpy() > 5, stack.to_numpy(), 0)
    )
    with (
        pytest.raises(TypeError, match="not also the deprecated"),
        pytest.warns(DeprecationWarning),
    ):
        scanstack.save(
            stack, tmp_path / "b.npz", "frame-cache", threshold=5, threads=1, max_workers=2
        )


def test_hexrd_drop_in_keeps_max_workers(tmp_path):
    data = np.zeros((4, 16, 12), np.uint16)
    data[:, 3, 4], data[3, 7, 9] = 9, 7
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        imageseries.write(data, str(tmp_path / "c.npz"), "frame-cache", threshold=5, max_workers=2)
        ims = imageseries.open(str(tmp_path / "c.npz"), "frame-cache", max_workers=2)
        np.testing.assert_array_equal(ims[3], np.where(data[3] > 5, data[3], 0))


def test_writers_in_order_refuse_a_client(tmp_path):
    class NotACluster:
        def submit(self, *args, **kwargs):
            raise AssertionError("must not be used")

    stack = scanstack.Stack.from_array(np.ones((2, 8, 8), np.uint16))
    in_order = [("tiff", "a.tif"), ("mib", "a.mib"), ("frame-cache", "a.npz")]
    for fmt, name in [*in_order, ("eiger-stream-v1", "a.h5"), ("eiger-stream-v2", "b.h5")]:
        opts = {"threshold": 0} if fmt == "frame-cache" else {}
        with pytest.raises(scanstack.UnsupportedError, match="client= is not supported"):
            scanstack.save(stack, tmp_path / name, fmt, client=NotACluster(), **opts)
        assert not (tmp_path / name).exists()

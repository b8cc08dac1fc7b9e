"""The 4D-STEM tools on a dask.distributed cluster (2 worker processes) give the local results."""

from __future__ import annotations

import numpy as np
import pytest
from stem_helpers import GappedMemmapReader, PackedReader, write_gapped, write_packed

from scanstack import settings, stem
from scanstack.core.stack import ReaderStack

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            processes=True, n_workers=2, threads_per_worker=1, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _compare(stack, client, fast=True):
    rows, cols = stack.signal_shape
    masks = [
        stem.disk_mask((rows, cols), (rows / 2, cols / 2), rows / 4),
        np.linspace(-1, 1, rows * cols).reshape(rows, cols),
    ]
    with settings(block_bytes=4 * stack.frame_nbytes):  # several parts per worker
        np.testing.assert_array_equal(
            stem.sum_pattern(stack, client=client, fast=fast), stem.sum_pattern(stack)
        )
        np.testing.assert_array_equal(
            stem.max_pattern(stack, client=client, fast=fast), stem.max_pattern(stack)
        )
        np.testing.assert_allclose(
            stem.virtual_images(stack, masks, client=client, fast=fast),
            stem.virtual_images(stack, masks),
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            stem.center_of_mass(stack, client=client, fast=fast),
            stem.center_of_mass(stack),
            rtol=1e-12,
        )


def test_distributed_memmap_equals_local(tmp_path, client):
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 4096, (35, 24, 20)).astype(">u2")
    path = tmp_path / "frames.bin"
    write_gapped(path, frames, ">u2", header=768)
    stack = ReaderStack(
        GappedMemmapReader(
            str(path), nav_shape=(5, 7), signal_shape=(24, 20), dtype=">u2", header=768, flip=True
        )
    )
    _compare(stack, client)  # in place on the workers
    _compare(stack, client, fast=False)  # block-wise through reduce_frames/map_frames
    np.testing.assert_array_equal(
        stem.sum_pattern(stack, client=client), frames[:, ::-1].sum(axis=0)
    )


def test_distributed_packed_equals_local(tmp_path, client):
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 2, (24, 16, 32)).astype(np.uint8)
    path = tmp_path / "raw.bin"
    write_packed(path, frames, "bits")
    stack = ReaderStack(
        PackedReader(str(path), nav_shape=(4, 6), stored_shape=(16, 32), lanes="bits")
    )
    _compare(stack, client)

"""Fixtures for the camera tools: the real frame blob and synthetic CRONO files with ground truth."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from scanstack.datasets import write_crono

VB = h5py.vlen_dtype(np.dtype("V1"))


@pytest.fixture(scope="session")
def real_blob(shared_data) -> bytes:
    """``/Images/Static[1]`` of the demo file: a .NET byte[] wrapping a 143x107 JPEG."""
    return (shared_data / "crono" / "images_static_0001.nrbf").read_bytes()


@pytest.fixture(scope="session")
def real_jpeg(shared_data) -> bytes:
    return (shared_data / "crono" / "images_static_0001.jpg").read_bytes()


@pytest.fixture(scope="session")
def small_scan(tmp_path_factory):
    """A 4 x 5 map with camera frames (~240 frames): ``(path, truth)``."""
    path = tmp_path_factory.mktemp("crono") / "small.HDF5"
    truth = write_crono(path, rows=4, columns=5, line_dead_time=1.0, seed=3)
    return path, truth


@pytest.fixture(scope="session")
def map_scan(tmp_path_factory):
    """A 10 x 12 map drawn with ~1 mm ink cells, so element maps resolve the ink."""
    path = tmp_path_factory.mktemp("crono") / "map.HDF5"
    truth = write_crono(path, rows=10, columns=12, line_dead_time=0.5, object_cell=96, seed=5)
    return path, truth


def _write_static(path, blobs: list[bytes]) -> None:
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("/Images/Static", (len(blobs),), VB)
        for i, b in enumerate(blobs):  # element by element: multi-element vlen-opaque writes garble
            ds[i] = np.frombuffer(b, "V1")


@pytest.fixture
def write_static():
    """``write_static(path, blobs)``: a file holding only ``/Images/Static`` (slot 0 included)."""
    return _write_static

"""Stacks with known content for the interchange formats (nexus, usid, nsid, zarr)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scanstack import Axis, Stack

CALIBRATION = {"a": -0.00612446976449, "b": 0.0119281593146, "c": 0.0}


@pytest.fixture
def xrf_stack() -> Stack:
    """A 5 x 10 map of 256-channel spectra with scan axes in mm, calibration and live time."""
    ny, nx, nch = 5, 10, 256
    rng = np.random.default_rng(1)
    data = rng.poisson(7.0, (ny, nx, nch)).astype(np.uint16)
    axes = [
        Axis("y", ny, "mm", 0.02, 1.0),
        Axis("x", nx, "mm", 0.01, 5.0),
        Axis("energy", nch, "keV", CALIBRATION["b"], CALIBRATION["a"], navigate=False),
    ]
    live = np.tile([300.0, 600.0, 900.0], 17)[: ny * nx]
    meta = {
        "title": "synthetic XRF map",
        "signal_type": "xrf",
        "acquisition_time": "2024-05-06T07:08:09Z",
        "dwell_time": 0.25,
        "energy_calibration": dict(CALIBRATION),
        "live_time": live,
        "real_time": live * 1.1,
        "instrument": {"name": "test-rig", "tube_kV": 40.0},
    }
    original = {"Settings": {"Tube": {"kV": 40.0, "uA": 200}, "names": ["a", "b"]}}
    return Stack.from_array(
        data, signal_ndim=1, axes=axes, metadata=meta, original_metadata=original
    )


@pytest.fixture
def stem_stack() -> Stack:
    """A 3 x 4 scan of 16 x 12 diffraction frames (4D-STEM-like), uniform and explicit axes."""
    rng = np.random.default_rng(2)
    data = rng.integers(0, 4000, (3, 4, 16, 12)).astype(np.uint16)
    axes = [
        Axis("scan_y", 3, "nm", values=np.array([0.0, 1.5, 4.0])),
        Axis("scan_x", 4, "nm", 2.0, 10.0),
        Axis("ky", 16, "mrad", 0.5, -4.0, navigate=False),
        Axis("kx", 12, "mrad", 0.5, -3.0, navigate=False),
    ]
    meta = {"title": "stem", "signal_type": "electron_diffraction", "dwell_time": 0.001}
    return Stack.from_array(data, signal_ndim=2, axes=axes, metadata=meta)


@pytest.fixture(scope="session")
def crono_file(tmp_path_factory):
    """A 4 x 5 CRONO MA-XRF map of 512-channel spectra written by our CRONO simulator."""
    from scanstack.datasets import write_crono

    path = tmp_path_factory.mktemp("crono") / "143000010203202-test.HDF5"
    write_crono(path, rows=4, columns=5, channels=512, images=False)
    return path


@pytest.fixture(scope="session")
def mib_file(tmp_path_factory):
    """A 3 x 4 scan of 32 x 32 12-bit Merlin frames written by our .mib writer."""
    pytest.importorskip("scanstack.formats.mib")
    from scanstack.formats.mib.writer import write_mib

    frames = np.random.default_rng(4).integers(0, 4000, (12, 32, 32)).astype(np.uint16)
    path = tmp_path_factory.mktemp("mib") / "scan.mib"
    write_mib(path, frames, depth=12, nav_shape=(3, 4))
    return path


@pytest.fixture(scope="module")
def usid():
    """pyUSID; its 0.0.12 writers call ``np.product``, gone in numpy 2, so alias it meanwhile."""
    added = not hasattr(np, "product")
    if added:
        setattr(np, "product", np.prod)  # noqa: B010 - the name is the point
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyUSID

    yield pyUSID
    if added:
        delattr(np, "product")

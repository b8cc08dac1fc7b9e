"""The RosettaSciIO fallback keeps the promise of every other reader: nothing named inside an
input makes it read outside the input's folder unless ``allow_outside=True`` — HDF5 files
(HyperSpy's hspy, EMD) are walked like scanstack's own HDF5 inputs, and a directory store
(HyperSpy's zspy) must not hold a symlink out of the store."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest

import scanstack
from scanstack.core import registry
from scanstack.core.errors import FormatError

hs = pytest.importorskip("hyperspy.api")
pytest.importorskip("rsciio")


@pytest.fixture(autouse=True)
def fallback_registered(monkeypatch):
    from scanstack.formats import rsciio_fallback

    registry.formats()
    monkeypatch.setitem(registry._registry, "rsciio", rsciio_fallback.FORMAT)


def _hspy_with_outside_link(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    with h5py.File(outside / "secret.h5", "w") as f:
        f["secret"] = np.arange(6)
    inside = tmp_path / "data"
    inside.mkdir()
    data = np.arange(2 * 3 * 4 * 5, dtype=np.uint16).reshape(2, 3, 4, 5)
    hs.signals.Signal2D(data).save(inside / "x.hspy")
    with h5py.File(inside / "x.hspy", "a") as f:
        f["leak"] = h5py.ExternalLink("../outside/secret.h5", "/secret")
    return inside / "x.hspy", data


@pytest.mark.parametrize("fmt", [None, "rsciio"])
def test_hspy_with_an_external_link_out_of_the_folder_is_refused(tmp_path, fmt):
    path, _ = _hspy_with_outside_link(tmp_path)
    with pytest.raises(FormatError, match="outside|allow_outside") as info:
        scanstack.open(path, format=fmt)
    assert "x.hspy" in str(info.value)


def test_allow_outside_opens_it(tmp_path):
    path, data = _hspy_with_outside_link(tmp_path)
    s = scanstack.open(path, format="rsciio", allow_outside=True)
    np.testing.assert_array_equal(s.to_numpy(), data)


def test_a_store_with_a_symlink_out_is_refused_before_rosettasciio_reads(tmp_path):
    (tmp_path / "secret").write_bytes(b"\0" * 64)
    store = tmp_path / "data" / "x.zspy"
    (store / "Experiments" / "s" / "data").mkdir(parents=True)
    os.symlink(tmp_path / "secret", store / "Experiments" / "s" / "data" / "0.0")
    with pytest.raises(FormatError, match="symlink out of the store") as info:
        scanstack.open(store, format="rsciio")
    assert "allow_outside" in str(info.value)


def test_zspy_is_left_to_the_fallback_not_the_zarr_reader(tmp_path):
    """A zspy store is HyperSpy's layout (signals under Experiments/): scanstack's own zarr
    reader declines it so that RosettaSciIO reads it with its axes."""
    from scanstack.core.probe import Probe
    from scanstack.formats import zarr as native_zarr

    store = tmp_path / "x.zspy"
    (store / "Experiments").mkdir(parents=True)
    (store / ".zgroup").write_text('{"zarr_format": 2}')
    assert native_zarr.sniff(Probe(store)) == 0.0
    from scanstack.formats import rsciio_fallback

    assert rsciio_fallback._sniff(Probe(store)) > 0

"""Conversions that keep the physics: CRONO -> NeXus for PyMca, Merlin .mib -> zarr / NeXus."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _interchange_helpers import assert_same_axes

import scanstack


@pytest.mark.parametrize("layout", ["nexus", "mca_0"])
def test_crono_to_nexus_pymca_sees_data_live_time_calibration(tmp_path, crono_file, layout):
    from PyMca5.PyMcaIO import HDF5Stack1D

    src = scanstack.open(crono_file)
    assert src.format == "crono"
    out = scanstack.save(
        src, tmp_path / "crono.h5", "nexus", compression="gzip", progress=True, layout=layout
    )
    selection = "/instrument/detector/data" if layout == "nexus" else "/mca_0/data"
    pm = HDF5Stack1D.HDF5Stack1D([os.fspath(out)], {"y": selection})
    data = src.to_numpy()
    np.testing.assert_array_equal(pm.data, data)
    np.testing.assert_allclose(np.ravel(pm.info["McaLiveTime"]), src.metadata["live_time"])
    cal = src.metadata["energy_calibration"]
    np.testing.assert_allclose(pm.info["McaCalib"], [cal["a"], cal["b"], cal["c"]])

    back = scanstack.open(out)
    np.testing.assert_array_equal(back.to_numpy(), data)
    assert_same_axes(back.axes, src.axes)
    for key in ("live_time", "real_time", "motor_positions", "output_count_rate"):
        np.testing.assert_allclose(back.metadata[key], src.metadata[key], err_msg=key)
    for key in ("title", "dwell_time", "energy_calibration", "geometry", "settings", "rois"):
        assert back.metadata[key] == scanstack.core.metadata.to_jsonable(src.metadata[key]), key
    src.close()


@pytest.mark.parametrize("fmt", ["zarr", "nexus", "nsid"])
def test_mib_conversions_keep_axes_and_metadata(tmp_path, mib_file, fmt):
    src = scanstack.open(mib_file)
    assert src.format == "mib" and src.nav_shape == (3, 4)
    out = scanstack.save(src, tmp_path / f"scan.{fmt}", fmt, compression="gzip", progress=True)
    back = scanstack.open(out, fmt)
    np.testing.assert_array_equal(back.to_numpy(), src.to_numpy())
    assert_same_axes(back.axes, src.axes)
    want = scanstack.core.metadata.to_jsonable(
        {k: v for k, v in src.metadata.items() if not isinstance(v, np.ndarray)}
    )
    for key, value in want.items():
        if key in ("format", "original_file"):
            continue
        assert back.metadata[key] == value, key
    for key, value in src.metadata.items():
        if isinstance(value, np.ndarray) and value.shape[:1] == (src.nframes,):
            np.testing.assert_array_equal(back.metadata[key], value)
    src.close()

"""xarray backend (issue 11 item 1): values, axes and units, per-position coordinates, laziness."""

from __future__ import annotations

import json

import numpy as np
import pytest

import scanstack

xr = pytest.importorskip("xarray")
from scanstack.core.xarray_backend import ScanstackBackendEntrypoint  # noqa: E402


def _open(case, **kw):
    return xr.open_dataset(
        case.path, engine=ScanstackBackendEntrypoint, format=case.format, **case.options, **kw
    )


def test_values_axes_units(case):
    ds = _open(case)
    da = ds["data"]
    assert da.dims == tuple(n for n, _ in case.axes)
    for name, units in case.axes:
        assert ds[name].attrs.get("units", "") == units
    np.testing.assert_array_equal(da.values, case.truth)
    # the same region through xarray's lazy indexing (outer keys, negative steps, arrays)
    key = {da.dims[0]: [1, 0], da.dims[-1]: slice(None, 7, -2)}
    want = case.truth[[1, 0]][..., slice(None, 7, -2)]
    np.testing.assert_array_equal(da.isel(key).values, want)
    meta = scanstack.open(case.path, case.format, **case.options).metadata
    per = set(scanstack.core.metadata.PER_FRAME_METADATA_KEYS)
    kept = {k for k, v in meta.items() if v is not None and k not in per}
    assert set(ds.attrs) == kept  # every metadata key but the per-frame arrays (coordinates)
    assert json.loads(json.dumps(ds.attrs, allow_nan=False)) == ds.attrs  # JSON-safe
    ds.close()


def test_coordinates_are_physical(case):
    ds = _open(case)
    if case.name == "crono":
        geo, (offset, gain) = case.extra["geometry"], case.extra["calibration"]
        # the file stores the calibration in float32: equal to 1e-6 keV
        np.testing.assert_allclose(
            ds["energy"].values, offset + gain * np.arange(512), rtol=0, atol=2e-6
        )
        np.testing.assert_allclose(ds["y"].values, geo.y_origin + geo.y_pitch * np.arange(4))
        np.testing.assert_allclose(ds["x"].values[1] - ds["x"].values[0], geo.x_pitch)
        assert ds["live_time"].dims == ("y", "x") and ds["live_time"].attrs["units"] == "s"
        s = scanstack.open(case.path)
        np.testing.assert_array_equal(
            ds["motor_positions_1"].values, s.metadata["motor_positions"][:, 1].reshape(4, 5)
        )
    if case.name == "hexrd":  # omega wedges, start and stop, per frame
        np.testing.assert_array_equal(ds["omega_0"].values, case.extra["omega"][:, 0])
        np.testing.assert_array_equal(ds["omega_1"].values, case.extra["omega"][:, 1])
        assert ds["omega_0"].dims == ("frame",) and ds["omega_0"].attrs["units"] == "deg"
    if case.name == "nexus":
        np.testing.assert_allclose(ds["x"].values, 5.0 + 0.01 * np.arange(4))
        np.testing.assert_allclose(ds["live_time"].values, case.extra["live_time"].reshape(3, 4))
    ds.close()


def test_nothing_read_at_open_then_only_the_selection(case, counting):
    ds = xr.open_dataset(
        case.path,
        engine=ScanstackBackendEntrypoint,
        format="counting",
        inner_format=case.format,
        **case.options,
    )
    repr(ds)
    assert counting == []  # open, coordinates, attrs and repr read no frame
    da = ds["data"]
    nav = da.dims[0]
    sig = da.dims[-1]
    got = da.isel({nav: 1, sig: slice(2, 5)}).values
    np.testing.assert_array_equal(got, case.truth[1][..., 2:5])
    nav_shape = scanstack.open(case.path, case.format, **case.options).nav_shape
    region = (*[slice(0, n) for n in da.shape[len(nav_shape) : -1]], slice(2, 5))
    assert counting and all(r == region for *_, r in counting)  # that region of each frame
    read = [b - a if a != "frames" else len(b) for a, b, _ in counting]
    assert sum(read) == int(np.prod(nav_shape[1:]))  # the frames of index 1, each once
    ds.close()


def test_preferred_chunks_are_whole_frames(case):
    ds = _open(case, chunks={})
    chunks = ds["data"].chunks
    s = scanstack.open(case.path, case.format, **case.options)
    assert tuple(c[0] for c in chunks) == s.default_chunks()
    np.testing.assert_array_equal(ds["data"].values, case.truth)
    ds.close()


def test_to_xarray_shares_the_backend_coordinates(case):
    s = scanstack.open(case.path, case.format, **case.options)
    da = s.to_xarray()
    ds = _open(case)
    assert set(da.coords) == set(ds.coords)
    for name in ds.coords:
        np.testing.assert_array_equal(da[name].values, ds[name].values)
        assert da[name].attrs == ds[name].attrs
    assert da.attrs == ds["data"].attrs
    np.testing.assert_array_equal(da.values, case.truth)
    ds.close()


def test_guess_can_open(case, tmp_path):
    backend = ScanstackBackendEntrypoint()
    assert backend.guess_can_open(case.path)
    other = tmp_path / "notes.txt"
    other.write_text("not a scan\n")
    assert not backend.guess_can_open(str(other))
    assert not backend.guess_can_open(str(tmp_path / "missing.mib"))


def test_engine_name_after_install(shared_data):
    """``engine="scanstack"`` through the installed entry point (pyproject's xarray.backends)."""
    if "scanstack" not in xr.backends.list_engines():
        pytest.skip("the xarray.backends entry point is not installed yet (reinstall scanstack)")
    path = shared_data / "mib" / "readmib_example.mib"
    ds = xr.open_dataset(path, engine="scanstack")
    np.testing.assert_array_equal(ds["data"].values, scanstack.open(path).to_numpy())
    # nothing else claims a .mib: xarray picks scanstack by itself
    assert xr.open_dataset(path)["data"].shape == (2, 256, 256)

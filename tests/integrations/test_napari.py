"""The napari reader's layers on the four files every integration is tested on (a real .mib, a
synthetic CRONO scan with known truth, a hexrd series, a NeXus map): values, axis labels, units,
physical scale and translate, and laziness (nothing read when the layer is made). The CRONO
file's mosaic and element-map layers are tested in ``tests/napari_plugin/test_crono.py``; here its
spectra, as a lazy layer, like every other stack."""

from __future__ import annotations

import numpy as np
import pytest

import scanstack

pytest.importorskip("npe2")
from scanstack.napari import read_layers  # noqa: E402
from scanstack.napari._layers import stack_layer  # noqa: E402


def _shown(case) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """What napari should get: spectra move energy first (a slider), frames stay as they are."""
    if case.signal_type == "xrf":
        return np.moveaxis(case.truth, -1, 0), [case.axes[-1], *case.axes[:-1]]
    return case.truth, case.axes


def test_layer_values_labels_units(case):
    s = scanstack.open(case.path, case.format, **case.options)
    data, kwargs, kind = stack_layer(s)
    want, axes = _shown(case)
    assert kind == "image" and data.shape == want.shape
    np.testing.assert_array_equal(data.compute(), want)
    assert kwargs["axis_labels"] == tuple(n for n, _ in axes)
    assert kwargs["units"] == tuple(u or "pixel" for _, u in axes)
    if case.name == "crono":  # energy in keV from the file's calibration, the scan in stage µm
        geo, (offset, gain) = case.extra["geometry"], case.extra["calibration"]
        assert kwargs["scale"][:2] == pytest.approx((gain, geo.y_pitch), rel=1e-6)
        assert kwargs["translate"][:2] == pytest.approx((offset, geo.y_origin), rel=1e-6)
        assert kwargs["scale"][2] == pytest.approx(geo.x_pitch, rel=1e-6)
    if case.name == "nexus":
        assert kwargs["scale"] == pytest.approx((0.0119, 0.02, 0.01))
        assert kwargs["translate"] == pytest.approx((-0.006, 1.0, 5.0))
    if case.name in ("mib", "hexrd"):  # uncalibrated frames: pixel steps from 0
        assert kwargs["scale"] == (1.0, 1.0, 1.0) and kwargs["translate"] == (0.0, 0.0, 0.0)


def test_nothing_read_until_napari_asks(case, counting):
    s = scanstack.open(case.path, "counting", inner_format=case.format, **case.options)
    data, _, _ = stack_layer(s)
    assert counting == []
    want, _ = _shown(case)
    np.testing.assert_array_equal(data[-1].compute(), want[-1])  # one slider position
    assert counting


@pytest.mark.filterwarnings("ignore:.*sequence numbers")  # the real .mib says so: a MibWarning
def test_reader_contribution_opens_the_file(case):
    """napari's entry point (``read_layers``, what npe2 calls) on the file itself, by detection."""
    if case.name == "crono":
        pytest.skip("a CRONO scan opens as mosaic + maps: tests/napari_plugin/test_crono.py")
    [(data, kwargs, _)] = read_layers(case.path)
    want, axes = _shown(case)
    np.testing.assert_array_equal(data.compute(), want)
    assert kwargs["axis_labels"] == tuple(n for n, _ in axes)

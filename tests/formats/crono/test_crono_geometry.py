"""Grid and energy axis from the demo file's settings (values from the format notes)."""

import numpy as np
import pytest

from scanstack.formats.crono.geometry import (
    ScanGeometry,
    energy_vector,
    grid_shape,
    linear_energy,
    select_nearest,
)


def test_demo_grid_from_settings():
    # XSize, YSize, XSpeed, SpectraTime, YStep, binningFactor of 14200215102021-blindTest2AgedDetail
    assert grid_shape(37926, 42503, 13.89, 60, 500.0, 1.2) == (85, 37)


def test_demo_energy_vector():
    cal = np.array([[771.0, 8.046], [1952.0, 22.163]], np.float32)
    offset, gain = linear_energy(cal, 4096)
    assert offset == pytest.approx(-1.1700948, abs=1e-6)
    assert gain == pytest.approx(0.0119534, abs=1e-7)
    ev = energy_vector(cal, 4096)
    assert ev.dtype == np.float32
    assert ev[0] == pytest.approx(-1.1700948, abs=1e-6) and ev[-1] == pytest.approx(
        47.7792, abs=1e-4
    )
    with pytest.raises(ValueError, match="same channel"):
        linear_energy([[5, 1.0], [5, 2.0]], 10)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        linear_energy([1.0, 2.0], 10)


def test_select_nearest_picks_the_closest_spectrum():
    g = ScanGeometry(
        rows=2,
        columns=3,
        x_origin=0.0,
        y_origin=0.0,
        z=0.0,
        x_pitch=10.0,
        y_pitch=5.0,
        x_size=35.0,
        y_size=13.0,
        x_speed=1.0,
        dwell_time=8.0,
        binning=1.25,
    )
    step = 8.0
    xs_row = -step + (np.arange(6) + 0.5) * step  # ramp of one spectrum on each side
    xs = np.concatenate([xs_row, xs_row[::-1]])
    row_of = np.repeat([0, 1], 6)
    sel = select_nearest(xs, row_of, g)[..., 0]
    centres = g.column_centres()
    for r in range(2):
        for c in range(3):
            i = int(sel[r, c])
            assert row_of[i] == r
            assert abs(xs[i] - centres[c]) == np.min(np.abs(xs[row_of == r] - centres[c]))
    with pytest.raises(ValueError, match="no spectrum was acquired on map row 1"):
        select_nearest(xs[:6], row_of[:6], g)

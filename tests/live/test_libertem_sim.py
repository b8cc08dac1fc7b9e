"""merlin:// against LiberTEM-live's own Merlin simulator (CameraSim), where it is installed."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from live_helpers import KINDS, NAV, make_mib

import scanstack
from scanstack import stem
from scanstack.live.simulator import start_libertem_sim

pytest.importorskip("libertem_live.detectors.merlin.sim")

pytestmark = pytest.mark.slow  # its first frame waits for LiberTEM's numba warm-up (~30 s here)

# Every kind our own simulator is tested with (1/6/12-bit, processed and raw, single and quad).
# CameraSim runs in a fresh process: in a pytest session where other LiberTEM code ran first,
# LiberTEM's own numba reader failed inside its thread (SystemError from _get_read_ranges_inner,
# 'descr' is NULL; libertem 0.16, numba 0.68) - its bug, not a frame of ours.


@contextlib.contextmanager
def camerasim_stream(path, **options):
    """``path`` served by LiberTEM-live's CameraSim (own process), opened as a live stack."""
    sim, data_port, control_port = start_libertem_sim(path, NAV, own_process=True)
    try:
        url = f"merlin://127.0.0.1:{data_port}"
        with scanstack.open(
            url, nav_shape=NAV, control_port=control_port, timeout=180, **options
        ) as s:
            yield s
    finally:
        sim.stop()


@pytest.mark.parametrize(("depth", "layout", "raw"), KINDS)
def test_libertem_camerasim(tmp_path, depth, layout, raw):
    path = make_mib(tmp_path / "scan.mib", depth, layout, raw)
    ref = scanstack.open(path, nav_shape=NAV)
    with camerasim_stream(path, spill=tmp_path / "s.mib") as s:
        np.testing.assert_array_equal(s.to_numpy(), ref.to_numpy())
        np.testing.assert_array_equal(stem.sum_pattern(s), stem.sum_pattern(ref))
    np.testing.assert_array_equal(
        scanstack.open(tmp_path / "s.mib", nav_shape=NAV).to_numpy(), ref.to_numpy()
    )


@pytest.mark.parametrize(("depth", "layout", "raw"), [(12, "2x2", False), (1, "2x2", True)])
def test_libertem_camerasim_into_a_ring(tmp_path, depth, layout, raw):
    """Nothing recorded (``spill=False``): a ring of 3 frames, reused 4 times over the scan."""
    path = make_mib(tmp_path / "scan.mib", depth, layout, raw)
    ref = scanstack.open(path, nav_shape=NAV)
    stride = path.stat().st_size // ref.nframes
    with camerasim_stream(path, spill=False, memory_budget=4 * 3 * stride) as s:
        assert s.ring.capacity == 3
        mask = np.zeros(ref.signal_shape)
        mask[::3, ::2] = 1
        np.testing.assert_array_equal(stem.virtual_image(s, mask), stem.virtual_image(ref, mask))
        s.wait()
        np.testing.assert_array_equal(s[-1], ref.to_numpy()[-1, -1])
    assert [p.name for p in tmp_path.glob("*.mib")] == ["scan.mib"]  # nothing recorded

"""Faults on the data port: a clear error naming what arrived and what was expected, the frames
received so far kept in the spill and readable, no hang, no thread left running (conftest)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from live_helpers import make_mib

import scanstack
from scanstack.live import LiveError

NAV = (3, 4)


def _open(sim, tmp_path, **options):
    return scanstack.open(
        f"merlin://127.0.0.1:{sim.data_port}", nav_shape=NAV, spill=tmp_path / "s.mib", **options
    )


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("drop:7", r"connection closed while reading frame 7: \d+ of \d+ bytes arrived; 7 of 12"),
        ("header:7", r"frame 7 does not start with a Merlin frame header b'MQ1,': received b'garb"),
        ("size:7", r"frame 7 announces \d+ bytes, every frame of this acquisition is \d+ \(\d+ "),
        ("short:7", r"frame 7 announces 10 bytes, every frame of this acquisition is \d+ \(\d+ "),
        ("stall:7", r"nothing received for 1 s while reading the prefix of frame 7"),
    ],
)
@pytest.mark.parametrize("splice", [True, False], ids=["splice", "recv"])
def test_fault_keeps_the_frames_received(tmp_path, simulate, fault, message, splice):
    """Both receive paths (live/transfer.py) fail alike and keep exactly the whole frames."""
    path = make_mib(tmp_path / "scan.mib", 12, "2x2", True)
    ref = scanstack.open(path, nav_shape=NAV)
    sim = simulate(path, fault=fault)
    t0 = time.monotonic()
    with _open(sim, tmp_path, timeout=1, splice=splice) as s:
        np.testing.assert_array_equal(s[6], ref[6])  # frames before the fault are fine
        with pytest.raises(LiveError, match=message):
            s[7]
        with pytest.raises(LiveError, match=r"ended after 7 of 12 frames.*kept in .*s\.mib"):
            s.to_numpy()
        assert s.done and s.frames_received == 7
        assert isinstance(s.error, LiveError)
    assert time.monotonic() - t0 < 15  # no hang: the 1 s silence bound ends a stalled stream
    kept = scanstack.open(tmp_path / "s.mib", hdr=False)
    assert kept.nframes == 7  # whole frames only: a partial frame is never written
    np.testing.assert_array_equal(
        kept.to_numpy(), ref.to_numpy().reshape(12, *ref.signal_shape)[:7]
    )


def test_malformed_acquisition_header(tmp_path, simulate):
    sim = simulate(make_mib(tmp_path / "scan.mib", 6, "1x1", False), fault="hdr")
    with pytest.raises(
        LiveError,
        match=r"first message should be the acquisition header "
        r"b'HDR,...', received b'XYZ,",
    ):
        _open(sim, tmp_path, timeout=2)


def test_malformed_first_frame_header(tmp_path, simulate):
    sim = simulate(make_mib(tmp_path / "scan.mib", 6, "1x1", False), fault="header:0")
    with pytest.raises(LiveError, match=r"frame 0 has a malformed frame header .*MQ1"):
        _open(sim, tmp_path, timeout=2)


def test_wait_timeout_names_progress(tmp_path, simulate):
    sim = simulate(make_mib(tmp_path / "scan.mib", 6, "1x1", False), fault="stall:3")
    with _open(sim, tmp_path, timeout=5) as s:
        with pytest.raises(LiveError, match=r"waited 0.2 s for frame 11; 3 of 12 frames"):
            s.wait(timeout=0.2)


def test_close_stops_the_receiver(tmp_path, simulate):
    sim = simulate(make_mib(tmp_path / "scan.mib", 6, "1x1", False), fault="stall:2")
    s = _open(sim, tmp_path, timeout=30)
    s.wait(2, timeout=10)  # both frames before the stall are in (else close may beat frame 1)
    t0 = time.monotonic()
    s.close()  # the thread ends now, not after the 30 s silence bound
    assert s.done
    assert time.monotonic() - t0 < 15  # generous: the machine running the tests may be loaded
    with pytest.raises(LiveError, match="stopped after 2 of 12 frames"):
        s[5]

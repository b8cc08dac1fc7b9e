"""merlin:// against our simulator on loopback: frames, sums and the recording equal the file."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest
from live_helpers import KINDS, NAV, make_mib

import scanstack
from scanstack import stem
from scanstack.core.errors import UnknownFormatError
from scanstack.core.registry import detect_format, url_scheme
from scanstack.live import LiveError, LiveStack


@pytest.mark.parametrize(("depth", "layout", "raw"), KINDS)
def test_stream_equals_file(tmp_path, simulate, depth, layout, raw):
    path = make_mib(tmp_path / "scan.mib", depth, layout, raw)
    ref = scanstack.open(path, nav_shape=NAV)
    sim = simulate(path)
    spill = tmp_path / "spill" / "got.mib"
    with scanstack.open(f"merlin://127.0.0.1:{sim.data_port}", nav_shape=NAV, spill=spill) as s:
        assert isinstance(s, LiveStack)
        assert s.shape == ref.shape and s.dtype == ref.dtype
        np.testing.assert_array_equal(s[5], ref[5])  # blocks until frame 5 is there
        np.testing.assert_array_equal(s.to_numpy(), ref.to_numpy())
        np.testing.assert_array_equal(stem.sum_pattern(s), stem.sum_pattern(ref))
        assert s.frames_received == 12 and s.wait() == 12
        s.wait()
    assert s.done and s.error is None
    # the spill is the file served, byte for byte, and its .hdr the acquisition header
    assert spill.read_bytes() == path.read_bytes()
    assert spill.with_suffix(".hdr").read_bytes() == path.with_suffix(".hdr").read_bytes()
    np.testing.assert_array_equal(scanstack.open(spill, nav_shape=NAV).to_numpy(), ref.to_numpy())


def test_control_port_starts_the_acquisition(tmp_path, simulate):
    path = make_mib(tmp_path / "scan.mib", 12, "2x2", True)
    sim = simulate(path, wait_start=True)
    url = f"merlin://127.0.0.1:{sim.data_port}"
    with scanstack.open(
        url,
        nav_shape=NAV,
        control_port=sim.control_port,
        control={"COUNTERDEPTH": 12},
        spill=tmp_path / "s.mib",
    ) as s:
        s.wait(timeout=30)
        np.testing.assert_array_equal(s.to_numpy(), scanstack.open(path, nav_shape=NAV).to_numpy())
    assert sim.params["NUMFRAMESTOACQUIRE"] == "12" and sim.params["COUNTERDEPTH"] == "12"


def test_control_replies():
    from scanstack.live.simulator import MerlinSimulator  # replies need no connection

    assert MerlinSimulator.reply.__doc__
    sim = MerlinSimulator.__new__(MerlinSimulator)
    sim.params = {"COUNTERDEPTH": "6"}
    sim._start_acq = threading.Event()
    assert MerlinSimulator.reply(sim, "GET,COUNTERDEPTH") == "GET,COUNTERDEPTH,6,0"
    assert MerlinSimulator.reply(sim, "SET,NUMFRAMESTOACQUIRE,0") == "SET,NUMFRAMESTOACQUIRE,3"
    assert MerlinSimulator.reply(sim, "CMD,DANCE") == "CMD,DANCE,2"
    assert MerlinSimulator.reply(sim, "CMD,STARTACQUISITION") == "CMD,STARTACQUISITION,0"
    assert sim._start_acq.is_set()


def test_control_error_is_reported(tmp_path, simulate):
    from scanstack.live.merlin import Control

    sim = simulate(make_mib(tmp_path / "scan.mib", 6, "1x1", False), wait_start=True)
    ctl = Control("127.0.0.1", sim.control_port, 5)
    try:
        assert ctl.get("COUNTERDEPTH") == "12"
        with pytest.raises(LiveError, match=r"'CMD,DANCE' was answered 'CMD,DANCE,2' \(unrec"):
            ctl.cmd("DANCE")
    finally:
        ctl.close()


def test_save_while_receiving_is_atomic(tmp_path, simulate):
    path = make_mib(tmp_path / "scan.mib", 12, "1x1", False, n=40)
    sim = simulate(path)
    out = tmp_path / "rec.zarr"
    s = scanstack.open(
        f"merlin://127.0.0.1:{sim.data_port}", nav_shape=(5, 8), spill=tmp_path / "s.mib"
    )
    with s:
        scanstack.save(s, out)  # reads block by block, each waiting for its frames
    got = scanstack.open(out)
    np.testing.assert_array_equal(got.to_numpy(), scanstack.open(path, nav_shape=(5, 8)).to_numpy())


def test_reductions_report_progress(tmp_path, simulate):
    path = make_mib(tmp_path / "scan.mib", 12, "2x2", True)
    sim = simulate(path)
    seen = []
    with scanstack.open(
        f"merlin://127.0.0.1:{sim.data_port}", nav_shape=NAV, spill=tmp_path / "s.mib"
    ) as s:
        bf = stem.virtual_bright_field(s, progress=lambda done, total: seen.append((done, total)))
    ref = stem.virtual_bright_field(scanstack.open(path, nav_shape=NAV))
    np.testing.assert_array_equal(bf, ref)
    assert seen and seen[-1][0] == seen[-1][1]


def test_nav_shape_from_the_header(tmp_path, simulate):
    path = make_mib(tmp_path / "scan.mib", 6, "1x1", True)
    sim = simulate(path)
    with scanstack.open(f"merlin://127.0.0.1:{sim.data_port}", spill=tmp_path / "s.mib") as s:
        assert s.nav_shape == (12,)  # "Frames in Acquisition" of the header
        s.wait(timeout=30)


def test_convert_cli_records_the_stream(tmp_path, simulate):
    """``scanstack convert merlin://...`` needs the entry point: run in-process via main()."""
    from scanstack.cli.main import main

    path = make_mib(tmp_path / "scan.mib", 12, "1x1", True)
    sim = simulate(path)
    out = tmp_path / "rec.zarr"
    rc = main(
        [
            "convert",
            f"merlin://127.0.0.1:{sim.data_port}",
            str(out),
            "-i",
            "nav_shape=3,4",
            "-i",
            f"spill={tmp_path / 's.mib'}",
            "-q",
        ]
    )
    assert rc in (0, None)
    np.testing.assert_array_equal(
        scanstack.open(out).to_numpy(), scanstack.open(path, nav_shape=NAV).to_numpy()
    )


def test_simulate_cli_serves(tmp_path):
    path = make_mib(tmp_path / "scan.mib", 12, "1x1", False)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scanstack.cli.main",
            "simulate",
            "merlin",
            str(path),
            "--port",
            "0",
            "--control-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"serving {path} (12 frames) as merlin://127.0.0.1:")
        port = int(line.split("merlin://127.0.0.1:")[1].split(",")[0])
        with scanstack.open(
            f"merlin://127.0.0.1:{port}", nav_shape=NAV, spill=tmp_path / "s.mib"
        ) as s:
            np.testing.assert_array_equal(
                s.to_numpy(), scanstack.open(path, nav_shape=NAV).to_numpy()
            )
    finally:
        proc.terminate()
        proc.wait(10)


def test_url_routing():
    assert url_scheme("merlin://127.0.0.1:6342") == "merlin"
    assert url_scheme("/data/scan.mib") is None and url_scheme("C:\\scan.mib") is None
    assert detect_format("merlin://10.0.0.1") == "merlin"
    with pytest.raises(UnknownFormatError, match="no format opens ftp:// sources"):
        detect_format("ftp://x/y")


def test_connection_refused_is_clear(tmp_path):
    import socket

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        port = srv.getsockname()[1]  # bound, not listening: refused
    with pytest.raises(LiveError, match=f"merlin://127.0.0.1:{port}: connection refused"):
        scanstack.open(f"merlin://127.0.0.1:{port}", spill=tmp_path / "s.mib", timeout=0.3)


def test_simulator_cycles_a_short_file_with_new_sequence_numbers(tmp_path, simulate):
    """``frames=N``: a long scan served from a short file (how the benchmark streams 256x256)."""
    import warnings

    from scanstack.formats.mib.reader import MibWarning

    path = make_mib(tmp_path / "scan.mib", 12, "2x2", False, n=12)
    sim = simulate(path, frames=30)
    ref = scanstack.open(path, nav_shape=(12,)).to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", MibWarning)  # sequence numbers run on: no warning
        with scanstack.open(
            f"merlin://127.0.0.1:{sim.data_port}", nav_shape=(5, 6), spill=tmp_path / "s.mib"
        ) as s:
            got = s.to_numpy().reshape(30, *ref.shape[1:])
            h = scanstack.open(tmp_path / "s.mib", nav_shape=(30,)).frame_headers()
    np.testing.assert_array_equal(got, ref[np.arange(30) % 12])
    np.testing.assert_array_equal(h["sequence"], np.arange(1, 31))


def test_live_stack_is_a_growing_stack(tmp_path, simulate):
    from scanstack.core.growing import Growing, StalledError

    path = make_mib(tmp_path / "scan.mib", 6, "1x1", False)
    sim = simulate(path, fault="stall:7")
    with scanstack.open(
        f"merlin://127.0.0.1:{sim.data_port}", nav_shape=NAV, spill=tmp_path / "s.mib"
    ) as s:
        assert isinstance(s, Growing)
        assert s.wait_for(6, timeout=10) == 7
        part = s.arrived()
        assert part.nframes == 7
        np.testing.assert_array_equal(part.to_numpy(), scanstack.open(path).to_numpy()[:7])
        with pytest.raises(StalledError, match="7 of 12 frames"):
            s.wait_for(7, timeout=0.3)
        with pytest.raises(IndexError):
            s.wait_for(12)

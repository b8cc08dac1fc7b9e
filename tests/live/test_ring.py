"""merlin:// with ``spill=False``: nothing recorded, frames held in a ring of memory.

The stream is longer than the ring (a 12-frame file served 60 times over a ring of 5 frames), so
every slot is reused many times: reductions must still see every frame (the receiver waits for
the readers that hold the ring), and a frame whose slot was reused must never be read.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from live_helpers import KINDS, make_mib

import scanstack
from scanstack import stem
from scanstack.core.errors import UnsupportedError
from scanstack.live import LiveError
from scanstack.live.follow import LivePicture

RING = 5  # frames
N = 60  # frames streamed, from a 12-frame file


def _open(sim, path, ring=RING, nav=(N,), **options):
    """The stream with a ring of ``ring`` frames (memory_budget // 4 is the ring's bytes)."""
    stride = path.stat().st_size // 12
    return scanstack.open(
        f"merlin://127.0.0.1:{sim.data_port}",
        nav_shape=nav,
        spill=False,
        memory_budget=4 * ring * stride,
        **options,
    )


def _wait_until(cond, timeout=10.0):
    t = time.monotonic()
    while not cond():
        assert time.monotonic() - t < timeout, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize(("depth", "layout", "raw"), KINDS)
def test_reductions_see_every_frame(tmp_path, simulate, depth, layout, raw):
    path = make_mib(tmp_path / "scan.mib", depth, layout, raw)
    ref = scanstack.open(path, nav_shape=(12,))
    frames = ref.to_numpy()
    sim = simulate(path, frames=N)
    spills = set(Path(tempfile.gettempdir()).glob("scanstack-live-*"))
    with _open(sim, path) as s:
        assert s.ring.capacity == RING and not s.keeps_frames
        assert s.source_paths() == []  # nothing on disk
        # the receiver keeps frame 0 on until the first reader comes: it stops at a full ring
        _wait_until(lambda: s.frames_received == RING)
        time.sleep(0.2)
        assert s.frames_received == RING
        got = stem.sum_pattern(s, progress=False)
        np.testing.assert_array_equal(got, stem.sum_pattern(ref, progress=False) * (N // 12))
        assert s.wait() == N and s.error is None
    assert set(Path(tempfile.gettempdir()).glob("scanstack-live-*")) == spills  # no spill made
    # a second acquisition: a virtual image, and frame-by-frame iteration with a slow reader
    mask = np.zeros(ref.signal_shape)
    mask[: mask.shape[0] // 2] = 1
    with _open(sim, path) as s:
        img = stem.virtual_image(s, mask, progress=False)
    np.testing.assert_array_equal(img, np.tile(stem.virtual_image(ref, mask, progress=False), 5))
    with _open(sim, path) as s:
        for i, frame in enumerate(s):
            np.testing.assert_array_equal(frame, frames[i % 12])
            if i in (3, 31):
                time.sleep(0.2)  # the receiver waits for this reader
        assert i == N - 1


def test_a_frame_whose_slot_was_reused_is_never_read(tmp_path, simulate):
    path = make_mib(tmp_path / "scan.mib", 12, "2x2", False)
    frames = scanstack.open(path, nav_shape=(12,)).to_numpy()
    sim = simulate(path, frames=N)
    with _open(sim, path) as s:
        assert s.wait() == N  # no reader: the ring now holds the last RING frames
        assert s.ring.oldest == N - RING
        np.testing.assert_array_equal(s[N - 1], frames[(N - 1) % 12])
        np.testing.assert_array_equal(s[N - RING : N], frames[np.arange(N - RING, N) % 12])
        msg = rf"reading needs frame 0, but nothing is recorded \(spill=False\) and the ring of 5 frames now holds frames {N - RING} onwards"
        with pytest.raises(LiveError, match=msg):
            s[0]
        with pytest.raises(LiveError, match=rf"needs frame {N - RING - 1}, "):
            s[N - RING - 1 : N]
        with pytest.raises(LiveError, match="a reader starting needs frame 0"):
            stem.sum_pattern(s, progress=False)


def test_a_second_pass_over_a_ring_is_a_clear_error(tmp_path, simulate):
    """A virtual BF whose disk is guessed from the sum pattern reads the frames twice."""
    path = make_mib(tmp_path / "scan.mib", 12, "2x2", False)
    sim = simulate(path, frames=N)
    with _open(sim, path) as s:
        with pytest.raises(LiveError, match=r"a second pass .* needs them recorded"):
            stem.virtual_bright_field(s, progress=False)
        assert "ring of 5 frames, nothing recorded" in repr(s)


def test_a_read_beyond_the_first_lap_does_not_wait_for_ever(tmp_path, simulate):
    """``s[i]`` holds nothing: it lets go of the frames kept for a first reader."""
    path = make_mib(tmp_path / "scan.mib", 12, "2x2", False)
    frames = scanstack.open(path, nav_shape=(12,)).to_numpy()
    sim = simulate(path, frames=N)
    with _open(sim, path, timeout=5) as s:
        np.testing.assert_array_equal(s[3], frames[3])  # within the first lap: frame 0 kept
        assert s.ring.oldest == 0
        t = time.monotonic()
        try:  # frame 30 or, if the receiver ran 5 frames past it meanwhile, a clear error
            np.testing.assert_array_equal(s[30], frames[30 % 12])
        except LiveError as exc:
            assert "needs frame 30, but nothing is recorded" in str(exc)
        assert time.monotonic() - t < 5
        assert s.ring.oldest > 0


def test_live_picture_holds_the_ring(tmp_path, simulate):
    """The picture loop of ``scanstack live`` and the napari layer: every frame, in steps."""
    path = make_mib(tmp_path / "scan.mib", 6, "1x1", True)
    ref = scanstack.open(path, nav_shape=(12,))
    sim = simulate(path, frames=N)
    with _open(sim, path, nav=(6, 10)) as s:
        pic = LivePicture(s, {"all": np.ones(s.signal_shape)})
        for _ in pic.steps(every_frames=3):
            time.sleep(0.01)
    per_frame = ref.to_numpy().reshape(12, -1).sum(1)
    np.testing.assert_array_equal(pic.images["all"], np.tile(per_frame, 5).reshape(6, 10))
    np.testing.assert_array_equal(pic.sum_pattern, stem.sum_pattern(ref, progress=False) * 5)


def test_saving_a_ring_is_refused(tmp_path, simulate):
    path = make_mib(tmp_path / "scan.mib", 12, "1x1", False)
    sim = simulate(path, frames=N)
    with _open(sim, path) as s:
        with pytest.raises(
            UnsupportedError, match=r"records nothing \(spill=False\).*with a spill"
        ):
            scanstack.save(s, tmp_path / "out.zarr")
    assert not (tmp_path / "out.zarr").exists()


def test_close_ends_a_receiver_waiting_for_readers(tmp_path, simulate):
    path = make_mib(tmp_path / "scan.mib", 12, "1x1", False)
    sim = simulate(path, frames=N)
    s = _open(sim, path)
    _wait_until(lambda: s.frames_received == RING)  # waiting for its first reader
    t = time.monotonic()
    s.close()
    assert time.monotonic() - t < 2
    assert s.done and "stopped after 5 of 60 frames" in str(s.error)


def test_fault_with_a_ring(tmp_path, simulate):
    path = make_mib(tmp_path / "scan.mib", 12, "2x2", True)
    ref = scanstack.open(path, nav_shape=(12,))
    sim = simulate(path, fault="drop:7")
    with _open(sim, path, ring=10, nav=(12,), timeout=1) as s:
        np.testing.assert_array_equal(s[6], ref[6])
        with pytest.raises(
            LiveError, match=r"connection closed while reading frame 7: \d+ of \d+ bytes"
        ):
            s[7]
        with pytest.raises(
            LiveError, match=r"ended after 7 of 12 frames.*nothing was recorded \(spill=False"
        ):
            s.to_numpy()
        np.testing.assert_array_equal(s[:7], ref[:7])  # still held: the ring had room


def test_ring_size_follows_the_memory_budget(tmp_path, simulate):
    path = make_mib(tmp_path / "scan.mib", 12, "2x2", False)
    stride = path.stat().st_size // 12
    sim = simulate(path)
    with scanstack.open(
        f"merlin://127.0.0.1:{sim.data_port}", spill=False, memory_budget=64 * stride
    ) as s:
        assert s.ring.capacity == 12 and s.ring.nbytes == 12 * stride  # no more than the scan
        s.wait()
    sim = simulate(path, frames=N)
    with scanstack.open(
        f"merlin://127.0.0.1:{sim.data_port}",
        nav_shape=(N,),
        spill=False,
        memory_budget=64 * stride,
    ) as s:
        assert s.ring.capacity == 16 and s.ring.nbytes == 16 * stride
        s.wait()


def test_cli_live_records_nothing(tmp_path, simulate, capsys):
    """``scanstack live ... -i spill=False``: the same picture as the file's, nothing on disk."""
    from PIL import Image

    from scanstack.cli.main import main
    from scanstack.live.follow import detector_masks

    path = make_mib(tmp_path / "scan.mib", 12, "2x2", False, n=48)
    stride = path.stat().st_size // 48
    sim = simulate(path)
    png = tmp_path / "live.png"
    args = ["live", f"merlin://127.0.0.1:{sim.data_port}", "--nav", "6x8", "--bf", "r=30"]
    options = ["--no-record", "-i", f"memory_budget={4 * RING * stride}"]
    rc = main([*args, "--no-sum", "-o", str(png), *options, "--every-frames", "4"])
    out = capsys.readouterr().out
    assert rc == 0 and "48 frames" in out and "recorded" not in out
    ref = scanstack.open(path, nav_shape=(6, 8))
    ref_png = tmp_path / "ref.png"
    LivePicture(ref, detector_masks(ref.signal_shape, bf=30), sum_pattern=False).run(ref_png)
    got = np.asarray(Image.open(png).convert("RGB"))
    np.testing.assert_array_equal(got, np.asarray(Image.open(ref_png).convert("RGB")))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "live.png",
        "ref.png",
        "scan.hdr",
        "scan.mib",
    ]


def test_cli_no_record_is_for_streams(tmp_path, capsys):
    from scanstack.cli.main import main

    path = make_mib(tmp_path / "scan.mib", 12, "1x1", False)
    args = ["live", str(path), "--bf", "r=3", "-o", str(tmp_path / "p.png"), "--no-record"]
    assert main(args) == 2
    assert "--no-record is for stream sources" in capsys.readouterr().err


def test_the_ring_goes_with_its_stack(tmp_path, simulate):
    """No reference cycle keeps a finished stream's memory until a garbage collection."""
    import gc
    import weakref

    path = make_mib(tmp_path / "scan.mib", 12, "1x1", False)
    sim = simulate(path, frames=N)
    gc.disable()
    try:
        with _open(sim, path) as s:
            stem.sum_pattern(s, progress=False)
        ring = weakref.ref(s.ring)
        del s
        assert ring() is None
    finally:
        gc.enable()


def test_ring_size_defaults_to_a_quarter_of_the_configured_budget(tmp_path, simulate):
    from scanstack.core.config import config, settings

    assert config.memory_budget // 4 == 256 << 20 or "SCANSTACK_MEMORY_BUDGET" in os.environ
    path = make_mib(tmp_path / "scan.mib", 12, "2x2", False)
    stride = path.stat().st_size // 12
    sim = simulate(path, frames=N)
    with settings(memory_budget=4 * 8 * stride):
        s = scanstack.open(f"merlin://127.0.0.1:{sim.data_port}", nav_shape=(N,), spill=False)
    with s:
        assert s.ring.capacity == 8
        s.wait()

"""``scanstack.open(p, follow=True)`` on a .mib that a writer thread is still appending to."""

from __future__ import annotations

import shutil
import threading
import time

import numpy as np
import pytest

import scanstack
from scanstack import stats, stem
from scanstack.core.errors import FormatError
from scanstack.core.growing import Growing, StalledError
from scanstack.formats.mib import write_mib

NAV = (4, 5)


def _acquisition(tmp_path, depth=12, raw=False, layout="1x1", shape=(16, 16)):
    """A finished acquisition (our writer's bytes) to replay, and its reference stack."""
    rng = np.random.default_rng(7)
    hi = {1: 2, 6: 64, 12: 4096}[depth]
    frames = rng.integers(0, hi, (np.prod(NAV), *shape)).astype(np.uint16)
    src = tmp_path / "src" / "scan.mib"
    src.parent.mkdir()
    write_mib(src, frames, depth=depth, raw=raw, layout=layout, nav_shape=NAV)
    return src, scanstack.open(src)


class Writer(threading.Thread):
    """Appends ``data[start:stop]`` to ``path`` in ``piece``-byte writes (splitting frames)."""

    def __init__(self, data: bytes, path, start: int, stop: int, piece=700, delay=0.003):
        super().__init__(daemon=True)
        self.data, self.path, self.start_at, self.stop = data, path, start, stop
        self.piece, self.delay = piece, delay

    def run(self):
        with open(self.path, "ab", buffering=0) as fh:
            for a in range(self.start_at, self.stop, self.piece):
                fh.write(self.data[a : min(a + self.piece, self.stop)])
                time.sleep(self.delay)


def _start_live(src, tmp_path, upto=None, first=100, hdr=True, **writer):
    """Copy the .hdr, the first ``first`` bytes, and let a thread append the rest (to ``upto``)."""
    data = src.read_bytes()
    dst = tmp_path / "live.mib"
    if hdr:
        shutil.copy(src.with_suffix(".hdr"), dst.with_suffix(".hdr"))
    dst.write_bytes(data[:first])
    w = Writer(data, dst, first, len(data) if upto is None else upto, **writer)
    return dst, w


@pytest.mark.parametrize(
    "kw",
    [
        dict(depth=12),
        dict(depth=6, raw=True),
        dict(depth=1, raw=True, layout="2x2", shape=(128, 128)),
    ],
    ids=["12bit", "raw6", "raw1-quad"],
)
def test_follow_grows_and_reduces_to_the_end(tmp_path, kw):
    src, ref = _acquisition(tmp_path, **kw)
    dst, w = _start_live(src, tmp_path)
    w.start()
    s = scanstack.open(dst, follow=True, timeout=5)
    assert isinstance(s, Growing)
    assert s.shape == ref.shape  # the whole scan's shape from the .hdr, at once
    seen = [len(s)]
    assert seen[0] < ref.nframes  # still being written
    # reductions run over frames as they land and finish with the scan
    np.testing.assert_array_equal(stem.sum_pattern(s), stem.sum_pattern(ref))
    seen.append(len(s))
    assert seen == sorted(seen) and seen[-1] == ref.nframes
    np.testing.assert_array_equal(s.to_numpy(), ref.to_numpy())
    np.testing.assert_array_equal(stats.max(s), stats.max(ref))
    w.join()


def test_partial_last_frame_is_never_read(tmp_path):
    src, ref = _acquisition(tmp_path)
    stride = src.stat().st_size // ref.nframes
    dst, w = _start_live(src, tmp_path, first=7 * stride + stride // 2)
    s = scanstack.open(dst, follow=True, timeout=0.3)
    assert len(s) == 7 and s.frames_available() == 7
    np.testing.assert_array_equal(s[6], ref[6])
    with pytest.raises(StalledError, match="7 of 20 frames") as exc:
        s[7]  # half written: waits, then says what arrived
    assert exc.value.seen == 7 and exc.value.expected == 20 and str(dst) in str(exc.value)
    w.start()  # the writer resumes: the frame completes and reads
    np.testing.assert_array_equal(s[7], ref[7])
    np.testing.assert_array_equal(s[19], ref[19])
    w.join()


def test_writer_stopping_early_times_out_with_frames_seen(tmp_path):
    src, ref = _acquisition(tmp_path)
    stride = src.stat().st_size // ref.nframes
    dst, w = _start_live(src, tmp_path, upto=12 * stride + 10)
    w.start()
    s = scanstack.open(dst, follow=True, timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(StalledError, match=r"no new frame for 0.5 s: 12 of 20 frames"):
        stem.sum_pattern(s)
    assert time.monotonic() - t0 < 10  # no hang
    w.join()
    np.testing.assert_array_equal(s.read(0, 12), ref.read(0, 12))  # what landed stays readable


def test_follow_needs_the_scan_length(tmp_path):
    src, ref = _acquisition(tmp_path)
    dst, _ = _start_live(src, tmp_path, first=src.stat().st_size, hdr=False)
    with pytest.raises(FormatError, match="nav_shape"):
        scanstack.open(dst, follow=True, timeout=1)
    s = scanstack.open(dst, follow=True, nav_shape=(20,), timeout=1)  # the user's shape wins
    assert s.shape == (20, 16, 16) and len(s) == 20
    np.testing.assert_array_equal(s.to_numpy(), ref.to_numpy().reshape(20, 16, 16))


def test_follow_waits_for_the_first_header_then_gives_up(tmp_path):
    empty = tmp_path / "created.mib"  # created by the acquisition software, nothing written yet
    empty.write_bytes(b"MQ1,000001")
    with pytest.raises(FormatError, match="no frame header appeared within 0.2 s"):
        scanstack.open(empty, "mib", follow=True, timeout=0.2)

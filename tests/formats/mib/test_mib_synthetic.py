"""Synthetic Merlin files from our writer: every variant round-trips; navigation rules; errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _mibtest_helpers import as_native, rsciio_read

import scanstack
from scanstack.core.errors import FormatError, UnsupportedError, WriteError
from scanstack.datasets import SyntheticFrames
from scanstack.formats import mib
from scanstack.formats.mib import MibReader, MibWarning, write_mib
from scanstack.formats.mib.writer import frame_header, hdr_text

SHAPES = {"1x1": (32, 256), "2x2": (64, 512), "2x2G": (66, 514), "Nx1": (32, 1024)}
DTYPE = {1: np.uint8, 6: np.uint8, 12: np.uint16, 24: np.uint32}


def frames_for(depth, layout, n=6, seed=0):
    rows, cols = SHAPES[layout]
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 1 << depth, size=(n, rows, cols), dtype=np.uint64)
    data = data.astype(DTYPE[depth])
    if layout == "2x2G":  # the gap pixels hold no counts
        data[:, rows // 2 - 1 : rows // 2 + 1] = 0
        data[:, :, cols // 2 - 1 : cols // 2 + 1] = 0
    return data


VARIANTS = [
    (d, lay, raw)
    for d in (1, 6, 12, 24)
    for lay in SHAPES
    for raw in (False, True)
    if not (raw and lay == "Nx1")
]


@pytest.mark.parametrize(("depth", "layout", "raw"), VARIANTS)
def test_writer_reader_round_trip(tmp_path, depth, layout, raw):
    data = frames_for(depth, layout)
    path = tmp_path / "x.mib"
    written = write_mib(path, data, depth, layout, raw, nav_shape=(2, 3), frames_per_block=4)
    assert [p.name for p in written] == ["x.mib", "x.hdr"]
    s = scanstack.open(path)
    assert s.nav_shape == (2, 3) and s.signal_shape == data.shape[1:]
    assert s.dtype == DTYPE[depth]
    np.testing.assert_array_equal(s.to_numpy().reshape(data.shape), data)
    assert s.reader.geometry.raw == raw and s.reader.geometry.depth == depth
    # any region, both orientations
    np.testing.assert_array_equal(s.read(1, 4, ((5, 20), (7, 200))), data[1:4, 5:20, 7:200])
    buf = np.empty((2, *data.shape[1:]), s.dtype)
    assert s.reader.read(2, 4, out=buf) is buf
    assert s.reader.read(4, 100).shape == (2, *data.shape[1:])  # clamped, never garbage
    np.testing.assert_array_equal(buf, data[2:4])
    file_order = scanstack.open(path, flip=False)
    np.testing.assert_array_equal(
        file_order.read(0, 6, ((5, 20), (7, 200))), data[:, ::-1][:, 5:20, 7:200]
    )
    if not raw:
        # RosettaSciIO reads our processed files exactly like we do
        ref = rsciio_read(path)["data"]
        assert ref.shape == s.shape
        np.testing.assert_array_equal(as_native(ref), s.to_numpy())
        assert s.as_array().dtype.byteorder in (">", "|")
    else:
        assert s.as_array() is None
        packed = s.reader.as_packed()
        if depth == 24:
            assert packed is None
        else:
            assert packed["lanes"] == {1: "bits", 6: "u1", 12: ">u2"}[depth]
            assert packed["data"].shape == (6, s.reader.geometry.payload)
            np.testing.assert_array_equal(packed["decode"](packed["data"][2:5]), data[2:5])


def test_header_bytes_match_real_layout(tmp_path):
    h = frame_header(1, 1, 256, 256, "U08", "1x1", 1, 1618494182396481181, 1_000_000)
    assert len(h) == 384 and h.startswith(b"MQ1,000001,00384,01,0256,0256,U08,   1x1,01,")
    assert b",MQ1A,2021-04-15T13:43:02.396481181Z,1000000ns,1," in h
    assert len(frame_header(1, 4, 512, 512, "U16", "2x2", 12, 0, 1)) == 768
    hdr = hdr_text(9, 1, 12)
    assert len(hdr) == 2048 and hdr.startswith(b"HDR,\t\r\n") and b"\r\nEnd\t" in hdr


@pytest.mark.slow  # importing LiberTEM (bench extra) takes ~30 s
@pytest.mark.parametrize("depth", [1, 6, 12])
def test_raw_matches_libertem(tmp_path, depth):
    libertem = pytest.importorskip("libertem.io.dataset.mib")
    data = frames_for(depth, "2x2", n=4, seed=depth)
    data = np.concatenate([data] * 8, axis=1)  # LiberTEM decodes 2x2 raw only for 256 rows
    path = tmp_path / "q.mib"
    write_mib(path, data, depth, "2x2", raw=True, hdr=False, flip=False)
    ours = MibReader(path, flip=False).read(0, 4)
    np.testing.assert_array_equal(ours, data)
    ref = _libertem_frames(libertem, path, 4, data.shape[1:])
    np.testing.assert_array_equal(ref, ours)


def _libertem_frames(libertem_mib, path, n, sig_shape):
    from libertem.api import Context
    from libertem.executor.inline import InlineJobExecutor
    from libertem.io.dataset.base import BufferedBackend

    ctx = Context(executor=InlineJobExecutor())
    ds = ctx.load(
        "mib", path=str(path), nav_shape=(n,), sig_shape=sig_shape, io_backend=BufferedBackend()
    )
    from libertem.udf.raw import PickUDF

    roi = np.ones((n,), bool)
    return ctx.run_udf(ds, PickUDF(), roi=roi)["intensity"].raw_data


@pytest.mark.slow
def test_raw_24bit_decodes_every_frame_where_libertem_fails(tmp_path):
    libertem = pytest.importorskip("libertem.io.dataset.mib")
    data = frames_for(24, "1x1", n=3, seed=3)
    data = np.concatenate([data] * 8, axis=1)  # 256 x 256
    path = tmp_path / "r24.mib"
    write_mib(path, data, 24, "1x1", raw=True, hdr=False, flip=False)
    ours = MibReader(path, flip=False).read(0, 3)
    np.testing.assert_array_equal(ours, data)
    ref = _libertem_frames(libertem, path, 3, data.shape[1:])
    # LiberTEM's frame 0 is right (but cut to uint16) ...
    assert ref.dtype == np.uint16
    np.testing.assert_array_equal(ref[0], data[0] & 0xFFFF)
    # ... later frames are read at a wrong offset
    assert not np.array_equal(ref[1], data[1] & 0xFFFF)


# -- navigation shape ----------------------------------------------------------------------------
def _write(tmp_path, n=20, name="n.mib", **kw):
    path = tmp_path / name
    write_mib(path, SyntheticFrames(n, (16, 64), 6), 6, **kw)
    return path


def test_scanxy_beats_frames_per_trigger(tmp_path):
    p = _write(tmp_path, nav_shape=(4, 5), frames_per_trigger=10)
    s = scanstack.open(p)
    assert s.nav_shape == (4, 5) and s.metadata["navigation_source"] == "hdr ScanX/ScanY"
    assert scanstack.open(p, nav_shape=(2, 10)).nav_shape == (2, 10)
    assert scanstack.open(p, navigation_shape=(2, 10)).nav_shape == (10, 2)


def test_frames_per_trigger(tmp_path):
    p = _write(tmp_path, nav_shape=(4, 5), scan_xy=False)
    s = scanstack.open(p)
    assert s.nav_shape == (4, 5) and s.metadata["navigation_source"] == "hdr Frames per Trigger"
    assert rsciio_read(p)["data"].shape[:2] == (4, 5)


@pytest.mark.parametrize("hdr", [True, False])
def test_timestamp_flyback(tmp_path, hdr):
    p = _write(tmp_path, hdr=hdr, frames_per_trigger=1, line_length=5, flyback_ns=300_000)
    s = scanstack.open(p)
    assert s.nav_shape == (4, 5) and s.metadata["navigation_source"].startswith("timestamps")
    assert rsciio_read(p)["data"].shape[:2] == (4, 5)


def test_timestamp_scan_cut_short_says_so(tmp_path):
    """No .hdr, 22 frames in lines of 5: the 2 frames of the unfinished line are reported."""
    p = _write(tmp_path, n=22, hdr=False, frames_per_trigger=1, line_length=5, flyback_ns=300_000)
    with pytest.warns(MibWarning, match="interrupted acquisition.*last 2 frames"):
        s = scanstack.open(p)
    assert s.nav_shape == (4, 5) and s.metadata["interrupted"] is True
    assert len(s.metadata["notes"]) == 1
    assert rsciio_read(p)["data"].shape[:2] == (4, 5)
    assert scanstack.open(p, nav_shape=(22,)).nframes == 22


def test_timestamp_jitter_is_not_a_scan(tmp_path):
    # as in a real quad file: two spacings 10 ns apart
    ts = 10**18 + np.concatenate([[0], np.cumsum([2_095_240] * 2 + [2_095_250] * 17)])
    p = _write(tmp_path, frames_per_trigger=1, timestamps_ns=ts)
    assert scanstack.open(p).nav_shape == (20,)
    ref = rsciio_read(p)["data"].shape[:-2]
    assert ref != (20,)  # RosettaSciIO makes a scan out of the jitter ...
    assert scanstack.open(p, nav_heuristic="rsciio").nav_shape == ref  # ... reproducible on demand
    assert mib.line_length_from_timestamps(ts) is None


def test_timestamp_rule_details():
    base = np.arange(30, dtype=np.int64) * 1000_000
    fly = base + (np.arange(30) // 6) * 50_000
    assert mib.line_length_from_timestamps(fly) == 6
    odd = base.copy()
    odd[7:] += 50_000
    odd[10:] += 50_000  # gaps after frames 6 and 9: not a regular line length
    assert mib.line_length_from_timestamps(odd) is None
    assert mib.line_length_from_timestamps(base[:2]) is None


def test_extra_frames_beyond_the_hdr_scan_are_reported(tmp_path):
    p = _write(tmp_path, n=22, nav_shape=(4, 5), scan_xy=False, frames_in_acquisition=20)
    with pytest.warns(MibWarning, match="2 more frames"):
        s = scanstack.open(p)
    assert s.nav_shape == (4, 5) and rsciio_read(p)["data"].shape[:2] == (4, 5)
    assert scanstack.open(p, nav_shape=(22,)).nframes == 22


def test_continuous_acquisition_is_one_dimensional(tmp_path):
    p = _write(tmp_path, frames_per_trigger=4, frames_in_acquisition=0)
    assert scanstack.open(p).nav_shape == (20,)


def test_interrupted_acquisition_keeps_complete_lines(tmp_path):
    p = _write(tmp_path, n=17, nav_shape=(4, 5), scan_xy=False, frames_in_acquisition=20)
    with pytest.warns(MibWarning, match="interrupted"):
        s = scanstack.open(p)
    assert s.nav_shape == (3, 5)
    assert s.metadata["interrupted"] is True and "interrupted" in s.metadata["notes"][0]
    # one note, not a second one claiming the .hdr describes the truncated 3x5 scan
    assert len(s.metadata["notes"]) == 1
    assert rsciio_read(p)["data"].shape[:2] == (3, 5)
    np.testing.assert_array_equal(
        s.to_numpy().reshape(15, 16, 64), SyntheticFrames(17, (16, 64), 6)[:15]
    )


# -- split acquisitions -------------------------------------------------------------------------
def test_split_acquisition_opens_as_one_stack(tmp_path):
    frames = SyntheticFrames(10, (16, 64), 12)
    written = write_mib(tmp_path / "default.mib", frames, 12, nav_shape=(2, 5), images_per_file=4)
    assert [p.name for p in written] == [
        "default1.mib",
        "default2.mib",
        "default3.mib",
        "default.hdr",
    ]
    expected = frames[:10]
    for source in (
        tmp_path / "default2.mib",
        tmp_path / "default.hdr",
        str(tmp_path / "default*.mib"),
        [tmp_path / "default3.mib", tmp_path / "default1.mib", tmp_path / "default2.mib"],
    ):
        # scanstack.open checks that a path exists, so a glob goes to the format directly
        s = mib.open_mib(source) if isinstance(source, str) else scanstack.open(source, "mib")
        assert s.nav_shape == (2, 5)
        np.testing.assert_array_equal(s.to_numpy().reshape(10, 16, 64), expected)
        assert s.frame_headers()["sequence"].tolist() == list(range(1, 11))
    s = scanstack.open(tmp_path / "default2.mib", join=False, hdr=False)
    np.testing.assert_array_equal(s.to_numpy(), expected[4:8])
    assert len(s.source_paths()) == 1
    assert scanstack.open(tmp_path / "default1.mib").as_array() is None
    np.testing.assert_array_equal(
        scanstack.open(tmp_path / "default1.mib").read(3, 9), expected[3:9]
    )


def test_unrelated_numbered_files_are_not_joined(tmp_path):
    write_mib(tmp_path / "scan1.mib", SyntheticFrames(4, (16, 64), 6), 6)
    write_mib(tmp_path / "scan2.mib", SyntheticFrames(4, (16, 64), 6, seed=1), 6)
    assert scanstack.open(tmp_path / "scan1.mib").nframes == 4


# -- per-frame headers -----------------------------------------------------------------------------
def test_frame_headers_exact_and_slow_path(tmp_path, monkeypatch):
    ts = 1_700_000_000_123_456_789 + np.arange(6) * 1_234_567
    p = tmp_path / "h.mib"
    write_mib(
        p,
        SyntheticFrames(6, (16, 64), 12),
        12,
        timestamps_ns=ts,
        thresholds=(3.5, 20, 0, 0, 0, 0, 0, 0),
        shutter_ns=500_000,
    )
    t = mib.frame_headers(p)
    np.testing.assert_array_equal(t["timestamp"].astype(np.int64), ts)
    np.testing.assert_allclose(t["exposure"], 5e-4)
    np.testing.assert_allclose(t["thresholds"][:, :2], [[3.5, 20]] * 6)
    assert t["depth"].tolist() == [12] * 6 and t["dacs"].shape == (6, 1, 27)
    # frame 2 gets a header with a shorter shutter field: commas move, the slow path parses it
    stride = 384 + 16 * 64 * 2
    with open(p, "r+b") as fh:
        fh.seek(2 * stride)
        fh.write(frame_header(3, 1, 64, 16, "U16", "1x1", 12, int(ts[2]), 99_000))
    from scanstack.formats.mib import reader as reader_module

    with monkeypatch.context() as m:
        m.setattr(reader_module, "HEADER_BLOCK", 4)  # blocks of 4 headers: 2 blocks here
        np.testing.assert_array_equal(mib.frame_headers(p)["timestamp"], t["timestamp"])
    t2 = mib.frame_headers(p, 1, 4)
    np.testing.assert_allclose(t2["exposure"], [5e-4, 9.9e-5, 5e-4])
    np.testing.assert_array_equal(t2["timestamp"].astype(np.int64), ts[1:4])
    assert t2["sequence"].tolist() == [2, 3, 4]


# -- writer via the registry ---------------------------------------------------------------------
def test_save_from_array_and_resave_real_layout(tmp_path):
    data = frames_for(12, "2x2", n=6)
    src = scanstack.Stack.from_array(data.reshape(2, 3, 64, 512))
    scanstack.save(src, tmp_path / "a.mib", "mib", depth=12, layout="2x2", raw=True)
    back = scanstack.open(tmp_path / "a.mib")
    assert back.nav_shape == (2, 3) and back.reader.geometry.raw
    np.testing.assert_array_equal(back.to_numpy(), data.reshape(2, 3, 64, 512))
    scanstack.save(back, tmp_path / "b.mib")  # format from the extension, depth/layout kept
    again = scanstack.open(tmp_path / "b.mib")
    assert again.reader.geometry.depth == 12 and again.reader.first_header.layout == "2x2"
    np.testing.assert_array_equal(again.to_numpy(), back.to_numpy())
    file_order = scanstack.open(tmp_path / "a.mib", flip=False)
    scanstack.save(file_order.inav[1], tmp_path / "fo.mib")  # orientation follows the source
    np.testing.assert_array_equal(
        scanstack.open(tmp_path / "fo.mib").to_numpy(), data.reshape(2, 3, 64, 512)[1]
    )
    with pytest.raises(WriteError):
        scanstack.save(back, tmp_path / "a.mib", "mib")  # an input is never overwritten
    with pytest.raises(WriteError, match="outside 0..63"):
        scanstack.save(scanstack.Stack.from_array(data), tmp_path / "c.mib", "mib", depth=6)
    with pytest.raises(WriteError, match="Nx1"):
        write_mib(tmp_path / "d.mib", frames_for(6, "Nx1"), 6, "Nx1", raw=True)
    for bad in (1.5, np.nan):  # counts: not truncated to 1 / cast to garbage
        with pytest.raises(WriteError, match="non-integer or NaN"):
            write_mib(tmp_path / "e.mib", np.full((2, 8, 8), bad), 12)
    write_mib(tmp_path / "f.mib", np.full((2, 8, 8), 7.0), 12)  # whole numbers in floats are fine
    assert (scanstack.open(tmp_path / "f.mib").to_numpy() == 7).all()
    assert not (tmp_path / "c.mib").exists() and not (tmp_path / "d.mib").exists()
    assert not (tmp_path / "e.mib").exists()


def test_synthetic_frames_are_reproducible_by_block():
    f = SyntheticFrames(50, (8, 8), 12, seed=4)
    assert np.array_equal(f[10:20][3], f[13])
    assert f[0:50].max() == 4095 and f[0:50].dtype == np.uint16


# -- bad input ------------------------------------------------------------------------------------
@pytest.fixture
def good(tmp_path):
    p = tmp_path / "g.mib"
    write_mib(p, SyntheticFrames(5, (16, 64), 12), 12, hdr=False)
    return p, p.read_bytes(), 384 + 16 * 64 * 2


def test_truncated_file_keeps_complete_frames(good, tmp_path):
    p, data, stride = good
    cut = tmp_path / "cut.mib"
    cut.write_bytes(data[: 4 * stride + 100])
    with pytest.warns(
        MibWarning, match=f"100 bytes of an incomplete frame at byte offset {4 * stride}"
    ):
        s = scanstack.open(cut)
    assert s.nframes == 4
    np.testing.assert_array_equal(s.to_numpy(), scanstack.open(p).to_numpy()[:4])
    cut.write_bytes(data[: stride - 1])
    with pytest.raises(FormatError, match="no complete frame"):
        scanstack.open(cut)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (lambda b, s: b"XQ1" + b[3:], "starting with b'MQ1,'"),
        (lambda b, s: b[:11] + b"00200" + b[16:], "does not end with ','"),
        (lambda b, s: b[:11] + b"0038x" + b[16:], "should be an integer"),
        (lambda b, s: b[:s] + b"\0" * 10 + b[s:], "no frame header is found where frame"),
        (lambda b, s: b"", "too small"),
    ],
)
def test_corrupt_headers_raise_clear_errors(good, tmp_path, patch, message):
    _, data, stride = good
    bad = tmp_path / "bad.mib"
    bad.write_bytes(patch(data, stride))
    with pytest.raises(FormatError, match=message) as info:
        MibReader(bad)
    assert str(bad) in str(info.value)


@pytest.mark.parametrize(
    ("at", "patch", "message"),
    [
        (4, b"0a0x03", "'sequence number' should be an integer"),
        (0, b"ZZZ", "starting with b'MQ1,'"),
        (44, b"garbage!!!", "unreadable time stamp .garbage!!!"),
    ],
)
def test_corrupt_middle_header_in_frame_headers_names_the_offset(
    good, tmp_path, at, patch, message
):
    """Reading every header (frame_headers(), or the timestamp rule at open when there is no
    .hdr) must say which one is broken instead of raising numpy's ValueError."""
    _, data, stride = good
    bad = tmp_path / "bad.mib"
    b = bytearray(data)
    b[2 * stride + at : 2 * stride + at + len(patch)] = patch
    bad.write_bytes(bytes(b))
    with pytest.raises(FormatError, match=message) as info:
        scanstack.open(bad, nav_shape=(5,)).frame_headers()
    assert str(bad) in str(info.value) and f"byte offset {2 * stride}" in str(info.value)
    with pytest.raises(FormatError, match=message):
        scanstack.open(bad)  # no .hdr: the timestamp rule reads every header


def test_frame_size_change_is_an_error(good, tmp_path):
    _, data, stride = good
    other = frame_header(5, 1, 64, 15, "U16", "1x1", 12, 0, 1000)
    bad = tmp_path / "bad.mib"
    bad.write_bytes(data[: 4 * stride] + other + data[4 * stride + 384 :])
    with pytest.raises(FormatError, match="height 15 differs from the first frame's 16"):
        scanstack.open(bad)


def test_hdr_contradicting_data_warns_and_trusts_frames(good, tmp_path):
    p, data, _ = good
    p.with_suffix(".hdr").write_bytes(hdr_text(5, 5, 6, layout="2x2"))
    with pytest.warns(MibWarning, match="counter depth 6"):
        s = scanstack.open(p)
    assert any("assembly size" in n for n in s.metadata["notes"])
    assert s.dtype == np.uint16 and s.reader.geometry.depth == 12
    np.testing.assert_array_equal(s.to_numpy(), scanstack.open(p, hdr=False).to_numpy())


def test_hdr_is_parsed_tolerantly():
    text = (
        "HDR,\t\r\nFrames in Acquisition (Number):\t12\r\nTemperature (C):\tBoard 46\xb0C\r\n"
        "Assembly Size (NX1, 2X2):\t   2x2\r\nEnd\t" + " " * 40
    ).encode("latin-1")
    hdr = mib.parse_hdr_text(text)
    assert hdr["Frames in Acquisition (Number)"] == "12"
    assert hdr["Temperature (C)"] == "Board 46\xb0C"
    assert hdr["Assembly Size (NX1, 2X2)"] == "   2x2" and len(hdr) == 3
    assert mib.parse_hdr_text(text.replace(b"\r\n", b"\n")) == hdr


def test_unsupported_variants(good, tmp_path):
    p, data, stride = good
    u01 = tmp_path / "u01.mib"
    u01.write_bytes(data.replace(b",U16,", b",U01,"))
    with pytest.raises(UnsupportedError, match="U01"):
        MibReader(u01)
    with pytest.raises(UnsupportedError, match="mmap_mode"):
        MibReader(p, mmap_mode="r+")
    rawn = tmp_path / "rawn.mib"
    h = frame_header(1, 4, 1024, 16, "R64", "Nx1", 12, 0, 1000, size=768)
    rawn.write_bytes(h + bytes(1024 * 16 * 2))
    with pytest.raises(UnsupportedError, match="Nx1"):
        MibReader(rawn)


def test_print_info_and_eager(good, capsys):
    p, _, _ = good
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = scanstack.open(p, print_info=True, lazy=False)
    assert "5 frames" in capsys.readouterr().out
    np.testing.assert_array_equal(s[2], scanstack.open(p)[2])


@pytest.mark.parametrize(
    ("depth", "layout"), [(d, lay) for d in (1, 6, 12, 24) for lay in ("1x1", "2x2", "2x2G")]
)
def test_compiled_decoder_matches_numpy_reference(depth, layout):
    from scanstack.formats.mib import raw

    data = frames_for(depth, layout, n=3, seed=depth)
    quad, gap = layout != "1x1", layout.endswith("G")
    payload = raw.encode(data, depth, quad, gap)
    g = 2 if gap else 0
    rows = (data.shape[1] - g) // 2 if quad else data.shape[1]
    width = 2 * (data.shape[2] - g) if quad else data.shape[2]
    ref = raw.decode(payload, depth, rows, width, quad, gap)
    np.testing.assert_array_equal(ref, data)
    for flip in (False, True):
        fast = raw.decode_into(payload, depth, rows, width, quad, gap, flip)
        np.testing.assert_array_equal(fast, ref[:, ::-1] if flip else ref)


def test_chunks_of_the_wrong_length_are_a_clear_error(tmp_path):
    import numpy as np
    import pytest

    import scanstack
    from scanstack.core.errors import FormatError
    from scanstack.formats.mib.writer import write_mib

    path = tmp_path / "c.mib"
    write_mib(path, np.ones((6, 8, 8), np.uint16), depth=12, nav_shape=(2, 3))
    assert scanstack.open(path, chunks=(1, 3, 8, 8)).to_dask().chunks[0] == (1, 1)
    with pytest.raises(FormatError, match=r"chunks=\(1, 3\) has 2 entries .* 4 dimensions"):
        scanstack.open(path, chunks=(1, 3)).to_dask()


def test_raw_2x2g_writer_warns_when_gap_values_are_dropped(tmp_path):
    import numpy as np
    import pytest

    import scanstack
    from scanstack.formats.mib.writer import write_mib

    frames = np.ones((2, 514, 514), np.uint8)
    with pytest.warns(UserWarning, match="cannot store the gap"):
        write_mib(tmp_path / "g.mib", frames, depth=1, layout="2x2G", raw=True)
    back = scanstack.open(tmp_path / "g.mib")[0]
    assert back[256:258].max() == 0 and back[:256, :256].min() == 1
    frames[:, 256:258] = 0
    frames[:, :, 256:258] = 0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_mib(tmp_path / "h.mib", frames, depth=1, layout="2x2G", raw=True)

"""RosettaSciIO's six public Quantum Detector functions, ours against theirs on every real file.

``rsciio.quantumdetector`` is called for real and is the judge: data (values, dtype, shape, array
type, dask chunks), axes, metadata, original_metadata (``mib_properties`` with value types, and
``hdr_file``), frame headers, exposures, time stamps, ``MIBProperties`` and its repr, warnings
and errors. Deliberate differences (docs/mib.md) are asserted as such.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

import numpy as np
import pytest
from _mibtest_helpers import FRAME_OPTIONS, SCAN_4X2, SINGLE_9, real_mib_names

from scanstack.formats import mib as ours

theirs = pytest.importorskip("rsciio.quantumdetector._api")
from rsciio.exceptions import VisibleDeprecationWarning  # noqa: E402

PROCESSED = [n for n in real_mib_names() if not n.endswith("RAW.mib")]

QUAD_9 = "Merlin_Single_Quad.zip/Quad_9_Frame_CounterDepth_6_Rows_256.mib"


@pytest.fixture(autouse=True)
def _quiet():
    """RosettaSciIO logs a warning for every file without .hdr; both libraries do."""
    logging.disable(logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    logging.disable(logging.NOTSET)


def assert_same(ref, got, where="result"):
    """Equal values of equal types, recursively; arrays: same class, dtype, shape, chunks, values."""
    if isinstance(ref, dict):
        assert isinstance(got, dict), where
        assert list(got) == list(ref), f"{where}: keys {list(got)} != {list(ref)}"
        for k in ref:
            assert_same(ref[k], got[k], f"{where}[{k!r}]")
    elif isinstance(ref, (list, tuple)):
        assert type(got) is type(ref) and len(got) == len(ref), f"{where}: {got!r} != {ref!r}"
        for i, (a, b) in enumerate(zip(ref, got, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif hasattr(ref, "chunks") and hasattr(ref, "compute"):  # dask
        assert type(got) is type(ref), where
        assert (got.dtype, got.shape, got.chunks) == (ref.dtype, ref.shape, ref.chunks), where
        np.testing.assert_array_equal(got.compute(), ref.compute(), err_msg=where)
    elif isinstance(ref, np.ndarray):
        assert type(got) is type(ref), f"{where}: {type(got)} != {type(ref)}"
        assert (got.dtype, got.shape) == (ref.dtype, ref.shape), where
        np.testing.assert_array_equal(got, ref, err_msg=where)
    else:
        assert type(got) is type(ref) and got == ref, f"{where}: {got!r} != {ref!r}"


def _chunks_for(ndim: int) -> tuple:
    """Uneven chunks (rows: 100, 100, rest) so that the flip of the rows shows in them."""
    return {3: (2, 100, 100), 4: (1, 3, 100, 64)}[ndim]


@pytest.mark.parametrize("name", PROCESSED)
def test_file_reader_and_mib_properties_match(mib_dir, name):
    path = str(mib_dir / name)
    for kw in ({}, {"lazy": True}):
        ref = theirs.file_reader(path, **kw)
        got = ours.file_reader(path, **kw)
        assert len(got) == len(ref) == 1
        assert_same(ref[0], got[0], f"file_reader({name}, {kw})")
    props = got[0]["original_metadata"]["mib_properties"]
    assert len(props) == 22 and props["navigation_shape"] and props["dtype"]
    # chunks are given for the shape before length-1 axes are dropped (RosettaSciIO's rule)
    kw = {"lazy": True, "chunks": _chunks_for(len(props["navigation_shape"]) + 2)}
    assert_same(theirs.file_reader(path, **kw)[0]["data"], ours.file_reader(path, **kw)[0]["data"])


@pytest.mark.parametrize("name", PROCESSED)
def test_load_mib_data_headers_exposures_timestamps_match(mib_dir, name):
    path = str(mib_dir / name)
    for kw in ({}, {"lazy": True}, {"mmap_mode": "r"}):
        assert_same(theirs.load_mib_data(path, **kw), ours.load_mib_data(path, **kw))
    chunked = {"return_mmap": False, "lazy": True, "chunks": (1, 100, 128)}
    for kw in ({"return_mmap": False, "lazy": True}, chunked):
        assert_same(theirs.load_mib_data(path, **kw), ours.load_mib_data(path, **kw))
    # eager, not memory-mapped: RosettaSciIO's type depends on its dask graph (a memmap when the
    # whole file is one chunk); ours is always a plain ndarray, the values are the same
    ref = theirs.load_mib_data(path, return_mmap=False)
    got = ours.load_mib_data(path, return_mmap=False)
    assert type(got) is np.ndarray and isinstance(ref, np.ndarray)
    assert (got.dtype, got.shape) == (ref.dtype, ref.shape)
    np.testing.assert_array_equal(got, ref)

    ref_data, ref_headers = theirs.load_mib_data(path, return_headers=True)
    data, headers = ours.load_mib_data(path, return_headers=True)
    assert_same((ref_data, ref_headers), (data, headers))
    n = len(headers)
    for fn in ("parse_exposures", "parse_timestamps"):
        f_ref, f_got = getattr(theirs, fn), getattr(ours, fn)
        assert_same(f_ref(ref_headers), f_got(headers), fn)
        assert_same(f_ref(ref_headers[0]), f_got(headers[0]), fn)
        assert_same(f_ref(ref_headers, max_index=n), f_got(headers, max_index=n), fn)
        assert_same(f_ref(list(ref_headers), max_index=1), f_got(list(headers), max_index=1), fn)
        # max_index=-1 is documented as "all frames": RosettaSciIO drops the last one
        assert_same(f_ref(ref_headers, max_index=n), f_got(headers, max_index=-1), fn)
        assert len(f_ref(ref_headers, max_index=-1)) == n - 1

    ref_prop, prop = theirs.MIBProperties(), ours.MIBProperties()
    assert_same(vars(ref_prop), vars(prop), "MIBProperties()")
    ref_prop.parse_file(path)
    prop.parse_file(path)
    assert_same(vars(ref_prop), vars(prop), "parse_file")
    assert repr(prop) == repr(ref_prop)
    # mib_prop= is used as given and receives the navigation RosettaSciIO records
    theirs.load_mib_data(path, mib_prop=ref_prop, navigation_shape=(1,))
    ours.load_mib_data(path, mib_prop=prop, navigation_shape=(1,))
    assert_same(vars(ref_prop), vars(prop), "mib_prop after load_mib_data")
    assert repr(prop) == repr(ref_prop)


def test_parse_hdr_file_matches_on_every_hdr(mib_dir):
    hdrs = sorted(mib_dir.rglob("*.hdr"))
    assert len(hdrs) >= 60
    for h in hdrs:
        assert_same(theirs.parse_hdr_file(str(h)), ours.parse_hdr_file(str(h)), str(h))
        assert ours.parse_hdr_file(h) == ours.parse_hdr_file(str(h))  # Path accepted too


@pytest.mark.parametrize("name", [SCAN_4X2, SINGLE_9])
@pytest.mark.parametrize("kw", FRAME_OPTIONS, ids=str)
def test_frame_range_and_navigation_options_match(mib_dir, name, kw):
    path = str(mib_dir / name)
    for lazy in (False, True):
        assert_same(
            theirs.file_reader(path, lazy=lazy, **kw)[0], ours.file_reader(path, lazy=lazy, **kw)[0]
        )
    assert_same(theirs.load_mib_data(path, **kw), ours.load_mib_data(path, **kw))
    assert_same(
        theirs.load_mib_data(path, return_headers=True, **kw),
        ours.load_mib_data(path, return_headers=True, **kw),
    )


def test_buffers(mib_dir):
    buf = (mib_dir / SCAN_4X2).read_bytes()
    for kw in ({}, {"navigation_shape": (4, 2)}, {"return_headers": True}):
        assert_same(theirs.load_mib_data(buf, **kw), ours.load_mib_data(buf, **kw))
    data, headers = ours.load_mib_data(buf, navigation_shape=(4, 2), return_headers=True)
    assert data.shape == (2, 4, 256, 256) and headers.shape == (2, 4)
    ref_prop, prop = theirs.MIBProperties(), ours.MIBProperties()
    ref_prop.parse_file(buf)
    prop.parse_file(buf)
    assert_same(vars(ref_prop), vars(prop))
    assert repr(prop) == repr(ref_prop) and repr(prop).startswith("\nData is from a buffer")
    for lib in (theirs, ours):
        with pytest.raises(ValueError, match="lazily"):
            lib.load_mib_data(buf, lazy=True)
    # beyond RosettaSciIO: a quad buffer (it re-reads the header from a path it does not have),
    # and first_frame on a buffer (it ignores it)
    quad = mib_dir / QUAD_9
    np.testing.assert_array_equal(
        ours.load_mib_data(quad.read_bytes()), theirs.load_mib_data(str(quad))
    )
    with pytest.raises(TypeError):
        theirs.MIBProperties().parse_file(quad.read_bytes())
    np.testing.assert_array_equal(
        ours.load_mib_data(buf, first_frame=3), theirs.load_mib_data(str(mib_dir / SCAN_4X2))[3:]
    )


def test_errors_and_deprecation_warnings_match(mib_dir):
    path = str(mib_dir / SCAN_4X2)
    for lib in (theirs, ours):
        with pytest.raises(TypeError, match="tuple type"):
            lib.file_reader(path, navigation_shape=[4, 2])
        with pytest.raises(TypeError, match="tuple type"):
            lib.load_mib_data(path, navigation_shape=[4, 2])
        with pytest.raises(ValueError, match="return_mmap=True"):
            lib.load_mib_data(path, return_headers=True, return_mmap=False)
    messages = []
    for lib in (theirs, ours):
        for call in (lib.file_reader, lib.load_mib_data):
            for distributed in (True, False):
                with pytest.warns(VisibleDeprecationWarning) as rec:
                    call(path, distributed=distributed)
                messages.append([str(w.message) for w in rec])
    assert messages[:4] == messages[4:]
    assert "`distributed` is deprecated" in messages[0][0]


def test_print_info_prints_mib_properties(mib_dir):
    path = str(mib_dir / SCAN_4X2)
    printed = []
    for lib in (theirs, ours):
        for call in (lib.file_reader, lib.load_mib_data):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                call(path, print_info=True)
            printed.append(out.getvalue())
    assert printed[:2] == printed[2:]
    assert printed[0].startswith("\nPath: ") and "Number of frames to be read: 8" in printed[0]


def test_signatures_match():
    import inspect

    for fn in ("file_reader", "load_mib_data", "parse_exposures", "parse_timestamps"):
        ref = inspect.signature(getattr(theirs, fn))
        got = inspect.signature(getattr(ours, fn))
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == [
            (p.name, p.kind, p.default) for p in ref.parameters.values()
        ], fn
    assert [p.name for p in inspect.signature(ours.parse_hdr_file).parameters.values()] == ["path"]


@pytest.mark.parametrize(
    "name",
    [
        "Merlin_Single_Quad.zip/Single_9_Frame_CounterDepth_1_Rows_256RAW.mib",
        "Merlin_Single_Quad.zip/Quad_9_Frame_CounterDepth_1_Rows_256RAW.mib",
    ],
)
def test_raw_files_read_where_rsciio_refuses(mib_dir, name):
    import scanstack

    path = str(mib_dir / name)
    with pytest.raises(NotImplementedError):
        theirs.file_reader(path)
    d = ours.file_reader(path)[0]
    s = scanstack.open(path, endian="big", nav_heuristic="rsciio")
    assert d["data"].shape == s.shape and d["data"].dtype == s.dtype
    np.testing.assert_array_equal(d["data"], s.to_numpy())
    props = d["original_metadata"]["mib_properties"]
    assert props["raw"] is True and props["dtype"] == s.dtype.name
    assert props["merlin_size"] == s.signal_shape
    data, headers = ours.load_mib_data(path, return_headers=True)
    assert type(data) is np.ndarray and data.shape[0] == len(headers)
    assert ours.parse_timestamps(headers)[0] == props["timestamp"]
    np.testing.assert_array_equal(
        data[:, ::-1].reshape(s.shape), s.to_numpy()
    )  # file order = rows not reversed


def test_documented_differences(mib_dir, tmp_path, caplog):
    """The differences listed in docs/mib.md, each asserted."""
    from scanstack.core.errors import FormatError, UnsupportedError
    from scanstack.formats.mib import MibWarning

    path = mib_dir / SINGLE_9
    # Path objects are accepted (RosettaSciIO: str only)
    np.testing.assert_array_equal(
        ours.file_reader(path)[0]["data"], theirs.file_reader(str(path))[0]["data"]
    )
    with pytest.raises(TypeError):
        theirs.MIBProperties().parse_file(path)
    # not a Merlin file, a missing file
    bad = tmp_path / "bad.mib"
    bad.write_bytes(b"not a merlin file" * 100)
    with pytest.raises(FormatError, match="bad.mib.*byte offset 0"):
        ours.load_mib_data(str(bad))
    with pytest.raises(FileNotFoundError):
        ours.MIBProperties().parse_file(str(tmp_path / "missing.mib"))
    # files are never opened for writing
    for fn in (ours.file_reader, ours.load_mib_data):
        with pytest.raises(UnsupportedError):
            fn(str(path), mmap_mode="r+")
    # an interrupted acquisition is reported (same shape as RosettaSciIO's)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MibWarning)
        with pytest.raises(MibWarning, match="interrupted"):
            ours.file_reader(str(path), navigation_shape=(4, 3))
    # an edited mib_prop does not drive the reading
    prop = ours.MIBProperties()
    prop.parse_file(str(path))
    prop.head_size, prop.dtype = 999, "uint8"
    np.testing.assert_array_equal(
        ours.load_mib_data(str(path), mib_prop=prop), theirs.load_mib_data(str(path))
    )
    assert prop.xy == 9 and prop.frame_number_in_file == 9
    # scanstack's options pass through file_reader: the robust rule sees no scan in 10 ns jitter
    jitter = str(mib_dir / "Merlin_Single_Quad.zip/Quad_9_Frame_CounterDepth_24_Rows_256.mib")
    assert theirs.file_reader(jitter)[0]["data"].shape[:2] == (3, 3)
    assert ours.file_reader(jitter, nav_heuristic="robust")[0]["data"].shape[0] == 9
    # headers without the MQ1A extension (old firmware): the shutter and local time fields
    _, headers = ours.load_mib_data(str(path), return_headers=True)
    text = bytes(headers[0]).decode()
    old = text[: text.index("MQ1A")].encode().ljust(len(bytes(headers[0])) + 1, b"\0")
    fields = text.split(",")
    assert ours.parse_timestamps(old) == [fields[9]]
    assert ours.parse_exposures(old) == [float(fields[10]) * 1e3]
    # U64 pixels have a dtype name
    u64 = bytearray(path.read_bytes()[:384])
    u64[u64.index(b"U16") : u64.index(b"U16") + 3] = b"U64"
    prop = ours.MIBProperties()
    prop.parse_file(bytes(u64))
    assert prop.dtype == "uint64" and prop.dynamic_range == ""
    # no .hdr: RosettaSciIO's logged warning
    lonely = tmp_path / "lonely.mib"
    lonely.write_bytes(path.read_bytes())
    logging.disable(logging.NOTSET)
    with caplog.at_level(logging.WARNING):
        ours.file_reader(str(lonely))
    assert "`hdr` file couldn't be found." in caplog.text


def test_many_headers_from_our_writer(tmp_path):
    """3000 frames with irregular time stamps: the column fast path gives RosettaSciIO's lists."""
    rng = np.random.default_rng(7)
    stamps = 1_700_000_000_000_000_000 + np.cumsum(rng.integers(1, 10**7, 3000))
    path = str(tmp_path / "many.mib")
    ours.write_mib(
        path,
        np.zeros((3000, 4, 4), np.uint16),
        12,
        "1x1",
        False,
        timestamps_ns=stamps,
        shutter_ns=123_456_789,
    )
    ref_data, ref_headers = theirs.load_mib_data(path, return_headers=True)
    data, headers = ours.load_mib_data(path, return_headers=True)
    assert_same((ref_data, ref_headers), (data, headers))
    for fn in ("parse_exposures", "parse_timestamps"):
        ref = getattr(theirs, fn)(ref_headers, max_index=3000)
        assert_same(ref, getattr(ours, fn)(headers))
        assert_same(ref, getattr(ours, fn)(headers, max_index=-1))
        assert_same(ref[:5], getattr(ours, fn)(list(headers), max_index=5))
    assert ours.parse_exposures(headers[:1]) == [123.456789]
    assert len(set(ours.parse_timestamps(headers))) == 3000

"""hexrd ``hdf5`` image series: reading hexrd-layout files, writing byte-compatible ones."""

import copy
import pickle

import h5py
import hdf5plugin
import numpy as np
import pytest
from _hexrd_helpers import omega

import scanstack
from scanstack.core.errors import FormatError, ScanstackError, UnsupportedError, WriteError
from scanstack.core.registry import Probe
from scanstack.formats import hexrd_hdf5

BLOSC_FILTER_ID = 32001


def frames(n=5, rows=12, cols=9, dtype=np.uint16, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 1000, (n, rows, cols)) - (500 if np.dtype(dtype).kind != "u" else 0)
    ).astype(dtype)


def hexrd_style_file(path, data, attrs, group="imageseries"):
    """The layout hexrd's writer produces, built with h5py from the spec."""
    with h5py.File(path, "w") as f:
        g = f.create_group(group)
        g.create_dataset(
            "images",
            data=data,
            chunks=(1, data.shape[-2], data.shape[-1]),
            compression="gzip",
            compression_opts=1,
            shuffle=True,
        )
        for k, v in attrs.items():
            g.attrs[k] = v
    return path


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float32, np.float64])
def test_round_trip_keeps_frames_dtype_and_metadata(tmp_path, dtype):
    data = frames(dtype=dtype)
    meta = {
        "omega": omega(5),
        "panel": "ff1",
        "count": 3,
        "gain": 1.5,
        "nested": {"a": 1, "b": {"c": [1, 2]}},
        "nothing": None,
        "testing": np.array([1, 2, 3]),
    }
    before = copy.deepcopy(meta)
    src = scanstack.Stack.from_array(data, metadata=meta)
    out = scanstack.save(src, tmp_path / "s.h5", "hdf5", path="imageseries")
    s = scanstack.open(out, "hdf5", path="imageseries")
    assert s.dtype == np.dtype(dtype)
    assert s.shape == data.shape
    np.testing.assert_array_equal(s[:], data)
    np.testing.assert_array_equal(s.metadata["omega"], meta["omega"])
    np.testing.assert_array_equal(s.metadata["testing"], [1, 2, 3])
    assert s.metadata["panel"] == "ff1"
    assert s.metadata["count"] == 3 and s.metadata["gain"] == 1.5
    assert s.metadata["nested"] == {"a": 1, "b": {"c": [1, 2]}}
    assert s.metadata["nothing"] is None
    # the source metadata is untouched
    assert meta.keys() == before.keys() and meta["nested"] == before["nested"]


def test_written_file_has_hexrd_layout(tmp_path):
    data = frames(n=4, rows=10, cols=7)
    meta = {"omega": omega(4), "names": np.array(["a", "bc"])}
    src = scanstack.Stack.from_array(data, metadata=meta)
    scanstack.save(src, tmp_path / "a.h5", "hdf5", path="det/ff1")
    scanstack.save(src, tmp_path / "b.h5", "hdf5", path="g", gzip=0, chunk_rows=3)
    scanstack.save(
        src,
        tmp_path / "c.h5",
        "hdf5",
        path="g",
        compression=hdf5plugin.Blosc(cname="zstd", clevel=5),
    )
    with h5py.File(tmp_path / "a.h5") as f:
        assert list(f) == ["det"] and list(f["det/ff1"]) == ["images"]
        ds = f["det/ff1/images"]
        assert ds.shape == (4, 10, 7) and ds.dtype == np.uint16
        assert ds.chunks == (1, 10, 7)
        assert ds.compression == "gzip" and ds.compression_opts == 1 and ds.shuffle
        attrs = dict(f["det/ff1"].attrs)
        assert set(attrs) == {"omega", "names"}
        assert attrs["omega"].dtype == np.float64 and attrs["omega"].shape == (4, 2)
        # unicode arrays are stored as bytes, as hexrd does
        assert attrs["names"].dtype.kind == "S"
        np.testing.assert_array_equal(ds[()], data)
    with h5py.File(tmp_path / "b.h5") as f:
        ds = f["g/images"]
        assert ds.chunks == (1, 3, 7) and ds.compression is None
    with h5py.File(tmp_path / "c.h5") as f:
        ds = f["g/images"]
        assert ds.id.get_create_plist().get_filter(0)[0] == BLOSC_FILTER_ID
        np.testing.assert_array_equal(ds[()], data)
    # the CLI's --compression passes a name: it crashed in dict('blosc-zstd')
    scanstack.save(src, tmp_path / "d.h5", "hdf5", path="g", compression="blosc-zstd")
    scanstack.save(src, tmp_path / "e.h5", "hdf5", path="g", compression="gzip-6")
    with h5py.File(tmp_path / "d.h5") as f, h5py.File(tmp_path / "e.h5") as g:
        assert f["g/images"].id.get_create_plist().get_filter(0)[0] == BLOSC_FILTER_ID
        assert g["g/images"].compression == "gzip" and g["g/images"].compression_opts == 6
        np.testing.assert_array_equal(f["g/images"][()], data)
    with pytest.raises(UnsupportedError, match="unknown compression 'nope'"):
        scanstack.save(src, tmp_path / "f.h5", "hdf5", path="g", compression="nope")


def test_gzip_out_of_range_is_a_value_error(tmp_path):
    src = scanstack.Stack.from_array(frames())
    with pytest.raises(ValueError, match="gzip") as info:
        scanstack.save(src, tmp_path / "x.h5", "hdf5", path="g", gzip=10)
    assert isinstance(info.value, ScanstackError)
    assert not (tmp_path / "x.h5").exists()


def test_reads_hexrd_file_metadata_exactly_as_hexrd(tmp_path):
    data = frames(n=3)
    attrs = {
        "omega": omega(3),
        "testing": np.array([1, 2, 3]),
        "panel": np.bytes_("ff1"),
        "names": np.array([b"a", b"b"]),
    }
    path = hexrd_style_file(tmp_path / "h.h5", data, attrs)
    s = scanstack.open(path, "hdf5", path="imageseries")
    with h5py.File(path) as f:
        expected = dict(f["imageseries"].attrs)
    assert s.metadata.keys() == expected.keys()
    for k, v in expected.items():
        assert type(s.metadata[k]) is type(v)
        np.testing.assert_array_equal(s.metadata[k], v)
    np.testing.assert_array_equal(s[1], data[1])
    s.metadata["omega"] = omega(3) * 2  # a plain mutable dict, as in hexrd
    assert s.metadata["omega"][1, 1] == 1.0


def test_two_dimensional_dataset_is_one_frame(tmp_path):
    with h5py.File(tmp_path / "one.h5", "w") as f:
        f.create_dataset("g/images", data=frames(1)[0])
    s = scanstack.open(tmp_path / "one.h5", "hdf5", path="g")
    assert len(s) == 1 and s.signal_shape == (12, 9)
    np.testing.assert_array_equal(s[0], frames(1)[0])
    np.testing.assert_array_equal(s.get_region(0, ((2, 4), (1, 3))), frames(1)[0][2:4, 1:3])


def test_integer_keys_of_any_kind(tmp_path):
    data = frames()
    path = hexrd_style_file(tmp_path / "h.h5", data, {})
    s = scanstack.open(path, "hdf5", path="imageseries")
    np.testing.assert_array_equal(s[np.int64(2)], data[2])
    np.testing.assert_array_equal(s[-1], data[-1])
    np.testing.assert_array_equal(s[np.int32(-2), 3:5, np.array([1, 2])], data[-2][3:5, [1, 2]])
    with pytest.raises(IndexError):
        s[5]


def test_get_region_reads_only_the_region(tmp_path):
    """Corrupt the chunks outside the region: a region read must not touch them."""
    data = frames(n=2, rows=8, cols=6)
    src = scanstack.Stack.from_array(data)
    path = scanstack.save(src, tmp_path / "r.h5", "hdf5", path="g", chunk_rows=1)
    with h5py.File(path) as f:
        ds = f["g/images"]
        bad = [ds.id.get_chunk_info_by_coord((0, r, 0)) for r in (0, 1, 6, 7)]
    with open(path, "r+b") as fh:
        for info in bad:
            fh.seek(info.byte_offset)
            fh.write(b"\xff" * info.size)
    s = scanstack.open(path, "hdf5", path="g")
    np.testing.assert_array_equal(s.get_region(0, ((2, 6), (1, 5))), data[0, 2:6, 1:5])
    np.testing.assert_array_equal(s[0, 3:5, 2:4], data[0, 3:5, 2:4])
    with pytest.raises(FormatError, match="r.h5"):
        s[0]


def test_open_h5py_file_pickles_by_file_name(tmp_path):
    data = frames()
    path = hexrd_style_file(tmp_path / "h.h5", data, {"omega": omega(5)})
    f = h5py.File(path, "r")
    s = scanstack.open(f, "hdf5", path="imageseries")
    clone = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(clone[3], data[3])
    np.testing.assert_array_equal(clone.metadata["omega"], omega(5))
    assert clone.reader.source == str(path)
    s.close()  # close_when_finished (hexrd's default) closes the caller's file
    assert not f.id.valid
    # a sub-group of an open file works too, and its file is left open
    with h5py.File(path, "r") as f2:
        s2 = scanstack.open(f2["imageseries"], "hdf5", path=".")
        np.testing.assert_array_equal(s2[0], data[0])
        s2.close()
        assert f2.id.valid


def test_path_is_detected_when_unambiguous(tmp_path):
    data = frames()
    path = hexrd_style_file(tmp_path / "h.h5", data, {})
    s = scanstack.open(path)  # format and group both detected
    assert s.format == "hdf5"
    np.testing.assert_array_equal(s[0], data[0])
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f.create_dataset("a/images", data=data)
        f.create_dataset("b/images", data=data)
    with pytest.raises(FormatError, match=r"two\.h5.*path=.*a, b"):
        scanstack.open(tmp_path / "two.h5", "hdf5")


def test_write_into_open_file_in_place(tmp_path):
    data = frames()
    src = scanstack.Stack.from_array(data, metadata={"panel": "ff1"})
    with h5py.File(tmp_path / "multi.h5", "w") as f:
        scanstack.save(src, f, "hdf5", path="ff1")
        scanstack.save(src, f["/"], "hdf5", path="ff2")
        with pytest.raises(WriteError, match="ff1"):
            scanstack.save(src, f, "hdf5", path="ff1")
    for panel in ("ff1", "ff2"):
        s = scanstack.open(tmp_path / "multi.h5", "hdf5", path=panel)
        np.testing.assert_array_equal(s[:], data)


def test_never_overwrites_its_input(tmp_path):
    path = hexrd_style_file(tmp_path / "h.h5", frames(), {})
    s = scanstack.open(path, "hdf5", path="imageseries")
    with pytest.raises(WriteError, match="input"):
        scanstack.save(s, path, "hdf5", path="again")
    np.testing.assert_array_equal(scanstack.open(path, "hdf5", path="imageseries")[0], frames()[0])


def test_clear_errors(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5 at all")
    with pytest.raises(FormatError, match=r"notes\.h5.*HDF5"):
        scanstack.open(text, "hdf5", path="g")
    path = hexrd_style_file(tmp_path / "h.h5", frames(), {})
    with pytest.raises(FormatError, match=r"h\.h5.*group '/nope'.*imageseries"):
        scanstack.open(path, "hdf5", path="nope")
    with pytest.raises(FormatError, match=r"h\.h5.*dataset 'data'.*found: images"):
        scanstack.open(path, "hdf5", path="imageseries", dataname="data")
    with h5py.File(tmp_path / "4d.h5", "w") as f:
        f.create_dataset("g/images", data=np.zeros((2, 2, 3, 4)))
    with pytest.raises(FormatError, match=r"4d\.h5 \(/g/images\).*2-D.*3-D.*\(2, 2, 3, 4\)"):
        scanstack.open(tmp_path / "4d.h5", "hdf5", path="g")
    truncated = tmp_path / "cut.h5"
    truncated.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(FormatError, match=r"cut\.h5"):
        scanstack.open(truncated, "hdf5", path="imageseries")[0]
    with pytest.raises(ValueError, match="path="):
        scanstack.save(scanstack.Stack.from_array(frames()), tmp_path / "o.h5", "hdf5")


def test_sniff_leaves_foreign_hdf5_to_their_formats(tmp_path):
    data = frames()
    plain = hexrd_style_file(tmp_path / "plain.h5", data, {})
    with h5py.File(tmp_path / "nexus.h5", "w") as f:
        f.attrs["NX_class"] = "NXroot"
        f.create_dataset("entry/images", data=data)
    with h5py.File(tmp_path / "fch5.h5", "w") as f:
        f.attrs["HEXRD_FRAMECACHE_VERSION"] = 1
        f.create_dataset("x/images", data=data)

    def score(p):
        probe = Probe(p)
        try:
            return hexrd_hdf5.sniff(probe)
        finally:
            probe.close()

    assert score(plain) >= 0.5
    assert score(tmp_path / "nexus.h5") < 0.5
    assert score(tmp_path / "fch5.h5") < 0.1


def test_open_h5py_objects_without_a_format(tmp_path):
    data = frames()
    path = hexrd_style_file(tmp_path / "h.h5", data, {"omega": omega(5)})
    with h5py.File(path) as f:
        s = scanstack.open(f)
        assert s.format == "hdf5"
        np.testing.assert_array_equal(s[2], data[2])
        with pytest.raises(FormatError, match=r"h\.h5.*'/imageseries/images' to be a group"):
            scanstack.open(f, "hdf5", path="imageseries/images")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, ">u2", np.int32, np.float64])
@pytest.mark.parametrize(
    ("gzip", "shuffle", "chunk_rows"), [(1, True, 0), (4, False, 5), (0, True, 5)]
)
def test_threaded_chunks_equal_hdf5_filters(tmp_path, dtype, gzip, shuffle, chunk_rows):
    """Chunks compressed in threads decode, in HDF5, to what its own filters store."""
    import zlib

    data = frames(n=3, rows=12, cols=9, dtype=dtype)
    src = scanstack.Stack.from_array(data)
    ours = scanstack.save(
        src,
        tmp_path / "ours.h5",
        "hdf5",
        path="g",
        gzip=gzip,
        shuffle=shuffle,
        chunk_rows=chunk_rows,
    )
    with h5py.File(tmp_path / "ref.h5", "w") as f:  # HDF5's own filter pipeline
        opts = {"compression": "gzip", "compression_opts": gzip} if gzip else {}
        f.create_dataset(
            "g/images", data=data, chunks=(1, chunk_rows or 12, 9), shuffle=shuffle, **opts
        )
    with h5py.File(ours) as a, h5py.File(tmp_path / "ref.h5") as b:
        da, db = a["g/images"], b["g/images"]
        assert da.dtype == db.dtype and da.chunks == db.chunks
        assert da.compression == db.compression and da.shuffle == db.shuffle
        np.testing.assert_array_equal(da[()], data)
        for i in range(3):
            for r0 in range(0, 12, da.chunks[1]):
                mask_a, raw_a = da.id.read_direct_chunk((i, r0, 0))
                mask_b, raw_b = db.id.read_direct_chunk((i, r0, 0))
                assert mask_a == mask_b == 0
                if gzip:
                    raw_a, raw_b = zlib.decompress(raw_a), zlib.decompress(raw_b)
                # same shuffled bytes, edge chunks padded the same way
                assert raw_a == raw_b


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, ">i4", np.float32])
@pytest.mark.parametrize(
    ("chunks", "opts", "threaded"),
    [
        ((1, 12, 9), {"compression": "gzip", "compression_opts": 1, "shuffle": True}, True),
        ((1, 5, 9), {"compression": "gzip", "compression_opts": 6}, True),
        ((1, 5, 9), {"shuffle": True}, True),
        ((1, 5, 4), {"compression": "gzip"}, False),  # not full-width chunks
        ((2, 12, 9), {"compression": "gzip"}, False),
        ((1, 12, 9), dict(hdf5plugin.Blosc(cname="zstd")), False),
        (None, {}, False),
    ],
)
def test_threaded_chunk_reads_equal_h5py(tmp_path, dtype, chunks, opts, threaded):
    data = frames(n=4, rows=12, cols=9, dtype=dtype)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f.create_dataset("g/images", data=data, chunks=chunks, **opts)
    s = scanstack.open(tmp_path / "c.h5", "hdf5", path="g")
    assert (s.reader._filters is not None) == threaded
    np.testing.assert_array_equal(s[:], data)
    np.testing.assert_array_equal(s[1:3], data[1:3])
    for region in [((0, 12), (0, 9)), ((3, 11), (2, 7)), ((4, 5), (0, 9)), ((7, 7), (1, 2))]:
        (r0, r1), (c0, c1) = region
        np.testing.assert_array_equal(s.get_region(2, region), data[2, r0:r1, c0:c1])
    assert s[:].dtype == np.dtype(dtype)


def test_partly_written_dataset_reads_fill_values(tmp_path):
    with h5py.File(tmp_path / "p.h5", "w") as f:
        ds = f.create_dataset(
            "g/images",
            shape=(3, 6, 4),
            dtype=np.uint16,
            chunks=(1, 6, 4),
            compression="gzip",
            fillvalue=7,
        )
        ds[1] = 1
    s = scanstack.open(tmp_path / "p.h5", "hdf5", path="g")
    assert s.reader._filters is None  # unwritten chunks: left to HDF5
    np.testing.assert_array_equal(s[:, 0, 0], [7, 1, 7])


@pytest.mark.parametrize("extra", [-2, 2, 24 * 9 * 2])
def test_chunk_of_the_wrong_size_is_a_format_error(tmp_path, extra):
    # shuffle only (no deflate to check the length): a stored chunk whose byte count is not the
    # chunk's is corrupt, in the whole-rows read (decoded into place) as in a region read
    data = frames(n=3, rows=12, cols=9, dtype=np.uint16)
    with h5py.File(tmp_path / "w.h5", "w") as f:
        ds = f.create_dataset("g/images", data=data, chunks=(1, 12, 9), shuffle=True)
        ds.id.write_direct_chunk((1, 0, 0), bytes(data[1].nbytes + extra))
    s = scanstack.open(tmp_path / "w.h5", "hdf5", path="g")
    assert s.reader._filters is not None  # decoded by scanstack, not HDF5
    np.testing.assert_array_equal(s[0], data[0])
    for read in (lambda: s[:], lambda: s.get_region(1, ((2, 5), (1, 4)))):
        with pytest.raises(FormatError, match=r"w\.h5.*frames 1:2|w\.h5.*frames 0:3") as caught:
            read()
        assert f"{data[1].nbytes + extra} bytes" in str(caught.value)

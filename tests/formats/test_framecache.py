"""hexrd ``frame-cache``: npz, fch5 and legacy YAML, read lazily; byte-compatible writers."""

import copy
import json
import pickle
import subprocess
import sys
import warnings
import zipfile

import h5py
import hdf5plugin
import numpy as np
import pytest
from _hexrd_helpers import hexrd_dict_to_h5, omega

import scanstack
from scanstack.core.errors import FormatError, ScanstackError, WriteError
from scanstack.formats import framecache

BLOSC_FILTER_ID = 32001
ZSTD_CODE = 5


def sparse_frames(n=6, rows=20, cols=17, dtype=np.uint16, seed=0):
    rng = np.random.default_rng(seed)
    data = np.zeros((n, rows, cols), dtype)
    hot = rng.random((n, rows, cols)) < 0.05
    values = rng.integers(1, 3000, hot.sum())
    if np.dtype(dtype).kind == "f":
        values = values + 0.25
    data[hot] = values.astype(dtype)
    return data


def hexrd_npz(path, data, threshold, meta):
    """An npz laid out exactly as hexrd's writer does, via np.savez_compressed."""
    arrd = {}
    for i, frame in enumerate(data):
        rows, cols = np.nonzero(frame > threshold)
        arrd[f"{i}_row"] = rows.astype(np.uint16)
        arrd[f"{i}_col"] = cols.astype(np.uint16)
        arrd[f"{i}_data"] = frame[rows, cols]
    arrd["shape"] = np.array(data.shape[1:])
    arrd["nframes"] = len(data)
    arrd["dtype"] = str(data.dtype).encode()
    arrd.update(meta)
    np.savez_compressed(path, **arrd)
    return path


def hexrd_fch5(target, data, threshold, meta, order=None):
    """An fch5 laid out as hexrd's writer does (frames stored in ``order``)."""
    blosc = hdf5plugin.Blosc(cname="zstd", clevel=5)
    n = len(data)
    order = list(range(n)) if order is None else order
    vals, idx, ids, pos = [], [], np.zeros(2 * n, np.uint64), 0
    for i in order:
        r, c = np.nonzero(data[i] > threshold)
        vals.append(data[i][r, c])
        idx.append(np.stack([r, c], axis=1).astype(np.uint16))
        ids[2 * i], ids[2 * i + 1] = pos, pos + r.size
        pos += r.size
    own = not isinstance(target, h5py.Group)
    f = h5py.File(target, "w") if own else target
    f.attrs["HEXRD_FRAMECACHE_VERSION"] = 1
    f.create_dataset("shape", data=np.array(data.shape[1:], dtype=np.int64))
    f.create_dataset("nframes", data=np.int64(n))
    f.create_dataset("dtype", data=str(data.dtype).encode())
    f.create_dataset("data", data=np.concatenate(vals).reshape(-1, 1), **blosc)
    f.create_dataset("indices", data=np.concatenate(idx), **blosc)
    f.create_dataset("frame_ids", data=ids, **blosc)
    hexrd_dict_to_h5(f.create_group("metadata"), meta)
    if own:
        f.close()
    return target


def expected(data, threshold):
    return np.where(data > threshold, data, 0).astype(data.dtype)


def test_reads_hexrd_npz_with_metadata_as_hexrd_returns_it(tmp_path):
    data = sparse_frames()
    meta = {"omega": omega(6), "panel": "ff1", "testing": np.array([1, 2, 3])}
    path = hexrd_npz(tmp_path / "h.npz", data, 100, meta)
    s = scanstack.open(path, "frame-cache")
    assert s.dtype == np.uint16 and s.shape == data.shape
    np.testing.assert_array_equal(s[:], expected(data, 100))
    assert set(s.metadata) == {"omega", "panel", "testing"}
    # hexrd returns every metadata entry as a numpy array: 'ff1' is a 0-d unicode array
    assert isinstance(s.metadata["panel"], np.ndarray) and s.metadata["panel"].ndim == 0
    assert s.metadata["panel"] == "ff1"
    np.testing.assert_array_equal(s.metadata["omega"], omega(6))
    np.testing.assert_array_equal(s[np.int64(2)], expected(data, 100)[2])
    np.testing.assert_array_equal(s[-1], expected(data, 100)[-1])
    np.testing.assert_array_equal(
        s.get_region(3, ((2, 9), (4, 15))), expected(data, 100)[3, 2:9, 4:15]
    )


def test_reads_hexrd_fch5_frames_in_any_order(tmp_path):
    data = sparse_frames(dtype=np.float32)
    meta = {"omega": omega(6), "panel": "ff1", "nested": {"a": 2.5, "name": "x"}}
    path = hexrd_fch5(tmp_path / "h.fch5", data, 0.5, meta, order=[3, 0, 5, 1, 4, 2])
    s = scanstack.open(path)  # detected by content
    assert s.format == "frame-cache" and s.reader.style == "fch5"
    assert s.dtype == np.float32
    np.testing.assert_array_equal(s[:], expected(data, 0.5))
    np.testing.assert_array_equal(
        s.get_region(5, ((3, 10), (0, 4))), expected(data, 0.5)[5, 3:10, 0:4]
    )
    np.testing.assert_array_equal(s.metadata["omega"], omega(6))
    assert s.metadata["panel"] == "ff1" and type(s.metadata["panel"]) is str
    assert s.metadata["nested"] == {"a": 2.5, "name": "x"}
    assert type(s.metadata["nested"]["a"]) is np.float64


def test_reads_legacy_yaml_with_numpy_trigger(tmp_path):
    data = sparse_frames()
    hexrd_npz(tmp_path / "cache.npz", data, 10, {})
    np.save(tmp_path / "omega.npy", omega(6))
    (tmp_path / "fc.yml").write_text(
        "data:\n  file: cache.npz\n  dtype: uint16\n  nframes: 6\n  shape: [20, 17]\n"
        "meta:\n  omega: '! load-numpy-array omega.npy'\n  panel: ff1\n"
    )
    s = scanstack.open(tmp_path / "fc.yml")  # detected from the YAML keys
    assert s.format == "frame-cache" and s.reader.style == "yml"
    np.testing.assert_array_equal(s[:], expected(data, 10))
    np.testing.assert_array_equal(s.metadata["omega"], omega(6))
    assert s.metadata["panel"] == "ff1"
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "esc.yml").write_text(
        "data: {file: ../cache.npz, dtype: uint16, nframes: 6, shape: [20, 17]}\nmeta: {}\n"
    )
    with pytest.raises(FormatError, match=r"esc\.yml.*outside"):
        scanstack.open(tmp_path / "sub" / "esc.yml", "frame-cache")
    s = scanstack.open(tmp_path / "sub" / "esc.yml", "frame-cache", allow_outside=True)
    np.testing.assert_array_equal(s[0], expected(data, 10)[0])


@pytest.mark.parametrize("style", ["npz", "fch5"])
@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float32])
def test_round_trip_dtype_and_metadata(tmp_path, style, dtype):
    data = sparse_frames(dtype=dtype)
    data[0, 0, 0] = 7  # equal to the threshold: dropped (strictly greater is kept)
    meta = {
        "omega": omega(6),
        "panel": "ff1",
        "count": 4,
        "nested": {"a": 1, "b": {"c": "d"}, "none": None},
        "nothing": None,
    }
    before = copy.deepcopy(meta)
    src = scanstack.Stack.from_array(data, metadata=meta)
    out = scanstack.save(src, tmp_path / f"c.{style}", "frame-cache", threshold=7, style=style)
    s = scanstack.open(out, "frame-cache")
    assert s.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(s[:], expected(data, 7))
    assert s[0][0, 0] == 0
    np.testing.assert_array_equal(s.metadata["omega"], omega(6))
    assert s.metadata["nested"] == {"a": 1, "b": {"c": "d"}, "none": None}
    assert s.metadata["nothing"] is None
    assert str(s.metadata["panel"]) == "ff1" and int(s.metadata["count"]) == 4
    # the source metadata is not mutated (hexrd empties nested dicts when writing fch5)
    assert meta["nested"] == before["nested"] and meta.keys() == before.keys()


def test_written_npz_has_hexrd_keys_and_dtypes(tmp_path):
    data = sparse_frames(n=3)
    meta = {"omega": omega(3), "nested": {"a": None}}
    src = scanstack.Stack.from_array(data, metadata=meta)
    out = scanstack.save(src, tmp_path / "w", "frame-cache", threshold=100)
    assert out.endswith("w.npz")  # numpy's savez appends .npz, so hexrd's files are named so
    with np.load(out, allow_pickle=False) as z:
        keys = set(z.files)
        frame_keys = {f"{i}_{k}" for i in range(3) for k in ("row", "col", "data")}
        assert keys == frame_keys | {"shape", "nframes", "dtype", "omega", framecache.JSON_KEY}
        assert z["0_row"].dtype == np.uint16 and z["0_col"].dtype == np.uint16
        assert z["0_data"].dtype == np.uint16
        assert z["dtype"].dtype.kind == "S" and z["dtype"][()] == b"uint16"
        np.testing.assert_array_equal(z["shape"], [20, 17])
        assert z["nframes"].shape == () and z["nframes"] == 3
        r, c = np.nonzero(data[1] > 100)
        np.testing.assert_array_equal(z["1_row"], r)
        np.testing.assert_array_equal(z["1_col"], c)
        np.testing.assert_array_equal(z["1_data"], data[1][r, c])
        assert json.loads(str(z[framecache.JSON_KEY])) == {"nested": {"a": None}}
    with zipfile.ZipFile(out) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}


def test_written_fch5_has_hexrd_datasets_and_filters(tmp_path):
    data = sparse_frames(n=4)
    src = scanstack.Stack.from_array(data, metadata={"omega": omega(4), "panel": "ff1"})
    out = scanstack.save(src, tmp_path / "w.fch5", "frame-cache", threshold=100, style="fch5")
    with h5py.File(out) as f:
        assert f.attrs["HEXRD_FRAMECACHE_VERSION"] == 1
        assert set(f) == {"shape", "nframes", "dtype", "data", "indices", "frame_ids", "metadata"}
        assert f["shape"].dtype == np.int64 and f["shape"].shape == (2,)
        assert f["nframes"].dtype == np.int64 and f["nframes"].shape == ()
        assert f["dtype"][()] == b"uint16"
        assert f["data"].dtype == np.uint16 and f["data"].shape[1] == 1
        assert f["indices"].dtype == np.uint16 and f["indices"].shape[1] == 2
        assert f["frame_ids"].dtype == np.uint64 and f["frame_ids"].shape == (8,)
        for name in ("data", "indices", "frame_ids"):
            fid, _flags, opts, _ = f[name].id.get_create_plist().get_filter(0)
            assert fid == BLOSC_FILTER_ID
            assert opts[4] == 5 and opts[6] == ZSTD_CODE  # clevel 5, zstd
        ids = f["frame_ids"][()]
        a, b = int(ids[4]), int(ids[5])
        r, c = np.nonzero(data[2] > 100)
        np.testing.assert_array_equal(f["indices"][a:b], np.stack([r, c], axis=1))
        np.testing.assert_array_equal(f["data"][a:b, 0], data[2][r, c])
        np.testing.assert_array_equal(f["metadata/omega"][()], omega(4))


def test_fch5_inside_an_open_h5py_group(tmp_path):
    data = sparse_frames()
    src = scanstack.Stack.from_array(data, metadata={"omega": omega(6)})
    with h5py.File(tmp_path / "state.h5", "w") as f:
        scanstack.save(src, f, "frame-cache", threshold=0, style="fch5", path="images/det")
        s = scanstack.open(f, "frame-cache", path="images/det")
        np.testing.assert_array_equal(s[:], data)
        clone = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(clone[4], data[4])
    np.testing.assert_array_equal(clone.metadata["omega"], omega(6))


def test_cache_file_is_relative_to_fname(tmp_path):
    (tmp_path / "out").mkdir()
    src = scanstack.Stack.from_array(sparse_frames())
    out = scanstack.save(
        src, tmp_path / "out" / "dummy", "frame-cache", threshold=10, cache_file="x-cachefile.npz"
    )
    assert out == str(tmp_path / "out" / "x-cachefile.npz")
    assert not (tmp_path / "out" / "dummy").exists()
    np.testing.assert_array_equal(scanstack.open(out)[:], expected(sparse_frames(), 10))


def test_style_follows_the_fch5_suffix_when_not_given(tmp_path):
    # 'out.fch5' without style= used to be written as an npz named 'out.fch5.npz'
    src = scanstack.Stack.from_array(sparse_frames())
    out = scanstack.save(src, tmp_path / "out.fch5", "frame-cache", threshold=10)
    assert out == str(tmp_path / "out.fch5")
    assert h5py.is_hdf5(out)
    assert not (tmp_path / "out.fch5.npz").exists()
    np.testing.assert_array_equal(scanstack.open(out)[:], expected(sparse_frames(), 10))
    other = scanstack.save(src, tmp_path / "plain", "frame-cache", threshold=10)
    assert other == str(tmp_path / "plain.npz")  # hexrd's default stays npz
    assert zipfile.is_zipfile(other)


def test_fch5_reads_in_a_fresh_process_without_importing_hdf5plugin(tmp_path):
    # hexrd's fch5 data is Blosc-zstd: reading failed with an HDF5 'can't open directory
    # (.../plugin)' error unless the caller (like this test module) had imported hdf5plugin.
    data = sparse_frames()
    out = scanstack.save(
        scanstack.Stack.from_array(data), tmp_path / "c.fch5", "frame-cache", threshold=10
    )
    code = "import sys, scanstack; print(int(scanstack.open(sys.argv[1])[:].sum()))"
    run = subprocess.run([sys.executable, "-c", code, out], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert int(run.stdout) == int(expected(data, 10).sum())


def test_sparsity_warning_as_hexrd(tmp_path):
    data = np.full((2, 10, 10), 5, np.uint16)
    data[0, :8] = 0  # frame 0: 20 % kept, frame 1: all kept
    src = scanstack.Stack.from_array(data)
    with pytest.warns(UserWarning) as record:
        scanstack.save(src, tmp_path / "d.npz", "frame-cache", threshold=1)
    assert [str(w.message) for w in record] == [
        "frame 0 is 80.00% sparse (cutoff is 95%)",
        "frame 1 is 0.00% sparse (cutoff is 95%)",
    ]


def test_hexrd_npz_with_pickled_metadata_is_read_without_unpickling(tmp_path):
    data = sparse_frames(n=2)
    arrd = {"omega": omega(2), "bad": np.array([None, {"x": 1}], dtype=object)}
    path = tmp_path / "p.npz"
    hexrd_npz(path, data, 10, {})
    # hexrd writes None/dict metadata as pickled object arrays (hexrd issue #806)
    with zipfile.ZipFile(path, "a") as zf:
        for key, value in arrd.items():
            with zf.open(f"{key}.npy", "w") as fh:
                np.lib.format.write_array(fh, value, allow_pickle=True)
    with pytest.warns(UserWarning, match="'bad' is a pickled object array"):
        s = scanstack.open(path)
    assert "bad" not in s.metadata
    np.testing.assert_array_equal(s.metadata["omega"], omega(2))
    np.testing.assert_array_equal(s[1], expected(data, 10)[1])


def test_frames_are_read_lazily(tmp_path):
    """A broken member of frame 0 does not stop opening, nor reading frame 1."""
    data = sparse_frames(n=3)
    path = tmp_path / "lazy.npz"
    arrd = {}
    for i, frame in enumerate(data):
        r, c = np.nonzero(frame > 10)
        arrd[f"{i}_row"], arrd[f"{i}_col"] = r.astype(np.uint16), c.astype(np.uint16)
        arrd[f"{i}_data"] = frame[r, c]
    arrd["0_data"] = arrd["0_data"][:-1]  # one value short
    np.savez_compressed(path, shape=np.array([20, 17]), nframes=3, dtype=b"uint16", **arrd)
    s = scanstack.open(path, "frame-cache")
    np.testing.assert_array_equal(s[1], expected(data, 10)[1])
    with pytest.raises(FormatError, match=r"lazy\.npz \(0_data\): frame 0: row, col and data"):
        s[0]


@pytest.mark.parametrize("style", ["npz", "fch5"])
def test_pickle_round_trip(tmp_path, style):
    data = sparse_frames()
    src = scanstack.Stack.from_array(data, metadata={"omega": omega(6)})
    out = scanstack.save(src, tmp_path / f"c.{style}", "frame-cache", threshold=0, style=style)
    s = scanstack.open(out)
    clone = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(clone[:], data)
    np.testing.assert_array_equal(clone.metadata["omega"], omega(6))


def test_write_option_errors(tmp_path):
    src = scanstack.Stack.from_array(sparse_frames())
    with pytest.raises(ValueError, match="threshold"):
        scanstack.save(src, tmp_path / "x.npz", "frame-cache")
    with pytest.raises(ValueError, match="Unknown file style 'yml'"):
        scanstack.save(src, tmp_path / "x.npz", "frame-cache", threshold=1, style="yml")
    wide = scanstack.Stack.from_array(np.zeros((1, 1, 70000), np.uint8))
    with pytest.raises(WriteError, match="uint16.*70000"):
        scanstack.save(wide, tmp_path / "w.npz", "frame-cache", threshold=1)
    assert not list(tmp_path.iterdir())  # nothing left behind


def test_corrupt_and_wrong_inputs_give_clear_errors(tmp_path):
    data = sparse_frames()
    good = hexrd_npz(tmp_path / "good.npz", data, 10, {})
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(FormatError, match=r"cut\.npz.*zip"):
        scanstack.open(cut, "frame-cache")
    np.savez_compressed(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(FormatError, match=r"other\.npz.*shape, nframes, dtype; missing shape"):
        scanstack.open(tmp_path / "other.npz", "frame-cache")
    with pytest.raises(FormatError, match=r"good\.npz.*expected a fch5 frame-cache, found a zip"):
        scanstack.open(good, "frame-cache", style="fch5")
    with h5py.File(tmp_path / "nover.h5", "w") as f:
        f.create_dataset("shape", data=[2, 2])
    with pytest.raises(FormatError, match=r"nover\.h5.*HEXRD_FRAMECACHE_VERSION = 1"):
        scanstack.open(tmp_path / "nover.h5", "frame-cache")
    text = tmp_path / "junk.yml"
    text.write_text("just: text\n")
    with pytest.raises(FormatError, match=r"junk\.yml \(data\).*no 'data' key"):
        scanstack.open(text, "frame-cache")
    hexrd_fch5(tmp_path / "bad.fch5", data, 10, {})
    with h5py.File(tmp_path / "bad.fch5", "r+") as f:
        del f["frame_ids"]
        f.create_dataset("frame_ids", data=np.array([0, 10**9] * 6, np.uint64))
    with pytest.raises(FormatError, match=r"bad\.fch5 \(/frame_ids\).*outside data"):
        scanstack.open(tmp_path / "bad.fch5", "frame-cache")
    assert issubclass(FormatError, ScanstackError)


def test_threaded_block_write_matches_single_thread(tmp_path):
    data = sparse_frames(n=40, rows=64, cols=48)
    src = scanstack.Stack.from_array(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with scanstack.settings(block_bytes=64 * 48 * 2 * 7):  # blocks of 7 frames
            a = scanstack.save(src, tmp_path / "a.npz", "frame-cache", threshold=5, threads=4)
        b = scanstack.save(src, tmp_path / "b.npz", "frame-cache", threshold=5, threads=1)
    with np.load(a) as za, np.load(b) as zb:
        assert set(za.files) == set(zb.files)
        for k in za.files:
            np.testing.assert_array_equal(za[k], zb[k])


def test_open_fch5_h5py_file_without_a_format(tmp_path):
    data = sparse_frames()
    hexrd_fch5(tmp_path / "h.fch5", data, 0, {})
    with h5py.File(tmp_path / "h.fch5") as f:
        s = scanstack.open(f)
        assert s.format == "frame-cache"
        np.testing.assert_array_equal(s[:], data)


@pytest.mark.parametrize("force_zip64", [False, True])
def test_npz_written_in_threads_is_a_valid_zip(tmp_path, monkeypatch, force_zip64):
    from scanstack.formats import _npzwriter

    if force_zip64:  # exercise the ZIP64 records (big files, > 65535 members) on a small file
        monkeypatch.setattr(_npzwriter, "ZIP64_THRESHOLD", 100)
        monkeypatch.setattr(_npzwriter, "COUNT_THRESHOLD", 5)
    data = sparse_frames(n=8)
    src = scanstack.Stack.from_array(data, metadata={"omega": omega(8)})
    out = scanstack.save(src, tmp_path / "z.npz", "frame-cache", threshold=10, threads=3)
    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None  # every CRC checks
        names = zf.namelist()
        assert len(names) == 8 * 3 + 4 and len(set(names)) == len(names)
        assert names[:3] == ["0_row.npy", "0_col.npy", "0_data.npy"]
        big = [i for i in zf.infolist() if i.header_offset > 100]
        assert big  # offsets past the (lowered) limit are read from ZIP64 fields
    with np.load(out, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["omega"], omega(8))
        r, c = np.nonzero(data[7] > 10)
        np.testing.assert_array_equal(z["7_row"], r)
        np.testing.assert_array_equal(z["7_data"], data[7][r, c])
    np.testing.assert_array_equal(scanstack.open(out)[:], expected(data, 10))


def test_npz_writer_does_not_keep_written_payloads(tmp_path):
    # the central-directory list held every deflated member until close(): memory grew with
    # the output file (272 MB peak for a 320 MB dense frame-cache instead of ~50 MB)
    import tracemalloc

    from scanstack.formats._npzwriter import NpzWriter, deflate_npy

    noise = np.random.default_rng(0).integers(0, 256, 1 << 20, dtype=np.uint8)  # incompressible
    with open(tmp_path / "n.npz", "wb") as fh:
        zw = NpzWriter(fh)
        tracemalloc.start()
        for i in range(20):
            zw.add(deflate_npy(f"a{i}", noise))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        zw.close()
    assert peak < 8 * noise.nbytes  # 20 members of 1 MiB went through
    with np.load(tmp_path / "n.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["a19"], noise)


def test_fch5_frames_far_apart_in_reverse_order(tmp_path):
    data = np.random.default_rng(3).integers(1, 100, (4, 300, 300)).astype(np.uint16)
    hexrd_fch5(tmp_path / "far.fch5", data, 0, {}, order=[3, 2, 1, 0])  # 90000 values each
    s = scanstack.open(tmp_path / "far.fch5")
    np.testing.assert_array_equal(s[:], data)
    np.testing.assert_array_equal(s[1:3, 5:9, 7:8], data[1:3, 5:9, 7:8])


def test_legacy_yaml_string_and_bad_dtype(tmp_path, monkeypatch):
    data = sparse_frames(n=2)
    hexrd_npz(tmp_path / "cache.npz", data, 10, {})
    monkeypatch.chdir(tmp_path)
    text = "data:\n  file: cache.npz\n  dtype: uint16\n  nframes: 2\n  shape: 20 17\nmeta: {}\n"
    s = scanstack.open(text, "frame-cache")
    np.testing.assert_array_equal(s[:], expected(data, 10))
    np.savez_compressed(tmp_path / "obj.npz", shape=np.array([2, 2]), nframes=1, dtype=b"object")
    with pytest.raises(FormatError, match=r"obj\.npz \(dtype\).*numeric dtype, found object"):
        scanstack.open(tmp_path / "obj.npz", "frame-cache")


def test_npz_stored_and_deflated_members_read_alike(tmp_path):
    """numpy's np.savez (stored) and np.savez_compressed (deflated) frame-caches give the same
    frames through the bounded inflate path; a member whose bytes were changed fails its CRC."""
    rng = np.random.default_rng(3)
    dense = rng.poisson(1.0, (6, 40, 50)).astype(np.uint16) * 7
    arrays = {
        "shape": np.array(dense.shape[1:]),
        "nframes": np.array(6),
        "dtype": np.array(b"uint16"),
    }
    for i, frame in enumerate(dense):
        r, c = np.nonzero(frame)
        arrays.update({f"{i}_row": r.astype(np.uint16), f"{i}_col": c.astype(np.uint16)})
        arrays[f"{i}_data"] = frame[r, c]
    for save in (np.savez, np.savez_compressed):
        path = tmp_path / f"{save.__name__}.npz"
        save(path, **arrays)
        with scanstack.open(path, "frame-cache") as s:
            np.testing.assert_array_equal(s.to_numpy(), dense)
            np.testing.assert_array_equal(s[4], dense[4])
    raw = bytearray((tmp_path / "savez.npz").read_bytes())
    import zipfile

    with zipfile.ZipFile(tmp_path / "savez.npz") as zf:
        info = zf.getinfo("2_data.npy")
    at = info.header_offset + 30 + len(info.filename) + info.compress_size - 1
    raw[at] ^= 0xFF  # the member's last byte: a frame value
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(raw))
    with scanstack.open(bad, "frame-cache") as s:
        np.testing.assert_array_equal(s[1], dense[1])
        with pytest.raises(scanstack.FormatError, match="CRC") as err:
            s[2]
    assert "bad.npz" in str(err.value) and "2_data" in str(err.value)


def test_npy_headers_are_never_parsed_by_two_threads_at_once(tmp_path, monkeypatch):
    """numpy parses ``.npy`` headers with ``ast.literal_eval``, which CPython 3.11 does not make
    safe across threads (``SystemError: AST constructor recursion depth mismatch``, seen in this
    suite): frames read in threads must take turns for it."""
    import threading
    import time

    data = sparse_frames(n=16)
    path = hexrd_npz(tmp_path / "h.npz", data, 100, {})
    real = np.lib.format.read_array_header_1_0
    inside, most, lock = [0], [0], threading.Lock()

    def slow_parse(fh, *args, **kwargs):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        time.sleep(0.002)  # a parse long enough for the other threads to arrive meanwhile
        try:
            return real(fh, *args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(np.lib.format, "read_array_header_1_0", slow_parse)
    s = scanstack.open(path, "frame-cache", threads=4)
    np.testing.assert_array_equal(s[:], expected(data, 100))
    assert most[0] == 1

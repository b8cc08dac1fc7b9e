"""hexrd's ``eiger-stream-v1`` / ``eiger-stream-v2``: DECTRIS stream frames in HDF5 (issue 9,
item 5). ``dectris-compression`` (what hexrd decodes with) is the judge of the lz4/bslz4 bytes;
hexrd's reader is rebuilt from its source in ``_hexrd_helpers``."""

import pickle

import h5py
import numpy as np
import pytest
from _hexrd_helpers import (
    assert_same_value,
    bslz4_payload,
    csrnpz_payload,
    eiger_entry,
    hexrd_dict_to_h5,
    hexrd_eiger_frame,
    hexrd_h5_to_dict,
    lz4_payload,
    omega,
)

import scanstack
from scanstack import imageseries, stats
from scanstack.core.errors import FormatError, WriteError
from scanstack.core.registry import register
from scanstack.formats import eiger_stream
from scanstack.formats.eiger_stream import codec
from scanstack.imageseries.load.eiger_stream_v1 import EigerStreamV1ImageSeriesAdapter
from scanstack.imageseries.load.eiger_stream_v2 import EigerStreamV2ImageSeriesAdapter

dectris = pytest.importorskip("dectris.compression")

COMPRESSED = ("bslz4", "lz4", "csrnpz")
PAYLOADS = {"lz4": lz4_payload, "bslz4": bslz4_payload, "csrnpz": csrnpz_payload}


@pytest.fixture(params=["native", "hdf5"])
def decoder(request, monkeypatch):
    """Both lz4/bslz4 decoders: hdf5plugin's functions through ctypes, and the in-memory HDF5
    dataset used where those cannot be loaded."""
    if request.param == "hdf5":
        monkeypatch.setattr(codec, "_native", lambda: None)
    else:
        assert codec._native() is not None  # loads on this platform
    return request.param


@pytest.fixture(autouse=True)
def formats():
    # the entry points in pyproject.toml take over once the package is reinstalled
    register(eiger_stream.FORMAT_V1)
    register(eiger_stream.FORMAT_V2)


def frames(n=5, shape=(37, 53), dtype=np.uint16, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.poisson(0.4, (n, *shape)).astype(dtype)
    data[:, 0, 0] = np.arange(n) * 7 + 1  # never all zero
    return data


def hexrd_file(path, data, kind, meta=None, v2_second=None):
    """A file laid out as hexrd's Eiger tests make them (payloads from independent encoders)."""
    with h5py.File(path, "w") as f:
        g = f.create_group("data")
        for i, frame in enumerate(data):
            if v2_second is None:
                eiger_entry(g.create_group(str(i)), frame, kind, PAYLOADS[kind](frame))
            else:
                for name, fr in (("threshold_1", frame), ("threshold_2", v2_second[i])):
                    eiger_entry(g.create_group(f"{i}/{name}"), fr, kind, PAYLOADS[kind](fr))
        hexrd_dict_to_h5(f.create_group("metadata"), meta or {})
    return path


# -- the bytes ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int32, np.float32, ">u2"])
@pytest.mark.parametrize("kind", ["lz4", "bslz4"])
def test_our_bytes_decode_identically_with_dectris_compression(dtype, kind, decoder):
    frame = frames(1, (61, 67), dtype)[0]
    payload = codec.encode(frame, kind)
    judged = np.frombuffer(
        dectris.decompress(payload, kind, elem_size=frame.dtype.itemsize), frame.dtype
    )
    np.testing.assert_array_equal(judged.reshape(frame.shape), frame)
    ours = codec.decode(payload, kind, frame.dtype, frame.shape, frame.dtype.itemsize)
    assert ours.dtype == frame.dtype
    np.testing.assert_array_equal(ours, frame)


@pytest.mark.parametrize("shape", [(64, 64), (37, 41), (3, 5), (1, 1)])
@pytest.mark.parametrize("kind", ["lz4", "bslz4"])
def test_bytes_from_independent_encoders_judged_by_dectris_decode_the_same(kind, shape, decoder):
    for dtype in (np.uint8, np.uint16, np.uint32):
        frame = frames(1, shape, dtype)[0]
        payload = PAYLOADS[kind](frame)
        judged = dectris.decompress(payload, kind, elem_size=frame.dtype.itemsize)
        assert judged == frame.tobytes()
        ours = codec.decode(payload, kind, frame.dtype, shape, frame.dtype.itemsize)
        np.testing.assert_array_equal(ours, frame)


# -- files as hexrd's tests make them ----------------------------------------------------------
@pytest.mark.parametrize("kind", COMPRESSED)
def test_reads_hexrd_v1_files(tmp_path, kind):
    data = frames()
    meta = {"omega": omega(5), "name": "eiger", "dist": 1.5, "nested": {"n": 3}}
    path = hexrd_file(tmp_path / "v1.h5", data, kind, meta)
    s = scanstack.open(path)  # detected by content
    assert s.format == "eiger-stream-v1"
    assert s.shape == data.shape and s.dtype == data.dtype
    np.testing.assert_array_equal(s[:], data)
    np.testing.assert_array_equal(s.get_region(3, ((2, 9), (4, 15))), data[3, 2:9, 4:15])
    with h5py.File(path, "r") as f:
        assert_same_value(s.metadata, hexrd_h5_to_dict(f["metadata"]), "metadata")
        for i in range(len(data)):  # our helper decodes as hexrd does
            np.testing.assert_array_equal(hexrd_eiger_frame(f[f"data/{i}"]), data[i])
    ims = imageseries.open(path, "eiger-stream-v1")
    assert len(ims) == 5 and ims.shape == data.shape[1:] and ims.dtype == data.dtype
    np.testing.assert_array_equal(ims[4], data[4])
    assert type(ims.metadata["dist"]) is np.float64
    adapter = EigerStreamV1ImageSeriesAdapter(path)  # hexrd's class, hexrd's call
    np.testing.assert_array_equal(adapter[0], data[0])


def test_reads_hexrd_v2_files_with_every_threshold_setting(tmp_path):
    t1, t2 = frames(seed=1), frames(seed=2)
    path = hexrd_file(tmp_path / "v2.h5", t1, "bslz4", {"start": 0}, v2_second=t2)
    assert scanstack.open(path).format == "eiger-stream-v2"
    ims = imageseries.open(path, "eiger-stream-v2")
    assert ims.option_values() == {"threshold_setting": "threshold_1", "multiplier": 1.0}
    np.testing.assert_array_equal(ims[0], t1[0])
    ims.set_option("threshold_setting", "threshold_2")
    assert ims.option_values()["threshold_setting"] == "threshold_2"
    np.testing.assert_array_equal(ims[2], t2[2])
    assert ims.dtype == np.uint16
    ims.set_option("threshold_setting", "man_diff")
    ims.set_option("multiplier", 0.75)
    assert ims.option_values() == {"threshold_setting": "man_diff", "multiplier": 0.75}
    diff = ims[1]
    assert diff.dtype == ims.dtype == np.float64 and diff.shape == ims.shape
    np.testing.assert_allclose(diff, t1[1].astype(np.float64) - 0.75 * t2[1])
    # ims.stack follows the option: statistics see man_diff too
    np.testing.assert_allclose(
        stats.max(ims.stack), np.max(t1.astype(np.float64) - 0.75 * t2, axis=0)
    )
    # hexrd's errors: NotImplementedError for an unknown setting or option
    with pytest.raises(NotImplementedError, match="possible values"):
        ims.set_option("threshold_setting", "threshold_3")
    with pytest.raises(NotImplementedError, match="not in possible options"):
        ims.set_option("gain", 2)
    adapter = EigerStreamV2ImageSeriesAdapter(path, threshold_setting="threshold_2")
    np.testing.assert_array_equal(adapter[3], t2[3])
    with pytest.raises(NotImplementedError):
        EigerStreamV2ImageSeriesAdapter(path, threshold_setting="nope")
    s = scanstack.open(path, "eiger-stream-v2", threshold_setting="man_diff", multiplier=2)
    np.testing.assert_allclose(s[:], t1.astype(np.float64) - 2.0 * t2)


def test_v2_file_with_threshold_1_only_as_in_hexrd_tests(tmp_path):
    frame = frames(1)[0]
    path = tmp_path / "t1.h5"
    with h5py.File(path, "w") as f:
        eiger_entry(f.create_group("data/0/threshold_1"), frame, "lz4", lz4_payload(frame))
        f.create_group("metadata")
    np.testing.assert_array_equal(EigerStreamV2ImageSeriesAdapter(path)[0], frame)


# -- writing -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [*COMPRESSED, "none"])
@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float32])
def test_written_v1_reads_back_in_scanstack_and_in_hexrd(tmp_path, kind, dtype):
    data = frames(dtype=dtype)
    meta = {"omega": omega(5), "pyfloat": 2.5, "name": "GE1", "labels": ["a", "b"]}
    src = scanstack.Stack.from_array(data, metadata=meta)
    out = scanstack.save(src, tmp_path / "w.h5", "eiger-stream-v1", compression=kind)
    s = scanstack.open(out)
    assert s.format == "eiger-stream-v1" and s.dtype == data.dtype
    np.testing.assert_array_equal(s[:], data)
    with h5py.File(out, "r") as f:
        assert_same_value(s.metadata, hexrd_h5_to_dict(f["metadata"]), "metadata")
        entry = f["data/4"]
        assert entry["data"].dtype.kind == "V" and entry["data"].shape == ()
        assert entry["compression_type"][()] == kind.encode()
        assert entry["dtype"][()] == data.dtype.str.encode()
        if kind != "none":  # hexrd decodes what it can: compression_type None is not storable
            np.testing.assert_array_equal(hexrd_eiger_frame(entry), data[4])
        else:
            with pytest.raises(ValueError, match="Unsupported compression type: none"):
                hexrd_eiger_frame(entry)


def test_written_v2_and_option_errors(tmp_path):
    t1, t2 = frames(seed=3), frames(seed=4)
    src = scanstack.Stack.from_array(t1, metadata={"start": np.float64(0.5)})
    out = scanstack.save(src, tmp_path / "v2.h5", "eiger-stream-v2", threshold_2=t2)
    ims = imageseries.open(out, "eiger-stream-v2", threshold_setting="threshold_2")
    np.testing.assert_array_equal(ims.stack[:], t2)
    with h5py.File(out, "r") as f:
        for name, want in (("threshold_1", t1), ("threshold_2", t2)):
            np.testing.assert_array_equal(hexrd_eiger_frame(f[f"data/2/{name}"]), want[2])
    with pytest.raises(ValueError, match="threshold_2"):
        scanstack.save(src, tmp_path / "x.h5", "eiger-stream-v2")
    with pytest.raises(ValueError, match="threshold_2 has 2 frames"):
        scanstack.save(src, tmp_path / "x.h5", "eiger-stream-v2", threshold_2=t2[:2])
    with pytest.raises(ValueError, match="compression must be one of"):
        scanstack.save(src, tmp_path / "x.h5", "eiger-stream-v1", compression="zstd")
    spectra = scanstack.Stack.from_array(np.zeros((3, 10), np.uint8), signal_ndim=1)
    with pytest.raises(WriteError, match="2-D frames"):
        scanstack.save(spectra, tmp_path / "x.h5", "eiger-stream-v1")
    assert not (tmp_path / "x.h5").exists()


def test_lazy_threaded_regions_stats_and_pickle(tmp_path, decoder):
    data = frames(n=12, shape=(64, 48))
    out = scanstack.save(scanstack.Stack.from_array(data), tmp_path / "l.h5", "eiger-stream-v1")
    s = scanstack.open(out)
    assert s.reader._pool._pool is None  # nothing decoded at open
    np.testing.assert_array_equal(s.isig[10:20, 5:9][:], data[:, 10:20, 5:9])
    assert s.reader._pool._pool is not None  # blocks are decoded in the reader's threads
    np.testing.assert_array_equal(stats.max(s), data.max(axis=0))
    np.testing.assert_allclose(stats.mean(s), data.mean(axis=0))
    clone = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(clone[7], data[7])
    with h5py.File(out, "r") as f:  # an open h5py.File, as hexrd accepts
        ims = imageseries.open(f, "eiger-stream-v1")
        np.testing.assert_array_equal(ims[11], data[11])


# -- bad input ----------------------------------------------------------------------------------
def test_corrupt_and_wrong_files_give_clear_errors(tmp_path, decoder):
    data = frames(n=3)
    good = scanstack.save(scanstack.Stack.from_array(data), tmp_path / "g.h5", "eiger-stream-v1")

    def edited(name, edit):
        path = tmp_path / name
        path.write_bytes(open(good, "rb").read())
        with h5py.File(path, "a") as f:
            edit(f)
        return path

    def swap(f, key, value):
        del f[key]
        f[key] = value

    with h5py.File(good, "r") as f:
        payload = np.asarray(f["data/1/data"][()]).tobytes()
    cut = edited("cut.h5", lambda f: swap(f, "data/1/data", np.void(payload[:-40])))
    with pytest.raises(FormatError, match=r"cut\.h5.*/data/1/data"):
        scanstack.open(cut, "eiger-stream-v1")[:]
    huge = (1 << 40).to_bytes(8, "big") + payload[8:]
    liar = edited("liar.h5", lambda f: swap(f, "data/1/data", np.void(huge)))
    with pytest.raises(FormatError, match="header says 1099511627776"):
        scanstack.open(liar, "eiger-stream-v1")[1]
    big = edited("big.h5", lambda f: swap(f, "data/2/shape", np.array([400000, 400000])))
    with pytest.raises(FormatError, match=r"big\.h5.*/data/2.*frame 0 is \(37, 53\)"):
        scanstack.open(big, "eiger-stream-v1")[2]
    odd = edited("odd.h5", lambda f: swap(f, "data/0/compression_type", "zfp"))
    with pytest.raises(FormatError, match="Unsupported compression type: zfp"):
        scanstack.open(odd, "eiger-stream-v1")[0]
    nodata = tmp_path / "nodata.h5"
    with h5py.File(nodata, "w") as f:
        f.create_group("metadata")
    with pytest.raises(FormatError, match=r"nodata\.h5.*expected a /data group"):
        scanstack.open(nodata, "eiger-stream-v1")
    gap = edited("gap.h5", lambda f: f.move("data/2", "data/7"))
    with pytest.raises(FormatError, match="named 0..2"):
        scanstack.open(gap, "eiger-stream-v1")
    # a header and shape that agree on 10 GB held in 40 bytes: refused before any allocation
    bomb = tmp_path / "bomb.h5"
    claim = 100_000 * 100_000
    with h5py.File(bomb, "w") as f:
        fake = np.zeros((1, 1), np.uint8)
        eiger_entry(f.create_group("data/0"), fake, "bslz4", claim.to_bytes(8, "big") + bytes(32))
        swap(f, "data/0/shape", np.array([100_000, 100_000]))
        f.create_group("metadata")
    s = scanstack.open(bomb)
    assert s.shape == (1, 100_000, 100_000)
    with pytest.raises(FormatError, match=r"40 bslz4 bytes cannot hold a \(100000, 100000\)"):
        s.isig[0:2, 0:2][0]


def test_v1_ignores_unknown_options_as_hexrd(tmp_path):
    data = frames(n=2)
    out = scanstack.save(scanstack.Stack.from_array(data), tmp_path / "o.h5", "eiger-stream-v1")
    np.testing.assert_array_equal(scanstack.open(out, "eiger-stream-v1", anything=1)[1], data[1])


@pytest.mark.parametrize("kind", ["lz4", "bslz4"])
def test_damaged_bytes_never_crash_and_both_decoders_agree(kind, monkeypatch):
    # block lengths are checked before the C decoders run; what passes them decodes the same
    # (or fails the same) through hdf5plugin's functions and through an HDF5 dataset
    rng = np.random.default_rng(5)
    frame = frames(1, (61, 67), np.uint16)[0]
    good = codec.encode(frame, kind)
    native = codec._native
    for it in range(60):
        damaged = bytearray(good)
        for _ in range(int(rng.integers(1, 6))):
            damaged[int(rng.integers(12, len(damaged)))] = int(rng.integers(0, 256))
        if it % 5 == 0:
            damaged = damaged[: int(rng.integers(12, len(damaged)))]
        results = []
        for use in (native, lambda: None):
            monkeypatch.setattr(codec, "_native", use)
            try:
                results.append(codec.decode(bytes(damaged), kind, frame.dtype, frame.shape, 2))
            except codec.CodecError:
                results.append(None)
        if results[0] is None or results[1] is None:
            assert results[0] is None and results[1] is None
        else:
            np.testing.assert_array_equal(results[0], results[1])


def test_files_naming_files_outside_their_folder_are_refused(tmp_path):
    data = frames(n=2)
    inside, outside = tmp_path / "data", tmp_path / "outside"
    outside.mkdir()
    with h5py.File(outside / "o.h5", "w") as f:
        f["secret"] = np.arange(4)
    t2 = frames(n=2, seed=9)
    out = scanstack.save(
        scanstack.Stack.from_array(data), inside / "e.h5", "eiger-stream-v2", threshold_2=t2
    )
    with h5py.File(out, "a") as f:
        f["metadata/evil"] = h5py.ExternalLink("../outside/o.h5", "/secret")
    with pytest.raises(FormatError, match=r"e\.h5 \(/metadata/evil\): external link"):
        scanstack.open(out, "eiger-stream-v2")
    with pytest.raises(FormatError, match="external link"):
        imageseries.open(out, "eiger-stream-v2")
    ims = imageseries.open(out, "eiger-stream-v2", allow_outside=True)
    ims.set_option("threshold_setting", "threshold_2")  # re-opens with allow_outside kept
    np.testing.assert_array_equal(ims[1], t2[1])

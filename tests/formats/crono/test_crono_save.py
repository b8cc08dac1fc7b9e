"""scanstack.save(..., 'crono'): any spectrum map as a native CRONO file."""

import h5py
import numpy as np
import pytest

import scanstack
from scanstack.core.axes import Axis
from scanstack.core.errors import UnsupportedError, WriteError
from scanstack.core.stack import Stack
from scanstack.datasets import write_crono


def test_round_trip_of_a_crono_map(tmp_path):
    src, dst = tmp_path / "a.HDF5", tmp_path / "b.HDF5"
    write_crono(src, rows=5, columns=4, images=False)
    a = scanstack.open(src)
    scanstack.save(a, dst, "crono")
    b = scanstack.open(dst)
    assert b.format == "crono"
    np.testing.assert_array_equal(b.to_numpy(), a.to_numpy())
    np.testing.assert_allclose(b.metadata["live_time"], a.metadata["live_time"], atol=1e-6)
    np.testing.assert_array_equal(b.metadata["motor_positions"], a.metadata["motor_positions"])
    assert b.metadata["geometry"]["x_pitch"] == pytest.approx(a.metadata["geometry"]["x_pitch"])
    assert [r["name"] for r in b.metadata["rois"]] == [r["name"] for r in a.metadata["rois"]]
    np.testing.assert_allclose(b.axes[-1].coordinates, a.axes[-1].coordinates, atol=1e-5)


def test_any_spectrum_map_and_cronomaxrf_reads_it(tmp_path, cronomaxrf_cube):
    rng = np.random.default_rng(0)
    data = rng.poisson(2, (3, 7, 256)).astype(np.uint16)
    axes = [
        Axis("y", 3, "mm", 0.2, 1.0),
        Axis("x", 7, "mm", 0.1, 2.0),
        Axis("energy", 256, "eV", 20.0, -500.0, navigate=False),
    ]
    path = tmp_path / "14200215102021-fromarray.HDF5"
    scanstack.save(Stack.from_array(data, signal_ndim=1, axes=axes), path, "crono")
    with h5py.File(path, "r") as f:
        sel = f["XRF/SpectraSelectedIndex"][:, :, 0].astype(np.int64)
        assert f["XRF/Spectra"].dtype == np.dtype("<u2")
    assert (np.diff(sel[1]) < 0).all()  # serpentine acquisition order
    stack = scanstack.open(path)
    np.testing.assert_array_equal(stack.to_numpy(), data)
    assert stack.axes[1].scale == pytest.approx(100.0) and stack.axes[1].offset == pytest.approx(
        2000.0
    )
    np.testing.assert_allclose(stack.axes[-1].coordinates, -0.5 + 0.02 * np.arange(256), atol=1e-5)
    cube, energies = cronomaxrf_cube(path)
    np.testing.assert_array_equal(cube, data)
    np.testing.assert_allclose(energies, -0.5 + 0.02 * np.arange(256), atol=1e-5)


def test_save_refuses_bad_input(tmp_path):
    uncalibrated = Stack.from_array(np.zeros((2, 3, 16), np.uint16), signal_ndim=1)
    with pytest.raises(UnsupportedError, match="energy axis in keV"):
        scanstack.save(uncalibrated, tmp_path / "x.HDF5", "crono")
    images = Stack.from_array(np.zeros((2, 4, 4)))
    with pytest.raises(UnsupportedError, match="1-D spectra"):
        scanstack.save(images, tmp_path / "x.HDF5", "crono")
    src = tmp_path / "in.HDF5"
    write_crono(src, rows=2, columns=2, images=False)
    stack = scanstack.open(src)
    with pytest.raises(WriteError, match="refusing to overwrite an input"):
        scanstack.save(stack, src, "crono")
    assert scanstack.open(src).to_numpy().shape == (2, 2, 4096)
    negative = Stack.from_array(
        np.zeros((2, 2, 8), np.uint16),
        signal_ndim=1,
        axes=[
            Axis("y", 2, "µm", 10, -50),
            Axis("x", 2, "µm", 10, 0),
            Axis("energy", 8, "keV", 0.1, 0, navigate=False),
        ],
    )
    with pytest.raises(WriteError, match="unsigned motor units"):
        scanstack.save(negative, tmp_path / "neg.HDF5", "crono")


def _spectra_stack(rows=6, columns=9, channels=512, seed=3):
    data = np.random.default_rng(seed).poisson(3, (rows, columns, channels)).astype(np.uint16)
    axes = [
        Axis("y", rows, navigate=True),
        Axis("x", columns, navigate=True),
        Axis("energy", channels, "keV", 0.01, navigate=False),
    ]
    return data, Stack.from_array(data, signal_ndim=1, axes=axes)


def test_spectra_chunks_follow_file_chunk_bytes_or_the_budget(tmp_path):
    """Whole spectra per chunk: ``file_chunk_bytes`` as given, else 1 MiB, less when the
    memory budget asks (the same decision as the other writers: file_chunk_target)."""
    data, stack = _spectra_stack()
    spectrum = 512 * 2
    cases = {
        "given.hdf5": ({"file_chunk_bytes": 8 * spectrum}, 8),
        "default.hdf5": ({}, 54),  # 1 MiB holds more than the 54 spectra of the map
        "budget.hdf5": ({"memory_budget": 96 << 10, "threads": 2}, 8),  # 96K / (3 x 4 tasks)
    }
    for name, (options, rows_per_chunk) in cases.items():
        scanstack.save(stack, tmp_path / name, "crono", **options)
        with h5py.File(tmp_path / name, "r") as f:
            assert f["XRF/Spectra"].chunks == (rows_per_chunk, 512), name
        with scanstack.open(tmp_path / name, "crono") as back:
            np.testing.assert_array_equal(back.to_numpy(), data)


def test_spectra_read_a_chunk_at_a_time_with_their_scratch_reported(tmp_path):
    """Map blocks and scattered frames cut across chunks and pieces equal the map; the reader
    reports its scratch: a decoded chunk, its stored bytes, one slab and the piece's indices."""
    data, stack = _spectra_stack()
    path = tmp_path / "small-chunks.hdf5"
    scanstack.save(stack, path, "crono", file_chunk_bytes=4 * 512 * 2)  # 4 spectra a chunk
    flat = data.reshape(-1, 512)
    with scanstack.open(path, "crono") as s:
        reader = s.reader
        chunk = 4 * 512 * 2
        assert reader._piece() == 9  # whole map rows: one row holds more than a chunk
        assert reader.read_overhead() == 3 * chunk + 25 * 9
        for a, b in [(0, 54), (3, 31), (8, 10), (17, 18)]:
            np.testing.assert_array_equal(reader.read(a, b), flat[a:b])
            np.testing.assert_array_equal(reader.read(a, b, (slice(100, 140),)), flat[a:b, 100:140])
        frames = np.array([53, 0, 7, 7, 30, 1, 52])
        np.testing.assert_array_equal(reader.read_frames(frames), flat[frames])
    with scanstack.open(path, "crono", spectra="acquisition") as s:
        acq = s.to_numpy()
        np.testing.assert_array_equal(s.reader.read(5, 23, (slice(7, 9),)), acq[5:23, 7:9])
        np.testing.assert_array_equal(np.sort(acq, axis=0), np.sort(flat, axis=0))

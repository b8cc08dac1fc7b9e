"""Every metadata value hexrd's writers accept comes back with the same type, dtype and value
from scanstack and from hexrd, in every layout, whoever wrote the file (issue 9, item 2).

hexrd does not install from the package index: its readers and writers are rebuilt from its
published source in ``_hexrd_helpers`` and are the judge here.
"""

import os

import fabio
import h5py
import numpy as np
import pytest
import yaml
from _hexrd_helpers import (
    assert_same_value,
    hexrd_dict_to_h5,
    hexrd_h5_to_dict,
    hexrd_hdf5_attrs,
    hexrd_image_files,
    hexrd_npz_metadata,
    hexrd_yamlmeta,
    omega,
)

import scanstack
from scanstack import imageseries

N = 4


def frames(n=N, dtype=np.uint16):
    data = np.zeros((n, 8, 6), dtype)
    data[:, 2, 3] = np.arange(1, n + 1) * 100
    return data


def save_frames(target, fmt: str, meta=None, /, **options):
    """:func:`frames` with ``meta`` written by scanstack as ``fmt`` (``options`` may hold the
    hdf5 writer's ``path``); the path written."""
    stack = scanstack.Stack.from_array(frames(), metadata=meta)
    return scanstack.save(stack, target, fmt, **options)


def hexrd_write_hdf5(path, data, meta) -> None:
    """What hexrd's hdf5 writer stores: ``imageseries/images`` and the metadata as attributes."""
    with h5py.File(path, "w") as f:
        g = f.create_group("imageseries")
        g.create_dataset("images", data=data)
        hexrd_hdf5_attrs(g, meta)


def numeric_meta():
    """Values every hexrd writer accepts (all have ``.dtype``)."""
    return {
        "omega": omega(N),
        "ints": np.arange(3, dtype=np.int32),
        "f64": np.float64(1.5),
        "i64": np.int64(7),
        "f32": np.float32(0.25),
        "flag": np.bool_(True),
    }


def fch5_meta():
    """Everything hexrd's fch5 writer (``unwrap_dict_to_h5``) accepts."""
    return {
        **numeric_meta(),
        "pyfloat": 2.5,
        "pyint": 3,
        "name": "GE1",
        "name0d": np.array("GE2"),
        "labels": ["x", "y"],
        "uarray": np.array(["a", "bc"]),
        "raw": b"raw",
        "nested": {"a": 1.5, "panel": "ff1", "deeper": {"n": 2}},
    }


# -- fch5 ------------------------------------------------------------------------------------
def test_fch5_written_by_scanstack_reads_the_same_in_hexrd_and_scanstack(tmp_path):
    meta = fch5_meta()
    out = save_frames(tmp_path / "s.fch5", "frame-cache", meta, threshold=0)
    ours = scanstack.open(out).metadata
    with h5py.File(out, "r") as f:
        theirs = hexrd_h5_to_dict(f["metadata"])
    assert_same_value(ours, theirs, "metadata")
    # what comes back, as hexrd returns it: numpy scalars (issue 9 item 2a), str for a string,
    # an object array of str for a list of strings
    assert type(ours["pyfloat"]) is np.float64 and ours["pyfloat"] == 2.5
    assert type(ours["pyint"]) is np.int64 and ours["pyint"] == 3
    assert type(ours["f32"]) is np.float32 and type(ours["flag"]) is np.bool_
    assert ours["name"] == "GE1" and type(ours["name"]) is str
    assert ours["name0d"] == "GE2" and type(ours["name0d"]) is str
    assert ours["labels"].dtype == object and ours["labels"].tolist() == ["x", "y"]
    assert ours["uarray"].tolist() == ["a", "bc"]
    assert ours["raw"] == np.bytes_(b"raw")
    assert type(ours["nested"]["a"]) is np.float64 and ours["nested"]["panel"] == "ff1"


def test_fch5_written_by_hexrd_reads_the_same_in_scanstack(tmp_path):
    path = tmp_path / "h.fch5"
    save_frames(path, "frame-cache", threshold=0)
    with h5py.File(path, "a") as f:
        del f["metadata"]
        hexrd_dict_to_h5(f.create_group("metadata"), fch5_meta())
        # hexrd stores a unicode array as its str(); a (1,) string dataset (scanstack wrote
        # these before) comes back from hexrd as array(['GE1'], dtype=object)
        f["metadata"].create_dataset("one", data=np.array(["GE1"], dtype=h5py.string_dtype()))
    with h5py.File(path, "r") as f:
        theirs = hexrd_h5_to_dict(f["metadata"])
    ours = scanstack.open(path).metadata
    assert_same_value(ours, theirs, "metadata")
    assert theirs["uarray"] == "['a' 'bc']"  # hexrd's own text for a unicode array
    assert ours["one"].dtype == object and ours["one"].tolist() == ["GE1"]


def test_hexrd_writes_hdf5_from_a_series_scanstack_opened_from_fch5(tmp_path):
    # hexrd's WriteH5 reads value.dtype of every metadata value: Python floats failed
    meta = numeric_meta() | {"pyfloat": 2.5}
    out = save_frames(tmp_path / "s.fch5", "frame-cache", meta, threshold=0)
    ims = imageseries.open(out, "frame-cache", style="fch5")
    target = tmp_path / "h.h5"
    hexrd_write_hdf5(target, np.stack([ims[i] for i in range(len(ims))]), ims.metadata)
    back = imageseries.open(target, "hdf5", path="imageseries")
    np.testing.assert_array_equal(back[N - 1], frames()[N - 1])
    assert type(back.metadata["pyfloat"]) is np.float64 and back.metadata["pyfloat"] == 2.5
    np.testing.assert_array_equal(back.metadata["omega"], omega(N))


# -- hdf5 --------------------------------------------------------------------------------------
def hdf5_meta():
    return {**numeric_meta(), "name0d": np.array("GE2"), "uarray": np.array(["a", "bc"])}


def test_hdf5_both_directions(tmp_path):
    meta = hdf5_meta()
    ours_file = save_frames(tmp_path / "s.h5", "hdf5", meta, path="imageseries")
    theirs_file = tmp_path / "h.h5"
    hexrd_write_hdf5(theirs_file, frames(), meta)
    for path in (ours_file, theirs_file):
        with h5py.File(path, "r") as f:
            theirs = dict(f["imageseries"].attrs)  # hexrd's _getmeta
        ours = scanstack.open(path, "hdf5", path="imageseries").metadata
        assert_same_value(ours, theirs, os.path.basename(path))
        assert ours["name0d"] == np.bytes_(b"GE2")  # hexrd stores unicode as bytes
        assert type(ours["f64"]) is np.float64 and type(ours["i64"]) is np.int64


# -- npz -----------------------------------------------------------------------------------------
def npz_meta():
    return {**numeric_meta(), "pyfloat": 2.5, "pyint": 3, "name": "GE1", "uarray": np.array(["a"])}


def test_npz_both_directions(tmp_path):
    meta = npz_meta()
    ours_file = save_frames(tmp_path / "s.npz", "frame-cache", meta, threshold=0)
    theirs_file = tmp_path / "h.npz"
    data = frames()
    arrd = {}
    for i, frame in enumerate(data):  # hexrd's _write_frames_npz layout
        r, c = np.nonzero(frame > 0)
        arrd[f"{i}_row"], arrd[f"{i}_col"] = r.astype(np.uint16), c.astype(np.uint16)
        arrd[f"{i}_data"] = frame[r, c]
    arrd.update(shape=data.shape[1:], nframes=len(data), dtype=str(data.dtype).encode())
    np.savez_compressed(theirs_file, **arrd, **meta)
    for path in (ours_file, theirs_file):
        ours = scanstack.open(path, "frame-cache").metadata
        assert_same_value(ours, hexrd_npz_metadata(path), os.path.basename(path))
        assert ours["pyfloat"].shape == () and ours["pyfloat"].dtype == np.float64
        assert ours["name"].dtype.kind == "U" and ours["name"] == "GE1"


# -- legacy frame-cache YAML ------------------------------------------------------------------
def test_legacy_yml_written_by_hexrd(tmp_path):
    data = frames()
    cache = tmp_path / "cache.npz"
    scanstack.save(scanstack.Stack.from_array(data), cache, "frame-cache", threshold=0)
    npy = tmp_path / "legacy-omega.npy"  # hexrd's _process_meta(save_omegas=True)
    np.save(npy, omega(N))
    meta = {"omega": f"! load-numpy-array {npy}", "pyfloat": 2.5, "pyint": 3, "name": "GE1"}
    meta["labels"] = ["x", "y"]
    tree = {
        "data": {"file": str(cache), "dtype": "uint16", "nframes": N, "shape": [8, 6]},
        "meta": meta,
    }
    yml = tmp_path / "legacy.yml"
    yml.write_text(yaml.safe_dump(tree))
    ours = scanstack.open(yml, "frame-cache", style="yml").metadata
    assert_same_value(ours, hexrd_yamlmeta(meta, path=str(cache)), "meta")
    np.testing.assert_array_equal(scanstack.open(yml, "frame-cache")[:], data)


# -- image-files --------------------------------------------------------------------------------
def image_files_meta():
    return {
        "omega": omega(N),
        "f64": np.float64(1.5),
        "pyint": 3,
        "name": "GE1",
        "name0d": np.array("GE2"),
        "labels": ["x", "y"],
    }


@pytest.mark.parametrize("absolute", [False, True])
def test_image_files_written_by_scanstack_read_by_hexrd(tmp_path, monkeypatch, absolute):
    data = frames()
    # hexrd splits "! load-numpy-array <path>" on whitespace: absolute paths must have none
    folder = tmp_path / ("seq" if absolute else "seq with space")
    out = scanstack.save(
        scanstack.Stack.from_array(data, metadata=image_files_meta()),
        folder / "my frames.yml",
        "tiff",
        absolute=absolute,
    )
    tree = yaml.safe_load(open(out))
    assert isinstance(tree["image-files"]["files"], str)  # hexrd calls files.split()
    ours = scanstack.open(out)
    # hexrd resolves directory and .npy names against its current folder: relative paths
    # need hexrd to run in the folder, absolute ones work from anywhere
    monkeypatch.chdir(folder if not absolute else tmp_path)
    files, theirs = hexrd_image_files(out)
    assert [os.path.abspath(f) for f in files] == ours.reader.original_metadata["files"]
    np.testing.assert_array_equal(np.stack([fabio.open(f).data for f in files]), data)
    assert_same_value(ours.metadata, theirs, "meta")
    assert type(ours.metadata["f64"]) is float  # YAML has no numpy scalars
    assert ours.metadata["name0d"] == "GE2"  # not ['G', 'E', '2']


def test_absolute_paths_with_whitespace_warn(tmp_path):
    src = scanstack.Stack.from_array(frames(), metadata={"omega": omega(N)})
    with pytest.warns(UserWarning, match="whitespace"):
        scanstack.save(src, tmp_path / "a b" / "f.yml", "tiff", absolute=True)


def test_image_files_yaml_as_hexrd_users_write_it(tmp_path, monkeypatch):
    data = frames()
    import tifffile

    for i, frame in enumerate(data):
        tifffile.imwrite(tmp_path / f"img_{i:03d}.tif", frame)
    np.save(tmp_path / "omega.npy", omega(N))
    yml = tmp_path / "ims.yml"
    yml.write_text(
        f"image-files:\n  directory: {tmp_path}\n  files: 'img_00[0-1].tif img_00[2-9].tif'\n"
        f"options: {{}}\nmeta:\n  omega: '! load-numpy-array {tmp_path / 'omega.npy'}'\n"
        "  panel: ff1\n  dist: 1000.5\n"
    )
    monkeypatch.chdir(tmp_path)
    files, theirs = hexrd_image_files(yml)
    ours = scanstack.open(yml)
    assert files == ours.reader.original_metadata["files"]
    np.testing.assert_array_equal(ours[:], data)
    assert_same_value(ours.metadata, theirs, "meta")

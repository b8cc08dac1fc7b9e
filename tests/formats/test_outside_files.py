"""Paths named inside TIFF, zarr and YAML inputs cannot leave the input's folder (or the zarr
store) unless ``allow_outside=True``; YAML alias bombs, cycles and oversized YAML are refused."""

from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pytest
import tifffile

import scanstack
from scanstack.core import safeyaml
from scanstack.core.errors import FormatError
from scanstack.core.safeyaml import AliasBombError, load_yaml_text

FRAME = np.arange(16, dtype=np.uint16).reshape(4, 4)


# -- OME-TIFF ------------------------------------------------------------------------------------
# tifffile re-opens the other file of a multi-file series for each read, and says so
@pytest.mark.filterwarnings("ignore:.*reading array from closed file")
def test_ome_tiff_plane_outside_the_folder_is_refused(tmp_path, ome_pair):
    (tmp_path / "data").mkdir()
    (tmp_path / "outside").mkdir()
    evil = tmp_path / "data" / "evil.ome.tif"
    ome_pair(evil, "../outside/x.ome.tif", tmp_path / "outside" / "x.ome.tif", 999)
    with tifffile.TiffFile(evil) as tif:  # what tifffile alone would do
        assert tif.series[0].asarray()[1].max() == 999
    pattern = r"evil\.ome\.tif \(OME UUID/@FileName\): OME-XML plane file '\.\./outside/x\.ome\."
    with pytest.raises(FormatError, match=pattern + r".*outside the folder"):
        scanstack.open(evil)
    with pytest.raises(FormatError, match=pattern):
        scanstack.open(evil, "tiff")
    with scanstack.open(evil, "tiff", allow_outside=True) as s:
        assert s.nav_shape == (2,) and s[1].max() == 999


@pytest.mark.filterwarnings("ignore:.*reading array from closed file")
def test_ome_tiff_planes_inside_the_folder_are_read(tmp_path, ome_pair):
    good = tmp_path / "good.ome.tif"
    ome_pair(good, "in.ome.tif", tmp_path / "in.ome.tif", 7)
    with scanstack.open(good) as s:
        assert s.nav_shape == (2,)
        np.testing.assert_array_equal(s[0], FRAME)
        np.testing.assert_array_equal(s[1], np.full((4, 4), 7))


# -- zarr ----------------------------------------------------------------------------------------
@pytest.fixture
def stores(tmp_path):
    """A valid store ``good.zarr`` (frames 0..31) and, outside it, a store of 999s."""
    pytest.importorskip("zarr")
    frames = np.arange(32, dtype=np.uint16).reshape(2, 4, 4)
    scanstack.save(scanstack.open(None, "array", data=frames), tmp_path / "good.zarr", "zarr")
    (tmp_path / "outside").mkdir()
    secret = scanstack.open(None, "array", data=np.full((2, 4, 4), 999, np.uint16))
    scanstack.save(secret, tmp_path / "outside" / "o.zarr", "zarr")
    return tmp_path, frames


def _copy(tmp_path, name):
    shutil.copytree(tmp_path / "good.zarr", tmp_path / name)
    return tmp_path / name


def _chunk(store):
    """The one chunk file of the frames array (relative to the store)."""
    (found,) = [
        os.path.relpath(os.path.join(d, f), store)
        for d, _, files in os.walk(store / "data" / "c")
        for f in files
    ]
    return found


@pytest.mark.parametrize("what", ["chunk file", "chunk folder", "metadata"])
def test_zarr_symlink_leaving_the_store_is_refused(stores, what):
    tmp_path, frames = stores
    store = _copy(tmp_path, f"evil-{what.replace(' ', '-')}.zarr")
    outside = tmp_path / "outside" / "o.zarr"
    key = _chunk(store)
    if what == "chunk file":
        os.remove(store / key)
        os.symlink(outside / key, store / key)
    elif what == "chunk folder":
        shutil.rmtree(store / "data" / "c")
        os.symlink(outside / "data" / "c", store / "data" / "c")
    else:
        key = "data/zarr.json"
        shutil.copy(store / key, tmp_path / "outside" / "meta.json")
        os.remove(store / key)
        os.symlink(tmp_path / "outside" / "meta.json", store / key)
    pattern = r"evil-.*\.zarr \(data/.*\): data/.* leads .* outside the zarr store"
    with pytest.raises(FormatError, match=pattern):
        s = scanstack.open(store)
        s[0]  # chunks are read on demand: the refusal comes at the first read of that chunk
    with scanstack.open(store, allow_outside=True) as s:
        expected = frames if what == "metadata" else np.full_like(frames, 999)
        np.testing.assert_array_equal(s.to_numpy(), expected)


def test_zarr_symlink_inside_the_store_is_read(stores):
    tmp_path, frames = stores
    store = _copy(tmp_path, "inner.zarr")
    key = _chunk(store)
    os.rename(store / key, store / "moved")
    os.symlink(os.path.relpath(store / "moved", (store / key).parent), store / key)
    with scanstack.open(store) as s:
        np.testing.assert_array_equal(s.to_numpy(), frames)


# -- image-files YAML ----------------------------------------------------------------------------
def test_image_files_refuse_outside_names_without_telling_whether_they_exist(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    tifffile.imwrite(tmp_path / "exists.tif", FRAME)
    messages = []
    for name in ("exists.tif", "missing.tif", "*.tif"):
        yml = sub / "list.yml"
        yml.write_text(f"image-files:\n  directory: .\n  files: ['../{name}']\n")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "pattern matches no files" either
            with pytest.raises(FormatError, match=r"list\.yml: .*outside the folder") as err:
                scanstack.open(yml, "image-files")
        messages.append(str(err.value).replace(name, "NAME"))
    assert messages[0] == messages[1] == messages[2]  # same words whether or not it exists
    s = scanstack.open(yml, "image-files", allow_outside=True)
    np.testing.assert_array_equal(s[0], FRAME)


# -- YAML bounds ---------------------------------------------------------------------------------
def test_yaml_alias_bomb_is_refused_naming_the_file(tmp_path, alias_bomb):
    assert len(alias_bomb) < 700  # the 600-byte meta: 9**9 nodes once expanded
    path = tmp_path / "bomb.yml"
    path.write_text(alias_bomb)
    for fmt in ("image-files", "raw-image", "frame-cache", None):
        with pytest.raises(AliasBombError, match=r"bomb\.yml: YAML aliases expand \d+ written"):
            scanstack.open(path, fmt) if fmt else scanstack.open(path)
    with pytest.raises(AliasBombError, match="<in-memory input>"):
        scanstack.open(alias_bomb, "image-files")  # a YAML string


def test_yaml_alias_cycle_and_deep_nesting_are_refused(tmp_path):
    with pytest.raises(AliasBombError, match="refers to a node that contains it"):
        load_yaml_text("a: &a [1, *a]\n", tmp_path / "c.yml")
    with pytest.raises(FormatError, match=r"d\.yml: expected YAML, .*nest"):
        load_yaml_text("a: " + "[" * 5_000 + "]" * 5_000 + "\n", tmp_path / "d.yml")


def test_yaml_with_a_few_aliases_and_safe_tags_only(tmp_path):
    text = "base: &b {x: 1, y: [1, 2]}\none: *b\ntwo: {<<: *b, z: 3}\n"
    assert load_yaml_text(text) == {
        "base": {"x": 1, "y": [1, 2]},
        "one": {"x": 1, "y": [1, 2]},
        "two": {"x": 1, "y": [1, 2], "z": 3},
    }
    many = "a: &a [" + ", ".join(["1"] * 100) + "]\nb: [" + ", ".join(["*a"] * 99) + "]\n"
    assert len(load_yaml_text(many)["b"]) == 99  # 9,999 nodes from aliases: within the bound
    with pytest.raises(FormatError, match="the YAML parser says"):
        load_yaml_text("x: !!python/object/apply:os.system ['true']\n", tmp_path / "t.yml")


def test_yaml_size_is_bounded(tmp_path, monkeypatch):
    import scanstack.formats._hexrd as hexrd

    path = tmp_path / "big.yml"
    path.write_text("image-files: {directory: ., files: a.tif}\n" + "#" * 2000 + "\n")
    monkeypatch.setattr(hexrd, "MAX_YAML_BYTES", 1000)
    with pytest.raises(FormatError, match=r"big\.yml: expected a image-files YAML file of at most"):
        scanstack.open(path, "image-files")
    monkeypatch.setattr(safeyaml, "MAX_YAML_BYTES", 1000)
    with pytest.raises(FormatError, match="more than the 1000 read"):
        load_yaml_text("x: 1\n" + "#" * 2000)


def test_formats_that_follow_no_paths_accept_and_ignore_allow_outside(tmp_path):
    """One option name everywhere: readers without paths inside their files do not receive it."""
    frames = np.arange(2 * 16, dtype=np.uint16).reshape(2, 4, 4)
    s = scanstack.open(None, "array", data=frames, allow_outside=True)
    np.testing.assert_array_equal(s.to_numpy(), frames)
    scanstack.save(s, tmp_path / "x.mib", "mib")
    with scanstack.open(tmp_path / "x.mib", allow_outside=True) as m:
        assert m.nframes == 2
    with pytest.raises(TypeError):
        scanstack.open(None, "array", data=frames, allow_outsid=True)  # a typo is still an error

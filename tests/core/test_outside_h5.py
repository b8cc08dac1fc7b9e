"""HDF5 files naming other files (external storage, external links, virtual datasets) cannot make
any reader, or format detection, read outside the file's folder unless ``allow_outside=True``."""

from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest

import scanstack
from scanstack.core.errors import FormatError
from scanstack.core.h5safety import check_h5_inside
from scanstack.core.registry import detect_format
from scanstack.datasets import write_crono

SHAPE = (2, 4, 4)
FRAMES = np.arange(32, dtype=np.uint16).reshape(SHAPE)  # what our valid files hold
SECRET = np.full(SHAPE, 999, dtype=np.uint16)  # what lies outside
KINDS = ("external storage", "external link", "virtual dataset source")
pytestmark = pytest.mark.filterwarnings("ignore:frame .* sparse:UserWarning")  # tiny fch5 caches


@pytest.fixture
def place(tmp_path):
    """``data/`` (the folder the opened file lives in) and ``outside/`` holding a secret raw
    file and an HDF5 file with the same secret frames at ``/images``."""
    data, outside = tmp_path / "data", tmp_path / "outside"
    data.mkdir()
    outside.mkdir()
    SECRET.tofile(outside / "secret.bin")
    with h5py.File(outside / "o.h5", "w") as f:
        f["images"] = SECRET
    return data, outside


def add_reference(group, name: str, kind: str, target_h5: str, target_raw: str) -> None:
    """``group[name]``: a dataset of SHAPE whose bytes come from elsewhere, in one of three ways."""
    if kind == "external storage":
        group.create_dataset(
            name, shape=SHAPE, dtype="u2", external=[(target_raw, 0, SECRET.nbytes)]
        )
    elif kind == "external link":
        group[name] = h5py.ExternalLink(target_h5, "/images")
    else:
        layout = h5py.VirtualLayout(SHAPE, "u2")
        layout[:] = h5py.VirtualSource(target_h5, "images", SHAPE)
        group.create_virtual_dataset(name, layout)


def evil_hexrd(data, outside, kind: str):
    """A hexrd hdf5 file whose image dataset itself is read from outside the folder."""
    path = data / "evil.h5"
    with h5py.File(path, "w") as f:
        add_reference(
            f.create_group("imageseries"),
            "images",
            kind,
            "../outside/o.h5",
            os.fspath(outside / "secret.bin"),
        )
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_hexrd_hdf5_refuses_each_kind_and_allow_outside_reads_it(place, kind):
    data, outside = place
    path = evil_hexrd(data, outside, kind)
    pattern = rf"evil\.h5 \(/imageseries/images\): {kind} .*outside the folder .*allow_outside"
    with pytest.raises(FormatError, match=pattern):
        scanstack.open(path, "hdf5", path="imageseries")
    with pytest.raises(FormatError, match=pattern):
        scanstack.open(path)  # auto-detect: refused before any sniffer looks
    with pytest.raises(FormatError, match=pattern):
        detect_format(path)
    with scanstack.open(path, "hdf5", path="imageseries", allow_outside=True) as s:
        np.testing.assert_array_equal(s.to_numpy(), SECRET)  # the check guards a real read
        again = pickle.loads(pickle.dumps(s))  # re-opens with the same option
        np.testing.assert_array_equal(again[1], SECRET[1])
        again.close()


@pytest.mark.parametrize("kind", KINDS)
def test_an_open_h5py_file_given_to_the_reader_is_checked_too(place, kind):
    data, outside = place
    path = evil_hexrd(data, outside, kind)
    with h5py.File(path, "r") as f:
        with pytest.raises(FormatError, match="outside the folder"):
            scanstack.open(f, "hdf5", path="imageseries")
        with pytest.raises(FormatError, match="outside the folder"):
            detect_format(f["imageseries"])  # sniffers never see it
        s = scanstack.open(f, "hdf5", path="imageseries", allow_outside=True)
        np.testing.assert_array_equal(s[0], SECRET[0])


def _write(fmt: str, path):
    stack = scanstack.open(None, "array", data=FRAMES)
    if fmt == "hdf5":
        scanstack.save(stack, path, "hdf5", path="imageseries")
    elif fmt == "frame-cache":
        scanstack.save(stack, path, "frame-cache", threshold=0, style="fch5")
    elif fmt == "crono":
        write_crono(path, rows=2, columns=3, channels=64, images=False)
    else:
        scanstack.save(stack, path, fmt)


FORMATS = ("hdf5", "frame-cache", "nexus", "usid", "nsid", "crono")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_hdf5_reader_refuses_a_reference_anywhere_in_the_file(place, fmt, kind):
    """A valid file of each HDF5-based format plus one object naming an outside file."""
    data, outside = place
    path = data / f"valid.{'fch5' if fmt == 'frame-cache' else 'h5'}"
    _write(fmt, path)
    detected = scanstack.open(path)
    assert detected.format == fmt
    detected.close()
    with h5py.File(path, "a") as f:
        add_reference(
            f.require_group("extra"), "evil", kind, "../outside/o.h5", str(outside / "secret.bin")
        )
    pattern = rf"valid\.\w+ \(/extra/evil\): {kind} .*{outside.name}"
    with pytest.raises(FormatError, match=pattern):
        scanstack.open(path, fmt)
    with pytest.raises(FormatError, match=pattern):
        scanstack.open(path)
    with scanstack.open(path, fmt, allow_outside=True) as s:
        assert s.nframes > 0


def test_crono_camera_frames_and_tools_refuse_too(place):
    from scanstack.crono.frames import CronoFramesReader

    data, outside = place
    path = data / "scan.HDF5"
    write_crono(path, rows=2, columns=3, channels=64, images=True)
    with h5py.File(path, "a") as f:
        add_reference(f, "evil", "external link", "../outside/o.h5", "")
    with pytest.raises(FormatError, match=r"scan\.HDF5 \(/evil\): external link"):
        CronoFramesReader(path)
    CronoFramesReader(path, allow_outside=True).close()


# -- what stays allowed --------------------------------------------------------------------------
def test_references_to_files_inside_the_folder_and_soft_links_work(place, monkeypatch):
    data, _ = place
    FRAMES.tofile(data / "raw.bin")
    with h5py.File(data / "in.h5", "w") as f:
        f["images"] = FRAMES
    with h5py.File(data / "good.h5", "w") as f:
        add_reference(f.create_group("link"), "images", "external link", "in.h5", "")
        add_reference(f.create_group("vds"), "images", "virtual dataset source", "in.h5", "")
        add_reference(f.create_group("ext"), "images", "external storage", "", "raw.bin")
        add_reference(
            f.create_group("extabs"), "images", "external storage", "", str(data / "raw.bin")
        )
        f.create_group("soft")["images"] = h5py.SoftLink("/link/images")
    monkeypatch.chdir(data)  # HDF5 reads relative external storage from the current folder
    for group in ("link", "vds", "ext", "extabs", "soft"):
        with scanstack.open(data / "good.h5", "hdf5", path=group) as s:
            np.testing.assert_array_equal(s.to_numpy(), FRAMES)


def test_relative_external_storage_is_judged_where_hdf5_reads_it(place, monkeypatch):
    """HDF5 looks up relative external-storage names in the current folder, not the file's."""
    data, outside = place
    FRAMES.tofile(data / "secret.bin")
    with h5py.File(data / "rel.h5", "w") as f:
        add_reference(f.create_group("imageseries"), "images", "external storage", "", "secret.bin")
    monkeypatch.chdir(outside)  # outside/secret.bin is what HDF5 would read now
    with pytest.raises(FormatError, match=r"outside/secret\.bin, outside the folder"):
        scanstack.open(data / "rel.h5", "hdf5")
    with scanstack.open(data / "rel.h5", "hdf5", allow_outside=True) as s:
        np.testing.assert_array_equal(s.to_numpy(), SECRET)


def test_a_link_missing_in_the_folder_but_present_in_the_current_folder_is_refused(
    place, monkeypatch
):
    """HDF5 falls back to the current folder for a link target absent from the file's folder."""
    data, outside = place
    with h5py.File(data / "fallback.h5", "w") as f:
        add_reference(f.create_group("imageseries"), "images", "external link", "o.h5", "")
    monkeypatch.chdir(outside)
    with pytest.raises(FormatError, match=r"external link 'o\.h5' makes HDF5 read .*outside"):
        scanstack.open(data / "fallback.h5", "hdf5")
    monkeypatch.chdir(data)
    with h5py.File(data / "fallback.h5", "a") as f:  # found nowhere: nothing is read, no refusal
        check_h5_inside(f)


def test_symlink_in_the_folder_and_links_inside_linked_files_are_followed(place):
    data, outside = place
    os.symlink(outside / "o.h5", data / "alias.h5")
    with h5py.File(data / "via_symlink.h5", "w") as f:
        add_reference(f, "images", "external link", "alias.h5", "")
    with pytest.raises(FormatError, match=r"'alias\.h5' makes HDF5 read .*outside/o\.h5"):
        scanstack.open(data / "via_symlink.h5", "hdf5", path="/")
    (data / "sub").mkdir()
    with h5py.File(data / "sub" / "b.h5", "w") as f:  # inside, but itself links out
        add_reference(f, "images", "virtual dataset source", "../../outside/o.h5", "")
    with h5py.File(data / "a.h5", "w") as f:
        add_reference(f, "images", "external link", "sub/b.h5", "")
    with pytest.raises(FormatError, match=r"a\.h5 \(/images\): virtual dataset source .*\(in "):
        scanstack.open(data / "a.h5", "hdf5", path="/")


def test_the_hexrd_drop_in_refuses_and_allows_the_same_way(place):
    from scanstack import imageseries

    data, outside = place
    path = evil_hexrd(data, outside, "external link")
    with pytest.raises(FormatError, match="outside the folder"):
        imageseries.open(path, None)
    with pytest.raises(FormatError, match="outside the folder"):
        imageseries.open(path, "hdf5", path="imageseries")
    ims = imageseries.open(path, "hdf5", path="imageseries", allow_outside=True)
    np.testing.assert_array_equal(ims[1], SECRET[1])

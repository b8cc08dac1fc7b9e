"""Replacing outputs: refused by default, folders swapped whole, leftovers of killed writes
cleaned up, clear one-line errors for a folder/file mix-up and a full disk."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scanstack
from scanstack import imageseries
from scanstack.cli.main import main
from scanstack.core import atomic
from scanstack.core.atomic import atomic_path, clean_leftovers
from scanstack.core.axes import Axis
from scanstack.core.errors import WriteError
from scanstack.core.stack import Stack

# every registered writer: (file name, writer options)
WRITERS = {
    "hdf5": ("out.h5", {"path": "images"}),
    "frame-cache": ("out.npz", {"threshold": 0}),
    "nexus": ("out.nxs", {}),
    "usid": ("out.h5", {}),
    "nsid": ("out.h5", {}),
    "zarr": ("out.zarr", {}),
    "tiff": ("out.tif", {}),
    "mib": ("out.mib", {}),
    "crono": ("out.hdf5", {}),
    "eiger-stream-v1": ("out.h5", {}),
    "eiger-stream-v2": ("out.h5", {"threshold_2": np.zeros((4, 8, 6), np.uint16)}),
}


def small_stack(fmt: str, value: int = 0) -> Stack:
    if fmt == "crono":  # spectra
        axes = [
            Axis("y", 2, "mm", 0.2, 1.0),
            Axis("x", 3, "mm", 0.1, 2.0),
            Axis("energy", 16, "keV", 0.02, 0.0, navigate=False),
        ]
        return Stack.from_array(np.full((2, 3, 16), value, np.uint16), signal_ndim=1, axes=axes)
    return scanstack.open(None, "array", data=np.full((4, 8, 6), value, np.uint16))


def read_back(path: Path) -> np.ndarray:
    with scanstack.open(path) as s:
        return s.to_numpy()


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes)."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_writers_refuse_an_existing_output_unless_overwrite(tmp_path):
    assert {n for n, s in scanstack.formats().items() if s.can_write} == set(WRITERS)
    for fmt, (name, options) in WRITERS.items():
        folder = tmp_path / fmt
        out = folder / name
        scanstack.save(small_stack(fmt, 1), out, fmt, **options)
        before = snapshot(folder)
        with pytest.raises(WriteError, match=r"exists; pass overwrite=True") as info:
            scanstack.save(small_stack(fmt, 2), out, fmt, **options)
        assert str(out) in str(info.value)
        assert snapshot(folder) == before, fmt  # nothing touched, nothing left behind
        scanstack.save(small_stack(fmt, 2), out, fmt, overwrite=True, **options)
        assert np.all(read_back(out) == 2), fmt
        assert not [p for p in folder.iterdir() if p.name.startswith(".")], fmt


def test_hexrd_dropin_write_replaces_like_hexrd(tmp_path):
    out = tmp_path / "ims.h5"
    imageseries.write(np.zeros((2, 4, 4), np.uint16), out, "hdf5", path="imageseries")
    imageseries.write(np.ones((3, 4, 4), np.uint16), out, "hdf5", path="imageseries")
    assert read_back(out).shape == (3, 4, 4) and np.all(read_back(out) == 1)
    with pytest.raises(WriteError, match="exists"):
        imageseries.write(np.ones((3, 4, 4)), out, "hdf5", path="imageseries", overwrite=False)


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "rename-aside"])
def test_a_folder_is_swapped_whole(tmp_path, monkeypatch, exchange):
    monkeypatch.setattr(atomic, "use_exchange", exchange)
    out = tmp_path / "store.zarr"
    scanstack.save(small_stack("zarr", 1), out, "zarr")
    scanstack.save(small_stack("zarr", 2), out, "zarr", overwrite=True)
    assert np.all(read_back(out) == 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.zarr"]


def test_a_failed_folder_write_keeps_the_old_one(tmp_path):
    out = tmp_path / "store"
    out.mkdir()
    (out / "old").write_text("old")
    with pytest.raises(RuntimeError), atomic_path(out, overwrite=True, folder=True) as tmp:
        tmp.mkdir()
        (tmp / "new").write_text("half")
        raise RuntimeError("writer failed")
    assert snapshot(tmp_path) == {"store/old": b"old"}


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return int(proc.stdout)


def test_leftovers_of_killed_writes_are_cleaned_by_the_next_write(tmp_path):
    out = tmp_path / "out.h5"
    dead = _dead_pid()
    part_file = tmp_path / f".out.h5.{dead}-0a1b2c3d.part"
    part_file.write_bytes(b"half")
    part_dir = tmp_path / f".out.h5.{dead}-0a1b2c3e.part"  # e.g. a zarr store
    (part_dir / "c").mkdir(parents=True)
    running = tmp_path / f".out.h5.{os.getppid()}-0a1b2c3f.part"  # pytest's parent runs
    running.write_bytes(b"busy")
    unrelated = tmp_path / ".other.h5.1-0a1b2c3d.part"
    unrelated.write_bytes(b"not ours")
    with pytest.warns(UserWarning, match=rf"running process \(pid {os.getppid()}\)"):
        with atomic_path(out) as tmp:
            tmp.write_bytes(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out.h5", running.name, unrelated.name]
    )


def test_an_aside_folder_without_its_output_is_put_back(tmp_path):
    out = tmp_path / "store.zarr"
    aside = tmp_path / f".store.zarr.{_dead_pid()}-0a1b2c3d.aside"
    aside.mkdir()
    (aside / "old").write_text("old")
    with pytest.warns(UserWarning, match="restored from"):
        assert clean_leftovers(out) == [aside]
    assert snapshot(tmp_path) == {"store.zarr/old": b"old"}


def test_tiff_sequence_replacement_removes_the_old_frames(tmp_path):
    out = tmp_path / "frames.yml"
    omega = np.stack([np.arange(5.0), np.arange(1.0, 6)], 1)
    old = scanstack.open(None, "array", data=np.ones((5, 4, 4), np.uint16), meta={"omega": omega})
    scanstack.save(old, out, "tiff")
    keep = tmp_path / "frames_notes.txt"  # not the writer's: never touched
    keep.write_text("mine")
    new = scanstack.open(None, "array", data=np.full((3, 4, 4), 2, np.uint16))
    scanstack.save(new, out, "tiff", overwrite=True)
    assert read_back(out).shape == (3, 4, 4) and np.all(read_back(out) == 2)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 5 and "frames.yml" in names and keep.name in names  # 3 frames
    assert not [n for n in names if n.endswith(".npy") or n.startswith(".")]


def test_a_hand_written_index_keeps_its_files(tmp_path):
    """Replacing an index scanstack did not write removes none of the files it lists."""
    import tifffile

    tifffile.imwrite(tmp_path / "frames_00000.tif", np.ones((4, 4), np.uint16))
    out = tmp_path / "frames.yml"
    out.write_text(
        "image-files:\n  directory: .\n  files: frames_00000.tif\noptions: {}\nmeta: {}\n"
    )
    before = (tmp_path / "frames_00000.tif").read_bytes()
    new = scanstack.open(None, "array", data=np.full((2, 4, 4), 2, np.uint16))
    scanstack.save(new, out, "tiff", overwrite=True)
    assert (tmp_path / "frames_00000.tif").read_bytes() == before  # new frames got new names
    assert np.all(read_back(out) == 2) and len(list(tmp_path.iterdir())) == 4


# -- the command line: one line, exit 2, nothing left ---------------------------------------------
@pytest.fixture
def series(tmp_path):
    data = np.random.default_rng(0).integers(0, 500, (6, 16, 12)).astype(np.uint16)
    path = tmp_path / "in.h5"
    scanstack.save(scanstack.open(None, "array", data=data), path, "hdf5", path="imageseries")
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("scanstack: error: "), err
    return lines[0]


def test_cli_refuses_existing_outputs_unless_overwrite(series, tmp_path, capsys):
    cases = [
        ["convert", str(series), str(tmp_path / "o.zarr"), "-q"],
        ["stats", str(series), "-s", "max", "-o", str(tmp_path / "o.npy"), "-q"],
        ["preview", str(series), "-o", str(tmp_path / "o.png"), "-q"],
    ]
    for argv in cases:
        assert main(argv) == 0
        out = Path(argv[2] if argv[0] == "convert" else argv[argv.index("-o") + 1])
        before = snapshot(tmp_path)
        assert main(argv) == 2
        assert "exists; pass overwrite=True (CLI: --overwrite)" in one_error_line(capsys)
        assert snapshot(tmp_path) == before
        assert main([*argv, "--overwrite"]) == 0
        assert out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_folder_where_a_file_goes_and_file_where_a_store_goes(series, tmp_path, capsys):
    folder = tmp_path / "o.npy"
    folder.mkdir()
    for extra in ([], ["--overwrite"]):
        assert main(["stats", str(series), "-s", "max", "-o", str(folder), "-q", *extra]) == 2
        assert "is a folder, but this output is a file" in one_error_line(capsys)
    file = tmp_path / "o.zarr"
    file.write_bytes(b"a file")
    for extra in ([], ["--overwrite"]):
        assert main(["convert", str(series), str(file), "-q", *extra]) == 2
        assert "is a file, but this output is a folder" in one_error_line(capsys)
    assert file.read_bytes() == b"a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.h5", "o.npy", "o.zarr"]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MiB tmpfs (needs root; skipped elsewhere): writes of more than that fill it."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        with contextlib.suppress(Exception):
            subprocess.run(["umount", str(mnt)], check=True)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("out.h5", ["--format", "hdf5", "-O", "path=images", "--compression", "none"]),
        ("out.zarr", ["--format", "zarr", "--compression", "none"]),
        ("frames.yml", ["--format", "tiff"]),
    ],
    ids=["hdf5", "zarr", "tiff-sequence"],
)
def test_full_disk_is_one_line_and_leaves_nothing(tiny_disk, tmp_path, capsys, name, options):
    data = np.random.default_rng(0).integers(0, 60000, (40, 128, 256)).astype(np.uint16)
    src = tmp_path / "big.h5"  # 2.6 MB of frames beside a 3 MiB disk: the copy cannot fit...
    scanstack.save(scanstack.open(None, "array", data=data), src, "hdf5", path="imageseries")
    (tiny_disk / "ballast").write_bytes(b"\0" * (1 << 20))  # ...with 1 MiB already taken
    assert main(["convert", str(src), str(tiny_disk / name), "-q", *options]) == 2
    line = one_error_line(capsys)
    assert str(tiny_disk) in line and "no space left on device" in line, line
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["ballast"]


def test_cli_never_overwrites_its_input_even_with_overwrite(series, capsys):
    before = series.read_bytes()
    argv = ["convert", str(series), str(series), "--format", "hdf5", "-O", "path=x", "-q"]
    assert main([*argv, "--overwrite"]) == 2
    assert "refusing to overwrite an input" in one_error_line(capsys)
    assert series.read_bytes() == before


def test_crono_outputs_refused_unless_overwrite(tmp_path, capsys):
    from scanstack.datasets import write_crono

    src = tmp_path / "scan.HDF5"
    write_crono(src, rows=2, columns=2)
    frames, mosaic = tmp_path / "frames", tmp_path / "mosaic.png"
    for argv in (
        ["crono", "frames", str(src), "-o", str(frames), "-q"],
        ["crono", "mosaic", str(src), "-o", str(mosaic), "-q"],
    ):
        assert main(argv) == 0
        capsys.readouterr()
        before = snapshot(tmp_path)
        assert main(argv) == 2
        line = one_error_line(capsys)
        assert "--overwrite" in line and argv[-2] in line, line
        assert snapshot(tmp_path) == before
        assert main([*argv, "--overwrite"]) == 0
        assert snapshot(tmp_path).keys() == before.keys()  # the same files, replaced
    assert not [p for p in tmp_path.rglob(".*")]

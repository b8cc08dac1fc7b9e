"""The command line refuses inputs that name files outside their folder: exit code 2, one line,
no output file; ``--allow-outside`` reads them. Run as a subprocess, as users run it."""

from __future__ import annotations

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from scanstack.core.errors import FormatError

SECRET = np.full((2, 4, 4), 999, dtype=np.uint16)


def run(*args: str, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(
        [sys.executable, "-m", "scanstack.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # the alias bomb used to run for ever
    )


@pytest.fixture
def evil(tmp_path):
    """``data/evil.h5``: a hexrd hdf5 file whose frames are external storage in ``outside/``."""
    (tmp_path / "data").mkdir()
    (tmp_path / "outside").mkdir()
    SECRET.tofile(tmp_path / "outside" / "secret.bin")
    with h5py.File(tmp_path / "data" / "evil.h5", "w") as f:
        f.create_group("imageseries").create_dataset(
            "images",
            shape=SECRET.shape,
            dtype="u2",
            external=[(str(tmp_path / "outside" / "secret.bin"), 0, SECRET.nbytes)],
        )
    return tmp_path / "data" / "evil.h5"


@pytest.mark.parametrize("command", ["stats", "info", "convert", "preview"])
def test_cli_refuses_in_one_line_and_writes_nothing(evil, tmp_path, command):
    out = (
        tmp_path / {"stats": "x.npy", "info": "", "convert": "x.zarr", "preview": "x.png"}[command]
    )
    args = {
        "stats": ["stats", str(evil), "-o", str(out)],
        "info": ["info", str(evil)],
        "convert": ["convert", str(evil), str(out)],
        "preview": ["preview", str(evil), "-o", str(out)],
    }[command]
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "evil.h5 (/imageseries/images): external storage" in lines[0]
    assert "outside the folder" in lines[0] and "--allow-outside" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "outside"]  # no output, no temp


def test_cli_allow_outside_reads_it(evil, tmp_path):
    out = tmp_path / "x.npy"
    done = run(
        "stats", str(evil), "--stat", "max", "-o", str(out), "-q", "--allow-outside", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(out), SECRET.max(0))


def test_cli_info_on_a_yaml_alias_bomb_is_one_line(tmp_path, alias_bomb):
    (tmp_path / "bomb.yml").write_text(alias_bomb)
    done = run("info", "bomb.yml", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "bomb.yml: YAML aliases expand" in lines[0], done.stderr


def test_cli_op_files_are_tiffs_whose_planes_stay_in_their_folder(tmp_path, ome_pair):
    from scanstack.cli.options import load_array

    (tmp_path / "data").mkdir()
    (tmp_path / "outside").mkdir()
    dark = tmp_path / "data" / "dark.ome.tif"
    ome_pair(dark, "../outside/x.ome.tif", tmp_path / "outside" / "x.ome.tif", 999)
    with pytest.raises(FormatError, match=r"dark\.ome\.tif .*outside the folder"):
        load_array(str(dark))

"""Tiny files claiming huge sizes never allocate in proportion to the claim (issue 8, item 4).

Each hostile file (tests/memory/hostile.py) is opened, described (``scanstack info``), read in a
region and whole, and reduced, in a subprocess whose address space is capped at what it had
mapped plus 512 MiB (``RLIMIT_AS``, tests/memory/attack.py): allocating what the file claims
(8 GiB to 1 TiB) fails there with a bare MemoryError instead of eating the machine. The budget
is 64 MiB. Allowed outcomes: the right result, or a ScanstackError naming the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import hostile  # noqa: E402

ATTACK = Path(__file__).with_name("attack.py")
ACTIONS = ("open", "info", "info-json", "region", "frame", "max", "median")


def run(path: Path) -> dict[str, dict]:
    env = dict(
        os.environ,
        SCANSTACK_MEMORY_BUDGET=str(64 << 20),
        MALLOC_ARENA_MAX="2",  # each thread's malloc arena reserves 64 MiB of address space
    )
    done = subprocess.run(
        [sys.executable, str(ATTACK), str(path), ",".join(ACTIONS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {r["action"]: r for r in rows}


def refused(row: dict, kind: str, *words: str) -> None:
    """``row`` ended in the ScanstackError ``kind`` whose message holds ``words``."""
    assert not row["ok"] and row["error"] == "scanstack", row
    assert row["type"] == kind, row
    for word in words:
        assert word in row["message"], row


def info_refused(row: dict, *words: str) -> None:
    """``scanstack info`` printed one error line naming ``words`` and exited with 2."""
    assert row["ok"], row
    value = row["value"]
    assert value["exit"] == 2, row
    line = value["stderr"].strip().splitlines()[-1]
    assert line.startswith("scanstack: error:"), row
    for word in words:
        assert word in line, row


def test_hdf5_unwritten_8gib_frame(tmp_path):
    path = hostile.hdf5_unwritten_frame(tmp_path)
    assert path.stat().st_size < 10_000
    rows = run(path)
    assert rows["open"]["value"]["shape"] == [1, 65536, 65536]
    assert rows["info"]["value"]["exit"] == 0 and rows["info-json"]["value"]["exit"] == 0
    assert rows["region"]["value"]["shape"] == [16, 16]  # only the region is read
    refused(rows["frame"], "MemoryBudgetError", str(path), "one frame", "8,192.0 MiB")
    refused(rows["max"], "MemoryBudgetError", str(path), "accumulator")
    refused(rows["median"], "MemoryBudgetError", str(path), "median")


def test_framecache_claiming_65535_square_frames(tmp_path):
    path = hostile.framecache_huge_frame(tmp_path)
    assert path.stat().st_size < 12_000
    rows = run(path)
    assert rows["open"]["value"]["shape"] == [2, 65535, 65535]
    assert rows["info"]["value"]["exit"] == 0 and rows["info-json"]["value"]["exit"] == 0
    assert rows["region"]["value"]["shape"] == [16, 16]
    refused(rows["frame"], "MemoryBudgetError", str(path), "one frame")
    refused(rows["max"], "MemoryBudgetError", str(path))
    refused(rows["median"], "MemoryBudgetError", str(path))


def test_npz_bomb_in_metadata(tmp_path):
    path = hostile.npz_bomb(tmp_path, "junk", 256 << 20)  # 256 MiB of zeros in ~260 KB
    assert path.stat().st_size < 300_000
    rows = run(path)
    for action in ("open", "region", "frame", "max", "median"):
        refused(rows[action], "MemoryBudgetError", str(path), "'junk'", "256.0 MiB")
    info_refused(rows["info"], str(path), "'junk'")


def test_npz_bomb_in_a_frame(tmp_path):
    path = hostile.npz_bomb(tmp_path, "1_data", 256 << 20)
    rows = run(path)
    assert rows["open"]["ok"] and rows["info"]["value"]["exit"] == 0
    assert rows["frame"]["value"]["shape"] == [64, 64]  # frame 0 is fine
    for action in ("max", "median"):  # they read frame 1: more values than a frame has pixels
        refused(rows[action], "FormatError", str(path), "1_data", "4096 pixels")


def test_crono_unwritten_32gib_selection_index(tmp_path):
    path = hostile.crono_huge_index(tmp_path)
    assert path.stat().st_size < 100_000
    rows = run(path)
    for action in ("open", "region", "frame", "max", "median"):
        refused(rows[action], "MemoryBudgetError", str(path), "SpectraSelectedIndex")
    info_refused(rows["info"], str(path), "selection index of 65536 x 65536 pixels")
    info_refused(rows["info-json"], str(path), "SpectraSelectedIndex")


def test_crono_unwritten_huge_spectra(tmp_path):
    path = hostile.crono_huge_spectra(tmp_path)
    rows = run(path)
    for action in ("open", "region", "frame", "max", "median"):
        refused(rows[action], "MemoryBudgetError", str(path), "per-spectrum table")
    info_refused(rows["info"], str(path), "per-spectrum table")


@pytest.mark.parametrize("member", ["junk", "0_row"])
def test_npz_member_larger_than_declared_is_refused(tmp_path, member):
    """A member whose .npy header claims more than the zip declares never allocates the claim."""
    import zipfile

    import numpy as np

    import scanstack
    from scanstack.core.errors import FormatError

    path = tmp_path / "lie.npz"
    np.savez(
        path,
        shape=np.array([4, 4]),
        nframes=np.array(1),
        dtype=np.array(b"uint8"),
        **{"0_col": np.array([1], np.uint16), "0_data": np.array([1], np.uint8)},
    )
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(member + ".npy", hostile._npy_header((1 << 40,), "u1") + b"\0" * 8)
    with pytest.raises(FormatError, match="declares"):
        s = scanstack.open(path, "frame-cache")
        s[0]


def test_hdf5_chunk_inflating_past_its_size_is_refused(tmp_path):
    """A deflated chunk that inflates to more than the chunk holds is never inflated further."""
    import zlib

    import h5py
    import numpy as np

    import scanstack
    from scanstack.core.errors import FormatError

    path = tmp_path / "bomb.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(
            "imageseries/images", (2, 64, 64), np.uint16, chunks=(1, 64, 64), compression="gzip"
        )
        ds[0] = 1
        bomb = zlib.compress(bytes(64 << 20), 9)  # 64 MiB of zeros for a chunk of 8 KiB
        ds.id.write_direct_chunk((1, 0, 0), bomb)
    s = scanstack.open(path, "hdf5", path="imageseries")
    assert (s[0] == 1).all()
    with pytest.raises(FormatError, match="inflates to 8192 or more bytes, the chunk holds 8192"):
        s[1]

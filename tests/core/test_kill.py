"""Kill tests: ``scanstack convert`` replacing an existing output is killed (SIGKILL) or
interrupted (SIGTERM, SIGINT) at exact points of the write; the output's name must then hold the
complete old or the complete new output, and the next write must clean up what was left.

The points are reached through the ``SCANSTACK_TEST_STOP_AT`` hook of ``scanstack.core.atomic``:
the writer announces the point in a file and waits there, so the signal always lands at the same
place of the write (no sleeps, no retries). The full matrix of formats × points × signals is
marked slow; the default run covers every format, every point and every signal at least once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import scanstack
from scanstack.cli.main import main

NFRAMES, OLD_FRAMES = 48, 10
FRAME = (256, 512)  # uint16: 48 frames are 12.6 MB
DEADLINE = 180.0  # generous bound under load; the tests never wait for it unless broken

# output name and writer options of each kind of output
OUTPUTS = {
    "hdf5": ("out.h5", ["--format", "hdf5", "-O", "path=imageseries"]),
    "zarr": (
        "out.zarr",
        ["--format", "zarr", "--compression", "none", "-O", "file_chunk_bytes=1000000"],
    ),
    "sequence": ("frames.yml", ["--format", "tiff"]),
}
# points of a write: name for the hook (None: computed), whether the new output is in place
POINTS = {
    "mid-write": "write-block:2",  # the temporary output is half written
    "before-commit": None,  # the temporary output is complete, the old one untouched
    "after-commit": "after-commit",  # swapped in; the old one not yet deleted
    "aside": "aside",  # rename-aside fallback: old folder aside, new one not yet renamed in
    "index-switched": "index-switched",  # sequence: new index in place, old frames not removed
}
SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM, "INT": signal.SIGINT}
FAST = {
    ("hdf5", "mid-write", "KILL"),
    ("hdf5", "after-commit", "TERM"),
    ("zarr", "mid-write", "TERM"),
    ("zarr", "before-commit", "KILL"),
    ("zarr", "aside", "KILL"),
    ("sequence", "mid-write", "INT"),
    ("sequence", "index-switched", "KILL"),
}


def _cases():
    for kind in OUTPUTS:
        for point in POINTS:
            if point == "aside" and kind != "zarr":
                continue  # only folders are renamed aside
            if point == "index-switched" and kind != "sequence":
                continue
            if point == "after-commit" and kind == "sequence":
                continue  # files: the commit is one rename, nothing follows it
            for sig in SIGNALS:
                marks = () if (kind, point, sig) in FAST else (pytest.mark.slow,)
                yield pytest.param(kind, point, sig, marks=marks, id=f"{kind}-{point}-{sig}")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A 12.6 MB hexrd HDF5 image series (with per-frame omega metadata) and its frames."""
    rng = np.random.default_rng(1)
    data = rng.integers(0, 4000, (NFRAMES, *FRAME)).astype(np.uint16)
    omega = np.stack([np.arange(NFRAMES, dtype=float), np.arange(1.0, NFRAMES + 1)], axis=1)
    path = tmp_path_factory.mktemp("kill") / "input.h5"
    stack = scanstack.open(None, "array", data=data, meta={"omega": omega})
    scanstack.save(stack, path, "hdf5", path="imageseries")
    return path, data


def _command(source: Path, out: Path, kind: str, exchange: bool):
    code = (
        "import sys, scanstack.core.atomic as a; "
        f"a.use_exchange = {exchange}; "
        "from scanstack.cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["convert", str(source), str(out), *OUTPUTS[kind][1], "-q", "--overwrite"]
    return [sys.executable, "-c", code, *args]


def _env(stop_at: str | None = None, stop_file: Path | None = None) -> dict:
    env = dict(os.environ, SCANSTACK_CHUNK_BYTES=str(2 << 20), SCANSTACK_NUM_THREADS="2")
    env.pop("SCANSTACK_TEST_STOP_AT", None)
    if stop_at:
        env.update(SCANSTACK_TEST_STOP_AT=stop_at, SCANSTACK_TEST_STOP_FILE=str(stop_file))
    return env


def _default_sigint():  # a child of a non-interactive shell may start with SIGINT ignored
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def convert(source, out, kind, old=False, overwrite=True) -> int:
    """Write (in this process) the new output, or the old one (10 frames, flip=v mirrors their
    columns: no frame of it equals a frame of the new one, so a mix cannot pass for either)."""
    args = ["convert", str(source), str(out), *OUTPUTS[kind][1], "-q"]
    if overwrite:
        args.append("--overwrite")
    if old:
        args += ["--frames", f"0:{OLD_FRAMES}", "--op", "flip=v"]
    return main(args)


def convert_and_signal(source, out, kind, stop_at, sig, exchange=True):
    """Run a conversion, wait until it reaches ``stop_at``, send ``sig``; returns (rc, stderr)."""
    stop_file = out.parent / "stopped-at"
    stop_file.unlink(missing_ok=True)
    proc = subprocess.Popen(
        _command(source, out, kind, exchange),
        env=_env(stop_at, stop_file),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        deadline = time.monotonic() + DEADLINE
        while not stop_file.exists():
            if proc.poll() is not None:
                pytest.fail(f"the write ended before {stop_at}: {proc.communicate()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the write never reached {stop_at}")
            time.sleep(0.02)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def holds(out: Path, data: np.ndarray) -> int:
    """The number of frames of the complete output at ``out`` (old: 10, new: 48), checked
    frame by frame against the source."""
    with scanstack.open(out) as back:
        n = back.nframes
        assert n in (OLD_FRAMES, NFRAMES), n
        expected = data[:OLD_FRAMES, :, ::-1] if n == OLD_FRAMES else data
        np.testing.assert_array_equal(back.to_numpy().reshape(n, *FRAME), expected)
    return n


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize(("kind", "point", "sig"), list(_cases()))
def test_killed_replacement_leaves_old_or_new(source, tmp_path, capsys, kind, point, sig):
    src, data = source
    out = tmp_path / OUTPUTS[kind][0]
    assert convert(src, out, kind, old=True) == 0
    assert holds(out, data) == OLD_FRAMES

    stop_at = POINTS[point]
    if stop_at is None:  # the index of a sequence is committed after its npy and frames
        stop_at = f"before-commit:{NFRAMES + 2}" if kind == "sequence" else "before-commit"
    exchange = point != "aside"
    rc, err = convert_and_signal(src, out, kind, stop_at, SIGNALS[sig], exchange)
    (tmp_path / "stopped-at").unlink()

    if sig == "KILL":
        assert rc == -signal.SIGKILL
    else:  # Ctrl-C and SIGTERM: one line, the temporary output removed, nothing half-replaced
        assert rc == (130 if sig == "INT" else 128 + signal.SIGTERM), err
        # one line of ours (a plug-in of the installed environment that fails to load may add
        # its own warning before it; that is not this write's doing)
        ours = [
            line
            for line in err.splitlines()
            if line.startswith("scanstack:") and not line.startswith("scanstack: warning:")
        ]
        assert ours == ["scanstack: interrupted" if sig == "INT" else "scanstack: terminated"], err
        assert "Traceback" not in err
        assert hidden(tmp_path) == []

    if point == "aside" and sig == "KILL":
        # the one window of the fallback (no atomic exchange): the old store is aside; the next
        # write puts it back before anything else, so a refused write keeps the old output
        assert not out.exists()
        assert [n.endswith(".aside") for n in hidden(tmp_path)].count(True) == 1
        assert convert(src, out, kind, overwrite=False) == 2
        err = capsys.readouterr().err.splitlines()
        assert err[0].startswith("scanstack: warning: ") and "restored from" in err[0], err
        assert err[1].startswith("scanstack: error: ") and "exists" in err[1], err
        assert holds(out, data) == OLD_FRAMES
    else:
        n = holds(out, data)
        in_place = point in ("after-commit", "index-switched")
        assert n == (NFRAMES if in_place else OLD_FRAMES)

    # the next write removes the leftovers (temporary files and folders, unlisted frames)
    assert convert(src, out, kind) == 0
    assert holds(out, data) == NFRAMES
    assert hidden(tmp_path) == []
    files = visible(tmp_path)
    if kind == "sequence":
        tifs = [f for f in files if f.endswith(".tif")]
        assert len(tifs) == NFRAMES
        assert len([f for f in files if f.endswith(".npy")]) == 1
        assert len(files) == NFRAMES + 2
    else:
        assert files == [out.name]

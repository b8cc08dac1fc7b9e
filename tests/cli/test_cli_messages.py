"""The command line prints one line per error and per warning, never a traceback (issue 8 item 7).

Run as a real process where it matters (what reaches file descriptor 2, including what C
libraries and library loggers would print), in-process otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

import scanstack
from scanstack.cli.main import main
from scanstack.core import registry
from scanstack.core.reader import Reader
from scanstack.formats.mib.writer import write_mib

SRC = Path(__file__).resolve().parents[2] / "src"


def _run(*code_lines: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-c", "\n".join(code_lines)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_a_corrupt_file_is_one_line_in_a_real_process(tmp_path):
    path = tmp_path / "broken.h5"
    scanstack.save(scanstack.open(None, "array", data=np.ones((2, 3, 4))), path, "hdf5", path="g")
    raw = bytearray(path.read_bytes())
    raw[800:1200] = b"\xff" * 400  # object headers and B-tree nodes
    path.write_bytes(bytes(raw))
    proc = _run(
        "import sys",
        "from scanstack.cli.main import main",
        f"sys.exit(main(['info', {str(path)!r}, '-f', 'hdf5']))",
    )
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith(f"scanstack: error: {path}"), proc.stderr


def test_warnings_are_one_line_each_and_library_logs_silent(tmp_path):
    frames = np.ones((4, 256, 256), np.uint8)
    write_mib(tmp_path / "cut.mib", frames, depth=6, nav_shape=(2, 2))
    mib = tmp_path / "cut.mib"
    mib.write_bytes(mib.read_bytes()[:-1000])  # the last frame incomplete: two MibWarnings
    tif = tmp_path / "cut.tif"
    tifffile.imwrite(tif, np.arange(6 * 16 * 12, dtype=np.uint16).reshape(6, 16, 12))
    tif.write_bytes(tif.read_bytes()[:-300])  # tifffile logs "invalid page offset"
    proc = _run(
        "from scanstack.cli.main import main",
        f"print(main(['info', {str(mib)!r}]), main(['info', {str(tif)!r}]))",
    )
    codes = proc.stdout.splitlines()[-1]
    lines = proc.stderr.splitlines()
    assert codes == "0 2", proc.stdout + proc.stderr
    assert [line.split(":")[0:2] for line in lines] == [
        ["scanstack", " warning"],
        ["scanstack", " warning"],
        ["scanstack", " error"],
    ], proc.stderr
    assert "MibWarning: " in lines[0] and "cut.mib" in lines[0]
    assert "cut.tif" in lines[2] and "tifffile" not in proc.stderr


def test_multi_line_messages_are_joined(tmp_path, capsys):
    yml = tmp_path / "bad.yml"
    yml.write_text("image-files:\n  directory: .\n  files: [a.tif\n")  # unclosed list
    assert main(["info", str(yml), "-f", "image-files"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("scanstack: error: ") and "bad.yml" in err


class _Crash(Reader):
    """A plug-in reader with a bug."""

    format_name = "crash-test"

    def __init__(self, source):
        super().__init__(source)
        raise RuntimeError("a bug in a plug-in\nwith a second line")


@pytest.fixture
def crash_format():
    registry.register(registry.FormatSpec("crash-test", "test", reader=_Crash))
    yield "crash-test"
    registry._registry.pop("crash-test", None)


def test_an_unexpected_error_is_one_line_asking_for_a_report(tmp_path, capsys, crash_format):
    path = tmp_path / "x.bin"
    path.write_bytes(b"x")
    assert main(["info", str(path), "-f", crash_format]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(
        "scanstack: error: unexpected RuntimeError: a bug in a plug-in with a second line "
        "(a bug in scanstack: please report it"
    )
    with pytest.raises(RuntimeError, match="a bug in a plug-in"):  # --debug: the traceback
        main(["--debug", "info", str(path), "-f", crash_format])

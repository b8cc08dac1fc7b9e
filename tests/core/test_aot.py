"""Kernels compiled ahead of time (scanstack.core.aot): built once into the user's cache, loaded
without numba, checked arguments, and numba's JIT (with its own disk cache) when they cannot be
built — also from a non-editable, read-only install (slow test)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scanstack.core import aot, lane_folds

REPO = Path(__file__).resolve().parents[2]


def _lane_kernel(name: str) -> aot.AotKernel:
    """A fresh AotKernel of one of the lane kernels every reduction runs (core.lane_folds)."""
    return aot.AotKernel(lane_folds._SOURCE, name, lane_folds._LANES)


def _fold(func, block: np.ndarray, acc: np.ndarray) -> np.ndarray:
    """Fold every row of ``block`` ``(n, npix)`` into ``acc`` ``(npix,)`` with a lane kernel."""
    return func(block, np.arange(len(block), dtype=np.int64), 0, len(acc), False, acc)


def test_parse_signature():
    sig = "void(uint16[:, :], int64[:], boolean, int64, float32[:, :])"
    assert aot._parse_args(sig) == [
        ("uint16", 2),
        ("int64", 1),
        ("boolean", None),
        ("int64", None),
        ("float32", 2),
    ]


def test_compiled_for_contiguous_arrays():
    # numba's JIT types a contiguous array as C layout; built for any layout ([:, :]) the loops
    # do not vectorise, which made the ahead-of-time kernels 3-5x slower
    assert aot._contiguous("u8[:](uint16[:, :], int64[:], boolean, float32[:, :, :])") == (
        "u8[::1](uint16[:, ::1], int64[::1], boolean, float32[:, :, ::1])"
    )
    assert aot._parse_args("void(uint16[:, ::1], int64[::1], int64)") == [
        ("uint16", 2),
        ("int64", 1),
        ("int64", None),
    ]


@pytest.mark.skipif(aot.cache_dir() is None, reason="ahead-of-time kernels turned off")
def test_strided_arrays_use_a_build_for_any_layout(monkeypatch, tmp_path):
    monkeypatch.setenv(aot.CACHE_ENV, str(tmp_path))
    kernel = _lane_kernel("max_lanes")
    func = kernel.get(np.int16, np.int16)
    assert isinstance(func, aot._Checked)
    block = (np.arange(24).reshape(4, 6) * (-1) ** np.arange(6)).astype(np.int16)
    acc = np.full(6, -100, np.int16)
    _fold(func, block, acc)  # contiguous: the build for C layout only
    assert len(list(tmp_path.glob("*.so"))) == 1
    np.testing.assert_array_equal(acc, block.max(axis=0))
    view = block[::2, ::2]  # strided rows and columns: read through the strides, not as C
    acc = np.full(3, -100, np.int16)
    _fold(func, view, acc)
    assert len(list(tmp_path.glob("*.so"))) == 2
    np.testing.assert_array_equal(acc, view.max(axis=0))


@pytest.mark.skipif(aot.cache_dir() is None, reason="ahead-of-time kernels turned off")
def test_compiled_kernel_checks_its_arguments():
    kernel = lane_folds.K._lanes["max_lanes"].get(np.uint16, np.uint16)  # the library's own
    assert isinstance(kernel, aot._Checked)  # not numba's JIT: the cache is usable here
    block = np.array([[1, 7, 3], [4, 2, 9]], np.uint16)
    acc = np.zeros(3, np.uint16)
    _fold(kernel, block, acc)
    np.testing.assert_array_equal(acc, [4, 7, 9])
    # a wrong dtype, byte order or rank would be read as garbage by the compiled code
    for bad in (block.astype(np.int32), block.astype(">u2"), block[0], list(block)):
        with pytest.raises(TypeError, match="argument 0"):
            _fold(kernel, bad, acc)
    with pytest.raises(TypeError, match="takes 6 arguments, 7 given"):
        kernel(block, np.arange(2), 0, 3, False, acc, acc)


def test_turned_off_runs_numba_jit(monkeypatch):
    monkeypatch.setenv(aot.CACHE_ENV, "off")
    assert aot.cache_dir() is None
    kernel = _lane_kernel("add_lanes")
    func = kernel.get(np.uint8, np.uint32)
    assert not isinstance(func, aot._Checked)  # numba's dispatcher
    acc = np.zeros(4, np.uint32)
    _fold(func, np.full((3, 4), 200, np.uint8), acc)
    np.testing.assert_array_equal(acc, 600)


def test_unusable_cache_warns_once_and_falls_back(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(aot.CACHE_ENV, str(blocker / "kernels"))
    kernel = _lane_kernel("min_lanes")
    with pytest.warns(
        RuntimeWarning, match="could not compile or load the kernel .*min_lanes.*cannot be written"
    ):
        func = kernel.get(np.float32, np.float32)
    acc = np.full(3, np.inf, np.float32)
    _fold(func, np.array([[1, np.nan, 3], [0, 5, 4]], np.float32), acc)
    np.testing.assert_array_equal(acc, [0, np.nan, 3])
    assert kernel.get(np.float32, np.float32) is func  # decided once per process


def test_failure_marker_skips_the_build(monkeypatch, tmp_path):
    monkeypatch.setenv(aot.CACHE_ENV, str(tmp_path))
    kernel = _lane_kernel("add_lanes")
    sig = aot._contiguous(lane_folds._LANES.format("int16", "int32"))  # the build get() makes
    (tmp_path / (kernel.module_name(sig) + ".failed")).write_text("no compiler\n")
    func = kernel.get(np.int16, np.int32)  # no warning, no build: straight to the JIT
    assert not isinstance(func, aot._Checked)
    assert not list(tmp_path.glob("*.so")) and not list(tmp_path.glob(".pycc-*"))


def test_module_name_follows_the_source_and_signature():
    kernel = _lane_kernel("add_lanes")
    a = kernel.module_name(lane_folds._LANES.format("uint8", "uint32"))
    b = kernel.module_name(lane_folds._LANES.format("int8", "int32"))
    other = _lane_kernel("max_lanes")
    assert a != b
    assert a != other.module_name(lane_folds._LANES.format("uint8", "uint32"))
    assert a == kernel.module_name(lane_folds._LANES.format("uint8", "uint32"))


# -- a non-editable install, made read-only -------------------------------------------------------
CHILD = """
import json, os, sys
import numpy as np
from scanstack import stats
from scanstack.stats import _compiled
frames = np.random.default_rng(1).poisson(2.0, (7, 5, 6)).astype(np.uint16)
ok = bool(np.array_equal(stats.median(frames), np.median(frames, axis=0).astype(np.float32)))
kernel = _compiled._quantile_tile.get(np.uint16)
print(json.dumps({"ok": ok, "numba": "numba" in sys.modules, "module": stats.__file__,
                  "compiled": type(kernel).__name__ == "_Checked"}))
"""


def _read_only(root: Path) -> None:
    """Nobody may write under ``root``: modes for a user, the immutable flag for root."""
    if os.geteuid() != 0:
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode & ~0o222)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a folder read-only")
    done = subprocess.run(["chattr", "-R", "+i", str(root)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"chattr +i not supported here: {done.stderr.strip()}")


def _writable_again(root: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-R", "-i", str(root)], capture_output=True)
    else:
        for path in [root, *root.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)


@pytest.mark.slow
def test_non_editable_read_only_install(tmp_path):
    # pip builds a wheel of a copy of the sources (the build writes egg-info next to them) in an
    # isolated environment (this project needs a newer setuptools than the venv may have)
    source = tmp_path / "source"
    shutil.copytree(REPO / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        + ["--target", str(site), str(source)],
        check=True,
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCANSTACK_", "NUMBA_"))}
    env.update(PYTHONPATH=str(site), HOME=str(home), PYTHONWARNINGS="ignore")
    env.pop("XDG_CACHE_HOME", None)

    def child(**extra: str) -> tuple[dict, str]:
        done = subprocess.run(
            [sys.executable, "-c", CHILD],
            env=dict(env, **extra),
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.strip().splitlines()
        return json.loads(lines[-1]), "\n".join(lines[:-1])

    _read_only(site)
    try:
        # ahead of time: built by the first process into ~/.cache, loaded by the next one
        first, _ = child()
        assert first["ok"] and first["compiled"]
        assert first["module"].startswith(str(site))
        kernels = home / ".cache" / "scanstack" / "kernels"
        assert list(kernels.glob("_scanstack_aot_quantile_tile_*"))
        second, _ = child()
        assert second["ok"] and second["compiled"] and not second["numba"]

        # numba's JIT: its cache=True leaves the read-only __pycache__ for ~/.cache/numba ...
        child(SCANSTACK_KERNEL_CACHE="off")
        again, log = child(SCANSTACK_KERNEL_CACHE="off", NUMBA_DEBUG_CACHE="1")
        assert again["ok"] and again["numba"] and not again["compiled"]
        user_cache = home / ".cache" / "numba"
        assert f"data loaded from '{user_cache}" in log
        assert "quantile_tile" in log
        # ... or goes to NUMBA_CACHE_DIR when that is set
        numba_dir = tmp_path / "numba-cache"
        child(SCANSTACK_KERNEL_CACHE="off", NUMBA_CACHE_DIR=str(numba_dir))
        _, log = child(
            SCANSTACK_KERNEL_CACHE="off", NUMBA_CACHE_DIR=str(numba_dir), NUMBA_DEBUG_CACHE="1"
        )
        assert f"data loaded from '{numba_dir}" in log
        assert not list(site.rglob("*.nbi"))  # nothing was written into the install
    finally:
        _writable_again(site)


def test_damaged_module_falls_back_and_is_not_retried(monkeypatch, tmp_path):
    monkeypatch.setenv(aot.CACHE_ENV, str(tmp_path))
    kernel = _lane_kernel("max_lanes")
    from importlib.machinery import EXTENSION_SUFFIXES

    name = kernel.module_name(aot._contiguous(lane_folds._LANES.format("int8", "int8")))
    (tmp_path / (name + EXTENSION_SUFFIXES[0])).write_bytes(b"not a shared library")
    with pytest.warns(RuntimeWarning, match="delete it to try again"):
        func = kernel.get(np.int8, np.int8)
    acc = np.full(2, -128, np.int8)
    _fold(func, np.array([[3, -5], [1, 7]], np.int8), acc)
    np.testing.assert_array_equal(acc, [3, 7])
    assert (tmp_path / (name + ".failed")).read_text().startswith("scanstack.core.lane_kernels")


def test_missing_build_tools_warn_once_per_process(monkeypatch, tmp_path):
    monkeypatch.setenv(aot.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(aot, "_missing_tool_warned", False)
    # numba.pycc cannot be imported (as without setuptools): every kernel falls back to the JIT
    monkeypatch.setitem(sys.modules, "numba.pycc", None)
    kernels = [_lane_kernel(name) for name in ("add_lanes", "max_lanes")]
    with pytest.warns(RuntimeWarning, match="needs setuptools and a C compiler") as caught:
        funcs = [k.get(np.uint16, np.uint16) for k in kernels]
    assert len([w for w in caught if "numba.pycc" in str(w.message)]) == 1
    assert not any(isinstance(f, aot._Checked) for f in funcs)
    assert len(list(tmp_path.glob("*.failed"))) == 2  # each kernel recorded, not retried

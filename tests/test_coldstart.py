"""Cold start (issue 10, item 2): what a fresh process imports and loads before it works.

Each check runs a fresh python, as a shell user's command does: importing scanstack, asking the
command line for help or opening a file loads none of the heavy packages, and a statistic runs its
kernels compiled ahead of time, without numba.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

from scanstack.core.aot import cache_dir

#: loaded only by the commands and functions that use them
HEAVY = ("numba", "llvmlite", "scipy", "dask", "distributed", "xarray", "zarr", "tifffile", "PIL")


def fresh(code: str, **env: str) -> dict:
    """Run ``code`` in a fresh python (this one's path); it prints one JSON line, returned."""
    full = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), PYTHONWARNINGS="ignore", **env)
    done = subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


LOADED = f"[m for m in {HEAVY!r} if m in sys.modules]"


def test_import_loads_nothing_heavy():
    out = fresh(
        "import json, sys\n"
        "import scanstack, scanstack.stats, scanstack.cli.main\n"
        f"before = {LOADED} + [m for m in ('h5py', 'hdf5plugin') if m in sys.modules]\n"
        "names = sorted(scanstack.formats())\n"  # every format module imported
        f"print(json.dumps([before, {LOADED}, names]))"
    )
    before, after_formats, names = out
    assert before == []
    assert after_formats == []
    assert {"hdf5", "mib", "zarr", "tiff"} <= set(names)


def test_help_loads_nothing_heavy():
    out = fresh(
        "import contextlib, io, json, sys\n"
        "from scanstack.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as text, contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        f"print(json.dumps([{LOADED} + [m for m in ('h5py',) if m in sys.modules], "
        "'stats' in text.getvalue()]))"
    )
    assert out == [[], True]


def test_public_api_unchanged_by_lazy_formats():
    import scanstack
    import scanstack.formats as formats_package
    from scanstack import formats

    assert formats is formats_package is scanstack.formats
    assert "hdf5" in scanstack.formats()
    assert "formats" in scanstack.__all__
    with pytest.raises(AttributeError):
        scanstack.no_such_name  # noqa: B018


@pytest.mark.skipif(cache_dir() is None, reason="ahead-of-time kernels turned off")
def test_cli_median_in_fresh_process_runs_without_numba(tmp_path):
    rng = np.random.default_rng(5)
    frames = rng.poisson(3.0, (9, 12, 10)).astype(np.uint16)
    frames[:, 3, 4] = 60000  # a bright pixel: the selection fallback of the kernel
    path = tmp_path / "series.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", data=frames)
    for stat, reference in (("median", np.median(frames, axis=0)), ("max", frames.max(axis=0))):
        out = tmp_path / f"{stat}.tif"
        argv = ["stats", str(path), "-f", "hdf5", "-i", "path=imageseries", "-q"]
        argv += ["--stat", stat, "-o", str(out), "--overwrite"]  # the same output, twice
        call = (
            "import json, sys\n"
            "from scanstack.cli.main import main\n"
            f"code = main({argv!r})\n"
            f"print(json.dumps([code, {LOADED}]))"
        )
        fresh(call)  # builds the kernels into the cache if they are not there yet
        code, loaded = fresh(call)
        assert code == 0
        assert loaded == ["tifffile"]  # what writes the output, nothing else
        result = tifffile.imread(out)
        np.testing.assert_array_equal(result, reference.astype(result.dtype))


@pytest.mark.parametrize("suffix", [".tif", ".npy"])
def test_statistic_is_written_without_a_copy(tmp_path, suffix):
    from scanstack import stats
    from scanstack.cli.main import _write_image
    from traced_peak import traced_peak

    frames = np.random.default_rng(2).poisson(2.0, (5, 512, 512)).astype(np.uint16)
    result = stats.median(frames)
    out = tmp_path / f"median{suffix}"
    _, peak = traced_peak(lambda: _write_image(result, str(out), []), warm_up=False)
    assert peak < result.nbytes / 2  # written from the array itself, at most in strips
    back = tifffile.imread(out) if suffix == ".tif" else np.load(out)
    np.testing.assert_array_equal(back, np.median(frames, axis=0).astype(np.float32))


def test_named_format_imports_only_its_module(tmp_path):
    path = tmp_path / "series.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("imageseries/images", data=np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    out = fresh(
        "import json, sys\n"
        "import numpy as np, scanstack\n"
        f"s = scanstack.open({str(path)!r}, 'hdf5', path='imageseries')\n"
        "same = bool(np.array_equal(s[1], np.arange(12, 24).reshape(3, 4)))\n"
        "mods = [m for m in sys.modules if m.startswith('scanstack.formats.')]\n"
        "import threading\n"
        f"print(json.dumps([same, mods, {LOADED}, threading.active_count()]))"
    )
    same, modules, loaded, threads = out
    assert same
    assert threads == 1  # thread pools start when work is shared out, not on import or open
    assert "scanstack.formats.hexrd_hdf5" in modules
    assert not any(
        m.startswith(("scanstack.formats.mib", "scanstack.formats.zarr")) for m in modules
    )
    assert loaded == []


@pytest.mark.slow
def test_bench_coldstart_quick(tmp_path):
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_coldstart.py"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [sys.executable, str(bench), "--quick", "--repeat", "1", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "both scanstack medians equal the reference's" in out
    for name in ("reference: h5py read all", "(ahead-of-time kernels)", "(numba JIT)"):
        assert name in out
    # the ahead-of-time rows never load numba, the JIT rows do
    assert out.count("numba loaded: False") == 2 and out.count("numba loaded: True") == 2


@pytest.mark.skipif(cache_dir() is None, reason="ahead-of-time kernels turned off")
def test_raw_mib_decoding_in_fresh_process_runs_without_numba():
    code = (
        "import json, sys\n"
        "import numpy as np\n"
        "from scanstack.formats.mib import raw\n"
        "frames = np.random.default_rng(3).integers(0, 4096, (3, 512, 512)).astype(np.uint16)\n"
        "payload = raw.encode(frames, 12, quad=True)\n"
        "out = raw.decode_into(payload, 12, 256, 1024, True, False, True)\n"
        "numpy_path = raw.decode(payload, 12, 256, 1024, True)\n"
        "same = bool(np.array_equal(numpy_path, frames) and np.array_equal(out, frames[:, ::-1]))\n"
        f"print(json.dumps([same, {LOADED}]))"
    )
    fresh(code)  # builds the kernel into the cache if it is not there yet
    assert fresh(code) == [True, []]

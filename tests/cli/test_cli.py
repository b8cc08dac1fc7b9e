"""The command line, run in-process: every command on small files written by our own writers."""

import json

import numpy as np
import pytest
import tifffile
from PIL import Image

import scanstack
from scanstack.cli.main import build_parser, main


@pytest.fixture
def series(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 500, (9, 32, 40)).astype(np.uint16)
    omega = np.stack([np.arange(9.0), np.arange(1.0, 10.0)], axis=1)
    stack = scanstack.open(None, "array", data=data, meta={"omega": omega})
    path = tmp_path / "series.h5"
    scanstack.save(stack, path, "hdf5", path="imageseries")
    return path, data


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for command in ("formats", "info", "convert", "stats", "preview", "demo", "crono"):
        assert command in out


def test_formats(capsys):
    assert main(["formats", "--verbose"]) == 0
    out = capsys.readouterr().out
    for name in ("hdf5", "frame-cache", "mib", "crono", "nexus", "usid", "zarr"):
        assert name in out
    assert "lazy: True" in out


def test_info_text_and_json(series, capsys):
    path, data = series
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "format:      hdf5" in out and "(9 frames)" in out and "uint16" in out
    assert "omega" in out
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["signal_shape"] == [32, 40] and info["nav_shape"] == [9]


@pytest.mark.parametrize("stat", ["max", "min", "sum", "mean", "median", "percentile"])
def test_stats(series, tmp_path, stat):
    path, data = series
    out = tmp_path / f"{stat}.tif"
    assert main(["stats", str(path), "--stat", stat, "--pctl", "90", "-o", str(out), "-q"]) == 0
    result = tifffile.imread(out)
    expected = {
        "max": data.max(0),
        "min": data.min(0),
        "sum": data.sum(0, dtype=float),
        "mean": data.mean(0),
        "median": np.median(data, 0),
        "percentile": np.percentile(data, 90, 0),
    }[stat]
    np.testing.assert_allclose(result, expected, rtol=1e-6)


def test_convert_with_ops_and_frames(series, tmp_path):
    path, data = series
    dark = tmp_path / "dark.npy"
    np.save(dark, np.full((32, 40), 100, np.uint16))
    out = tmp_path / "clean.npz"
    argv = [
        "convert",
        str(path),
        str(out),
        "--format",
        "frame-cache",
        "--op",
        f"dark={dark}",
        "--op",
        "flip=v",
        "--frames",
        "2:7",
        "-O",
        "threshold=0",
        "-q",
    ]
    assert main(argv) == 0
    back = scanstack.open(out)
    expected = np.clip(data[2:7].astype(int) - 100, 0, None)[:, :, ::-1]
    np.testing.assert_array_equal(back.to_numpy(), expected)
    np.testing.assert_array_equal(
        back.metadata["omega"], np.stack([np.arange(2.0, 7), np.arange(3.0, 8)], 1)
    )


def test_convert_refuses_to_overwrite_input(series, capsys):
    path, _ = series
    before = path.read_bytes()
    assert main(["convert", str(path), str(path), "--format", "hdf5", "-q"]) == 2
    assert "refusing to overwrite an input" in capsys.readouterr().err
    assert path.read_bytes() == before


def test_preview_png(series, tmp_path):
    path, _ = series
    out = tmp_path / "p.png"
    assert main(["preview", str(path), "-o", str(out), "-q"]) == 0
    img = Image.open(out)
    assert img.format == "PNG" and img.size[0] > 300


def test_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "junk.mib"
    bad.write_bytes(b"not a merlin file at all")
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("scanstack: error:") and "junk.mib" in err and "Traceback" not in err
    assert main(["info", str(tmp_path / "missing.h5")]) == 2
    assert "no such file" in capsys.readouterr().err
    # options the reader/writer does not take were bare TypeError tracebacks
    path = tmp_path / "s.h5"
    scanstack.save(scanstack.Stack.from_array(np.ones((2, 3, 4))), path, "hdf5", path="g")
    argv = ["convert", str(path), str(tmp_path / "o.npz"), "-O", "threshold=0"]
    assert main([*argv, "--compression", "gzip", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("scanstack: error: unknown option") and "'compression'" in err
    assert main(["info", str(path), "-i", "nope=1"]) == 2
    assert "'nope'" in capsys.readouterr().err


def test_convert_on_a_dask_cluster(series, tmp_path):
    distributed = pytest.importorskip("distributed")
    path, data = series
    out = tmp_path / "c.zarr"
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        argv = ["convert", str(path), str(out), "--scheduler", cluster.scheduler_address, "-q"]
        assert main(argv) == 0
        assert cluster.scheduler.task_prefixes  # the chunks ran as tasks on the cluster
    back = scanstack.open(out)
    np.testing.assert_array_equal(back.to_numpy(), data)

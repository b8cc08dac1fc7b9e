"""The shipped manifest and the writer contributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import scanstack
from scanstack.core.errors import UnsupportedError
from scanstack.core.registry import formats
from scanstack.napari._manifest import MANIFEST, manifest_text
from scanstack.napari._writer import WRITERS

npe2 = pytest.importorskip("npe2")


def test_manifest_is_current_and_valid():
    """The file napari reads is what the generator makes from today's registry (after adding a
    format run ``python -m scanstack.napari._manifest``)."""
    assert MANIFEST.read_text(encoding="utf-8") == manifest_text()
    mf = npe2.PluginManifest.from_file(MANIFEST)
    assert mf.name == "scanstack"
    [reader] = mf.contributions.readers
    patterns = set(reader.filename_patterns)
    for spec in formats().values():
        if spec.can_read:
            assert {f"*{e.lower()}" for e in spec.extensions} <= patterns, spec.name
    written = {
        w.command.split(".", 1)[1]: tuple(w.filename_extensions) for w in mf.contributions.writers
    }
    assert written == {cmd: exts for cmd, (_, exts) in WRITERS.items()}
    for cmd, (fmt, _) in WRITERS.items():
        assert formats()[fmt].can_write, cmd


def test_manifest_ships_as_package_data():
    text = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'scanstack = "scanstack.napari:napari.yaml"' in text
    assert '"scanstack.napari" = ["napari.yaml"]' in text


def test_crono_files_match_case_insensitively(plugin_manager, tmp_path):
    readers = list(plugin_manager.iter_compatible_readers([str(tmp_path / "SCAN.HDF5")]))
    assert any(r.command == "scanstack.get_reader" for r in readers)


@pytest.mark.parametrize("ext", sorted({e for _, exts in WRITERS.values() for e in exts}))
def test_writer_round_trip(tmp_path, ext):
    """Write an image layer through npe2 and read it back with scanstack: values and axes."""
    data = np.random.default_rng(3).integers(0, 60, (2, 3, 16, 12)).astype(np.uint8)
    meta = {
        "name": "layer",
        "scale": (50.0, 25.0, 0.5, 0.5),
        "translate": (100.0, -20.0, 0.0, 1.0),
        "units": ("µm", "µm", "mrad", "mrad"),
        "axis_labels": ("y", "x", "ky", "kx"),
    }
    path = tmp_path / f"out{ext}"
    written = npe2.write(str(path), [(data, meta, "image")], plugin_name="scanstack")
    assert written == [str(path)]
    data = data[::-1].copy()  # napari asks before replacing a file: the writer then replaces it
    npe2.write(str(path), [(data, meta, "image")], plugin_name="scanstack")
    with scanstack.open(path) as s:
        np.testing.assert_array_equal(s.to_numpy().reshape(data.shape), data)
        if s.format != "mib":  # .mib has no calibration to keep
            assert [a.name for a in s.axes] == ["y", "x", "ky", "kx"]
            assert [a.units for a in s.axes] == ["µm", "µm", "mrad", "mrad"]
            assert [a.scale for a in s.axes] == pytest.approx(meta["scale"])
            assert [a.offset for a in s.axes] == pytest.approx(meta["translate"])


def test_writer_refuses_rgb(tmp_path):
    from scanstack.napari._writer import write_tiff

    with pytest.raises(UnsupportedError, match="RGB"):
        write_tiff(str(tmp_path / "c.tif"), np.zeros((4, 4, 3), np.uint8), {"rgb": True})

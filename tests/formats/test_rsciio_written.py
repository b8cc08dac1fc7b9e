"""The RosettaSciIO fallback on every format RosettaSciIO (through HyperSpy) writes and scanstack
does not read natively: blockfile, EMD (NCEM/Berkeley), HSPY, TVIPS, Panta Rhei, Semper, Ripple,
MRCZ, DigitalSurf and MSA. Each file is written by HyperSpy's ``save`` (RosettaSciIO's writer),
then opened by ``scanstack.open``'s detection and checked against ``hs.load`` of the same file:
values, axes (names, units, scale), laziness (no dask task runs at open), and the tools: median,
the 4-D STEM sum pattern, ``scanstack convert`` to zarr and ``scanstack preview``.

The fallback format is registered here (its entry point is seen only after a reinstall).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import scanstack
from scanstack import stats, stem
from scanstack.cli.main import main
from scanstack.core import registry

hs = pytest.importorskip("hyperspy.api")
pytest.importorskip("rsciio")
pytest.importorskip("matplotlib")
pytest.importorskip("zarr")


@pytest.fixture(autouse=True)
def fallback_registered(monkeypatch):
    from scanstack.formats import rsciio_fallback

    registry.formats()
    monkeypatch.setitem(registry._registry, "rsciio", rsciio_fallback.FORMAT)


def _named(sig, names):
    """Give HyperSpy's axes (listed in array order by ``_axes``) names, units and scales."""
    for ax, (name, units, scale) in zip(sig.axes_manager._axes, names, strict=True):
        ax.name, ax.units, ax.scale = name, units, scale
    return sig


def _scan(dtype=np.uint8):
    """A 3 x 4 scan of 16 x 16 diffraction patterns, calibrated."""
    data = np.random.default_rng(0).integers(0, 200, (3, 4, 16, 16)).astype(dtype)
    axes = [("y", "nm", 2.5), ("x", "nm", 2.5), ("ky", "1/nm", 0.1), ("kx", "1/nm", 0.1)]
    return _named(hs.signals.Signal2D(data), axes)


def _images():
    data = np.random.default_rng(1).normal(100, 10, (5, 12, 10)).astype(np.float32)
    return hs.signals.Signal2D(data)


def _spectra():
    data = np.random.default_rng(2).poisson(20, (3, 4, 32)).astype(np.float32)
    axes = [("y", "µm", 5.0), ("x", "µm", 5.0), ("Energy", "keV", 0.01)]
    return _named(hs.signals.Signal1D(data), axes)


def _spectrum():
    return _spectra().inav[1, 2]


#: extension, signal to save, file the writer makes (TVIPS numbers its files), is the plugin lazy
CASES = {
    "blo": (_scan, "x.blo", True),
    "emd": (_scan, "x.emd", True),
    "hspy": (_scan, "x.hspy", True),
    "tvips": (_scan, "x_000.tvips", True),
    # RosettaSciIO's lazy Panta Rhei reader maps the deflated data as if stored: read whole
    "prz": (_scan, "x.prz", False),
    "unf": (_images, "x.unf", True),
    "rpl": (_spectra, "x.rpl", True),
    "mrcz": (_images, "x.mrcz", True),
    "sur": (_images, "x.sur", False),  # RosettaSciIO's DigitalSurf and MSA readers are not lazy
    "msa": (_spectrum, "x.msa", False),
}


def test_prz_lazy_reader_of_rsciio_reads_wrong_values(tmp_path):
    """Why .prz is read whole: RosettaSciIO's own lazy reader returns other values than its eager
    one on the file HyperSpy writes (when this fails, RosettaSciIO is fixed: drop the workaround
    in ``rsciio_fallback._lazy_reads_wrong``)."""
    from rsciio.pantarhei import file_reader

    sig = _scan()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sig.save(tmp_path / "x.prz")
        lazy = np.asarray(file_reader(str(tmp_path / "x.prz"), lazy=True)[0]["data"])
        eager = file_reader(str(tmp_path / "x.prz"), lazy=False)[0]["data"]
    np.testing.assert_array_equal(eager, sig.data)
    assert not np.array_equal(lazy, sig.data)


PLUGINS = {
    "blo": "Blockfile",
    "emd": "EMD",
    "hspy": "HSPY",
    "tvips": "TVIPS",
    "prz": "PantaRhei",
    "unf": "Semper",
    "rpl": "Ripple",
    "mrcz": "MRCZ",
    "sur": "DigitalSurf",
    "msa": "MSA",
}


@pytest.fixture(scope="module", params=sorted(CASES))
def written(request, tmp_path_factory):
    ext = request.param
    if ext == "mrcz":
        pytest.importorskip("mrcz")
    make, name, lazy = CASES[ext]
    folder = tmp_path_factory.mktemp(ext)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. blockfile's "expects nm units" advice
        make().save(folder / f"x.{ext}", overwrite=True)
        ref = hs.load(folder / name, lazy=False)
    return ext, folder / name, ref, lazy


def test_detected_values_and_axes_equal_hyperspy(written):
    ext, path, ref, _ = written
    assert registry.detect_format(path) == "rsciio"
    with scanstack.open(path) as s:
        assert s.reader.plugin == PLUGINS[ext]
        want = np.asarray(ref.data)
        if s.ndim == want.ndim + 1:  # one spectrum or one image: a stack of one frame
            assert s.nav_shape == (1,)
            want = want[None]
        assert s.shape == want.shape
        np.testing.assert_array_equal(s.to_numpy(), want)
        np.testing.assert_array_equal(s[s.nframes - 1], want.reshape(-1, *s.signal_shape)[-1])
        # HyperSpy's axes in array order, against ours (the extra one-frame axis aside)
        theirs = sorted(ref.axes_manager._axes, key=lambda a: a.index_in_array)
        ours = s.axes[len(s.axes) - len(theirs) :]
        for a, b in zip(ours, theirs, strict=True):
            units = "" if str(b.units) in ("<undefined>", "t.b.d.") else str(b.units)
            assert (a.name, a.units, a.size) == (str(b.name), units, b.size), ext
            assert a.scale == pytest.approx(b.scale) and a.offset == pytest.approx(b.offset)
        if ext in ("blo", "emd", "hspy"):  # formats that keep our calibration
            assert [(a.name, a.units) for a in s.nav_axes] in (
                [("y", "nm"), ("x", "nm")],
                [("x", "nm"), ("y", "nm")],
            )
            assert s.nav_axes[0].scale == pytest.approx(2.5)


def test_nothing_is_read_at_open(written):
    """The stack holds RosettaSciIO's dask array (or memory map, MRCZ): opening runs no dask task
    (no chunk of the file is read), the first frame asked for runs some."""
    from dask.callbacks import Callback

    ext, path, _, lazy = written
    if not lazy:
        pytest.skip(f"RosettaSciIO's {ext} file is read whole at open (no usable lazy reader)")
    tasks = []
    with Callback(pretask=lambda key, dsk, state: tasks.append(key)):
        s = scanstack.open(path)
        assert tasks == []
        data = s.reader.data
        assert isinstance(data, np.memmap) or type(data).__module__.startswith("dask")
        s[0]
    assert tasks or isinstance(data, np.memmap)
    s.close()


def test_tools_median_sum_pattern_convert_preview(written, tmp_path):
    ext, path, ref, _ = written
    want = np.asarray(ref.data)
    with scanstack.open(path) as s:
        frames = s.to_numpy().reshape(-1, *s.signal_shape)
        np.testing.assert_allclose(stats.median(s), np.median(frames, axis=0), rtol=1e-6)
        if s.ndim == 4:
            np.testing.assert_array_equal(stem.sum_pattern(s), frames.sum(axis=0, dtype=np.float64))
    out = tmp_path / "x.zarr"
    assert main(["convert", str(path), str(out), "--format", "zarr", "-q"]) == 0
    with scanstack.open(out) as z:
        np.testing.assert_array_equal(z.to_numpy().reshape(want.shape), want)
    png = tmp_path / "x.png"
    assert main(["preview", str(path), "-o", str(png), "-q"]) == 0
    from PIL import Image

    with Image.open(png) as im:
        assert im.width >= 400 and im.height >= 300
        pixels = np.asarray(im.convert("L"))
    assert pixels.std() > 10  # drawn, not blank

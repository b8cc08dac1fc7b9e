"""XRF tools on CRONO maps, acquisition-order spectra and in-memory stacks."""

import numpy as np
import pytest

import scanstack
import scanstack.xrf as xrf
from scanstack.core.axes import Axis
from scanstack.core.errors import UnsupportedError
from scanstack.core.stack import Stack
from scanstack.datasets import write_crono


@pytest.fixture(scope="module")
def crono(tmp_path_factory):
    path = tmp_path_factory.mktemp("xrf") / "map.HDF5"
    truth = write_crono(path, rows=12, columns=10, images=False, seed=2)
    return path, truth


def _band_sum(cube, energy, lo, hi):
    return cube[..., (energy >= lo) & (energy <= hi)].sum(-1)


def test_sum_mean_max_spectra(crono):
    stack = scanstack.open(crono[0])
    cube = stack.to_numpy()
    flat = cube.reshape(-1, cube.shape[-1])
    np.testing.assert_array_equal(xrf.sum_spectrum(stack), flat.sum(0))
    np.testing.assert_allclose(xrf.mean_spectrum(stack), flat.mean(0))
    np.testing.assert_array_equal(xrf.max_spectrum(stack), flat.max(0))
    acq = scanstack.open(crono[0], spectra="acquisition")
    assert xrf.sum_spectrum(acq).sum() > xrf.sum_spectrum(stack).sum()  # ramps add spectra


def test_element_maps_from_rois_windows_and_lines(crono):
    path, truth = crono
    stack = scanstack.open(path)
    cube = stack.to_numpy()
    energy = stack.axes[-1].coordinates
    maps = xrf.element_maps(stack)  # the file's ROIs
    assert list(maps) == [r["name"] for r in stack.metadata["rois"]]
    for roi in stack.metadata["rois"]:
        np.testing.assert_array_equal(
            maps[roi["name"]], _band_sum(cube, energy, roi["start"], roi["end"])
        )
    for name, expected in truth.element_maps.items():  # maps follow the drawn inks
        assert np.corrcoef(maps[name].ravel(), expected.ravel())[0, 1] > 0.95
    by_line = xrf.element_maps(stack, ["FeKa", "Pb"], width=0.2)
    lo, hi = xrf.line_energy("FeKa") - 0.2, xrf.line_energy("FeKa") + 0.2
    np.testing.assert_array_equal(by_line["FeKa"], _band_sum(cube, energy, lo, hi))
    assert by_line["Pb"].shape == (12, 10)
    win = xrf.element_maps(stack, {"low": (1.0, 3.0)})
    np.testing.assert_array_equal(win["low"], _band_sum(cube, energy, 1.0, 3.0))


def test_block_sizes_and_threads_do_not_change_results(crono):
    from scanstack.core.config import settings

    stack = scanstack.open(crono[0])
    ref = xrf.summarize(stack, None)
    with settings(block_bytes=3 * 4096 * 2, num_threads=3):
        small = xrf.summarize(stack, None)
    np.testing.assert_array_equal(small.sum_spectrum, ref.sum_spectrum)
    for name in ref.maps:
        np.testing.assert_array_equal(small.maps[name], ref.maps[name])


def test_distributed_client(crono):
    distributed = pytest.importorskip("distributed")
    stack = scanstack.open(crono[0])
    with distributed.Client(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0"
    ) as client:
        s = xrf.sum_spectrum(stack, client=client)
        m = xrf.element_maps(stack, ["FeKa"], client=client)
    np.testing.assert_array_equal(s, xrf.sum_spectrum(stack))
    np.testing.assert_array_equal(m["FeKa"], xrf.element_maps(stack, ["FeKa"])["FeKa"])


def test_live_time_normalisation(crono):
    stack = scanstack.open(crono[0])
    live = stack.metadata["live_time"]
    assert live.shape == (120,) and np.all((live > 0.05) & (live < 0.06))
    norm = xrf.normalise_live_time(stack)
    cube = stack.to_numpy().astype(np.float64)
    expected = cube / live.reshape(12, 10, 1)
    np.testing.assert_allclose(norm.to_numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(xrf.sum_spectrum(norm), expected.reshape(-1, 4096).sum(0), rtol=1e-5)
    maps = xrf.element_maps(stack, ["FeKa"])
    np.testing.assert_allclose(
        xrf.normalize_maps(maps, live)["FeKa"], xrf.element_maps(norm, ["FeKa"])["FeKa"], rtol=1e-5
    )
    ref = xrf.normalize_live_time(stack, reference=0.06)
    np.testing.assert_allclose(ref[5], cube.reshape(-1, 4096)[5] * 0.06 / live[5], rtol=1e-6)
    assert "live_time_normalized" in norm.metadata


def test_live_time_errors(crono):
    stack = scanstack.open(crono[0])
    view = stack.inav[2:4, 1:3]
    # views cut the per-frame live times like the frames (core PER_FRAME_METADATA_KEYS)
    lt = stack.metadata["live_time"].reshape(stack.nav_shape)[2:4, 1:3].reshape(-1)
    np.testing.assert_array_equal(view.metadata["live_time"], lt)
    np.testing.assert_allclose(
        xrf.normalize_live_time(view).to_numpy(),
        xrf.normalize_live_time(view, live_time=lt).to_numpy(),
    )
    with pytest.raises(UnsupportedError, match="2 live times for 4 frames"):
        xrf.normalize_live_time(view, live_time=[0.05, 0.05])
    ok = xrf.normalize_live_time(view, live_time=np.full(4, 0.05))
    assert ok.to_numpy().shape == (2, 2, 4096)
    with pytest.raises(ValueError, match="must be > 0"):
        xrf.normalize_live_time(view, live_time=[0.05, 0.0, 0.05, 0.05])
    plain = Stack.from_array(np.ones((3, 16)), signal_ndim=1)
    with pytest.raises(UnsupportedError, match="no live times"):
        xrf.normalize_live_time(plain)


def test_preview_data_with_file_rois(crono):
    stack = scanstack.open(crono[0])
    p = xrf.preview_data(stack, max_maps=3)
    assert p["map_source"] == "file ROIs"
    assert len(p["maps"]) == 3 and "Compton" not in p["maps"]
    assert [r["name"] for r in p["rois"]] == [r["name"] for r in stack.metadata["rois"]]
    totals = {k: v.sum() for k, v in xrf.element_maps(stack).items() if k != "Compton"}
    assert set(p["maps"]) == set(sorted(totals, key=totals.get)[-3:])
    assert p["energy"].shape == p["sum_spectrum"].shape == p["max_spectrum"].shape == (4096,)


def test_preview_data_detects_lines_without_rois():
    energy = np.arange(2048) * 0.01 + 0.5
    rng = np.random.default_rng(1)
    fe = np.exp(-0.5 * ((energy - 6.404) / 0.06) ** 2)
    pb = np.exp(-0.5 * ((energy - 12.614) / 0.07) ** 2)  # Pb Lβ only: As has no Kβ claim here
    conc = rng.random((6, 5, 2))
    lam = 0.2 + 30 * conc[..., :1] * fe + 20 * conc[..., 1:] * pb
    data = rng.poisson(lam).astype(np.uint16)
    axes = [Axis("y", 6), Axis("x", 5), Axis("energy", 2048, "keV", 0.01, 0.5, navigate=False)]
    stack = Stack.from_array(data, signal_ndim=1, axes=axes)
    p = xrf.preview_data(stack)
    assert p["map_source"] == "detected lines"
    names = [r["name"] for r in p["rois"]]
    assert names[0] == "FeKa"
    fe_map = p["maps"]["FeKa"]
    assert np.corrcoef(fe_map.ravel(), conc[..., 0].ravel())[0, 1] > 0.9


def test_bad_inputs():
    images = Stack.from_array(np.zeros((2, 4, 4)))
    with pytest.raises(UnsupportedError, match="1-D spectra"):
        xrf.sum_spectrum(images)
    uncalibrated = Stack.from_array(np.zeros((2, 16)), signal_ndim=1)
    with pytest.raises(UnsupportedError, match="calibrated in keV"):
        xrf.element_maps(uncalibrated, ["FeKa"])
    with pytest.raises(ValueError, match="no ROIs"):
        xrf.element_maps(uncalibrated)
    p = xrf.preview_data(uncalibrated)
    assert p["maps"] == {} and p["energy"] is None and p["sum_spectrum"].shape == (16,)
    with pytest.raises(ValueError, match="must be above"):
        xrf.resolve_bands(uncalibrated, [("x", 5.0, 4.0)])


def test_line_table():
    assert xrf.line_energy("FeKa") == 6.404 and xrf.line_energy("Pb La") == 10.551
    assert xrf.line_energy("Hg-Lb") == 11.823 and xrf.line_energy("Cu") == 8.048
    assert xrf.parse_line("Pb") == ("Pb", "La")  # no K lines for Pb in the table
    with pytest.raises(KeyError, match="unknown element"):
        xrf.line_energy("Xx")
    with pytest.raises(KeyError, match="no Kb"):
        xrf.line_energy("AuKb")
    lo, hi = xrf.line_window("CaKa")
    assert lo < 3.692 < hi and 0.1 < hi - lo < 0.4


def test_preview_maps_keep_the_proportions_of_the_scanned_area(crono):
    """CRONO columns are ~1000 µm apart and rows 500 µm: map panels must not be square pixels."""
    from scanstack.preview import _map_geometry

    path, truth = crono
    with scanstack.open(path) as stack:
        extent, aspect, xlabel, ylabel = _map_geometry(stack)
        rows, cols = stack.nav_shape
    assert aspect == "equal" and xlabel.endswith("(µm)") and ylabel.endswith("(µm)")
    width, height = extent[1] - extent[0], extent[2] - extent[3]  # first row at the top
    assert width == pytest.approx(cols * truth.geometry.x_pitch)
    assert height == pytest.approx(rows * truth.geometry.y_pitch)
    plain = _map_geometry(Stack.from_array(np.zeros((3, 4, 8)), signal_ndim=1))
    assert plain[0] == [-0.5, 3.5, 2.5, -0.5]  # no units: pixel indices, square pixels


def test_preview_of_a_spectrum_series_draws_no_one_pixel_maps(crono):
    """spectra='acquisition' is a 1-D series: element 'maps' would be 1-pixel-wide strips."""
    from scanstack.preview import preview

    path, _ = crono
    with scanstack.open(path, spectra="acquisition") as series, scanstack.open(path) as grid:
        lone, with_maps = preview(series), preview(grid)
    assert len(lone.axes) == 1  # the spectrum alone, no row of map panels
    assert len([ax for ax in with_maps.axes if ax.images]) >= 2


def test_band_outside_the_energy_axis_warns(crono):
    path, _ = crono
    with scanstack.open(path) as stack:
        cropped = stack.isig[2000:3000]  # ~22.7-34.7 keV: no Fe Kα channel left
        with pytest.warns(UserWarning, match="'FeKa'.*no channel on the energy axis"):
            maps = xrf.element_maps(cropped, ["FeKa"])
        assert not maps["FeKa"].any()
        full = xrf.element_maps(stack, ["FeKa"])  # inside the axis: no warning, real counts
        assert full["FeKa"].sum() > 0

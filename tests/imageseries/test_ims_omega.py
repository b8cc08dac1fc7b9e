"""hexrd T/test_omega and TC/test_omega: wedges, errors and angle → frame look-ups."""

import numpy as np
import pytest
from ims_common import omega_meta

from scanstack import imageseries
from scanstack.imageseries.omega import OmegaImageSeries, OmegaSeriesError, OmegaWedges


def array_ims(nframes, omega=None):
    meta = {} if omega is None else {"omega": omega}
    data = np.arange(nframes * 6).reshape(nframes, 2, 3)
    return imageseries.open(None, "array", data=data, meta=meta)


class Series:
    """Only a length and metadata: all an omega series needs to find its wedges."""

    def __init__(self, omega):
        self.metadata = {"omega": np.asarray(omega, dtype=float)}

    def __len__(self):
        return len(self.metadata["omega"])


# -- T/test_omega ----------------------------------------------------------------------------------
def test_no_omega_metadata():
    with pytest.raises(OmegaSeriesError):
        OmegaImageSeries(array_ims(3))


def test_omega_length_mismatch():
    with pytest.raises(OmegaSeriesError):
        OmegaImageSeries(array_ims(3, omega_meta(4)))


def test_negative_step():
    om = omega_meta(4)
    om[2] = om[2, ::-1]
    with pytest.raises(OmegaSeriesError, match="increasing"):
        OmegaImageSeries(array_ims(4, om))


def test_one_wedge():
    o = OmegaImageSeries(array_ims(5, omega_meta(5, start=10.0, step=2.0)))
    assert o.nwedges == 1
    w = o.wedge(0)
    assert (w["ostart"], w["ostop"], w["nsteps"]) == (10.0, 20.0, 5)


def test_two_wedges():
    om = np.concatenate([omega_meta(3, 0.0, 1.0), omega_meta(4, 10.0, 1.0)])
    o = OmegaImageSeries(array_ims(7, om))
    assert o.nwedges == 2
    assert o.wedge(1)["nsteps"] == 4


def test_wedges_reproduce_the_omegas():
    om = np.concatenate([omega_meta(3, 0.0, 1.0), omega_meta(4, 10.0, 2.5)])
    o = OmegaImageSeries(array_ims(7, om))
    np.testing.assert_allclose(o.omegawedges.omegas, om)


def test_last_wedge_delta():
    om = np.concatenate([omega_meta(3, 0.0, 1.0), omega_meta(4, 10.0, 2.5)])
    o = OmegaImageSeries(array_ims(7, om))
    assert o.wedge(o.nwedges - 1)["delta"] == pytest.approx(2.5)


def test_bad_last_frame_and_single_frame_are_caught():
    # hexrd only checks a frame's step at the next frame, missing these two
    om = omega_meta(4)
    om[-1] = [3.0, 3.0]
    with pytest.raises(OmegaSeriesError, match="increasing"):
        OmegaImageSeries(Series(om))
    with pytest.raises(OmegaSeriesError, match="increasing"):
        OmegaImageSeries(Series([[5.0, 4.0]]))


# -- TC/test_omega ---------------------------------------------------------------------------------
def test_omegawedges_basic():
    w = OmegaWedges(30)
    w.addwedge(0, 10, 10)
    w.addwedge(20, 40, 20)
    assert w.nwedges == 2 and w.wframes == 30
    om = w.omegas
    assert om.shape == (30, 2)
    np.testing.assert_allclose(om[:10, 0], np.arange(10))
    np.testing.assert_allclose(om[10:, 1], np.arange(21, 41))
    w.addwedge(-5, 0, 5, loc=0)
    assert w.wedges[0]["ostart"] == -5
    w.delwedge(0)
    assert w.nwedges == 2


def test_omegawedges_frame_mismatch():
    w = OmegaWedges(5)
    w.addwedge(0, 10, 10)
    with pytest.raises(OmegaSeriesError, match=r"number of frames \(5\)") as info:
        _ = w.omegas
    assert "10" in str(info.value) and isinstance(info.value.value, str)
    assert str(info.value) == repr(info.value.value)


def test_omegawedges_save(tmp_path):
    w = OmegaWedges(4)
    w.addwedge(0, 4, 4)
    fname = tmp_path / "om.npy"
    w.save_omegas(fname)
    np.testing.assert_array_equal(np.load(fname), w.omegas)


def test_error_without_omega_on_a_duck_series():
    class NoOmega:
        metadata = {}

        def __len__(self):
            return 2

    with pytest.raises(OmegaSeriesError, match="no omega"):
        OmegaImageSeries(NoOmega())


def test_error_on_length_mismatch_duck_series():
    s = Series(omega_meta(3))
    s.__class__ = type("Longer", (Series,), {"__len__": lambda self: 5})
    with pytest.raises(OmegaSeriesError, match="mismatch"):
        OmegaImageSeries(s)


def test_split_on_gap():
    om = np.concatenate([omega_meta(5, 0.0, 2.0), omega_meta(5, 20.0, 2.0)])
    o = OmegaImageSeries(Series(om))
    assert o.nwedges == 2
    assert [o.wedge(i)["ostart"] for i in range(2)] == [0.0, 20.0]


def test_split_on_step_change():
    om = np.concatenate([omega_meta(5, 0.0, 2.0), omega_meta(5, 10.0, 1.0)])
    o = OmegaImageSeries(Series(om))
    assert o.nwedges == 2
    assert [o.wedge(i)["delta"] for i in range(2)] == [2.0, 1.0]


@pytest.fixture
def two_wedges():
    # frames 0-9 cover 0..20 (step 2), frames 10-19 cover 30..40 (step 1)
    om = np.concatenate([omega_meta(10, 0.0, 2.0), omega_meta(10, 30.0, 1.0)])
    return OmegaImageSeries(Series(om))


def test_omega_to_frame(two_wedges):
    assert two_wedges.omega_to_frame(5.5) == (2, 0)
    assert two_wedges.omega_to_frame(35.5) == (15, 1)
    assert two_wedges.omega_to_frame(25.0) == (-1, -1)  # in the gap
    assert two_wedges.omega_to_frame(365.5) == (2, 0)  # wraps around a turn
    assert two_wedges.omega_to_frame(20.0) == (-1, -1)  # end of a wedge is excluded


def test_omegarange_in_one_wedge(two_wedges):
    assert two_wedges.omegarange_to_frames(4.5, 9.0) == [2, 3, 4]


def test_omegarange_across_a_gap_is_empty(two_wedges):
    assert two_wedges.omegarange_to_frames(5.5, 35.5) == ()


def test_omegarange_across_360():
    # frames 0-9 cover 320..360, frames 10-19 cover 0..40: they join at 360 == 0
    om = np.concatenate([omega_meta(10, 320.0, 4.0), omega_meta(10, 0.0, 4.0)])
    o = OmegaImageSeries(Series(om))
    assert o.nwedges == 2
    assert o.omegarange_to_frames(352.5, 5.0) == [8, 9, 10, 11]


def test_omega_series_reads_frames():
    ims = array_ims(3, omega_meta(3))
    o = OmegaImageSeries(ims)
    np.testing.assert_array_equal(o[1], ims[1])
    assert o.metadata is ims.metadata
    assert o.stack.omega_to_frame(1.5) == (1, 0)

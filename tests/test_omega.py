"""scanstack.omega: OmegaWedges, OmegaStack over any stack, look-ups by angle (degrees)."""

import pickle

import numpy as np
import pytest

import scanstack
from scanstack.omega import OmegaSeriesError, OmegaStack, OmegaWedges
from scanstack.process import process


def wedges(*specs):
    n = sum(s[2] for s in specs)
    w = OmegaWedges(n)
    for ostart, ostop, nsteps in specs:
        w.addwedge(ostart, ostop, nsteps)
    return w


def omega_stack(*specs):
    om = wedges(*specs).omegas
    data = np.arange(len(om) * 6, dtype=np.uint16).reshape(len(om), 2, 3)
    return OmegaStack(scanstack.Stack.from_array(data, metadata={"omega": om})), data


def test_wedges_build_the_omega_array():
    om = wedges((0, 10, 5), (90, 100, 10)).omegas
    assert om.shape == (15, 2) and om.dtype == np.float64
    np.testing.assert_allclose(om[:5], [[0, 2], [2, 4], [4, 6], [6, 8], [8, 10]])
    np.testing.assert_allclose(om[5:, 1] - om[5:, 0], 1.0)


def test_stack_finds_the_wedges_it_was_built_from():
    s, data = omega_stack((0, 10, 5), (90, 100, 10), (100, 120, 10))
    assert s.nwedges == 3
    assert [(w["ostart"], w["ostop"], w["nsteps"]) for w in s.omegawedges.wedges] == [
        (0, 10, 5),
        (90, 100, 10),
        (100, 120, 10),
    ]
    assert s.wedge(2)["delta"] == pytest.approx(2.0)
    np.testing.assert_array_equal(s[7], data[7])
    assert s.metadata is s.parent.metadata


def test_omega_to_frame_wraps_and_excludes_wedge_ends():
    s, _ = omega_stack((0, 10, 5), (90, 100, 10))
    assert s.omega_to_frame(0.0) == (0, 0)
    assert s.omega_to_frame(9.999) == (4, 0)
    assert s.omega_to_frame(10.0) == (-1, -1)
    assert s.omega_to_frame(-265.5) == (9, 1)  # 94.5 one turn down
    assert s.omega_to_frame(720 + 3.0) == (1, 0)


def test_omegarange_joined_wedges_and_a_full_turn():
    s, _ = omega_stack((0, 10, 5), (10, 20, 10))  # step change, no gap: they join
    assert s.omegarange_to_frames(7.0, 12.5) == [3, 4, 5, 6, 7]
    full, _ = omega_stack((0, 360, 36))
    assert full.omegarange_to_frames(345.0, 15.0) == [34, 35, 0, 1]  # across 0 in one turn
    part, _ = omega_stack((0, 180, 18))
    assert part.omegarange_to_frames(170.0, 15.0) == []  # backwards in a half turn
    assert part.omegarange_to_frames(170.0, 190.0) == ()


def test_errors_carry_the_value():
    s = scanstack.Stack.from_array(np.zeros((3, 2, 2)))
    with pytest.raises(OmegaSeriesError) as info:
        OmegaStack(s)
    assert info.value.value == "Imageseries has no omega metadata"
    assert str(info.value) == repr(info.value.value)
    s.metadata["omega"] = np.zeros((2, 2))
    with pytest.raises(OmegaSeriesError, match="mismatch"):
        OmegaStack(s)
    s.metadata["omega"] = [[0, 1], [1, 2], [2, 2]]  # lists are accepted; last step is zero
    with pytest.raises(OmegaSeriesError, match="frame 2"):
        OmegaStack(s)


def test_omega_stack_under_processing_and_pickling():
    s, data = omega_stack((0, 10, 10))
    p = process(s, [("flip", "t")], frame_list=[9, 8, 7])
    np.testing.assert_array_equal(p.metadata["omega"], s.omega[[9, 8, 7]])
    back = pickle.loads(pickle.dumps(s))
    assert back.omega_to_frame(3.5) == (3, 0)
    np.testing.assert_array_equal(back[:], data)

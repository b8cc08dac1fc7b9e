"""Mosaic against write_crono's object image; registration; camera check; X-ray spot."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage

import scanstack
import scanstack.xrf
from scanstack.crono import (
    CameraModel,
    ScanTrack,
    build_mosaic,
    estimate_camera,
    locate_spot,
    map_positions,
    open_frames,
    phase_correlate,
    place_frames,
)

#: the stitched mosaic must correlate with the true object at least this well (grey levels,
#: normalised cross-correlation over the well-covered pixels); q75 JPEG frames, 20 µm motor
#: noise and feathering give ~0.99 here.
NCC_MIN = 0.9


def ncc(a, b) -> float:
    a = a - a.mean()
    b = b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def mosaic_vs_truth(m, truth) -> float:
    X, Y = m.coordinates()
    XX, YY = np.meshgrid(X, Y)
    obj = truth.object_image.astype(np.float32).mean(-1)
    rows = (YY - truth.object_origin[1]) / truth.pixel_size
    cols = (XX - truth.object_origin[0]) / truth.pixel_size
    if m.resolution_um > truth.pixel_size * 1.5:  # compare like with like
        obj = ndimage.gaussian_filter(obj, 0.5 * m.resolution_um / truth.pixel_size)
    ref = ndimage.map_coordinates(obj, [rows, cols], order=1)
    covered = m.weight > 0.05 * m.weight.max()
    return ncc(m.image.astype(np.float32).mean(-1)[covered], ref[covered])


@pytest.fixture(scope="module")
def scan(small_scan):
    path, truth = small_scan
    stack = open_frames(path)
    placement = place_frames(stack.reader.stamps(), ScanTrack.from_file(path))
    camera = CameraModel(truth.frame_shape, (truth.pixel_size, truth.pixel_size))
    yield stack.reader, placement, truth, camera
    stack.close()


@pytest.mark.parametrize("shift", [(7.0, -30.0), (-3.4, 12.3), (20.5, 41.0)])
def test_phase_correlation_recovers_shifts(shift):
    rng = np.random.default_rng(1)
    big = ndimage.gaussian_filter(rng.normal(size=(400, 400)), 2.0)
    a = big[100:207, 100:243]
    moved = ndimage.shift(big, (-shift[0], -shift[1]), order=3)
    b = moved[100:207, 100:243]  # b[r, c] = a[r + dr, c + dc]
    dr, dc, peak = phase_correlate(a, b, predicted=(shift[0] + 2, shift[1] - 3))
    assert dr == pytest.approx(shift[0], abs=0.5)
    assert dc == pytest.approx(shift[1], abs=0.5)
    assert peak > 0.1


def test_mosaic_matches_object(scan):
    reader, placement, truth, camera = scan
    m = build_mosaic(reader, placement, camera, refine=False)
    assert m.decode_scale == 1
    assert m.image.dtype == np.uint8 and m.image.shape[:2] == m.weight.shape
    assert np.array_equal(m.frames, np.flatnonzero(placement.in_row))
    assert mosaic_vs_truth(m, truth) > NCC_MIN
    # 3x coarser: decoded at 1/2 size, still the same picture
    coarse = build_mosaic(reader, placement, camera, resolution_um=3 * truth.pixel_size)
    assert coarse.decode_scale == 2
    assert coarse.weight.shape[0] == pytest.approx(m.weight.shape[0] / 3, abs=2)
    assert mosaic_vs_truth(coarse, truth) > NCC_MIN


def test_registration_removes_position_noise(scan):
    reader, placement, truth, camera = scan
    rng = np.random.default_rng(7)
    n = len(placement)
    noisy = dataclasses.replace(
        placement,
        x_um=placement.x_um + rng.normal(0, 40, n),
        y_um=placement.y_um + rng.normal(0, 25, n),
    )
    plain = build_mosaic(reader, noisy, camera, refine=False)
    refined = build_mosaic(reader, noisy, camera, refine=True)
    assert refined.pairs > len(refined.frames)  # in-row and cross-row pairs

    def rms(m):
        ex = m.x_um - truth.frame_positions[m.frames, 0]
        ey = m.y_um - truth.frame_positions[m.frames, 1]
        # a common offset is not observable from the frames: compare relative positions
        return np.sqrt(np.mean((ex - ex.mean()) ** 2 + (ey - ey.mean()) ** 2))

    assert rms(refined) < 0.7 * rms(plain)
    assert mosaic_vs_truth(refined, truth) > mosaic_vs_truth(plain, truth)
    assert mosaic_vs_truth(refined, truth) > NCC_MIN


def test_estimate_camera(scan):
    reader, placement, truth, _ = scan
    cam, stats = estimate_camera(reader, placement)
    assert (cam.x_sign, cam.y_sign) == (1, 1)  # write_crono: rows and columns grow with y and x
    assert cam.pixel_size_um[0] == pytest.approx(truth.pixel_size, rel=0.02)
    assert cam.pixel_size_um[1] == pytest.approx(truth.pixel_size, rel=0.05)
    assert stats["pairs_x"] > 20 and stats["pairs_y"] > 5


def test_locate_spot_from_element_maps(map_scan):
    path, truth = map_scan
    with open_frames(path) as stack:
        reader = stack.reader
        placement = place_frames(reader.stamps(), ScanTrack.from_file(path))
        true_spot = ((143 - 1) / 2, (107 - 1) / 2)  # write_crono measures at the frame centre
        wrong = CameraModel(truth.frame_shape, (truth.pixel_size,) * 2).with_spot(
            true_spot[0] + 10, true_spot[1] - 6
        )
        m = build_mosaic(reader, placement, wrong, resolution_um=2 * truth.pixel_size)
    # element maps as a user gets them: ROI sums of the spectra by scanstack.xrf
    with scanstack.open(path) as spectra:
        maps = scanstack.xrf.element_maps(spectra, list(truth.element_maps))
    mx, my = map_positions(path)
    estimates = [locate_spot(m, e, mx, my) for e in maps.values()]
    best = max(estimates, key=lambda s: s.ncc)
    assert best.ncc > 0.8
    err = np.hypot(best.spot_px[0] - true_spot[0], best.spot_px[1] - true_spot[1])
    assert err < 5.0  # pixels of the full-size frame (the map pitch is 90 x 45 of them)
    assert best.camera.spot == pytest.approx(best.spot_px)
    with pytest.raises(ValueError, match="does not match"):
        locate_spot(m, np.zeros((3, 3)), mx, my)


def test_mosaic_errors(scan):
    reader, placement, _, camera = scan
    with pytest.raises(ValueError, match="no frames"):
        build_mosaic(reader, placement, camera, frames=np.array([], np.int64))
    with pytest.raises(ValueError, match="resolution"):
        build_mosaic(reader, placement, camera, resolution_um=-1.0)

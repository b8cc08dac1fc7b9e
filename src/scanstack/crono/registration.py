"""Registration of overlapping camera frames: phase correlation (scipy FFT), the offsets of
neighbouring frames of a scan (same row, previous row), and the weighted sparse least-squares
fit that combines them with the motor record (outlying pairs rejected). Used by
:func:`.mosaic.build_mosaic` (refinement) and :mod:`.calibration`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import fft as sp_fft
from scipy import sparse
from scipy.sparse.linalg import lsqr

from .camera import CameraModel
from .frames import CronoFramesReader, iter_decoded


# -- phase correlation ----------------------------------------------------------------------------
def _hann2d(shape: tuple[int, int]) -> np.ndarray:
    return np.outer(np.hanning(shape[0]), np.hanning(shape[1])).astype(np.float32)


def _fft_shape(shape: tuple[int, int]) -> tuple[int, int]:
    # 107 is prime: zero-pad (after windowing, so harmless) to sizes the FFT likes
    return sp_fft.next_fast_len(shape[0], real=True), sp_fft.next_fast_len(shape[1], real=True)


def _spectrum(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Windowed, mean-removed 2-D real FFT of one image, zero-padded to a fast size."""
    img = np.asarray(img, np.float32)
    return sp_fft.rfft2((img - img.mean()) * window, s=_fft_shape(img.shape))


def _correlate(
    fa: np.ndarray, fb: np.ndarray, shape: tuple[int, int], predicted: tuple[float, float]
) -> tuple[float, float, float]:
    cross = fa * np.conj(fb)
    cross /= np.abs(cross) + 1e-9
    corr = sp_fft.irfft2(cross, s=shape)
    h, w = shape
    pr, pc = predicted
    iy, ix = np.unravel_index(int(np.argmax(corr)), corr.shape)
    peak = float(corr[iy, ix])

    def sub(vm, v0, vp):
        d = vm - 2 * v0 + vp
        return 0.0 if d == 0 else 0.5 * (vm - vp) / d

    dy = iy + sub(corr[(iy - 1) % h, ix], corr[iy, ix], corr[(iy + 1) % h, ix])
    dx = ix + sub(corr[iy, (ix - 1) % w], corr[iy, ix], corr[iy, (ix + 1) % w])
    # the peak sits at the offset modulo the (padded) size: unwrap it next to the prediction
    dy += h * round((pr - dy) / h)
    dx += w * round((pc - dx) / w)
    return float(dy), float(dx), peak


def phase_correlate(
    a: np.ndarray,
    b: np.ndarray,
    predicted: tuple[float, float] = (0.0, 0.0),
    window: np.ndarray | None = None,
) -> tuple[float, float, float]:
    """Offset ``(drow, dcol)`` of image ``b`` relative to ``a`` and the peak height (0..1).

    Meaning: ``b[r, c] ≈ a[r + drow, c + dcol]`` (b shows a's content shifted by the offset).
    Images are 2-D, same shape, Hann-windowed (or ``window``). Of the periodic aliases of the
    correlation peak, the one nearest ``predicted`` is returned; sub-pixel by a parabola through
    the peak and its neighbours.
    """
    a = np.asarray(a, np.float32)
    if window is None:
        window = _hann2d(a.shape)
    return _correlate(_spectrum(a, window), _spectrum(b, window), _fft_shape(a.shape), predicted)


def register_overlap(
    a: np.ndarray, b: np.ndarray, predicted: tuple[float, float], min_size: int = 16
) -> tuple[float, float, float] | None:
    """Like :func:`phase_correlate` but only on the part of ``a`` and ``b`` that overlaps when
    ``b`` is offset by ``predicted`` (rows, cols): a window over the whole frames would weigh
    down exactly the edges where a small overlap lies (frames of neighbouring rows share ~60 %
    of their height). Returns ``None`` when the overlap is thinner than ``min_size`` pixels."""
    h, w = a.shape
    ir, ic = int(round(predicted[0])), int(round(predicted[1]))
    ra, rb = slice(max(0, ir), h + min(0, ir)), slice(max(0, -ir), h + min(0, -ir))
    ca, cb = slice(max(0, ic), w + min(0, ic)), slice(max(0, -ic), w + min(0, -ic))
    if ra.stop - ra.start < min_size or ca.stop - ca.start < min_size:
        return None
    pa, pb = a[ra, ca], b[rb, cb]
    dr, dc, peak = phase_correlate(pa, pb, (predicted[0] - ir, predicted[1] - ic))
    return ir + dr, ic + dc, peak


def gray_frames(frames: np.ndarray) -> np.ndarray:
    return frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def register_pairs(
    reader: CronoFramesReader,
    sel: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    row: np.ndarray,
    camera: CameraModel,
    scale: int,
    min_peak: float,
    max_error_px: float,
    progress,
) -> list[tuple[int, int, float, float, float]]:
    """Phase-correlate overlapping frames; returns ``(i, j, dx_um, dy_um, weight)`` for the pairs
    kept (positions as indices into ``sel``): ``pos[j] - pos[i] ≈ (dx_um, dy_um)``."""
    from ..core.progress import Progress

    sx, sy = (p * scale for p in camera.pixel_size_um)
    h, w, _ = reader.signal_shape
    order = {int(f): k for k, f in enumerate(sel)}
    keep_rows: dict[int, list[tuple[int, np.ndarray]]] = {}
    pairs = []
    fw = w * sx
    with Progress(sel.size, progress, "register", "frames") as bar:
        for a, block, _ in iter_decoded(
            reader, 256, int(sel.min()), int(sel.max()) + 1, with_stamps=False
        ):
            idx = np.arange(a, a + block.shape[0])
            mine = [i for i in idx if i in order]
            if not mine:
                continue
            gray = gray_frames(block[np.array(mine) - a])
            for g, f in zip(gray, mine, strict=True):
                k = order[f]
                r = int(row[k])
                for old in [rr for rr in keep_rows if rr < r - 1]:
                    del keep_rows[old]
                cands = []
                same = keep_rows.get(r, [])
                if same:
                    cands.append(same[-1])
                prev = keep_rows.get(r - 1, [])
                if prev:
                    dxs = np.array([abs(x[k] - x[j]) for j, _ in prev])
                    for m in np.argsort(dxs)[:2]:
                        if dxs[m] < 0.5 * fw:
                            cands.append(prev[m])
                for j, gj in cands:
                    px = camera.x_sign * (x[k] - x[j]) / sx
                    py = camera.y_sign * (y[k] - y[j]) / sy
                    if abs(px) > 0.7 * w or abs(py) > 0.7 * h:
                        continue
                    found = register_overlap(gj, g, (py, px))
                    if found is None:
                        continue
                    dr, dc, peak = found
                    if peak < min_peak or math.hypot(dr - py, dc - px) > max_error_px:
                        continue
                    pairs.append((j, k, camera.x_sign * dc * sx, camera.y_sign * dr * sy, peak))
                keep_rows.setdefault(r, []).append((k, g))
                bar.update(1)
    return pairs


def solve_positions(
    n: int, pairs, x: np.ndarray, y: np.ndarray, prior_um: float, pair_um: float
) -> tuple[np.ndarray, list]:
    """Weighted least squares for position corrections; drops pairs with large residuals."""
    corr = np.zeros((n, 2))
    kept = list(pairs)
    for _ in range(3):
        if not kept:
            break
        m = len(kept)
        i = np.array([p[0] for p in kept])
        j = np.array([p[1] for p in kept])
        wts = np.array([p[4] for p in kept]) / pair_um
        rows = np.arange(m)
        A = sparse.coo_matrix(
            (np.concatenate([wts, -wts]), (np.concatenate([rows, rows]), np.concatenate([j, i]))),
            shape=(m, n),
        )
        P = sparse.identity(n, format="coo") / prior_um
        M = sparse.vstack([A, P]).tocsr()
        res = []
        for axis, pos in ((2, x), (3, y)):
            meas = np.array([p[axis] for p in kept])
            rhs = np.concatenate([wts * (meas - (pos[j] - pos[i])), np.zeros(n)])
            sol = lsqr(M, rhs, atol=1e-10, btol=1e-10)[0]
            corr[:, axis - 2] = sol
            res.append(meas - (pos[j] + sol[j] - pos[i] - sol[i]))
        resid = np.hypot(*res)
        limit = max(3.0 * np.median(resid) * 1.4826, 0.5 * pair_um)
        new = [p for p, e in zip(kept, resid, strict=True) if e <= limit]
        if len(new) == len(kept):
            break
        kept = new
    return corr, kept

"""A synthetic CRONO scan seen by the camera: object, stage trajectory, frames, ground truth.

For tests, benchmarks and demos of the camera tools. :func:`simulate_scan` models the
acquisition of format notes §7 — serpentine rows at constant speed, one spectrum per
``SpectraTime`` while a row is scanned, nothing during the ``line_dead_time`` row changes, a
free-running camera at ``fps`` for the whole time — and renders every frame as the part of a
known object image the camera sees (see :class:`~scanstack.crono.camera.CameraModel`), as a
143 × 107 q75 JPEG with the EXIF ``DateTimeOriginal`` µs stamp, wrapped in .NET ``byte[]``.
:func:`write_camera_file` writes the datasets the camera tools read into an HDF5 file laid out
like a CRONO native file (the full file, spectra included, is written by
:func:`scanstack.formats.crono.write_crono`).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

import h5py
import numpy as np
from scipy import ndimage

from ..core.safety import atomic_path
from ..formats.crono.nrbf import encode_byte_array
from .camera import CameraModel

DPP_START_US = 125_903_380_430  # the demo file's /XRF/DPPStartTimestamp


@dataclass
class SimulatedScan:
    """Ground truth of a simulated scan (lengths µm, times µs since the detector start).

    ``object_image`` (rows, cols, 3) uint8 drawn north-up: pixel ``(r, c)`` is centred at
    ``X = object_origin[0] + c · object_pixel_um``, ``Y = object_origin[1] − r · object_pixel_um``.
    Spectra: ``t_us, x_um, y_um`` (true), ``x_rec, y_rec`` (recorded with noise), ``row``.
    Frames: ``frame_t_us``, ``frame_x_um``, ``frame_y_um`` (true positions), ``stamps_us``.
    """

    camera: CameraModel
    object_image: np.ndarray
    object_origin: tuple[float, float]
    object_pixel_um: float
    t_us: np.ndarray
    x_um: np.ndarray
    y_um: np.ndarray
    x_rec: np.ndarray
    y_rec: np.ndarray
    row: np.ndarray
    ids: np.ndarray
    selected: np.ndarray  # (H, W, 1) SpectraSelectedIndex
    map_x_um: np.ndarray  # (W,) map column centres
    map_y_um: np.ndarray  # (H,) map row positions
    frame_t_us: np.ndarray
    frame_x_um: np.ndarray
    frame_y_um: np.ndarray
    dpp_start_us: int = DPP_START_US
    spectra_time_ms: int = 60
    y_step_um: float = 500.0
    x_speed_mm_s: float = 13.89
    settings: dict = field(default_factory=dict)

    @property
    def stamps_us(self) -> np.ndarray:
        return (self.dpp_start_us + np.round(self.frame_t_us)).astype(np.int64)

    def sample_object(self, X, Y, order: int = 1) -> np.ndarray:
        """Object colour at motor points ``(X, Y)`` (same shapes), float32 ``(..., 3)``."""
        p = self.object_pixel_um
        c = (np.asarray(X, float) - self.object_origin[0]) / p
        r = (self.object_origin[1] - np.asarray(Y, float)) / p
        # work on the bounding box only (frames are tiny next to the object)
        h, w = self.object_image.shape[:2]
        r0 = int(np.clip(np.floor(r.min()) - 2, 0, h - 1))
        r1 = int(np.clip(np.ceil(r.max()) + 3, r0 + 1, h))
        c0 = int(np.clip(np.floor(c.min()) - 2, 0, w - 1))
        c1 = int(np.clip(np.ceil(c.max()) + 3, c0 + 1, w))
        img = self.object_image[r0:r1, c0:c1].astype(np.float32)
        coords = [r - r0, c - c0]
        return np.stack(
            [
                ndimage.map_coordinates(img[..., k], coords, order=order, mode="nearest")
                for k in range(3)
            ],
            axis=-1,
        )

    def element_map(self, sigma_um: float = 250.0, channel: int | None = None) -> np.ndarray:
        """A stand-in element map ``(H, W)``: object darkness, blurred by the X-ray spot, sampled at
        the true positions of the selected spectra (row 0 = first row, lowest Y)."""
        img = self.object_image.astype(np.float32)
        dark = 255.0 - (img.mean(-1) if channel is None else img[..., channel])
        dark = ndimage.gaussian_filter(dark, sigma_um / self.object_pixel_um)
        idx = self.selected[..., 0].astype(np.int64)
        p = self.object_pixel_um
        c = (self.x_um[idx] - self.object_origin[0]) / p
        r = (self.object_origin[1] - self.y_um[idx]) / p
        return ndimage.map_coordinates(dark, [r, c], order=1, mode="nearest")


def make_object(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A paper-and-ink-like RGB test object (smooth, so frames compress to ~2.5 kB like the real)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    base = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), 6)
    base = base / (np.abs(base).max() + 1e-9)
    ink = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), 2.5)
    ink = np.clip((ink - 0.6 * ink.std()) / (ink.std() + 1e-9), 0, 1)
    paper = np.array([226.0, 214.0, 188.0])
    tint = np.array([60.0, 45.0, 30.0])
    img = paper + 18.0 * base[..., None] - (paper - tint) * (0.8 * ink[..., None])
    return np.clip(img, 0, 255).astype(np.uint8)


def simulate_scan(
    rows: int = 4,
    row_length_um: float = 3000.0,
    y_step_um: float = 500.0,
    speed_mm_s: float = 13.89,
    spectra_time_ms: int = 60,
    ramp_um: float = 300.0,
    line_dead_time_s: float = 0.3,
    fps: float = 30.0,
    lead_s: float = 0.5,
    position_noise_um: float = 5.0,
    camera: CameraModel | None = None,
    x0_um: float = 132252.0,
    y0_um: float = 111817.0,
    binning: float = 1.2,
    seed: int = 0,
) -> SimulatedScan:
    """Simulate the stage motion, the spectra record and the camera frame times.

    Row ``r`` at ``y0 + r · y_step`` runs over ``[x0 − ramp, x0 + row_length + ramp]`` at
    ``speed`` (+x on even rows, −x on odd rows); the stage then waits ``line_dead_time`` while it
    steps in y (linearly). Frames start ``lead_s`` before the first spectrum and end
    ``lead_s`` after the last. Recorded motor positions get Gaussian noise ``position_noise_um``.
    """
    rng = np.random.default_rng(seed)
    camera = camera or CameraModel()
    dwell = spectra_time_ms * 1000.0
    v = speed_mm_s / 1000.0  # µm per µs
    n_per_row = int(np.floor((row_length_um + 2 * ramp_um) / (v * dwell)))
    span = n_per_row * v * dwell
    gap = int(round(line_dead_time_s * 1e6 / dwell))
    t0 = 14_880_000.0
    ts, xs, ys, rws, ids = [], [], [], [], []
    sid = 20518
    # knots of the true trajectory (time, x, y), linear between them
    kt, kx, ky = [], [], []
    t_row = t0
    for r in range(rows):
        y = y0_um + r * y_step_um
        left, right = x0_um - ramp_um, x0_um - ramp_um + span
        xa, xb = (left, right) if r % 2 == 0 else (right, left)
        kt += [t_row - dwell, t_row + (n_per_row - 1) * dwell]
        kx += [xa, xb]
        ky += [y, y]
        k = np.arange(n_per_row)
        tk = t_row + k * dwell
        xk = xa + np.sign(xb - xa) * (k + 1) * v * dwell  # position at the end of each dwell
        ts.append(tk)
        xs.append(xk)
        ys.append(np.full(n_per_row, y))
        rws.append(np.full(n_per_row, r))
        ids.append(sid + k)
        sid += n_per_row + gap
        t_row = tk[-1] + (gap + 1) * dwell
    t = np.concatenate(ts)

    y = np.concatenate(ys)
    row = np.concatenate(rws)
    kt, kx, ky = np.array(kt), np.array(kx), np.array(ky)
    x_true = np.interp(t, kt, kx)
    y_true = np.interp(t, kt, ky)
    x_rec = x_true + rng.normal(0, position_noise_um, t.size)
    y_rec = y_true + rng.normal(0, position_noise_um / 4, t.size)
    # map grid and SpectraSelectedIndex (nearest acquired spectrum to each column centre)
    pitch = speed_mm_s * spectra_time_ms * binning
    n_cols = int(np.floor(row_length_um / pitch))
    cx = x0_um + (np.arange(n_cols) + 0.5) * pitch
    sel = np.zeros((rows, n_cols, 1), "<u8")
    for r in range(rows):
        idx = np.flatnonzero(row == r)
        sel[r, :, 0] = idx[np.abs(x_true[idx][None, :] - cx[:, None]).argmin(1)]
    # camera frames: free running from lead_s before the first spectrum
    period = 1e6 / fps
    ft = np.arange(t[0] - lead_s * 1e6, t[-1] + lead_s * 1e6, period)
    fx = np.interp(ft, kt, kx)
    fy = np.interp(ft, kt, ky)
    # object large enough for every frame
    fw, fh = camera.footprint_um()
    p = camera.pixel_size_um[0]
    margin = max(fw, fh) + 4 * p
    ox0, oy1 = fx.min() - margin, fy.max() + margin
    shape = (
        int(np.ceil((oy1 - (fy.min() - margin)) / p)) + 1,
        int(np.ceil((fx.max() + margin - ox0) / p)) + 1,
    )
    obj = make_object(shape, seed)
    return SimulatedScan(
        camera,
        obj,
        (ox0, oy1),
        p,
        t - 0.0,
        x_true,
        y_true,
        x_rec,
        y_rec,
        row,
        np.concatenate(ids),
        sel,
        cx,
        y0_um + np.arange(rows) * y_step_um,
        ft - 0.0,
        fx,
        fy,
        spectra_time_ms=spectra_time_ms,
        y_step_um=y_step_um,
        x_speed_mm_s=speed_mm_s,
        settings={
            "XStart": x0_um,
            "YStart": y0_um,
            "XSize": n_cols * pitch,
            "YSize": rows * y_step_um,
            "line_dead_time": line_dead_time_s,
        },
    )


def render_frame(scan: SimulatedScan, x_um: float, y_um: float) -> np.ndarray:
    """The RGB uint8 frame ``(h, w, 3)`` the camera sees with the motors at ``(x_um, y_um)``."""
    cam = scan.camera
    h, w = cam.frame_shape
    X, _ = cam.pixel_to_motor(x_um, y_um, np.arange(w), 0)
    _, Y = cam.pixel_to_motor(x_um, y_um, 0, np.arange(h))
    # the frame grid is axis-aligned: separable bilinear interpolation of the object
    p = scan.object_pixel_um
    oh, ow = scan.object_image.shape[:2]
    c = np.clip((X - scan.object_origin[0]) / p, 0, ow - 1.001)
    r = np.clip((scan.object_origin[1] - Y) / p, 0, oh - 1.001)
    c0, r0 = np.floor(c).astype(np.intp), np.floor(r).astype(np.intp)
    fc, fr = (c - c0)[None, :, None], (r - r0)[:, None, None]
    img = scan.object_image
    top = img[np.ix_(r0, c0)] * (1 - fc) + img[np.ix_(r0, c0 + 1)] * fc
    bottom = img[np.ix_(r0 + 1, c0)] * (1 - fc) + img[np.ix_(r0 + 1, c0 + 1)] * fc
    return np.clip(np.round(top * (1 - fr) + bottom * fr), 0, 255).astype(np.uint8)


_EXIF_TEMPLATES: dict[int, bytes] = {}


def _exif_block(stamp: str) -> bytes:
    """EXIF bytes with IFD0 -> Exif IFD -> DateTimeOriginal = ``stamp`` (templated by length:
    building an ``Image.Exif`` per frame costs more than encoding the JPEG)."""
    from PIL import Image

    tpl = _EXIF_TEMPLATES.get(len(stamp))
    if tpl is None:
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = "#" * len(stamp)
        tpl = _EXIF_TEMPLATES[len(stamp)] = exif.tobytes()
    return tpl.replace(b"#" * len(stamp), stamp.encode("ascii"), 1)


def frame_jpeg(rgb: np.ndarray, stamp_us: int, quality: int = 75) -> bytes:
    """A JPEG like the instrument's: JFIF 96 dpi, q75, EXIF DateTimeOriginal = str(stamp)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(
        buf, "JPEG", quality=quality, dpi=(96, 96), exif=_exif_block(str(int(stamp_us)))
    )
    return buf.getvalue()


def write_camera_file(
    path: str | os.PathLike,
    scan: SimulatedScan,
    frames: int | None = None,
    empty_slots: tuple[int, ...] = (),
    progress=None,
) -> None:
    """Write the camera-related part of a CRONO native file (atomically).

    Datasets: ``/Images/Static`` (empty slot 0, then one NRBF-wrapped JPEG per frame; slots in
    ``empty_slots`` are left empty), ``/Images/ImageAdjusting/ImagePixelSizeRatio``,
    ``/XRF/{Timestamps, DPPStartTimestamp, MotorsPositions, SpectraIDs, SpectraSelectedIndex}``
    and the scan attributes of ``/Configuration/Settings``. ``frames`` limits the frame count.
    """
    from ..core.progress import Progress

    n = scan.frame_t_us.size if frames is None else min(frames, scan.frame_t_us.size)
    vb = h5py.vlen_dtype(np.dtype("V1"))
    stamps = scan.stamps_us
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        st = f.create_dataset("/Images/Static", (n + 1,), vb)
        st[0] = np.frombuffer(b"", "V1")
        with Progress(n, progress, "frames", "frames") as bar:
            for i in range(n):
                # element by element: h5py (3.16) garbles multi-element writes of vlen opaque
                if i + 1 in empty_slots:
                    st[i + 1] = np.frombuffer(b"", "V1")
                else:
                    rgb = render_frame(scan, scan.frame_x_um[i], scan.frame_y_um[i])
                    st[i + 1] = np.frombuffer(encode_byte_array(frame_jpeg(rgb, stamps[i])), "V1")
                bar.update(1)
        sx, sy = scan.camera.pixel_size_um
        f["/Images/ImageAdjusting/ImagePixelSizeRatio"] = np.array([[sx, sy]], "<f4")
        N = scan.t_us.size
        f["/XRF/Timestamps"] = np.round(scan.t_us).astype("<u8")
        f["/XRF/DPPStartTimestamp"] = np.full(N, scan.dpp_start_us, "<u8")
        z = np.full(N, 46018.0)
        f["/XRF/MotorsPositions"] = np.stack([scan.x_rec, scan.y_rec, z], 1).round().astype("<u4")
        f["/XRF/SpectraIDs"] = (scan.ids % 65536).astype("<u2")
        f["/XRF/SpectraSelectedIndex"] = scan.selected
        s = f.create_dataset("/Configuration/Settings", (1,), h5py.vlen_dtype(np.dtype("V1")))
        s[0] = np.frombuffer(b"", "V1")
        for key, value, dt in [
            ("SpectraTime", scan.spectra_time_ms, "<u4"),
            ("YStep", scan.y_step_um, "<f8"),
            ("XSpeed", scan.x_speed_mm_s, "<f8"),
            ("XStart", scan.settings["XStart"], "<u8"),
            ("YStart", scan.settings["YStart"], "<u8"),
            ("XSize", scan.settings["XSize"], "<u4"),
            ("YSize", scan.settings["YSize"], "<u4"),
        ]:
            s.attrs.create(key, np.array([value]).astype(dt), dtype=dt)

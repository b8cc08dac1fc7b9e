"""The ground truth of a synthetic CRONO file (:func:`scanstack.datasets.write_crono`), kept
beside it as an ``.npz`` without pickle (:meth:`CronoGroundTruth.save` / :meth:`~CronoGroundTruth.load`)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..formats.crono.geometry import ScanGeometry


@dataclass
class CronoGroundTruth:
    """What :func:`write_crono` put into the file (shapes in brackets; lengths µm, times µs).

    Object image: pixel ``[i, j]`` is centred on stage ``x = object_origin[0] + j·pixel_size``,
    ``y = object_origin[1] + i·pixel_size`` (row index grows with stage Y, like the XRF map rows).
    Camera frame ``k`` (``/Images/Static[k + 1]``) is exactly
    ``object_image[r:r + 107, c:c + 143]`` with ``(r, c) = frame_origins[k]`` (before JPEG
    compression); its centre is on the stage position ``frame_positions[k]`` (rounded to whole
    object pixels) and its EXIF DateTimeOriginal is ``frame_timestamps[k]`` (µs, DPP clock).
    """

    path: str
    geometry: ScanGeometry
    object_image: np.ndarray  # (height, width, 3) uint8; (0, 0, 3) when written with images=False
    object_origin: tuple[float, float]  # stage (x, y) of object pixel [0, 0]
    pixel_size: float  # µm per object/camera pixel
    frame_shape: tuple[int, int]
    frame_origins: np.ndarray  # (n_frames, 2) int: object-image (row, col) of frame pixel [0, 0]
    frame_positions: np.ndarray  # (n_frames, 2) float: stage (x, y) of the frame centre
    frame_timestamps: np.ndarray  # (n_frames,) int64: EXIF stamp, µs on the DPP clock
    dpp_start: int  # µs, /XRF/DPPStartTimestamp
    selected_index: np.ndarray  # (rows, columns) int64 rows of /XRF/Spectra
    spectra_positions: np.ndarray  # (n_spectra, 2) noiseless stage (x, y) of each spectrum
    spectra_times: np.ndarray  # (n_spectra,) µs since DPP start (/XRF/Timestamps)
    element_lines: dict[str, float]  # name -> line energy, keV
    element_maps: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (rows, columns)
    calibration: tuple[float, float] = (0.0, 0.0)  # keV offset, keV/channel

    @property
    def n_frames(self) -> int:
        return len(self.frame_timestamps)

    def save(self, path: str | os.PathLike) -> None:
        """Store as ``.npz`` (no pickle); :meth:`load` reads it back."""
        arrays: dict[str, Any] = {
            "object_image": self.object_image,
            "frame_origins": self.frame_origins,
            "frame_positions": self.frame_positions,
            "frame_timestamps": self.frame_timestamps,
            "selected_index": self.selected_index,
            "spectra_positions": self.spectra_positions,
            "spectra_times": self.spectra_times,
        }
        for name, m in self.element_maps.items():
            arrays[f"element_map:{name}"] = m
        scalars = {
            "path": self.path,
            "geometry": asdict(self.geometry),
            "object_origin": list(self.object_origin),
            "pixel_size": self.pixel_size,
            "frame_shape": list(self.frame_shape),
            "dpp_start": self.dpp_start,
            "element_lines": self.element_lines,
            "calibration": list(self.calibration),
        }
        import json

        arrays["scalars"] = np.array(json.dumps(scalars))
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> CronoGroundTruth:
        import json

        with np.load(path, allow_pickle=False) as z:
            s = json.loads(str(z["scalars"]))
            maps = {k.split(":", 1)[1]: z[k] for k in z.files if k.startswith("element_map:")}
            return cls(
                path=s["path"],
                geometry=ScanGeometry(**s["geometry"]),
                object_image=z["object_image"],
                object_origin=tuple(s["object_origin"]),
                pixel_size=s["pixel_size"],
                frame_shape=tuple(s["frame_shape"]),
                frame_origins=z["frame_origins"],
                frame_positions=z["frame_positions"],
                frame_timestamps=z["frame_timestamps"],
                dpp_start=s["dpp_start"],
                selected_index=z["selected_index"],
                spectra_positions=z["spectra_positions"],
                spectra_times=z["spectra_times"],
                element_lines=s["element_lines"],
                element_maps=maps,
                calibration=tuple(s["calibration"]),
            )

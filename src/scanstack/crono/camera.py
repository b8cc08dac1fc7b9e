"""How a camera pixel maps to motor coordinates (µm): pixel size, axis directions, X-ray spot.

A frame taken with the motors at ``(x, y)`` shows, at full-size pixel ``(col, row)``, the point

    X = x + x_sign · sx · (col − spot_col),     Y = y + y_sign · sy · (row − spot_row)

where ``(sx, sy)`` is ``/Images/ImageAdjusting/ImagePixelSizeRatio`` (µm per pixel, an inference
of the format notes) and ``(spot_col, spot_row)`` is where the X-ray spot sits in the frame (the
point measured at motor position ``(x, y)``; unknown for the instrument, the frame centre by
default — :func:`scanstack.crono.mosaic.locate_spot` estimates it from an element map).
The defaults ``x_sign = +1, y_sign = +1`` mean image columns run towards +X and image rows
towards +Y, as in :func:`scanstack.datasets.write_crono` (frames are crops of an object
image whose rows grow with Y, like the XRF map rows). None of this is documented by the vendor; :func:`scanstack.crono.mosaic.estimate_camera` checks the signs and the
pixel size against the motor track by registering consecutive frames.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

DEFAULT_PIXEL_SIZE = (11.085714, 11.085714)


@dataclass(frozen=True)
class CameraModel:
    """Camera geometry; lengths in µm, pixel coordinates of the full-size frame."""

    frame_shape: tuple[int, int] = (107, 143)  # (rows, cols), full size
    pixel_size_um: tuple[float, float] = DEFAULT_PIXEL_SIZE  # (x, y)
    x_sign: int = 1
    y_sign: int = 1
    spot_px: tuple[float, float] | None = None  # (col, row); None = frame centre

    @property
    def spot(self) -> tuple[float, float]:
        """(col, row) of the X-ray spot in full-size pixels (default: the frame centre)."""
        if self.spot_px is not None:
            return float(self.spot_px[0]), float(self.spot_px[1])
        h, w = self.frame_shape
        return (w - 1) / 2.0, (h - 1) / 2.0

    def with_spot(self, col: float, row: float) -> CameraModel:
        return replace(self, spot_px=(float(col), float(row)))

    def pixel_to_motor(self, x_um, y_um, col, row) -> tuple[np.ndarray, np.ndarray]:
        """Motor coordinates (µm) of pixel ``(col, row)`` of a frame taken at ``(x_um, y_um)``."""
        sc, sr = self.spot
        sx, sy = self.pixel_size_um
        return (
            np.asarray(x_um) + self.x_sign * sx * (np.asarray(col) - sc),
            np.asarray(y_um) + self.y_sign * sy * (np.asarray(row) - sr),
        )

    def motor_to_pixel(self, x_um, y_um, X, Y) -> tuple[np.ndarray, np.ndarray]:
        """Pixel ``(col, row)`` where point ``(X, Y)`` appears in a frame taken at ``(x_um, y_um)``."""
        sc, sr = self.spot
        sx, sy = self.pixel_size_um
        return (
            sc + (np.asarray(X) - x_um) / (self.x_sign * sx),
            sr + (np.asarray(Y) - y_um) / (self.y_sign * sy),
        )

    def footprint_um(self) -> tuple[float, float]:
        """(width, height) of the area one frame covers, µm."""
        h, w = self.frame_shape
        return w * self.pixel_size_um[0], h * self.pixel_size_um[1]

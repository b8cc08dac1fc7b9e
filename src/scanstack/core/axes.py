"""Axes of a stack: name, units, scale and offset, or explicit coordinate values."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


@dataclass
class Axis:
    """One dimension of a stack.

    Attributes
    ----------
    name: a short label (``"x"``, ``"energy"``, ``"frame"``).
    size: number of points.
    units: physical units of the coordinates (``"µm"``, ``"keV"``, ``""`` for none).
    scale, offset: coordinate of point ``i`` is ``offset + i * scale`` unless ``values`` is given.
    values: explicit coordinates (length ``size``) for non-uniform axes; overrides scale/offset.
    navigate: True for scan (navigation) axes, False for signal (frame) axes.
    """

    name: str
    size: int
    units: str = ""
    scale: float = 1.0
    offset: float = 0.0
    values: np.ndarray | None = field(default=None, repr=False)
    navigate: bool = True

    def __post_init__(self) -> None:
        self.size = int(self.size)
        if self.values is not None:
            self.values = np.asarray(self.values)
            if self.values.shape != (self.size,):
                raise ValueError(
                    f"axis {self.name!r}: {self.values.shape[0] if self.values.ndim else 0} "
                    f"coordinate values given for {self.size} points"
                )

    @property
    def coordinates(self) -> np.ndarray:
        """Coordinate of every point, shape ``(size,)``, in ``units``."""
        if self.values is not None:
            return self.values
        return self.offset + self.scale * np.arange(self.size, dtype=float)

    @property
    def is_uniform(self) -> bool:
        return self.values is None

    def index(self, key) -> Axis:
        """The axis after indexing its points with a slice or an integer array."""
        if isinstance(key, slice):
            start, stop, step = key.indices(self.size)
            n = len(range(start, stop, step))
            if self.values is not None:
                return replace(self, size=n, values=self.values[key])
            return replace(
                self, size=n, offset=self.offset + start * self.scale, scale=self.scale * step
            )
        idx = np.asarray(key)
        return replace(self, size=idx.size, values=self.coordinates[idx].reshape(-1))

    def to_dict(self) -> dict[str, Any]:
        """A RosettaSciIO/HyperSpy-style axis dictionary."""
        d: dict[str, Any] = {
            "name": self.name,
            "units": self.units,
            "navigate": self.navigate,
            "size": self.size,
        }
        if self.values is not None:
            d["axis"] = np.asarray(self.values)
        else:
            d["scale"] = float(self.scale)
            d["offset"] = float(self.offset)
        return d


def default_axes(nav_shape: tuple[int, ...], signal_shape: tuple[int, ...]) -> list[Axis]:
    """Unit-less pixel axes: navigation ``frame`` or ``y, x``…, signal ``row, column`` or ``channel``."""
    nav_names = {0: [], 1: ["frame"], 2: ["y", "x"], 3: ["z", "y", "x"]}.get(
        len(nav_shape), [f"nav{i}" for i in range(len(nav_shape))]
    )
    sig_names = {0: [], 1: ["channel"], 2: ["row", "column"]}.get(
        len(signal_shape), [f"sig{i}" for i in range(len(signal_shape))]
    )
    axes = [Axis(n, s, navigate=True) for n, s in zip(nav_names, nav_shape, strict=True)]
    axes += [Axis(n, s, navigate=False) for n, s in zip(sig_names, signal_shape, strict=True)]
    return axes

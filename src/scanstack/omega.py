"""Rotation (omega) scans: which frame covers which angle, hexrd-compatible.

A rotation series stores, in ``metadata['omega']``, an array ``(nframes, 2)``: the start and end
angle of each frame, in **degrees**. Frames with the same step that follow each other without a
gap form a *wedge*. :class:`OmegaStack` is a stack that knows its wedges and converts angles to
frames (with wrap-around at 360°); :class:`OmegaWedges` builds such an omega array from wedges.

>>> w = OmegaWedges(360); w.addwedge(0, 360, 360); s.metadata["omega"] = w.omegas
>>> o = OmegaStack(s); o.omega_to_frame(10.5)      # (10, 0): frame 10 of wedge 0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .core.errors import ScanstackError
from .core.reader import Region
from .core.stack import Stack

#: a full turn, in degrees (omegas are in degrees)
TAU = 360.0


class OmegaSeriesError(ScanstackError):
    """An omega array that does not describe the series (missing, wrong length, not increasing).

    ``.value`` holds what was given to the exception; ``str()`` is its ``repr`` (as hexrd).
    """

    def __init__(self, value: Any):
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return repr(self.value)


class OmegaWedges:
    """Build the ``(nframes, 2)`` omega array of a scan from its wedges.

    ``addwedge(ostart, ostop, nsteps)`` adds ``nsteps`` frames evenly covering ``ostart`` to
    ``ostop`` (degrees); :attr:`omegas` is the array for ``metadata['omega']``.
    """

    def __init__(self, nframes: int):
        self.nframes = int(nframes)
        self._wedges: list[dict[str, Any]] = []

    @property
    def wedges(self) -> list[dict[str, Any]]:
        """The wedges, as dicts ``{'ostart', 'ostop', 'nsteps'}`` (the list itself, not a copy)."""
        return self._wedges

    @property
    def nwedges(self) -> int:
        return len(self._wedges)

    @property
    def wframes(self) -> int:
        """Frames covered by all wedges."""
        return int(sum(w["nsteps"] for w in self._wedges))

    def addwedge(self, ostart: float, ostop: float, nsteps: int, loc: int | None = None) -> None:
        """Add a wedge of ``nsteps`` frames from ``ostart`` to ``ostop`` (at index ``loc``)."""
        wedge = {"ostart": ostart, "ostop": ostop, "nsteps": nsteps}
        if loc is None:
            self._wedges.append(wedge)
        else:
            self._wedges.insert(loc, wedge)

    def delwedge(self, i: int) -> None:
        """Remove wedge ``i``."""
        self._wedges.pop(i)

    @property
    def omegas(self) -> np.ndarray:
        """The ``(nframes, 2)`` float64 array of frame start/end angles, in degrees."""
        if self.nframes != self.wframes:
            raise OmegaSeriesError(
                f"number of frames ({self.nframes}) does not match number of "
                f"wedge frames ({self.wframes})"
            )
        out = np.zeros((self.nframes, 2))
        f = 0
        for w in self._wedges:
            n = int(w["nsteps"])
            edges = np.linspace(w["ostart"], w["ostop"], n + 1)
            out[f : f + n, 0] = edges[:-1]
            out[f : f + n, 1] = edges[1:]
            f += n
        return out

    def save_omegas(self, fname) -> None:
        """Save :attr:`omegas` with ``np.save`` (a ``.npy`` file)."""
        np.save(fname, self.omegas)


def _same_angle(a: float, b: float, tol: float) -> bool:
    """Equal modulo a full turn."""
    return abs((a - b + TAU / 2) % TAU - TAU / 2) <= tol


class OmegaIndex:
    """The wedges of an omega array and angle → frame look-ups (shared by every omega series).

    A new wedge starts where the step ``end - start`` changes by more than ``tol`` or where a
    frame does not start (within ``tol``) where the previous one ended.

    Parameters
    ----------
    omega: array ``(nframes, 2)`` of frame start/end angles in degrees.
    nframes: the number of frames of the series, checked against ``omega``.
    """

    def __init__(self, omega: Any, nframes: int, tol: float = 1e-6):
        om = np.asarray(omega, dtype=np.float64)
        if om.ndim != 2 or om.shape[1] != 2 or om.shape[0] != nframes:
            raise OmegaSeriesError(
                f"omega array mismatch: shape {om.shape}, expected "
                f"({nframes}, 2) for {nframes} frames"
            )
        self.omega = om
        self.tol = tol
        delta = om[:, 1] - om[:, 0]
        # unlike hexrd, every frame is checked, the last one and one-frame series included
        bad = np.flatnonzero(delta <= 0)
        if bad.size:
            raise OmegaSeriesError(
                f"omega array must be increasing (frame {int(bad[0])}: "
                f"{om[bad[0], 0]} -> {om[bad[0], 1]})"
            )
        new = np.ones(nframes, dtype=bool)
        if nframes > 1:
            new[1:] = (np.abs(np.diff(delta)) > tol) | (np.abs(om[1:, 0] - om[:-1, 1]) > tol)
        starts = np.flatnonzero(new)
        stops = np.append(starts[1:], nframes)
        #: rows (first frame, nsteps)
        self.wedge_frames = (
            np.stack([starts, stops - starts], axis=1) if nframes else np.zeros((0, 2), np.int64)
        )
        nsteps = stops - starts
        ostart = om[starts, 0] if nframes else np.zeros(0)
        ostop = om[stops - 1, 1] if nframes else np.zeros(0)
        #: rows (ostart, ostop, delta)
        self.wedge_omegas = np.stack(
            [ostart, ostop, (ostop - ostart) / np.maximum(nsteps, 1)], axis=1
        )
        self.omegawedges = OmegaWedges(nframes)
        for a, b, n in zip(ostart, ostop, nsteps, strict=True):
            self.omegawedges.addwedge(float(a), float(b), int(n))

    @property
    def nwedges(self) -> int:
        return self.omegawedges.nwedges

    def wedge(self, i: int) -> dict[str, Any]:
        """Wedge ``i`` as ``{'ostart', 'ostop', 'nsteps', 'delta'}`` (degrees)."""
        w = self.omegawedges.wedges[i]
        w["delta"] = float(self.wedge_omegas[i, 2])
        return w

    def omega_to_frame(self, om: float) -> tuple[int, int]:
        """``(frame, wedge)`` of the frame whose range ``[start, end)`` holds angle ``om``.

        The angle is taken modulo 360° into each wedge's turn (370.5 finds the frame of 10.5).
        ``(-1, -1)`` when no frame holds it.
        """
        for i, (ostart, ostop, delta) in enumerate(self.wedge_omegas):
            wrapped = ostart + (float(om) - ostart) % TAU
            if ostart <= wrapped < ostop:
                first, nsteps = self.wedge_frames[i]
                k = min(int(math.floor((wrapped - ostart) / delta)), int(nsteps) - 1)
                return int(first + k), i
        return -1, -1

    def omegarange_to_frames(self, omin: float, omax: float) -> list[int] | tuple[()]:
        """Frames from the one holding ``omin`` to the one holding ``omax`` (both included).

        Within one wedge, a list of frames; across two wedges that join (modulo 360°, e.g. a
        scan from 270° to 360° stored before one from 0° to 90°), the end of the first wedge and
        the start of the second; the empty tuple ``()`` when the angles fall in a gap or in
        wedges that do not join (hexrd's return values). ``omin`` after ``omax`` in one wedge
        gives ``[]`` (as hexrd), unless the wedge is a full turn: then the range wraps past 0°.
        """
        f0, w0 = self.omega_to_frame(omin)
        f1, w1 = self.omega_to_frame(omax)
        if w0 < 0 or w1 < 0:
            return ()
        if w0 == w1 and f0 <= f1:
            return list(range(f0, f1 + 1))
        end0 = self.wedge_omegas[w0, 1]
        start1 = self.wedge_omegas[w1, 0]
        if not _same_angle(end0, start1, self.tol):
            return () if w0 != w1 else []
        first0, n0 = self.wedge_frames[w0]
        first1 = self.wedge_frames[w1, 0]
        return list(range(f0, int(first0 + n0))) + list(range(int(first1), f1 + 1))


def omega_index(series: Any, tol: float = 1e-6) -> OmegaIndex:
    """The :class:`OmegaIndex` of anything with ``metadata['omega']`` and a length."""
    metadata = getattr(series, "metadata", None)
    if metadata is None or "omega" not in metadata:
        raise OmegaSeriesError("Imageseries has no omega metadata")
    return OmegaIndex(metadata["omega"], len(series), tol)


class OmegaLookups:
    """Angle look-ups of a series whose :class:`OmegaIndex` is ``self._index``.

    Shared by :class:`OmegaStack` and the hexrd-style ``OmegaImageSeries``, so the two expose
    the same methods from one place.
    """

    _index: OmegaIndex

    @property
    def omega(self) -> np.ndarray:
        """``(nframes, 2)`` start/end angle of each frame, degrees."""
        return self._index.omega

    @property
    def omegawedges(self) -> OmegaWedges:
        return self._index.omegawedges

    @property
    def nwedges(self) -> int:
        return self._index.nwedges

    def wedge(self, i: int) -> dict[str, Any]:
        """Wedge ``i``: ``{'ostart', 'ostop', 'nsteps', 'delta'}``."""
        return self._index.wedge(i)

    def omega_to_frame(self, om: float) -> tuple[int, int]:
        """``(frame, wedge)`` holding angle ``om`` (modulo 360°), or ``(-1, -1)``."""
        return self._index.omega_to_frame(om)

    def omegarange_to_frames(self, omin: float, omax: float) -> list[int] | tuple[()]:
        """Frames from ``omin`` to ``omax``; ``()`` when they are not in joined wedges."""
        return self._index.omegarange_to_frames(omin, omax)


class OmegaStack(OmegaLookups, Stack):
    """Any stack whose ``metadata['omega']`` gives each frame's angles, with look-ups by angle.

    Frames, metadata (the same dict) and axes are the parent's; reading costs nothing extra.
    Raises :class:`OmegaSeriesError` when the omega array is missing, does not have one row
    per frame, or is not increasing.
    """

    def __init__(self, stack: Stack, *, tol: float = 1e-6, index: OmegaIndex | None = None):
        self.parent = stack
        self._index = index if index is not None else omega_index(stack, tol)
        self.nav_shape = tuple(stack.nav_shape)
        self.signal_shape = tuple(stack.signal_shape)
        self.dtype = np.dtype(stack.dtype)

    # metadata is the parent's dict itself, so edits are seen by both (as hexrd's wrapper)
    @property
    def metadata(self) -> dict:
        return self.parent.metadata

    @property
    def original_metadata(self) -> dict:
        return self.parent.original_metadata

    @property
    def axes(self):
        return self.parent.axes

    @property
    def path(self):
        return getattr(self.parent, "path", None)

    def _read_frames(self, frames: np.ndarray, region: Region | None) -> np.ndarray:
        return self.parent._read_frames(frames, region)

    def source_paths(self) -> list[str]:
        return self.parent.source_paths()

    def close(self) -> None:
        self.parent.close()

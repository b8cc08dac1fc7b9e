"""Live-time normalisation: counts per second of detector live time, lazily and block-wise.

A spectrum taken with a longer dead time holds fewer counts for the same material; dividing by
the live time (s) makes pixels comparable. Live times come from ``stack.metadata['live_time']``
(seconds, one per frame, flat in frame order like hexrd's ``omega``; the CRONO readers fill it)
or are passed explicitly.
"""

from __future__ import annotations

import copy

import numpy as np

from ..core.errors import UnsupportedError
from ..core.reader import Region
from ..core.stack import Stack


def live_times(stack: Stack, live_time=None) -> np.ndarray:
    """Live time of every frame, seconds, float64 ``(nframes,)``.

    Raises UnsupportedError when the stack has none, or when the metadata's array does not match
    the stack's frames (e.g. a view made with ``inav``: pass ``live_time=`` for those).
    """
    if live_time is None:
        live_time = stack.metadata.get("live_time") if isinstance(stack.metadata, dict) else None
        if live_time is None:
            raise UnsupportedError(
                "this stack has no live times (metadata['live_time']); "
                "pass live_time= (seconds per frame)"
            )
    lt = np.asarray(live_time, dtype=np.float64).reshape(-1)
    if lt.size != stack.nframes:
        raise UnsupportedError(
            f"{lt.size} live times for {stack.nframes} frames; pass "
            "live_time= matching the frames of this stack"
        )
    if not np.all(lt > 0):
        bad = int(np.flatnonzero(~(lt > 0))[0])
        raise ValueError(f"live time of frame {bad} is {lt[bad]} s; it must be > 0")
    return lt


def normalize_maps(maps: dict[str, np.ndarray] | np.ndarray, live_time) -> dict | np.ndarray:
    """Maps of counts divided by the live time of their pixel (counts per live second)."""
    lt = np.asarray(live_time, dtype=np.float64)
    if isinstance(maps, dict):
        return {k: np.asarray(v) / lt.reshape(np.shape(v)) for k, v in maps.items()}
    return np.asarray(maps) / lt.reshape(np.shape(maps))


class LiveTimeNormalized(Stack):
    """A lazy stack of float32 spectra scaled by ``reference / live_time`` per frame."""

    def __init__(self, parent: Stack, factors: np.ndarray, reference: float | None):
        self.parent = parent
        self.factors = np.asarray(factors, np.float64)
        self.nav_shape = tuple(parent.nav_shape)
        self.signal_shape = tuple(parent.signal_shape)
        self.dtype = np.dtype(np.float32)
        self.metadata = copy.deepcopy(parent.metadata)
        self.metadata["live_time_normalized"] = {
            "reference": reference,
            "units": "counts per second of live time"
            if reference is None
            else f"counts per {reference} s of live time",
        }
        self.original_metadata = parent.original_metadata

    @property
    def axes(self):
        return self.parent.axes

    def _read_frames(self, frames: np.ndarray, region: Region | None) -> np.ndarray:
        data = self.parent._read_frames(frames, region).astype(np.float32)
        data *= self.factors[frames].astype(np.float32).reshape((-1,) + (1,) * (data.ndim - 1))
        return data

    def source_paths(self) -> list[str]:
        return self.parent.source_paths()

    def close(self) -> None:
        self.parent.close()


def normalize_live_time(stack: Stack, live_time=None, reference: float | None = None) -> Stack:
    """Lazy stack of spectra in counts per live second (or per ``reference`` s of live time).

    Nothing is read until the result is indexed, reduced or converted; it works with every
    block-wise tool (``sum_spectrum(normalize_live_time(s))``, ``element_maps(...)``).
    """
    lt = live_times(stack, live_time)
    factors = (1.0 if reference is None else float(reference)) / lt
    return LiveTimeNormalized(stack, factors, reference)

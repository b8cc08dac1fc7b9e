"""Sum/max spectra and element maps of any spectrum stack, in one block-wise pass.

A spectrum stack has one signal axis (energy channels) and any navigation shape: a CRONO map
``(rows, columns)``, CRONO spectra in acquisition order ``(N,)``, a NeXus/PyMca cube… Work goes
through :func:`scanstack.core.fold.fold_frames` (in place over a memory-mapped cube, otherwise
block by block), so memory stays at a few blocks whatever the file size, and ``client=`` runs it
on a dask.distributed cluster.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.blockwise import gather
from ..core.errors import UnsupportedError
from ..core.fold import fold_frames
from ..core.lane_folds import ExtremeFold, PerFrameFold, SumFold, Together
from ..core.lanes import Lanes
from ..core.progress import ProgressArg
from ..core.stack import Stack
from .lines import line_window

Band = tuple[str, float, float]  # name, start keV, end keV


def _check_spectra(stack: Stack) -> None:
    if len(stack.signal_shape) != 1:
        raise UnsupportedError(
            f"XRF tools need 1-D spectra as frames; this stack has frames of shape "
            f"{stack.signal_shape}"
        )


def energy_axis(stack: Stack) -> np.ndarray | None:
    """keV of every channel, or None when the signal axis is not calibrated in keV/eV."""
    _check_spectra(stack)
    axis = stack.signal_axes[0]
    if axis.units == "keV":
        return axis.coordinates.astype(np.float64)
    if axis.units == "eV":
        return axis.coordinates.astype(np.float64) / 1000.0
    return None


def resolve_bands(stack: Stack, bands=None, width: float | None = None) -> list[Band]:
    """Normalise a band specification to ``[(name, start_keV, end_keV), …]``.

    ``bands`` may be None (the file's ROIs in ``metadata['rois']``), a mapping
    ``{name: (start, end)}``, or an iterable of line names (``"FeKa"``, ``"Pb"``; windows ± one
    detector FWHM or ± ``width`` keV), of ``(name, start, end)`` tuples, or of ROI dicts.
    """
    if bands is None:
        rois = stack.metadata.get("rois") if isinstance(stack.metadata, dict) else None
        if not rois:
            raise ValueError(
                "this stack has no ROIs in its metadata; pass bands= "
                "(line names like 'FeKa' or (name, start_keV, end_keV))"
            )
        bands = rois
    if isinstance(bands, Mapping):
        return [(str(k), float(v[0]), float(v[1])) for k, v in bands.items()]
    out: list[Band] = []
    for b in bands if not isinstance(bands, str) else [bands]:
        if isinstance(b, str):
            lo, hi = line_window(b, width)
            out.append((b, lo, hi))
        elif isinstance(b, Mapping):
            out.append((str(b["name"]), float(b["start"]), float(b["end"])))
        else:
            name, lo, hi = b
            out.append((str(name), float(lo), float(hi)))
    for name, lo, hi in out:
        if not hi > lo:
            raise ValueError(f"band {name!r}: end {hi} keV must be above start {lo} keV")
    return out


def band_weights(energy: np.ndarray, bands: Sequence[Band]) -> tuple[np.ndarray, slice]:
    """(channels-in-span, bands) float32 0/1 matrix and the channel span the bands need."""
    masks = np.stack([(energy >= lo) & (energy <= hi) for _, lo, hi in bands], 1)
    for k in np.flatnonzero(~masks.any(0)):  # a map of zeros would read as "element absent"
        name, lo, hi = bands[k]
        warnings.warn(
            f"band {name!r} ({lo:g}-{hi:g} keV) has no channel on the energy axis "
            f"({energy.min():.4g}-{energy.max():.4g} keV); its map is all zeros",
            stacklevel=4,
        )
    used = np.flatnonzero(masks.any(1))
    if used.size == 0:
        return np.zeros((0, len(bands)), np.float32), slice(0, 0)
    span = slice(int(used[0]), int(used[-1]) + 1)
    return masks[span].astype(np.float32), span


@dataclass
class _BandFold(PerFrameFold):
    """Picklable fold: the band sums of every frame, ``[(first frame, (frames, bands)), ...]``
    (any order; :func:`summarize` places them)."""

    weights: np.ndarray  # (channels in span, bands)
    span: slice

    def values(self, lanes: Lanes, a: int, b: int) -> np.ndarray:
        if not self.weights.shape[0]:
            return np.zeros((b - a, self.weights.shape[1]))
        block = lanes.frames_block()  # a view of the block (or of a memory map) when possible
        return (block[:, self.span].astype(np.float32) @ self.weights).astype(np.float64)


@dataclass
class XRFSummary:
    """Result of :func:`summarize`: spectra of shape ``(channels,)`` and maps of ``nav_shape``."""

    energy: np.ndarray | None
    sum_spectrum: np.ndarray | None
    max_spectrum: np.ndarray | None
    bands: list[Band]
    maps: dict[str, np.ndarray]


def summarize(
    stack: Stack,
    bands: Iterable | Mapping | None = (),
    *,
    sum_spectrum: bool = True,
    max_spectrum: bool = True,
    width: float | None = None,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
) -> XRFSummary:
    """Sum and max spectra and band maps in one pass over the stack.

    ``bands=()`` computes no maps; ``None`` uses the file's ROIs (see :func:`resolve_bands`).
    Band maps are counts summed over the band's channels, float64, shape ``nav_shape``.
    ``client``, ``threads``, ``progress``, ``memory_budget`` (bytes of the blocks read at once):
    as in every out-of-core function (:mod:`scanstack.core.resources`); the other XRF tools
    take them too.
    """
    _check_spectra(stack)
    band_list = resolve_bands(stack, bands, width) if bands is None or bands else []
    weights = span = None
    region = None
    energy = energy_axis(stack)
    if band_list:
        if energy is None:
            raise UnsupportedError("energy bands need a signal axis calibrated in keV or eV")
        weights, span = band_weights(energy, band_list)
        if not sum_spectrum and not max_spectrum and span.stop > span.start:
            region = (span,)  # read only the channels the bands need
            span = slice(0, span.stop - span.start)
    # the spectra are the pixel-wise folds the statistics use (sum: float64, max: the frames'
    # dtype), read in the same pass as the band sums
    folds = {}
    if sum_spectrum:
        folds["sum"] = SumFold(ints_exact=False)
    if max_spectrum:
        folds["max"] = ExtremeFold("max")
    if weights is not None:
        folds["bands"] = _BandFold(weights, span)
    acc = fold_frames(
        stack,
        Together(folds.values()),
        region=region,
        client=client,
        threads=threads,
        progress=progress,
        memory_budget=memory_budget,
        label="xrf",
    )
    got = dict(zip(folds, acc, strict=True)) if acc is not None else {}  # None: no frames
    maps: dict[str, np.ndarray] = {}
    if band_list:
        flat = gather(got.get("bands"), stack.nframes, (len(band_list),))
        for i, (name, _, _) in enumerate(band_list):
            maps[name] = flat[:, i].reshape(stack.nav_shape)
    total = got.get("sum")
    return XRFSummary(
        energy=energy,
        sum_spectrum=None if total is None else total.astype(np.float64, copy=False),
        max_spectrum=got.get("max"),
        bands=band_list,
        maps=maps,
    )


def _only(stack: Stack, field: str, client, threads, progress, memory_budget, bands=(), width=None):
    """One field of :func:`summarize` (``"sum_spectrum"``, ``"max_spectrum"`` or ``"maps"``),
    computing nothing else: the public one-result tools are this with their own signature."""
    summary = summarize(
        stack,
        bands,
        sum_spectrum=field == "sum_spectrum",
        max_spectrum=field == "max_spectrum",
        width=width,
        client=client,
        threads=threads,
        progress=progress,
        memory_budget=memory_budget,
    )
    return getattr(summary, field)


def sum_spectrum(
    stack: Stack,
    *,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
) -> np.ndarray:
    """Sum of all spectra, float64 ``(channels,)`` (counts). Keywords as in :func:`summarize`."""
    return _only(stack, "sum_spectrum", client, threads, progress, memory_budget)


def mean_spectrum(
    stack: Stack,
    *,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
) -> np.ndarray:
    """Mean spectrum, float64 ``(channels,)`` (counts per spectrum)."""
    total = _only(stack, "sum_spectrum", client, threads, progress, memory_budget)
    return total / max(stack.nframes, 1)


def max_spectrum(
    stack: Stack,
    *,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
) -> np.ndarray:
    """Channel-wise maximum over all spectra ("max pixel spectrum"), ``(channels,)``, stack dtype."""
    return _only(stack, "max_spectrum", client, threads, progress, memory_budget)


def element_maps(
    stack: Stack,
    bands=None,
    *,
    width: float | None = None,
    client=None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
) -> dict[str, np.ndarray]:
    """Counts in energy windows per pixel: ``{name: array of nav_shape}`` (float64).

    ``bands``: None for the file's ROIs, line names (``["FeKa", "PbLa"]``), ``{name: (lo, hi)}``
    keV or ``(name, lo, hi)`` tuples. Only the channels the windows cover are read.
    """
    return _only(stack, "maps", client, threads, progress, memory_budget, bands, width)

"""What a synthetic CRONO scan looks at: a procedurally drawn object ("paper with inks": element
concentrations on a coarse grid, its RGB image with paper fibres) and the Poisson XRF spectra
its inks give (background, tube scatter, one peak per element line).
"""

from __future__ import annotations

import math

import numpy as np

#: element lines drawn by default (keV) and the ink colour (RGB) that carries them
DEFAULT_ELEMENTS: dict[str, tuple[float, tuple[int, int, int]]] = {
    "FeKa": (6.404, (70, 45, 30)),  # iron-gall ink, dark brown
    "CuKa": (8.048, (40, 120, 90)),  # verdigris green
    "PbLa": (10.551, (235, 235, 228)),  # lead white (bright, subtle on paper)
    "HgLa": (9.989, (200, 40, 30)),  # vermilion red
}
PAPER = (238, 228, 205)


class ObjectModel:
    """The drawn object: ink concentrations on a coarse grid, upsampled to camera pixels.

    Concentrations live on a grid of ``cell`` camera pixels (0..1 per element); the RGB object
    image is their composite on paper, upsampled bicubically, plus fine "paper fibre" texture so
    that camera frames have something to register on.
    """

    def __init__(self, rng: np.random.Generator, shape: tuple[int, int], elements, cell: int):
        self.shape, self.cell = shape, cell
        coarse = (shape[0] // cell + 3, shape[1] // cell + 3)
        rgb = np.empty((*coarse, 3), np.float32)
        rgb[...] = PAPER
        self.conc = {}
        for name, (_, colour) in elements.items():
            c = np.clip((rng.random(coarse, np.float32) - 0.55) * 4.0, 0.0, 1.0)
            self.conc[name] = c
            rgb += c[..., None] * (np.asarray(colour, np.float32) - rgb)
        self.coarse_rgb = np.clip(rgb, 0, 255).astype(np.uint8)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """The RGB object image (uint8, ``shape + (3,)``), built in row blocks (4 bytes/pixel)."""
        from PIL import Image

        h, w = self.shape
        coarse = self.coarse_rgb.shape[:2]
        big = np.asarray(
            Image.fromarray(self.coarse_rgb).resize(
                (coarse[1] * self.cell, coarse[0] * self.cell), Image.BICUBIC
            )
        )
        fibres = np.asarray(
            Image.fromarray(rng.integers(0, 256, (h // 3 + 1, w // 3 + 1), np.uint8)).resize(
                (w, h), Image.BILINEAR
            )
        )
        image = np.empty((h, w, 3), np.uint8)
        for a in range(0, h, 512):
            b = min(h, a + 512)
            block = big[a:b, :w].astype(np.int16)
            block += (fibres[a:b, :, None].astype(np.int16) - 128) // 12
            image[a:b] = np.clip(block, 0, 255)
        return image

    def sample(self, name: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Concentration at (fractional) object-pixel positions, bilinear on the coarse grid."""
        from scipy import ndimage

        coords = [
            (np.asarray(rows, float) + 0.5) / self.cell - 0.5,
            (np.asarray(cols, float) + 0.5) / self.cell - 0.5,
        ]
        return ndimage.map_coordinates(self.conc[name], coords, order=1, mode="nearest")


def spectrum_shapes(energies: np.ndarray, lines: list[float], tube_kev: float = 20.216):
    """Normalised background, scatter and element-peak shapes over the channels."""
    e = energies.astype(np.float64)

    def peak(e0: float) -> np.ndarray:
        fwhm = math.sqrt(0.12**2 + 0.0025 * max(e0, 0.1))
        g = np.exp(-0.5 * ((e - e0) / (fwhm / 2.3548)) ** 2)
        return g / max(g.sum(), 1e-12)

    bg = np.where(e > 0.8, np.exp(-(((e - 11.0) / 9.0) ** 2)), 0.0)
    bg /= max(bg.sum(), 1e-12)
    scatter = 0.6 * peak(tube_kev) + 0.4 * peak(tube_kev - 1.3)  # Rayleigh + Compton of Rh Kα
    return bg, scatter, np.stack([peak(x) for x in lines]) if lines else np.zeros((0, e.size))


def simulate_spectra(rng, conc, bg, scatter, peaks, counts) -> np.ndarray:
    """Poisson spectra (N, C) uint16, event by event: each component (background, scatter, one
    peak per element ∝ its concentration) draws a Poisson number of events whose channels follow
    the component's shape. About ``counts`` events per spectrum; ~50× faster than a Poisson draw
    per channel for sparse spectra."""
    n, channels = conc.shape[0], bg.size
    shapes = np.concatenate([bg[None], scatter[None], peaks])
    weights = np.concatenate([np.full((n, 1), 0.45), np.full((n, 1), 0.15), 0.4 * conc], 1)
    cdfs = np.cumsum(shapes, 1)
    # a line above the last channel (few channels) has an all-zero shape: it emits no events
    empty = cdfs[:, -1] <= 0
    weights[:, empty] = 0.0
    cdfs[empty] = np.linspace(0, 1, channels)
    cdfs /= cdfs[:, -1:]
    # inverse-CDF lookup tables: one random integer per event instead of a binary search
    table_size = 1 << 16
    tables = [
        np.searchsorted(cdf, (np.arange(table_size) + 0.5) / table_size, side="right").clip(
            0, channels - 1
        )
        for cdf in cdfs
    ]
    events = rng.poisson(weights * counts)  # (N, K)
    out = np.empty((n, channels), "<u2")
    block = max(1, (8 << 20) // (4 * channels))
    for a in range(0, n, block):
        b = min(n, a + block)
        flat = []
        for k in range(shapes.shape[0]):
            m = events[a:b, k]
            who = np.repeat(np.arange(b - a), m)
            ch = tables[k][rng.integers(0, table_size, who.size)]
            flat.append(who * channels + ch)
        hist = np.bincount(np.concatenate(flat), minlength=(b - a) * channels)
        out[a:b] = np.minimum(hist, 65535).reshape(b - a, channels)
    return out

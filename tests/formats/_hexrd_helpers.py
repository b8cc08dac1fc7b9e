"""Test data shared by the hexrd-family format tests."""

import numpy as np


def omega(n: int) -> np.ndarray:
    """hexrd's per-frame ``omega`` metadata: ``(n, 2)`` start/stop angles (degrees), 0.25 apart."""
    start = np.arange(n) * 0.25
    return np.stack([start, start + 0.25], axis=1)

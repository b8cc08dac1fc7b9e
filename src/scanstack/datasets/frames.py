"""Synthetic detector frames, generated block by block (any size, no memory in proportion)."""

from __future__ import annotations

import numpy as np


class SyntheticFrames:
    """Deterministic pseudo-random frames generated block by block (for tests and benchmarks).

    ``SyntheticFrames(n, (rows, cols), depth)[a:b]`` is ``(b - a, rows, cols)``. Frame ``i`` is
    one of 16 noise patterns (counts 0..7, 0..1 at depth 1; chosen by ``(seed, i)``) plus a hot
    pixel of value ``2**depth - 1`` at ``(i % rows, 2 * i % cols)``, so frames are distinct,
    any block is reproducible on its own and generating a block costs about one memory copy.
    """

    PATTERNS = 16

    def __init__(self, n: int, shape: tuple[int, int], depth: int = 12, seed: int = 0):
        self.shape = (int(n), *map(int, shape))
        self.depth = depth
        self.seed = seed
        self.dtype = np.dtype({1: np.uint8, 6: np.uint8, 12: np.uint16, 24: np.uint32}[depth])
        self._patterns: np.ndarray | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def patterns(self) -> np.ndarray:
        if self._patterns is None:
            rng = np.random.default_rng(self.seed)
            top = min((1 << self.depth) - 1, 7)
            self._patterns = rng.integers(
                0, top + 1, size=(self.PATTERNS, *self.shape[1:]), dtype=self.dtype
            )
        return self._patterns

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return self[int(key) : int(key) + 1][0]
        start, stop, _ = key.indices(self.shape[0])
        idx = np.arange(start, max(start, stop), dtype=np.int64)
        rows, cols = self.shape[1:]
        which = (idx * 7 + self.seed) % self.PATTERNS
        block = np.take(self.patterns(), which, axis=0)
        block[np.arange(idx.size), idx % rows, (2 * idx) % cols] = (1 << self.depth) - 1
        return block

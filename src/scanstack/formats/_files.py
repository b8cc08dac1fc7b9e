"""Series of frames spread over several files (raw-image, image-files, split MIB sets)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def file_runs(starts, start: int, stop: int) -> Iterator[tuple[int, int, int, int]]:
    """Split frames ``start:stop`` of a series over its files.

    ``starts`` holds the first frame of each file and, last, the total (``len(files) + 1``
    increasing integers, e.g. ``cumsum([0, *frames_per_file])``). Yields
    ``(file index, first frame in the file, end frame in the file, offset in the output)`` for
    every file that holds some of the frames, in order; empty files are skipped.
    """
    first = max(int(np.searchsorted(starts, start, side="right")) - 1, 0)
    for k in range(first, len(starts) - 1):
        lo, hi = int(starts[k]), int(starts[k + 1])
        if lo >= stop:
            break
        a, b = max(start, lo), min(stop, hi)
        if a < b:
            yield k, a - lo, b - lo, a - start

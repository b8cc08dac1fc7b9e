"""Memory measurement shared by the benchmark scripts (imported as a sibling module)."""

from __future__ import annotations

import gc
import threading

import psutil


class PeakRSS:
    """Peak resident memory (bytes) added while the ``with`` block runs, sampled every 5 ms.

    ``added`` is the peak minus the resident size at entry (after a garbage collection).
    """

    def __init__(self):
        self._proc = psutil.Process()
        self.base = self.peak = 0

    def __enter__(self):
        gc.collect()
        self.base = self.peak = self._proc.memory_info().rss
        self._done = threading.Event()
        self._watcher = threading.Thread(target=self._sample, daemon=True)
        self._watcher.start()
        return self

    def _sample(self):
        while not self._done.wait(0.005):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc):
        self._done.set()
        self._watcher.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)

    @property
    def added(self) -> int:
        return self.peak - self.base

"""A small progress reporter: a text bar on a terminal, silent otherwise.

Long jobs (statistics, conversions, frame extraction) accept ``progress=`` which may be ``True``
(a bar on stderr), ``False``/``None`` (silent) or a callable ``f(done, total)``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

ProgressArg = bool | Callable[[int, int], None] | None


class Progress:
    """Counts units of work and reports them; use as a context manager."""

    def __init__(self, total: int, progress: ProgressArg = None, label: str = "", unit: str = ""):
        from .config import config

        self.total = max(int(total), 0)
        self.done = 0
        self.label = label
        self.unit = unit
        if progress is None:
            progress = config.progress
        self._callback = progress if callable(progress) else None
        self._bar = progress is True
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._last_drawn = -1

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        if self._bar and exc[0] is None:
            if self._last_drawn != self.done:
                self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._callback is not None:
            self._callback(self.done, self.total)
        if self._bar:
            now = time.perf_counter()
            if now - self._last_draw > 0.1 or self.done >= self.total:
                self._draw()
                self._last_draw = now

    def _draw(self) -> None:
        self._last_drawn = self.done
        elapsed = time.perf_counter() - self._start
        frac = self.done / self.total if self.total else 1.0
        width = 30
        filled = int(round(frac * width))
        rate = self.done / elapsed if elapsed > 0 else 0.0
        text = (
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.done}/{self.total} {self.unit} {elapsed:5.1f}s ({rate:,.0f} {self.unit}/s)"
        )
        sys.stderr.write(text)
        sys.stderr.flush()

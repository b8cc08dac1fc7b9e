"""Progress reporting for long jobs, drawn by tqdm with tqdm's own conventions.

Long jobs (statistics, conversions, frame extraction) accept ``progress=`` which may be ``True``
(a tqdm bar on stderr), ``False`` (silent), ``None`` (``config.progress`` decides) or a callable
``f(done, total)``. The bar comes from ``tqdm.auto``: a widget in a Jupyter notebook, text on a
terminal, and nothing at all when stderr is not a terminal (``disable=None``), so logs and pipes
get no carriage-return spam. ``scanstack ... --quiet`` passes ``progress=False``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

ProgressArg = bool | Callable[[int, int], None] | None


def _bar(total: int, label: str, unit: str) -> Any:
    """A tqdm bar (notebook-aware), disabled when stderr is not a terminal."""
    import warnings

    with warnings.catch_warnings():
        # tqdm.auto warns when a notebook lacks ipywidgets and falls back to text: that's fine
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

    return tqdm(
        total=total,
        desc=label or None,
        unit=unit or "it",
        file=sys.stderr,
        disable=None,  # tqdm's convention: no bar when the output is not a terminal
        mininterval=0.1,
        dynamic_ncols=True,
    )


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
        # the bar is created on entry so that a Progress never entered draws nothing
        self._want_bar = progress is True
        self._bar: Any = None
        self._lock = threading.Lock()  # threads folding or copying their runs report here

    def __enter__(self) -> Progress:
        if self._want_bar:
            self._bar = _bar(self.total, self.label, self.unit)
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def update(self, n: int = 1) -> None:
        """``n`` more units done; thread-safe (the callback and the bar see one count at a time)."""
        with self._lock:
            self.done += n
            if self._callback is not None:
                self._callback(self.done, self.total)
            if self._bar is not None:
                self._bar.update(n)

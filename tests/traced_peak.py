"""The peak of Python allocations (tracemalloc) while one call runs, for the memory tests.

Importable from every test folder: pytest puts ``tests/`` (the folder of the root conftest) on
``sys.path``.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any


def traced_peak(func: Callable[[], Any], warm_up: bool = True) -> tuple[Any, int]:
    """``(func(), peak bytes allocated while it ran)``.

    ``warm_up`` calls ``func`` once untraced first, so that imports, numba loading or compiling
    and thread pools (not the call's working memory) stay out of the figure.
    """
    if warm_up:
        func()
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        result = func()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak

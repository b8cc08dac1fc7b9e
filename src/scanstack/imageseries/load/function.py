"""hexrd's ``function`` adapter: ``open(None, 'function', func=f, num_frames=n, meta={})``."""

from __future__ import annotations

from typing import Any

from . import FormatAdapter, MissingOptionError


class FunctionImageSeriesAdapter(FormatAdapter):
    """Frame ``i`` is ``func(i)``; ``func(0)`` is called once to learn shape and dtype.

    Unlike hexrd, slices and integer arrays work too (they call ``func`` once per frame).
    """

    format = "function"

    def __init__(self, fname: Any = None, **kwargs: Any):
        for key in ("func", "num_frames"):
            if key not in kwargs:
                raise MissingOptionError(f"the function format needs {key}=")
        super().__init__(fname, **kwargs)

"""hexrd's ``frame-cache`` adapter (npz, fch5 or legacy YAML; ``style=``, ``path=`` for fch5 in a group)."""

from __future__ import annotations

from typing import Any

from ...formats.framecache import check_style
from . import FormatAdapter


class FrameCacheImageSeriesAdapter(FormatAdapter):
    """Reads with scanstack's ``frame-cache`` reader; keyword arguments as in hexrd.

    An unknown ``style`` raises :class:`~scanstack.formats._hexrd.StyleError` (a ``TypeError``,
    as in hexrd) before the file is looked at. hexrd's ``max_workers`` is scanstack's
    ``threads``.
    """

    format = "frame-cache"

    def __init__(self, fname: Any, **kwargs: Any):
        check_style(kwargs.get("style"), fname)
        if "max_workers" in kwargs:
            kwargs["threads"] = kwargs.pop("max_workers")
        super().__init__(fname, **kwargs)

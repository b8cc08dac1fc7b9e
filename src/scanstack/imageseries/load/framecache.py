"""hexrd's ``frame-cache`` adapter (npz, fch5 or legacy YAML; ``style=``, ``path=`` for fch5 in a group)."""

from __future__ import annotations

from . import FormatAdapter


class FrameCacheImageSeriesAdapter(FormatAdapter):
    """Reads with scanstack's ``frame-cache`` reader; keyword arguments as in hexrd."""

    format = "frame-cache"

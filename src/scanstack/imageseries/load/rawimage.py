"""hexrd's ``raw-image`` adapter: a YAML description of headerless binary frames."""

from __future__ import annotations

from . import FormatAdapter


class RawImageSeriesAdapter(FormatAdapter):
    """Reads with scanstack's ``raw-image`` reader; keyword arguments as in hexrd."""

    format = "raw-image"

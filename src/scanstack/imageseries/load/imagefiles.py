"""hexrd's ``image-files`` adapter: a YAML file (or YAML text) listing image files read with fabio."""

from __future__ import annotations

from . import FormatAdapter


class ImageFilesImageSeriesAdapter(FormatAdapter):
    """Reads with scanstack's ``image-files`` reader; keyword arguments as in hexrd."""

    format = "image-files"

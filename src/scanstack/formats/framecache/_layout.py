"""The frame-cache layout shared by its reader and writer: keys, limits, styles, the header."""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from ...core.errors import FormatError
from .._hexrd import StyleError

VERSION_ATTR = "HEXRD_FRAMECACHE_VERSION"
JSON_KEY = "__scanstack_metadata_json__"
HEADER_KEYS = ("shape", "nframes", "dtype")
FRAME_KEY = re.compile(r"^\d+_(row|col|data)$")
MAX_NZ_FRACTION = 0.1  # hexrd warns when more than 10 % of the pixels pass the threshold
MAX_INDEX = 1 << 16  # uint16 indices address at most 65536 rows/cols
ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
STYLES = {"npz": "npz", "fch5": "fch5", "yml": "yml", "yaml": "yml", "test": "yml"}


def check_style(style: str | None, source: Any = None) -> str | None:
    """The canonical reading style (``'npz'``, ``'fch5'``, ``'yml'``) of ``style``, or None.

    Raises :class:`StyleError` (also a ``TypeError``, as hexrd) for an unknown style, before any
    file is touched.
    """
    if not style:
        return None
    if style not in STYLES:
        name = source if isinstance(source, (str, os.PathLike)) else None
        raise StyleError(
            f"unknown frame-cache style {style!r}; expected one of npz, fch5, yml", name, "style"
        )
    return STYLES[style]


def _text(value) -> str:
    value = value.item() if isinstance(value, np.ndarray) else value
    return value.decode() if isinstance(value, bytes) else str(value)


def _check_header(
    path, shape, nframes, dtype, where: str = ""
) -> tuple[tuple[int, int], int, np.dtype]:
    try:
        shape_t = tuple(int(n) for n in np.asarray(shape).reshape(-1))
        n = int(np.asarray(nframes).reshape(-1)[0]) if np.size(nframes) else -1
    except (TypeError, ValueError) as exc:
        raise FormatError(
            f"frame-cache header: shape/nframes are not integers: {exc}", path, where or "shape"
        ) from exc
    if len(shape_t) != 2 or min(shape_t) < 0:
        raise FormatError(
            f"frame-cache header: expected shape [rows, cols], found {shape_t}",
            path,
            where + "shape",
        )
    if n < 0:
        raise FormatError(
            f"frame-cache header: expected nframes >= 0, found {n}", path, where + "nframes"
        )
    try:
        dt = np.dtype(_text(dtype))
    except TypeError as exc:
        raise FormatError(
            f"frame-cache header: unknown dtype {_text(dtype)!r}", path, where + "dtype"
        ) from exc
    if dt.kind not in "biuf":
        raise FormatError(
            f"frame-cache header: expected a numeric dtype, found {dt}", path, where + "dtype"
        )
    return shape_t, n, dt

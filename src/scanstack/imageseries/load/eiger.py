"""hexrd's ``load.eiger.decompress_frame``: one DECTRIS stream frame from its entry dict."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...formats.eiger_stream import codec

__all__ = ["decompress_frame"]


def decompress_frame(d: dict[str, Any]) -> np.ndarray:
    """The frame described by ``d`` (hexrd's keys ``data``, ``dtype``, ``shape``, ``elem_size``,
    ``compression_type``: ``None``/``'none'``, ``'lz4'``, ``'bslz4'`` or ``'csrnpz'``).

    Raises ``ValueError("Unsupported compression type: ...")`` for anything else, as hexrd, and
    for bytes that do not make the frame the entry describes.
    """
    dtype = np.dtype(d["dtype"])
    shape = tuple(int(v) for v in np.atleast_1d(d["shape"]))
    raw = np.asarray(d["data"]).tobytes()
    elem_size = int(np.asarray(d.get("elem_size", dtype.itemsize)).reshape(-1)[0])
    return codec.decode(raw, d["compression_type"], dtype, shape, elem_size)

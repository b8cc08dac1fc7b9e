"""``Stack._repr_html_``: what Jupyter shows for a stack, in the manner of xarray and dask.

Everything shown comes from what the reader learnt at open (shape, dtype, axes, metadata) and from
arithmetic on it (size, dask chunks): rendering never reads a frame.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np

#: metadata keys shown in the summary, in this order, when present and not empty
KEY_METADATA = (
    "title",
    "format",
    "signal_type",
    "original_file",
    "acquisition_time",
    "acquisition_time_local",
    "dwell_time",
    "instrument",
)

_STYLE = (
    "<style>.scanstack-repr table{border-collapse:collapse;margin:2px 0}"
    ".scanstack-repr th,.scanstack-repr td{padding:1px 8px;text-align:left;"
    "border-bottom:1px solid #ddd;font-family:monospace}"
    ".scanstack-repr th{background:rgba(127,127,127,.12)}</style>"
)


def human_bytes(n: int) -> str:
    """``n`` bytes in B, kB, MB, GB, TB (powers of 1000, as dask shows them)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.2f} {unit}"
        value /= 1000
    return f"{n} B"  # pragma: no cover - the loop always returns


def _e(value: Any) -> str:
    return html.escape(str(value))


def _axis_row(axis, dim: str) -> str:
    if axis.is_uniform:
        coords = f"{axis.offset:.6g} + i × {axis.scale:.6g}"
    else:
        values = np.asarray(axis.values)
        coords = "non-uniform" + (
            f", {values[0]:.6g} … {values[-1]:.6g}"
            if values.size and values.dtype.kind in "iuf"
            else ""
        )
    kind = "navigation" if axis.navigate else "signal"
    return (
        f"<tr><td>{_e(dim)}</td><td>{kind}</td><td>{axis.size}</td>"
        f"<td>{_e(axis.units) or '—'}</td><td>{_e(coords)}</td></tr>"
    )


def _metadata_value(value: Any) -> str:
    if isinstance(value, dict):
        shown = ", ".join(
            f"{k}: {v}" for k, v in value.items() if isinstance(v, (str, int, float)) and v != ""
        )
        return shown[:200]
    return str(value)[:200]


def stack_html(stack: Any) -> str:
    """An HTML summary of ``stack`` (no data read)."""
    metadata = stack.metadata if isinstance(stack.metadata, dict) else {}
    fmt = getattr(stack, "format", None) or metadata.get("format", "")
    dtype = np.dtype(stack.dtype)
    chunks = stack.default_chunks()
    chunk_bytes = math.prod(chunks) * dtype.itemsize
    nchunks = math.prod(-(-n // c) if c else 0 for n, c in zip(stack.shape, chunks, strict=True))
    names = [a.name for a in stack.axes]
    head = (
        f"<b>&lt;{_e(type(stack).__name__)}&gt;</b> {_e(fmt)} "
        f"({', '.join(f'{_e(n)}: {s}' for n, s in zip(names, stack.shape, strict=True))})"
    )
    summary = [
        ("navigation shape", stack.nav_shape),
        ("signal shape", stack.signal_shape),
        ("dtype", dtype.name),
        (
            "size",
            f"{human_bytes(stack.nbytes)} ({stack.nframes} frames of "
            f"{human_bytes(stack.frame_nbytes)})",
        ),
        ("chunks (dask)", f"{chunks}, {nchunks} chunks of {human_bytes(chunk_bytes)}"),
    ]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in summary)
    axes = "".join(_axis_row(a, n) for a, n in zip(stack.axes, names, strict=True))
    meta = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(_metadata_value(metadata[k]))}</td></tr>"
        for k in KEY_METADATA
        if metadata.get(k) not in (None, "", {}, [])
    )
    return (
        f"{_STYLE}<div class='scanstack-repr'><div>{head}</div>"
        f"<table>{rows}</table>"
        "<table><tr><th>axis</th><th>kind</th><th>size</th><th>units</th>"
        f"<th>coordinates</th></tr>{axes}</table>"
        + (
            f"<details open><summary>metadata</summary><table>{meta}</table></details>"
            if meta
            else ""
        )
        + "</div>"
    )

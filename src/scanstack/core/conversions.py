"""A stack handed to other libraries: dask, xarray and RosettaSciIO's dicts (HyperSpy's lives in
``hyperspy_signal``). Each is lazy unless asked otherwise; the :class:`~.stack.Stack` methods of
the same names call these."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .stack import Stack


def unique_names(names: list[str]) -> list[str]:
    """Dimension names: repeated names get ``_1``, ``_2``... (xarray, napari)."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        if n in seen:
            seen[n] += 1
            out.append(f"{n}_{seen[n]}")
        else:
            seen[n] = 0
            out.append(n)
    return out


class DaskSource:
    """What dask's ``from_array`` reads from: an array-like over a stack, reading only the
    frames and frame region each chunk asks for (:func:`.outer.read_outer`)."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.shape = stack.shape
        self.dtype = np.dtype(stack.dtype)
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        from .outer import read_outer

        return read_outer(self.stack, key)


def to_dask(stack: Stack, chunks: Any = None):
    """A dask array of shape ``nav_shape + signal_shape``; chunks default to whole frames
    (:meth:`Stack.default_chunks`)."""
    import dask.array as da

    if chunks is None or chunks == "auto":
        chunks = stack.default_chunks()
    return da.from_array(
        DaskSource(stack),
        chunks=chunks,
        lock=False,
        asarray=True,
        fancy=False,
        meta=np.empty((0,) * stack.ndim, stack.dtype),
        name=f"scanstack-{stack.token}",
    )


def to_xarray(stack: Stack, lazy: bool = True):
    """An ``xarray.DataArray`` (dask-backed if ``lazy``), built by the xarray backend's code."""
    try:
        from .xarray_backend import to_dataarray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from .errors import UnsupportedError

        raise UnsupportedError("to_xarray needs xarray: pip install 'scanstack[xarray]'") from exc
    return to_dataarray(stack, stack.to_dask() if lazy else stack.to_numpy())


def to_rsciio_dicts(stack: Stack, lazy: bool = True) -> list[dict]:
    """RosettaSciIO's return value: ``[{'data', 'axes', 'metadata', 'original_metadata'}]``,
    axes in array order."""
    data = stack.to_dask() if lazy else stack.to_numpy()
    axes = []
    for i, axis in enumerate(stack.axes):
        d = axis.to_dict()
        d["index_in_array"] = i
        axes.append(d)
    from .hyperspy_signal import hyperspy_metadata

    # a format that mirrors RosettaSciIO's own reader gives its tree key for key
    metadata = getattr(stack, "rsciio_metadata", None) or hyperspy_metadata(stack)
    return [
        {
            "data": data,
            "axes": axes,
            "metadata": copy.deepcopy(metadata),
            "original_metadata": copy.deepcopy(stack.original_metadata),
        }
    ]

"""A :class:`~scanstack.core.stack.Stack` as a napari image layer data tuple (no napari import)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.axes import Axis
from ..core.conversions import unique_names
from ..core.stack import Stack

#: napari's layer data tuple: (data, layer keyword arguments, layer type)
LayerData = tuple[Any, dict[str, Any], str]


#: labels files use for "no physical unit" that pint would misread ("a.u." parses as
#: atomic mass unit times year)
NOT_UNITS = frozenset({"a.u.", "au", "arb", "arb.", "arb. u.", "arb. units", "arbitrary units"})


def napari_units(units: str) -> str:
    """``units`` if pint (napari's unit library) parses it as napari does, else ``"pixel"``.

    napari refuses a layer whose units pint does not know, and a file may say anything
    (``"a.u."``, ``""``); the file's text stays in the layer metadata (``metadata['axes']``).
    """
    if not units or units.strip().lower() in NOT_UNITS:
        return "pixel"
    try:
        import pint

        _ = pint.get_application_registry().parse_expression(units).units
    except Exception:  # pint missing or the text not a unit: napari would refuse the layer
        return "pixel"
    return units


def axis_geometry(axis: Axis) -> tuple[float, float]:
    """``(scale, translate)`` of an axis: its step and first coordinate.

    A non-uniform axis (explicit ``values``) is shown on its mean step from the first to the last
    value (napari layers are affine); the exact coordinates stay in ``metadata['axes']``.
    """
    if axis.values is None or axis.size < 2:
        first = float(axis.coordinates[0]) if axis.size else 0.0
        return (float(axis.scale) if axis.values is None else 1.0), first
    v = axis.values.astype(float)
    step = (v[-1] - v[0]) / (axis.size - 1)
    return (step if step != 0 else 1.0), float(v[0])


def placement(axes: Sequence[Axis]) -> dict[str, tuple]:
    """napari's ``scale``, ``translate`` and ``units`` of a layer over ``axes``."""
    geometry = [axis_geometry(a) for a in axes]
    return {
        "scale": tuple(g[0] for g in geometry),
        "translate": tuple(g[1] for g in geometry),
        "units": tuple(napari_units(a.units) for a in axes),
    }


def stack_layer(stack: Stack, name: str | None = None) -> LayerData:
    """One lazy image layer over ``stack``.

    Frames (2-D signal) are displayed and the navigation axes are sliders, in the stack's order.
    A spectrum stack (1-D signal) is moved signal-first: the energy axis is a slider and the
    scan (the last two navigation axes) is displayed; each energy plane then reads every
    spectrum (napari asks for one plane at a time). Nothing is read here: ``data`` is
    ``stack.to_dask()`` (transposed for spectra) and the contrast limits are left to napari,
    which computes them from the first displayed plane.
    """
    axes = stack.axes
    data = stack.to_dask()
    order = list(range(len(axes)))
    if len(stack.signal_axes) == 1 and len(stack.nav_axes) >= 1:
        order = [len(axes) - 1, *range(len(axes) - 1)]
        data = data.transpose(order)
    shown = [axes[i] for i in order]
    kwargs: dict[str, Any] = {
        "name": name or _stack_name(stack),
        **placement(shown),
        "axis_labels": tuple(unique_names([a.name or f"axis{i}" for i, a in enumerate(shown)])),
        "metadata": {
            "scanstack_format": getattr(stack, "format", None),
            "path": getattr(stack, "path", None),
            "axes": [a.to_dict() for a in shown],
        },
    }
    return data, kwargs, "image"


def _stack_name(stack: Stack) -> str:
    from pathlib import Path

    path = getattr(stack, "path", None)
    return Path(path).name if path else "scanstack"

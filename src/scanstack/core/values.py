"""Checks on what a file declares: a numeric dtype, and values that fit the dtype they go into.

A value that does not fit its declared dtype is an error, never a silent wrap-around (999 into
``uint8`` is not 231), truncation (1.5 into an integer type is not 1) or overflow (1e12 into
``uint16``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import FormatError

#: dtype kinds a stack's frames may have: bool, signed and unsigned integers, floats, complex
NUMERIC_KINDS = "biufc"


def numeric_dtype(value: Any, path=None, where=None) -> np.dtype:
    """``np.dtype(value)`` when it is a numeric dtype, else a :class:`FormatError` naming ``path``
    and ``where`` (the dataset, key or option that declared it)."""
    try:
        dt = np.dtype(value)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"expected a numeric dtype, found {value!r}", path, where) from exc
    if dt.kind not in NUMERIC_KINDS:
        raise FormatError(
            f"expected a numeric dtype (bool, integer, float or complex), found {dt}",
            path,
            where,
        )
    return dt


def cast_exact(values: np.ndarray, dtype: Any, path=None, where=None) -> np.ndarray:
    """``values`` as ``dtype``; a :class:`FormatError` when a value would change on the way.

    Into integer and bool types every value must survive the round trip (no wrap-around, no
    fraction or NaN dropped); into float types no finite value may overflow to infinity (rounding
    to the nearest float is allowed). Values of a non-numeric dtype (bytes, objects) are refused.
    """
    values = np.asarray(values)
    dtype = np.dtype(dtype)
    if values.dtype.kind not in NUMERIC_KINDS:
        raise FormatError(
            f"expected numbers for {dtype} frames, found values of dtype {values.dtype}",
            path,
            where,
        )
    if values.dtype == dtype or np.can_cast(values.dtype, dtype, "safe") or not values.size:
        return values.astype(dtype, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        out = values.astype(dtype)
        if dtype.kind in "biu":
            bad = out.astype(values.dtype) != values
        elif dtype.kind in "fc":
            bad = ~np.isfinite(out) & np.isfinite(values)
        else:
            bad = np.zeros(values.shape, bool)
    if np.any(bad):
        first = values[bad].reshape(-1)[0].item()
        raise FormatError(
            f"value {first!r} ({values.dtype}) does not fit the declared dtype {dtype} "
            f"({int(np.count_nonzero(bad))} such values)",
            path,
            where,
        )
    return out


def whole_number(value: Any, path=None, where=None, minimum: int | None = 0) -> int:
    """``value`` (an int, an integral float such as YAML's ``2.0``, or a digit string) as an int;
    a :class:`FormatError` for a fraction (``1.5`` is not silently 1), NaN, a bool, text, or a
    number below ``minimum``."""
    number: Any = value
    if isinstance(value, (str, bytes)):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    elif isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        number = None
    elif isinstance(value, (float, np.floating)):
        number = int(value) if np.isfinite(value) and float(value).is_integer() else None
    if number is None:
        raise FormatError(f"expected a whole number, found {value!r}", path, where)
    number = int(number)
    if minimum is not None and number < minimum:
        raise FormatError(f"expected a whole number >= {minimum}, found {number}", path, where)
    return number

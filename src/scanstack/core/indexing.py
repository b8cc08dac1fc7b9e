"""How a key indexes a stack: frame numbers are integers (never floats or bools), and keys over
the signal dimensions split into a region the reader can read plus what numpy applies after."""

from __future__ import annotations

import numbers
import operator
from typing import Any

import numpy as np

from .errors import FrameIndexError
from .reader import Region, normalize_region


def is_integer(key: Any) -> bool:
    return isinstance(key, numbers.Integral) and not isinstance(key, (bool, np.bool_))


def is_unit_step(key: Any) -> bool:
    """A slice with step 1 (or none): a reader can read it as a region."""
    return isinstance(key, slice) and key.step in (None, 1)


def is_identity(key: Any) -> bool:
    """A slice that keeps every item in order (``:``, ``::1``): indexing with it changes nothing."""
    return is_unit_step(key) and key.start is None and key.stop is None


def frame_number(value: Any) -> int:
    """``value`` as a frame number: any integer type; a float or a bool is a FrameIndexError."""
    if not is_integer(value):
        raise FrameIndexError(f"frame numbers are integers, not {value!r}")
    return operator.index(value)


def split_signal_key(keys: tuple, signal_shape: tuple[int, ...]) -> tuple[Region | None, tuple]:
    """Split keys over the signal dims into a readable region plus what to apply after reading."""
    if not keys:
        return None, ()
    if len(keys) <= len(signal_shape) and all(is_unit_step(k) for k in keys):
        return normalize_region(keys, signal_shape), ()
    return None, tuple(keys)

"""Shared sniffing helpers: the preamble every HDF5-based ``sniff(probe)`` would repeat."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..core.registry import Probe

#: what reading a foreign or damaged HDF5 file may raise while sniffing it
H5_SNIFF_ERRORS: tuple[type[BaseException], ...] = (OSError, KeyError, ValueError, TypeError)


def h5_sniffer(
    test: Callable[[Any], float] | None = None,
    *,
    errors: type[BaseException] | tuple[type[BaseException], ...] = H5_SNIFF_ERRORS,
):
    """Turn ``test(f) -> confidence`` over an open read-only ``h5py.File`` into ``sniff(probe)``.

    The sniffer answers 0.0 without calling ``test`` when the probe is not a readable HDF5 file
    (:meth:`Probe.h5` is None), and 0.0 when ``test`` raises one of ``errors``. Use as
    ``@h5_sniffer`` or ``@h5_sniffer(errors=Exception)``.
    """
    if test is None:
        return functools.partial(h5_sniffer, errors=errors)

    @functools.wraps(test)
    def sniff(probe: Probe) -> float:
        f = probe.h5()
        if f is None:
            return 0.0
        try:
            return test(f)
        except errors:
            return 0.0

    return sniff


__all__ = ["h5_sniffer", "H5_SNIFF_ERRORS"]

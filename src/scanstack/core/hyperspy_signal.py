"""HyperSpy integration: ``Stack.to_hyperspy`` and the metadata tree HyperSpy (and RosettaSciIO)
expect.

HyperSpy is imported inside :func:`to_hyperspy` only (it takes seconds to import); the metadata
mapping is plain dictionaries, also used by ``Stack.to_rsciio_dicts``.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from .metadata import to_jsonable

#: scanstack ``signal_type`` -> HyperSpy's: "XRF" follows HyperSpy's upper-case names for X-ray
#: spectra (EDS_SEM, EDS_TEM); the others are already the names of HyperSpy extensions (pyxem's
#: "electron_diffraction"); "image" is HyperSpy's plain Signal2D ("")
HYPERSPY_SIGNAL_TYPES = {"xrf": "XRF", "image": ""}

#: the part of ``metadata["instrument"]`` copied to ``Acquisition_instrument.Detector``: scalars
_SCALARS = (str, int, float, bool)


def hyperspy_metadata(stack: Any) -> dict:
    """HyperSpy's metadata tree for ``stack``.

    ``General``: ``title``, ``original_filename`` (base name), ``date``/``time`` (ISO) and
    ``time_zone`` "UTC" from ``acquisition_time`` (UTC), or ``date``/``time`` without a zone from
    ``acquisition_time_local``. ``Signal.signal_type`` (see :data:`HYPERSPY_SIGNAL_TYPES`).
    ``Acquisition_instrument``: ``dwell_time`` (s) and the instrument's scalar fields under
    ``Detector``. A format's own RosettaSciIO tree (``stack.rsciio_metadata``, e.g. Merlin's)
    is laid over this, key by key.
    """
    metadata = stack.metadata
    general: dict[str, Any] = {"title": metadata.get("title") or ""}
    if metadata.get("original_file"):
        general["original_filename"] = os.path.basename(str(metadata["original_file"]))
    for key, zone in (("acquisition_time", "UTC"), ("acquisition_time_local", None)):
        moment = metadata.get(key)
        if isinstance(moment, str) and "T" in moment:
            general["date"], general["time"] = moment.rstrip("Z").split("T", 1)
            if zone:
                general["time_zone"] = zone
            break
    ours = str(metadata.get("signal_type") or "")
    tree: dict[str, Any] = {
        "General": general,
        "Signal": {"signal_type": HYPERSPY_SIGNAL_TYPES.get(ours, ours)},
    }
    instrument: dict[str, Any] = {}
    if isinstance(metadata.get("dwell_time"), (int, float)):
        instrument["dwell_time"] = float(metadata["dwell_time"])
    detector = metadata.get("instrument")
    if isinstance(detector, dict):
        fields = {k: v for k, v in to_jsonable(detector).items() if isinstance(v, _SCALARS)}
        if fields:
            instrument["Detector"] = fields
    if instrument:
        tree["Acquisition_instrument"] = instrument
    _lay_over(tree, copy.deepcopy(getattr(stack, "rsciio_metadata", None) or {}))
    return tree


def _lay_over(base: dict, top: dict) -> None:
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _lay_over(base[key], value)
        else:
            base[key] = value


def to_hyperspy(stack: Any, lazy: bool = True, signal_type: str | None = None):
    """``stack`` as a HyperSpy signal (see ``Stack.to_hyperspy``)."""
    try:
        from hyperspy.io import dict2signal
    except ImportError as exc:  # pragma: no cover - depends on the environment
        from .errors import UnsupportedError

        raise UnsupportedError(
            "to_hyperspy needs HyperSpy: pip install 'scanstack[hyperspy]'"
        ) from exc
    (d,) = stack.to_rsciio_dicts(lazy=lazy)
    d["metadata"] = hyperspy_metadata(stack)  # ours, with the format's RosettaSciIO tree on top
    if signal_type is not None:
        d["metadata"]["Signal"]["signal_type"] = signal_type
    d["original_metadata"] = _browsable(to_jsonable(d["original_metadata"]))
    import logging

    # HyperSpy logs a warning for a signal type no installed extension registers ("XRF"): the
    # mapped type is deliberate, so that warning is held back unless the caller chose the type
    log = logging.getLogger("hyperspy.io")
    level = log.level
    if signal_type is None:
        log.setLevel(logging.ERROR)
    try:
        return dict2signal(d, lazy=lazy)
    finally:
        log.setLevel(level)


def _browsable(tree: Any) -> Any:
    """``tree`` with keys HyperSpy's DictionaryTreeBrowser cannot hold renamed: a key with leading
    underscores (.NET's ``__class__`` in CRONO's decoded settings) loses them (``class__``),
    with a ``_1``... suffix when that name is taken."""
    if isinstance(tree, list):
        return [_browsable(v) for v in tree]
    if not isinstance(tree, dict):
        return tree
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = str(key).lstrip("_") or "key"
        base, n = name, 0
        while name in out or (name != key and name in tree):
            n += 1
            name = f"{base}_{n}"
        out[name] = _browsable(value)
    return out

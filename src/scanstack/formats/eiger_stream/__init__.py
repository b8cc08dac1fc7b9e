"""hexrd's Eiger stream formats: DECTRIS stream frames saved to HDF5, one group per frame.

- ``eiger-stream-v1``: ``/data/<i>/{data, dtype, shape, elem_size, compression_type}``;
- ``eiger-stream-v2``: ``/data/<i>/threshold_1/...`` and ``threshold_2/...``, read with
  ``threshold_setting='threshold_1' | 'threshold_2' | 'man_diff'`` and ``multiplier``.

Compression ``bslz4``, ``lz4`` (decoded with the LZ4/bitshuffle code hdf5plugin ships, no
``dectris-compression`` needed), ``csrnpz`` (scipy sparse) or none. Layout: :mod:`.reader`;
byte formats: :mod:`.codec`; writing: :mod:`.writer`.
"""

from __future__ import annotations

from ...core.registry import FormatSpec, Probe
from .._hexrd import probe_h5
from .reader import (
    THRESHOLD_SETTINGS,
    EigerStreamReader,
    EigerStreamV2Reader,
    ThresholdSettingError,
    check_threshold_setting,
)
from .writer import write_eiger_stream, write_v1, write_v2


def _version(probe: Probe) -> int | None:
    """1 or 2 when the probe is an Eiger-stream file, else None (looks at /data/0 only)."""
    f = probe_h5(probe)
    if f is None:
        return None
    entry = f.get("data/0")
    if entry is None or not hasattr(entry, "keys"):
        return None
    if "compression_type" in entry or ("data" in entry and "elem_size" in entry):
        return 1
    if "threshold_1" in entry:
        return 2
    return None


def _spec(version: int, reader, writer, description: str) -> FormatSpec:
    """The FormatSpec of one version: the two differ only in reader, writer and description."""

    def sniff(probe: Probe) -> float:
        return 0.9 if _version(probe) == version else 0.0

    return FormatSpec(
        name=f"eiger-stream-v{version}",
        description=f"hexrd eiger-stream-v{version}: {description}",
        reader=reader,
        writer=writer,
        sniff=sniff,
        capabilities={"lazy": True, "region": True, "write": True, "threads": True},
    )


FORMAT_V1 = _spec(
    1,
    EigerStreamReader,
    write_v1,
    "DECTRIS stream frames in HDF5, one group per frame (bslz4, lz4, csrnpz or none); "
    "write with compression=",
)
FORMAT_V2 = _spec(
    2,
    EigerStreamV2Reader,
    write_v2,
    "two thresholds per frame; options threshold_setting=threshold_1|threshold_2|man_diff, "
    "multiplier=; write with threshold_2=, compression=",
)
FORMAT = FORMAT_V1

__all__ = [
    "FORMAT",
    "FORMAT_V1",
    "FORMAT_V2",
    "THRESHOLD_SETTINGS",
    "EigerStreamReader",
    "EigerStreamV2Reader",
    "ThresholdSettingError",
    "check_threshold_setting",
    "write_eiger_stream",
]

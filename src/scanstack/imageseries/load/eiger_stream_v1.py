"""hexrd's ``eiger-stream-v1`` adapter: ``open(fname_or_h5py_file, 'eiger-stream-v1')``."""

from __future__ import annotations

from . import FormatAdapter


class EigerStreamV1ImageSeriesAdapter(FormatAdapter):
    """Reads with scanstack's ``eiger-stream-v1`` reader (frames decoded lazily, in threads)."""

    format = "eiger-stream-v1"

"""Live sources as stacks: a Merlin detector's TCP stream (``merlin://HOST:PORT``).

>>> s = scanstack.open("merlin://127.0.0.1:6342", nav_shape=(256, 256), spill="scan.mib")
>>> s.frames_received                      # grows as frames arrive (a background thread)
>>> s[1000]                                # blocks until frame 1000 is there
>>> scanstack.stem.virtual_bf(s, r=30)     # every reduction runs over the stream
>>> scanstack.save(s, "scan.zarr")         # recorded while receiving, atomically

:mod:`.protocol` (framing), :mod:`.merlin` (client), :mod:`.stack` (:class:`LiveStack`, reusable
by any producer appending ``.mib`` frames to a file), :mod:`.simulator` (``scanstack simulate
merlin``), :mod:`.follow` (a ``.mib`` still being written, ``open(p, follow=True)``, and the
picture ``scanstack live`` refreshes).
"""

from __future__ import annotations

from ..core.registry import FormatSpec
from .merlin import open_merlin
from .protocol import LiveError
from .stack import LiveStack

FORMAT = FormatSpec(
    name="merlin",
    description="Quantum Detectors Merlin TCP stream (merlin://HOST:PORT): a live stack received "
    "into a spill .mib + .hdr",
    reader=open_merlin,
    schemes=("merlin",),
    capabilities={
        "lazy": True,
        "live": True,
        "source": "merlin://HOST[:PORT] (data port; control_port= to start the acquisition)",
    },
)

__all__ = ["FORMAT", "LiveError", "LiveStack", "open_merlin"]

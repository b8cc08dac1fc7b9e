"""Stacks whose frames are still arriving: a file being written, a detector stream.

A *growing stack* has its final shape from the start (``nav_shape`` is the whole scan) but only
``frames_available()`` of its frames can be read yet. Reading a frame that has not arrived waits
for it; when no new frame arrives for ``timeout`` seconds, :class:`StalledError` says how many
frames were seen and how many were expected. Because the shape is the final one, every reduction
(``stem.*``, ``stats.*``, previews) runs unchanged and simply finishes when the scan does.

The interface is three methods, so that a followed file and a live detector stream are driven
the same way (``scanstack live``, :class:`~scanstack.live.follow.LivePicture`, the napari layer
and :func:`scanstack.core.fold.fold_frames` use only these):

- ``frames_available() -> int``: complete frames readable now (never more than ``nframes``);
- ``wait_for(i, timeout=None) -> int``: block until frame ``i`` is readable, return
  ``frames_available()``; raises a :class:`~scanstack.core.errors.ScanstackError` when the
  source ended before (:class:`StalledError` when nothing arrived for ``timeout`` s);
- ``arrived() -> Stack``: an ordinary (not growing) flat stack of the frames complete now, with
  the source's zero-copy fast paths (a memory map of the file's complete part), so reductions
  fold the frames that have landed in place, batch by batch, as they do a file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from .errors import ScanstackError


class StalledError(ScanstackError, TimeoutError):
    """No new frame arrived within the timeout (the writer or the detector stopped).

    ``seen`` frames had arrived, ``expected`` were awaited for the whole scan.
    """

    def __init__(self, message: str, source: str | None, seen: int, expected: int):
        self.source, self.seen, self.expected = source, seen, expected
        super().__init__(f"{source or '<stream>'}: {message}")


@runtime_checkable
class Growing(Protocol):
    """What ``scanstack live`` needs of a source whose frames are still arriving."""

    nframes: int

    def frames_available(self) -> int: ...

    def wait_for(self, i: int, timeout: float | None = None) -> int: ...

    def arrived(self) -> Any: ...


#: seconds between two looks at a source that has not grown (short enough for a live picture,
#: long enough not to spin a core that other work needs)
POLL_S = 0.02


def wait_until(
    i: int,
    count: Callable[[], int],
    expected: int,
    timeout: float,
    source: str | None,
    what: str = "frames",
) -> int:
    """Poll ``count()`` until it exceeds ``i``; return it.

    ``timeout`` counts from the last time the count grew (a long scan that keeps arriving never
    times out; a writer that stops does). Raises :class:`StalledError` naming frames seen vs
    expected.
    """
    n = count()
    last, last_change = n, time.monotonic()
    while n <= i:
        now = time.monotonic()
        if n != last:
            last, last_change = n, now
        elif now - last_change >= timeout:
            raise StalledError(
                f"no new frame for {timeout:g} s: {n} of {expected} {what} arrived "
                f"(waiting for frame {i}); the writer stopped or the scan was cut short",
                source,
                n,
                expected,
            )
        time.sleep(POLL_S)
        n = count()
    return n

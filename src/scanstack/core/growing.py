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
  fold the frames that have landed in place, batch by batch, as they do a file;
- ``hold(start) -> Cursor``: a reader that goes through the frames in order from ``start``
  declares it, so that a source keeping only its latest frames (a live stream received into a
  ring of memory, nothing recorded) does not reuse a frame's memory before every reader has
  passed it. ``cursor.window`` is how many frames past its position a reader may wait for
  (None: any; a reader must never wait further, or the source could not deliver them);
  ``cursor.advance(n)`` says frames before ``n`` are no longer needed. Sources that keep every
  frame (a file) hand out :data:`KEEPS_ALL`. Such a source also says ``keeps_frames = False``
  (optional attribute, True when absent): ``scanstack.save`` refuses it, since writers read
  chunks in no fixed order.
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


class Cursor:
    """A reader's position over a growing stack that keeps every frame: nothing to release.

    Sources that reuse memory hand out a subclass whose :meth:`advance` releases frames.
    Use as a context manager: leaving it ends the reader's hold.
    """

    #: frames past the position a reader may wait for (None: no limit)
    window: int | None = None

    def advance(self, position: int) -> None:
        """Frames before ``position`` will not be read again by this reader."""

    def batch(self, frames: int) -> int:
        """``frames`` capped so that waiting for a batch of them never exceeds the window."""
        if self.window is None:
            return frames
        return max(1, min(frames, self.window // 2))

    def close(self) -> None:
        """End the hold (idempotent)."""

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: the cursor of a source that keeps every frame
KEEPS_ALL = Cursor()


@runtime_checkable
class Growing(Protocol):
    """What ``scanstack live`` needs of a source whose frames are still arriving."""

    nframes: int

    def frames_available(self) -> int: ...

    def wait_for(self, i: int, timeout: float | None = None) -> int: ...

    def arrived(self) -> Any: ...

    def hold(self, start: int) -> Cursor: ...


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

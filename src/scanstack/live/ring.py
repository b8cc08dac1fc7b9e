"""A live stream kept in a ring of memory instead of a spill file (``spill=False``).

Recording a stream costs what the disk can write (a 256×256 12-bit quad scan is 34 GB; the
page cache absorbs only part of it, the rest goes at the disk's rate). When only the live
pictures are wanted (alignment, a quick look — what LiberTEM-live does), the frames are received
into a ring of ``capacity`` frame records in memory and nothing is written.

Frame ``i`` lives in slot ``i % capacity``, byte for byte the ``.mib`` record, so the ``.mib``
format's reader decodes it (every counter depth, raw and processed, ``flip``) and the reductions'
zero-copy paths read it in place. The receiver may reuse a slot only when every reader holding a
:class:`RingCursor` has passed its frame (readers going through the frames in order — every
reduction, the live pictures, ``scanstack.save`` — hold one: they see every frame, and the
receiver waits for them, like a detector waiting for a slow network). Until the first reader
holds the ring no frame is dropped either (the receiver waits for it: a reduction started just
after ``scanstack.open`` sees the scan from frame 0); ``LiveStack.wait()`` for the whole scan lets
that go. Frames nobody holds are then overwritten as new ones arrive; reading one of those raises
:class:`LiveError` naming the frames still held, never returns another frame's data.
"""

from __future__ import annotations

import itertools
import mmap
import threading
from collections.abc import Callable

import numpy as np

from ..core.growing import Cursor
from ..core.stack import Stack
from ..formats.mib.reader import Geometry, MibReader, MibStack
from .protocol import LiveError

#: the hold of the first reader still to come
_FIRST = -1

#: how long the receiver sleeps between looks at a stop request while readers lag (s)
_STOP_POLL_S = 0.05


def anonymous_memory(nbytes: int) -> np.ndarray:
    """``nbytes`` of zeroed memory (uint8), its pages allocated now where the platform allows
    (``MAP_POPULATE``): a 256 MiB ring populated at once took 0.11 s here, its 65,536 pages
    faulted in one by one as the first frames landed 0.32 s, slowing the first lap's receiving."""
    flags = getattr(mmap, "MAP_POPULATE", None)
    if flags is None or not hasattr(mmap, "MAP_ANONYMOUS"):
        return np.zeros(nbytes, np.uint8)
    region = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | flags)
    return np.frombuffer(region, np.uint8)


class Ring:
    """The last ``capacity`` frame records of a stream, in memory (``capacity * stride`` bytes).

    The producer writes frame ``i`` into :meth:`claim` ``(i)`` (which waits for the readers), then
    publishes it; readers take :meth:`hold` cursors and read :meth:`part`.
    """

    def __init__(self, geometry: Geometry, capacity: int, *, flip: bool = True, where: str = ""):
        if capacity < 2:
            raise ValueError(f"a ring needs at least 2 frames, not {capacity}")
        self.geometry, self.capacity, self.flip, self.where = geometry, int(capacity), flip, where
        self.stride = geometry.stride
        self.memory = anonymous_memory(self.capacity * self.stride)
        self._cond = threading.Condition()
        # the receiver keeps frame 0 on until the first reader comes (key _FIRST)
        self._cursors: dict[int, int] = {_FIRST: 0}
        self._ids = itertools.count()
        self._evicted = 0  # frames below this index have had their slot reused
        self._whole: Stack | None = None  # every slot as one .mib stack, from the first reuse

    @property
    def nbytes(self) -> int:
        return self.memory.nbytes

    @property
    def oldest(self) -> int:
        """The first frame still held (frames before it were overwritten)."""
        return self._evicted

    # -- the producer -------------------------------------------------------------------------
    def slot(self, i: int) -> memoryview:
        """The record memory of frame ``i`` (``stride`` bytes)."""
        at = (i % self.capacity) * self.stride
        return memoryview(self.memory)[at : at + self.stride]

    def claim(self, i: int, stopped: Callable[[], bool]) -> memoryview | None:
        """The slot for frame ``i``, once every held reader has passed frame ``i - capacity``
        (None if ``stopped()`` became true while waiting). Frames are claimed in order."""
        if i >= self.capacity:
            with self._cond:
                while self._cursors and min(self._cursors.values()) <= i - self.capacity:
                    if stopped():
                        return None
                    self._cond.wait(_STOP_POLL_S)
                if self._whole is None:  # slots hold frames 0..capacity-1 in order right now
                    self._whole = self._stack(self.capacity)
                self._evicted = i - self.capacity + 1
        return self.slot(i)

    def wake(self) -> None:
        """Wake a producer waiting in :meth:`claim` (to look at its stop request)."""
        with self._cond:
            self._cond.notify_all()

    # -- the readers --------------------------------------------------------------------------
    def _stack(self, n: int) -> Stack:
        reader = MibReader(
            self.memory[: n * self.stride], nav_shape=(n,), hdr=False, flip=self.flip, squeeze=False
        )
        return MibStack(reader)

    def part(self, have: int) -> Stack:
        """Frames ``0:have`` as a flat stack reading the ring in place (frames before
        :attr:`oldest` read whatever now fills their slot: hold a cursor, or :meth:`check`)."""
        if have <= 0:
            return Stack.from_array(
                np.empty((0, *self.geometry.out_shape), self.geometry.out_dtype)
            )
        with self._cond:  # no slot is reused while the headers of the first lap are parsed
            whole = self._whole
            if whole is None:  # no slot reused yet: slot i holds frame i
                return self._stack(min(have, self.capacity))
        return whole.frames(np.arange(have, dtype=np.int64) % self.capacity)

    def hold(self, start: int) -> RingCursor:
        """A reader going through frames in order from ``start``: their slots are not reused
        until it has passed them. Raises :class:`LiveError` if frame ``start`` is gone."""
        with self._cond:
            self.check(start, "a reader starting")
            key = next(self._ids)
            self._cursors[key] = start
            self._cursors.pop(_FIRST, None)
        return RingCursor(self, key, start)

    def let_go(self) -> None:
        """No reader is coming from frame 0: frames nobody holds may be overwritten from now."""
        self._move(_FIRST, None)

    def _move(self, key: int, position: int | None) -> None:
        with self._cond:
            if position is None:
                self._cursors.pop(key, None)
            elif key in self._cursors:
                self._cursors[key] = max(self._cursors[key], position)
            self._cond.notify_all()

    def check(self, first: int, what: str = "reading") -> None:
        """Raise :class:`LiveError` if frame ``first`` (or a later one being read) is gone."""
        if first < self._evicted:
            raise LiveError(
                f"{self.where}: {what} needs frame {first}, but nothing is recorded "
                f"(spill=False) and the ring of {self.capacity} frames now holds frames "
                f"{self._evicted} onwards; a reader started before the frames arrive sees each "
                "frame once; a second pass (a median, a centre guessed from the sum pattern) "
                "needs them recorded: open with a spill"
            )


class RingCursor(Cursor):
    """A reader's hold on a :class:`Ring`: slots of frames at or after its position stay."""

    def __init__(self, ring: Ring, key: int, start: int):
        self.ring, self.key, self.position = ring, key, start
        self.window = ring.capacity

    def advance(self, position: int) -> None:
        self.position = max(self.position, int(position))
        self.ring._move(self.key, self.position)

    def close(self) -> None:
        self.ring._move(self.key, None)

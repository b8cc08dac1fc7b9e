"""A stack whose frames are still arriving: a ``.mib`` spill file that a producer appends to.

:class:`LiveStack` knows nothing about sockets. A producer (the Merlin receiver thread of
:mod:`.merlin`, or anything else appending whole ``.mib`` frame records to a file) calls
:meth:`LiveStack.publish` as complete frames land and :meth:`LiveStack.finish` at the end (with
the error that ended it, if any). Readers block in :meth:`LiveStack.wait` until the frames they
need have been published, so every tool that reads blocks (statistics, virtual detectors,
``scanstack.save``) runs over the stream as it arrives.

Frames are decoded by the ``.mib`` format's own reader over a memory map of the part of the
spill that is complete: the spill is an ordinary ``.mib`` (+ ``.hdr``), never a second copy of
the decoders. With no spill (``ring=``, :mod:`.ring`) the same reader reads the frame records
kept in a ring of memory. :class:`LiveStack` is a growing stack
(:class:`scanstack.core.growing.Growing`, like a followed ``.mib``): ``frames_available()``,
``wait_for(i)``, ``arrived()`` (the complete part as an ordinary stack) and ``hold(start)``, so
every reduction folds the frames that have landed in place, batch by batch, while the rest
arrives.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..core.axes import Axis
from ..core.errors import check_fits
from ..core.growing import KEEPS_ALL, Cursor, StalledError
from ..core.reader import Region, region_shape
from ..core.stack import Stack
from ..formats.mib.follow import complete_part
from ..formats.mib.reader import Geometry
from .protocol import LiveError
from .ring import Ring


class LiveStack(Stack):
    """Frames ``nav_shape + signal_shape`` of an acquisition that is still running.

    ``spill``: the ``.mib`` the producer appends frame records to (``header_size + payload``
    bytes each, exactly as in a file), or None with ``ring``: the :class:`~.ring.Ring` the
    producer writes them to instead (nothing recorded); ``geometry``: the frame layout;
    ``flip``: rows reversed like the ``.mib`` reader's default. ``stop``: called by
    :meth:`close` to end the producer (it must make the producer call :meth:`finish`).
    """

    format = "merlin-live"

    def __init__(
        self,
        spill: str | os.PathLike | None,
        geometry: Geometry,
        nav_shape: tuple[int, ...],
        *,
        flip: bool = True,
        source: str = "",
        metadata: dict | None = None,
        original_metadata: dict | None = None,
        stop: Callable[[], None] | None = None,
        ring: Ring | None = None,
    ):
        if (spill is None) == (ring is None):
            raise ValueError("a live stack reads a spill file or a ring, exactly one of them")
        self.spill_path = None if spill is None else Path(spill)
        self.ring = ring
        self.geometry = geometry
        self.flip = bool(flip)
        self.source = source or os.fspath(spill or "<ring>")
        self.nav_shape = tuple(int(n) for n in nav_shape)
        self.signal_shape = tuple(int(n) for n in geometry.out_shape)
        self.dtype = np.dtype(geometry.out_dtype)
        self.metadata = dict(metadata or {})
        self.original_metadata = dict(original_metadata or {})
        self._stop = stop
        self._received = 0
        self._finished = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._targets: list[int] = []  # frame counts the waiting readers need
        self._part: Stack | None = None  # the complete part of the spill, as a .mib stack
        self._part_lock = threading.Lock()
        self._t0 = time.perf_counter()
        self._t_last = self._t0

    # -- the producer's side --------------------------------------------------------------
    def publish(self, frames_received: int) -> None:
        """``frames_received`` complete frame records are now in the spill file."""
        with self._cond:
            self._received = int(frames_received)
            self._t_last = time.perf_counter()
            # wake readers only when one of them can go on: waking them on every frame hands
            # the GIL back and forth and slowed receiving several-fold
            if self._targets and self._received >= min(self._targets):
                self._cond.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        """The producer has ended (``error`` says why, when it did not complete)."""
        with self._cond:
            self._finished = True
            self._error = error
            self._cond.notify_all()

    # -- state ----------------------------------------------------------------------------
    @property
    def frames_received(self) -> int:
        """Complete frames in the spill file so far."""
        return self._received

    @property
    def done(self) -> bool:
        """True when the producer has ended (completed or failed)."""
        return self._finished

    @property
    def error(self) -> BaseException | None:
        """Why the producer ended early (None while running or after a complete acquisition)."""
        return self._error

    @property
    def rate(self) -> float:
        """Frames per second received so far (first frame to last publication)."""
        dt = self._t_last - self._t0
        return self._received / dt if dt > 0 else 0.0

    def _ended(self, want: int) -> LiveError:
        why = f": {self._error}" if self._error is not None else ""
        return LiveError(
            f"{self.source}: frame {want - 1} was asked for, but the acquisition ended after "
            f"{self._received} of {self.nframes} frames{why}; {self._kept()}"
        )

    def _kept(self) -> str:
        if self.ring is not None:
            return f"nothing was recorded (spill=False; frames {self.ring.oldest} on are in memory)"
        return f"the frames received are kept in {self.spill_path}"

    def _block_until(self, want: int, left) -> int:
        """Wait (holding ``_cond``) until ``want`` frames arrived; ``left()`` -> seconds still
        allowed (None: no limit), or raises."""
        while self._received < want:
            if self._finished:
                raise self._ended(want)
            wait_s = left()
            self._targets.append(want)
            try:
                self._cond.wait(wait_s)
            finally:
                self._targets.remove(want)
        return self._received

    def wait(self, nframes: int | None = None, timeout: float | None = None) -> int:
        """Block until ``nframes`` frames (default: all) have arrived; the count received.

        Raises :class:`LiveError` when the acquisition ended before (naming the frames that
        arrived and the producer's error) or after ``timeout`` seconds. With a ring (nothing
        recorded), waiting for the whole scan lets the receiver overwrite frames no reader
        holds (until then it keeps them for the first reader to come).
        """
        if nframes is None and self.ring is not None:
            self.ring.let_go()
        want = self.nframes if nframes is None else min(int(nframes), self.nframes)
        deadline = None if timeout is None else time.monotonic() + timeout

        def left() -> float | None:
            if deadline is None:
                return None
            s = deadline - time.monotonic()
            if s <= 0:
                raise LiveError(
                    f"{self.source}: waited {timeout:g} s for frame {want - 1}; "
                    f"{self._received} of {self.nframes} frames have arrived"
                )
            return s

        with self._cond:
            return self._block_until(want, left)

    # -- the growing-stack protocol (core/growing.py) ------------------------------------
    def frames_available(self) -> int:
        """Complete frames readable now."""
        return min(self._received, self.nframes)

    def wait_for(self, i: int, timeout: float | None = None) -> int:
        """Block until frame ``i`` has arrived; :meth:`frames_available`.

        ``timeout`` (s) counts from the last frame received (:class:`StalledError`); without
        it the receiver's own silence timeout ends a stream that stops (:class:`LiveError`).
        """
        if not 0 <= i < self.nframes:
            raise IndexError(f"frame {i} is outside the scan of {self.nframes} frames")

        def left() -> float | None:
            if timeout is None:
                return None
            s = timeout - (time.perf_counter() - self._t_last)
            if s <= 0:
                raise StalledError(
                    f"no new frame for {timeout:g} s: {self._received} of {self.nframes} "
                    f"frames arrived (waiting for frame {i})",
                    self.source,
                    self._received,
                    self.nframes,
                )
            return s

        with self._cond:
            self._block_until(i + 1, left)
        return self.frames_available()

    def arrived(self) -> Stack:
        """The frames received so far as an ordinary flat ``.mib`` stack over the spill (a
        memory map of its complete part: the zero-copy paths of a file apply)."""
        if self.ring is not None:
            return self.ring.part(self.frames_available())
        with self._part_lock:
            have = self.frames_available()
            if self._part is None or self._part.nframes < have:
                # earlier parts stay valid for whoever still reads them (no close here)
                self._part = complete_part(self.spill_path, self.geometry, have, flip=self.flip)
            return self._part

    def hold(self, start: int) -> Cursor:
        """A reader going through the frames in order from ``start`` (see
        :class:`~scanstack.core.growing.Cursor`): with a ring, the receiver does not reuse the
        memory of frames it has not passed; a spill keeps every frame."""
        return KEEPS_ALL if self.ring is None else self.ring.hold(start)

    @property
    def keeps_frames(self) -> bool:
        """False with a ring (nothing recorded, only the latest frames held)."""
        return self.ring is None

    def iter_blocks(self, frames_per_block=None, region=None, start=0, stop=None):
        """Blocks in order, as :meth:`Stack.iter_blocks`; with a ring the iteration holds a
        cursor, so it sees every frame (the receiver waits for it)."""
        with self.hold(start) as cursor:
            step = cursor.batch(frames_per_block or self.frames_per_block(region=region))
            for a, b, block in super().iter_blocks(step, region, start, stop):
                cursor.advance(b)  # a copy: its frames' memory may be reused now
                yield a, b, block

    # -- reading --------------------------------------------------------------------------
    @property
    def axes(self) -> list[Axis]:
        names = ("y", "x") if len(self.nav_shape) == 2 else tuple(f"nav{i}" for i in range(9))
        nav = [Axis(names[i], n, navigate=True) for i, n in enumerate(self.nav_shape)]
        sig = [
            Axis(n, s, navigate=False) for n, s in zip(("ky", "kx"), self.signal_shape, strict=True)
        ]
        return nav + sig

    @property
    def path(self) -> str:
        return self.source if self.spill_path is None else os.fspath(self.spill_path)

    def source_paths(self) -> list[str]:
        return [] if self.spill_path is None else [os.fspath(self.spill_path)]

    def _check_fits(self, region: Region | None) -> None:
        nbytes = math.prod(self.signal_shape) * self.dtype.itemsize
        check_fits(nbytes, f"one frame of {self.signal_shape} {self.dtype}", self.path)

    def _read_range(self, start: int, stop: int, region: Region | None) -> np.ndarray:
        self._check_fits(region)
        if stop > start:
            self._wait_to_read(stop)
        return self._held(start, self.arrived()._read_range(start, stop, region))

    def _wait_to_read(self, nframes: int) -> None:
        """Wait for ``nframes`` frames for a read that holds nothing: with a ring, one beyond
        its first lap lets go of the frames kept for a first reader (else it would wait for
        ever: the receiver keeps them until a reader holds the ring)."""
        if self.ring is not None and nframes > self.ring.capacity:
            self.ring.let_go()
        self.wait(nframes)

    def _held(self, first: int, frames: np.ndarray) -> np.ndarray:
        """``frames`` read from frame ``first`` on, checked after the copy: a ring may have
        reused a slot meanwhile (never hand out another frame's data)."""
        if self.ring is not None:
            self.ring.check(first)
        return frames

    def _read_frames(self, frames: np.ndarray, region: Region | None) -> np.ndarray:
        self._check_fits(region)
        if frames.size:
            self._wait_to_read(int(frames.max()) + 1)
            return self._held(int(frames.min()), self.arrived()._read_frames(frames, region))
        return np.empty((0, *region_shape(region, self.signal_shape)), self.dtype)

    def close(self) -> None:
        """Stop receiving (if still running) and release the spill's memory map; the spill
        file stays."""
        if self._stop is not None and not self._finished:
            self._stop()
        with self._part_lock:
            if self._part is not None:
                self._part.close()
                self._part = None

    def __repr__(self) -> str:
        state = "done" if self._finished else "receiving"
        kept = (
            f"spill {self.spill_path}"
            if self.ring is None
            else f"ring of {self.ring.capacity} frames, nothing recorded"
        )
        return (
            f"<LiveStack {self.source} {self.shape} {self.dtype}: {self._received}/"
            f"{self.nframes} frames, {state}, {kept}>"
        )

"""A ``.mib`` that the acquisition software is still writing (``scanstack.open(p, follow=True)``).

The stack has the whole scan's shape from the start (``nav_shape`` option, else the ``.hdr``'s
``ScanX``/``ScanY``, else its ``Frames in Acquisition``); the frames present are the complete
ones (file size // frame stride), so a partial last frame is never read. Reading a frame that has
not landed waits for it (:func:`scanstack.core.growing.wait_until`), with a timeout counted
from the last frame that landed.
"""

from __future__ import annotations

import math
import os
import threading
import time
from typing import Any

import numpy as np

from ...core.errors import FormatError, UnsupportedError
from ...core.growing import KEEPS_ALL, Cursor, wait_until
from ...core.reader import Region
from ...core.stack import ReaderStack, Stack
from .header import PROBE_BYTES, hdr_int, header_size
from .reader import Geometry, MibReader, MibStack, geometry_from_header

#: seconds without a new complete frame before a read gives up (the writer stopped)
DEFAULT_TIMEOUT_S = 10.0


def complete_part(
    path: str | os.PathLike, geometry: Geometry, nframes: int, *, flip: bool = True, **options: Any
) -> Stack:
    """An ordinary flat stack of the first ``nframes`` frame records of a growing ``.mib``.

    A read-only memory map of exactly those ``nframes * geometry.stride`` bytes (never a partial
    frame), read by the ``.mib`` reader itself, so the zero-copy fast paths (``as_array`` /
    ``as_packed``) of a finished file apply. Used by every growing ``.mib`` (a followed file, a
    live stream's spill) as its ``arrived()``.
    """
    if nframes <= 0:
        return Stack.from_array(np.empty((0, *geometry.out_shape), geometry.out_dtype))
    mm = np.memmap(path, np.uint8, "r", shape=(nframes * geometry.stride,))
    return MibStack(
        MibReader(mm, nav_shape=(nframes,), hdr=False, flip=flip, squeeze=False, **options)
    )


class FollowMibReader(MibReader):
    """:class:`MibReader` over one ``.mib`` that grows while it is read.

    Options: those of :class:`MibReader` that make sense for one growing file (``nav_shape`` or
    ``navigation_shape``, ``flip``, ``endian``, ``hdr``, ``chunks``), plus ``timeout`` (seconds
    without a new frame before :class:`~scanstack.core.growing.StalledError`; it also bounds the
    wait for the first frame header at open).
    """

    def __init__(
        self,
        source: Any = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        nav_shape: tuple | None = None,
        navigation_shape: tuple | None = None,
        **options: Any,
    ):
        if not isinstance(source, (str, os.PathLike)):
            raise UnsupportedError("follow=True needs the path of one .mib file being written")
        unsupported = {
            "lazy": True,
            "first_frame": None,
            "last_frame": None,
            "frame_headers": False,
        }
        bad = sorted(k for k, ok in unsupported.items() if options.pop(k, ok) not in (ok, None))
        if bad:
            raise UnsupportedError(f"follow=True does not support {', '.join(bad)}")
        options.pop("join", None)  # one growing file, never a set of siblings
        self.timeout = float(timeout)
        self._lock = threading.Lock()  # the read-ahead thread refreshes too
        self._wait_for_header(os.fspath(source))
        super().__init__(
            source,
            join=False,
            nav_shape=nav_shape,
            navigation_shape=navigation_shape,
            **options,
        )
        self.options["timeout"] = self.timeout

    def _wait_for_header(self, path: str) -> None:
        """The first frame header must be there before the geometry is known."""
        start = time.monotonic()
        while not self._header_complete(path):
            if time.monotonic() - start > self.timeout:
                size = os.path.getsize(path) if os.path.exists(path) else None
                raise FormatError(
                    f"no frame header appeared within {self.timeout:g} s "
                    f"({'file absent' if size is None else f'{size} bytes'})",
                    path,
                    0,
                )
            time.sleep(0.02)

    @staticmethod
    def _header_complete(path: str) -> bool:
        size = os.path.getsize(path) if os.path.exists(path) else 0
        if size < PROBE_BYTES:
            return False
        with open(path, "rb") as fh:
            return size >= header_size(fh.read(PROBE_BYTES), path, 0)

    # -- opening: one file, partial frames expected, the scan's length from the options/.hdr --
    def _open_files(self, hdr_option: Any) -> None:
        f = self._files[0]
        first = f.header_at(0)
        self._read_hdr(hdr_option, f.path)
        self.first_header = f.first = first
        self.geometry = geometry_from_header(first, self.hdr, f.path)
        self._refresh()
        self._check_hdr()

    def _resolve_navigation(
        self, navigation_shape, nav_shape, first_frame, last_frame, heuristic, squeeze
    ) -> None:
        if navigation_shape is not None:
            shape, source = tuple(int(v) for v in navigation_shape)[::-1], "user"
        elif nav_shape is not None:
            shape, source = tuple(int(v) for v in nav_shape), "user"
        else:
            x, y = hdr_int(self.hdr, "ScanX"), hdr_int(self.hdr, "ScanY")
            total = hdr_int(self.hdr, "Frames in Acquisition")
            if x and y and x > 0 and y > 0:
                shape, source = (y, x), "hdr ScanX/ScanY"
            elif total and total > 0:
                shape, source = (total,), "hdr Frames in Acquisition"
            else:
                raise FormatError(
                    "follow=True needs the scan's length: pass nav_shape=(rows, columns) "
                    "(no .hdr with ScanX/ScanY or Frames in Acquisition was found)",
                    self._files[0].path,
                )
        if not shape or any(v <= 0 for v in shape):
            raise ValueError(f"nav_shape must be positive integers, not {shape}")
        self.nav_shape, self.nav_source = shape, source
        self.interrupted, self.first_frame = False, 0

    # -- growth ---------------------------------------------------------------------------------
    def _complete_frames(self) -> int:
        return os.path.getsize(self._files[0].path) // self.geometry.stride

    def frames_available(self) -> int:
        """Complete frames on disk now (at most the scan's ``nframes``)."""
        return min(self._complete_frames(), self.nframes)

    def _refresh(self) -> None:
        """Map the complete frames now on disk (only ever more of them)."""
        f = self._files[0]
        with self._lock:
            n = self._complete_frames()
            if n > f.nframes:
                f.close()  # a memory map has a fixed length: map again, longer
                f.size, f.nframes = os.path.getsize(f.path), n
            self._starts = np.array([0, f.nframes])
            self.n_in_files = f.nframes

    def wait_for(self, i: int, timeout: float | None = None) -> int:
        """Block until frame ``i`` is complete on disk; return :meth:`frames_available`."""
        if not 0 <= i < self.nframes:
            raise IndexError(f"frame {i} is outside the scan of {self.nframes} frames")
        n = wait_until(
            i,
            self.frames_available,
            self.nframes,
            self.timeout if timeout is None else timeout,
            self.path,
        )
        self._refresh()
        return n

    def arrived(self) -> Stack:
        """The frames complete now as an ordinary stack (:func:`complete_part`)."""
        endian = self.options.get("endian") or "native"
        return complete_part(
            self.path, self.geometry, self.frames_available(), flip=self.flip, endian=endian
        )

    def read(
        self, start: int, stop: int, region: Region | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        start, stop, _ = slice(start, stop).indices(self.nframes)
        if stop > start and stop > self._files[0].nframes:
            self.wait_for(stop - 1)
        return super().read(start, stop, region, out)

    def as_array(self) -> None:
        return None  # a fixed-length view of a growing file would go stale

    def as_packed(self) -> None:
        return None


class FollowMibStack(ReaderStack):
    """A growing ``.mib``: the scan's shape, ``len(s)`` the complete frames so far.

    ``s.nframes`` and ``s.shape`` are the whole scan's; reading a frame not yet written waits for
    it. Implements :class:`scanstack.core.growing.Growing`.
    """

    reader: FollowMibReader

    def __len__(self) -> int:
        return self.reader.frames_available()

    def frames_available(self) -> int:
        return self.reader.frames_available()

    def wait_for(self, i: int, timeout: float | None = None) -> int:
        return self.reader.wait_for(i, timeout)

    def arrived(self) -> Stack:
        return self.reader.arrived()

    def hold(self, start: int) -> Cursor:
        return KEEPS_ALL  # the file keeps every frame

    @property
    def complete(self) -> bool:
        """Whether every frame of the scan has landed."""
        return self.frames_available() >= math.prod(self.nav_shape)

    def __reduce__(self):
        return (FollowMibStack, (self.reader,))


def open_follow(source: Any, **options: Any) -> FollowMibStack:
    """``scanstack.open(path, "mib", follow=True, **options)``; see :class:`FollowMibReader`."""
    return FollowMibStack(FollowMibReader(source, **options))

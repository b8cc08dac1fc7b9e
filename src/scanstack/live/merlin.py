"""The Merlin detector's TCP interface as a stack: ``scanstack.open("merlin://HOST:PORT")``.

The data port delivers ``HDR,`` + the acquisition header, then one message per frame, each
exactly a ``.mib`` frame record (:mod:`.protocol`). A background thread receives the frames into a
spill ``.mib`` (+ the ``.hdr`` as received), so memory stays bounded whatever the scan size and
the raw data is a valid Merlin file when the acquisition ends (or fails). Frame headers are
parsed and frames decoded by the ``.mib`` format's own code (:mod:`scanstack.formats.mib`).

With ``spill=False`` nothing is recorded: the frames are received into a ring of memory
(:mod:`.ring`) that every reduction reads as the frames arrive (a live view at the network's
rate whatever the disk can write).

With ``control_port``, the acquisition is set up and started through the control port as the
detector's own software does: ``SET,NUMFRAMESTOACQUIRE,<n>``, any ``control={PARAM: value}``
settings, then ``CMD,STARTACQUISITION``.
"""

from __future__ import annotations

import ctypes
import errno
import math
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..core.errors import FormatError
from ..core.resources import resolve
from ..formats.mib.header import (
    MAGIC,
    PROBE_BYTES,
    hdr_int,
    header_size,
    parse_frame_header,
    parse_hdr_text,
)
from ..formats.mib.reader import Geometry, geometry_from_header
from .protocol import (
    CONTROL_PORT,
    DATA_PORT,
    PREFIX_BYTES,
    REPLY_CODES,
    Channel,
    LiveError,
    StreamClosed,
    parse_prefix,
)
from .ring import Ring
from .stack import LiveStack
from .transfer import RecordSink, RingSink

#: the acquisition header is a few kB; a frame at most this (a 24-bit 4x4-chip frame is 16 MB)
MAX_HEADER_BYTES = 1 << 20
MAX_FRAME_BYTES = 64 << 20
DEFAULT_TIMEOUT = 10.0


#: ``fallocate``'s flag: reserve blocks without changing the file's size
FALLOC_FL_KEEP_SIZE = 1


def reserve_space(fd: int, nbytes: int, where: str) -> bool:
    """Reserve ``nbytes`` of disk for a file about to be appended to, keeping its size.

    The file stays a valid ``.mib`` of the frames written so far (a crash leaves no padding),
    appending is about a third cheaper (no block allocation per write, measured on ext4) and a
    disk too small for the whole scan fails now, naming the size, instead of mid-scan. Returns
    False where the file system (or the platform) cannot reserve; raises :class:`LiveError`
    when the disk is too small.
    """
    try:
        fallocate = ctypes.CDLL(None, use_errno=True).fallocate
    except (AttributeError, OSError):
        return False
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    if fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, nbytes) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        raise LiveError(
            f"{where}: the spill needs {nbytes:,} bytes for the whole scan, the disk has not got "
            f"them ({os.strerror(err)}); pass spill= on a larger disk or a smaller nav_shape"
        )
    return False


def parse_url(url: str) -> tuple[str, int]:
    """``merlin://HOST[:PORT]`` -> ``(host, port)`` (port 6342 when omitted)."""
    rest = url.split("://", 1)[1].rstrip("/")
    host, sep, port = rest.rpartition(":")
    if not sep:
        return rest, DATA_PORT
    if not port.isdigit():
        raise LiveError(f"{url}: the port must be a number, not {port!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class Control:
    """The control port: ``set``/``get``/``cmd`` with the reply code checked."""

    def __init__(self, host: str, port: int, timeout: float):
        self.where = f"merlin control {host}:{port}"
        self.channel = Channel.connect(host, port, self.where, timeout)

    def _ask(self, request: str) -> list[str]:
        self.channel.send(request.encode("ascii"))
        reply = self.channel.read_reply(f"the reply to {request!r}")
        parts = reply.split(",")
        code = parts[-1].strip()
        if not code.isdigit() or int(code) != 0:
            meaning = REPLY_CODES.get(int(code), "unknown code") if code.isdigit() else "?"
            raise LiveError(f"{self.where}: {request!r} was answered {reply!r} ({meaning})")
        return parts

    def set(self, param: str, value: Any) -> None:
        self._ask(f"SET,{param},{value}")

    def get(self, param: str) -> str:
        return self._ask(f"GET,{param}")[-2]

    def cmd(self, command: str) -> None:
        self._ask(f"CMD,{command}")

    def close(self) -> None:
        self.channel.close()


class MerlinReceiver:
    """Receives one acquisition from the data port into a spill ``.mib`` + ``.hdr``.

    :meth:`start` reads the acquisition header and the first frame (so the geometry is known)
    and returns a :class:`LiveStack`; a daemon thread receives the rest (``spill=False``: into a
    :class:`~.ring.Ring` of ``memory_budget // 4`` bytes, nothing recorded). Every frame's
    announced size and header magic are checked; a fault ends the thread with a
    :class:`LiveError` stored on the stack, after the complete frames were written.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        nav_shape: tuple[int, ...] | None = None,
        spill: str | os.PathLike | bool | None = None,
        control_port: int | None = None,
        control: dict[str, Any] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        flip: bool = True,
        splice: bool = True,
        memory_budget: int | None = None,
    ):
        self.host, self.port = host, port
        self.where = f"merlin://{host}:{port}"
        self.nav_shape = None if nav_shape is None else tuple(int(n) for n in nav_shape)
        if spill is True:
            spill = None
        if spill is None:
            spill = Path(tempfile.mkdtemp(prefix="scanstack-live-")) / "merlin.mib"
        self.spill = None if spill is False else Path(spill)
        self.ring_bytes = resolve(memory_budget=memory_budget).memory_budget // 4
        self.ring: Ring | None = None
        self._out = None
        self.control_port = control_port
        self.control = dict(control or {})
        self.timeout = float(timeout)
        self.flip = flip
        self.splice = splice
        self._channel: Channel | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.stack: LiveStack | None = None

    # -- set-up ---------------------------------------------------------------------------
    def start(self) -> LiveStack:
        if self.spill is not None and self.spill.suffix.lower() != ".mib":
            raise LiveError(f"{self.spill}: the spill file must be a .mib")
        self._channel = Channel.connect(self.host, self.port, self.where, self.timeout)
        try:
            if self.control_port is not None:
                self._start_acquisition()
            hdr_bytes, hdr = self._read_acquisition_header()
            nav_shape = self._nav_shape(hdr)
            first, geometry = self._read_first_frame(hdr)
            if self.spill is None:
                # no more slots than the scan has frames (a short scan never wraps)
                capacity = max(2, min(math.prod(nav_shape), self.ring_bytes // geometry.stride))
                self.ring = Ring(geometry, capacity, flip=self.flip, where=self.where)
            else:
                self._open_spill(hdr_bytes, math.prod(nav_shape) * geometry.stride)
        except BaseException:
            self._channel.close()
            raise
        first_header = parse_frame_header(first, self.where, 0)
        self.stack = LiveStack(
            self.spill,
            geometry,
            nav_shape,
            flip=self.flip,
            source=self.where,
            metadata={
                "source": self.where,
                "acquisition_header": {k: v for k, v in hdr.items()},
                "counter_depth": geometry.depth,
                "raw": geometry.raw,
            },
            original_metadata={"hdr": hdr, "first_frame_header": first_header.to_dict()},
            stop=self.stop,
            ring=self.ring,
        )
        if self.ring is not None:
            self.ring.slot(0)[:] = first
        else:
            self._out.write(first)
        stack = self.stack  # the thread drops self.stack when it ends, maybe before we return
        stack.publish(1)
        self._thread = threading.Thread(
            target=self._run, args=(geometry,), name="scanstack-merlin-receiver", daemon=True
        )
        self._thread.start()
        return stack

    def _open_spill(self, hdr_bytes: bytes, nbytes: int) -> None:
        """Write the ``.hdr`` as received and open the spill ``.mib``, reserving ``nbytes``."""
        assert self.spill is not None
        self.spill.parent.mkdir(parents=True, exist_ok=True)
        self.spill.with_suffix(".hdr").write_bytes(hdr_bytes)
        self._out = open(self.spill, "wb", buffering=0)  # noqa: SIM115 - the thread closes it
        try:
            reserve_space(self._out.fileno(), nbytes, self.where)
        except BaseException:
            self._out.close()
            raise

    def _sink(self, channel: Channel, geometry: Geometry) -> RecordSink | RingSink:
        if self.ring is not None:
            return RingSink(channel, self.ring, geometry.header_size, self._stopping.is_set)
        return RecordSink(channel, self._out.fileno(), geometry.stride, splice=self.splice)

    def _start_acquisition(self) -> None:
        ctl = Control(self.host, self.control_port, self.timeout)
        try:
            if self.nav_shape is not None:
                ctl.set("NUMFRAMESTOACQUIRE", math.prod(self.nav_shape))
            for param, value in self.control.items():
                ctl.set(param.upper(), value)
            ctl.cmd("STARTACQUISITION")
        finally:
            ctl.close()

    def _read_acquisition_header(self) -> tuple[bytes, dict[str, str]]:
        assert self._channel is not None
        data = self._channel.read_message("the acquisition header", MAX_HEADER_BYTES)
        if not data.startswith(b"HDR,"):
            raise LiveError(
                f"{self.where}: the first message should be the acquisition header b'HDR,...', "
                f"received {data[:40]!r} ({len(data)} bytes)"
            )
        try:
            hdr = parse_hdr_text(data)
        except FormatError as exc:
            raise LiveError(f"{self.where}: malformed acquisition header: {exc.reason}") from None
        return data, hdr

    def _nav_shape(self, hdr: dict[str, str]) -> tuple[int, ...]:
        if self.nav_shape is not None:
            return self.nav_shape
        n = hdr_int(hdr, "Frames in Acquisition")
        if not n or n < 1:
            raise LiveError(
                f"{self.where}: the acquisition header gives no 'Frames in Acquisition'; "
                "pass nav_shape=(rows, columns)"
            )
        return (n,)

    def _read_first_frame(self, hdr: dict[str, str]) -> tuple[bytes, Geometry]:
        assert self._channel is not None
        data = self._channel.read_message("frame 0", MAX_FRAME_BYTES)
        try:
            head = header_size(data[:PROBE_BYTES], self.where, 0)
            h = parse_frame_header(data[:head], self.where, 0)
            geometry = geometry_from_header(h, hdr, self.where)
        except FormatError as exc:
            raise LiveError(
                f"{self.where}: frame 0 has a malformed frame header ({exc.reason}); "
                f"received {data[:40]!r}"
            ) from None
        if len(data) != geometry.stride:
            raise LiveError(
                f"{self.where}: frame 0 is {len(data)} bytes, its header describes "
                f"{geometry.stride} ({geometry.header_size} header + {geometry.payload} data)"
            )
        return data, geometry

    # -- the thread -----------------------------------------------------------------------
    def _run(self, geometry: Geometry) -> None:
        assert self._channel is not None and self.stack is not None
        stack, channel = self.stack, self._channel
        stride, total, head = geometry.stride, stack.nframes, geometry.header_size
        sink: RecordSink | RingSink | None = None
        error: BaseException | None = None
        i = 1
        try:
            sink = self._sink(channel, geometry)
            # prefix and frame header arrive in one call, to be checked before the payload
            start = sink.buffer[: PREFIX_BYTES + head]

            def check_size(prefix: bytes) -> None:
                n = parse_prefix(prefix, f"{self.where}, frame {i}")
                if n != stride:
                    raise LiveError(
                        f"{self.where}: frame {i} announces {n} bytes, every frame of this "
                        f"acquisition is {stride} ({geometry.header_size} header + "
                        f"{geometry.payload} data); {i} frames received"
                    )

            while i < total and not self._stopping.is_set():
                what = f"frame {i}"
                channel.recv_into(
                    start, what, prefix=PREFIX_BYTES, size=stride, check_prefix=check_size
                )
                if start[PREFIX_BYTES : PREFIX_BYTES + 4] != MAGIC:
                    raise LiveError(
                        f"{self.where}: frame {i} does not start with a Merlin frame header "
                        f"b'MQ1,': received {bytes(start[PREFIX_BYTES : PREFIX_BYTES + 16])!r}; "
                        f"{i} frames received"
                    )
                sink.append(head, what)
                i += 1
                stack.publish(i)
        except StreamClosed as exc:
            error = exc if not self._stopping.is_set() else None
            if error is not None:
                error = LiveError(f"{exc}; {i} of {total} frames received")
        except LiveError as exc:
            error = exc
        except Exception as exc:  # the thread must report, never die silently
            error = LiveError(f"{self.where}: receiving frame {i} failed: {exc!r}")
        finally:
            if sink is not None:
                sink.close()
            if self._out is not None:
                # the file ends after the last complete frame (a spliced header or part of a
                # payload of the frame that failed goes); space reserved beyond is given back
                self._out.truncate(i * stride)
                self._out.close()
            channel.close()
            if error is None and i < total:
                error = LiveError(f"{self.where}: stopped after {i} of {total} frames")
            stack.finish(error)
            # the stack holds this receiver (its stop): no cycle back, so the frames' memory (a
            # ring of 256 MiB by default) goes as soon as the stack does, not at a later GC
            self.stack = None

    def stop(self, timeout: float | None = None) -> None:
        """End the receiver (closing the connection) and wait for its thread."""
        self._stopping.set()
        if self.ring is not None:
            self.ring.wake()
        if self._channel is not None:
            self._channel.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(self.timeout if timeout is None else timeout)


def open_merlin(
    source: str,
    *,
    nav_shape: tuple[int, ...] | None = None,
    control_port: int | None = None,
    control: dict[str, Any] | None = None,
    spill: str | os.PathLike | bool | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    flip: bool = True,
    splice: bool = True,
    memory_budget: int | None = None,
) -> LiveStack:
    """Connect to a Merlin data port and return the acquisition as a :class:`LiveStack`.

    ``source``: ``merlin://HOST[:PORT]`` (data port, default 6342). ``nav_shape``: scan shape
    (default: ``Frames in Acquisition`` of the header, flat). ``control_port`` (6341 on a real
    detector): set up and start the acquisition there, with extra ``control`` settings
    (e.g. ``{"COUNTERDEPTH": 12}``). ``spill``: the ``.mib`` receiving the frames (default: a
    new temporary folder; kept after close); ``spill=False`` records nothing: the frames are
    held in a ring of ``memory_budget // 4`` bytes (default ``config.memory_budget``: 256 MiB)
    that reductions read as they arrive (:mod:`.ring`). ``timeout`` (s): longest silence tolerated.
    ``flip``: like the ``.mib`` reader (rows reversed as RosettaSciIO does). ``splice``: move
    payloads socket -> file with ``os.splice`` where the platform allows (False: always
    ``recv`` + ``write``; :mod:`.transfer`).

    Returns once the header and the first frame have arrived; the rest arrives in a thread.
    """
    host, port = parse_url(source)
    receiver = MerlinReceiver(
        host,
        port,
        nav_shape=nav_shape,
        spill=spill,
        control_port=control_port,
        control=control,
        timeout=timeout,
        flip=flip,
        splice=splice,
        memory_budget=memory_budget,
    )
    return receiver.start()


__all__ = ["CONTROL_PORT", "DATA_PORT", "Control", "MerlinReceiver", "open_merlin", "parse_url"]

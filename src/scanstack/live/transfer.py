"""Frame records from the data socket to the spill file, with one copy fewer where possible.

:class:`RecordSink` appends one received frame record to the spill: its header (already read
with the message prefix, to be checked) and then its payload, moved straight from the socket
with ``os.splice`` through a pipe (Linux): the kernel hands the socket's pages to the pipe and
copies them once, into the file's page cache, instead of socket -> Python buffer -> page cache.
Where splice is not available (not Linux, no ``os.splice``, or the kernel refuses these
descriptors with ``EINVAL``) the payload is received into a buffer after the header and both
are written with one ``write``. That choice is made here and nowhere else.

:class:`RingSink` is the sink of a stream that records nothing (``spill=False``): the payload is
received straight into the frame's slot of a :class:`~.ring.Ring` (one copy, socket -> memory).
"""

from __future__ import annotations

import errno
import os
import select
from pathlib import Path

from .protocol import PREFIX_BYTES, Channel, StreamClosed
from .ring import Ring

#: a splice refused for these descriptors (not a broken connection): receive + write instead
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}
PIPE_MAX_SIZE = Path("/proc/sys/fs/pipe-max-size")


def open_pipe(nbytes: int) -> tuple[int, int, int] | None:
    """A pipe of capacity up to ``nbytes`` (bytes; capped by ``/proc/sys/fs/pipe-max-size``)
    as ``(read_fd, write_fd, capacity)``, or None where ``os.splice`` does not exist."""
    if not hasattr(os, "splice"):
        return None
    r, w = os.pipe()
    capacity = 1 << 16  # Linux's default
    try:
        import fcntl

        limit = int(PIPE_MAX_SIZE.read_text())
        # a whole payload per splice when the limit allows (fewer calls); never less than now
        capacity = fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, max(capacity, min(nbytes, limit)))
    except (ImportError, AttributeError, OSError, ValueError):
        pass
    return r, w, capacity


class RecordSink:
    """Appends frame records from ``channel`` to the file descriptor ``fd``.

    ``buffer`` (``15 + stride`` bytes) receives a message's prefix and frame header (the caller
    checks them); :meth:`append` then writes the header and moves the ``payload`` bytes that
    follow on the socket into the file. ``splice=False`` always receives + writes.
    """

    def __init__(self, channel: Channel, fd: int, stride: int, *, splice: bool = True):
        self.channel, self.fd, self.stride = channel, fd, stride
        self.buffer = memoryview(bytearray(PREFIX_BYTES + stride))
        self._pipe = open_pipe(stride) if splice else None
        self._spliced = False  # once a splice has worked, an EINVAL is a real error
        self._poll = select.poll() if self._pipe is not None else None

    @property
    def splicing(self) -> bool:
        """True while payloads are moved with ``os.splice``."""
        return self._pipe is not None

    def append(self, head: int, what: str) -> None:
        """Write ``buffer[15:15 + head]`` (the frame header) and the ``stride - head`` payload
        bytes that follow on the socket to the file. Errors name ``what`` and count bytes of
        the whole record."""
        first = PREFIX_BYTES  # what is still to be written starts here
        done = head  # bytes of the record in the file or the buffer
        if self._pipe is not None:
            _write_all(self.fd, self.buffer[PREFIX_BYTES : PREFIX_BYTES + head])
            done += self._splice(head, what)
            if done == self.stride:
                return
            first += done  # the kernel refused splice: the rest is received into the buffer
        payload = self.buffer[PREFIX_BYTES + done : PREFIX_BYTES + self.stride]
        self.channel.recv_into(payload, what, arrived=done, size=self.stride)
        _write_all(self.fd, self.buffer[first : PREFIX_BYTES + self.stride])

    def _splice(self, head: int, what: str) -> int:
        """Move the payload socket -> pipe -> file; the bytes moved, all of them unless the
        kernel refused the very first splice for these descriptors (EINVAL: e.g. a file opened
        for appending): then the pipe is closed for good and the caller receives the rest."""
        assert self._pipe is not None and self._poll is not None
        r, w, capacity = self._pipe
        n, moved = self.stride - head, 0
        flags = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
        while moved < n:
            sock = self.channel.sock.fileno()  # -1 once stop() closed it: EBADF, not reuse
            try:
                k = os.splice(sock, w, min(capacity, n - moved), flags=flags)
            except BlockingIOError:  # nothing arrived yet: wait up to the silence bound
                if not self._wait(sock):
                    raise self.channel.fault(None, what, head + moved, self.stride) from None
                continue
            except OSError as exc:
                if exc.errno in _UNSUPPORTED and not self._spliced:
                    self.close()
                    return moved
                raise self.channel.fault(exc, what, head + moved, self.stride) from None
            if k == 0:
                raise self.channel.fault(EOFError(), what, head + moved, self.stride)
            try:
                while k:  # the pipe holds k bytes: into the file at its current offset
                    j = os.splice(r, self.fd, k, flags=os.SPLICE_F_MOVE)
                    k -= j
                    moved += j
            except OSError as exc:
                if exc.errno not in _UNSUPPORTED or self._spliced:
                    raise
                # the file refuses splice: the bytes in the pipe are read out and written
                at = PREFIX_BYTES + head + moved
                while k:
                    j = os.readv(r, [self.buffer[at : at + k]])
                    _write_all(self.fd, self.buffer[at : at + j])
                    at, k, moved = at + j, k - j, moved + j
                self.close()
                return moved
            self._spliced = True
        return moved

    def _wait(self, sock: int) -> bool:
        assert self._poll is not None
        self._poll.register(sock, select.POLLIN)
        try:
            return bool(self._poll.poll(self.channel.timeout * 1000))
        finally:
            self._poll.unregister(sock)

    def close(self) -> None:
        if self._pipe is not None:
            os.close(self._pipe[0])
            os.close(self._pipe[1])
            self._pipe = None


class RingSink:
    """Puts frame records from ``channel`` into the slots of ``ring``, frame 1 onwards.

    Same interface as :class:`RecordSink`: ``buffer`` receives a message's prefix and the
    ``head``-byte frame header; :meth:`append` waits for the frame's slot (readers holding the
    ring may lag), copies the header there and receives the payload into it. ``stopped()``
    ends that wait (:class:`StreamClosed`).
    """

    splicing = False

    def __init__(self, channel: Channel, ring: Ring, head: int, stopped):
        self.channel, self.ring, self.stopped = channel, ring, stopped
        self.buffer = memoryview(bytearray(PREFIX_BYTES + head))
        self.next = 1  # frame 0 came with the set-up

    def append(self, head: int, what: str) -> None:
        slot = self.ring.claim(self.next, self.stopped)
        if slot is None:
            raise StreamClosed(f"{self.ring.where}: stopped while readers held the ring ({what})")
        slot[:head] = self.buffer[PREFIX_BYTES : PREFIX_BYTES + head]
        self.channel.recv_into(slot[head:], what, arrived=head, size=self.ring.stride)
        self.next += 1

    def close(self) -> None:
        pass


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]

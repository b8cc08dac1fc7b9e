"""The Merlin TCP framing shared by the client and the simulator (one place for the byte layout).

Every message on the data port (6342) and the control port (6341) is ``MPX,`` + a 10-digit
zero-padded decimal length + ``,`` + payload, where the length counts the payload plus one byte
(the detector counts the comma after the length; a frame of ``F`` bytes is announced as ``F + 1``).

Data port: the first message of an acquisition is ``HDR,`` + the ``.hdr`` text; every other
message is one frame exactly as it sits in a ``.mib`` file (``MQ1,`` header + pixel data).
Control port: ``SET,<PARAM>,<value>``, ``GET,<PARAM>``, ``CMD,<COMMAND>``; replies
``<TYPE>,<PARAM>,[<value>,]<code>`` with code 0 OK, 1 busy, 2 unknown command, 3 out of range.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from ..core.errors import ScanstackError

PREFIX = b"MPX,"
#: ``MPX,`` + 10 digits + ``,``
PREFIX_BYTES = 15
LENGTH_DIGITS = 10
#: kernel receive buffer asked for on the data port (bytes; the kernel may cap it)
RECV_BUFFER = 8 << 20
DATA_PORT = 6342
CONTROL_PORT = 6341
#: reply codes of the control port
REPLY_CODES = {0: "OK", 1: "busy", 2: "unrecognised command", 3: "parameter out of range"}


class LiveError(ScanstackError, OSError):
    """A live source failed: connection refused or dropped, a malformed message, a timeout.

    The message names the source, what arrived (frames received, bytes of the message) and
    what was expected.
    """


class StreamClosed(LiveError):
    """The peer closed the connection (cleanly between messages or in the middle of one)."""


def frame_message(payload: bytes | memoryview) -> bytes:
    """``payload`` framed for the wire: ``MPX,<len+1>,`` + payload (header only for big ones)."""
    return b"%s%0*d," % (PREFIX, LENGTH_DIGITS, len(payload) + 1) + bytes(payload)


def message_prefix(nbytes: int) -> bytes:
    """The 15-byte prefix announcing a payload of ``nbytes`` (sent before a large payload)."""
    return b"%s%0*d," % (PREFIX, LENGTH_DIGITS, nbytes + 1)


def parse_prefix(prefix: bytes, where: str) -> int:
    """The payload length announced by a 15-byte prefix; :class:`LiveError` if malformed."""
    digits = prefix[4:14]
    if not prefix.startswith(PREFIX) or prefix[14:15] != b"," or not digits.isdigit():
        raise LiveError(
            f"{where}: expected a message prefix b'MPX,<10 digits>,', received {bytes(prefix)!r}"
        )
    n = int(digits) - 1
    if n < 1:
        raise LiveError(f"{where}: message prefix {bytes(prefix)!r} announces an empty message")
    return n


class Channel:
    """A connected socket read in whole messages, with a time-out on every wait.

    ``timeout`` (s) bounds the silence between two pieces of data, so a peer that stops
    sending raises :class:`LiveError` instead of hanging.
    """

    def __init__(self, sock: socket.socket, where: str, timeout: float):
        self.sock = sock
        self.where = where
        self.timeout = timeout
        sock.settimeout(timeout)

    @classmethod
    def connect(cls, host: str, port: int, where: str, timeout: float) -> Channel:
        deadline = time.monotonic() + timeout
        while True:
            try:
                sock = socket.create_connection((host, port), timeout=timeout)
                break
            except ConnectionRefusedError as exc:  # the server may be a moment from listening
                if time.monotonic() > deadline:
                    raise LiveError(f"{where}: connection refused ({exc})") from None
                time.sleep(0.05)
            except OSError as exc:
                raise LiveError(f"{where}: cannot connect ({exc})") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # a frame is up to megabytes: a large kernel buffer means fewer, larger reads
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        return cls(sock, where, timeout)

    def recv_into(
        self,
        view: memoryview,
        what: str,
        *,
        prefix: int = 0,
        arrived: int = 0,
        size: int | None = None,
        check_prefix: Callable[[bytes], None] | None = None,
    ) -> None:
        """Fill ``view`` completely; :class:`StreamClosed` / :class:`LiveError` name ``what``.

        ``prefix``: the first bytes of ``view`` are the message prefix (a fault there names
        "the prefix of ``what``"), so prefix and payload head arrive in one call;
        ``check_prefix(prefix_bytes)`` is called as soon as they are in (a message shorter than
        the rest of ``view`` is refused then, not after a silence). ``arrived``:
        bytes of ``what`` received before ``view``; ``size``: all of ``what`` in bytes (the
        byte counts of an error are of the whole message, default the rest of ``view``).
        """
        got, n = 0, len(view)
        while got < n:
            try:
                k = self.sock.recv_into(view[got:], n - got)
            except TimeoutError:
                raise self.fault(None, what, got, n, prefix, arrived, size) from None
            except OSError as exc:
                raise self.fault(exc, what, got, n, prefix, arrived, size) from None
            if k == 0:
                raise self.fault(EOFError(), what, got, n, prefix, arrived, size)
            got += k
            if check_prefix is not None and got >= prefix:
                check_prefix(bytes(view[:prefix]))
                check_prefix = None

    def fault(
        self,
        exc: BaseException | None,
        what: str,
        got: int,
        n: int,
        prefix: int = 0,
        arrived: int = 0,
        size: int | None = None,
    ) -> LiveError:
        """The error for a read of ``what`` that ended after ``got`` of ``n`` bytes (see
        :meth:`recv_into`): a silence of ``timeout`` s (``exc`` None), the peer closing
        (:class:`EOFError`) or a failed connection (an :class:`OSError`)."""
        if got < prefix:
            what, n = f"the prefix of {what}", prefix
        else:
            got, n = arrived + got - prefix, size if size is not None else arrived + n - prefix
        if exc is None:
            return LiveError(
                f"{self.where}: nothing received for {self.timeout:g} s while reading {what} "
                f"({got} of {n} bytes arrived); the detector stopped sending"
            )
        if isinstance(exc, EOFError):
            return StreamClosed(
                f"{self.where}: connection closed while reading {what}: {got} of {n} bytes arrived"
            )
        return StreamClosed(
            f"{self.where}: connection failed while reading {what} "
            f"({got} of {n} bytes arrived): {exc}"
        )

    def read_prefix(self, what: str) -> int:
        """The payload length of the next message (``what`` names it in errors)."""
        buf = bytearray(PREFIX_BYTES)
        self.recv_into(memoryview(buf), f"the prefix of {what}")
        return parse_prefix(bytes(buf), f"{self.where}, {what}")

    def read_message(self, what: str, limit: int) -> bytes:
        """One whole message payload (at most ``limit`` bytes: a corrupt length allocates
        nothing)."""
        n = self.read_prefix(what)
        if n > limit:
            raise LiveError(f"{self.where}: {what} announces {n} bytes, at most {limit} expected")
        buf = bytearray(n)
        self.recv_into(memoryview(buf), what)
        return bytes(buf)

    def read_reply(self, what: str) -> str:
        """One control-port reply as text (``<TYPE>,<PARAM>,[<value>,]<code>``).

        A reply always ends with its code digit. The detector counts one byte more than the
        payload; LiberTEM-live's simulator announces the payload's own length, so after the
        announced length minus one a reply can still lack its code: then one more byte is read.
        """
        n = self.read_prefix(what)
        if n > 4096:
            raise LiveError(f"{self.where}: {what} announces {n} bytes, at most 4096 expected")
        buf = bytearray(n)
        self.recv_into(memoryview(buf), what)
        if buf.endswith(b","):
            more = bytearray(1)
            self.recv_into(memoryview(more), f"the code at the end of {what}")
            buf += more
        return buf.decode("latin-1")

    def send(self, payload: bytes) -> None:
        try:
            self.sock.sendall(frame_message(payload))
        except OSError as exc:
            raise LiveError(f"{self.where}: cannot send {payload[:40]!r}: {exc}") from None

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

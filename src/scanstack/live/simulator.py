"""A Merlin detector on loopback: serves any ``.mib`` with the real framing and control replies.

>>> sim = MerlinSimulator("scan.mib").start()     # ports chosen by the system
>>> s = scanstack.open(f"merlin://127.0.0.1:{sim.data_port}")
>>> sim.stop()

Data port: each client gets ``HDR,`` + the acquisition header (the ``.hdr`` beside the file, or
one written for it), then every frame record of the file as one message; then the simulator
waits for the client to close (``repeat=True``: it sends the acquisition again, like a
detector in continuous mode). ``frames=N`` sends N frames per acquisition, cycling through the
file's (a long scan served from a short file; the repeated frames' headers get the next sequence
numbers). ``wait_start=True``: frames only after ``CMD,STARTACQUISITION``
on the control port. Control port: ``SET``/``GET``/``CMD`` answered with the detector's codes.

``fault`` makes the simulator misbehave at frame ``k``, for tests and demos of the client's
error handling: ``"drop:k"`` (half of frame k, then the connection closes), ``"header:k"``
(frame k's header is garbage), ``"size:k"`` (frame k is 8 bytes short), ``"short:k"`` (frame k
announces 10 bytes, shorter than a frame header, then silence), ``"stall:k"`` (nothing
after frame k-1, the connection stays open), ``"hdr"`` (a malformed acquisition header).
"""

from __future__ import annotations

import os
import select
import socket
import threading
from pathlib import Path

from ..formats.mib.header import find_hdr
from ..formats.mib.reader import MibReader
from ..formats.mib.writer import hdr_text
from .protocol import Channel, LiveError, message_prefix

FAULTS = ("drop", "header", "size", "short", "stall", "hdr")
#: control parameters a GET answers before any SET
DEFAULT_PARAMS = {"NUMFRAMESTOACQUIRE": "1", "COUNTERDEPTH": "12", "FILEFORMAT": "0"}
KNOWN_COMMANDS = {"STARTACQUISITION", "STOPACQUISITION", "SOFTTRIGGER", "ABORT", "RESET"}


def parse_fault(fault: str | None) -> tuple[str, int] | None:
    """``"drop:5"`` -> ``("drop", 5)``; ``"hdr"`` -> ``("hdr", 0)``."""
    if not fault:
        return None
    kind, _, at = fault.partition(":")
    if kind not in FAULTS or (kind != "hdr" and not at.isdigit()):
        raise ValueError(
            f"fault {fault!r}: expected one of drop:K, header:K, size:K, short:K, stall:K, hdr"
        )
    return kind, int(at or 0)


class MerlinSimulator:
    """Serve ``path`` (a ``.mib``) on ``host`` as a Merlin detector's data and control ports.

    Ports 0 let the system choose (see :attr:`data_port`, :attr:`control_port` after
    :meth:`start`). Threads are daemons and end with :meth:`stop` (also a context manager).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        host: str = "127.0.0.1",
        data_port: int = 0,
        control_port: int | None = 0,
        *,
        repeat: bool = False,
        wait_start: bool = False,
        fault: str | None = None,
        timeout: float = 10.0,
        frames: int | None = None,
    ):
        self.path = Path(path)
        reader = MibReader(self.path, hdr=False, join=False)
        try:
            self.stride = reader.geometry.stride
            self.head = reader.geometry.header_size
            self.nframes = reader.n_in_files
            depth, layout = reader.geometry.depth, reader.geometry.layout
            nchips = reader.geometry.nchips
        finally:
            reader.close()
        hdr = find_hdr(self.path)
        self.header = (
            hdr.read_bytes()
            if hdr is not None
            else hdr_text(self.nframes, 0, depth, layout.strip(), nchips=nchips)
        )
        if not self.header.startswith(b"HDR,"):
            self.header = b"HDR,\t\r\n" + self.header
        self.host = host
        self.repeat = repeat
        self.frames = self.nframes if frames is None else int(frames)
        if self.frames < 1:
            raise ValueError(f"frames must be at least 1, not {frames}")
        self._sent = 0
        self.wait_start = wait_start
        self.fault = parse_fault(fault)
        self.timeout = timeout
        self._want_ports = (data_port, control_port)
        self._stop = threading.Event()
        self._start_acq = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self.params = dict(DEFAULT_PARAMS, NUMFRAMESTOACQUIRE=str(self.nframes))
        self.clients_served = 0
        self.data_port = 0
        self.control_port: int | None = None

    # -- life cycle -----------------------------------------------------------------------
    def _listen(self, port: int) -> socket.socket:
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((self.host, port))
        srv.listen(4)
        self._sockets.append(srv)
        return srv

    def start(self) -> MerlinSimulator:
        data_port, control_port = self._want_ports
        srv = self._listen(data_port)
        self.data_port = srv.getsockname()[1]
        self._spawn(self._serve, srv, self._send_acquisition, "data")
        if control_port is not None:
            ctl = self._listen(control_port)
            self.control_port = ctl.getsockname()[1]
            self._spawn(self._serve, ctl, self._answer_control, "control")
        return self

    def _spawn(self, target, *args) -> None:
        t = threading.Thread(target=target, args=args, name=f"merlin-sim-{args[-1]}", daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self) -> None:
        """Stop serving and join every thread (each wakes within 0.1 s)."""
        self._stop.set()
        self._start_acq.set()
        for t in self._threads:
            t.join(5)
        for s in self._sockets:
            s.close()

    def __enter__(self) -> MerlinSimulator:
        return self.start() if not self.data_port else self

    def __exit__(self, *exc) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Block until interrupted (Ctrl-C), then stop."""
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop()

    def _serve(self, srv: socket.socket, handler, name: str) -> None:
        srv.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # one client at a time per port, like the detector
            try:
                handler(conn)
            except OSError:
                pass  # the client went away: wait for the next one
            finally:
                conn.close()

    # -- data port ------------------------------------------------------------------------
    def _send_acquisition(self, conn: socket.socket) -> None:
        conn.settimeout(self.timeout)
        if self.wait_start:
            while not self._start_acq.wait(0.1):
                if self._stop.is_set():
                    return
            self._start_acq.clear()
        self.clients_served += 1
        self._sent = 0
        kind, at = self.fault or ("", -1)
        header = b"XYZ," + self.header[4:] if kind == "hdr" else self.header
        conn.sendall(message_prefix(len(header)) + header)
        prefix = message_prefix(self.stride)
        more = getattr(socket, "MSG_MORE", 0)  # the prefix leaves with the frame, not alone
        with open(self.path, "rb") as fh:
            for i in self._frame_order():
                if self._stop.is_set():
                    return
                if i < 0:  # the next acquisition (repeat=True): sequence numbers from 1
                    conn.sendall(message_prefix(len(header)) + header)
                    self._sent = 0
                    continue
                if self._sent == at and kind in ("drop", "header", "size", "short", "stall"):
                    record = os.pread(fh.fileno(), self.stride, i * self.stride)
                    self._send_fault(conn, kind, memoryview(record))
                    return
                # zero copy: the kernel sends the frame record from the page cache
                if self._sent < self.nframes:
                    conn.sendall(prefix, more)
                    conn.sendfile(fh, i * self.stride, self.stride)
                else:  # cycling: the header gets the next sequence number, as on a detector
                    head = bytearray(os.pread(fh.fileno(), self.head, i * self.stride))
                    head[4:10] = b"%06d" % ((self._sent + 1) % 1_000_000)
                    conn.sendall(prefix + head, more)
                    conn.sendfile(fh, i * self.stride + self.head, self.stride - self.head)
                self._sent += 1
        self._wait_for_close(conn)

    def _frame_order(self):
        """Frame records to send (-1: the acquisition header again): ``frames`` per
        acquisition, cycling through the file's; once, or forever with ``repeat``."""
        while True:
            for k in range(self.frames):
                yield k % self.nframes
            if not self.repeat:
                return
            yield -1

    def _send_fault(self, conn: socket.socket, kind: str, record: memoryview) -> None:
        if kind == "drop":
            conn.sendall(message_prefix(len(record)) + bytes(record[: len(record) // 2]))
            return
        if kind == "header":
            conn.sendall(message_prefix(len(record)) + b"garbage!" + bytes(record[8:]))
        elif kind == "size":
            conn.sendall(message_prefix(len(record) - 8) + bytes(record[:-8]))
        elif kind == "short":  # a message shorter than a frame header, then silence
            conn.sendall(message_prefix(10) + bytes(record[:10]))
        self._wait_for_close(conn)  # "stall" (and after a bad frame): silence, connection open

    def _wait_for_close(self, conn: socket.socket) -> None:
        """Keep the connection open until the client closes it (or the simulator stops)."""
        while not self._stop.is_set():
            ready, _, _ = select.select([conn], [], [], 0.1)
            if ready:
                try:
                    if not conn.recv(4096):
                        return
                except OSError:
                    return

    # -- control port ---------------------------------------------------------------------
    def _answer_control(self, conn: socket.socket) -> None:
        channel = Channel(conn, f"simulator control port {self.control_port}", self.timeout)
        while not self._stop.is_set():
            ready, _, _ = select.select([conn], [], [], 0.1)
            if not ready:
                continue
            try:
                request = channel.read_message("a command", 4096).decode("latin-1")
            except LiveError:
                return  # the client closed the connection (or sent garbage)
            channel.send(self.reply(request).encode("latin-1"))

    def reply(self, request: str) -> str:
        """The detector's answer to one control request (``SET,P,V`` / ``GET,P`` / ``CMD,C``)."""
        parts = [p.strip() for p in request.split(",")]
        kind = parts[0].upper() if parts else ""
        if kind == "SET" and len(parts) == 3:
            param, value = parts[1].upper(), parts[2]
            if param == "NUMFRAMESTOACQUIRE" and (not value.isdigit() or int(value) < 1):
                return f"SET,{param},3"
            self.params[param] = value
            return f"SET,{param},0"
        if kind == "GET" and len(parts) == 2:
            param = parts[1].upper()
            if param not in self.params:
                return f"GET,{param},0,2"
            return f"GET,{param},{self.params[param]},0"
        if kind == "CMD" and len(parts) == 2:
            command = parts[1].upper()
            if command not in KNOWN_COMMANDS:
                return f"CMD,{command},2"
            if command == "STARTACQUISITION":
                self._start_acq.set()
            return f"CMD,{command},0"
        return f"{kind or '?'},{','.join(parts[1:2]) or '?'},2"


def start_libertem_sim(
    path: str | os.PathLike, nav_shape: tuple[int, ...], *, own_process: bool = False, **options
):
    """LiberTEM-live's own Merlin simulator (``CameraSim``) serving ``path`` on loopback, ports
    chosen by the system; returns ``(sim, data_port, control_port)`` (``sim.stop()`` ends it).

    For comparisons and interoperability tests (``libertem-live`` must be installed);
    ``options`` go to ``CameraSim`` (e.g. ``continuous=True``). ``own_process=True`` runs it in
    a fresh interpreter (spawned): LiberTEM's numba-compiled reader has been seen failing in a
    process where other LiberTEM code ran before (``SystemError ... 'descr' is NULL``)."""
    if own_process:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        ports = ctx.Queue()
        proc = ctx.Process(
            target=_serve_libertem_sim,
            args=(os.fspath(path), tuple(nav_shape), options, ports),
            daemon=True,
        )
        proc.start()
        data_port, control_port = ports.get(timeout=300)
        return _ProcessSim(proc), data_port, control_port
    from libertem_live.detectors.merlin.sim import CameraSim

    sim = CameraSim(
        path=os.fspath(path),
        nav_shape=tuple(nav_shape),
        host="127.0.0.1",
        data_port=0,
        control_port=0,
        trigger_port=0,
        **options,
    )
    sim.start()
    sim.wait_for_listen()
    return sim, sim.server_t.sockname[1], sim.control_t.sockname[1]


def _serve_libertem_sim(path: str, nav_shape: tuple[int, ...], options: dict, ports) -> None:
    sim, data_port, control_port = start_libertem_sim(path, nav_shape, **options)
    ports.put((data_port, control_port))
    sim.server_t.join()  # until the parent terminates this process


class _ProcessSim:
    """``stop()`` for a CameraSim running in its own process."""

    def __init__(self, proc):
        self.proc = proc

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


__all__ = ["FAULTS", "MerlinSimulator", "start_libertem_sim"]

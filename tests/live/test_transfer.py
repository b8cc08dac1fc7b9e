"""The spill's record sink (live/transfer.py): os.splice socket -> pipe -> file, the fallback to
recv + write where the kernel refuses splice, and the same fault messages on both paths, over a
real socket pair with a sender thread."""

from __future__ import annotations

import os
import socket
import threading

import numpy as np
import pytest

from scanstack.live.protocol import PREFIX_BYTES, Channel, LiveError, StreamClosed, message_prefix
from scanstack.live.transfer import RecordSink

HEAD = 256


def records(n: int, stride: int) -> list[bytes]:
    rng = np.random.default_rng(1)
    return [b"MQ1," + rng.bytes(stride - 4) for _ in range(n)]


def serve(sock, wire: bytes, then_close: bool = True) -> threading.Thread:
    def send():
        sock.sendall(wire)
        if then_close:
            sock.close()

    t = threading.Thread(target=send, name="merlin-sim-test")
    t.start()
    return t


def receive(sink: RecordSink, channel: Channel, n: int) -> None:
    """What the receiver does per frame: prefix + header in one call, then the rest."""
    for i in range(n):
        channel.recv_into(sink.buffer[: PREFIX_BYTES + HEAD], f"frame {i}", prefix=PREFIX_BYTES)
        sink.append(HEAD, f"frame {i}")


@pytest.mark.parametrize(
    ("splice", "flags", "splicing"),
    [
        (True, 0, hasattr(os, "splice")),  # Linux: spliced throughout
        (True, os.O_APPEND, False),  # splice into an appending file: EINVAL -> recv + write
        (False, 0, False),
    ],
    ids=["splice", "refused", "recv"],
)
def test_records_arrive_byte_exact(tmp_path, splice, flags, splicing):
    # 3 MiB records: more than the largest pipe (1 MiB here), so a payload takes several splices
    stride = 3 << 20
    recs = records(3, stride)
    a, b = socket.socketpair()
    sender = serve(a, b"".join(message_prefix(stride) + r for r in recs))
    channel = Channel(b, "test", 5)
    fd = os.open(tmp_path / "s.mib", os.O_WRONLY | os.O_CREAT | flags)
    sink = RecordSink(channel, fd, stride, splice=splice)
    try:
        receive(sink, channel, 3)
        assert sink.splicing == splicing
    finally:
        sink.close()
        os.close(fd)
        channel.close()
        sender.join()
    assert (tmp_path / "s.mib").read_bytes() == b"".join(recs)


@pytest.mark.parametrize("splice", [True, False], ids=["splice", "recv"])
@pytest.mark.parametrize("close", [True, False], ids=["closed", "silent"])
def test_a_cut_record_names_the_bytes_that_arrived(tmp_path, splice, close):
    stride = 100_000
    rec = records(1, stride)[0]
    a, b = socket.socketpair()
    # the whole header and 40,000 bytes of the record, then the peer closes or falls silent
    sender = serve(a, message_prefix(stride) + rec[:40_000], then_close=close)
    channel = Channel(b, "test", 0.3)
    fd = os.open(tmp_path / "s.mib", os.O_WRONLY | os.O_CREAT)
    sink = RecordSink(channel, fd, stride, splice=splice)
    expected = (
        (StreamClosed, r"^test: connection closed while reading frame 0: 40000 of 100000 bytes")
        if close
        else (LiveError, r"^test: nothing received for 0.3 s while reading frame 0 \(40000 of 1")
    )
    try:
        with pytest.raises(expected[0], match=expected[1]):
            receive(sink, channel, 1)
    finally:
        sink.close()
        os.close(fd)
        channel.close()
        sender.join()
        a.close()
    # splice moved what arrived into the file (the receiver truncates it to whole records);
    # recv + write wrote nothing of the incomplete record
    got = (tmp_path / "s.mib").read_bytes()
    assert got == rec[: 40_000 if splice and hasattr(os, "splice") else 0]

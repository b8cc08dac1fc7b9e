"""Progress bars through tqdm: a bar on a terminal, nothing on a pipe, nothing with --quiet."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from scanstack.core.progress import Progress

SRC = str(Path(__file__).resolve().parents[2] / "src")
SCRIPT = (
    "from scanstack.core.progress import Progress\n"
    "with Progress(50, {arg}, 'work', 'frames') as bar:\n"
    "    for _ in range(50):\n"
    "        bar.update(1)\n"
)


def _run(arg: str, terminal: bool) -> bytes:
    """stderr of a fresh process running a 50-step Progress, on a pty or a pipe."""
    env = dict(os.environ, PYTHONPATH=SRC)
    code = SCRIPT.format(arg=arg)
    if not terminal:
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stderr
    main, child = pty.openpty()
    # a terminal 100 columns wide (a new pty has 0 columns: tqdm would draw an empty bar)
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=child)
        os.close(child)
        out = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(main)
    return out


def test_bar_on_a_terminal():
    out = _run("True", terminal=True)
    assert b"work" in out and b"50/50" in out and b"frames" in out


def test_no_bar_and_no_carriage_returns_on_a_pipe():
    assert _run("True", terminal=False) == b""


@pytest.mark.parametrize("arg", ["False", "None"])
def test_quiet_draws_nothing_even_on_a_terminal(arg):
    assert b"work" not in _run(arg, terminal=True)


def test_callback_gets_done_and_total():
    seen = []
    with Progress(7, lambda d, t: seen.append((d, t))) as bar:
        for _ in range(3):
            bar.update(2)
        bar.update(1)
    assert seen == [(2, 7), (4, 7), (6, 7), (7, 7)]


def test_updates_from_threads_are_counted_once_each_in_order():
    # the folds' partitions and the whole-read copies tick from their own threads
    from concurrent.futures import ThreadPoolExecutor

    seen = []
    with Progress(4000, lambda d, t: seen.append(d)) as bar:

        def work(_):
            for _ in range(1000):
                bar.update(1)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(work, range(4)))
    assert bar.done == 4000
    assert seen == list(range(1, 4001))  # every count reported once, never out of order

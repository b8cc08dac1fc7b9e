"""Live-source fixtures: the ``merlin`` format registered (its entry point appears only after
a reinstall), small ``.mib`` files of every kind, and simulators that are always stopped."""

from __future__ import annotations

import threading

import pytest

from scanstack.core.registry import register
from scanstack.live import FORMAT
from scanstack.live.simulator import MerlinSimulator


@pytest.fixture(autouse=True)
def merlin_format():
    register(FORMAT)


@pytest.fixture(autouse=True)
def no_thread_left():
    """Every test ends with no receiver or simulator thread running."""
    before = set(threading.enumerate())
    yield
    left = [
        t
        for t in threading.enumerate()
        if t not in before
        and t.is_alive()
        and t.name.startswith(("scanstack-merlin", "merlin-sim"))
    ]
    for t in left:
        t.join(5)
    assert not [t.name for t in left if t.is_alive()], "threads left running"


@pytest.fixture
def simulate():
    """``simulate(path, **options)`` -> a started :class:`MerlinSimulator`, stopped after."""
    sims = []

    def start(path, **options):
        sim = MerlinSimulator(path, **options).start()
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        sim.stop()

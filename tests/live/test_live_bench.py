"""The live benchmark runs end to end on a short stream, its BF images checked against the file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_live_merlin.py"


@pytest.mark.slow
def test_bench_live_merlin_quick(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(BENCH.parents[1] / "src")}
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "stream: 8x16 = 128 frames" in out
    ring = re.search(
        r"nothing recorded \(spill=False\): ([\d,]+) frames/s .* grew by at most (\d+) MiB", out
    )
    assert ring, out
    assert int(ring.group(1).replace(",", "")) > 0
    assert int(ring.group(2)) < 128  # the ring of 128 frames is 64 MiB (69 MiB grew here)
    assert re.search(r"our simulator: [\d,]+ frames/s received \+ virtual BF", out)
    assert re.search(r"os\.splice: [\d,]+ frames/s", out)
    assert list(tmp_path.iterdir()) == []  # the file and every spill deleted

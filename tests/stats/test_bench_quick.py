"""The statistics benchmark stays runnable (slow: run with -m slow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_stats.py"


@pytest.mark.slow
def test_bench_stats_quick(tmp_path):
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "every scanstack result above equals numpy's" in out
    assert "(within budget)" in out
    for name in (
        "scanstack median (file)",
        "scanstack percentile 90 (file)",
        "scanstack max (file)",
        "scanstack mean (file)",
        "hexrd's median",
    ):
        assert name in out

"""The .mib benchmark runs end to end on small files and every contender agrees with scanstack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_mib.py"


@pytest.mark.slow
def test_bench_mib_quick(tmp_path):
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--repeat", "1", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [
        line
        for line in run.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| method")
    ]
    assert any(r.startswith("| limit") for r in rows)
    scanstack_rows = [r for r in rows if r.startswith("| scanstack")]
    # fast, block-wise and scanstack.stats.sum, for the processed and the raw file
    assert len(scanstack_rows) == 6
    checked = [r for r in rows if "| sum " in r]
    assert checked, run.stdout
    for row in checked:  # sums agree exactly with scanstack's
        assert "sum equal" in row, row

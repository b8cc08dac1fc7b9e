"""Runs benchmarks/bench_convert.py --quick (slow: generates and converts a 131 MB stack)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_convert.py"


@pytest.mark.slow
def test_bench_convert_quick(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH.parent))  # the script imports its sibling _memory
    spec = importlib.util.spec_from_file_location("bench_convert", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(["--quick", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "hardware line" in out and "ratio" in out
    assert {(r["format"], r["compression"]) for r in results} >= {
        ("nexus", "gzip-1"),
        ("usid", "lzf"),
        ("nsid", "lzf"),
        ("zarr", "blosc-zstd"),
    }
    for r in results:
        assert r["mb_s"] > 0 and r["ratio"] > 0
        # memory bounded by the budget (32 MiB) and chunks in flight, not by the 131 MB file
        assert r["peak_rss_mib"] < 100, r

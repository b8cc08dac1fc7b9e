"""Every statistic on every format stays within the memory budget plus a small constant.

One file per format, four times the budget, written by scanstack's own writers (tests/
memory/memcases.py); each statistic runs in a fresh interpreter (tests/memory/probe.py) that
measures the peak resident memory it adds (Linux VmHWM, reset before each call; pages of
memory-mapped inputs are page cache and not counted). glibc returns freed blocks of 64 KiB and
more at once (MALLOC_MMAP_THRESHOLD_), so resident memory follows what is allocated.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import memcases as mc  # noqa: E402

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc peak-memory reset"
)

#: the budget of these tests, and the data: 64 frames of 128 x 256 uint16 (4 MiB, 4x the budget;
#: a statistic holding every frame would add more than BUDGET + CONSTANT)
BUDGET = 1 << 20
SHAPE = (64, 128, 256)
#: what a statistic may hold beyond the budget: the interpreter's and the libraries' own
#: allocations while it runs (thread stacks, h5py/zarr/zip objects, HDF5's 1 MiB chunk caches
#: of an fch5's two datasets); README "Memory" states it
CONSTANT = 2 << 20


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("budget")
    data = mc.make_frames(*SHAPE)
    cases, held = mc.build_cases(data, folder, BUDGET)
    results = mc.probe(cases, folder)
    return data, held, {r["name"]: (r, c) for r, c in zip(results, cases, strict=True)}


@pytest.mark.parametrize("stat", mc.STATS)
@pytest.mark.parametrize("case", list(mc.BUILDERS))
def test_statistic_within_budget(measured, case, stat):
    data, held, results = measured
    assert held[case].nbytes >= 4 * BUDGET
    result, spec = results[f"{case}:{stat}"]
    assert result["error"] is None, result["error"]
    got = np.load(spec["out"])
    np.testing.assert_allclose(got, mc.expected(held[case], stat), rtol=1e-6)
    assert result["added"] <= BUDGET + CONSTANT, (
        f"{case} {stat}: {result['added'] / 2**20:.2f} MiB added, budget "
        f"{BUDGET / 2**20:.0f} MiB + {CONSTANT / 2**20:.0f} MiB"
    )

"""Fuzz suite: every readable format, mutated; each mutant gives correct data or a ScanstackError.

A valid small file of each format (``_fuzz_corpus.SEED_KINDS``) is mutated in seeded, reproducible
ways (truncations, bit flips, absurd header bytes, HDF5 datasets of the wrong dtype/shape or
deleted, absurd attributes, YAML/JSON/.hdr values, deleted or corrupt chunks and npz members).
Each mutant is opened, inspected, read (frames, a block, a region, a statistic) and given to
``scanstack info`` in a subprocess capped with ``RLIMIT_AS`` (2 GiB) and a time limit, many mutants
per subprocess. A mutant passes when:

- it reads with shapes and dtypes as declared (a frame, a block, a region and the statistic agree),
  and a dataset replaced by a constant reads back as exactly that constant (no wrap-around, no
  truncation) — or it raises a ``ScanstackError`` whose message names the file;
- nothing else escapes, it does not crash the interpreter, and it ends within the time limit;
- ``scanstack info`` exits 0, or prints exactly one line ``scanstack: error: ...`` to stderr, no
  traceback; every stderr line starts with ``scanstack:`` (warnings are one line each).

The unmutated seed of each format (``<seed>/none-0``) must read back exactly and refuse bad
indices with ``FrameIndexError``. ``FUZZ_DUMP=outcomes.json`` writes every mutant's description
and outcome (and the subprocesses' CPU time) for a look at what the mutants did.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from _fuzz_corpus import make_mutant, mutant_ids
from _fuzz_seeds import SEED_KINDS, build_seeds, readable_file_formats

RUNNER = Path(__file__).with_name("_fuzz_runner.py")
SRC = Path(__file__).resolve().parents[2] / "src"
BATCH = 100  # mutants per subprocess (start-up and numba compilation cost ~2 s CPU each)
PARALLEL = 2
BATCH_TIMEOUT = 600  # s, a backstop; each mutant has its own limit (FUZZ_TIME_LIMIT, 60 s)

CASES = [(seed, m) for seed, kinds in SEED_KINDS.items() for m in mutant_ids(kinds)]


def _run_batch(jobs: list[dict], work: Path, n: int) -> dict[str, dict]:
    jobs_file = work / f"jobs-{n}.json"
    jobs_file.write_text(json.dumps(jobs))
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        NUMBA_NUM_THREADS="1",
        FUZZ_RLIMIT_AS=str(2 << 30),
        FUZZ_TIME_LIMIT="60",  # generous: 8 test runs may share 2 cores; a hang is still caught
    )
    results: dict[str, dict] = {}
    started = None
    try:
        proc = subprocess.run(
            [sys.executable, str(RUNNER), str(jobs_file)],
            capture_output=True,
            text=True,
            timeout=BATCH_TIMEOUT,
            env=env,
            cwd=work,
        )
        stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        stderr, code = "batch timed out", None
    for line in stdout.splitlines():
        rec = json.loads(line)
        if "start" in rec:
            started = rec["start"]
        else:
            results[rec["id"]] = rec
            started = None
    if started is not None:  # the subprocess died (or hung) inside this mutant
        results[started] = {
            "id": started,
            "outcome": "crash",
            "error": f"exit {code}: {stderr[-800:]}",
        }
    for job in jobs:  # mutants after a crash: run them again in their own batch
        if job["id"] not in results and started is not None:
            rest = [j for j in jobs if j["id"] not in results]
            results.update(_run_batch(rest, work, n * 1000 + 1))
            break
    return results


@pytest.fixture(scope="module")
def fuzz_results(tmp_path_factory, request) -> dict[str, dict]:
    try:  # the real Merlin file joins the corpus when the shared data are there
        real_mib = request.getfixturevalue("shared_data") / "mib" / "readmib_example.mib"
    except pytest.skip.Exception:
        real_mib = None
    work = tmp_path_factory.mktemp("fuzz")
    with warnings.catch_warnings():  # the seeds' own (sparse frames, a real file's sequence)
        warnings.simplefilter("ignore")
        seeds = build_seeds(work / "seeds", real_mib)
    mutants = work / "mutants"
    mutants.mkdir()
    jobs = []
    for seed_name, mutant in CASES:
        seed = seeds.get(seed_name)
        if seed is None:
            continue
        path, what, const = make_mutant(seed, mutant, mutants)
        jobs.append(
            {
                "id": f"{seed_name}/{mutant}",
                "path": path,
                "format": seed.format,
                "truth": seed.truth,
                "what": what,
                "data_constant": const,
                "control": mutant.startswith("none-"),
                "name": f"{seed_name}.{mutant}",
            }
        )
    batches = [jobs[i : i + BATCH] for i in range(0, len(jobs), BATCH)]
    results: dict[str, dict] = {}
    with ThreadPoolExecutor(PARALLEL) as pool:
        for part in pool.map(_run_batch, batches, [work] * len(batches), range(len(batches))):
            results.update(part)
    for job in jobs:
        results.setdefault(job["id"], {"outcome": "missing"})["name"] = job["name"]
    if os.environ.get("FUZZ_DUMP"):  # every outcome as JSON, to look at what the mutants did
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        results["_cpu_seconds_of_children"] = {
            "outcome": "info",
            "user": cpu.ru_utime,
            "sys": cpu.ru_stime,
        }
        Path(os.environ["FUZZ_DUMP"]).write_text(json.dumps(results, indent=1))
    return results


def test_every_readable_format_has_a_seed():
    from _fuzz_seeds import SEED_FORMATS

    assert readable_file_formats() <= set(SEED_FORMATS.values())


@pytest.mark.parametrize(("seed", "mutant"), CASES, ids=[f"{s}/{m}" for s, m in CASES])
def test_mutant(fuzz_results, seed, mutant):
    key = f"{seed}/{mutant}"
    if key not in fuzz_results:
        pytest.skip(f"seed {seed} not available (real files absent)")
    rec = fuzz_results[key]
    context = f"{key} ({rec.get('what')}): {rec.get('error', '')}\n{rec.get('traceback', '')}"
    assert rec["outcome"] in ("ok", "error"), context
    if mutant.startswith("none-"):  # the seed: exact data, and bad indices refused clearly
        assert rec["outcome"] == "ok", context
        assert rec["bad_indices"] == [], f"{key}: {rec['bad_indices']}"
    if rec["outcome"] == "error":
        assert rec["name"] in rec["error"], f"the error does not name the file: {context}"
    cli = rec["cli"]
    lines = [line for line in cli["stderr"].splitlines() if line.strip()]
    assert "Traceback" not in cli["stderr"], f"{key}: {cli['stderr']}"
    assert all(line.startswith("scanstack: ") for line in lines), f"{key}: {cli['stderr']}"
    if cli["code"] != 0:
        assert cli["code"] == 2, f"{key}: exit {cli['code']}: {cli['stderr']}"
        assert len(lines) == 1 and lines[0].startswith("scanstack: error: "), f"{key}: {lines}"

"""Run in a subprocess by test_fuzz.py: probe a batch of mutants under an address-space cap.

``python _fuzz_runner.py JOBS.json`` where JOBS.json is a list of ``{id, path, format, truth,
what, data_constant}``. For each mutant, with ``RLIMIT_AS`` set before anything is imported and an
alarm as a time limit, it opens the file (the seed's format), reads the shapes, axes and metadata,
frames 0 and -1, a block, a region, a statistic, and runs ``scanstack info`` in-process with file
descriptors 1 and 2 captured (so C libraries writing to stderr are seen too). One JSON line per
mutant goes to stdout, preceded by a ``start`` line so a crash or hang is attributed.
"""

from __future__ import annotations

import json
import os
import resource
import sys

LIMIT = int(os.environ.get("FUZZ_RLIMIT_AS", str(2 << 30)))
resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))

import signal  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import scanstack  # noqa: E402
import scanstack.stats  # noqa: E402
from scanstack.core.errors import ScanstackError  # noqa: E402

TIME_LIMIT = int(os.environ.get("FUZZ_TIME_LIMIT", "20"))
OUT = os.fdopen(os.dup(1), "w", buffering=1)  # results go here, whatever fd 1 becomes


class Hang(BaseException):
    pass


def _alarm(signum, frame):
    raise Hang()


def _check(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def probe(job: dict) -> dict:
    """Open, inspect and read one mutant; returns what happened."""
    path, fmt = job["path"], job["format"]
    truth = np.load(job["truth"])
    result: dict = {}
    with scanstack.open(path, fmt) as s:
        nav, sig, dtype = tuple(s.nav_shape), tuple(s.signal_shape), np.dtype(s.dtype)
        _check(all(isinstance(n, int) and n >= 0 for n in nav + sig), f"shape {nav} {sig}")
        _check(dtype.kind in "biufc", f"dtype {dtype}")
        result["shape"] = [list(nav), list(sig), dtype.str]
        _ = s.axes, s.metadata, s.original_metadata
        n = s.nframes
        if n and len(sig) == 2:  # a region reads only that region, whatever the frame size
            region = s.get_region(0, ((1, 3), (2, 5)))
            _check(
                region.shape == (min(sig[0], 3) - 1, min(sig[1], 5) - 2), f"region {region.shape}"
            )
        if n:  # a frame beyond the memory budget is a MemoryBudgetError, never an allocation
            first, last = s[0], s[-1]
            for frame in (first, last):
                _check(frame.shape == sig and frame.dtype == dtype, f"frame {frame.shape}")
            block = s.read(0, min(n, 3))
            _check(block.shape == (min(n, 3), *sig), f"block {block.shape}")
            _check(np.array_equal(block[0], first, equal_nan=True), "block[0] != s[0]")
            if len(sig) == 2:
                _check(np.array_equal(region, first[1:3, 2:5], equal_nan=True), "region != crop")
            else:
                part = s.isig[2:9].read(0, 1)[0]
                _check(np.array_equal(part, first[2:9], equal_nan=True), "isig != frame crop")
            stat = scanstack.stats.max(s, nframes=min(n, 4))
            _check(np.shape(stat) == sig, f"stats.max shape {np.shape(stat)}")
            if s.nbytes <= 64 << 20:
                data = s.to_numpy()
                result["equal"] = bool(
                    data.shape == truth.shape and np.array_equal(data, truth, equal_nan=True)
                )
                const = job.get("data_constant")
                if not result["equal"] and const is not None and data.size == truth.size:
                    # the data dataset was replaced by a constant: it reads back as that value
                    # exactly, or not at all (no wrap-around, no truncation)
                    values = data.astype(np.float64)
                    _check(
                        bool(np.all(values == float(const))),
                        f"{const} read as {np.unique(data)[:5]}",
                    )
        if job.get("control"):
            _check(result.get("equal", False), "the unmutated seed does not read back as written")
            result["bad_indices"] = bad_indices(s, truth)
    return result


def bad_indices(s, truth: np.ndarray) -> list[str]:
    """Negative, out-of-range and fractional indices: each must give the right frame or a
    ``FrameIndexError`` (a ScanstackError that is also an IndexError); returns what did not."""
    from scanstack.core.errors import FrameIndexError

    n = s.nframes
    flat = truth.reshape(n, *s.signal_shape)
    problems = []
    if not np.array_equal(s[-1], flat[-1]) or not np.array_equal(s[-n], flat[0]):
        problems.append("s[-1] / s[-n] are not the last / first frame")
    if not np.array_equal(s.read_frames(np.array([n - 1, 0], np.uint16)), flat[[n - 1, 0]]):
        problems.append("read_frames with unsigned indices")
    bad = {
        "s[n]": lambda: s[n],
        "s[-n-1]": lambda: s[-n - 1],
        "s[1.5]": lambda: s[1.5],
        "s[np.float64(1)]": lambda: s[np.float64(1)],
        "s[[0, n]]": lambda: s[[0, n]],
        "s[[0.5]]": lambda: s[[0.5]],
        "s[0, 1.5]": lambda: s[0, 1.5],
        "read_frames([1.5])": lambda: s.read_frames([1.5]),
        "read_frames([n])": lambda: s.read_frames([n]),
        "read(0.5, 2)": lambda: s.read(0.5, 2),
        "get_region(1.0, ...)": lambda: s.get_region(1.0, [(0, 1)] * len(s.signal_shape)),
        "get_region(0, fractions)": lambda: s.get_region(0, [(0.5, 1)] * len(s.signal_shape)),
        "inav[1.5]": lambda: s.inav[1.5],
        "isig[0.5:]": lambda: s.isig[0.5:],
    }
    for name, call in bad.items():
        try:
            call()
            problems.append(f"{name}: no error")
        except FrameIndexError:
            pass
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return problems


def run_cli(path: str) -> tuple[int, str, str]:
    """``scanstack info PATH`` in-process, fd 1 and 2 captured."""
    from scanstack.cli.main import main

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            code = main(["info", path])
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException as exc:  # noqa: BLE001 - the CLI must not let anything out
            if isinstance(exc, Hang):
                raise
            code = -1
            sys.stderr.write(f"EXCEPTION ESCAPED main(): {type(exc).__name__}: {exc}\n")
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        out.seek(0)
        err.seek(0)
        return code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")


def one(job: dict) -> dict:
    rec: dict = {"id": job["id"], "what": job["what"]}
    start = time.perf_counter()
    signal.alarm(TIME_LIMIT)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                rec.update(probe(job))
                rec["outcome"] = "ok"
            except ScanstackError as exc:
                rec["outcome"] = "error"
                rec["error"] = f"{type(exc).__name__}: {exc}"
            except MemoryError as exc:
                rec["outcome"] = "memory"
                rec["error"] = f"MemoryError: {exc}"
            except Hang:
                raise
            except BaseException as exc:  # noqa: BLE001
                rec["outcome"] = "bug"
                rec["error"] = f"{type(exc).__name__}: {exc}"[:500]
                rec["traceback"] = traceback.format_exc()[-2000:]
        rec["warnings"] = [str(w.message)[:300] for w in caught]
        if rec["outcome"] not in ("memory",):
            code, out, err = run_cli(job["path"])
            rec["cli"] = {"code": code, "stdout_tail": out[-300:], "stderr": err[-2000:]}
    except Hang:
        rec["outcome"] = "timeout"
        rec["error"] = f"no result within {TIME_LIMIT} s"
    finally:
        signal.alarm(0)
    rec["seconds"] = round(time.perf_counter() - start, 3)
    return rec


def main() -> None:
    signal.signal(signal.SIGALRM, _alarm)
    jobs = json.loads(open(sys.argv[1]).read())
    for job in jobs:
        OUT.write(json.dumps({"start": job["id"]}) + "\n")
        OUT.write(json.dumps(one(job), default=str) + "\n")


if __name__ == "__main__":
    main()

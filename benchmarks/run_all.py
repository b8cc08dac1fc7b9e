"""Run every benchmark in one go and print their tables (``make bench``).

``python benchmarks/run_all.py``          full sizes (several GB of generated data in benchmarks/data/)
``python benchmarks/run_all.py --quick``  small sizes, a minute or two
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "bench_doors.py",
    "bench_stats.py",
    "bench_coldstart.py",
    "bench_hexrd_formats.py",
    "bench_process.py",
    "bench_mib.py",
    "bench_mib_read.py",
    "bench_crono_frames.py",
    "bench_registration.py",
    "bench_crono_xrf.py",
    "bench_convert.py",
    "bench_live_merlin.py",
]


def main(argv: list[str]) -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"\n######## {name} {' '.join(argv)}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / name), *argv])
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

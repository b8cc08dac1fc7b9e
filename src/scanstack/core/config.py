"""Global settings: the memory budget that bounds every out-of-core computation.

``scanstack.config.memory_budget`` (bytes) caps the working memory of statistics, conversions and
other block-wise jobs; ``chunk_bytes`` is the target size of one block (a dask chunk, one read).
Both can be set for a block of code with :func:`settings`.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass


def _env_bytes(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(float(value)) if value else default


@dataclass
class Config:
    #: upper bound, in bytes, of the memory a statistic or conversion may hold at once
    memory_budget: int = _env_bytes("SCANSTACK_MEMORY_BUDGET", 1 << 30)
    #: target size, in bytes, of one block read from a file (and of one dask chunk)
    chunk_bytes: int = _env_bytes("SCANSTACK_CHUNK_BYTES", 32 << 20)
    #: worker threads for block-wise work on one machine (0 means one per core)
    num_threads: int = int(os.environ.get("SCANSTACK_NUM_THREADS", "0"))
    #: show progress bars on long runs (the CLI turns this on)
    progress: bool = False

    def threads(self) -> int:
        return self.num_threads or os.cpu_count() or 1


config = Config()


@contextlib.contextmanager
def settings(**changes):
    """Temporarily change configuration values: ``with settings(memory_budget=256 << 20): ...``."""
    old = {k: getattr(config, k) for k in changes}
    for key, value in changes.items():
        if not hasattr(config, key):
            raise AttributeError(f"scanstack has no setting {key!r}")
        setattr(config, key, value)
    try:
        yield config
    finally:
        for key, value in old.items():
            setattr(config, key, value)

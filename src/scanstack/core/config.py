"""Global settings: the memory budget that bounds every out-of-core computation.

``scanstack.config.memory_budget`` (bytes) caps the working memory of statistics, conversions and
other block-wise jobs; ``block_bytes`` is the largest block read from a file at once (and the
size of a dask chunk of :meth:`Stack.to_dask`). Both can be set for a block of code with
:func:`settings`. Each call can override them with the keywords of
:mod:`scanstack.core.resources` (``memory_budget=``, ``threads=``, ``progress=``, ``client=``).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass


def _env_bytes(name: str, default: int, old_name: str | None = None) -> int:
    value = os.environ.get(name) or (os.environ.get(old_name) if old_name else None)
    return int(float(value)) if value else default


@dataclass
class Config:
    #: upper bound, in bytes, of the memory a statistic or conversion may hold at once
    memory_budget: int = _env_bytes("SCANSTACK_MEMORY_BUDGET", 1 << 30)
    #: largest block, in bytes, read from a file at once (and one dask chunk); smaller when the
    #: memory budget requires it. (Was ``chunk_bytes``; a writer's ``file_chunk_bytes`` is the
    #: chunk stored in the file, a different thing.)
    block_bytes: int = _env_bytes("SCANSTACK_BLOCK_BYTES", 32 << 20, "SCANSTACK_CHUNK_BYTES")
    #: worker threads for block-wise work on one machine (0 means one per core)
    num_threads: int = int(os.environ.get("SCANSTACK_NUM_THREADS", "0"))
    #: show progress bars on long runs (the CLI turns this on)
    progress: bool = False

    def threads(self) -> int:
        return self.num_threads or os.cpu_count() or 1

    @property
    def chunk_bytes(self) -> int:
        """Deprecated name of :attr:`block_bytes`."""
        warnings.warn(
            "scanstack.config.chunk_bytes is deprecated, use config.block_bytes",
            DeprecationWarning,
            2,
        )
        return self.block_bytes

    @chunk_bytes.setter
    def chunk_bytes(self, value: int) -> None:
        warnings.warn(
            "scanstack.config.chunk_bytes is deprecated, use config.block_bytes",
            DeprecationWarning,
            2,
        )
        self.block_bytes = value


config = Config()


@contextlib.contextmanager
def settings(**changes):
    """Temporarily change configuration values: ``with settings(memory_budget=256 << 20): ...``."""
    if "chunk_bytes" in changes:
        warnings.warn(
            "settings(chunk_bytes=) is deprecated, use settings(block_bytes=)",
            DeprecationWarning,
            3,
        )
        changes["block_bytes"] = changes.pop("chunk_bytes")
    for key in changes:
        if key not in Config.__dataclass_fields__:
            raise AttributeError(f"scanstack has no setting {key!r}")
    old = {k: getattr(config, k) for k in changes}
    for key, value in changes.items():
        setattr(config, key, value)
    try:
        yield config
    finally:
        for key, value in old.items():
            setattr(config, key, value)

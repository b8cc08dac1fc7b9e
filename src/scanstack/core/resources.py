"""The four keywords every out-of-core function takes, decided in one place.

Statistics, 4D-STEM and XRF tools, writers and ``convert`` all take keyword-only::

    client=None          # a dask.distributed Client: the work runs as tasks on its workers
    threads=None         # threads on this machine (default scanstack.config.threads())
    progress=None        # True (a bar on stderr), False, or f(done, total) (default config.progress)
    memory_budget=None   # bytes this call may hold at once (default config.memory_budget)

and hand them to :func:`resolve`, which applies the defaults of :mod:`scanstack.core.config` and
checks them, so that the meaning (and the error for a bad value) is the same everywhere.
:meth:`Resources.frames_per_block` turns the budget into the size of the blocks read from a
file, the one decision that bounds the memory of every block-wise job.
"""

from __future__ import annotations

import math
import operator
import warnings
from dataclasses import dataclass
from typing import Any

from .config import config
from .progress import ProgressArg


@dataclass(frozen=True)
class Resources:
    """What one call may use: resolved ``client``, ``threads``, ``progress``, ``memory_budget``."""

    client: Any
    threads: int
    progress: ProgressArg
    memory_budget: int

    @property
    def workers(self) -> int:
        """Tasks that run at once: ``threads`` here, or every thread of the client's workers."""
        if self.client is None:
            return self.threads
        info = self.client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.values()))

    def block_bytes(self, copies: int = 3, reserve: int = 0, concurrent: int | None = None) -> int:
        """Bytes of one block when ``concurrent`` readers (default ``threads``) each hold up to
        ``copies`` blocks at once and ``reserve`` bytes of the budget go elsewhere.

        Never more than ``config.block_bytes`` (larger reads do not go faster); at least 1.
        """
        readers = max(1, self.threads if concurrent is None else int(concurrent))
        room = (self.memory_budget - max(0, int(reserve))) // (readers * max(1, int(copies)))
        return max(1, min(int(config.block_bytes), room))

    def frames_per_block(
        self,
        frame_nbytes: int,
        copies: int = 3,
        reserve: int = 0,
        concurrent: int | None = None,
    ) -> int:
        """Frames per block of :meth:`block_bytes` (at least one frame, whatever the budget)."""
        per = self.block_bytes(copies, reserve, concurrent) // max(1, int(frame_nbytes))
        return max(1, int(per))


#: the most of the budget given to the reader's scratch (decoded chunks, sparse frames); a reader
#: needing more goes over the budget by the difference (the README's "Memory" section)
SCRATCH_SHARE = 4


def reader_scratch(stack: Any, budget: int, readers: int = 1) -> int:
    """Bytes of the budget kept for the scratch of one of ``readers`` concurrent reads.

    ``stack.read_overhead()`` (:meth:`scanstack.core.reader.Reader.read_overhead`), capped at
    ``1/SCRATCH_SHARE`` of the budget in all.
    """
    get = getattr(stack, "read_overhead", None)
    overhead = int(get()) if callable(get) else 0
    return min(overhead, budget // (SCRATCH_SHARE * max(1, readers)))


def resolve(
    *,
    client: Any = None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
) -> Resources:
    """The keywords of an out-of-core call with the defaults of ``scanstack.config`` applied.

    ``threads`` None or 0 means ``config.threads()`` (one per core unless configured);
    ``memory_budget`` None means ``config.memory_budget``; ``progress`` None means
    ``config.progress``. Raises ``ValueError``/``TypeError`` naming the keyword for a value that
    cannot mean anything (negative threads, a budget of 0 bytes, a client that is not one).
    """
    if client is not None and not callable(getattr(client, "submit", None)):
        raise TypeError(
            f"client= must be a dask.distributed Client (or None), got {type(client).__name__}"
        )
    if threads is None or threads == 0:
        nthreads = config.threads()
    else:
        try:
            nthreads = operator.index(threads)
        except TypeError:
            raise TypeError(f"threads= must be an integer, got {threads!r}") from None
        if nthreads < 0:
            raise ValueError(f"threads= must be >= 1 (or 0/None for the default), got {threads}")
    if memory_budget is None:
        budget = int(config.memory_budget)
    else:
        if isinstance(memory_budget, float) and not math.isfinite(memory_budget):
            raise ValueError(f"memory_budget= must be a number of bytes, got {memory_budget!r}")
        try:
            budget = int(memory_budget)
        except (TypeError, ValueError):
            raise TypeError(
                f"memory_budget= must be a number of bytes, got {memory_budget!r}"
            ) from None
    if budget <= 0:
        raise ValueError(f"memory_budget must be positive, got {budget}")
    if progress is None:
        progress = config.progress
    return Resources(client, max(1, int(nthreads)), progress, budget)


def resolve_here(
    where: str,
    *,
    client: Any = None,
    threads: int | None = None,
    progress: ProgressArg = None,
    memory_budget: int | None = None,
) -> Resources:
    """:func:`resolve` for a job that runs in this process only (a writer storing frames in
    order): a ``client`` is refused with an :class:`~scanstack.core.errors.UnsupportedError`
    naming ``where`` (the format, or the file)."""
    if client is not None:
        from .errors import UnsupportedError

        raise UnsupportedError(f"{where}: written in this process; client= is not supported")
    return resolve(threads=threads, progress=progress, memory_budget=memory_budget)


#: marks a deprecated keyword that was not given
UNSET: Any = object()


def renamed(
    new_value: Any, old_value: Any, old: str, new: str, where: str, stacklevel: int = 3
) -> Any:
    """The value of a keyword that was renamed from ``old`` to ``new`` (old one still accepted).

    ``old_value`` is ``UNSET`` unless the caller passed the old name, which gives a
    ``DeprecationWarning``; passing both (with different values) is a ``TypeError``.
    """
    if old_value is UNSET:
        return new_value
    warnings.warn(
        f"{where}: {old}= is deprecated, use {new}= (same meaning)", DeprecationWarning, stacklevel
    )
    if new_value is not None and new_value != old_value:
        raise TypeError(f"{where}: give {new}= only (not also the deprecated {old}=)")
    return old_value

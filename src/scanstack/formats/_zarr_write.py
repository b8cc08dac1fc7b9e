"""Writing zarr v3 groups (the layout is drawn in :mod:`scanstack.formats.zarr`), and the
zarr import the reader shares."""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_path, checkpoint
from ..core.errors import UnsupportedError
from ..core.metadata import to_jsonable
from ..core.progress import Progress, ProgressArg
from ..core.resources import UNSET, Resources, resolve
from ..core.stack import Stack
from ..core.writing import file_chunk_target, tasks_in_flight
from . import _interchange as ic

#: the name of the stack's array in the group scanstack writes
ARRAY = "data"


def require_zarr():
    """The zarr package, or an :class:`UnsupportedError` saying how to install it."""
    try:
        import zarr
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise UnsupportedError(
            "the zarr format needs zarr>=3: pip install 'scanstack[zarr]'"
        ) from exc
    if int(zarr.__version__.split(".")[0]) < 3:
        raise UnsupportedError(
            f"the zarr format needs zarr>=3, zarr {zarr.__version__} is installed: "
            "pip install 'scanstack[zarr]'"
        )
    return zarr


def write_zarr(
    stack: Stack,
    path: str | os.PathLike,
    *,
    compression: str | None = "blosc-zstd",
    progress: ProgressArg = None,
    client=None,
    overwrite: bool = False,
    file_chunk_bytes: int | None = None,
    threads: int | None = None,
    memory_budget: int | None = None,
    chunk_bytes: int = UNSET,
) -> Path:
    """Write ``stack`` to a zarr v3 group at ``path`` in parallel (threads, or ``client``'s cluster).

    ``file_chunk_bytes`` sets the size of one zarr chunk (whole frames, default 8 MiB, less when
    ``memory_budget`` asks for it; ``chunk_bytes`` is its old name); each dask task reads and
    writes one chunk, and no more tasks run at once than their chunks fit the budget.
    ``client``, ``threads``, ``progress``, ``memory_budget``: as everywhere
    (:mod:`scanstack.core.resources`). Returns the path written. An existing store is replaced only
    with ``overwrite=True``, swapped whole once the new one is complete
    (:func:`~scanstack.core.atomic.atomic_path`).
    """
    zarr = require_zarr()
    from .. import __version__

    res = resolve(client=client, threads=threads, progress=progress, memory_budget=memory_budget)
    target = file_chunk_target(file_chunk_bytes, 8 << 20, res, chunk_bytes, "write_zarr")
    compressors = ic.zarr_compressors(compression)
    path = Path(path)
    chunks = ic.frame_chunks(
        stack.nav_shape, stack.signal_shape, np.dtype(stack.dtype).itemsize, target
    )
    names = ic.unique_names([a.name for a in stack.axes] + [ARRAY, *ic.POSITION_KEYS])
    names = names[: len(stack.axes)]
    with atomic_path(path, overwrite=overwrite, inputs=ic.writer_inputs(stack), folder=True) as tmp:
        group = zarr.open_group(store=str(tmp), mode="w", zarr_format=3)
        group.attrs["scanstack"] = to_jsonable(
            {
                "version": __version__,
                "array": ARRAY,
                "nav_ndim": len(stack.nav_shape),
                "axes": ic.axes_to_json(stack.axes),
                "metadata": ic.common_metadata(stack),
                "original_metadata": stack.original_metadata or {},
            }
        )
        arr = group.create_array(
            ARRAY,
            shape=stack.shape,
            dtype=stack.dtype,
            chunks=chunks,  # frame_chunks keeps every chunk within the shape
            compressors=compressors,
            dimension_names=names,
            fill_value=0,
            # every chunk on disk, all-zero ones too: a missing chunk then means damage, which
            # the reader reports (zarr itself would read it as zeros without a word)
            config={"write_empty_chunks": True},
        )
        meta = stack.metadata if isinstance(stack.metadata, dict) else {}
        if meta.get("title"):
            arr.attrs["long_name"] = str(meta["title"])
        # units of the values, as the HDF5 writers give them (counts for integer data)
        arr.attrs["units"] = ic.quantity_units(stack)[1]
        for name, axis in zip(names, stack.axes, strict=True):
            coord = group.create_array(
                name, shape=(axis.size,), dtype="f8", dimension_names=[name], compressors=None
            )
            coord[...] = np.asarray(axis.coordinates, dtype=np.float64)
            coord.attrs.update({"units": axis.units or "", "long_name": axis.name})
        for key, values in ic.position_arrays(stack).items():
            shape = stack.nav_shape or (1,)
            pa = group.create_array(
                key,
                shape=shape,
                dtype="f8",
                dimension_names=names[: len(stack.nav_shape)] or ["position"],
            )
            pa[...] = values.reshape(shape)
            pa.attrs["units"] = "s"
        extra = ic.extra_positions(stack)
        if extra:
            sub = group.create_group("positions")
            for key, values in extra.items():
                sub.create_array(key, data=values)
        if stack.nframes and all(stack.shape):
            _store(stack, arr, res, f"zarr {path.name}")
    return path


def _store(stack: Stack, target, res: Resources, label: str) -> None:
    """Store ``stack`` into ``target`` chunk by chunk with dask; progress in frames.

    Threads here: as many as ``res.threads``, fewer if their chunks would not fit the budget.
    """
    client, progress = res.client, res.progress
    import dask
    import dask.array as da

    src = stack.to_dask(chunks=target.chunks)
    stored = da.store(src, target, lock=False, compute=False)
    nnav = len(stack.nav_shape)
    nav_chunks = src.chunks[:nnav]

    def frames_of(key) -> int:
        if not isinstance(key, tuple):
            return 0
        idx = key[1 : 1 + nnav]
        return math.prod(nav_chunks[d][i] for d, i in enumerate(idx))

    with Progress(stack.nframes, progress, label, "frames") as bar:
        if client is not None:
            from distributed import as_completed, futures_of

            futures = futures_of(client.persist(stored))
            try:
                for future in as_completed(futures):
                    future.result()  # re-raise a worker's error here
                    bar.update(frames_of(future.key))
            except BaseException:
                client.cancel(futures)  # chunks not started are not written into the temp store
                raise
            return
        from dask.callbacks import Callback

        class _Tick(Callback):
            def _posttask(self, key, result, dsk, state, worker_id):
                if isinstance(key, tuple) and str(key[0]).startswith("store-map"):
                    bar.update(frames_of(key))
                    checkpoint("write-block")  # runs in the calling thread

        # our own pool, shut down before an error or interrupt reaches atomic_path's clean-up:
        # a chunk still being written into the temporary store would race its removal
        chunk_nbytes = math.prod(target.chunks) * np.dtype(target.dtype).itemsize
        pool = ThreadPoolExecutor(tasks_in_flight(chunk_nbytes, res, res.threads))
        try:
            with _Tick():
                dask.compute(stored, scheduler="threads", pool=pool)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

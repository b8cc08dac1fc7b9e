"""Writing the HDF5 interchange files: a new file written atomically, the one writing path of
the NeXus, NSID and USID writers, and block-wise (parallel) filling of the main dataset."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..core.resources import Resources
from ..core.stack import Stack
from ._interchange import parse_compression, writer_inputs

#: HDF5's cache of chunks per dataset of a file being written, in bytes: HDF5 2.0's default of
#: 8 MiB per dataset would come on top of the writer's memory budget, and the writers store
#: whole chunks (or blocks of them), which need no cache
WRITE_CHUNK_CACHE = 1 << 20


@contextlib.contextmanager
def new_h5(stack: Stack, path, overwrite: bool = False) -> Iterator[Any]:
    """A new ``h5py.File`` open for writing at a temporary path beside ``path``, renamed onto
    ``path`` when the block succeeds (:func:`~scanstack.core.safety.atomic_path`: never over an
    input of ``stack``, nothing left behind on failure); chunk cache :data:`WRITE_CHUNK_CACHE`."""
    import h5py

    from ..core.safety import atomic_path

    with (
        atomic_path(path, overwrite=overwrite, inputs=writer_inputs(stack)) as tmp,
        h5py.File(tmp, "w", rdcc_nbytes=WRITE_CHUNK_CACHE) as f,
    ):
        yield f


#: the HDF5 chunk the interchange writers store when ``file_chunk_bytes`` is not given (bytes;
#: less when the memory budget asks for it)
FILE_CHUNK_BYTES = 4 << 20


@dataclasses.dataclass(frozen=True)
class H5Target:
    """What :func:`write_h5_file` hands a writer's ``layout``: the new file, its final path, and
    the h5py keywords and chunk size (bytes) to create the main dataset with
    (:func:`scanstack.formats._interchange.h5_data_kwargs`)."""

    file: Any
    path: Path
    compression: dict
    chunk_bytes: int


def write_h5_file(
    stack: Stack,
    path,
    layout: Callable[[H5Target], Any],
    fmt: str,
    res: Resources,
    compression: str | None,
    overwrite: bool,
    file_chunk_bytes: int | None,
    chunk_bytes: Any,
    flat: bool = False,
) -> Path:
    """The one writing path of the HDF5 interchange writers (NeXus, NSID, USID).

    Their shared keywords mean: ``compression`` one of
    :data:`~scanstack.formats._interchange.HDF5_COMPRESSIONS` (see
    :func:`~scanstack.formats._interchange.h5_compression`); ``file_chunk_bytes`` the
    HDF5 chunk (whole frames; default :data:`FILE_CHUNK_BYTES`, 4 MiB, less when
    ``memory_budget`` asks for it; ``chunk_bytes`` is its deprecated name); ``overwrite`` replace
    an existing file (refused by default; never an input of ``stack``); ``client`` a
    dask.distributed Client: chunks are then read and compressed on its workers, which re-open
    the source file, and this process writes them; ``threads``, ``progress``, ``memory_budget``
    as everywhere (:mod:`scanstack.core.resources`), resolved by the writer into ``res``.

    Opens a new file atomically (:func:`new_h5`), lets ``layout`` write the format's groups and
    attributes and return the empty main dataset, then fills that dataset block-wise
    (:func:`write_blocks`; ``flat``: it is ``(nframes, prod(signal))``). ``fmt`` names the
    writer in warnings and the progress bar. Returns the path written.
    """
    from ..core.writing import file_chunk_target
    from ._interchange import h5_compression

    comp = h5_compression(compression)
    # stacklevel 5: past renamed, file_chunk_target, this and the writer, to the writer's caller
    target = file_chunk_target(
        file_chunk_bytes, FILE_CHUNK_BYTES, res, chunk_bytes, f"write_{fmt}", stacklevel=5
    )
    path = Path(path)
    with new_h5(stack, path, overwrite) as f:
        data = layout(H5Target(f, path, comp, target))
        write_blocks(stack, data, compression, res, f"{fmt} {path.name}", flat=flat)
    return path


# -- parallel chunk compression for HDF5 ---------------------------------------------------------
def _codec_encode(chunk: np.ndarray, codec) -> bytes:
    return bytes(codec.encode(np.ascontiguousarray(chunk)))


def h5_encoder(compression: str | None):
    """A picklable function chunk -> bytes giving exactly what HDF5's filters store, or None.

    Compression is what limits HDF5 writers; h5py compresses in the one writing thread. With an
    encoder, :func:`write_blocks` compresses chunks in threads or on a dask.distributed cluster
    (:func:`scanstack.formats._h5chunks.write_encoded`). ``lzf`` (no Python encoder) and ``None``
    return None.
    """
    import functools

    from ._h5chunks import filter_chunk

    parsed = parse_compression(compression, "hdf5")
    if parsed is None or parsed[0] == "lzf":
        return None
    name, level = parsed
    if name == "gzip":
        return functools.partial(filter_chunk, level=level, shuffle=True)
    try:
        import numcodecs
    except ImportError:  # pragma: no cover - numcodecs comes with zarr
        return None
    if name == "zstd":
        codec = numcodecs.Zstd(level=level)
    else:
        codec = numcodecs.Blosc(
            cname=name.split("-", 1)[1], clevel=level, shuffle=numcodecs.Blosc.SHUFFLE
        )
    return functools.partial(_codec_encode, codec=codec)


def write_blocks(
    stack: Stack,
    dset,
    compression: str | None,
    res: Resources,
    label: str = "write",
    flat: bool = False,
) -> None:
    """Fill ``dset`` (shape ``stack.shape``, or ``(nframes, prod(signal))`` with ``flat``) block-wise.

    Chunks of whole frames with a Python encoder for the filter are read and compressed in
    ``res.threads`` threads (or as tasks on ``res.client``'s dask.distributed cluster, whose
    workers re-open the source) and written raw (:func:`scanstack.formats._h5chunks.write_encoded`);
    otherwise :func:`scanstack.core.writing.copy_blocks` does a block-wise copy through h5py. Either
    way the blocks and chunks held at once fit ``res.memory_budget``.
    """
    from ..core.writing import copy_blocks
    from ._h5chunks import write_encoded

    nav_ndim = 1 if flat else len(stack.nav_shape)
    encoder = h5_encoder(compression)
    chunks, shape = dset.chunks, dset.shape
    whole_frames = chunks is not None and tuple(chunks[nav_ndim:]) == tuple(shape[nav_ndim:])
    if (
        encoder is None
        or not whole_frames
        or stack.nframes == 0
        or (res.client is None and res.threads < 2)  # one thread: h5py's filters do as well
    ):
        reshape = (lambda b: b.reshape(len(b), -1)) if flat else None
        copy_blocks(stack, dset, res, label=label, flat=flat, transform=reshape)
        return
    write_encoded(stack, dset, encoder, res, label, flat)

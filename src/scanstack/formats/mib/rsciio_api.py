"""RosettaSciIO's public Quantum Detectors API (``rsciio.quantumdetector``), on scanstack's reader.

``file_reader``, ``load_mib_data``, ``parse_exposures``, ``parse_timestamps``, ``parse_hdr_file``
and ``MIBProperties`` keep RosettaSciIO's names, signatures, return types, warnings and errors, so
code written for ``rsciio.quantumdetector`` runs unchanged with ``scanstack.formats.mib``. Frames,
headers and the ``.hdr`` are read by :mod:`.reader` and :mod:`.header` (one memory map, two
frame headers parsed at open); raw ``R64`` files, quad buffers, ``Path`` objects and split
acquisitions work too. Deliberate differences are listed in ``docs/mib.md``.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import warnings
from typing import Any

import numpy as np

from . import navigation as nav
from .header import (
    PROBE_BYTES,
    FrameHeader,
    column_text,
    fixed_columns,
    header_size,
    parse_frame_header,
    read_hdr,
)
from .reader import BUFFER_TYPES, MibReader, MibStack

try:  # the very class RosettaSciIO warns with, so ``pytest.warns(...)`` written for it matches
    from rsciio.exceptions import VisibleDeprecationWarning
except ImportError:  # pragma: no cover - RosettaSciIO not installed

    class VisibleDeprecationWarning(UserWarning):
        """A deprecation warning shown by default (RosettaSciIO's class of the same name)."""


_logger = logging.getLogger(__name__)

#: RosettaSciIO's names for the counter depths of processed pixel types
_DYNAMIC_RANGE = {"uint8": "1 or 6-bit", "uint16": "12-bit", "uint32": "24-bit"}
_NAV_TYPE_ERROR = "`navigation_shape` must be `None` or of tuple type."


def _deprecated_distributed(func):
    """Accept and drop ``distributed=`` with RosettaSciIO's warning (removed in its 0.8.0)."""

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        if "distributed" in kwargs:
            kwargs.pop("distributed")
            _warn_distributed()
        return func(*args, **kwargs)

    return wrapped


def _warn_distributed() -> None:
    warnings.warn(
        "Argument `distributed` is deprecated and has been removed.  To avoid this warning, "
        "please do not use `distributed`. See the documentation of `load_mib_data()` for more "
        "details.  Distributed memory mapping is now supported in the default implementation.",
        VisibleDeprecationWarning,
        stacklevel=3,
    )


def _check_navigation_shape(navigation_shape: Any) -> None:
    if navigation_shape is not None and not isinstance(navigation_shape, tuple):
        raise TypeError(_NAV_TYPE_ERROR)


class MIBProperties:
    """Properties of a Merlin ``.mib`` file or buffer, RosettaSciIO's attributes one for one.

    ``parse_file(path)`` fills them from the first frame header: ``path``, ``buffer``,
    ``merlin_size`` (frame rows, columns in pixels), ``assembly_size`` (``"single"``/``"quad"``),
    ``raw``, ``dynamic_range``, ``dtype`` (numpy name, e.g. ``"uint16"``), ``head_size`` (bytes),
    ``detector_geometry`` (``"2x2"``, ``"Nx1"`` or ``""``), ``exposure`` (ms), ``timestamp``
    (text of the header) and ``file_size`` (bytes). :func:`load_mib_data` sets
    ``navigation_shape`` (numpy order, before length-1 axes are dropped), ``xy`` (frames read) and
    ``frame_number_in_file``. ``packed``, ``offset``, ``number_of_frames_in_file``, ``gap``,
    ``quad_scale``, ``frame_double`` and ``roi_rows`` keep RosettaSciIO's unused defaults.
    """

    def __init__(self) -> None:
        self.path: str | None = None
        self.buffer: bool | None = None
        self.merlin_size: tuple = ()
        self.assembly_size: str | None = None
        self.raw = False
        self.dynamic_range = ""
        self.packed = None
        self.dtype: str | None = None
        self.head_size: int | None = None
        self.offset = 0
        self.navigation_shape: tuple = ()
        self.xy = None
        self.number_of_frames_in_file = None
        self.gap = None
        self.quad_scale = None
        self.detector_geometry = ""
        self.frame_double = None
        self.roi_rows = None
        self.exposure: float | None = None
        self.timestamp = ""
        self.file_size: int | None = None

    def __repr__(self) -> str:
        lines = ["Data is from a buffer" if self.buffer else f"Path: {self.path}"]
        lines.append(f"Chip configuration is {self.assembly_size}")
        if self.assembly_size == "quad":
            lines.append(f"Detector geometry: {self.detector_geometry}")
        lines.append(f"Data size {self.merlin_size}")
        lines.append("\tData is RAW" if self.raw else "Data is processed")
        lines += [
            f"Data type: {self.dtype}",
            f"Dynamic range: {self.dynamic_range}",
            f"Header size: {self.head_size} bytes",
            f"Number of frames in the file/buffer: {self.number_of_frames_in_file}",
            f"Number of frames to be read: {self.xy}",
            f"exposure: {self.exposure}",
            f"timestamp: {self.timestamp}",
        ]
        return "".join("\n" + line for line in lines)

    def parse_file(self, path: Any) -> None:
        """Fill the properties from the first frame header of ``path``.

        ``path``: a path (``str`` or ``os.PathLike``) of a ``.mib`` file, or its bytes
        (``bytes``, ``bytearray``, ``memoryview``). A file that does not start with a Merlin frame
        header raises :class:`~scanstack.core.errors.FormatError` naming it.
        """
        if isinstance(path, BUFFER_TYPES):
            view = memoryview(path).cast("B")
            size = header_size(bytes(view[:PROBE_BYTES]))
            header = parse_frame_header(bytes(view[:size]))
            self.file_size, self.buffer, self.path = len(view), True, None
        elif isinstance(path, (str, os.PathLike)):
            text = os.fspath(path)
            with open(text, "rb") as fh:
                size = header_size(fh.read(PROBE_BYTES), text)
                fh.seek(0)
                header = parse_frame_header(fh.read(size), text, 0)
                self.file_size = os.fstat(fh.fileno()).st_size
            self.buffer, self.path = False, text
        else:
            raise TypeError("`path` must be a str or a buffer.")
        self._from_header(header)

    def _from_header(self, h: FrameHeader) -> None:
        self.merlin_size = (h.height, h.width)
        self.raw = h.raw
        self.head_size = h.header_size
        # RosettaSciIO's rule: the header size tells one chip (384 bytes) from four (768)
        self.assembly_size = {384: "single", 768: "quad"}.get(
            h.header_size, "single" if h.nchips == 1 else "quad"
        )
        self.detector_geometry = next(
            (g for g in ("2x2", "Nx1") if h.layout.endswith(g)), self.detector_geometry
        )
        if not h.raw:
            self.dtype = {"U08": "uint8", "U16": "uint16", "U32": "uint32", "U64": "uint64"}.get(
                h.pixel_type
            )
            self.dynamic_range = _DYNAMIC_RANGE.get(self.dtype or "", "")
        # exposure in ms, from the header's ns field where the MQ1A extension has one
        shutter_ms = h.shutter_ns / 1e6 if h.shutter_ns is not None else h.shutter_s * 1e3
        self.exposure = shutter_ms
        self.timestamp = h.timestamp_utc if h.timestamp_utc is not None else h.timestamp_local

    def _from_reader(self, reader: MibReader, nav_shape: tuple[int, ...]) -> None:
        """What only the opened acquisition knows: decoded dtype and frame size of raw data,
        the frames in the file(s) and the navigation shape used."""
        self.dtype = reader.dtype.name
        self.dynamic_range = _DYNAMIC_RANGE.get(self.dtype, "")
        self.merlin_size = tuple(reader.signal_shape)
        self.navigation_shape = tuple(nav_shape)
        self.xy = np.prod(self.navigation_shape)
        self.frame_number_in_file = reader.n_in_files


def _properties(path: Any, mib_prop: MIBProperties | None) -> MIBProperties:
    if mib_prop is None:
        mib_prop = MIBProperties()
        mib_prop.parse_file(path)
    return mib_prop


def parse_hdr_file(path: str | os.PathLike) -> dict[str, str]:
    """The ``.hdr`` acquisition file as ``{key: value}`` strings (keys without their ``:``,
    values as written, leading spaces kept), RosettaSciIO's dict key for key."""
    return read_hdr(path)


def _header_list(headers: Any, max_index: int) -> list:
    """The headers to parse: RosettaSciIO's ``max_index`` rule, except that ``-1`` (documented
    as "all frames") really means all of them (RosettaSciIO drops the last one)."""
    if isinstance(headers, BUFFER_TYPES):
        headers = [bytes(headers)]
    if max_index == -1:
        return list(headers)
    if max_index > 1:
        max_index = min(max_index, len(headers))
    return list(headers[:max_index])


def _stamps_and_exposures(headers: Any, max_index: int) -> tuple[list[str], list[float]]:
    """Time stamp text and exposure (ms) of each header.

    Fast path: the ``MQ1A`` extension fields cut as columns of all headers at once (their commas
    sit at the same offsets); otherwise each header is parsed on its own.
    """
    items = _header_list(headers, max_index)
    if not items:
        return [], []
    # numpy's S<n> items lose the NUL padding after the text; an S array pads them back
    rows = np.array([bytes(h) for h in items], dtype="S")
    fixed = fixed_columns(rows.view(np.uint8).reshape(len(items), -1))
    if fixed is not None and "MQ1A" in fixed[1] and fixed[1].index("MQ1A") + 2 < len(fixed[0]):
        cols, row0 = fixed
        i = row0.index("MQ1A")
        ns_text = np.char.strip(np.char.replace(column_text(cols[i + 2]), b"ns", b""))
        if all(t.isdigit() for t in ns_text.tolist()):
            stamps = np.char.strip(column_text(cols[i + 1])).astype("U").tolist()
            return stamps, (ns_text.astype(np.int64) / 1e6).tolist()
    parsed = [parse_frame_header(h.ljust(header_size(h), b"\x00")) for h in rows.tolist()]
    return (
        [h.timestamp_utc if h.timestamp_utc is not None else h.timestamp_local for h in parsed],
        [h.shutter_ns / 1e6 if h.shutter_ns is not None else h.shutter_s * 1e3 for h in parsed],
    )


def parse_exposures(headers: Any, max_index: int = 10000) -> list[float]:
    """Exposure (shutter time) of each frame in ms, from frame headers.

    ``headers``: one header (``bytes``) or an iterable of them, e.g. the headers returned by
    ``load_mib_data(path, return_headers=True)``. ``max_index``: parse at most this many (the
    first 10 000 by default); ``-1``: all of them.
    """
    return _stamps_and_exposures(headers, max_index)[1]


def parse_timestamps(headers: Any, max_index: int = 10000) -> list[str]:
    """Time stamp of each frame as written in its header (``'2021-05-07T16:51:10.905800928Z'``,
    UTC; the local wall-clock time where the header has no ``MQ1A`` extension).

    ``headers`` and ``max_index`` as in :func:`parse_exposures`.
    """
    return _stamps_and_exposures(headers, max_index)[0]


@_deprecated_distributed
def load_mib_data(
    path: Any,
    lazy: bool = False,
    chunks: Any = "auto",
    mmap_mode: str | None = None,
    navigation_shape: tuple | None = None,
    first_frame: int | None = None,
    last_frame: int | None = None,
    mib_prop: MIBProperties | None = None,
    return_headers: bool = False,
    print_info: bool = False,
    return_mmap: bool = True,
):
    """Frames of a ``.mib`` file or buffer in file order, shape ``navigation + (rows, cols)``.

    ``path``: a path or the file's bytes (buffers cannot be read lazily: ``ValueError``).
    ``navigation_shape``: ``None`` (a 1-D series) or a tuple in ``(x, y)`` order (a list raises
    ``TypeError``); an interrupted acquisition keeps its complete lines. ``first_frame``,
    ``last_frame``: frame range (Python slice rules). ``mib_prop``: the file's
    :class:`MIBProperties` if already parsed (it receives ``navigation_shape``, ``xy`` and
    ``frame_number_in_file``). ``mmap_mode``: ``"r"`` (default when lazy) or ``"c"``.

    Returns, for processed data, with ``return_mmap=True`` (default) the ``numpy.memmap`` of the
    pixels in the file's big-endian dtype (a NumPy view of a buffer) — and with
    ``return_headers=True`` also the frame headers (``S<header size>`` array of the same
    navigation shape); with ``return_mmap=False`` a dask array (``lazy=True``, RosettaSciIO's
    chunks) or a NumPy array, length-1 axes dropped. ``return_headers`` needs ``return_mmap``
    (``ValueError``). Raw ``R64`` frames are decoded (a NumPy array where a memmap is asked).
    """
    if mmap_mode is None:
        mmap_mode = "r" if lazy else "c"
    mib_prop = _properties(path, mib_prop)
    if lazy and isinstance(path, BUFFER_TYPES):
        raise ValueError("Loading memory buffer lazily is not supported.")
    if return_headers and not return_mmap:
        raise ValueError("To use `return_headers=True`, `return_mmap=True` is required.")
    _check_navigation_shape(navigation_shape)
    # a first look only counts the frames (a given shape skips the timestamp heuristic)
    with warnings.catch_warnings():  # whatever it finds, the reader below reports again
        warnings.simplefilter("ignore")
        probe = MibReader(path, mmap_mode=mmap_mode, nav_shape=(1,), hdr=False, join=False)
    first, shape = _fit(probe, navigation_shape, first_frame, last_frame)
    probe.close()
    reader = MibReader(
        path,
        mmap_mode=mmap_mode,
        nav_shape=shape,
        first_frame=first,
        last_frame=first + math.prod(shape),
        flip=False,
        endian="big",
        hdr=False,
        join=False,
        squeeze=False,
    )
    mib_prop._from_reader(reader, shape)
    if print_info:
        print(mib_prop)  # noqa: T201 - asked for by the user
    if not return_mmap:
        return _dask_or_numpy(reader, lazy, chunks, flip=False)
    frames, headers = _mapped(reader, path, shape, first, mmap_mode)
    return (frames, headers) if return_headers else frames


def _fit(
    reader: MibReader, navigation_shape: tuple | None, first_frame, last_frame
) -> tuple[int, tuple[int, ...]]:
    """RosettaSciIO's ``load_mib_data`` navigation rules (see :func:`.navigation.fit_to_frames`):
    the first frame and the numpy-order shape of the frames to read."""
    shape, first, _, msg = nav.fit_to_frames(
        None if navigation_shape is None else tuple(int(v) for v in navigation_shape),
        reader.n_in_files,
        first_frame,
        last_frame,
    )
    if msg and not msg.startswith("interrupted"):
        _logger.warning("%s: %s", reader.path or "<in-memory input>", msg)
    return first, tuple(shape)


def _mapped(reader: MibReader, path: Any, shape: tuple[int, ...], first: int, mode: str):
    """(frames, headers) as views of one memory map (or of the buffer), file order."""
    geo = reader.geometry
    n = math.prod(shape)
    if geo.raw:  # decoded frames cannot be a view of the file
        headers = reader.header_bytes().view(f"S{geo.header_size}").reshape(shape)
        return reader.read(0, n).reshape(shape + tuple(reader.signal_shape)), headers
    record = np.dtype([("header", f"S{geo.header_size}"), ("data", geo.file_dtype, geo.out_shape)])
    if isinstance(path, BUFFER_TYPES):
        mapped = np.frombuffer(path, record, count=n, offset=first * geo.stride).reshape(shape)
    else:
        mapped = np.memmap(
            os.fspath(path), record, mode=mode, offset=first * geo.stride, shape=shape
        )
    return mapped["data"], mapped["header"]


def _dask_or_numpy(reader: MibReader, lazy: bool, chunks: Any, flip: bool):
    """The frames as RosettaSciIO returns them when not memory-mapped: a dask array whose chunks
    are ``normalize_chunks(chunks)`` of the unsqueezed file-order shape (rows reversed with the
    frames when ``flip``), or a NumPy array; length-1 axes dropped in both."""
    from dask.array.core import normalize_chunks

    stack = MibStack(reader)
    if not lazy:
        view = reader.as_array()
        data = np.array(view) if view is not None else reader.read(0, reader.nframes)
        return data.reshape(stack.shape).squeeze()
    norm = list(normalize_chunks(chunks, shape=stack.shape, dtype=reader.dtype))
    if flip:
        norm[-2] = norm[-2][::-1]
    return stack.to_dask(tuple(norm)).squeeze()


def file_reader(
    filename: Any,
    lazy: bool = False,
    chunks: Any = "auto",
    mmap_mode: str | None = None,
    navigation_shape: tuple | None = None,
    first_frame: int | None = None,
    last_frame: int | None = None,
    print_info: bool = False,
    **kwargs: Any,
) -> list[dict]:
    """Read a Merlin ``.mib`` (and the ``.hdr`` beside it) as RosettaSciIO's ``file_reader`` does.

    Returns ``[{"data", "axes", "metadata", "original_metadata", "mapping"}]``: ``data`` is a
    dask array (``lazy=True``, RosettaSciIO's chunks) or a NumPy array in the file's big-endian
    dtype, rows reversed, length-1 navigation axes dropped; ``original_metadata`` holds
    ``mib_properties`` (:class:`MIBProperties`' attributes) and ``hdr_file``. The scan shape comes
    from ``navigation_shape`` (a tuple, ``(x, y)`` order), else the ``.hdr``, else RosettaSciIO's
    timestamp rule. ``distributed=`` is accepted with RosettaSciIO's deprecation warning.

    Also reads what RosettaSciIO cannot: raw ``R64`` files, quad buffers, ``Path`` objects, upper
    case ``.MIB`` names and split acquisitions. Other ``kwargs`` are :class:`MibReader` options
    (e.g. ``nav_heuristic="robust"``, ``endian="native"``, ``flip=False``).
    """
    if "distributed" in kwargs:
        kwargs.pop("distributed")
        _warn_distributed()
    _check_navigation_shape(navigation_shape)
    kwargs.setdefault("nav_heuristic", "rsciio")
    kwargs.setdefault("endian", "big")
    kwargs["squeeze"] = False  # the unsqueezed shape is mib_properties["navigation_shape"]
    reader = MibReader(
        filename,
        chunks=chunks,
        mmap_mode=mmap_mode,
        navigation_shape=navigation_shape,
        first_frame=first_frame,
        last_frame=last_frame,
        **kwargs,
    )
    if reader.hdr is None:
        _logger.warning("`hdr` file couldn't be found.")
    mib_prop = MIBProperties()
    mib_prop._from_header(reader.first_header)
    mib_prop.buffer, mib_prop.path = reader.path is None, reader.path
    mib_prop.file_size = sum(reader.original_metadata["mib_properties"]["file_sizes"])
    shape = reader.nav_shape
    if reader.nav_source.startswith("timestamps") and len(shape) == 2:
        # RosettaSciIO computes a scan shape found in the time stamps with numpy: int64 entries
        # (a frame range that falls back to a series gives Python ints, there as here)
        shape = tuple(np.int64(n) for n in shape)
    mib_prop._from_reader(reader, shape)
    if print_info:
        print(mib_prop)  # noqa: T201 - asked for by the user
    data = _dask_or_numpy(reader, lazy, chunks, reader.flip)
    original_metadata: dict[str, Any] = {"mib_properties": vars(mib_prop)}
    if reader.hdr is not None:
        original_metadata["hdr_file"] = dict(reader.hdr)
    axes = [
        {
            "size": data.shape[i],
            "index_in_array": i,
            "name": "",
            "scale": 1.0,
            "offset": 0.0,
            "units": "",
            "navigate": i < data.ndim - 2,
        }
        for i in range(data.ndim)
    ]
    return [
        {
            "data": data,
            "axes": axes,
            "metadata": reader.rsciio_metadata,
            "original_metadata": original_metadata,
            "mapping": {},
        }
    ]


__all__ = [
    "MIBProperties",
    "VisibleDeprecationWarning",
    "file_reader",
    "load_mib_data",
    "parse_exposures",
    "parse_hdr_file",
    "parse_timestamps",
]

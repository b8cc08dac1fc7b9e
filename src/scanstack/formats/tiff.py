"""(Multi-page) TIFF stacks, and TIFF sequences described by an ``image-files`` YAML.

Read: ``scanstack.open('stack.tif')``: the first image series of the file (option ``series=``);
pages are read on demand (memory-mapped when the pixel data is contiguous and uncompressed).

Write:

- ``scanstack.save(stack, 'out.tif', 'tiff')``: one multi-page TIFF (BigTIFF when over 4 GB),
  written frame by frame; the stack's metadata and axes (names, units, scales) are kept as JSON
  in the ImageDescription (tifffile's shaped metadata, keys ``scanstack`` and
  ``scanstack_axes``) and read back by scanstack; frames whose two axes are uniform lengths also
  get X/YResolution (pixels per cm) for TIFF viewers. Reading a TIFF without scanstack's axes takes
  the pixel size from X/YResolution (inch/cm) or ImageJ's ``unit``/``spacing``/``finterval``;
- ``scanstack.save(stack, 'dir/frames.yml', 'tiff')`` (a ``.yml``/``.yaml`` path, or
  ``sequence=True``): one TIFF per frame (``frames_00000.tif``…) beside an hexrd ``image-files``
  YAML that lists them as hexrd writes it: ``files`` is one whitespace-separated string of the
  names, in frame order (hexrd calls ``files.split()`` and sorts the matches; the zero-padded
  names sort in frame order; whitespace and glob characters of the YAML's stem become ``_`` in
  the frame names). Array metadata (``omega``) goes to ``frames_<key>.npy`` with a
  ``"! load-numpy-array"`` trigger, other metadata into the YAML ``meta`` block.
  ``directory`` and the ``.npy`` names are relative (``.``), so the folder can move; hexrd
  resolves them against its current folder, so either run hexrd from that folder or pass
  ``absolute=True`` (absolute paths, hexrd works from anywhere). ``scanstack.open('dir/frames.yml')``
  reads it back either way.
  Replacing a sequence writes the new frames under names no file has yet
  (``frames_<6 hex>_00000.tif``…), switches the YAML, then removes the old frames.

Option ``compression`` (e.g. ``'zlib'``) is passed to tifffile.

Files named inside a TIFF: the planes of a multi-file OME-TIFF series are read from the files
its OME-XML names only when every one of them is inside the TIFF's folder (else a
:class:`FormatError`); Micro-Manager multi-file stacks and NDTiff datasets are read as the one
file given. ``allow_outside=True`` restores tifffile's own behaviour for all three.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import FormatError, UnsupportedError, WriteError
from ..core.metadata import to_jsonable
from ..core.progress import Progress
from ..core.reader import Reader, crop
from ..core.registry import FormatSpec, Probe
from ..core.resources import Resources, resolve_here
from ..core.safety import atomic_path, resolve_inside
from ..core.writing import copy_frames_per_block
from ._hexrd import YAML_SUFFIXES
from ._interchange import axes_from_json, axes_to_json
from ._tiffseq import write_sequence

META_KEY = "scanstack"
AXES_KEY = "scanstack_axes"
TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
PER_FRAME_ARRAYS = ("omega",)


def ome_files(tif) -> list[str]:
    """The other files an OME-TIFF's XML names for its planes (``UUID/@FileName``), in order."""
    if not tif.is_ome:
        return []
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(tif.ome_metadata or "")
    except ET.ParseError:
        return []  # tifffile falls back to the pages of this file, reading nothing else
    own = os.path.basename(tif.filename).lower()
    names: list[str] = []
    for element in root.iter():
        name = element.attrib.get("FileName") if element.tag.endswith("UUID") else None
        if name and name.lower() != own and name not in names:
            names.append(name)
    return names


def open_tiff(path: str | os.PathLike, allow_outside: bool = False):
    """A ``tifffile.TiffFile`` over ``path`` that reads no file outside its folder.

    Unless ``allow_outside``: OME-TIFF plane files are checked with
    :func:`~scanstack.core.safety.resolve_inside` before tifffile opens them (a
    :class:`FormatError` names the first outside one), and the Micro-Manager / NDTiff
    multi-file readers, which take their file names from the folder and an index file, are
    switched off. Raises what ``tifffile.TiffFile`` raises for a file that is not TIFF.
    """
    import tifffile

    path = os.fspath(path)
    if allow_outside:
        return tifffile.TiffFile(path)
    single = {"is_mmstack": False, "is_ndtiff": False}
    tif = tifffile.TiffFile(path, _multifile=False, **single)
    others = ome_files(tif)
    if not others:
        return tif
    try:
        for name in others:
            try:
                resolve_inside(path, name)
            except FormatError as exc:
                raise FormatError(
                    f"OME-XML plane file {name!r}: {exc.reason}", path, "OME UUID/@FileName"
                ) from exc
    finally:
        tif.close()
    return tifffile.TiffFile(path, **single)


class TiffReader(Reader):
    """Frames of one TIFF image series; options ``series`` (which one, when a file holds several:
    pages of different shapes or dtypes make separate series, and reading only the first would
    silently drop the others, so a file with several needs ``series=``) and ``allow_outside``
    (let a multi-file OME-TIFF read plane files outside the TIFF's folder)."""

    format_name = "tiff"

    def __init__(self, source=None, *, series: int | None = None, allow_outside: bool = False):
        super().__init__(source, series=series, allow_outside=allow_outside)
        self.allow_outside = allow_outside
        self._lock = threading.Lock()
        self._tif = None
        self._mmap = None
        tif = self._file()
        if series is None:
            if len(tif.series) > 1:
                shapes = ", ".join(
                    f"{k}: {len(x.pages)} page(s) of {x.keyframe.shape} {x.dtype}"
                    for k, x in enumerate(tif.series[:6])
                )
                raise FormatError(
                    f"expected pages of one shape and dtype, found {len(tif.series)} image "
                    f"series ({shapes}); pass series=N to read one",
                    source,
                    "series",
                )
            series = 0
        try:
            s = tif.series[series]
        except IndexError as exc:
            raise FormatError(
                f"the TIFF has {len(tif.series)} image series, no series {series}", source, "series"
            ) from exc
        page = s.keyframe
        page_shape = tuple(page.shape)
        nav = tuple(s.shape[: len(s.shape) - len(page_shape)]) or (1,)
        self.nav_shape = nav
        self.signal_shape = page_shape
        self.dtype = np.dtype(s.dtype).newbyteorder("=")
        self.series = series
        nframes = int(np.prod(nav))
        try:
            self._check_complete(tif, s, nframes)
        except (ValueError, IndexError, OSError) as exc:
            if isinstance(exc, FormatError):
                raise
            raise FormatError(f"corrupt or truncated TIFF: {exc}", source) from exc
        if s.dataoffset is not None and page.is_contiguous:
            try:
                file_dtype = np.dtype(s.dtype).newbyteorder(tif.byteorder)
                self._mmap = np.memmap(
                    os.fspath(source),
                    dtype=file_dtype,
                    mode="r",
                    offset=s.dataoffset,
                    shape=(nframes, *page_shape),
                )
            except (ValueError, OSError):
                self._mmap = None  # truncated file: fall back to page reads, which report it
        md: dict[str, Any] = {}
        own = _series_description(tif, series)
        if own is not None:
            md = dict(own)
        stored = md.pop(META_KEY, None)
        self.metadata = _from_json_metadata(stored) if isinstance(stored, dict) else {}
        own_axes = md.pop(AXES_KEY, None)
        axes = None
        if own_axes is not None:  # written by scanstack: names, units, scales of every axis
            axes = axes_from_json(own_axes, self.nav_shape + self.signal_shape)
            if axes is not None and sum(a.navigate for a in axes) != len(self.nav_shape):
                axes = None
        self.axes = axes or _resolution_axes(tif, page, self.nav_shape, self.signal_shape)
        self.original_metadata = {
            "file": os.fspath(source),
            "series_shape": tuple(s.shape),
            "axes": s.axes,
            "shaped_metadata": md,
            "imagej_metadata": tif.imagej_metadata or {},
            "compression": str(page.compression),
        }

    def _check_complete(self, tif, series, nframes: int) -> None:
        """Refuse truncated files instead of returning fewer (or zero-filled) frames."""
        size = os.path.getsize(os.fspath(self.source))
        own = _series_description(tif, self.series)
        if own is not None and "shape" in own:
            want = tuple(own["shape"])
            if int(np.prod(want)) != int(np.prod(series.shape)):
                raise FormatError(
                    f"truncated TIFF: the description says shape {want}, the pages hold "
                    f"{tuple(series.shape)}",
                    self.source,
                )
        last = tif.pages[len(tif.pages) - 1]
        offsets, counts = getattr(last, "dataoffsets", ()), getattr(last, "databytecounts", ())
        if offsets and counts and max(o + c for o, c in zip(offsets, counts, strict=False)) > size:
            raise FormatError(
                f"truncated TIFF: the last page's data ends past the end of the file "
                f"({size} bytes)",
                self.source,
                size,
            )

    def _file(self):
        import tifffile

        if self._tif is None:
            try:
                self._tif = open_tiff(self.source, self.allow_outside)
            except FormatError:
                raise
            except (tifffile.TiffFileError, ValueError, OSError) as exc:
                raise FormatError(f"expected a TIFF file: {exc}", self.source) from exc
        return self._tif

    def read(self, start, stop, region=None):
        if self._mmap is not None:
            return np.array(crop(self._mmap[start:stop], region), dtype=self.dtype)
        with self._lock:
            try:
                data = self._file().asarray(key=list(range(start, stop)), series=self.series)
            except Exception as exc:  # noqa: BLE001 - decoder errors of a corrupt file
                raise FormatError(
                    f"cannot read pages {start}:{stop} (corrupt or truncated?): {exc}", self.source
                ) from exc
        data = np.asarray(data).reshape(stop - start, *self.signal_shape)
        return np.ascontiguousarray(crop(data, region), dtype=self.dtype)

    def as_array(self):
        if self._mmap is not None and self._mmap.dtype == self.dtype:
            return self._mmap
        return None

    def close(self) -> None:
        with self._lock:
            if self._tif is not None:
                self._tif.close()
                self._tif = None
            self._mmap = None


#: TIFF ResolutionUnit -> micrometres per unit (1: none, 2: inch, 3: centimetre)
RESOLUTION_UNIT_UM = {2: 25400.0, 3: 10000.0}
IMAGEJ_UNITS = {"micron": "µm", "um": "µm", "\\u00B5m": "µm", "µm": "µm", "nm": "nm", "mm": "mm"}


def _resolution_axes(tif, page, nav_shape: tuple[int, ...], signal_shape: tuple[int, ...]):
    """Axes from what TIFF writers (tifffile, ImageJ, Fiji) store: the pixel size of 2-D frames
    from X/YResolution with ResolutionUnit (inch, cm -> µm) or ImageJ's ``unit``, ImageJ's
    ``spacing`` (z) or ``finterval`` (s) for a 1-D series of frames; pixel axes otherwise."""
    from ..core.axes import Axis, default_axes

    axes = default_axes(nav_shape, signal_shape)
    ij = tif.imagej_metadata or {}
    try:
        xres, yres = (float(v) for v in page.resolution)
        unit_code = int(page.resolutionunit)
    except (AttributeError, TypeError, ValueError):
        return axes
    units, per_unit = "", 1.0
    if isinstance(ij.get("unit"), str) and ij["unit"] in IMAGEJ_UNITS:
        units = IMAGEJ_UNITS[ij["unit"]]
    elif unit_code in RESOLUTION_UNIT_UM:
        units, per_unit = "µm", RESOLUTION_UNIT_UM[unit_code]
    if len(signal_shape) == 2 and units and xres > 0 and yres > 0:
        rows, cols = signal_shape
        axes[-2] = Axis("y", rows, units, per_unit / yres, navigate=False)
        axes[-1] = Axis("x", cols, units, per_unit / xres, navigate=False)
    if len(nav_shape) == 1:
        if units and isinstance(ij.get("spacing"), (int, float)) and ij.get("slices", 1) > 1:
            axes[0] = Axis("z", nav_shape[0], units, float(ij["spacing"]))
        elif isinstance(ij.get("finterval"), (int, float)) and ij["finterval"] > 0:
            axes[0] = Axis("time", nav_shape[0], "s", float(ij["finterval"]))
    return axes


def _series_description(tif, series: int) -> dict | None:
    """tifffile's shaped description of image series ``series`` (one per series written)."""
    shaped = tif.shaped_metadata if tif.is_shaped else None
    if shaped and series < len(shaped) and isinstance(shaped[series], dict):
        return shaped[series]
    return None


def _from_json_metadata(tree: dict) -> dict:
    out = dict(tree)
    for key in PER_FRAME_ARRAYS:
        if isinstance(out.get(key), list):
            out[key] = np.asarray(out[key], dtype=float)
    return out


def _frames(stack, res: Resources):
    """Frames one by one, read in blocks that fit the budget with the one read ahead and a copy
    (tifffile's compressed page)."""
    for _a, _b, block in stack.iter_blocks(copy_frames_per_block(stack, res)):
        yield from block


def write_tiff(
    stack,
    path,
    *,
    sequence: bool | None = None,
    compression=None,
    bigtiff: bool | None = None,
    client=None,
    threads: int | None = None,
    progress=None,
    memory_budget: int | None = None,
    overwrite: bool = False,
    absolute: bool = False,
) -> str:
    """Write ``stack`` as a multi-page TIFF, or as a TIFF sequence plus an image-files YAML.

    A ``.yml``/``.yaml`` path (or ``sequence=True``) writes the sequence; ``absolute=True``
    names its folder and ``.npy`` files by absolute path in the YAML. Returns the path of the
    TIFF (or of the YAML). An existing output is replaced only with ``overwrite=True`` (a
    sequence as a whole: see :mod:`scanstack.formats._tiffseq`). ``progress``, ``memory_budget``: as everywhere
    (:mod:`scanstack.core.resources`); pages are written in order in this process (``threads``
    compress tiles in tifffile; ``client`` is refused).
    """
    res = resolve_here(
        "tiff", client=client, threads=threads, progress=progress, memory_budget=memory_budget
    )
    path = Path(os.fspath(path))
    _check_compression(compression)
    if sequence is None:
        sequence = path.suffix.lower() in YAML_SUFFIXES
    if sequence:
        if path.suffix.lower() not in YAML_SUFFIXES:
            raise WriteError(
                f"{path}: a TIFF sequence is described by a .yml/.yaml file; "
                "name the output e.g. frames.yml"
            )
        return write_sequence(
            stack, path, compression, res.progress, overwrite, _frames(stack, res), absolute
        )
    import tifffile

    if len(stack.signal_shape) not in (2, 3):
        raise WriteError(
            f"tiff stores 2-D (or RGB) frames, not frames of shape {stack.signal_shape}"
        )
    if bigtiff is None:
        bigtiff = stack.nbytes > (1 << 32) - (1 << 25)
    meta = {
        META_KEY: to_jsonable(dict(stack.metadata or {})),
        AXES_KEY: axes_to_json(stack.axes),
    }
    with (
        atomic_path(path, overwrite=overwrite, inputs=stack.source_paths()) as tmp,
        Progress(stack.nframes, res.progress, "tiff", "frames") as bar,
    ):
        with tifffile.TiffWriter(tmp, bigtiff=bigtiff) as tw:

            def counted():
                for frame in _frames(stack, res):
                    yield frame
                    bar.update(1)

            tw.write(
                data=counted(),
                shape=stack.shape,
                dtype=np.dtype(stack.dtype),
                metadata=meta,
                compression=compression,
                maxworkers=res.threads,
                photometric="minisblack" if len(stack.signal_shape) == 2 else None,
                **_resolution_tags(stack),
            )
    return os.fspath(path)


#: length units -> micrometres
LENGTH_UM = {"m": 1e6, "mm": 1e3, "µm": 1.0, "um": 1.0, "μm": 1.0, "nm": 1e-3}


def _resolution_tags(stack) -> dict[str, Any]:
    """X/YResolution in pixels per centimetre for 2-D frames whose axes are uniform lengths, so
    TIFF viewers (ImageJ/Fiji, tifffile) see the pixel size; nothing otherwise."""
    if len(stack.signal_shape) != 2:
        return {}
    rows, cols = stack.signal_axes
    um = [LENGTH_UM.get(a.units) for a in (cols, rows)]
    if not all(um) or not (rows.is_uniform and cols.is_uniform) or not (rows.scale and cols.scale):
        return {}
    xres, yres = (1e4 / abs(a.scale * k) for a, k in zip((cols, rows), um, strict=True))
    return {"resolution": (xres, yres), "resolutionunit": "CENTIMETER"}


def _check_compression(compression) -> None:
    """Refuse, before anything is written, a compression tifffile cannot apply here (unknown
    name, or a codec such as zstd/lzw that needs the imagecodecs package)."""
    if compression is None:
        return
    import io

    import tifffile

    try:
        tifffile.imwrite(io.BytesIO(), np.zeros((2, 2), np.uint8), compression=compression)
    except Exception as exc:  # tifffile raises KeyError, ValueError, ImportError ...
        raise UnsupportedError(
            f"tiff: cannot write with compression {compression!r} ({type(exc).__name__}: "
            f"{exc}); 'zlib' works everywhere, most others need the imagecodecs package"
        ) from exc


def sniff(probe: Probe) -> float:
    return 0.8 if probe.head[:4] in TIFF_MAGICS else 0.0


FORMAT = FormatSpec(
    name="tiff",
    description="(multi-page) TIFF stacks; writes a multi-page TIFF, or a TIFF sequence with an "
    "image-files YAML (path .yml or sequence=True)",
    extensions=(".tif", ".tiff"),
    reader=TiffReader,
    writer=write_tiff,
    sniff=sniff,
    capabilities={"lazy": True, "region": True, "write": True},
)

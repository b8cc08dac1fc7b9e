"""The CRONO camera frames (``/Images/Static``) as a lazy stack of RGB images.

Each slot of ``/Images/Static`` is a .NET BinaryFormatter ``byte[]`` wrapping one JPEG (format
notes §3); slot 0 is empty. :func:`open_frames` gives a :class:`~scanstack.core.stack.Stack` with
``nav_shape = (n_frames,)`` (frame ``i`` is slot ``i + 1``) and ``signal_shape = (h, w, 3)``
uint8, decoded on demand, block by block, in parallel threads (see :mod:`.jpeg`).
``scale=2, 4, 8`` decodes reduced-size frames, much faster (for previews and coarse mosaics).

The EXIF stamps (``DateTimeOriginal``, µs on the DPP clock) are read without decoding by
:meth:`CronoFramesReader.stamps`. Errors name the file and the slot (``/Images/Static[k]``).

Empty slots: a leading empty slot 0 is skipped (that is the CRONO layout); an empty slot further
on raises :class:`~scanstack.core.errors.FormatError` when read, unless the reader was opened with
``on_empty="zeros"`` (then it decodes as a black frame and its stamp is ``-1``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import h5py
import numpy as np

from ..core.axes import Axis
from ..core.errors import FormatError
from ..core.readahead import read_ahead
from ..core.reader import Reader, Region
from ..core.stack import ReaderStack, Stack
from ..formats.crono.nrbf import unwrap_byte_array
from . import jpeg as _jpeg
from ._files import open_h5
from .exif import ExifError, exif_stamp

STATIC = "/Images/Static"
PIXEL_SIZE = "/Images/ImageAdjusting/ImagePixelSizeRatio"
#: slots read from HDF5 per request when scanning stamps (bounded memory: ~2.5 kB each)
SLOTS_PER_READ = 2048


class CronoFramesReader(Reader):
    """Reader of the camera frames of a CRONO native HDF5 file.

    Parameters
    ----------
    source: path of the ``.HDF5`` file.
    scale: 1, 2, 4 or 8: decode frames at ``1/scale`` of their size (libjpeg DCT scaling).
    on_empty: ``"error"`` (default) or ``"zeros"``: what an empty slot after slot 0 gives.
    threads: decoding threads (default ``scanstack.config.threads()``).
    backend: ``"simplejpeg"`` or ``"pillow"`` (default: simplejpeg when installed).
    dataset: the blob dataset (default ``/Images/Static``).
    allow_outside: read datasets whose bytes or links lead outside the file's folder.
    """

    format_name = "crono-frames"

    def __init__(
        self,
        source,
        scale: int = 1,
        on_empty: str = "error",
        threads: int | None = None,
        backend: str | None = None,
        dataset: str = STATIC,
        allow_outside: bool = False,
    ):
        super().__init__(
            source,
            scale=scale,
            on_empty=on_empty,
            threads=threads,
            backend=backend,
            dataset=dataset,
            allow_outside=allow_outside,
        )
        if on_empty not in ("error", "zeros"):
            raise ValueError(f"on_empty must be 'error' or 'zeros', got {on_empty!r}")
        self.scale, self.on_empty, self.threads = scale, on_empty, threads
        self.backend = backend or _jpeg.available_backend()
        self.dataset_name = dataset
        self._stamps: np.ndarray | None = None
        path = os.fspath(source)
        self._file = open_h5(path, allow_outside)
        try:
            self._init_layout()
        except BaseException:
            self._file.close()
            raise

    def _init_layout(self) -> None:
        path, name = self.path, self.dataset_name
        ds = self._file.get(name)
        if not isinstance(ds, h5py.Dataset):
            raise FormatError(
                "no camera frames: dataset not found (not a CRONO native file?)", path, name
            )
        base = h5py.check_vlen_dtype(ds.dtype)
        if ds.ndim != 1 or base is None or base.itemsize != 1 or base.kind not in "Vu":
            raise FormatError(
                f"expected a 1-D vlen array of opaque bytes, found shape {ds.shape} "
                f"dtype {ds.dtype}",
                path,
                name,
            )
        self._ds = ds
        n_slots = ds.shape[0]
        self.first_slot = 1 if n_slots and ds[0].size == 0 else 0
        n = n_slots - self.first_slot
        if n <= 0:
            raise FormatError(
                f"holds no camera frames ({n_slots} slot(s), all empty); the CRONO "
                "'Exported' variant and files saved without images look like this",
                path,
                name,
            )
        first = self._jpeg_of_slot(self.first_slot, ds[self.first_slot])
        if first is None:
            raise FormatError("the first frame slot is empty", path, f"{name}[{self.first_slot}]")
        try:
            self.full_shape = _jpeg.jpeg_shape(first)
        except _jpeg.JpegError as exc:
            raise FormatError(
                f"frame payload is not a JPEG: {exc}", path, f"{name}[{self.first_slot}]"
            ) from exc
        h, w = _jpeg.scaled_shape(self.full_shape, self.scale)
        self.nav_shape = (n,)
        self.signal_shape = (h, w, 3)
        self.dtype = np.dtype(np.uint8)
        px = self.pixel_size_um
        self.axes = [
            Axis("frame", n, "", navigate=True),
            Axis("y", h, "µm" if px else "px", (px[1] if px else 1.0) * self.scale, navigate=False),
            Axis("x", w, "µm" if px else "px", (px[0] if px else 1.0) * self.scale, navigate=False),
            Axis("channel", 3, "", navigate=False, values=np.array(["R", "G", "B"])),
        ]
        self.metadata = {
            "title": os.path.splitext(os.path.basename(path))[0],
            "original_file": path,
            "format": self.format_name,
            "signal_type": "camera",
            "instrument": "CRONO MA-XRF scanner camera",
        }
        self.original_metadata = {
            "dataset": name,
            "slots": n_slots,
            "first_slot": self.first_slot,
            "frame_shape": list(self.full_shape),
            "scale": self.scale,
            "ImagePixelSizeRatio": list(px) if px else None,
        }

    # -- geometry ---------------------------------------------------------------------------
    @property
    def pixel_size_um(self) -> tuple[float, float] | None:
        """``/Images/ImageAdjusting/ImagePixelSizeRatio`` as (x, y) µm per full-size pixel.

        [inference in the format notes: motor units (≈ µm) per camera pixel]; ``None`` if absent.
        """
        ds = self._file.get(PIXEL_SIZE)
        if not isinstance(ds, h5py.Dataset):
            return None
        v = np.asarray(ds[()], dtype=float).reshape(-1)
        return (float(v[0]), float(v[1] if v.size > 1 else v[0])) if v.size else None

    # -- raw blobs ----------------------------------------------------------------------------
    def _jpeg_of_slot(self, slot: int, blob: np.ndarray) -> bytes | None:
        if blob.size == 0:
            return None
        return unwrap_byte_array(
            blob.tobytes(), path=self.path, context=f"{self.dataset_name}[{slot}]"
        )

    def jpegs(self, start: int, stop: int) -> list[bytes | None]:
        """The JPEG bytes of frames ``start:stop`` (``None`` for an empty slot)."""
        a = self.first_slot + start
        blobs = self._ds[a : self.first_slot + stop] if stop > start else []
        return [self._jpeg_of_slot(a + k, b) for k, b in enumerate(blobs)]

    def jpeg(self, frame: int) -> bytes:
        """The JPEG bytes of one frame (raises on an empty slot)."""
        slot = self.first_slot + frame
        data = self._jpeg_of_slot(slot, self._ds[slot])
        if data is None:
            raise FormatError(
                "empty image slot (no frame stored)", self.path, f"{self.dataset_name}[{slot}]"
            )
        return data

    def iter_jpegs(
        self, start: int = 0, stop: int | None = None, per_read: int = SLOTS_PER_READ
    ) -> Iterator[tuple[int, list[bytes | None]]]:
        """``(first_frame, jpegs)`` over frames ``start:stop`` in reads of ``per_read`` slots."""
        stop = self.nframes if stop is None else min(stop, self.nframes)
        for a in range(start, stop, per_read):
            yield a, self.jpegs(a, min(a + per_read, stop))

    # -- decoding -------------------------------------------------------------------------------
    def decode_jpegs(
        self,
        jpegs: list[bytes | None],
        first_frame: int,
        region: Region | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Decode the given frames (as returned by :meth:`jpegs`) to ``(n, *region_shape)``."""
        h, w, _ = self.signal_shape
        empty = [k for k, j in enumerate(jpegs) if j is None]
        if empty and self.on_empty == "error":
            slot = self.first_slot + first_frame + empty[0]
            raise FormatError(
                "empty image slot (no frame stored); open with on_empty='zeros' to "
                "read it as a black frame",
                self.path,
                f"{self.dataset_name}[{slot}]",
            )
        todo = [j for j in jpegs if j is not None]
        full = (
            out
            if (region is None and out is not None and not empty)
            else np.empty((len(todo), h, w, 3), np.uint8)
        )
        try:
            _jpeg.decode_many(todo, self.full_shape, self.scale, full, self.threads, self.backend)
        except _jpeg.JpegError as exc:
            k = getattr(exc, "index", 0)
            k = [i for i, j in enumerate(jpegs) if j is not None][k]
            raise FormatError(
                str(exc), self.path, f"{self.dataset_name}[{self.first_slot + first_frame + k}]"
            ) from exc
        if empty:
            padded = np.zeros((len(jpegs), h, w, 3), np.uint8)
            padded[[k for k, j in enumerate(jpegs) if j is not None]] = full
            full = padded
        if region is not None:  # JPEGs decode whole: crop, and do not keep the rest alive
            full = full[(slice(None), *region)]
            if out is not None:
                out[...] = full
                return out
            return np.ascontiguousarray(full)
        return full

    def read(self, start: int, stop: int, region: Region | None = None) -> np.ndarray:
        return self.decode_jpegs(self.jpegs(start, stop), start, region)

    # -- time stamps ----------------------------------------------------------------------------
    def stamps(self, progress=None) -> np.ndarray:
        """EXIF ``DateTimeOriginal`` of every frame as int64 µs, shape ``(n_frames,)`` (cached).

        ``-1`` marks an empty slot when ``on_empty="zeros"``. A frame without the tag, or with a
        malformed EXIF block, raises :class:`FormatError` naming its slot.
        """
        if self._stamps is None:
            from ..core.progress import Progress

            out = np.empty(self.nframes, np.int64)
            with Progress(self.nframes, progress, "EXIF", "frames") as bar:
                for a, jpegs in self.iter_jpegs():
                    self.stamps_of(jpegs, a, out[a : a + len(jpegs)])
                    bar.update(len(jpegs))
            self._stamps = out
        return self._stamps

    def stamps_of(
        self, jpegs: list[bytes | None], first_frame: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        """EXIF stamps (µs) of the given JPEGs (see :meth:`stamps`)."""
        out = np.empty(len(jpegs), np.int64) if out is None else out
        for k, j in enumerate(jpegs):
            where = f"{self.dataset_name}[{self.first_slot + first_frame + k}]"
            if j is None:
                if self.on_empty == "error":
                    raise FormatError("empty image slot (no frame stored)", self.path, where)
                out[k] = -1
                continue
            try:
                stamp = exif_stamp(j)
            except ExifError as exc:
                raise FormatError(f"malformed EXIF block: {exc}", self.path, where) from exc
            if stamp is None:
                raise FormatError(
                    "frame has no EXIF DateTimeOriginal (0x9003) stamp", self.path, where
                )
            out[k] = stamp
        return out

    # -- life cycle -------------------------------------------------------------------------------
    def close(self) -> None:
        f = getattr(self, "_file", None)
        if f is not None and f.id.valid:
            f.close()


def open_frames(
    path: str | os.PathLike,
    scale: int = 1,
    on_empty: str = "error",
    threads: int | None = None,
    backend: str | None = None,
) -> Stack:
    """The camera frames of a CRONO file as a lazy stack ``(n_frames,) x (h, w, 3)`` uint8.

    ``stack.reader`` is the :class:`CronoFramesReader` (stamps, raw JPEGs, pixel size).
    """
    return ReaderStack(
        CronoFramesReader(path, scale=scale, on_empty=on_empty, threads=threads, backend=backend)
    )


def iter_decoded(
    reader: CronoFramesReader,
    frames_per_block: int = 256,
    start: int = 0,
    stop: int | None = None,
    with_stamps: bool = True,
) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """One pass over the file: ``(first_frame, frames, stamps)`` per block.

    Each block of blobs is read from HDF5 once, its EXIF stamps parsed and its JPEGs decoded
    into a reused buffer (so the yielded array is only valid until the next iteration: copy what
    you keep). Reading and stamp parsing of block ``k + 1`` overlap the decoding of block ``k``.
    """
    stop = reader.nframes if stop is None else min(stop, reader.nframes)
    bounds = [(a, min(a + frames_per_block, stop)) for a in range(start, stop, frames_per_block)]
    if not bounds:
        return
    buffers = [np.empty((frames_per_block, *reader.signal_shape), np.uint8) for _ in range(2)]

    def fetch(a: int, b: int):
        jpegs = reader.jpegs(a, b)
        return jpegs, (reader.stamps_of(jpegs, a) if with_stamps else None)

    with contextlib.closing(read_ahead(lambda ab: fetch(*ab), bounds)) as fetched:
        for i, ((a, b), (jpegs, stamps)) in enumerate(fetched):
            out = buffers[i % 2][: b - a]
            yield a, reader.decode_jpegs(jpegs, a, None, out), stamps

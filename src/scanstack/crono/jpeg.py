"""Fast JPEG decoding of camera frames: simplejpeg in threads, Pillow as the fallback.

simplejpeg (libjpeg-turbo, the optional ``jpeg`` extra) releases the GIL while it decodes, so
``decode_many`` spreads a block of frames over ``config.threads()`` threads and decodes straight
into one preallocated ``(n, h, w, 3)`` uint8 array. Without simplejpeg, Pillow is used (slower,
and it holds the GIL for part of the work).

Reduced-size decoding (``scale`` = 2, 4 or 8) uses libjpeg's DCT scaling: the decoder skips the
high frequencies instead of decoding then shrinking, which is several times faster. A frame of
``h x w`` pixels comes out as ``ceil(h / scale) x ceil(w / scale)``.
"""

from __future__ import annotations

import io
import math
import struct
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..core.config import config

try:  # optional extra 'jpeg'
    import simplejpeg
except ImportError:  # pragma: no cover - depends on the environment
    simplejpeg = None

SCALES = (1, 2, 4, 8)

_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


class JpegError(ValueError):
    """A payload is not a decodable JPEG (the caller adds file and frame index)."""


def available_backend() -> str:
    """``'simplejpeg'`` when the optional extra is installed, else ``'pillow'``."""
    return "simplejpeg" if simplejpeg is not None else "pillow"


def segments(jpeg: bytes, error: type[ValueError] = JpegError) -> Iterator[tuple[int, int, int]]:
    """``(byte offset, marker, length field)`` of each marker segment after SOI, in order.

    The caller stops at the markers it cares about (SOS ``0xDA`` starts the entropy-coded data,
    which is not walked). Raises ``error`` when there is no SOI marker or a byte where a marker
    should be is not ``0xFF``.
    """
    n = len(jpeg)
    if n < 4 or jpeg[0] != 0xFF or jpeg[1] != 0xD8:
        raise error(
            f"no JPEG start-of-image marker FFD8 (found {bytes(jpeg[:2]).hex() or 'nothing'})"
        )
    pos = 2
    while pos + 4 <= n:
        if jpeg[pos] != 0xFF:
            raise error(f"expected a JPEG marker at byte {pos}, found {jpeg[pos]:#04x}")
        marker = jpeg[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        (length,) = struct.unpack_from(">H", jpeg, pos + 2)
        yield pos, marker, length
        pos += 2 + length


def jpeg_shape(jpeg: bytes) -> tuple[int, int]:
    """``(height, width)`` in pixels from the SOF segment, without decoding.

    Raises :class:`JpegError` when there is no SOI marker or no frame header before the scan.
    """
    for pos, marker, _length in segments(jpeg):
        if marker in _SOF_MARKERS:
            if pos + 9 > len(jpeg):
                break
            h, w = struct.unpack_from(">HH", jpeg, pos + 5)
            return h, w
        if marker == 0xDA:
            break
    raise JpegError("no JPEG frame header (SOF) before the image data")


def scaled_shape(shape: tuple[int, int], scale: int) -> tuple[int, int]:
    """Size of a ``(h, w)`` frame decoded at ``1/scale`` (libjpeg rounds up)."""
    _check_scale(scale)
    return math.ceil(shape[0] / scale), math.ceil(shape[1] / scale)


def _check_scale(scale: int) -> None:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES} (libjpeg DCT scaling), got {scale!r}")


def decode(
    jpeg: bytes, scale: int = 1, out: np.ndarray | None = None, backend: str | None = None
) -> np.ndarray:
    """Decode one JPEG to RGB uint8 ``(h, w, 3)`` (``h, w`` reduced by ``scale``).

    ``out`` (C-contiguous, the right shape) receives the pixels when given. ``backend`` is
    ``'simplejpeg'``, ``'pillow'`` or ``None`` (the fastest available).
    """
    _check_scale(scale)
    backend = backend or available_backend()
    try:
        if backend == "simplejpeg":
            if scale == 1:
                img = simplejpeg.decode_jpeg(jpeg, "RGB", buffer=out)
            else:
                h, w = scaled_shape(jpeg_shape(jpeg), scale)
                img = simplejpeg.decode_jpeg(jpeg, "RGB", min_height=h, min_width=w, buffer=out)
        elif backend == "pillow":
            img = _decode_pillow(jpeg, scale)
        else:
            raise ValueError(f"unknown JPEG backend {backend!r} (use 'simplejpeg' or 'pillow')")
    except (ValueError, OSError, SyntaxError) as exc:
        if isinstance(exc, JpegError) or str(exc).startswith("unknown JPEG backend"):
            raise
        raise JpegError(f"cannot decode JPEG ({len(jpeg)} bytes): {exc}") from exc
    if out is not None:
        if img.shape != out.shape:
            raise JpegError(
                f"frame is {img.shape[1]}x{img.shape[0]} px, expected "
                f"{out.shape[1]}x{out.shape[0]} like the first frame"
            )
        if img.ctypes.data != out.ctypes.data:  # simplejpeg returns a view of ``out``
            out[...] = img
        return out
    return img


def _decode_pillow(jpeg: bytes, scale: int) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as im:
        if im.format != "JPEG":
            raise JpegError(f"payload is {im.format}, not JPEG")
        full = (im.height, im.width)
        if scale != 1:
            # Pillow picks the largest DCT scale whose floor size still covers the request;
            # libjpeg then rounds the size up, like simplejpeg
            im.draft("RGB", (im.width // scale, im.height // scale))
        img = np.asarray(im.convert("RGB"))
    if img.shape[:2] != scaled_shape(full, scale):
        raise JpegError(
            f"Pillow could not decode at 1/{scale} size (got {img.shape[1]}x{img.shape[0]})"
        )
    return img


_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _executor(threads: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != threads:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(threads, thread_name_prefix="scanstack-jpeg")
            _pool_size = threads
        return _pool


def decode_many(
    jpegs: Sequence[bytes],
    shape: tuple[int, int] | None = None,
    scale: int = 1,
    out: np.ndarray | None = None,
    threads: int | None = None,
    backend: str | None = None,
) -> np.ndarray:
    """Decode equally sized JPEGs into one ``(n, h, w, 3)`` uint8 array, in parallel threads.

    ``shape`` is the full-size ``(h, w)`` (read from the first JPEG when omitted). A frame of
    another size or a corrupt one raises :class:`JpegError` whose ``index`` attribute is its
    position in ``jpegs``.
    """
    n = len(jpegs)
    if shape is None:
        shape = jpeg_shape(jpegs[0]) if n else (0, 0)
    h, w = scaled_shape(shape, scale)
    if out is None:
        out = np.empty((n, h, w, 3), np.uint8)
    threads = max(1, threads or config.threads())
    backend = backend or available_backend()

    def work(a: int, b: int) -> None:
        if backend == "simplejpeg":
            # the hot loop: libjpeg-turbo writes into ``out`` directly, without the GIL
            dec, kw = simplejpeg.decode_jpeg, {"min_height": h, "min_width": w} if scale > 1 else {}
            for i in range(a, b):
                try:
                    img = dec(jpegs[i], "RGB", buffer=out[i], **kw)
                except ValueError as exc:
                    err = JpegError(f"cannot decode JPEG ({len(jpegs[i])} bytes): {exc}")
                    err.index = i
                    raise err from exc
                if img.shape != (h, w, 3):
                    err = JpegError(
                        f"frame is {img.shape[1]}x{img.shape[0]} px, expected {w}x{h} "
                        "like the first frame"
                    )
                    err.index = i
                    raise err
            return
        for i in range(a, b):
            try:
                decode(jpegs[i], scale, out[i], backend)
            except JpegError as exc:
                exc.index = i
                raise

    if threads == 1 or n < 8:
        work(0, n)
        return out
    step = math.ceil(n / threads)
    futures = [_executor(threads).submit(work, a, min(a + step, n)) for a in range(0, n, step)]
    for f in futures:
        f.result()
    return out

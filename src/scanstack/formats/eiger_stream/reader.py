"""Readers of hexrd's ``eiger-stream-v1`` and ``eiger-stream-v2`` HDF5 files.

Layout (hexrd's ``load/eiger_stream_v1.py`` and ``eiger_stream_v2.py``)::

    /metadata/...                  hexrd's unwrap_dict_to_h5 tree (scanstack.core.h5tree)
    /data/<i>/                     v1: one group per frame, i = 0 .. n-1
        data                       the frame's bytes (an opaque scalar, or uint8)
        dtype                      numpy dtype string, e.g. '<u2'
        shape                      (rows, cols)
        elem_size                  bytes per element
        compression_type           'bslz4', 'lz4', 'csrnpz' or 'none'
    /data/<i>/threshold_1/, threshold_2/   v2: the same entry for each threshold

v2 option ``threshold_setting``: ``'threshold_1'`` (default), ``'threshold_2'`` or ``'man_diff'``
(``threshold_1 - multiplier * threshold_2`` as float64, hexrd's formula).

Frames are read on demand: the entries of a block are fetched and decoded in a thread pool,
regions are cut from each decoded frame, nothing is kept between reads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...core.errors import FormatError, UnsupportedError
from ...core.h5tree import group_to_dict
from ...core.reader import Reader
from ...core.values import whole_number
from .._hexrd import H5Source, LazyPool
from . import codec

FIELDS = ("data", "dtype", "shape", "elem_size", "compression_type")
THRESHOLDS = ("threshold_1", "threshold_2")
THRESHOLD_SETTINGS = ("threshold_1", "threshold_2", "man_diff")


class ThresholdSettingError(UnsupportedError):
    """An unknown ``threshold_setting`` or option (hexrd raises ``NotImplementedError``)."""


def _text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size == 1 else value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class EigerStreamReader(Reader):
    """``eiger-stream-v1``: DECTRIS stream frames saved one HDF5 group per frame.

    ``source`` is a file name or an open ``h5py.File``. Frames have the dtype and shape of
    entry ``0``; every other entry must agree (checked when it is read). A file naming other
    files outside its folder (external links, storage, virtual datasets) is refused unless
    ``allow_outside``; other keyword arguments are ignored, as in hexrd.
    """

    format_name = "eiger-stream-v1"
    #: path of a frame's entry below /data/<i> ('' in v1)
    _subentries: tuple[str, ...] = ("",)

    def __init__(self, source=None, *, allow_outside: bool = False, **options: Any):
        self._h5 = H5Source(source, "/", allow_outside)
        super().__init__(self._h5.filename, allow_outside=allow_outside, **options)
        self._pool = LazyPool()
        f = self._h5.file()
        data = f.get("data")
        problem = None
        if data is None or not hasattr(data, "keys"):
            problem = (
                f"expected a /data group of frames ({self.format_name}); the file holds: "
                f"{', '.join(f.keys()) or 'nothing'}"
            )
        else:
            n = len(data)
            # hexrd reads frame i from /data/<i>: the names must be 0..n-1
            if any(str(i) not in data for i in (0, 1, 2, n - 1) if 0 <= i < n):
                problem = f"expected /data to hold frames named 0..{n - 1}, found " + ", ".join(
                    list(data)[:5]
                )
        if problem is not None:
            self._h5.close()
            raise FormatError(problem, self.path, "/data")
        meta = f.get("metadata")
        self.metadata = group_to_dict(meta) if hasattr(meta, "keys") else {}
        self.nav_shape = (n,)
        first = self._entry_info(0, self._subentries[0]) if n else None
        self._frame_dtype = first[0] if first else np.dtype(np.uint8)
        self.signal_shape = first[1] if first else (0, 0)
        self.dtype = self._frame_dtype
        self.original_metadata = {
            "file": self.path,
            "compression": first[2] if first else None,
            "elem_size": first[3] if first else None,
        }

    # -- entries -----------------------------------------------------------------------------
    def _where(self, i: int, sub: str) -> str:
        return f"/data/{i}/{sub}".rstrip("/")

    def _entry(self, i: int, sub: str):
        where = self._where(i, sub)
        group = self._h5.file().get(where)
        if group is None or not hasattr(group, "keys"):
            raise FormatError(f"expected a frame entry group at {where}", self.path, where)
        absent = [k for k in FIELDS if k not in group and k != "compression_type"]
        if absent:
            raise FormatError(
                f"frame entry lacks {', '.join(absent)} (expected {', '.join(FIELDS)})",
                self.path,
                where,
            )
        return group, where

    def _entry_info(self, i: int, sub: str) -> tuple[np.dtype, tuple[int, ...], str, int]:
        group, where = self._entry(i, sub)
        for key, most in (("dtype", 1), ("shape", 2), ("elem_size", 1), ("compression_type", 1)):
            ds = group.get(key)
            if ds is not None and getattr(ds, "size", 0) and ds.size > most:  # before reading
                raise FormatError(
                    f"expected {key} of at most {most} value(s), found a dataset of shape "
                    f"{ds.shape}",
                    self.path,
                    f"{where}/{key}",
                )
        try:
            dtype = np.dtype(_text(group["dtype"][()]))
        except TypeError as exc:
            raise FormatError(
                f"dtype is not a numpy dtype: {exc}", self.path, f"{where}/dtype"
            ) from exc
        if dtype.kind not in "biufc":
            raise FormatError(f"expected a numeric dtype, found {dtype}", self.path, where)
        shape = tuple(
            whole_number(v, self.path, f"{where}/shape") for v in np.atleast_1d(group["shape"][()])
        )
        if len(shape) != 2 or min(shape) < 0:
            raise FormatError(f"expected a 2-D frame shape, found {shape}", self.path, where)
        ctype = group.get("compression_type")
        compression = "none"
        if ctype is not None and ctype.shape is not None:  # absent or empty: uncompressed
            compression = _text(ctype[()])
        elem = np.asarray(group["elem_size"][()]).reshape(-1)
        if elem.size != 1:
            raise FormatError(
                f"expected one elem_size value, found {elem.size}", self.path, f"{where}/elem_size"
            )
        elem_size = whole_number(elem[0], self.path, f"{where}/elem_size")
        return dtype, shape, compression, elem_size

    def _decode(self, i: int, sub: str, out: np.ndarray | None = None) -> np.ndarray:
        """Frame ``i`` of entry ``sub`` (into ``out`` when given), checked against the series'
        dtype and shape."""
        dtype, shape, compression, elem_size = self._entry_info(i, sub)
        where = self._where(i, sub)
        if (dtype, shape) != (self._frame_dtype, self.signal_shape):
            raise FormatError(
                f"frame is {shape} {dtype}; frame 0 is {self.signal_shape} {self._frame_dtype}",
                self.path,
                where,
            )
        raw = np.asarray(self._h5.file()[where]["data"][()])
        try:
            return codec.decode(raw.tobytes(), compression, dtype, shape, elem_size, out)
        except codec.CodecError as exc:
            raise FormatError(str(exc), self.path, f"{where}/data") from exc

    def _decode_into(self, i: int, sub: str, region, dest: np.ndarray) -> None:
        if region is None:  # whole frames decode straight into the block
            self._decode(i, sub, dest)
        else:
            dest[...] = self._decode(i, sub)[region]

    def _frame_into(self, i: int, region, dest: np.ndarray) -> None:
        self._decode_into(i, self._subentries[0], region, dest)

    # -- reading -----------------------------------------------------------------------------
    def read(self, start, stop, region=None):
        shape = self.signal_shape if region is None else tuple(s.stop - s.start for s in region)
        out = np.empty((stop - start, *shape), self.dtype)
        if stop - start == 1:
            self._frame_into(start, region, out[0])
        else:  # the C decoders release the GIL: frames decode in parallel
            pool = self._pool.get()
            list(pool.map(lambda k: self._frame_into(start + k, region, out[k]), range(len(out))))
        return out

    def close(self) -> None:
        self._pool.shutdown()
        self._h5.close()


class EigerStreamV2Reader(EigerStreamReader):
    """``eiger-stream-v2``: two thresholds per frame; options ``threshold_setting``
    (``'threshold_1'``, ``'threshold_2'``, ``'man_diff'``) and ``multiplier`` (float, for
    ``man_diff = threshold_1 - multiplier * threshold_2``, returned as float64)."""

    format_name = "eiger-stream-v2"
    _subentries = THRESHOLDS

    def __init__(
        self,
        source=None,
        *,
        threshold_setting: str = "threshold_1",
        multiplier: float = 1.0,
        allow_outside: bool = False,
        **options: Any,
    ):
        check_threshold_setting(threshold_setting)
        super().__init__(
            source,
            allow_outside=allow_outside,
            threshold_setting=threshold_setting,
            multiplier=float(multiplier),
            **options,
        )
        self.threshold_setting = threshold_setting
        self.multiplier = float(multiplier)
        if threshold_setting == "man_diff":
            self.dtype = np.dtype(np.float64)
        self.original_metadata.update(
            threshold_setting=threshold_setting, multiplier=self.multiplier
        )

    def _frame_into(self, i: int, region, dest: np.ndarray) -> None:
        if self.threshold_setting != "man_diff":
            self._decode_into(i, self.threshold_setting, region, dest)
            return
        frame = self._decode(i, "threshold_1") - self.multiplier * self._decode(i, "threshold_2")
        dest[...] = frame if region is None else frame[region]


def check_threshold_setting(value: str) -> str:
    if value not in THRESHOLD_SETTINGS:
        raise ThresholdSettingError(
            f'"{value}" is not one of the possible values for the threshold_setting. '
            f"Possible values are: {', '.join(THRESHOLD_SETTINGS)}"
        )
    return value

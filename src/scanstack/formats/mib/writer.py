"""Write Merlin ``.mib`` + ``.hdr`` files: any depth, layout, raw or processed, at any size.

:func:`write_mib` streams block by block (memory bounded by ``frames_per_block``), builds each
block's headers and payloads with numpy and writes them with one call per block, so multi-GB test
files are written at disk speed. :func:`save` is the registry writer
(``scanstack.save(stack, 'x.mib', 'mib', depth=12, layout='2x2', raw=False)``).

Frames are given in the reader's orientation: with ``flip=True`` (default, RosettaSciIO's) rows
are reversed back to the file order before writing, so ``open(save(s)) == s``.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import time
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from ...core.errors import WriteError
from ...core.progress import Progress
from ...core.registry import forwarding_signature
from ...core.resources import resolve, resolve_here
from ...core.safety import atomic_path
from . import raw as rawmod

DACS = (
    "011,511,000,000,000,000,000,000,175,010,200,125,100,100,093,100,099,030,128,004,255,140,"
    "128,191,179,511,511"
)
PIXEL_TYPE = {1: "U08", 6: "U08", 12: "U16", 24: "U32"}
FILE_DTYPE = {"U08": np.dtype("u1"), "U16": np.dtype(">u2"), "U32": np.dtype(">u4")}
LAYOUTS = ("1x1", "2x2", "2x2G", "Nx1")
DEFAULT_T0_NS = 1_618_494_182_396_481_181  # 2021-04-15T13:43:02.396481181Z


def _sci(x: float) -> str:
    """Merlin's float format: ``2.000000E+0`` (exponent not zero-padded)."""
    mantissa, exp = f"{x:.6E}".split("E")
    return f"{mantissa}E{int(exp):+d}"


def _utc(t_ns: int, local: bool = False) -> str:
    s, ns = divmod(int(t_ns), 10**9)
    base = _dt.datetime.fromtimestamp(s, _dt.timezone.utc)
    if local:
        return base.strftime("%Y-%m-%d %H:%M:%S") + f".{ns // 1000:06d}"
    return base.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns:09d}Z"


def header_size_for(nchips: int) -> int:
    """Header size the Merlin software uses: 384 bytes for one chip, 768 for four."""
    return 384 if nchips == 1 else max(768, 128 * math.ceil((342 + 112 * (nchips - 1)) / 128))


def frame_header(
    seq: int,
    nchips: int,
    width: int,
    height: int,
    pixel_type: str,
    layout: str,
    depth: int,
    t_ns: int,
    shutter_ns: int,
    thresholds=(2.0, 511.0, 0, 0, 0, 0, 0, 0),
    size: int | None = None,
) -> bytes:
    """One frame header, NUL-padded to ``size`` bytes (default :func:`header_size_for`)."""
    size = size or header_size_for(nchips)
    fields = [
        "MQ1",
        f"{seq:06d}",
        f"{size:05d}",
        f"{nchips:02d}",
        f"{width:04d}",
        f"{height:04d}",
        pixel_type,
        f"{layout:>6}",
        f"{(1 << nchips) - 1:02X}",
        _utc(t_ns, local=True),
        f"{shutter_ns / 1e9:.6f}",
        "0",
        "0",
        "0",
    ]
    fields += [_sci(float(x)) for x in thresholds]
    for _ in range(nchips):
        fields += ["3RX", *DACS.split(",")]
    fields += ["MQ1A", _utc(t_ns), f"{int(shutter_ns)}ns", str(depth)]
    text = (",".join(fields) + ",").encode("ascii")
    if len(text) > size:
        raise WriteError(f"frame header needs {len(text)} bytes, more than its size {size}")
    return text + b"\0" * (size - len(text))


def hdr_text(
    n_frames: int,
    fpt: int,
    depth: int,
    layout: str = "1x1",
    trigger: str = "Internal",
    scan_xy: tuple[int, int] | None = None,
    shutter_ns: int = 1_000_000,
    t0_ns: int = DEFAULT_T0_NS,
    nchips: int = 1,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """The ``.hdr`` sidecar (CRLF lines, space-padded to 2048 bytes) as bytes."""
    stamp = _dt.datetime.fromtimestamp(t0_ns // 10**9, _dt.timezone.utc)
    kv = [
        ("Time and Date Stamp (day, mnth, yr, hr, min, s)", stamp.strftime("%d/%m/%Y %H:%M:%S")),
        ("Chip ID", ",".join(["W000_A0"] * nchips)),
        ("Chip Type (Medipix 3.0, Medipix 3.1, Medipix 3RX)", "Medipix 3RX"),
        ("Assembly Size (NX1, 2X2)", f"{layout:>6}"),
        ("Chip Mode  (SPM, CSM, CM, CSCM)", "SPM"),
        ("Counter Depth (number)", depth),
        ("Gain", "SLGM"),
        ("Active Counters", "Counter 0"),
        ("Thresholds (keV)", ",".join(_sci(x) for x in (2, 511, 0, 0, 0, 0, 0, 0))),
        ("DACs", "; ".join([DACS] * nchips)),
        ("Gap Fill Mode", "None"),
        ("Flat Field File", "None"),
        ("Dead Time File", "Dummy (C:\\<NUL>\\)"),
        ("Acquisition Type (Normal, Th_scan, Config)", "Normal"),
        ("Frames in Acquisition (Number)", n_frames),
        ("Frames per Trigger (Number)", fpt),
        ("Trigger Start (Positive, Negative, Internal)", trigger),
        ("Trigger Stop (Positive, Negative, Internal)", "Internal"),
        ("Sensor Bias (V)", "120 V"),
        ("Sensor Polarity (Positive, Negative)", "Positive"),
        ("Readout System", "Merlin Quad" if nchips > 1 else "Merlin"),
        ("Software Version", "scanstack"),
    ]
    if scan_xy:
        kv += [("ScanX", scan_xy[0]), ("ScanY", scan_xy[1])]
    kv += list((extra or {}).items())
    text = "\r\n".join(["HDR,\t"] + [f"{k}:\t{v}" for k, v in kv]) + "\r\nEnd\t"
    data = text.encode("latin-1")
    return data + b" " * max(0, 2048 - len(data))


def _layout_chips(layout: str, shape: tuple[int, int]) -> int:
    if layout == "1x1":
        return 1
    if layout in ("2x2", "2x2G"):
        return 4
    if layout == "Nx1":
        return max(1, shape[1] // 256)
    raise WriteError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")


def write_mib(
    path: str | os.PathLike,
    frames: Any,
    depth: int | None = None,
    layout: str = "1x1",
    raw: bool = False,
    *,
    flip: bool = True,
    hdr: bool = True,
    nav_shape: tuple[int, ...] | None = None,
    frames_per_trigger: int | None = None,
    scan_xy: bool | tuple[int, int] = True,
    frames_in_acquisition: int | None = None,
    trigger: str = "Internal",
    t0_ns: int | None = None,
    period_ns: int | None = None,
    shutter_ns: int = 1_000_000,
    flyback_ns: int = 0,
    line_length: int | None = None,
    timestamps_ns: np.ndarray | None = None,
    thresholds=(2.0, 511.0, 0, 0, 0, 0, 0, 0),
    images_per_file: int | None = None,
    frames_per_block: int | None = None,
    sequence_start: int = 1,
    overwrite: bool = False,
    inputs: tuple[str, ...] | list[str] = (),
    progress: Any = None,
    memory_budget: int | None = None,
) -> list[Path]:
    """Write frames as a Merlin acquisition; returns the paths written (``.mib`` files, ``.hdr``).

    Parameters
    ----------
    frames: anything with ``shape == (n, rows, cols)`` and ``frames[a:b]`` slicing (numpy, memmap,
        dask, a scanstack Stack, :class:`scanstack.datasets.SyntheticFrames`); read
        ``frames_per_block`` at a time.
    depth: counter depth 1, 6, 12 or 24 (default from the dtype: u1 -> 6, u2 -> 12, else 24);
        values beyond ``2**depth - 1`` raise :class:`WriteError`.
    layout: ``1x1``, ``2x2``, ``2x2G`` (frames include the 2 gap rows/columns) or ``Nx1``.
    raw: write ``R64`` raw frames (1x1 and 2x2/2x2G; depth 24 follows LiberTEM's layout).
    flip: frames are in the reader's default (RosettaSciIO) orientation; rows are reversed to the
        file order. ``False``: frames are already in file order.
    hdr: also write ``<stem>.hdr``; ``nav_shape`` (rows, cols) sets ``Frames per Trigger`` to the
        line length (and ``ScanX/ScanY`` unless ``scan_xy=False``); without it ``Frames per
        Trigger = frames`` (a 1-D series) unless ``frames_per_trigger`` is given (1 makes readers
        use the timestamps). ``frames_in_acquisition`` overrides the frame count in the ``.hdr``
        (more than written = an interrupted acquisition).
    t0_ns, period_ns, shutter_ns, flyback_ns, line_length: frame timestamps (ns since the epoch, UTC)
        ``t0 + i * period`` plus ``flyback_ns`` before the start of every line of ``line_length``
        frames; ``timestamps_ns`` gives them explicitly.
    images_per_file: split into ``<stem>1.mib, <stem>2.mib, ...`` (sequence numbers continue).
    """
    shape = tuple(int(s) for s in frames.shape)
    if len(shape) != 3:
        raise WriteError(f"frames must be (n, rows, cols), got shape {shape}")
    n, rows, cols = shape
    if layout not in LAYOUTS:
        raise WriteError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
    if depth is None:
        kind = np.dtype(getattr(frames, "dtype", np.uint16))
        depth = 6 if kind.itemsize == 1 else 12 if kind.itemsize == 2 else 24
    if depth not in PIXEL_TYPE:
        raise WriteError(f"counter depth must be 1, 6, 12 or 24, not {depth}")
    nchips = _layout_chips(layout, (rows, cols))
    quad = layout.startswith("2x2")
    gap = layout.endswith("G")
    if raw:
        if layout == "Nx1":
            raise WriteError("raw Nx1 files are not supported (no reader decodes them)")
        g = rawmod.GAP if gap else 0
        if quad:
            if (rows - g) % 2 or (cols - g) % 2:
                raise WriteError(f"quad frames {rows}x{cols} cannot be split into 4 chips")
            w_hdr, h_hdr = 2 * (cols - g), (rows - g) // 2
        else:
            w_hdr, h_hdr = cols, rows
        lane = rawmod.STREAM_BITS[depth] // (2 if depth == 24 else 1)
        chip_w = w_hdr // 4 if quad else w_hdr
        if (chip_w * lane) % 64:
            raise WriteError(
                f"raw rows of {chip_w} pixels at depth {depth} do not fill whole 64-bit words"
            )
        if depth == 24:
            w_hdr *= 2
        ptype = "R64"
    else:
        w_hdr, h_hdr, ptype = cols, rows, PIXEL_TYPE[depth]
    hsize = header_size_for(nchips)
    maxval = (1 << depth) - 1
    line = line_length or (nav_shape[-1] if nav_shape is not None and len(nav_shape) > 1 else None)
    t0 = DEFAULT_T0_NS if t0_ns is None else int(t0_ns)
    period = int(period_ns) if period_ns is not None else int(shutter_ns)
    if timestamps_ns is None:
        idx = np.arange(n, dtype=np.int64)
        extra = (idx // line) * int(flyback_ns) if line and flyback_ns else 0
        timestamps_ns = t0 + idx * period + extra
    timestamps_ns = np.asarray(timestamps_ns, dtype=np.int64)

    target = Path(path)
    per_file = images_per_file or n
    nfiles = max(1, math.ceil(n / per_file))
    names = (
        [target]
        if images_per_file is None
        else [target.with_name(f"{target.stem}{k + 1}{target.suffix}") for k in range(nfiles)]
    )
    stride = hsize + (
        rawmod.payload_bytes(rows * cols - _gap_pixels(rows, cols, gap, raw), depth)
        if raw
        else rows * cols * FILE_DTYPE[ptype].itemsize
    )
    in_bytes = rows * cols * np.dtype(getattr(frames, "dtype", np.uint32)).itemsize
    res = resolve(progress=progress, memory_budget=memory_budget)
    # alive at once: the frames read, their cast to the file's dtype, the payload with the
    # headers, and the checks' temporaries (measured: about 3.7 blocks)
    fpb = frames_per_block or res.frames_per_block(max(stride, in_bytes), 4, concurrent=1)
    written: list[Path] = []
    gap_warned = False
    with ExitStack() as stack, Progress(n, res.progress, "write", "frames") as bar:
        tmp_paths = [stack.enter_context(atomic_path(p, overwrite, inputs)) for p in names]
        for k, (name, tmp) in enumerate(zip(names, tmp_paths, strict=True)):
            a0, a1 = k * per_file, min(n, (k + 1) * per_file)
            with open(tmp, "wb") as fh:
                for a in range(a0, a1, fpb):
                    b = min(a + fpb, a1)
                    block = np.asarray(frames[a:b])
                    if block.size and (block.min() < 0 or block.max() > maxval):
                        raise WriteError(
                            f"{name}: frames {a}..{b - 1} hold values outside 0..{maxval}, "
                            f"the range of counter depth {depth}"
                        )
                    if block.dtype.kind not in "iub" and not np.all(block == np.round(block)):
                        raise WriteError(  # counts: 1.5 or NaN would be truncated silently
                            f"{name}: frames {a}..{b - 1} hold non-integer or NaN values; "
                            "Merlin frames store counts (round or cast them first)"
                        )
                    if flip:
                        block = block[:, ::-1]
                    if raw:
                        if gap and quad and not gap_warned and _gap_values(block):
                            gap_warned = True  # raw streams have no gap pixels to store them in
                            warnings.warn(
                                f"{name}: raw 2x2G frames cannot store the gap rows/columns; "
                                "their non-zero values are dropped (they read back as 0)",
                                stacklevel=2,
                            )
                        payload = rawmod.encode(block, depth, quad, gap)
                    else:
                        payload = (
                            np.ascontiguousarray(block.astype(FILE_DTYPE[ptype]))
                            .view(np.uint8)
                            .reshape(b - a, -1)
                        )
                    out = np.empty((b - a, hsize + payload.shape[1]), np.uint8)
                    out[:, hsize:] = payload
                    for i in range(a, b):
                        out[i - a, :hsize] = np.frombuffer(
                            frame_header(
                                sequence_start + i,
                                nchips,
                                w_hdr,
                                h_hdr,
                                ptype,
                                layout,
                                depth,
                                int(timestamps_ns[i]),
                                shutter_ns,
                                thresholds,
                                hsize,
                            ),
                            np.uint8,
                        )
                    fh.write(memoryview(out).cast("B"))
                    bar.update(b - a)
            written.append(name)
        if hdr:
            if frames_per_trigger is not None:
                fpt = int(frames_per_trigger)
            elif line:
                fpt = line
            else:
                fpt = n
            sxy = None
            if scan_xy is True and nav_shape is not None and len(nav_shape) == 2:
                sxy = (nav_shape[1], nav_shape[0])
            elif isinstance(scan_xy, tuple):
                sxy = scan_xy
            hdr_name = target.with_suffix(".hdr")
            with atomic_path(hdr_name, overwrite, inputs) as tmp:
                tmp.write_bytes(
                    hdr_text(
                        frames_in_acquisition if frames_in_acquisition is not None else n,
                        fpt,
                        depth,
                        layout,
                        trigger,
                        sxy,
                        shutter_ns,
                        t0,
                        nchips,
                    )
                )
            written.append(hdr_name)
    return written


def _gap_values(block: np.ndarray) -> bool:
    """True when a ``2x2G`` block holds non-zero values in its central gap rows/columns."""
    h, w = block.shape[1:]
    r0, c0 = (h - rawmod.GAP) // 2, (w - rawmod.GAP) // 2
    return bool(block[:, r0 : r0 + rawmod.GAP].any() or block[:, :, c0 : c0 + rawmod.GAP].any())


def _gap_pixels(rows: int, cols: int, gap: bool, raw: bool) -> int:
    """Output pixels of a 2x2G frame that are gap (not stored in a raw stream)."""
    if not (gap and raw):
        return 0
    g = rawmod.GAP
    return rows * cols - (rows - g) * (cols - g)


def save(
    stack,
    path: str | os.PathLike,
    depth: int | None = None,
    layout: str | None = None,
    raw: bool = False,
    flip: bool | None = None,
    progress: Any = None,
    *,
    client=None,
    threads: int | None = None,
    memory_budget: int | None = None,
    **options: Any,
) -> list[Path]:
    """Registry writer: ``scanstack.save(stack, 'x.mib', 'mib', depth=..., layout=..., raw=...)``.

    The stack's frames are written in order; a 2-D navigation shape is recorded in the ``.hdr``.
    ``depth`` and ``layout`` default to the source's (``metadata['instrument']``), else ``2x2``
    for 512x512 frames and ``1x1`` otherwise. ``flip`` defaults to the orientation of a Merlin
    source (a stack opened with ``flip=False`` is written as it is), else True. Other options as
    for :func:`write_mib`. ``progress``, ``memory_budget``: as everywhere
    (:mod:`scanstack.core.resources`); frames are encoded in order in this thread (``threads``
    is accepted and unused; ``client`` is refused).
    """
    resolve_here(f"{path}: mib", client=client, threads=threads)  # the same checks as everywhere
    if len(stack.signal_shape) != 2:
        raise WriteError(
            f"{path}: Merlin frames are 2-D; this stack's frames are {stack.signal_shape}"
        )
    if depth is None:
        depth = (
            (stack.metadata.get("instrument") or {}).get("counter_depth")
            if isinstance(stack.metadata, dict)
            else None
        )
    if layout is None:
        src = (
            (stack.metadata.get("instrument") or {}).get("layout")
            if isinstance(stack.metadata, dict)
            else None
        )
        rows, cols = stack.signal_shape
        layout = src if src in LAYOUTS else ("2x2" if (rows, cols) == (512, 512) else "1x1")
    dwell = stack.metadata.get("dwell_time") if isinstance(stack.metadata, dict) else None
    options.setdefault("shutter_ns", int(round(dwell * 1e9)) if dwell else 1_000_000)
    options.setdefault("t0_ns", _t0_from(stack.metadata))
    if flip is None:  # a Merlin stack opened with flip=False is already in file order
        base = stack
        while hasattr(base, "parent"):
            base = base.parent
        flip = bool(getattr(getattr(base, "reader", None), "flip", True))
    nav = tuple(stack.nav_shape)
    flat = _FlatFrames(stack)
    return write_mib(
        path,
        flat,
        depth,
        layout,
        raw,
        flip=flip,
        nav_shape=nav if len(nav) == 2 else None,
        inputs=tuple(stack.source_paths()),
        progress=progress,
        memory_budget=memory_budget,
        **options,
    )


# the write_mib options save() forwards are checked up front (save sets nav_shape and inputs)
save.__signature__ = forwarding_signature(save, write_mib, fixed=("nav_shape", "inputs"))


def _t0_from(metadata) -> int:
    stamp = metadata.get("acquisition_time") if isinstance(metadata, dict) else None
    if isinstance(stamp, str):
        try:
            return int(np.datetime64(stamp.rstrip("Z"), "ns").astype(np.int64))
        except ValueError:
            pass
    return time.time_ns()


class _FlatFrames:
    """A stack seen as ``(nframes, rows, cols)`` with slicing (what write_mib consumes)."""

    def __init__(self, stack):
        self.stack = stack
        self.shape = (stack.nframes, *stack.signal_shape)
        self.dtype = np.dtype(stack.dtype)

    def __getitem__(self, key: slice) -> np.ndarray:
        return self.stack.read(key.start, key.stop)

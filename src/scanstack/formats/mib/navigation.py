"""Navigation (scan) shape of a Merlin acquisition.

Rules, first match wins:

1. an explicit ``nav_shape`` (numpy order, ``(rows, columns)``) or ``navigation_shape``
   (RosettaSciIO/HyperSpy order, ``(x, y)``);
2. ``ScanX``/``ScanY`` in the ``.hdr`` (Merlin software >= 1.5);
3. ``Frames per Trigger`` > 1 in the ``.hdr`` (one trigger per scan line): ``(frames // fpt, fpt)``;
   ``Frames in Acquisition = 0`` (continuous acquisition) gives a 1-D stack;
4. otherwise (pixel trigger, or no ``.hdr``) the frame timestamps: a scan line ends where the
   detector waits for the flyback. See :func:`line_length_from_timestamps`.

The result is then fitted to the frames present exactly as RosettaSciIO's ``load_mib_data`` does
(:func:`fit_to_frames`): an interrupted acquisition keeps its complete lines only.
"""

from __future__ import annotations

import math

import numpy as np

#: frames whose timestamps are looked at (RosettaSciIO uses the same number)
HEURISTIC_FRAMES = 10_000
#: smallest extra delay (ns) that counts as a line flyback; timestamps jitter by ~10-20 ns
MIN_FLYBACK_NS = 1_000
#: the extra delay must also exceed this many times the typical jitter (median absolute deviation)
JITTER_FACTOR = 10


def line_length_from_timestamps(ts_ns: np.ndarray) -> int | None:
    """Scan line length from frame timestamps (int64 ns), or None for a 1-D series.

    Robust rule (scanstack's default): with ``d`` the differences between consecutive frames,
    ``base = median(d)`` and ``jitter = median(|d - base|)``, a *gap* is a difference larger than
    ``base + max(1 µs, 10 * jitter)``. The line length ``L`` is the index of the first gap + 1,
    accepted only if ``L >= 2`` and every gap falls at the end of a line (``(i + 1) % L == 0``).
    Uniform timestamps (any jitter below 1 µs) therefore give a 1-D stack, where RosettaSciIO's
    "first difference above the mean" turns nanosecond jitter into a scan shape.
    """
    ts = np.asarray(ts_ns, dtype=np.int64)
    if ts.size < 3:
        return None
    d = np.diff(ts)
    base = np.median(d)
    jitter = np.median(np.abs(d - base))
    gaps = np.flatnonzero(d > base + max(MIN_FLYBACK_NS, JITTER_FACTOR * jitter))
    if gaps.size == 0:
        return None
    length = int(gaps[0]) + 1
    if length < 2 or np.any((gaps + 1) % length):
        return None
    return length


def line_length_rsciio(ts: np.ndarray) -> int:
    """RosettaSciIO's rule, reproduced exactly: first difference above the mean difference."""
    d = np.diff(np.asarray(ts).astype("datetime64[ns]")).astype(float)
    if len(d) > 0:
        idx = np.argwhere(d - np.mean(d) > 0)
        if len(idx):
            return int(idx[0][0]) + 1
    return 1


def fit_to_frames(
    shape_xy: tuple[int, ...] | None,
    n_in_file: int,
    first_frame: int | None,
    last_frame: int | None,
) -> tuple[tuple[int, ...], int, bool, str | None]:
    """Fit a HyperSpy-order navigation shape to the frames present (RosettaSciIO's rules).

    Returns ``(nav_shape numpy order, first frame, interrupted, warning or None)``:

    - no shape: ``(frames to load,)``;
    - more frames asked than the file holds (interrupted acquisition): complete lines only
      ``(n_in_file // x, x)`` when starting at frame 0 with a 2-D shape, else ``(frames to load,)``;
    - fewer frames to load than the shape needs: ``(frames to load,)`` with a warning;
    - otherwise the shape reversed to numpy order (frames beyond it are not read).
    """
    first, last, _ = slice(first_frame, last_frame).indices(n_in_file)
    n_load = max(0, last - first)
    if shape_xy is None:
        return (n_load,), first, False, None
    total = math.prod(shape_xy)
    if total > n_in_file:
        if first == 0 and len(shape_xy) > 1:
            x = shape_xy[0]
            lines = n_in_file // x
            return (
                (lines, x),
                first,
                True,
                (
                    f"interrupted acquisition: {n_in_file} frames in the file, {total} expected for "
                    f"a {'x'.join(map(str, shape_xy[::-1]))} scan; keeping {lines} complete lines of "
                    f"{x} ({lines * x} frames)"
                ),
            )
        return (
            (n_load,),
            first,
            True,
            (
                f"interrupted acquisition: {n_in_file} frames in the file, {total} expected; "
                f"read as a series of {n_load} frames"
            ),
        )
    if n_load < total:
        return (
            (n_load,),
            first,
            False,
            (
                f"the navigation shape needs {total} frames but {n_load} are selected; "
                f"read as a series of {n_load} frames"
            ),
        )
    return tuple(shape_xy[::-1]), first, False, None


def squeeze(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Drop length-1 navigation axes, as RosettaSciIO's ``squeeze()`` does."""
    return tuple(n for n in shape if n != 1)

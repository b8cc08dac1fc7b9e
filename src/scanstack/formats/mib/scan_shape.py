"""The navigation shape of a Merlin acquisition (rules in :mod:`.navigation`), resolved against
the ``.hdr`` and the frames present: a part of :class:`~.reader.MibReader`."""

from __future__ import annotations

import math

import numpy as np

from ...core.errors import FormatError
from . import navigation as nav
from .header import hdr_int


class MibScanShape:
    """``_resolve_navigation`` and ``_line_length`` of :class:`~.reader.MibReader`."""

    # -- navigation -------------------------------------------------------------------------
    def _resolve_navigation(
        self, navigation_shape, nav_shape, first_frame, last_frame, heuristic: str, squeeze: bool
    ) -> None:
        n_files = self.n_in_files
        hdr = self.hdr
        shape_xy: tuple[int, ...] | None
        if navigation_shape is not None or nav_shape is not None:
            given = navigation_shape if navigation_shape is not None else nav_shape
            try:
                given = tuple(int(v) for v in given)
            except TypeError:
                raise TypeError("navigation_shape/nav_shape must be a tuple of integers") from None
            shape_xy = given if navigation_shape is not None else given[::-1]
            source = "user"
        else:
            counts = {}
            for key in ("ScanX", "ScanY", "Frames per Trigger", "Frames in Acquisition"):
                counts[key] = value = hdr_int(hdr, key)
                if value is not None and value < 0:  # not "-12 frames" further down
                    raise FormatError(
                        f"{key}: expected a count >= 0, found {value}",
                        self.hdr_path or self.path,
                        key,
                    )
            scan_x, scan_y = counts["ScanX"], counts["ScanY"]
            fpt = counts["Frames per Trigger"] or 1
            total = counts["Frames in Acquisition"] if hdr else None
            total = n_files if total is None else total
            if scan_x and scan_y:
                shape_xy, source = (scan_x, scan_y), "hdr ScanX/ScanY"
            elif total == 0:
                shape_xy, source = None, "none (.hdr: Frames in Acquisition = 0)"
            elif fpt > 1:
                shape_xy, source = (fpt, total // fpt), "hdr Frames per Trigger"
            else:
                length = self._line_length(heuristic)
                if length and length > 1:
                    shape_xy, source = (length, total // length), f"timestamps ({heuristic})"
                else:
                    shape_xy = (1, total) if heuristic == "rsciio" else None
                    source = "none (no scan lines in the timestamps)"
        shape, first, interrupted, msg = nav.fit_to_frames(
            shape_xy, n_files, first_frame, last_frame
        )
        if interrupted and len(shape) == 2 and shape[0] == 0:
            shape = (n_files - first,)
        if msg:
            self._note(msg)
        unread = n_files - first - math.prod(shape)
        # after an interrupted fit the dropped partial line is already reported above
        if unread > 0 and not interrupted and first_frame is None and last_frame is None:
            scan = "x".join(map(str, shape))
            if source.startswith("hdr"):
                self._note(
                    f"the .hdr describes a {scan} scan but the file(s) hold {unread} more "
                    "frames, which are not read (pass nav_shape= to read them)"
                )
            elif source.startswith("timestamps"):  # a last line cut short: interrupted
                interrupted = True
                self._note(
                    f"interrupted acquisition: the frame timestamps give lines of {shape[-1]}; "
                    f"keeping {scan} complete lines, the last {unread} frames are not read "
                    "(pass nav_shape= to read them)"
                )
        self.interrupted = interrupted
        self.nav_source = source
        self.first_frame = first
        self.nav_shape = nav.squeeze(shape) if squeeze else shape
        if math.prod(self.nav_shape) + first > n_files:  # pragma: no cover - guarded above
            raise FormatError("navigation shape larger than the frames present", self.path)

    def _line_length(self, heuristic: str) -> int | None:
        n = min(self.n_in_files, nav.HEURISTIC_FRAMES)
        if n < 2:
            return None
        table = self.frame_headers(0, n, all_frames=True)
        ts = table["timestamp"]
        if np.isnat(ts).any():
            ts = table["timestamp_local"].astype("datetime64[ns]")
        if heuristic == "rsciio":
            return nav.line_length_rsciio(ts)
        return nav.line_length_from_timestamps(ts.astype(np.int64))

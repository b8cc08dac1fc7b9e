"""The metadata of a Merlin acquisition (scanstack's, RosettaSciIO's tree, the original headers)
and its one-paragraph summary: a part of :class:`~.reader.MibReader`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class MibMetadata:
    """``_build_metadata`` and ``info`` of :class:`~.reader.MibReader` (which holds the state)."""

    # -- metadata -----------------------------------------------------------------------------
    def _build_metadata(self, with_frame_headers: bool) -> None:
        h, geo = self.first_header, self.geometry
        exposure_s = h.shutter_ns * 1e-9 if h.shutter_ns is not None else h.shutter_s
        title = Path(self._files[0].path).stem if self._files[0].path else ""
        instrument = {
            "detector": "Quantum Detectors Merlin",
            "chip_type": (self.hdr or {})
            .get("Chip Type (Medipix 3.0, Medipix 3.1, Medipix 3RX)", "")
            .strip()
            or None,
            "layout": h.layout,
            "nchips": h.nchips,
            "counter_depth": geo.depth,
            "raw": geo.raw,
            "thresholds_keV": h.thresholds,
            "gain_mode": h.gain_mode,
        }
        self.metadata = {
            "title": title,
            "original_file": self._files[0].path,
            "format": "mib",
            "signal_type": "electron_diffraction",
            "acquisition_time": h.timestamp_utc if h.timestamp_utc else None,
            "dwell_time": exposure_s,
            "instrument": instrument,
            "navigation_source": self.nav_source,
            "interrupted": self.interrupted,
            "notes": list(self.notes),
        }
        mib_props = {
            "paths": [f.path for f in self._files] if self._files[0].path else None,
            "buffer": self._files[0].path is None,
            "file_sizes": [f.size for f in self._files],
            "frames_in_files": self.n_in_files,
            "first_frame": self.first_frame,
            "head_size": geo.header_size,
            "frame_size": geo.stride,
            "merlin_size": tuple(self.signal_shape),
            "raw": geo.raw,
            "pixel_type": h.pixel_type,
            "counter_depth": geo.depth,
            "detector_geometry": h.layout,
            "navigation_shape": tuple(self.nav_shape),
            "navigation_source": self.nav_source,
            "interrupted": self.interrupted,
            "flip": self.flip,
            "exposure": exposure_s * 1e3,
            "timestamp": h.timestamp_utc or h.timestamp_local,
        }
        self.original_metadata = {"mib_properties": mib_props, "frame_header": h.to_dict()}
        if self.hdr is not None:
            self.original_metadata["hdr_file"] = dict(self.hdr)
        if with_frame_headers:
            self.original_metadata["frame_headers"] = self.frame_headers()
        # RosettaSciIO's metadata tree, key for key (used by Stack.to_rsciio_dicts)
        general: dict[str, Any] = {
            "original_filename": os.path.basename(self._files[0].path)
            if self._files[0].path
            else ""
        }
        stamp = h.timestamp_utc or h.timestamp_local.replace(" ", "T")
        if "T" in stamp:
            date, time = stamp.split("T", 1)
            general["date"] = date
            general["time"] = time.strip("Z")
            if "Z" in time:
                general["time_zone"] = "UTC"
        exposure_ms = (h.shutter_ns / 1e6) if h.shutter_ns is not None else h.shutter_s * 1e3
        self.rsciio_metadata = {
            "General": general,
            "Signal": {"signal_type": "electron_diffraction"},
            "Acquisition_instrument": {"dwell_time": exposure_ms * 1e-3},
        }

    def info(self) -> str:
        """A short human-readable summary (what ``print_info=True`` prints)."""
        g = self.geometry
        src = (
            ", ".join(os.path.basename(f.path) for f in self._files)
            if self._files[0].path
            else "in-memory buffer"
        )
        return "\n".join(
            [
                f"Merlin MIB: {src}",
                f"  {self.first_header.nchips} chip(s), layout {g.layout}, "
                f"{'raw R64' if g.raw else self.first_header.pixel_type}, counter depth {g.depth}",
                f"  frame {g.out_shape[0]}x{g.out_shape[1]} px, header {g.header_size} B, "
                f"{g.stride} B per frame",
                f"  {self.n_in_files} frames in file(s); navigation {self.nav_shape} "
                f"from {self.nav_source}; first frame {self.first_frame}",
                f"  exposure {self.metadata['dwell_time']} s, started {self.metadata['acquisition_time']}",
                *(f"  note: {n}" for n in self.notes),
            ]
        )

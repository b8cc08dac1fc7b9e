"""Helpers shared by the Merlin tests: real file names, RosettaSciIO calls."""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path

import numpy as np

#: as tests/conftest.py: SCANSTACK_SHARED_DATA, else ../shared/data next to the repository
_SHARED = (
    os.environ.get("SCANSTACK_SHARED_DATA") or Path(__file__).resolve().parents[4] / "shared/data"
)
MIB_DATA = Path(_SHARED) / "mib"
ZIPS = (
    "Merlin_Single_Quad.zip",
    "Merlin_navigation4x2_ROI.zip",
    "Merlin_navigation4x2_signalNx256_ROI.zip",
    "readmib_ROI.zip",
)


#: the two real files every option-by-option comparison with RosettaSciIO reads
SCAN_4X2 = "Merlin_navigation4x2_ROI.zip/001_4x2_6bit.mib"
SINGLE_9 = "Merlin_Single_Quad.zip/Single_9_Frame_CounterDepth_12_Rows_256.mib"

#: frame range and navigation options compared with RosettaSciIO (file_reader, load_mib_data,
#: scanstack.open): none, each alone, both, too few and too many frames for the shape
FRAME_OPTIONS = [
    {},
    {"first_frame": 2},
    {"last_frame": 4},
    {"first_frame": 1, "last_frame": 5},
    {"first_frame": -3},
    {"navigation_shape": (3, 3)},
    {"navigation_shape": (4, 2)},
    {"navigation_shape": (2, 2)},
    {"navigation_shape": (5, 5)},
    {"navigation_shape": (4, 4)},
    {"navigation_shape": (4, 4), "first_frame": 2},
    {"navigation_shape": (2, 2), "first_frame": 3},
    {"navigation_shape": (8,), "last_frame": -1},
]


def real_mib_names() -> list[str]:
    """``zip/member`` names of every real .mib (read from the zip directories, cheap)."""
    names = []
    if not MIB_DATA.is_dir():
        return names
    for z in ZIPS:
        with zipfile.ZipFile(MIB_DATA / z) as zf:
            for m in zf.namelist():
                base = m.rsplit("/", 1)[-1]
                if base.lower().endswith(".mib") and not base.startswith("._"):
                    names.append(f"{z}/{m}")
    names.append("readmib_example.mib")
    return sorted(names)


def rsciio_read(path, **kwargs) -> dict:
    """RosettaSciIO's file_reader result (its hdr-missing log and warnings silenced)."""
    from rsciio.quantumdetector import file_reader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return file_reader(str(path), **kwargs)[0]


def as_native(a) -> np.ndarray:
    a = np.asarray(a)
    return a.astype(a.dtype.newbyteorder("="))

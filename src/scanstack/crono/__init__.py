"""Camera tools for the CRONO MA-XRF scanner: decode, date, place and stitch the frames.

- :func:`open_frames` — ``/Images/Static`` as a lazy stack of RGB frames (fast threaded JPEG
  decoding, reduced-size decoding with ``scale``), with the EXIF stamps (:mod:`.exif`);
- :class:`ScanTrack`, :func:`place_frames` — each frame's time on the detector clock and its
  position on the serpentine motor track; :meth:`FramePlacement.summary` explains why there
  are ~3x more frames than spectra;
- :func:`build_mosaic` — a stitched, registered, feathered mosaic; :func:`locate_spot` —
  where the X-ray spot sits in a frame, from an element map;
- :func:`estimate_camera` — axis directions and pixel size measured from the frames.

Example::

    from scanstack.crono import ScanTrack, build_mosaic, open_frames, place_frames
    frames = open_frames("14200215102021-blindTest2AgedDetail.HDF5")      # lazy, (n,) x (107, 143, 3)
    placement = place_frames(frames.reader.stamps(), ScanTrack.from_file(frames.reader.path))
    print(placement.summary()["explanation"])
    mosaic = build_mosaic(frames.reader, placement, resolution_um=50)     # mosaic.image (rows, cols, 3)
"""

from .camera import CameraModel
from .exif import exif_stamp, read_exif
from .frames import CronoFramesReader, iter_decoded, open_frames
from .mosaic import (
    Mosaic,
    SpotEstimate,
    build_mosaic,
    estimate_camera,
    locate_spot,
    phase_correlate,
    register_overlap,
)
from .placement import (
    AFTER,
    BEFORE,
    EMPTY,
    IN_ROW,
    PHASE_NAMES,
    ROW_CHANGE,
    FramePlacement,
    ScanTrack,
    map_positions,
    place_frames,
)

__all__ = [
    "AFTER",
    "BEFORE",
    "EMPTY",
    "IN_ROW",
    "PHASE_NAMES",
    "ROW_CHANGE",
    "CameraModel",
    "CronoFramesReader",
    "FramePlacement",
    "Mosaic",
    "ScanTrack",
    "SpotEstimate",
    "build_mosaic",
    "estimate_camera",
    "exif_stamp",
    "iter_decoded",
    "locate_spot",
    "map_positions",
    "open_frames",
    "phase_correlate",
    "place_frames",
    "read_exif",
    "register_overlap",
]

"""CRONO MA-XRF (Bruker/XGLab) native HDF5 files and their "Exported" variant.

Formats registered (entry points ``crono`` and ``crono-exported``):

- ``crono``: the native file ``HHMMSSDDMMYYYY-<name>.HDF5``. ``scanstack.open(path)`` gives the
  ``(rows, columns)`` map of spectra (``channels`` long), built lazily through
  ``/XRF/SpectraSelectedIndex`` (never a reshape of ``/XRF/Spectra``). ``spectra='acquisition'``
  opens every stored spectrum in acquisition order instead (nav shape ``(N,)``).
- ``crono-exported``: the instrument's "Export to HDF5" file (``… Regular Matrix`` datasets).
- ``scanstack.save(stack, path, 'crono')`` writes any spectrum map with a keV axis as a native
  file (serpentine acquisition order + selection index; :mod:`.save`).

API used by other modules (kept stable):

``scanstack.datasets.write_crono(path, **geometry) -> CronoGroundTruth`` (a simulator, so it
    lives outside ``formats/``; it writes through :mod:`.layout` like :mod:`.save` does) writes a
    synthetic instrument-like file (serpentine scan, ramps, 30 fps camera frames that are crops
    of a drawn object image) and returns the ground truth: ``object_image`` (H, W, 3) uint8,
    ``frame_origins`` (n, 2) object-image (row, col) of each frame's pixel [0, 0],
    ``frame_positions`` (n, 2) stage (x, y) µm, ``frame_timestamps`` (n,) µs, ``pixel_size`` µm,
    ``object_origin`` stage (x, y) of object pixel [0, 0], ``element_maps``, ``selected_index``.
    Object image rows grow with stage Y (like the map rows: row 0 = lowest Y).

``unwrap_byte_array(blob) -> bytes`` (:mod:`.nrbf`)
    the JPEG inside one camera blob (a .NET BinaryFormatter ``byte[]``), parsed, not sliced at
    fixed offsets; ``NrbfError`` (a FormatError with the byte offset) on malformed or empty
    blobs. ``decode(blob)`` decodes any BinaryFormatter blob to a plain tree.

Where the camera data live in a native file:

- ``/Images/Static``: vlen opaque, shape ``(n_frames + 1,)``; element 0 is always empty
  (zero-length); elements 1… are NRBF-wrapped JPEGs (143×107 px, RGB).
- Each JPEG's EXIF DateTimeOriginal (tag 0x9003 in the Exif IFD) is not a date but a µs counter on
  the clock of ``/XRF/DPPStartTimestamp`` (all rows equal). Frame time since DPP start =
  ``int(exif) - DPPStartTimestamp[0]``; spectra times since DPP start are ``/XRF/Timestamps`` (µs)
  and their stage positions ``/XRF/MotorsPositions`` (µm, columns x, y, z).
- ``/Images/ImageAdjusting/ImagePixelSizeRatio`` (1, 2) float32: µm per camera pixel (x, y).
- ``/Images/StitchedImage``, ``/Images/VideoStreams``, ``/Images/Documentation``: one empty
  element unless the operator saved something.

Metadata of an opened stack: ``metadata['geometry']`` (grid, pitch, origin, serpentine
direction, dwell, with units), ``metadata['settings']`` (tube, collimator, filter, calibration,
motors), ``metadata['rois']`` (name, start/end keV), per-frame arrays ``live_time`` and
``real_time`` (s), ``output_count_rate`` (counts/ms), ``motor_positions`` (µm, (n, 3)), flat over
the frames of the stack like hexrd's ``omega``; ``original_metadata`` holds every decoded blob.
"""

from __future__ import annotations

from ...core.registry import FormatSpec, Lazy
from .nrbf import NrbfError, decode, unwrap_byte_array

__all__ = [
    "EXPORTED_FORMAT",
    "FORMAT",
    "NrbfError",
    "decode",
    "unwrap_byte_array",
]


#: the file names of both CRONO variants
EXTENSIONS = (".hdf5", ".h5")


def _capabilities(nav: str) -> dict:
    """Both variants: a lazy map of spectra whose channels can be cut (``region``)."""
    return {"lazy": True, "region": True, "nav": nav, "signal": "energy channels"}


FORMAT = FormatSpec(
    name="crono",
    description="CRONO MA-XRF native HDF5 (spectrum map via SpectraSelectedIndex; "
    "option spectra='map'|'acquisition')",
    extensions=EXTENSIONS,
    reader=Lazy("scanstack.formats.crono.reader:CronoReader"),
    writer=Lazy("scanstack.formats.crono.save:write_stack"),
    sniff=Lazy("scanstack.formats.crono.reader:sniff"),
    capabilities=_capabilities("rows, columns (or acquisition)"),
)

EXPORTED_FORMAT = FormatSpec(
    name="crono-exported",
    description="CRONO MA-XRF 'Export to HDF5' file (Spectra Regular Matrix)",
    extensions=EXTENSIONS,
    reader=Lazy("scanstack.formats.crono.exported:CronoExportedReader"),
    sniff=Lazy("scanstack.formats.crono.exported:sniff"),
    capabilities=_capabilities("rows, columns"),
)

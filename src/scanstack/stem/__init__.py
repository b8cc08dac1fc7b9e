"""4D-STEM tools for any stack with 2-D frames (navigation of any shape).

>>> import scanstack
>>> from scanstack import stem
>>> s = scanstack.open("scan.mib")
>>> pattern = stem.sum_pattern(s)                                    # (rows, cols)
>>> bf = stem.virtual_bright_field(s, center=(256, 256), radius=40)  # nav_shape
>>> adf = stem.virtual_annular_dark_field(s, (256, 256), 60, 200)
>>> bf, adf = stem.virtual_images(s, [stem.disk_mask(s.signal_shape, (256, 256), 40),
...                                   stem.ring_mask(s.signal_shape, (256, 256), 60, 200)])

How frames are read is decided by :func:`scanstack.core.fold.fold_frames`, as for every
reduction: memory-mapped files (``reader.as_array()``, e.g. processed Merlin ``.mib``) and raw
bit-packed frames (``reader.as_packed()``) are folded in place by numba kernels; any other stack
block by block with read-ahead; ``client=`` (dask.distributed) makes the same choice per task.
"""

from .detectors import disk_mask, guess_disk, ring_mask
from .virtual import (
    center_of_mass,
    max_pattern,
    preview_images,
    sum_pattern,
    virtual_annular_dark_field,
    virtual_bright_field,
    virtual_image,
    virtual_images,
)

__all__ = [
    "center_of_mass",
    "disk_mask",
    "guess_disk",
    "max_pattern",
    "preview_images",
    "ring_mask",
    "sum_pattern",
    "virtual_annular_dark_field",
    "virtual_bright_field",
    "virtual_image",
    "virtual_images",
]

"""napari plugin (npe2): open every scanstack format as lazy napari layers, write image layers.

The manifest is ``napari.yaml`` beside this file (entry point ``napari.manifest``). Nothing here
imports napari: readers return napari's *layer data tuples* ``(data, kwargs, layer_type)`` and
the writer takes ``(path, data, meta)``, so the plug-in is testable with npe2 alone.

- :func:`get_reader` — the reader contribution: ``None`` unless scanstack detects the format;
- :func:`read_layers` — the layers of a file: one lazy (dask) image layer per stack, with
  ``scale``/``translate`` from the axes, ``units`` and ``axis_labels``; navigation axes become
  sliders. A CRONO scan gives its stitched camera mosaic and one element map per ROI (additive
  blending, one colour map each), all placed in stage micrometres;
- :func:`add_live_layers` — virtual BF/ADF image layers that fill in while a scan is recorded
  (a ``merlin://`` stream, a ``.mib`` opened with ``follow=True``), see :mod:`._live`;
- :mod:`._writer` — the writer contributions (one per writable format with its own extension).

Example (headless, with npe2)::

    import npe2
    layers = npe2.read(["scan.mib"], stack=False, plugin_name="scanstack")
"""

from ._layers import stack_layer
from ._live import add_live_layers, live_images
from ._reader import get_reader, read_layers

__all__ = ["add_live_layers", "get_reader", "live_images", "read_layers", "stack_layer"]

"""Run by test_screenshot.py in its own process (Qt wants the main thread and a display):
open a CRONO file in a real napari window, save the canvas with and without the maps."""

import sys
import time

import napari
import npe2
import numpy as np
from PIL import Image
from qtpy.QtWidgets import QApplication

from scanstack.napari._manifest import MANIFEST, PLUGIN

path, out_maps, out_mosaic = sys.argv[1:4]
pm = npe2.PluginManager.instance()
if PLUGIN not in pm._manifests:
    pm.register(npe2.PluginManifest.from_file(MANIFEST))
viewer = napari.Viewer(show=True)  # a hidden canvas renders nothing
mosaic, *maps = viewer.open(path, plugin=PLUGIN)
for _ in range(20):  # let the window map and draw
    QApplication.processEvents()
    time.sleep(0.05)
Image.fromarray(np.asarray(viewer.screenshot(canvas_only=True, size=(400, 600)))).save(out_maps)
for m in maps:
    m.visible = False
QApplication.processEvents()
Image.fromarray(np.asarray(viewer.screenshot(canvas_only=True, size=(400, 600)))).save(out_mosaic)
viewer.close()

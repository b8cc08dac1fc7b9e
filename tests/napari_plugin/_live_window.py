"""Run by test_screenshot.py in its own process (Qt wants the main thread and a display): a
Merlin stream from our simulator shown in a real napari window through napari's thread_worker
(add_live_layers' default, background=True); saves the layers' final data and a screenshot."""

import sys
import time

import napari
import numpy as np
from PIL import Image
from qtpy.QtWidgets import QApplication

import scanstack
from scanstack.core.registry import register
from scanstack.live import FORMAT
from scanstack.live.simulator import MerlinSimulator
from scanstack.napari import add_live_layers

mib, spill, out_npz, out_png = sys.argv[1:5]
register(FORMAT)  # the merlin entry point exists only after a reinstall
viewer = napari.Viewer(show=True)
updates = []
with (
    MerlinSimulator(mib) as sim,
    scanstack.open(f"merlin://127.0.0.1:{sim.data_port}", nav_shape=(6, 8), spill=spill) as s,
):
    layers, worker = add_live_layers(viewer, s, bf=20, every_frames=8)
    worker.yielded.connect(lambda _: updates.append(int(np.isfinite(layers[0].data).sum())))
    done = []
    worker.finished.connect(lambda: done.append(True))
    deadline = time.monotonic() + 120
    while not done and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.01)
    for _ in range(20):  # the last update and the canvas drawn
        QApplication.processEvents()
        time.sleep(0.02)
np.savez(out_npz, bf=layers[0].data, updates=np.array(updates), done=bool(done))
Image.fromarray(np.asarray(viewer.screenshot(canvas_only=True, size=(300, 400)))).save(out_png)
viewer.close()

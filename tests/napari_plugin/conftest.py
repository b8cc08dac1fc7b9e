"""npe2 sees our manifest from the file itself (the ``napari.manifest`` entry point only exists
after a reinstall), so these tests pass before and after it."""

from __future__ import annotations

import zipfile

import pytest

npe2 = pytest.importorskip("npe2")

from scanstack.napari._manifest import MANIFEST, PLUGIN  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def plugin_manager():
    """npe2's global plugin manager with the scanstack manifest registered."""
    pm = npe2.PluginManager.instance()
    if PLUGIN not in pm._manifests:  # registered already when installed with the entry point
        pm.register(npe2.PluginManifest.from_file(MANIFEST))
    return pm


@pytest.fixture(scope="module")
def scan_mib(shared_data, tmp_path_factory):
    """The real 4 x 2 scan of 256 x 256 6-bit frames (a writable copy per test module)."""
    out = tmp_path_factory.mktemp("mib")
    with zipfile.ZipFile(shared_data / "mib" / "Merlin_navigation4x2_ROI.zip") as z:
        z.extractall(out)
    return out / "001_4x2_6bit.mib"

"""npe2 sees our manifest from the file itself (the ``napari.manifest`` entry point only exists
after a reinstall), so these tests pass before and after it."""

from __future__ import annotations

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

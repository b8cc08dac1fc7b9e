"""Real Merlin files, extracted once per session into a temporary folder."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from _mibtest_helpers import MIB_DATA, ZIPS


@pytest.fixture(scope="session")
def mib_dir(tmp_path_factory, shared_data) -> Path:
    """Folder holding every real .mib/.hdr, extracted from the zips (layout ``<zip>/<member>``)."""
    out = tmp_path_factory.mktemp("mib_real")
    for z in ZIPS:
        with zipfile.ZipFile(MIB_DATA / z) as zf:
            members = [
                m
                for m in zf.namelist()
                if not m.rsplit("/", 1)[-1].startswith("._") and "__MACOSX" not in m
            ]
            zf.extractall(out / z, members)
    (out / "readmib_example.mib").write_bytes((MIB_DATA / "readmib_example.mib").read_bytes())
    return out

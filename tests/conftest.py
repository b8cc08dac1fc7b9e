"""Shared fixtures: where the real instrument files are."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: ``../shared/data`` beside the checkout, or ``$SCANSTACK_SHARED_DATA`` (e.g. from a git worktree)
SHARED_DATA = Path(
    os.environ.get("SCANSTACK_SHARED_DATA") or REPO.parent / "shared" / "data"
).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (read-only real instrument files); skips when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not available")
    return SHARED_DATA


@pytest.fixture(scope="session")
def alias_bomb() -> str:
    """An image-files YAML of ~600 bytes whose ``meta`` expands to 9**9 nodes (issue 8, item 5)."""
    levels = "".join(
        f"  {b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    return (
        "image-files:\n  directory: .\n  files: '*.tif'\nmeta:\n"
        "  a: &a [x, x, x, x, x, x, x, x, x]\n" + levels
    )


def _ome_xml(planes: list[tuple[str, str]]) -> str:
    """OME-XML of a 4x4 uint16 series of one plane per (file name, UUID)."""
    data = "".join(
        f'<TiffData FirstT="{t}" IFD="0" PlaneCount="1">'
        f'<UUID FileName="{name}">urn:uuid:{uid}</UUID></TiffData>'
        for t, (name, uid) in enumerate(planes)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06" '
        f'UUID="urn:uuid:{planes[0][1]}"><Image ID="Image:0"><Pixels ID="Pixels:0" '
        'DimensionOrder="XYZCT" Type="uint16" SizeX="4" SizeY="4" SizeZ="1" SizeC="1" '
        f'SizeT="{len(planes)}">{data}</Pixels></Image></OME>'
    )


@pytest.fixture(scope="session")
def ome_pair():
    """``ome_pair(path, other_name, other_path, other_value)`` writes a two-plane multi-file
    OME-TIFF: plane 0 in ``path`` = ``arange(16).reshape(4, 4)`` (uint16), plane 1 in the file its
    OME-XML names ``other_name``, written at ``other_path`` full of ``other_value``."""
    import os
    import uuid

    import numpy as np
    import tifffile

    def write(path, other_name: str, other_path, other_value: int) -> None:
        own, other = str(uuid.uuid4()), str(uuid.uuid4())
        tifffile.imwrite(
            other_path,
            np.full((4, 4), other_value, np.uint16),
            description=_ome_xml([(os.path.basename(other_path), other)]),
            metadata=None,
        )
        tifffile.imwrite(
            path,
            np.arange(16, dtype=np.uint16).reshape(4, 4),
            description=_ome_xml([(os.path.basename(path), own), (other_name, other)]),
            metadata=None,
        )

    return write

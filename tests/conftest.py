"""Shared fixtures: where the real instrument files are."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


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

"""The hexrd drop-in's writer replaces an existing file, as hexrd's does; ``overwrite=False``
refuses (README "Writing")."""

from __future__ import annotations

import numpy as np
import pytest

from scanstack import imageseries
from scanstack.core.errors import WriteError


@pytest.mark.parametrize(
    ("name", "fmt", "options"),
    [("s.h5", "hdf5", {"path": "imageseries"}), ("c.npz", "frame-cache", {"threshold": 5})],
)
def test_write_replaces_an_existing_file_unless_told_not_to(tmp_path, name, fmt, options):
    first = np.full((3, 8, 6), 10, np.uint16)
    second = np.arange(3 * 8 * 6, dtype=np.uint16).reshape(3, 8, 6) + 6
    target = tmp_path / name
    imageseries.write(first, str(target), fmt, **options)
    imageseries.write(second, str(target), fmt, **options)  # as hexrd: replaced, no question
    back = imageseries.open(str(target), fmt, **({"path": "imageseries"} if fmt == "hdf5" else {}))
    np.testing.assert_array_equal(np.stack([back[i] for i in range(len(back))]), second)
    before = target.read_bytes()
    with pytest.raises(WriteError, match="exists; pass overwrite=True"):
        imageseries.write(first, str(target), fmt, overwrite=False, **options)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left

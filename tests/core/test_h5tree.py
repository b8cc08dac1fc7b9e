"""Nested metadata round-trips through HDF5 without pickle."""

import h5py
import numpy as np

from scanstack.core.h5tree import dict_to_group, group_to_dict


def test_nested_roundtrip(tmp_path):
    tree = {
        "omega": np.arange(10.0).reshape(5, 2),
        "name": "ff1",
        "n": 3,
        "none": None,
        "nested": {"a": 1.5, "deeper": {"labels": ["x", "y"]}},
        "mixed": [1, None, {"k": "v"}],
    }
    original = {k: v for k, v in tree.items()}
    with h5py.File(tmp_path / "m.h5", "w") as f:
        dict_to_group(f.create_group("metadata"), tree)
    assert tree == original  # source not mutated
    with h5py.File(tmp_path / "m.h5", "r") as f:
        back = group_to_dict(f["metadata"])
    np.testing.assert_array_equal(back["omega"], tree["omega"])
    assert back["name"] == "ff1" and back["n"] == 3 and back["none"] is None
    assert back["nested"]["a"] == 1.5
    assert list(back["nested"]["deeper"]["labels"]) == ["x", "y"]
    assert back["mixed"] == [1, None, {"k": "v"}]

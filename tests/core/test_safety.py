"""Writing never destroys data; paths named in files cannot escape their folder."""

import pytest

from scanstack.core.errors import FormatError, WriteError
from scanstack.core.safety import atomic_path, resolve_inside


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target, overwrite=True) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("writer failed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
    with atomic_path(target, overwrite=True) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"


def test_atomic_path_refuses_inputs_and_existing(tmp_path):
    src = tmp_path / "in.h5"
    src.write_bytes(b"data")
    with pytest.raises(WriteError, match="input"):
        with atomic_path(src, inputs=[str(src)]):
            pass
    with pytest.raises(WriteError, match="exists"):
        with atomic_path(src, overwrite=False):
            pass
    assert src.read_bytes() == b"data"


def test_resolve_inside(tmp_path):
    (tmp_path / "sub").mkdir()
    yml = tmp_path / "sub" / "series.yml"
    assert resolve_inside(yml, "a.tif") == (tmp_path / "sub" / "a.tif").resolve()
    with pytest.raises(FormatError, match="outside"):
        resolve_inside(yml, "../secret.npy")
    with pytest.raises(FormatError, match="outside"):
        resolve_inside(yml, "/etc/passwd")
    assert resolve_inside(yml, "../ok.npy", allow_outside=True) == (tmp_path / "ok.npy").resolve()

"""Format registry: entry points, detection by content and extension, clear errors."""

import numpy as np
import pytest

import scanstack
from scanstack.core import registry
from scanstack.core.errors import FormatError, UnknownFormatError, UnsupportedError
from scanstack.core.memory import ArrayReader
from scanstack.core.reader import Reader


class _MagicReader(Reader):
    format_name = "test-magic"

    def __init__(self, source, **options):
        super().__init__(source, **options)
        raw = open(source, "rb").read()
        if not raw.startswith(b"MAGIC"):
            raise FormatError("expected the MAGIC signature", source, 0)
        self.values = np.frombuffer(raw[5:], np.uint8).reshape(-1, 2, 2)
        self.nav_shape = (len(self.values),)
        self.signal_shape = (2, 2)
        self.dtype = np.dtype(np.uint8)

    def read(self, start, stop, region=None):
        return self.values[start:stop].copy()


@pytest.fixture
def magic_format():
    spec = registry.FormatSpec(
        "test-magic",
        "test format",
        (".mgc",),
        reader=_MagicReader,
        sniff=lambda p: 1.0 if p.head.startswith(b"MAGIC") else 0.0,
    )
    registry.register(spec)
    yield spec
    registry._registry.pop("test-magic", None)


def test_builtin_formats_are_listed():
    names = scanstack.formats()
    assert "array" in names
    assert names["array"].can_read


def test_open_array_positional_and_options():
    s = scanstack.open(None, "array", data=np.ones((3, 4, 5)), meta={"k": 1})
    assert s.nav_shape == (3,) and s.metadata == {"k": 1}
    with pytest.raises(UnknownFormatError, match="needs a format"):
        scanstack.open(None)


def test_detect_by_content(tmp_path, magic_format):
    p = tmp_path / "data.bin"  # wrong extension, right content
    p.write_bytes(b"MAGIC" + bytes(range(8)))
    assert scanstack.detect_format(p) == "test-magic"
    s = scanstack.open(str(p))
    np.testing.assert_array_equal(s[1], [[4, 5], [6, 7]])


def test_unknown_and_ambiguous(tmp_path, magic_format):
    p = tmp_path / "mystery.xyz"
    p.write_bytes(b"nothing we know")
    with pytest.raises(UnknownFormatError, match="could not detect"):
        scanstack.open(p)
    with pytest.raises(UnknownFormatError, match="unknown format 'nope'"):
        scanstack.open(p, "nope")
    with pytest.raises(FileNotFoundError, match="no such file"):
        scanstack.open(tmp_path / "missing.mgc")
    twin = registry.FormatSpec("test-twin", "twin", reader=_MagicReader, sniff=lambda p: 1.0)
    registry.register(twin)
    try:
        q = tmp_path / "x.mgc"
        q.write_bytes(b"MAGIC")
        with pytest.raises(UnknownFormatError, match="ambiguous.*test-magic"):
            scanstack.open(q)
    finally:
        registry._registry.pop("test-twin")


def test_reader_errors_name_the_file(tmp_path, magic_format):
    p = tmp_path / "bad.mgc"
    p.write_bytes(b"MAGIX")
    with pytest.raises(FormatError, match=r"bad\.mgc \(byte offset 0\): expected the MAGIC"):
        scanstack.open(p, "test-magic")


def test_save_needs_writer():
    s = scanstack.open(None, "array", data=np.ones((2, 3, 3)))
    with pytest.raises(UnsupportedError, match="cannot be written"):
        scanstack.save(s, "x.any", "array")
    with pytest.raises(UnknownFormatError, match="cannot choose a writer"):
        scanstack.save(s, "x.unknownext")


def test_array_reader_pickles_by_reopening():
    import pickle

    r = ArrayReader(None, data=np.arange(24).reshape(2, 3, 4))
    back = pickle.loads(pickle.dumps(r))
    np.testing.assert_array_equal(back.read(0, 2), np.arange(24).reshape(2, 3, 4))


def test_detect_from_buffers(magic_format):
    raw = b"MAGIC" + bytes(range(8))
    assert scanstack.detect_format(raw) == "test-magic"
    assert scanstack.detect_format(np.frombuffer(raw, np.uint8)) == "test-magic"


def test_formats_is_both_the_package_and_the_listing():
    import importlib

    nexus = importlib.import_module("scanstack.formats.nexus")
    assert scanstack.formats.nexus is nexus
    assert "nexus" in scanstack.formats() and callable(scanstack.formats)

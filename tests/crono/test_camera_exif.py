"""EXIF stamps parsed from the APP1 bytes equal Pillow's getexif()."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from scanstack.crono.exif import ExifError, exif_stamp, find_exif, parse_stamp, read_exif


def pillow_tags(jpeg: bytes) -> dict:
    exif = Image.open(io.BytesIO(jpeg)).getexif()
    tags = dict(exif)
    tags.update(exif.get_ifd(0x8769))
    return tags


def test_real_frame_matches_pillow(real_jpeg):
    ours = read_exif(real_jpeg)
    assert ours == pillow_tags(real_jpeg)
    assert ours[0x9003] == "125903170418"
    assert exif_stamp(real_jpeg) == 125903170418


@pytest.mark.parametrize("little_endian", [False, True])
def test_many_tag_types_match_pillow(little_endian):
    exif = Image.Exif()
    exif._endian = "<" if little_endian else ">"
    exif[0x010F] = "XGLab"  # ASCII
    exif[0x0112] = 3  # SHORT
    exif[0x011A] = 96.0  # RATIONAL
    exif[0x0131] = "CRONO 1.2.4.54"
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2021:10:15 14:20:02"
    sub[0x9291] = "125"
    sub[0xA002] = 143  # LONG/SHORT
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, "JPEG", exif=exif.tobytes())
    jpeg = buf.getvalue()
    theirs = pillow_tags(jpeg)
    ours = read_exif(jpeg)
    assert set(ours) == set(theirs)
    for tag, value in theirs.items():
        assert (
            ours[tag] == pytest.approx(float(value))
            if not isinstance(value, (str, bytes))
            else ours[tag] == value
        )
    # a calendar date becomes µs since the epoch (UTC), with the sub-seconds
    assert exif_stamp(jpeg) == 1634307602 * 1_000_000 + 125_000


def test_parse_stamp():
    assert parse_stamp("125903170418") == 125903170418
    assert parse_stamp(" 42 ") == 42
    with pytest.raises(ExifError, match="neither"):
        parse_stamp("yesterday")


def test_no_exif_and_malformed(real_jpeg):
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, "JPEG")
    plain = buf.getvalue()
    assert read_exif(plain) == {}
    assert exif_stamp(plain) is None
    with pytest.raises(ExifError, match="FFD8"):
        read_exif(b"GIF89a....")
    # an APP1 segment that claims more bytes than the file has
    base = find_exif(real_jpeg)
    cut = real_jpeg[: base + 20]
    with pytest.raises(ExifError, match="APP1 segment"):
        read_exif(cut)
    # an IFD entry pointing outside the block
    bad = bytearray(real_jpeg)
    value_offset = base + 8 + 2 + 12 + 4 + 2 + 8  # Exif IFD, first entry, value offset field
    bad[value_offset : value_offset + 4] = (60000).to_bytes(4, "big")
    with pytest.raises(ExifError, match="beyond the EXIF block"):
        read_exif(bytes(bad))


def test_fast_path_follows_the_bytes(real_jpeg):
    # after one full parse, frames with the same layout are read at the cached offset
    assert exif_stamp(real_jpeg) == 125903170418
    other = real_jpeg.replace(b"125903170418", b"125903203751")
    assert exif_stamp(other) == int(pillow_tags(other)[0x9003]) == 125903203751
    with pytest.raises(ExifError):
        exif_stamp(real_jpeg[:80])  # same prefix, value cut off: not read from the cache
    with pytest.raises(ExifError, match="neither"):
        exif_stamp(real_jpeg.replace(b"125903170418", b"12590317041x"))

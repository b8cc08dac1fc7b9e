"""MS-NRBF decoder on the real CRONO blobs, the encoder, and malformed input."""

import json
import struct

import pytest

from scanstack.core.errors import FormatError
from scanstack.formats.crono import nrbf

BLOBS = [
    "configuration_settings",
    "configuration_settings_attr_mapsetup",
    "configuration_initialsystemstatus",
    "configuration_finalsystemstatus",
    "xrf_rois_roisobjects_0000",
]


@pytest.fixture(scope="module")
def crono_dir(shared_data):
    d = shared_data / "crono"
    if not d.is_dir():
        pytest.skip("no CRONO fixtures")
    return d


@pytest.mark.parametrize("name", BLOBS)
def test_real_blob_decodes_to_the_reference_tree(crono_dir, name):
    data = (crono_dir / f"{name}.nrbf").read_bytes()
    expected = json.loads((crono_dir / f"{name}.decoded.json").read_text())
    assert nrbf.decode(data) == expected


def test_mapsetup_values_match_the_notes(crono_dir):
    ms = nrbf.decode((crono_dir / "configuration_settings_attr_mapsetup.nrbf").read_bytes())
    assert ms["__class__"] == "XGLabMappingLib.MapSetup"
    assert (ms["x_map_size"], ms["y_map_size"]) == (37926, 42503)
    assert (ms["x_map_left"], ms["y_map_bottom"]) == (132252, 111817)
    assert ms["speed"] == 13.89 and ms["spectra_time"] == 60 and ms["_rowsDistance"] == 500.0
    assert ms["required_time"] == 600_000_000  # TimeSpan ticks = 60 s
    assert ms["guided_mode"] == {"__class__": "XGLabMappingLib.MapSetup+guided_modes", "value__": 2}
    assert ms["binningFactor"] == 1.2 and ms["line_dead_time"] == 2.0


def test_settings_calibration_and_motors(crono_dir):
    st = nrbf.decode((crono_dir / "configuration_settings.nrbf").read_bytes())
    cal = st["xrf_calibration"]
    assert cal["calib_counts"] == [771.0, 1952.0]
    assert cal["calib_energies"] == pytest.approx([8.046, 22.163], abs=1e-6)
    assert cal["calib_channels"] == 4096
    for axis in "XYZ":
        assert st["motors_settings"][f"{axis}_motor"]["configuration"]["units2steps"] == 0.09921875
    assert st["tube_material_atomic_number"] == 45


def test_status_motor_position_matches_last_motor_position(crono_dir):
    final = nrbf.decode((crono_dir / "configuration_finalsystemstatus.nrbf").read_bytes())
    steps = final["motors_status"]["Y_motor"]["Position"]
    assert round(steps * 0.09921875) == 153817  # last /XRF/MotorsPositions y (notes §1.3)


def test_roi_decimals_stay_exact_text(crono_dir):
    roi = nrbf.decode((crono_dir / "xrf_rois_roisobjects_0000.nrbf").read_bytes())["_roi"]
    assert roi["<name>k__BackingField"] == "SiKa"
    assert roi["<start>k__BackingField"] == "1.63896119594574"
    steps = roi["<palette>k__BackingField"]["_colorSteps"]["_steps"]
    assert steps["_size"] == 9 and len(steps["_items"]) == 16


def test_camera_blob_unwraps_to_the_jpeg(crono_dir):
    blob = (crono_dir / "images_static_0001.nrbf").read_bytes()
    jpeg = nrbf.unwrap_byte_array(blob)
    assert jpeg == (crono_dir / "images_static_0001.jpg").read_bytes()
    assert nrbf.decode(blob) == jpeg  # the general decoder agrees with the fast path


def test_unwrap_goes_through_the_parser_for_other_layouts():
    # a BinaryLibrary record before the array: not the usual 27-byte header
    payload = b"\xff\xd8hello\xff\xd9"
    lib = bytes([12]) + struct.pack("<i", 7) + bytes([3]) + b"lib"
    blob = (
        struct.pack("<Biiii", 0, 1, -1, 1, 0)
        + lib
        + bytes([15])
        + struct.pack("<ii", 1, len(payload))
        + bytes([2])
        + payload
        + bytes([11])
    )
    assert nrbf.unwrap_byte_array(blob) == payload


@pytest.mark.parametrize("size", [0, 1, 1000, 70_000])
def test_byte_array_round_trip(size):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    blob = nrbf.encode_byte_array(payload)
    assert len(blob) == size + 28
    assert nrbf.unwrap_byte_array(blob) == payload


def test_encoder_round_trip_all_member_kinds():
    lib = "Lib, Version=1.0.0.0, Culture=neutral, PublicKeyToken=null"
    obj = nrbf.NrbfClass(
        "Lib.Thing",
        [
            ("flag", True),
            ("count", 3),
            ("ratio", 0.5),
            ("name", "éléments"),
            ("nothing", None),
            ("u32", nrbf.Typed("UInt32", 4_000_000_000)),
            ("ticks", nrbf.Typed("TimeSpan", -5)),
            ("dec", nrbf.Typed("Decimal", "1.25")),
            ("f32", nrbf.Typed("Single", 0.5)),
            ("arr", nrbf.TypedArray("Double", [1.0, 2.0])),
            ("mode", nrbf.NrbfClass("Lib.Thing+Mode", [("value__", 2)], lib)),
            ("sys", nrbf.NrbfClass("System.Drawing.Point", [("x", 1), ("y", -1)])),
        ],
        lib,
    )
    assert nrbf.decode(nrbf.encode(obj)) == {
        "__class__": "Lib.Thing",
        "flag": True,
        "count": 3,
        "ratio": 0.5,
        "name": "éléments",
        "nothing": None,
        "u32": 4_000_000_000,
        "ticks": -5,
        "dec": "1.25",
        "f32": 0.5,
        "arr": [1.0, 2.0],
        "mode": {"__class__": "Lib.Thing+Mode", "value__": 2},
        "sys": {"__class__": "System.Drawing.Point", "x": 1, "y": -1},
    }


def test_class_with_id_reference_null_runs_and_binary_array():
    """Record types the encoder does not emit: ClassWithId, ObjectNullMultiple256, BinaryArray,
    ArraySingleString, MemberPrimitiveTyped and a forward MemberReference."""

    def lps(s):
        return bytes([len(s)]) + s.encode()

    out = struct.pack("<Biiii", 0, 1, -1, 1, 0)
    out += bytes([12]) + struct.pack("<i", 2) + lps("L")
    # class 1: P {a: Object, b: Object} in library 2
    out += bytes([5]) + struct.pack("<i", 1) + lps("P") + struct.pack("<i", 2) + lps("a") + lps("b")
    out += bytes([2, 2]) + struct.pack("<i", 2)
    # a = BinaryArray (rectangular 2x2 of Int32 primitives); b = reference to object 5
    out += bytes([7]) + struct.pack("<ib", 3, 2) + struct.pack("<iii", 2, 2, 2) + bytes([0, 8])
    out += struct.pack("<iiii", 1, 2, 3, 4)
    out += bytes([9]) + struct.pack("<i", 5)
    # object 5: ArraySingleString of 4: "x", null run of 2, another P via ClassWithId
    out += bytes([17]) + struct.pack("<ii", 5, 4) + bytes([6]) + struct.pack("<i", 6) + lps("x")
    out += bytes([13, 2]) + bytes([1]) + struct.pack("<ii", 7, 1)
    out += bytes([8, 8]) + struct.pack("<i", 42) + bytes([10])
    out += bytes([11])
    value = nrbf.decode(out)
    assert value == {
        "__class__": "P",
        "a": [[1, 2], [3, 4]],
        "b": ["x", None, None, {"__class__": "P", "a": 42, "b": None}],
    }


@pytest.mark.parametrize("cut", [0, 5, 17, 40, 300, 805])
def test_truncated_blob_names_the_offset(crono_dir, cut):
    data = (crono_dir / "configuration_settings_attr_mapsetup.nrbf").read_bytes()[:cut]
    with pytest.raises(nrbf.NrbfError) as info:
        nrbf.decode(data, context="/Configuration/Settings attribute MapSetup")
    err = info.value
    assert isinstance(err, FormatError)
    assert 0 <= err.offset <= cut
    assert "byte offset" in str(err) and "MapSetup" in str(err)


def test_trailing_bytes_and_bad_record_type(crono_dir):
    data = (crono_dir / "configuration_settings_attr_mapsetup.nrbf").read_bytes()
    with pytest.raises(nrbf.NrbfError, match="trailing"):
        nrbf.decode(data + b"\x00")
    bad = bytearray(data)
    bad[17] = 99  # the BinaryLibrary record type
    with pytest.raises(nrbf.NrbfError, match="unsupported record type 99") as info:
        nrbf.decode(bytes(bad))
    assert info.value.offset == 17


def test_unwrap_rejects_wrong_length_empty_and_non_arrays(crono_dir):
    blob = (crono_dir / "images_static_0001.nrbf").read_bytes()
    with pytest.raises(nrbf.NrbfError):
        nrbf.unwrap_byte_array(blob[:-10] + blob[-1:])  # length field no longer matches
    with pytest.raises(nrbf.NrbfError, match="empty"):
        nrbf.unwrap_byte_array(b"")
    settings = (crono_dir / "configuration_settings_attr_mapsetup.nrbf").read_bytes()
    with pytest.raises(nrbf.NrbfError, match="expected a byte"):
        nrbf.unwrap_byte_array(settings)


def test_huge_declared_lengths_do_not_allocate():
    blob = struct.pack("<Biiii", 0, 1, -1, 1, 0) + bytes([16]) + struct.pack("<ii", 1, 2**31 - 1)
    with pytest.raises(nrbf.NrbfError, match="cannot fit"):
        nrbf.decode(blob + bytes([11]))

"""The MS-NRBF (.NET BinaryFormatter) vocabulary shared by the decoder and the encoder.

Record, binary and primitive type codes ([MS-NRBF] 2.1.2), the struct formats and numpy dtypes
of the primitives, the fixed header of a serialised ``byte[]`` (the CRONO camera frames) and
:class:`NrbfError`. See :mod:`.nrbf` for what a decoded stream looks like.
"""

from __future__ import annotations

import struct
from typing import Any

from ...core.errors import FormatError

# RecordTypeEnumeration ([MS-NRBF] 2.1.2.1)
HEADER, CLASS_WITH_ID, SYSTEM_CLASS_WITH_MEMBERS, CLASS_WITH_MEMBERS = 0, 1, 2, 3
SYSTEM_CLASS_WITH_MEMBERS_AND_TYPES, CLASS_WITH_MEMBERS_AND_TYPES = 4, 5
OBJECT_STRING, BINARY_ARRAY, MEMBER_PRIMITIVE_TYPED, MEMBER_REFERENCE = 6, 7, 8, 9
OBJECT_NULL, MESSAGE_END, BINARY_LIBRARY, NULL_MULTIPLE_256, NULL_MULTIPLE = 10, 11, 12, 13, 14
ARRAY_SINGLE_PRIMITIVE, ARRAY_SINGLE_OBJECT, ARRAY_SINGLE_STRING = 15, 16, 17

# BinaryTypeEnumeration (2.1.2.2)
BT_PRIMITIVE, BT_STRING, BT_OBJECT, BT_SYSTEM_CLASS, BT_CLASS = 0, 1, 2, 3, 4
BT_OBJECT_ARRAY, BT_STRING_ARRAY, BT_PRIMITIVE_ARRAY = 5, 6, 7

# PrimitiveTypeEnumeration (2.1.2.3): name -> (code, struct format or None for special)
PRIMITIVES: dict[str, tuple[int, str | None]] = {
    "Boolean": (1, "?"),
    "Byte": (2, "B"),
    "Char": (3, None),
    "Decimal": (5, None),
    "Double": (6, "<d"),
    "Int16": (7, "<h"),
    "Int32": (8, "<i"),
    "Int64": (9, "<q"),
    "SByte": (10, "b"),
    "Single": (11, "<f"),
    "TimeSpan": (12, "<q"),
    "DateTime": (13, "<Q"),
    "UInt16": (14, "<H"),
    "UInt32": (15, "<I"),
    "UInt64": (16, "<Q"),
    "Null": (17, None),
    "String": (18, None),
}
PRIM_BY_CODE = {code: (name, fmt) for name, (code, fmt) in PRIMITIVES.items()}
NUMPY_DTYPE = {
    "Boolean": "?",
    "Byte": "u1",
    "Double": "<f8",
    "Int16": "<i2",
    "Int32": "<i4",
    "Int64": "<i8",
    "SByte": "i1",
    "Single": "<f4",
    "TimeSpan": "<i8",
    "UInt16": "<u2",
    "UInt32": "<u4",
    "UInt64": "<u8",
}

BYTE_ARRAY_HEADER = struct.Struct(
    "<BiiiiBiiB"
)  # stream header + ArraySinglePrimitive header (byte[] fast path)
BYTE_ARRAY_OVERHEAD = BYTE_ARRAY_HEADER.size + 1  # + MessageEnd
MAX_DEPTH = 256


class NrbfError(FormatError):
    """A malformed MS-NRBF stream; ``offset`` is the byte offset in the stream."""

    def __init__(self, message: str, offset: int, path=None, context: str | None = None):
        self.offset = offset
        where: Any = offset if context is None else f"{context}, byte offset {offset}"
        super().__init__(f"malformed .NET BinaryFormatter (MS-NRBF) stream: {message}", path, where)

"""MS-NRBF (.NET BinaryFormatter) streams written: :func:`encode` of classes, enums, strings,
primitives and arrays, and :func:`encode_byte_array` (enough for the CRONO file layout).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from .nrbf_records import (
    ARRAY_SINGLE_PRIMITIVE,
    BINARY_LIBRARY,
    BT_CLASS,
    BT_OBJECT,
    BT_PRIMITIVE,
    BT_PRIMITIVE_ARRAY,
    BT_STRING,
    BT_SYSTEM_CLASS,
    BYTE_ARRAY_HEADER,
    CLASS_WITH_MEMBERS_AND_TYPES,
    HEADER,
    MEMBER_REFERENCE,
    MESSAGE_END,
    OBJECT_NULL,
    OBJECT_STRING,
    PRIMITIVES,
    SYSTEM_CLASS_WITH_MEMBERS_AND_TYPES,
)


@dataclass
class Typed:
    """A primitive member with an explicit .NET type (``Typed("UInt32", 60)``)."""

    kind: str
    value: Any


@dataclass
class TypedArray:
    """A primitive array member (``TypedArray("Double", [771.0, 1952.0])``)."""

    kind: str
    values: Any


@dataclass
class NrbfClass:
    """A class instance to encode: ``library`` None means a system class (mscorlib)."""

    name: str
    members: list[tuple[str, Any]] = field(default_factory=list)
    library: str | None = None


def _lps(text: str) -> bytes:
    raw = text.encode("utf-8")
    n, out = len(raw), bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out) + raw


def _prim_bytes(kind: str, value: Any) -> bytes:
    code, fmt = PRIMITIVES[kind]
    if kind in ("String", "Decimal"):
        return _lps(str(value))
    if kind == "Char":
        return str(value).encode("utf-8")
    if fmt is None:
        raise ValueError(f"cannot encode primitive {kind}")
    return struct.pack(fmt, value)


def _member_kind(value: Any) -> tuple[int, Any, str | None]:
    """(BinaryTypeEnum, additional info, primitive kind) for a Python value."""
    if isinstance(value, Typed):
        return BT_PRIMITIVE, PRIMITIVES[value.kind][0], value.kind
    if isinstance(value, bool):
        return BT_PRIMITIVE, PRIMITIVES["Boolean"][0], "Boolean"
    if isinstance(value, int):
        return BT_PRIMITIVE, PRIMITIVES["Int32"][0], "Int32"
    if isinstance(value, float):
        return BT_PRIMITIVE, PRIMITIVES["Double"][0], "Double"
    if isinstance(value, str):
        return BT_STRING, None, None
    if isinstance(value, TypedArray):
        return BT_PRIMITIVE_ARRAY, PRIMITIVES[value.kind][0], None
    if isinstance(value, NrbfClass):
        if value.library is None:
            return BT_SYSTEM_CLASS, value.name, None
        return BT_CLASS, value.name, None
    if value is None:
        return BT_OBJECT, None, None
    raise TypeError(f"cannot encode {type(value).__name__} in an NRBF stream")


class _Encoder:
    def __init__(self):
        self.out = bytearray()
        self.next_id = 1
        self.libraries: dict[str, int] = {}
        self.pending: list[tuple[int, Any]] = []

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def library(self, name: str) -> int:
        if name not in self.libraries:
            lib_id = self.new_id()
            self.libraries[name] = lib_id
            self.out += bytes([BINARY_LIBRARY]) + struct.pack("<i", lib_id) + _lps(name)
        return self.libraries[name]

    def write_class(self, obj: NrbfClass, obj_id: int) -> None:
        lib_id = self.library(obj.library) if obj.library is not None else None
        kinds = [_member_kind(v) for _, v in obj.members]
        rec = (
            CLASS_WITH_MEMBERS_AND_TYPES
            if lib_id is not None
            else SYSTEM_CLASS_WITH_MEMBERS_AND_TYPES
        )
        body = bytearray([rec]) + struct.pack("<i", obj_id) + _lps(obj.name)
        body += struct.pack("<i", len(obj.members))
        for name, _ in obj.members:
            body += _lps(name)
        body += bytes(k for k, _, _ in kinds)
        for (kind, info, _), (_, value) in zip(kinds, obj.members, strict=True):
            if kind in (BT_PRIMITIVE, BT_PRIMITIVE_ARRAY):
                body.append(info)
            elif kind == BT_SYSTEM_CLASS:
                body += _lps(info)
            elif kind == BT_CLASS:
                body += _lps(info) + struct.pack("<i", self.library(value.library))
        if lib_id is not None:
            body += struct.pack("<i", lib_id)
        self.out += body
        for (kind, _, prim), (_, value) in zip(kinds, obj.members, strict=True):
            if kind == BT_PRIMITIVE:
                self.out += _prim_bytes(prim, value.value if isinstance(value, Typed) else value)
            elif value is None:
                self.out.append(OBJECT_NULL)
            elif isinstance(value, NrbfClass):
                self.write_class(value, self.new_id())  # value-type style: inline
            else:  # strings and arrays are reference types: a reference now, the object later
                ref = self.new_id()
                self.out += bytes([MEMBER_REFERENCE]) + struct.pack("<i", ref)
                self.pending.append((ref, value))

    def write_object(self, obj_id: int, value: Any) -> None:
        if isinstance(value, str):
            self.out += bytes([OBJECT_STRING]) + struct.pack("<i", obj_id) + _lps(value)
        elif isinstance(value, TypedArray):
            code = PRIMITIVES[value.kind][0]
            vals = list(value.values) if not isinstance(value.values, bytes) else value.values
            self.out += bytes([ARRAY_SINGLE_PRIMITIVE]) + struct.pack("<ii", obj_id, len(vals))
            self.out.append(code)
            if value.kind == "Byte":
                self.out += bytes(vals)
            else:
                for v in vals:
                    self.out += _prim_bytes(value.kind, v)
        else:
            self.write_class(value, obj_id)

    def stream(self, root: Any) -> bytes:
        root_id = self.new_id()
        self.out += struct.pack("<Biiii", HEADER, root_id, -1, 1, 0)
        self.write_object(root_id, root)
        while self.pending:
            ref, value = self.pending.pop(0)
            self.write_object(ref, value)
        self.out.append(MESSAGE_END)
        return bytes(self.out)


def encode(root: NrbfClass | TypedArray | str) -> bytes:
    """Serialise ``root`` as BinaryFormatter would (classes with member types, references for
    strings and arrays, value-type classes inline). ``decode(encode(x))`` gives the plain tree."""
    return _Encoder().stream(root)


def encode_byte_array(payload: bytes) -> bytes:
    """``BinaryFormatter.Serialize(byte[])``: 27-byte header, the payload, MessageEnd (0x0B)."""
    return (
        BYTE_ARRAY_HEADER.pack(HEADER, 1, -1, 1, 0, ARRAY_SINGLE_PRIMITIVE, 1, len(payload), 2)
        + bytes(payload)
        + bytes([MESSAGE_END])
    )

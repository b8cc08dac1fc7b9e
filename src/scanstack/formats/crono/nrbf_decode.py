"""MS-NRBF (.NET BinaryFormatter) streams decoded to plain trees: :func:`decode`, and
:func:`unwrap_byte_array`, the fast path for a serialised ``byte[]`` (a CRONO camera JPEG).

What a decoded tree looks like, and the errors: :mod:`.nrbf`.
"""

from __future__ import annotations

import datetime as _dt
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from .nrbf_records import (
    ARRAY_SINGLE_OBJECT,
    ARRAY_SINGLE_PRIMITIVE,
    ARRAY_SINGLE_STRING,
    BINARY_ARRAY,
    BINARY_LIBRARY,
    BT_CLASS,
    BT_OBJECT,
    BT_PRIMITIVE,
    BT_PRIMITIVE_ARRAY,
    BT_SYSTEM_CLASS,
    BYTE_ARRAY_HEADER,
    BYTE_ARRAY_OVERHEAD,
    CLASS_WITH_ID,
    CLASS_WITH_MEMBERS,
    CLASS_WITH_MEMBERS_AND_TYPES,
    HEADER,
    MAX_DEPTH,
    MEMBER_PRIMITIVE_TYPED,
    MEMBER_REFERENCE,
    MESSAGE_END,
    NULL_MULTIPLE,
    NULL_MULTIPLE_256,
    NUMPY_DTYPE,
    OBJECT_NULL,
    OBJECT_STRING,
    PRIM_BY_CODE,
    SYSTEM_CLASS_WITH_MEMBERS,
    SYSTEM_CLASS_WITH_MEMBERS_AND_TYPES,
    NrbfError,
)


class _Ref:
    __slots__ = ("id",)

    def __init__(self, ref_id: int):
        self.id = ref_id


class _Nulls:
    __slots__ = ("count",)

    def __init__(self, count: int):
        self.count = count


@dataclass
class _ClassMeta:
    name: str
    members: list[str]
    types: list[tuple[int, Any]] | None  # (BinaryTypeEnum, additional info) or None (untyped)


class _Decoder:
    def __init__(self, data: bytes, path, context):
        self.data = memoryview(bytes(data)) if not isinstance(data, bytes) else memoryview(data)
        self.pos = 0
        self.path = path
        self.context = context
        self.objects: dict[int, Any] = {}
        self.classes: dict[int, _ClassMeta] = {}
        self.libraries: dict[int, str] = {}
        self.depth = 0

    # -- low level --------------------------------------------------------------------------
    def fail(self, message: str, offset: int | None = None) -> NrbfError:
        return NrbfError(message, self.pos if offset is None else offset, self.path, self.context)

    def take(self, n: int, what: str) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"expected {n} bytes of {what}, only {len(self.data) - self.pos} left")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, what: str):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size, what))[0]

    def byte(self, what: str) -> int:
        return self.unpack("B", what)

    def int32(self, what: str) -> int:
        return self.unpack("<i", what)

    def count(self, what: str) -> int:
        start = self.pos
        n = self.int32(what)
        if n < 0:
            raise self.fail(f"{what} must be >= 0, found {n}", start)
        return n

    def string(self, what: str = "LengthPrefixedString") -> str:
        start = self.pos
        length, shift = 0, 0
        for i in range(5):
            b = self.byte(f"{what} length")
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
            if i == 4:
                raise self.fail(f"{what} length prefix longer than 5 bytes", start)
        raw = self.take(length, what)
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.fail(f"{what} is not valid UTF-8 ({exc.reason})", start) from None

    def primitive(self, code: int) -> Any:
        start = self.pos
        if code not in PRIM_BY_CODE or code == 17:
            raise self.fail(f"unknown primitive type code {code}", start - 1)
        name, fmt = PRIM_BY_CODE[code]
        if name in ("String", "Decimal"):
            return self.string(name)
        if name == "Char":
            first = self.byte("Char")
            n = 1 if first < 0x80 else 2 if first < 0xE0 else 3 if first < 0xF0 else 4
            raw = bytes([first]) + bytes(self.take(n - 1, "Char"))
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise self.fail("Char is not valid UTF-8", start) from None
        value = self.unpack(fmt, name)
        if name == "DateTime":
            ticks = value & 0x3FFFFFFFFFFFFFFF
            try:
                moment = _dt.datetime(1, 1, 1) + _dt.timedelta(microseconds=ticks // 10)
            except OverflowError:
                raise self.fail(f"DateTime ticks {ticks} out of range", start) from None
            return moment.isoformat() + ("Z" if value >> 62 == 1 else "")
        return value

    def primitive_code(self, what: str) -> int:
        start = self.pos
        code = self.byte(what)
        if code not in PRIM_BY_CODE or code == 17:
            raise self.fail(f"{what}: unknown primitive type code {code}", start)
        return code

    # -- structure ---------------------------------------------------------------------------
    def register(self, obj_id: int, value: Any, offset: int) -> None:
        if obj_id in self.objects:
            raise self.fail(f"object id {obj_id} defined twice", offset)
        self.objects[obj_id] = value

    def class_info(self) -> tuple[int, str, list[str]]:
        obj_id = self.int32("ClassInfo.ObjectId")
        name = self.string("ClassInfo.Name")
        n = self.count("ClassInfo.MemberCount")
        if n > len(self.data) - self.pos:
            raise self.fail(f"member count {n} exceeds the remaining bytes", self.pos - 4)
        return obj_id, name, [self.string("member name") for _ in range(n)]

    def type_info(self, n: int) -> list[tuple[int, Any]]:
        kinds = []
        for _ in range(n):
            start = self.pos
            kind = self.byte("BinaryTypeEnum")
            if kind > BT_PRIMITIVE_ARRAY:
                raise self.fail(f"unknown BinaryTypeEnum {kind}", start)
            kinds.append(kind)
        return [(kind, self.additional_info(kind)) for kind in kinds]

    def additional_info(self, kind: int) -> Any:
        if kind in (BT_PRIMITIVE, BT_PRIMITIVE_ARRAY):
            return self.primitive_code("AdditionalInfo")
        if kind == BT_SYSTEM_CLASS:
            return self.string("AdditionalInfo class name")
        if kind == BT_CLASS:
            return (self.string("ClassTypeInfo.TypeName"), self.int32("ClassTypeInfo.LibraryId"))
        return None

    def members(self, obj_id: int, meta: _ClassMeta, offset: int) -> dict:
        obj: dict[str, Any] = {"__class__": meta.name}
        self.register(obj_id, obj, offset)
        types = meta.types or [(BT_OBJECT, None)] * len(meta.members)
        for name, (kind, info) in zip(meta.members, types, strict=True):
            if kind == BT_PRIMITIVE:
                value = self.primitive(info)
            else:
                start = self.pos
                value = self.record()
                if isinstance(value, _Nulls):
                    raise self.fail("ObjectNullMultiple is only allowed inside arrays", start)
            obj[name] = value
        return obj

    def check_length(self, n: int) -> None:
        # null runs can stand for many elements, but not for more than a few per remaining byte
        if n > 256 * (len(self.data) - self.pos) + 256:
            raise self.fail(f"array of {n} elements cannot fit in the remaining bytes")

    def array_items(self, n: int, kind: int, info: Any) -> list:
        if kind == BT_PRIMITIVE:
            return self.primitive_array(n, info)
        items: list[Any] = []
        while len(items) < n:
            start = self.pos
            value = self.record()
            if isinstance(value, _Nulls):
                if len(items) + value.count > n:
                    raise self.fail(f"{value.count} nulls overflow an array of {n}", start)
                items.extend([None] * value.count)
            else:
                items.append(value)
        return items

    def primitive_array(self, n: int, code: int) -> Any:
        name, _ = PRIM_BY_CODE[code]
        dtype = NUMPY_DTYPE.get(name)
        if dtype is None:
            if n > len(self.data) - self.pos:
                raise self.fail(f"array of {n} {name} exceeds the remaining bytes")
            return [self.primitive(code) for _ in range(n)]
        nbytes = n * np.dtype(dtype).itemsize
        raw = self.take(nbytes, f"{n} {name} array elements")
        if name == "Byte":
            return bytes(raw)
        return np.frombuffer(raw, dtype).tolist()

    def record(self) -> Any:
        """One record (a member value, array element or top-level object); returns its value."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"objects nested deeper than {MAX_DEPTH} levels")
        try:
            while True:
                offset = self.pos
                rtype = self.byte("RecordType")
                if rtype != BINARY_LIBRARY:
                    return self._record(rtype, offset)
                lib_id = self.int32("BinaryLibrary.LibraryId")
                self.libraries[lib_id] = self.string("BinaryLibrary.LibraryName")
        finally:
            self.depth -= 1

    def _record(self, rtype: int, offset: int) -> Any:
        if rtype in (
            CLASS_WITH_MEMBERS_AND_TYPES,
            SYSTEM_CLASS_WITH_MEMBERS_AND_TYPES,
            CLASS_WITH_MEMBERS,
            SYSTEM_CLASS_WITH_MEMBERS,
        ):
            obj_id, name, names = self.class_info()
            typed = rtype in (CLASS_WITH_MEMBERS_AND_TYPES, SYSTEM_CLASS_WITH_MEMBERS_AND_TYPES)
            types = self.type_info(len(names)) if typed else None
            if rtype in (CLASS_WITH_MEMBERS_AND_TYPES, CLASS_WITH_MEMBERS):
                lib_offset = self.pos
                lib = self.int32("LibraryId")
                if lib not in self.libraries:
                    raise self.fail(
                        f"library id {lib} was not declared by a BinaryLibrary record", lib_offset
                    )
            meta = _ClassMeta(name, names, types)
            self.classes[obj_id] = meta
            return self.members(obj_id, meta, offset)
        if rtype == CLASS_WITH_ID:
            obj_id = self.int32("ClassWithId.ObjectId")
            meta_offset = self.pos
            meta_id = self.int32("ClassWithId.MetadataId")
            if meta_id not in self.classes:
                raise self.fail(
                    f"ClassWithId refers to unknown class metadata id {meta_id}", meta_offset
                )
            return self.members(obj_id, self.classes[meta_id], offset)
        if rtype == OBJECT_STRING:
            obj_id = self.int32("BinaryObjectString.ObjectId")
            value = self.string("BinaryObjectString.Value")
            self.register(obj_id, value, offset)
            return value
        if rtype == MEMBER_REFERENCE:
            return _Ref(self.int32("MemberReference.IdRef"))
        if rtype == OBJECT_NULL:
            return None
        if rtype == NULL_MULTIPLE_256:
            return _Nulls(self.byte("ObjectNullMultiple256.NullCount"))
        if rtype == NULL_MULTIPLE:
            return _Nulls(self.count("ObjectNullMultiple.NullCount"))
        if rtype == MEMBER_PRIMITIVE_TYPED:
            return self.primitive(self.primitive_code("MemberPrimitiveTyped.PrimitiveType"))
        if rtype == ARRAY_SINGLE_PRIMITIVE:
            obj_id = self.int32("ArraySinglePrimitive.ObjectId")
            n = self.count("ArraySinglePrimitive.Length")
            code = self.primitive_code("ArraySinglePrimitive.PrimitiveType")
            value = self.primitive_array(n, code)
            self.register(obj_id, value, offset)
            return value
        if rtype in (ARRAY_SINGLE_OBJECT, ARRAY_SINGLE_STRING):
            obj_id = self.int32("ArraySingle.ObjectId")
            n = self.count("ArraySingle.Length")
            self.check_length(n)
            items: list[Any] = []
            self.register(obj_id, items, offset)
            items.extend(self.array_items(n, BT_OBJECT, None))
            return items
        if rtype == BINARY_ARRAY:
            return self.binary_array(offset)
        if rtype == MESSAGE_END:
            raise self.fail("unexpected MessageEnd inside an object", offset)
        if rtype == HEADER:
            raise self.fail("unexpected SerializedStreamHeader inside the stream", offset)
        raise self.fail(f"unsupported record type {rtype}", offset)

    def binary_array(self, offset: int) -> list:
        obj_id = self.int32("BinaryArray.ObjectId")
        kind_offset = self.pos
        array_kind = self.byte("BinaryArray.BinaryArrayTypeEnum")
        if array_kind > 5:
            raise self.fail(f"unknown BinaryArrayTypeEnum {array_kind}", kind_offset)
        rank = self.count("BinaryArray.Rank")
        if rank == 0 or rank > 32:
            raise self.fail(f"array rank {rank} out of range 1..32", self.pos - 4)
        lengths = [self.count("BinaryArray.Lengths") for _ in range(rank)]
        if array_kind in (3, 4, 5):
            for _ in range(rank):
                self.int32("BinaryArray.LowerBounds")
        type_offset = self.pos
        kind = self.byte("BinaryArray.TypeEnum")
        if kind > BT_PRIMITIVE_ARRAY:
            raise self.fail(f"unknown BinaryTypeEnum {kind}", type_offset)
        info = self.additional_info(kind)
        total = int(np.prod(lengths, dtype=np.int64))
        self.check_length(total)
        items: list[Any] = []
        self.register(obj_id, items, offset)
        flat = self.array_items(total, kind, info)
        if isinstance(flat, bytes):
            flat = list(flat)
        items.extend(_nest(flat, lengths) if rank > 1 else flat)
        return items

    # -- whole stream ------------------------------------------------------------------------
    def stream(self) -> Any:
        if len(self.data) == 0:
            raise self.fail("empty blob (no SerializedStreamHeader)")
        if self.byte("RecordType") != HEADER:
            raise self.fail("expected a SerializedStreamHeader record (type 0)", 0)
        root_id = self.int32("Header.RootId")
        self.int32("Header.HeaderId")
        major, minor = self.int32("Header.MajorVersion"), self.int32("Header.MinorVersion")
        if (major, minor) != (1, 0):
            raise self.fail(f"unsupported NRBF version {major}.{minor} (expected 1.0)", 9)
        while True:
            if self.pos >= len(self.data):
                raise self.fail("stream ends without a MessageEnd record")
            if self.data[self.pos] == MESSAGE_END:
                self.pos += 1
                break
            self.record()
        if self.pos != len(self.data):
            raise self.fail(f"{len(self.data) - self.pos} trailing bytes after MessageEnd")
        if root_id not in self.objects:
            raise self.fail(f"root object id {root_id} was never defined", 1)
        return _Resolver(self.objects, self).resolve(self.objects[root_id])


def _nest(flat: list, lengths: list[int]) -> list:
    for n in reversed(lengths[1:]):
        flat = [flat[i : i + n] for i in range(0, len(flat), n)]
    return flat


class _Resolver:
    """Replace references by the objects they name (shared objects stay shared; cycles are cut)."""

    def __init__(self, objects: dict[int, Any], decoder: _Decoder):
        self.objects = objects
        self.decoder = decoder
        self.active: set[int] = set()
        self.done: set[int] = set()

    def resolve(self, value: Any) -> Any:
        if isinstance(value, _Ref):
            if value.id not in self.objects:
                raise NrbfError(
                    f"reference to undefined object id {value.id}",
                    len(self.decoder.data),
                    self.decoder.path,
                    self.decoder.context,
                )
            if value.id in self.active:
                return {"__ref__": value.id}  # a cycle: keep the tree finite
            target = self.objects[value.id]
            self.active.add(value.id)
            try:
                return self.resolve(target)
            finally:
                self.active.discard(value.id)
        key = id(value)
        if isinstance(value, dict) and key not in self.done:
            self.done.add(key)
            for k, v in value.items():
                value[k] = self.resolve(v)
        elif isinstance(value, list) and key not in self.done:
            self.done.add(key)
            for i, v in enumerate(value):
                value[i] = self.resolve(v)
        return value


def decode(
    data: bytes | bytearray | memoryview | np.ndarray, *, path=None, context: str | None = None
) -> Any:
    """Decode a whole MS-NRBF stream to a plain tree (see the module docstring).

    ``data`` may be bytes or a numpy ``|V1``/``uint8`` array (an h5py vlen element). ``path`` and
    ``context`` (e.g. the dataset name) only make error messages precise.
    """
    if isinstance(data, np.ndarray):
        data = data.tobytes()
    return _Decoder(data, path, context).stream()


def unwrap_byte_array(
    blob: bytes | bytearray | memoryview | np.ndarray, *, path=None, context: str | None = None
) -> bytes:
    """The payload of a ``byte[]`` serialised by BinaryFormatter (a CRONO camera JPEG).

    The usual layout (header, ArraySinglePrimitive of Byte, MessageEnd; total = payload + 28
    bytes) is checked field by field; anything else (e.g. a BinaryLibrary record in front) goes
    through the full decoder, which must then yield a ``byte[]`` root. Raises :class:`NrbfError`
    with the byte offset on malformed input and on an empty blob.
    """
    if isinstance(blob, np.ndarray):
        blob = blob.tobytes()
    blob = bytes(blob) if not isinstance(blob, bytes) else blob
    if len(blob) >= BYTE_ARRAY_OVERHEAD:
        rec0, root, _hdr, major, minor, rec1, _oid, n, ptype = BYTE_ARRAY_HEADER.unpack_from(blob)
        if (
            (rec0, major, minor, rec1, ptype) == (HEADER, 1, 0, ARRAY_SINGLE_PRIMITIVE, 2)
            and root == _oid
            and n == len(blob) - BYTE_ARRAY_OVERHEAD
            and blob[-1] == MESSAGE_END
        ):
            return blob[BYTE_ARRAY_HEADER.size : -1]
    value = decode(blob, path=path, context=context)
    if not isinstance(value, bytes):
        kind = value.get("__class__") if isinstance(value, dict) else type(value).__name__
        raise NrbfError(f"root object is {kind}, expected a byte[] array", 0, path, context)
    return value

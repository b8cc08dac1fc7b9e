"""MS-NRBF (.NET BinaryFormatter) streams: a decoder to plain trees and a small encoder.

CRONO stores its settings, system status, map setup, ROI definitions and every camera frame as
BinaryFormatter streams inside HDF5 opaque blobs. :func:`decode` turns such a stream into plain
Python values:

- a class instance becomes a ``dict`` with ``"__class__"`` (the .NET type name) followed by its
  members in stream order; an enum is a class with the single member ``"value__"``;
- strings and ``Decimal`` values are ``str`` (decimals keep their exact text, e.g. ``"1.6389"``);
  ``TimeSpan`` is an ``int`` of 100 ns ticks; ``DateTime`` an ISO 8601 string; ``Char`` a ``str``;
- primitive arrays are lists, except ``byte[]`` which is ``bytes``; other arrays are lists;
- null is ``None``; references (``MemberReference``) are resolved to the object they point at.

Every malformed input raises :class:`NrbfError` (a :class:`~scanstack.core.errors.FormatError`)
naming the byte offset and what was expected. A stream must be used to its last byte.

:func:`unwrap_byte_array` is the fast path for the camera frames (a ``byte[]`` holding a JPEG);
:func:`encode_byte_array` and :func:`encode` write streams for the synthetic-file writer.

This module is the public face; the work is split by job: :mod:`.nrbf_records` (the format's
type codes, :class:`NrbfError`), :mod:`.nrbf_decode` and :mod:`.nrbf_encode`.
"""

from .nrbf_decode import decode, unwrap_byte_array
from .nrbf_encode import NrbfClass, Typed, TypedArray, encode, encode_byte_array
from .nrbf_records import NrbfError

__all__ = [
    "NrbfClass",
    "NrbfError",
    "Typed",
    "TypedArray",
    "decode",
    "encode",
    "encode_byte_array",
    "unwrap_byte_array",
]

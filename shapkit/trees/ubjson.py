"""A Universal Binary JSON (UBJSON) decoder for saved XGBoost models.

XGBoost saves a model as UBJSON (``Booster.save_raw(raw_format="ubj")``) about ten times
faster than as JSON, and its node arrays are stored there as typed, big-endian blocks
that NumPy reads without a per-number parse. :func:`decode_ubjson` returns the same
document :func:`json.loads` returns for the JSON form, except that typed arrays of
numbers come back as NumPy arrays (big-endian, as stored).

Only what the UBJSON specification (draft 12) defines is read: null, no-op, booleans,
the integer and float types, high-precision numbers (as strings), chars, strings, and
arrays and objects in their plain and optimised (``$type``/``#count``) forms. Anything
else raises ``ValueError`` (an unknown type marker with its byte offset).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

__all__ = ["decode_ubjson"]

#: Fixed-size scalar types: struct format (big-endian) and NumPy dtype.
_SCALARS: dict[int, tuple[str, str]] = {
    ord("i"): (">b", "i1"),
    ord("U"): (">B", "u1"),
    ord("I"): (">h", ">i2"),
    ord("l"): (">i", ">i4"),
    ord("L"): (">q", ">i8"),
    ord("d"): (">f", ">f4"),
    ord("D"): (">d", ">f8"),
}
_STRUCTS = {marker: struct.Struct(fmt) for marker, (fmt, _) in _SCALARS.items()}
_SIZES = {marker: s.size for marker, s in _STRUCTS.items()}
_DTYPES = {marker: np.dtype(dtype) for marker, (_, dtype) in _SCALARS.items()}
_INTEGER_READERS = {ord(c): (_STRUCTS[ord(c)].unpack_from, _SIZES[ord(c)]) for c in "iUIlL"}
_NOOP, _NULL, _TRUE, _FALSE = ord("N"), ord("Z"), ord("T"), ord("F")
_CHAR, _STRING, _HIGH = ord("C"), ord("S"), ord("H")
_ARRAY, _ARRAY_END, _OBJECT, _OBJECT_END = ord("["), ord("]"), ord("{"), ord("}")
_TYPE, _COUNT = ord("$"), ord("#")


def decode_ubjson(data: bytes) -> Any:
    """Decode one UBJSON value from ``data``.

    Parameters
    ----------
    data : bytes
        A whole UBJSON document (for example ``bytes(booster.save_raw("ubj"))``).

    Returns
    -------
    object
        dicts, lists, str, int, float, bool and None as :func:`json.loads` gives them;
        typed arrays of numbers as read-only 1-d NumPy arrays of their stored type
        (big-endian; arithmetic and ``astype`` treat them as any other array).

    Raises
    ------
    ValueError
        On an unknown type marker, a truncated document, or bytes after the value.

    Examples
    --------
    >>> doc = b"{i\\x01a[$l#i\\x02\\x00\\x00\\x00\\x07\\xff\\xff\\xff\\xfe}"
    >>> decode_ubjson(doc)["a"].tolist()
    [7, -2]
    """
    buf = bytes(data)
    try:
        value, pos = _value(buf, *_marker(buf, 0))
    except (IndexError, struct.error) as err:
        raise ValueError("UBJSON: the document ends inside a value") from err
    if pos != len(buf):
        raise ValueError(f"UBJSON: {len(buf) - pos} bytes after the document")
    return value


def _marker(buf: bytes, pos: int) -> tuple[int, int]:
    """The type marker at ``pos`` (no-ops skipped) and the position after it."""
    m = buf[pos]
    while m == _NOOP:
        pos += 1
        m = buf[pos]
    return m, pos + 1


def _value(buf: bytes, m: int, pos: int) -> tuple[Any, int]:
    """The value of type ``m`` whose payload starts at ``pos``, and the position after it."""
    unpack = _STRUCTS.get(m)
    if unpack is not None:
        return unpack.unpack_from(buf, pos)[0], pos + _SIZES[m]
    if m == _STRING or m == _HIGH:
        return _string(buf, pos)
    if m == _OBJECT:
        return _object(buf, pos)
    if m == _ARRAY:
        return _array(buf, pos)
    if m == _NULL:
        return None, pos
    if m == _TRUE:
        return True, pos
    if m == _FALSE:
        return False, pos
    if m == _CHAR:
        return chr(buf[pos]), pos + 1
    raise ValueError(f"UBJSON: unknown type marker {chr(m)!r} at byte {pos - 1}")


def _length(buf: bytes, pos: int) -> tuple[int, int]:
    """A count or string length: an integer value."""
    reader = _INTEGER_READERS.get(buf[pos])
    if reader is None:
        raise ValueError(f"UBJSON: a length must be an integer (byte {pos})")
    unpack, size = reader
    n = unpack(buf, pos + 1)[0]
    if n < 0:
        raise ValueError(f"UBJSON: negative length at byte {pos}")
    return n, pos + 1 + size


def _string(buf: bytes, pos: int) -> tuple[str, int]:
    n, pos = _length(buf, pos)
    end = pos + n
    if end > len(buf):
        raise IndexError(end)
    return buf[pos:end].decode("utf-8"), end


def _header(buf: bytes, pos: int) -> tuple[int | None, int | None, int]:
    """``($type, #count)`` of an optimised container (Nones when absent), and the
    position after them."""
    kind = count = None
    if buf[pos] == _TYPE:
        kind = buf[pos + 1]
        pos += 2
        if buf[pos] != _COUNT:
            raise ValueError(f"UBJSON: a typed container needs a count (byte {pos})")
    if buf[pos] == _COUNT:
        count, pos = _length(buf, pos + 1)
    return kind, count, pos


def _array(buf: bytes, pos: int) -> tuple[Any, int]:
    kind, count, pos = _header(buf, pos)
    dtype = _DTYPES.get(kind) if kind is not None else None
    if dtype is not None and count is not None:  # typed numbers: one block
        end = pos + count * dtype.itemsize
        if end > len(buf):
            raise IndexError(end)
        return np.frombuffer(buf, dtype=dtype, count=count, offset=pos), end
    items = []
    if count is None:
        m, pos = _marker(buf, pos)
        while m != _ARRAY_END:
            item, pos = _value(buf, m, pos)
            items.append(item)
            m, pos = _marker(buf, pos)
        return items, pos
    for _ in range(count):
        if kind is None:
            m, pos = _marker(buf, pos)
        else:
            m = kind
        item, pos = _value(buf, m, pos)
        items.append(item)
    return items, pos


def _object(buf: bytes, pos: int) -> tuple[dict[str, Any], int]:
    kind, count, pos = _header(buf, pos)
    out: dict[str, Any] = {}
    if count is None:
        while buf[pos] == _NOOP:
            pos += 1
        while buf[pos] != _OBJECT_END:
            key, pos = _string(buf, pos)
            m, pos = _marker(buf, pos)
            out[key], pos = _value(buf, m, pos)
            while buf[pos] == _NOOP:
                pos += 1
        return out, pos + 1
    for _ in range(count):
        key, pos = _string(buf, pos)
        if kind is None:
            m, pos = _marker(buf, pos)
        else:
            m = kind
        out[key], pos = _value(buf, m, pos)
    return out, pos

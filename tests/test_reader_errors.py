"""The reader's bounds messages (built only when a check fails) on a model corrupted byte by byte."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import edgequant as eq
from edgequant.errors import ModelFormatError

FIX = Path(__file__).resolve().parent / "data" / "fixtures"


def _root_and_vtable(blob: bytes) -> tuple[int, int]:
    root = struct.unpack_from("<I", blob, 0)[0]
    return root, root - struct.unpack_from("<i", blob, root)[0]


@pytest.fixture(scope="module")
def blob() -> bytes:
    return (FIX / "digits_cnn.tflite").read_bytes()


def _corrupt(blob: bytes, pos: int, fmt: str, value: int) -> bytes:
    b = bytearray(blob)
    struct.pack_into(fmt, b, pos, value)
    return bytes(b)


def test_vtable_of_odd_size(blob):
    root, vt = _root_and_vtable(blob)
    with pytest.raises(ModelFormatError, match=rf"^Model at offset {root}: vtable at {vt} has invalid size 5$"):
        eq.load(_corrupt(blob, vt, "<H", 5))


def test_vtable_outside_the_file(blob):
    root, _ = _root_and_vtable(blob)
    want = rf"^Model at offset {root}: vtable: offset -?\d+\+4 is outside the file"
    with pytest.raises(ModelFormatError, match=want):
        eq.load(_corrupt(blob, root, "<i", root + 10))  # the vtable would start before the file


def test_table_body_past_the_end(blob):
    root, vt = _root_and_vtable(blob)
    want = rf"^Model at offset {root}: table body: offset {root}\+65535 is outside"
    with pytest.raises(ModelFormatError, match=want):
        eq.load(_corrupt(blob, vt + 2, "<H", 65535))


def test_field_offset_past_the_table(blob):
    _, vt = _root_and_vtable(blob)
    obj_size = struct.unpack_from("<H", blob, vt + 2)[0]
    with pytest.raises(ModelFormatError, match=rf"field 'version' offset {obj_size} is past the table's {obj_size}"):
        eq.load(_corrupt(blob, vt + 4, "<H", obj_size))  # slot 0: Model.version

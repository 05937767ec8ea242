"""The reader's inline offset checks (messages built only on failure): a corrupt uoffset, vector length or vector
element in the Model table still names the field, its offset and the bytes it wanted."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import edgequant as eq
from edgequant.errors import ModelFormatError

FIX = Path(__file__).resolve().parent / "data" / "fixtures"
SLOT = {"operator_codes": 1, "subgraphs": 2, "description": 3, "buffers": 4}  # Model's fields in the schema


@pytest.fixture(scope="module")
def blob() -> bytes:
    return (FIX / "digits_cnn.tflite").read_bytes()


def _field(blob: bytes, name: str) -> tuple[int, int]:
    """(where Model's ``name`` uoffset is, where it points)."""
    root = struct.unpack_from("<I", blob, 0)[0]
    vt = root - struct.unpack_from("<i", blob, root)[0]
    fpos = root + struct.unpack_from("<H", blob, vt + 4 + 2 * SLOT[name])[0]
    return fpos, fpos + struct.unpack_from("<I", blob, fpos)[0]


def _corrupt(blob: bytes, pos: int, value: int) -> bytes:
    b = bytearray(blob)
    struct.pack_into("<I", b, pos, value)
    return bytes(b)


def test_a_field_offset_out_of_the_file(blob):
    fpos, _ = _field(blob, "description")
    bad = len(blob) - fpos  # points at the end of the file
    want = rf"^Model\.description at offset {fpos}: offset {len(blob)}\+1 is outside the file \({len(blob)} bytes\)$"
    with pytest.raises(ModelFormatError, match=want):
        eq.load(_corrupt(blob, fpos, bad))


def test_a_string_longer_than_the_file(blob):
    fpos, target = _field(blob, "description")
    n = len(blob)
    want = rf"^Model\.description at offset {fpos}: string of {n} bytes: offset {target + 4}\+{n} is outside"
    with pytest.raises(ModelFormatError, match=want):
        eq.load(_corrupt(blob, target, n))


def test_a_vector_longer_than_the_file(blob):
    fpos, target = _field(blob, "operator_codes")
    n = len(blob) // 4
    want = rf"^Model\.operator_codes at offset {fpos}: vector of {n} offsets: offset {target + 4}\+{4 * n} is outside"
    with pytest.raises(ModelFormatError, match=want):
        eq.load(_corrupt(blob, target, n))


@pytest.mark.parametrize("name", ["subgraphs", "buffers"])
def test_a_vector_element_pointing_out_of_the_file(blob, name):
    fpos, target = _field(blob, name)
    n = struct.unpack_from("<I", blob, target)[0]
    elem = target + 4 + 4 * (n - 1)  # the last element: the ones before it are read first, and are sound
    want = rf"^Model\.{name} at offset {fpos}: offset {len(blob) + 8}\+1 is outside the file"
    with pytest.raises(ModelFormatError, match=want):
        eq.load(_corrupt(blob, elem, len(blob) + 8 - elem))

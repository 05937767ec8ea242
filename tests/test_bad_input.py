"""Corrupt, truncated and hostile files: one ModelFormatError naming what and where, nothing else."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import model_params, shared_models

import edgequant as eq
from edgequant.cli.inspect import model_json, render
from edgequant.errors import EdgequantError, ModelFormatError


def _tiny_model_bytes() -> bytes:
    from edgequant import dtypes
    from edgequant.graph import Buffer, Model, Operator, SubGraph, Tensor, new_node

    m = Model(version=3, buffers=[Buffer()], operator_codes=[], description="tiny")
    sg = SubGraph(tensors=[], inputs=[], outputs=[], operators=[], name="main")
    m.subgraphs = [sg]
    m.bind()
    a = sg.add_tensor(Tensor(name="a", type=dtypes.FLOAT32, shape=[1, 4]))
    b = sg.add_tensor(Tensor(name="b", type=dtypes.FLOAT32, shape=[1, 4], buffer=m.add_buffer(np.ones((1, 4), np.float32))))
    c = sg.add_tensor(Tensor(name="c", type=dtypes.FLOAT32, shape=[1, 4]))
    sg.inputs, sg.outputs = [a], [c]
    sg.operators = [Operator(opcode_index=m.op_code_index("ADD"), inputs=[a, b], outputs=[c],
                             builtin_options=new_node("AddOptions"))]
    return eq.save(m)


TINY = _tiny_model_bytes()


def test_empty_and_short_files(tmp_path):
    with pytest.raises(ModelFormatError, match="empty"):
        p = tmp_path / "empty.tflite"
        p.write_bytes(b"")
        eq.load_file(p)
    with pytest.raises(ModelFormatError, match="at least 8"):
        eq.load(b"TFL3")


def test_wrong_identifier_says_so():
    bad = TINY[:4] + b"ONNX" + TINY[8:]
    with pytest.raises(ModelFormatError, match="identifier"):
        eq.load(bad)


def test_root_offset_outside_file():
    bad = struct.pack("<I", 10**9) + TINY[4:]
    with pytest.raises(ModelFormatError, match="outside the file"):
        eq.load(bad)


@pytest.mark.parametrize("cut", [12, 40, 100, len(TINY) // 2, len(TINY) - 8])
def test_truncated(cut):
    with pytest.raises(ModelFormatError):
        eq.load(TINY[:cut])


def test_absurd_vector_length_does_not_allocate():
    """Set the length word of every vector-looking position to 2^31: fails fast, names the field."""
    data = bytearray(TINY)
    # the description string "tiny" is preceded by its length 4: claim 2^31 - 1 bytes instead
    at = data.find(b"tiny") - 4
    data[at:at + 4] = struct.pack("<I", 2**31 - 1)
    t0 = time.perf_counter()
    with pytest.raises(ModelFormatError, match=r"Model\.description"):
        eq.load(bytes(data))
    assert time.perf_counter() - t0 < 0.5


def test_tensor_index_out_of_range_names_operator():
    m = eq.load(TINY)
    m.main.operators[0].inputs = [0, 99]
    with pytest.raises(ModelFormatError, match=r"operator 0 \(ADD\) inputs: tensor index 99"):
        eq.load(eq.save(m))


def test_random_bytes():
    """Random bytes behind a valid identifier: each is rejected with ModelFormatError (nothing else escapes)."""
    rng = np.random.default_rng(0)
    rejected = 0
    for _ in range(200):
        blob = rng.integers(0, 256, rng.integers(8, 4096), dtype=np.uint8).tobytes()
        blob = blob[:4] + b"TFL3" + blob[8:]
        try:
            eq.load(blob)
        except ModelFormatError as e:
            rejected += 1
            assert "\n" not in str(e)
    assert rejected == 200


def _exercise(m) -> None:
    """What inspect does with a model: every path that reads fields must hold up."""
    render(m)
    model_json(m)
    for _, t in m.tensors():
        try:
            t.numpy()
            if t.quantization is not None:
                t.dequantize()
        except EdgequantError:
            pass


def _mutations(data: bytes, rng, n: int):
    size = len(data)
    for _ in range(n):
        buf = bytearray(data)
        kind = rng.integers(0, 4)
        if kind == 0:  # flip a few random bytes in the structure (skip the big weight region often)
            for _ in range(rng.integers(1, 8)):
                buf[rng.integers(0, size)] = rng.integers(0, 256)
        elif kind == 1:  # write a random 32-bit word (offsets, lengths)
            at = int(rng.integers(0, size - 4)) & ~3
            buf[at:at + 4] = struct.pack("<I", int(rng.choice([0, 1, 2**31 - 1, 2**32 - 1, size, size - 4,
                                                              int(rng.integers(0, 2**32))])))
        elif kind == 2:  # truncate
            buf = buf[: rng.integers(8, size)]
        else:  # 16-bit word (vtable entries)
            at = int(rng.integers(0, size - 2)) & ~1
            buf[at:at + 2] = struct.pack("<H", int(rng.integers(0, 2**16)))
        yield bytes(buf)


@pytest.mark.parametrize("path", model_params())
def test_fuzz_mutated_shared_models(path):
    """Mutations of real models: only ModelFormatError (or a valid model) comes out, quickly."""
    data = path.read_bytes()
    rng = np.random.default_rng(len(data))
    n = 150 if len(data) < 400_000 else 40  # big models: fewer cases; their structure is small anyway
    t0 = time.perf_counter()
    for blob in _mutations(data, rng, n):
        try:
            m = eq.load(blob)
        except ModelFormatError:
            continue
        _exercise(m)
    assert time.perf_counter() - t0 < 60


def test_fuzz_covers_thousands_of_cases():
    """The parametrized fuzz above runs at least a few thousand mutated files in total."""
    models = shared_models()
    if not models:
        pytest.skip("shared models are absent")
    total = sum(150 if p.stat().st_size < 400_000 else 40 for p in models)
    assert total >= 3000


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "edgequant", *args], capture_output=True, text=True, timeout=120, check=False)


def test_cli_bad_files_print_one_line_and_exit_nonzero(tmp_path):
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(TINY[: len(TINY) // 2])
    for target in (corrupt, tmp_path / "missing.tflite", tmp_path):
        r = _cli("inspect", str(target))
        assert r.returncode == 2
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
        assert "Traceback" not in r.stderr


@pytest.mark.parametrize("command", [["mcu"], ["export-c", "-o", "{out}/model"], ["verify"],
                                     ["quantize", "-o", "{out}/q.tflite", "--mode", "float16"],
                                     ["hist", "-o", "{out}/h.png"], ["ranges", "-o", "{out}/r.png"]])
def test_every_command_names_the_bad_file_and_writes_nothing(tmp_path, command):
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(TINY[: len(TINY) // 2])
    out = tmp_path / "out"
    out.mkdir()
    for target in (corrupt, tmp_path / "missing.tflite"):
        r = _cli(command[0], str(target), *[a.format(out=out) for a in command[1:]])
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert lines[0].startswith(f"error: {target}: "), r.stderr
        assert not any(out.iterdir())


def test_cli_inspect_tiny_model(tmp_path):
    p = tmp_path / "tiny.tflite"
    p.write_bytes(TINY)
    r = _cli("inspect", str(p))
    assert r.returncode == 0, r.stderr
    assert "ADD" in r.stdout and "'a' float32[1, 4]" in r.stdout
    r = _cli("inspect", str(p), "--json")
    import json

    doc = json.loads(r.stdout)
    assert doc["subgraphs"][0]["operators"][0]["op"] == "ADD"
    assert doc["buffers"][1]["data"] == {"bytes": 16}
    assert doc["subgraphs"][0]["tensors"][1]["dtype"] == "float32"


def test_save_file_is_atomic_and_keeps_usual_permissions(tmp_path, monkeypatch):
    import os

    import edgequant.graph as g

    p = tmp_path / "m.tflite"
    eq.save_file(eq.load(TINY), p)
    assert eq.load_file(p).description == "tiny"
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask
    # a failure while writing leaves the old file whole and no temporary file behind
    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(g.os, "replace", boom)
    m = eq.load(TINY)
    m.description = "changed"
    with pytest.raises(EdgequantError, match=f"^{p}: cannot write \\(No space left on device\\)$"):
        eq.save_file(m, p)  # the error names the target, not the temporary file
    assert eq.load_file(p).description == "tiny"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["m.tflite"]


def test_writing_where_no_file_can_go_fails_first_and_names_the_path(tmp_path):
    from edgequant.graph import check_writable, write_atomic

    for bad, why in ((tmp_path / "no" / "m.tflite", "folder .* does not exist"), (tmp_path, "is a directory")):
        with pytest.raises(EdgequantError, match=why):
            check_writable(bad)
        with pytest.raises(EdgequantError, match=f"^{bad}: "):
            write_atomic(bad, b"x")
    assert list(tmp_path.iterdir()) == []


def test_shared_offsets_cannot_expand_a_small_file():
    """A 'billion laughs' file: 20k subgraph offsets to one subgraph whose 20k tensor offsets point at
    one tensor. Decoding naively would build 400M objects; we stop at the tables the file can hold."""
    import flatbuffers

    b = flatbuffers.Builder(1024)
    b.StartObject(11)  # Tensor with no fields
    tensor = b.EndObject()
    b.StartVector(4, 20000, 4)
    for _ in range(20000):
        b.PrependUOffsetTRelative(tensor)
    tensors = b.EndVector()
    b.StartObject(6)  # SubGraph.tensors
    b.PrependUOffsetTRelativeSlot(0, tensors, 0)
    sub = b.EndObject()
    b.StartVector(4, 20000, 4)
    for _ in range(20000):
        b.PrependUOffsetTRelative(sub)
    subs = b.EndVector()
    b.StartObject(10)  # Model.subgraphs
    b.PrependUOffsetTRelativeSlot(2, subs, 0)
    b.Finish(b.EndObject(), file_identifier=b"TFL3")
    data = bytes(b.Output())
    t0 = time.perf_counter()
    with pytest.raises(ModelFormatError, match="more tables than"):
        eq.load(data)
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize("command", [["verify", "{model}", "--data", "{data}"],
                                     ["compare", "{model}", "{model}", "--data", "{data}"],
                                     ["demo", "--model", "{model}", "--data", "{data}", "-o", "{out}"]])
def test_a_broken_data_file_is_one_line_for_every_command_that_reads_one(tmp_path, command):
    """verify, compare and demo with a truncated or empty .npz ended in a BadZipFile / EOFError traceback (exit
    1, which verify also uses for "outputs differ"); they now share quantize's loader."""
    model = Path(eq.__file__).parent / "data" / "digits_cnn.tflite"
    good = tmp_path / "good.npz"
    np.savez(good, x=np.zeros((4, 8, 8, 1), np.float32))
    half, empty = tmp_path / "half.npz", tmp_path / "empty.npz"
    half.write_bytes(good.read_bytes()[:200])
    empty.write_bytes(b"")
    out = tmp_path / "out"
    for data in (half, empty):
        r = _cli(*[a.format(model=model, data=data, out=out) for a in command])
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"error: {data}: "), r.stderr
        assert not out.exists()


def test_api_loaders_name_a_wrong_argument_type():
    """load(None) and load_file(123) raised Python's TypeError from deep inside (memoryview, os.fspath)."""
    with pytest.raises(eq.EdgequantError, match=r"load\(\) takes the model's bytes .*got NoneType"):
        eq.load(None)
    with pytest.raises(eq.EdgequantError, match=r"load_file\(\) takes a path, got int"):
        eq.load_file(123)
    with pytest.raises(eq.EdgequantError, match=r"got bytes; for the model's bytes use load\(\)"):
        eq.load_file(b"TFL3")


def test_export_c_refuses_a_keyword_and_mcu_one_path_for_two_outputs(tmp_path):
    """--name int wrote `const unsigned char int[]`, which no compiler takes; mcu --strip X --plot X left the
    picture where the stripped model had been written."""
    model = Path(eq.__file__).parent / "data" / "digits_cnn.tflite"
    r = _cli("export-c", str(model), "-o", str(tmp_path / "m.cc"), "--name", "int")
    assert r.returncode == 2 and r.stderr == "error: 'int' is a C/C++ keyword; choose another array name (e.g. " \
                                             "g_int_model)\n", r.stderr
    same = tmp_path / "s.tflite"
    r = _cli("mcu", str(model), "--strip", str(same), "--plot", str(same))
    assert r.returncode == 2 and "--plot and --strip both name" in r.stderr and r.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_random_inputs_for_an_absurd_shape_are_one_line(tmp_path):
    """A corrupt input shape [1, 128, 2**31 - 1, 1] (inspect and mcu read it fine) made verify die of MemoryError
    making random samples."""
    from edgequant.analysis.crosscheck import random_inputs

    m = eq.load_file(Path(eq.__file__).parent / "data" / "digits_cnn.tflite")
    m.main.tensors[m.main.inputs[0]].shape = [1, 128, 2**31 - 1, 1]
    with pytest.raises(eq.EdgequantError, match=r"has shape \[1, 128, 2147483647, 1\]: 20 random samples would "
                                                r"take .* GiB"):
        random_inputs(m, 20)
    assert [x.shape for x in random_inputs(eq.load_file(Path(eq.__file__).parent / "data" / "digits_cnn.tflite"),
                                           3)] == [(3, 8, 8, 1)]

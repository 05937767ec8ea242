"""Reader and writer: exact round trips, agreement with the official schema code and with LiteRT."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import LITERT_CANNOT_RUN, RANDOM_INPUTS_INVALID, model_params

import edgequant as eq
from edgequant import dtypes
from edgequant.flatbuffer.nodes import Node, visible_fields
from edgequant.graph import Buffer, Model, Operator, OperatorCode, QuantizationParameters, SubGraph, Tensor, new_node

litert = pytest.importorskip("ai_edge_litert.interpreter", reason="needs ai-edge-litert (pip install 'edgequant[litert]')")


def _data_offsets(model: Model) -> list[int]:
    base = np.frombuffer(model._source, np.uint8).ctypes.data
    return [b.data.ctypes.data - base for b in model.buffers if b.data is not None and b.data.size]


@pytest.mark.parametrize("path", model_params())
def test_round_trip_is_exact(path):
    m = eq.load_file(path)
    out = eq.save(m)
    m2 = eq.load(out)
    assert m2 == m
    for b1, b2 in zip(m.buffers, m2.buffers):  # every buffer byte
        assert (b1.data is None) == (b2.data is None) or b1.nbytes == b2.nbytes == 0
        if b1.nbytes:
            assert bytes(b1.data) == bytes(b2.data)
    assert eq.save(m2) == out  # deterministic
    assert all(off % 16 == 0 for off in _data_offsets(m2))
    assert m2.buffers[0].nbytes == 0


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _compare_with_object_api(ours, theirs, where: str) -> int:
    """Walk our Node against the official generated Object API (ModelT); return fields compared."""
    n = 0
    for f in visible_fields(ours._table):
        a = getattr(ours, f.name)
        b = getattr(theirs, _camel(f.name))
        here = f"{where}.{f.name}"
        if isinstance(a, Node):
            n += _compare_with_object_api(a, b, here)
        elif isinstance(a, list) and a and isinstance(a[0], Node):
            assert len(a) == len(b), here
            for i, (x, y) in enumerate(zip(a, b)):
                n += _compare_with_object_api(x, y, f"{here}[{i}]")
        elif a is None:
            assert b is None or (hasattr(b, "__len__") and len(b) == 0), here
            n += 1
        elif isinstance(a, str):
            assert a == (b.decode() if isinstance(b, bytes) else b), here
            n += 1
        else:
            assert np.array_equal(np.asarray(a), np.asarray(b)), here
            n += 1
    return n


@pytest.mark.parametrize("path", model_params())
def test_fields_match_official_schema_code(path):
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    data = path.read_bytes()
    theirs = schema.ModelT.InitFromPackedBuf(data, 0)
    assert _compare_with_object_api(eq.load(data), theirs, "Model") > 10


@pytest.mark.parametrize("path", model_params(LITERT_CANNOT_RUN))
def test_tensor_list_matches_litert(path):
    it = litert.Interpreter(model_path=str(path))
    m = eq.load_file(path)
    theirs = it.get_tensor_details()
    ours = m.main.tensors
    assert len(theirs) == len(ours)
    for d in theirs:
        t = ours[d["index"]]
        assert d["name"] == (t.name or "")
        assert np.dtype(d["dtype"]) == t.dtype
        assert list(d["shape"]) == list(t.shape)
        qp = d["quantization_parameters"]
        scales = t.quantization.scale if t.quantization is not None and t.quantization.scale is not None else []
        zps = t.quantization.zero_point if t.quantization is not None and t.quantization.zero_point is not None else []
        np.testing.assert_array_equal(qp["scales"], np.asarray(scales, np.float32))
        np.testing.assert_array_equal(qp["zero_points"], np.asarray(zps, np.int64))
        if len(scales):
            assert qp["quantized_dimension"] == t.quantization.quantized_dimension


def _random_inputs(it, rng):
    feeds = []
    for d in it.get_input_details():
        dt = np.dtype(d["dtype"])
        shape = d["shape"]
        if dt.kind == "f":
            x = rng.standard_normal(shape).astype(dt)
        else:
            info = np.iinfo(dt)
            x = rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dt)
        feeds.append((d["index"], x))
    return feeds


def _run(model_bytes: bytes, feeds) -> list[np.ndarray]:
    it = litert.Interpreter(model_content=model_bytes,
                            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for index, x in feeds:
        it.set_tensor(index, x)
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


@pytest.mark.parametrize("path", model_params(LITERT_CANNOT_RUN | RANDOM_INPUTS_INVALID))
def test_rewritten_model_runs_identically_in_litert(path):
    original = path.read_bytes()
    rewritten = eq.save(eq.load(original))
    it = litert.Interpreter(model_content=original)
    rng = np.random.default_rng(0)
    for _ in range(3):
        feeds = _random_inputs(it, rng)
        for a, b in zip(_run(original, feeds), _run(rewritten, feeds)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("path", model_params(LITERT_CANNOT_RUN | RANDOM_INPUTS_INVALID))
def test_external_buffers_round_trip_and_run(path):
    original = path.read_bytes()
    m = eq.load(original)
    ext = eq.save(m, external_data=True)
    m2 = eq.load(ext)
    assert m2._external or not any(b.nbytes for b in m.buffers)
    for b1, b2 in zip(m.buffers, m2.buffers):
        assert b1.nbytes == b2.nbytes and (b1.nbytes == 0 or bytes(b1.data) == bytes(b2.data))
        assert b2.offset % 16 == 0
    assert eq.save(m2, external_data=False) == eq.save(m)
    it = litert.Interpreter(model_content=original)
    feeds = _random_inputs(it, np.random.default_rng(1))
    for a, b in zip(_run(original, feeds), _run(ext, feeds)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("path", model_params())
def test_resaved_model_is_no_larger_than_the_original(path):
    """Issue #5: the writer packs at least as tightly as the tools that wrote the shared models
    (TFLiteConverter and ai-edge-quantizer through flatc's C++ builder, older converters)."""
    original = path.read_bytes()
    assert len(eq.save(eq.load(original))) <= len(original)


def _litert_load_error(data: bytes) -> str | None:
    """None if LiteRT's CompiledModel accepts the bytes (it runs the flatbuffers Verifier), else why not."""
    from ai_edge_litert.compiled_model import CompiledModel

    try:
        CompiledModel.from_buffer(data)
    except RuntimeError as e:
        return str(e) or type(e).__name__
    return None


@pytest.mark.parametrize("path", model_params())
def test_resaved_model_passes_litert_verifier(path):
    """Our layout aligns objects counted from the start of the file and puts them in our own order;
    the flatbuffers Verifier (alignment of every field, offsets in bounds) must agree."""
    pytest.importorskip("ai_edge_litert.compiled_model")
    original = path.read_bytes()
    why = _litert_load_error(original)
    if why is not None:
        pytest.skip(f"LiteRT's CompiledModel does not load the original either: {why.splitlines()[0]}")
    assert _litert_load_error(eq.save(eq.load(original))) is None


def test_litert_verifier_rejects_misaligned_fields(monkeypatch):
    """The check above has teeth: the same writer with 8-byte fields put 4 bytes off their alignment
    (Buffer.offset/size in an external-data file) is rejected."""
    pytest.importorskip("ai_edge_litert.compiled_model")
    from edgequant.flatbuffer import packer

    m = _tiny_model()
    assert _litert_load_error(eq.save(m, external_data=True)) is None
    real_init = packer.Obj.__init__

    def misaligned(self, head, align=4, phase=0, blob=None):
        real_init(self, head, align, 0 if align == 8 else phase, blob)

    monkeypatch.setattr(packer.Obj, "__init__", misaligned)
    assert "flatbuffer" in _litert_load_error(eq.save(m, external_data=True)).lower()


def _tiny_model() -> Model:
    """ADD of an input and a constant; saved with external data, its Buffer tables hold 8-byte fields."""
    m = Model(version=3, buffers=[Buffer()], operator_codes=[], description="tiny")
    sg = SubGraph(tensors=[], inputs=[], outputs=[], operators=[], name="main")
    m.subgraphs = [sg]
    m.bind()
    a = sg.add_tensor(Tensor(name="a", type=dtypes.FLOAT32, shape=[1, 4]))
    b = sg.add_tensor(Tensor(name="b", type=dtypes.FLOAT32, shape=[1, 4],
                             buffer=m.add_buffer(np.arange(4, dtype=np.float32).reshape(1, 4))))
    c = sg.add_tensor(Tensor(name="c", type=dtypes.FLOAT32, shape=[1, 4]))
    sg.inputs, sg.outputs = [a], [c]
    sg.operators = [Operator(opcode_index=m.op_code_index("ADD"), inputs=[a, b], outputs=[c],
                             builtin_options=new_node("AddOptions"))]
    return m


@pytest.mark.parametrize("path", model_params(RANDOM_INPUTS_INVALID))
def test_resaved_model_runs_identically_in_tflite_micro(path):
    """tflite-micro reads the flatbuffer without a verifier, straight through the offsets: same outputs."""
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    original = path.read_bytes()
    m = eq.load(original)
    try:
        it = runtime.Interpreter.from_bytes(original, arena_size=8_000_000)
    except RuntimeError as e:
        pytest.skip(f"tflite-micro cannot run the original: {e}")
    rng = np.random.default_rng(2)
    feeds = []
    for i in range(len(m.main.inputs)):
        d = it.get_input_details(i)
        dt, shape = np.dtype(d["dtype"]), d["shape"]
        if dt.kind == "f":
            feeds.append(rng.standard_normal(shape).astype(dt))
        else:
            info = np.iinfo(dt)
            feeds.append(rng.integers(max(info.min, -1000), min(info.max, 1000), size=shape, endpoint=True).astype(dt))
    outputs = []
    for data in (original, eq.save(m)):
        it = runtime.Interpreter.from_bytes(data, arena_size=8_000_000)
        for i, x in enumerate(feeds):
            it.set_input(x, i)
        it.invoke()
        outputs.append([it.get_output(j).copy() for j in range(len(m.main.outputs))])
    for a, b in zip(*outputs):
        np.testing.assert_array_equal(a, b)


def test_scalar_that_does_not_fit_its_field_names_it():
    m = _tiny_model()
    m.main.tensors[1].buffer = -1
    with pytest.raises(eq.EdgequantError, match=r"Tensor\.buffer = -1 does not fit a uint"):
        eq.save(m)


def test_empty_tables_are_shared_and_read_back_as_defaults():
    """Tables with every field at its default have nothing to read or change in place: one copy per type
    serves every parent. The official generated reader sees the same position and the defaults."""
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    m = _tiny_model()
    empty = [0] + [m.add_buffer(None) for _ in range(3)]
    data = eq.save(m)
    root = schema.Model.GetRootAs(data, 0)
    positions = [root.Buffers(i)._tab.Pos for i in range(root.BuffersLength())]
    assert len({positions[i] for i in empty}) == 1
    assert len(set(positions)) == len(positions) - len(empty) + 1  # the buffer with data has its own
    for i in empty:
        b = root.Buffers(i)
        assert b.DataIsNone() and b.Offset() == 0 and b.Size() == 0
    assert eq.load(data) == m


def test_tensor_values_have_their_real_dtype(tmp_path):
    """A model built by hand: every dtype comes back as itself, and int8 per-channel dequantizes per channel."""
    w = np.arange(-6, 6, dtype=np.int8).reshape(3, 4)
    m = Model(version=3, buffers=[Buffer()], operator_codes=[], description="hand made")
    sg = SubGraph(tensors=[], inputs=[], outputs=[], operators=[], name="main")
    m.subgraphs = [sg]
    m.bind()
    qp = QuantizationParameters(scale=np.array([0.5, 0.25, 2.0], np.float32), zero_point=np.zeros(3, np.int64),
                                quantized_dimension=0)
    tw = sg.add_tensor(Tensor(name="w", type=dtypes.INT8, shape=[3, 4], buffer=m.add_buffer(w), quantization=qp))
    h = np.array([1.5, -2.25], np.float16)
    th = sg.add_tensor(Tensor(name="h", type=dtypes.FLOAT16, shape=[2], buffer=m.add_buffer(h)))
    i64 = np.array([2**40, -3], np.int64)
    ti = sg.add_tensor(Tensor(name="i", type=dtypes.INT64, shape=[2], buffer=m.add_buffer(i64)))
    tout = sg.add_tensor(Tensor(name="out", type=dtypes.FLOAT32, shape=[3, 4]))
    sg.inputs, sg.outputs = [tout], [tout]
    sg.operators = [Operator(opcode_index=m.op_code_index("DEQUANTIZE"), inputs=[tw], outputs=[tout],
                             builtin_options=new_node("DequantizeOptions"))]
    path = tmp_path / "hand.tflite"
    eq.save_file(m, path)
    m2 = eq.load_file(path)
    t = m2.main.tensors
    assert t[tw].numpy().dtype == np.int8 and np.array_equal(t[tw].numpy(), w)
    assert not t[tw].numpy().flags.writeable
    np.testing.assert_array_equal(t[tw].dequantize(), w * np.array([[0.5], [0.25], [2.0]], np.float32))
    assert t[th].numpy().dtype == np.float16 and np.array_equal(t[th].numpy(), h)
    assert t[ti].numpy().dtype == np.int64 and np.array_equal(t[ti].numpy(), i64)
    assert m2.description == "hand made" and m2.op_name(m2.main.operators[0]) == "DEQUANTIZE"
    assert m2.main.operators[0].options.table_name() == "DequantizeOptions"


def test_int4_values_unpack_low_nibble_first():
    raw = np.array([0x21, 0xF3, 0x08], np.uint8)  # low nibble first: 1, 2, 3, -1, -8, (pad)
    vals = dtypes.unpack_subbyte(raw, dtypes.INT4, 5)
    np.testing.assert_array_equal(vals, np.array([1, 2, 3, -1, -8], np.int8))


def test_opcode_uses_the_larger_of_the_two_code_fields():
    assert OperatorCode(deprecated_builtin_code=127, builtin_code=126).code == 127
    assert OperatorCode(deprecated_builtin_code=127, builtin_code=150).name == "GELU"
    assert OperatorCode(deprecated_builtin_code=3, builtin_code=0).name == "CONV_2D"


def test_blockwise_tensor_dequantizes_per_block():
    """One scale (and zero point) per block of the last axis, read from the tensors the details name."""
    q = np.array([[1, 2, 3, 4, -1, -2, -3, -4], [10, 10, 10, 10, 0, 0, 0, 0]], np.int8)
    scales = np.array([[0.5, 2.0], [0.1, 1.0]], np.float32)
    zps = np.array([[0, 1], [10, 0]], np.int32)
    m = Model(version=3, buffers=[Buffer()], operator_codes=[])
    sg = SubGraph(tensors=[], inputs=[], outputs=[], operators=[], name="main")
    m.subgraphs = [sg]
    m.bind()
    ts = sg.add_tensor(Tensor(name="s", type=dtypes.FLOAT32, shape=[2, 2], buffer=m.add_buffer(scales)))
    tz = sg.add_tensor(Tensor(name="z", type=dtypes.INT32, shape=[2, 2], buffer=m.add_buffer(zps)))
    details = new_node("BlockwiseQuantization", scales=ts, zero_points=tz, block_size=4)
    tq = sg.add_tensor(Tensor(name="w", type=dtypes.INT8, shape=[2, 8], buffer=m.add_buffer(q),
                              quantization=QuantizationParameters(details=details)))
    m2 = eq.load(eq.save(m))
    got = m2.main.tensors[tq].dequantize()
    want = np.array([[0.5, 1, 1.5, 2, -4, -6, -8, -10], [0, 0, 0, 0, 0, 0, 0, 0]], np.float32)
    np.testing.assert_array_equal(got, want)
    m2.main.tensors[tq].quantization.details.block_size = 3
    with pytest.raises(eq.ModelFormatError, match="block size 3"):
        m2.main.tensors[tq].dequantize()

"""Flash breakdown adds up; --strip keeps outputs bit-identical in LiteRT and tflite-micro; the mcu CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import MODELS, model_params, need_shared

import edgequant
from edgequant.analysis.flash import flash_report, strip
from edgequant.cli import main

# int8 models both runtimes run (the person-detect model is rejected by LiteRT, see conftest)
STRIP_MODELS = ["tflm_hello_world_int8.tflite", "mlperf_tiny_kws_dscnn_int8.tflite", "tflm_micro_speech_int8.tflite",
                "mlperf_tiny_ic_resnet8_int8.tflite", "tflm_simple_add.tflite"]


@pytest.mark.parametrize("path", model_params())
def test_categories_sum_to_file_size_and_weights_match_buffers(path):
    data = path.read_bytes()
    model = edgequant.load(data)
    r = flash_report(model, len(data))
    assert sum(r.categories.values()) == len(data)
    assert r.categories["graph_structure"] >= 0
    const_bufs = {t.buffer: t.data_bytes for _, t in model.tensors() if t.is_constant}
    assert r.categories["weights"] + r.categories["biases"] == sum(const_bufs.values())


def _inputs(details, rng):
    out = []
    for d in details:
        dt = np.dtype(d["dtype"])
        if dt.kind in "iu":
            info = np.iinfo(dt)
            out.append(rng.integers(info.min, info.max, size=d["shape"], endpoint=True).astype(dt))
        else:
            out.append(rng.standard_normal(d["shape"]).astype(dt))
    return out


def _litert(data, xs):
    lit = pytest.importorskip("ai_edge_litert.interpreter")
    it = lit.Interpreter(model_content=data, experimental_op_resolver_type=lit.OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), xs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]


def _tflm(data, xs):
    runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    it = runtime.Interpreter.from_bytes(data, arena_size=4_000_000)  # default (10x file) shrinks with --strip
    for k, x in enumerate(xs):
        it.set_input(x, k)
    it.invoke()
    return [it.get_output(0).copy()]


@pytest.mark.parametrize("name", STRIP_MODELS)
def test_strip_is_smaller_and_outputs_are_identical(name):
    data = need_shared(MODELS / name).read_bytes()
    model = edgequant.load(data)
    small = edgequant.save(strip(model))
    assert len(small) < len(data)
    again = edgequant.load(small)
    assert all(not t.name for _, t in again.tensors()) and not again.description
    lit = pytest.importorskip("ai_edge_litert.interpreter")
    probe = lit.Interpreter(model_content=data)
    xs = _inputs(probe.get_input_details(), np.random.default_rng(3))
    for a, b in zip(_litert(data, xs), _litert(small, xs)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(_tflm(data, xs), _tflm(small, xs)):
        np.testing.assert_array_equal(a, b)


def test_keep_signatures_is_an_option():
    data = need_shared(MODELS / "tflm_simple_add.tflite").read_bytes()
    lit = pytest.importorskip("ai_edge_litert.interpreter")
    model = edgequant.load(data)
    kept = lit.Interpreter(model_content=edgequant.save(strip(model, keep_signatures=True)))
    dropped = lit.Interpreter(model_content=edgequant.save(strip(model)))
    assert list(kept.get_signature_list()) == ["serving_default"]
    assert list(dropped.get_signature_list()) == []


def test_strip_keeps_the_offline_memory_plan_metadata():
    model = edgequant.load_file(need_shared(MODELS / "tflm_hello_world_int8.tflite"))
    from edgequant.graph import new_node

    k = model.add_buffer(np.arange(4, dtype=np.int32))
    model.metadata = list(model.metadata or []) + [new_node("Metadata", name="OfflineMemoryAllocation", buffer=k)]
    out = edgequant.load(edgequant.save(strip(model)))
    assert [m.name for m in out.metadata] == ["OfflineMemoryAllocation"]
    np.testing.assert_array_equal(out.buffers[out.metadata[0].buffer].data.view(np.int32), np.arange(4))


def test_mcu_cli_exit_codes_json_and_plot(tmp_path, capsys):
    good = need_shared(MODELS / "mlperf_tiny_kws_dscnn_int8.tflite")
    bad = need_shared(MODELS / "mlperf_tiny_kws_dscnn_float32.tflite")
    png = tmp_path / "t.png"
    assert main(["mcu", str(good), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "planned non-persistent" in text and "16,000 B" in text  # tflite-micro's recorded head
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["mcu", str(bad), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["can_run"] is False and any(f["rule"] == "hybrid-op" for f in report["lint"])
    assert sum(report["flash"]["categories"].values()) == report["flash"]["file_size"]
    assert main(["mcu", str(tmp_path / "missing.tflite")]) == 2
    assert capsys.readouterr().err.startswith("error:")

"""export-c: the C array compiles and holds exactly the file's bytes; the resolver lists the right ops."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import MODELS, need_shared

import edgequant
from edgequant.analysis.export_c import export_c, resolver_method, used_ops
from edgequant.cli import main


def test_resolver_method_names_match_tflite_micro_spelling():
    # names as in tflite-micro's micro_mutable_op_resolver.h
    assert resolver_method("CONV_2D") == "AddConv2D"
    assert resolver_method("DEPTHWISE_CONV_2D") == "AddDepthwiseConv2D"
    assert resolver_method("AVERAGE_POOL_2D") == "AddAveragePool2D"
    assert resolver_method("FULLY_CONNECTED") == "AddFullyConnected"
    assert resolver_method("BATCH_TO_SPACE_ND") == "AddBatchToSpaceNd"
    assert resolver_method("PADV2") == "AddPadV2"
    assert resolver_method("UNIDIRECTIONAL_SEQUENCE_LSTM") == "AddUnidirectionalSequenceLSTM"
    assert resolver_method("CUSTOM:TFLite_Detection_PostProcess") == "AddDetectionPostprocess"


def test_cli_writes_files_that_compile_and_hold_the_model(tmp_path):
    path = need_shared(MODELS / "mlperf_tiny_kws_dscnn_int8.tflite")
    out = tmp_path / "model_data.cc"
    assert main(["export-c", str(path), "-o", str(out)]) == 0
    cc, h = out.read_text(), (tmp_path / "model_data.h").read_text()
    assert "alignas(16) const unsigned char g_model[]" in cc and "g_model_len" in h
    for line in ("resolver.AddConv2D();", "resolver.AddDepthwiseConv2D();", "resolver.AddAveragePool2D();",
                 "resolver.AddFullyConnected();", "resolver.AddReshape();", "resolver.AddSoftmax();",
                 "MicroMutableOpResolver<6>"):
        assert line in h, line
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("no g++ on this machine")
    # compile the generated .cc, plus a tiny checker that writes the array back out
    main_cc = tmp_path / "dump.cc"
    main_cc.write_text('#include <cstdio>\n#include <cstdint>\n#include "model_data.h"\n'
                       "int main() { if (reinterpret_cast<std::uintptr_t>(g_model) % 16) return 3;\n"
                       "  fwrite(g_model, 1, g_model_len, stdout); return 0; }\n")
    subprocess.run([gxx, "-std=c++11", "-c", str(out), "-o", str(tmp_path / "model_data.o")], check=True)
    exe = tmp_path / "dump"
    subprocess.run([gxx, "-std=c++11", str(main_cc), str(tmp_path / "model_data.o"), "-o", str(exe)],
                   check=True, cwd=tmp_path)
    dumped = subprocess.run([str(exe)], capture_output=True, check=True).stdout
    assert dumped == path.read_bytes()


def test_used_ops_cover_every_subgraph():
    path = need_shared(MODELS / "litert_multi_signature_model.tflite")
    assert sorted(used_ops(edgequant.load_file(path))) == ["ADD", "MUL", "SUB"]


def test_bad_array_name_is_a_one_line_error(tmp_path, capsys):
    path = need_shared(MODELS / "tflm_hello_world_int8.tflite")
    assert main(["export-c", str(path), "-o", str(tmp_path / "m.cc"), "--name", "2bad"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1


def test_export_c_of_bytes_is_deterministic():
    path = need_shared(MODELS / "tflm_hello_world_int8.tflite")
    data = path.read_bytes()
    assert export_c(data, edgequant.load(data)) == export_c(data, edgequant.load(data))


def test_signal_library_ops_use_the_resolvers_own_methods():
    """The audio front end's Signal* custom ops got `AddCustom("SignalWindow", /* your TfLiteRegistration* */)`
    and an mcu warning to build the signal library, though MicroMutableOpResolver registers each of them by a
    method of its own (AddWindow(), AddRfft(), ...), as tflite-micro's micro_speech example does."""
    from edgequant.analysis.lint import INFO, lint

    for custom, method in [("SignalWindow", "AddWindow"), ("SignalFftAutoScale", "AddFftAutoScale"),
                           ("SignalFilterBankSpectralSubtraction", "AddFilterBankSpectralSubtraction"),
                           ("SignalPCAN", "AddPCAN"), ("SignalRfft", "AddRfft")]:
        assert resolver_method(f"CUSTOM:{custom}") == method
    assert resolver_method("CUSTOM:MyOp") == 'AddCustom("MyOp", /* your TFLMRegistration* */)'
    path = MODELS / "tflm_audio_preprocessor_int8.tflite"
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/models)")
    customs = [f for f in lint(edgequant.load_file(path)) if f.rule == "custom-op"]
    assert customs and all(f.severity == INFO and "ships with tflite-micro" in f.message for f in customs)

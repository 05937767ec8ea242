"""The command line as a whole: every subcommand listed, missing extras named, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import edgequant as eq

MODEL = Path(eq.__file__).parent / "data" / "digits_cnn.tflite"

BLOCK = "import sys; sys.modules[{mod!r}] = None; from edgequant.cli import main; sys.exit(main({argv!r}))"


def _run(*args):
    return subprocess.run([sys.executable, "-m", "edgequant", *args], capture_output=True, text=True, timeout=120, check=False)


def test_help_lists_every_subcommand():
    r = _run("--help")
    assert r.returncode == 0
    for name in ("inspect", "hist", "ranges", "quantize", "compare", "verify", "mcu", "export-c", "demo"):
        assert name in r.stdout, name


def test_no_subcommand_prints_help_and_fails():
    r = _run()
    assert r.returncode == 2 and "COMMAND" in r.stdout


@pytest.mark.parametrize("module, argv, extra", [
    ("matplotlib", ["hist", str(MODEL), "-o", "never.png"], "plot"),
    ("matplotlib", ["ranges", str(MODEL), "-o", "never.png"], "plot"),
    # compare printed its whole table before saying the extra was missing
    ("matplotlib", ["compare", str(MODEL), str(MODEL), "--plot", "never.png"], "plot"),
])
def test_missing_extra_names_the_pip_command(tmp_path, module, argv, extra):
    r = subprocess.run([sys.executable, "-c", BLOCK.format(mod=module, argv=argv)], capture_output=True,
                       text=True, timeout=120, cwd=tmp_path, check=False)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == f"error: {module} is not installed; run: pip install 'edgequant[{extra}]'"
    assert not (tmp_path / "never.png").exists()


def test_keras_bridge_without_tensorflow_names_the_extra():
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "from edgequant import keras as ek\n"
            "from edgequant.errors import MissingExtraError\n"
            "try:\n    ek.to_tflite(object())\nexcept MissingExtraError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert r.stdout.strip() == "tensorflow is not installed; run: pip install 'edgequant[tf]'"


def _long_chain(path: Path, n: int) -> None:
    """x -> ADD(x, x) -> ... n times: an inspect listing far bigger than a pipe's buffer."""
    from edgequant import dtypes
    from edgequant.graph import Buffer, Model, Operator, SubGraph, Tensor, new_node

    m = Model(version=3, buffers=[Buffer()], operator_codes=[], description="chain")
    sg = SubGraph(tensors=[], inputs=[], outputs=[], operators=[], name="main")
    m.subgraphs = [sg]
    m.bind()
    prev = sg.add_tensor(Tensor(name="x", type=dtypes.FLOAT32, shape=[1, 4]))
    sg.inputs = [prev]
    for k in range(n):
        t = sg.add_tensor(Tensor(name=f"add_{k}", type=dtypes.FLOAT32, shape=[1, 4]))
        sg.operators.append(Operator(opcode_index=m.op_code_index("ADD"), inputs=[prev, prev], outputs=[t],
                                     builtin_options=new_node("AddOptions")))
        prev = t
    sg.outputs = [prev]
    eq.save_file(m, path)


def test_output_piped_into_head_ends_quietly(tmp_path):
    """`edgequant inspect big.tflite | head -1`: the reader closes the pipe early; no error, exit 0."""
    _long_chain(tmp_path / "chain.tflite", 2000)
    p = subprocess.Popen([sys.executable, "-m", "edgequant", "inspect", str(tmp_path / "chain.tflite")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    p.stdout.close()  # the listing is ~200 kB: the rest is written into a closed pipe
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 0 and first.startswith(b"model:")
    assert err == ""


def test_core_import_does_not_pull_optional_extras():
    code = ("import sys, edgequant, edgequant.cli.inspect\n"
            "print(sorted(m for m in ('matplotlib', 'tensorflow', 'ai_edge_litert', 'tflite_micro', 'flatbuffers') "
            "if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr


def test_quantize_with_a_keep_float_pattern_that_matches_nothing_writes_nothing(tmp_path):
    out = tmp_path / "q.tflite"
    r = _run("quantize", str(MODEL), "-o", str(out), "--mode", "dynamic_int8", "--keep-float", "dense_typo")
    assert r.returncode != 0 and not out.exists()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "'dense_typo'" in lines[0] and "matches no op" in lines[0], r.stderr


def test_quantize_min_weight_elements_flag_reaches_the_recipe(tmp_path):
    import json

    out = tmp_path / "q.tflite"
    r = _run("quantize", str(MODEL), "-o", str(out), "--mode", "dynamic_int8", "--min-weight-elements", "0", "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["recipe"]["min_weight_elements"] == 0 and rep["float_ops"] == []
    assert any("CONV_2D" in q for q in rep["quantized_ops"])


def test_inspect_bad_pattern_or_subgraph_is_one_line(capsys):
    """A bad regex was a 34-line re.error traceback; --subgraph 5 on a one-subgraph model printed nothing, exit 0."""
    from edgequant.cli import main

    cases = [(["--ops", "("], "--ops '(': not a regular expression (missing ), unterminated subpattern"),
             (["--tensors", "["], "--tensors '[': not a regular expression (unterminated character set"),
             (["--json", "--ops", "("], "--ops '(': not a regular expression"),
             (["--subgraph", "5"], "--subgraph 5: out of range (the model has 1 subgraph: 0)"),
             (["--subgraph", "-1"], "--subgraph -1: out of range")]
    for argv, message in cases:
        assert main(["inspect", str(MODEL), *argv]) == 2, argv
        captured = capsys.readouterr()
        assert captured.err.startswith(f"error: {message}") and captured.err.count("\n") == 1, captured.err
        assert captured.out == ""
    assert main(["inspect", str(MODEL), "--subgraph", "0", "--ops", "conv|FULLY"]) == 0
    out = capsys.readouterr().out
    assert "CONV_2D" in out and "FULLY_CONNECTED" in out and "MAX_POOL_2D" not in out


def _calib(tmp_path, n: int) -> Path:
    x = np.load(MODEL.parent / "digits_test.npz")["x"][:n]
    np.save(tmp_path / "x.npy", x)
    return tmp_path / "x.npy"


def test_quantize_held_out_is_checked_and_the_split_is_said(tmp_path, capsys):
    """--held-out -3 was accepted, and --held-out 100 of 100 samples calibrated on 1 sample without a word."""
    from edgequant.cli import main

    calib, out = _calib(tmp_path, 100), tmp_path / "q.tflite"
    with pytest.raises(SystemExit) as e:
        main(["quantize", str(MODEL), "-o", str(out), "--calib", str(calib), "--held-out", "-3"])
    assert e.value.code == 2 and "argument --held-out: -3 is negative" in capsys.readouterr().err
    assert main(["quantize", str(MODEL), "-o", str(out), "--calib", str(calib), "--held-out", "100"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: --held-out 100: {calib} has 100 samples; hold out fewer so that some are left to " \
                  "calibrate on\n", err
    assert not out.exists()
    assert main(["quantize", str(MODEL), "-o", str(out), "--calib", str(calib), "--held-out", "99", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["calibration"]["samples"] == 1 and rep["held_out"] == 99 and "sqnr_db" in rep
    assert main(["quantize", str(MODEL), "-o", str(out), "--calib", str(calib), "--held-out", "0"]) == 0
    assert "calibration: 100 samples, " in (text := capsys.readouterr().out)
    assert "; none held out, so no SQNR measured\n" in text and "SQNR vs float" not in text


def test_quantize_float16_says_which_options_do_nothing(tmp_path, capsys):
    from edgequant.cli import main

    out = tmp_path / "q.tflite"
    tflm = f"note: for tflite-micro, {out} is not usable as written: float16-weights;"  # always, in float16 mode

    def notes() -> list[str]:
        lines = capsys.readouterr().err.splitlines()
        assert lines[-1].startswith(tflm), lines
        return lines[:-1]

    assert main(["quantize", str(MODEL), "-o", str(out), "--mode", "float16", "--per-tensor",
                 "--observer", "percentile"]) == 0
    assert notes() == ["note: not used by mode float16: --per-tensor, --observer"]
    assert main(["quantize", str(MODEL), "-o", str(out), "--mode", "float16"]) == 0
    assert notes() == []
    calib = tmp_path / "c.npy"
    np.save(calib, np.random.default_rng(0).random((10,) + tuple(eq.load_file(MODEL).main.tensors[0].shape[1:]),
                                                   np.float32))
    assert main(["quantize", str(MODEL), "-o", str(out), "--mode", "float16", "--calib", str(calib)]) == 0
    assert notes() == [("note: mode float16 needs no calibration; --calib only measures the SQNR on its held-out "
                        "samples")]


def test_quantize_says_when_nothing_was_quantized(tmp_path, capsys):
    from edgequant.cli import main

    out = tmp_path / "q.tflite"
    assert main(["quantize", str(MODEL), "-o", str(out), "--mode", "weight_only_int8",
                 "--min-weight-elements", "1000000"]) == 0
    err = capsys.readouterr().err
    assert err == f"note: no op was quantized; {out} computes exactly as {MODEL} does\n"


@pytest.mark.parametrize("content, msg", [
    (b"not a zip, not an array", ("not a .npy or .npz file (it does not begin like numpy's formats; pickles are "
                                  "not loaded, for safety)")),
    (None, "holds no arrays"),
])
def test_quantize_names_an_unreadable_or_empty_calibration_file(tmp_path, capsys, content, msg):
    from edgequant.cli import main

    calib = tmp_path / "c.npz"
    if content is None:
        np.savez(calib)
    else:
        calib.write_bytes(content)
    assert main(["quantize", str(MODEL), "-o", str(tmp_path / "q.tflite"), "--calib", str(calib)]) == 2
    assert capsys.readouterr().err == f"error: {calib}: {msg}\n"
    assert not (tmp_path / "q.tflite").exists()


def _broken_calibration_files(tmp_path: Path) -> list[tuple[Path, str]]:
    """(file, the message's start) for calibration files that are broken in the ways files break."""
    x = np.random.default_rng(0).random((4, 8, 8, 1), np.float32)
    np.savez(tmp_path / "ok.npz", x=x)
    np.savez_compressed(tmp_path / "okc.npz", x=x)
    np.save(tmp_path / "ok.npy", x)
    cases = []
    for src in ("ok.npz", "okc.npz", "ok.npy"):
        raw = (tmp_path / src).read_bytes()
        half = tmp_path / f"half_{src}"
        half.write_bytes(raw[:len(raw) // 2])
        flip = bytearray(raw)
        flip[-len(raw) // 3] ^= 0xFF  # inside the array data, or in a zip's compressed stream
        flipped = tmp_path / f"flip_{src}"
        flipped.write_bytes(bytes(flip))
        kind = src[-4:]
        cases.append((half, f"truncated or corrupt {kind} file ("))
        if kind == ".npz":  # a flipped byte in raw .npy data is a different number, not a detectable error
            cases.append((flipped, f"truncated or corrupt {kind} file ("))
    obj = np.array([1, "a", None], dtype=object)
    np.savez(tmp_path / "obj.npz", x=obj, allow_pickle=True)
    np.save(tmp_path / "obj.npy", obj, allow_pickle=True)
    for name in ("obj.npz", "obj.npy"):
        cases.append((tmp_path / name, "holds an object (pickled) array, which is not loaded, for safety"))
    return cases


def test_quantize_names_a_truncated_corrupt_or_pickled_calibration_file(tmp_path, capsys):
    """A truncated or corrupt .npz/.npy and an object array inside one were tracebacks (BadZipFile, ValueError)
    from the CLI and raw exceptions from the API: now one line naming the file, nothing written."""
    from edgequant.cli import main
    from edgequant.errors import EdgequantError

    for calib, msg in _broken_calibration_files(tmp_path):
        out = tmp_path / "q.tflite"
        assert main(["quantize", str(MODEL), "-o", str(out), "--mode", "dynamic_int8", "--calib", str(calib)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {calib}: {msg}") and err.count("\n") == 1, (calib.name, err)
        assert not out.exists()
        with pytest.raises(EdgequantError, match="truncated or corrupt|object .pickled"):
            eq.quantize(str(MODEL), "int8", str(calib))


def test_quantize_writes_nothing_when_interrupted_while_measuring(tmp_path, monkeypatch, capsys):
    """Ctrl-C during the held-out SQNR left the complete -o file with exit code 130: the file is now written
    after the measurement."""
    from edgequant.cli import main, quantize

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(quantize, "_sqnr", interrupted)
    out = tmp_path / "q.tflite"
    assert main(["quantize", str(MODEL), "-o", str(out), "--calib", str(_calib(tmp_path, 20))]) == 130
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "x.npy"]


def test_keeping_every_op_float_keeps_the_models_io_float(tmp_path, capsys):
    """--keep-float '.' with the default --io int8 left the input float but made the output int8 through a
    QUANTIZE, while the note said the model computes exactly as the float model does."""
    from edgequant.cli import main

    out = tmp_path / "q.tflite"
    assert main(["quantize", str(MODEL), "-o", str(out), "--calib", str(_calib(tmp_path, 20)),
                 "--keep-float", ".", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    q = eq.load_file(out)
    assert [q.main.tensors[i].dtype for i in list(q.main.inputs) + list(q.main.outputs)] == [np.float32] * 2
    assert "QUANTIZE" not in [q.op_name(op) for op in q.main.operators]
    assert all(v == float("inf") for v in summary["sqnr_db"].values()), summary["sqnr_db"]


@pytest.mark.parametrize("argv, says", [
    (["quantize", str(MODEL), "-o", "q.tflite", "--mode", "foo"], "edgequant quantize: error: argument --mode: "),
    (["quantize", str(MODEL), "-o", "q.tflite", "--held-out", "-3"], "edgequant quantize: error: argument --held-out"),
    (["bogus"], "edgequant: error: argument COMMAND: invalid choice: 'bogus'"),
    (["inspect"], "edgequant inspect: error: the following arguments are required: model"),
])
def test_a_command_line_mistake_is_one_line(capsys, argv, says):
    """argparse printed its usage text (12 lines for quantize) above the one line that says what is wrong."""
    from edgequant.cli import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith(says) and err.count("\n") == 1, err
    assert err.rstrip().endswith("--help)")


def test_model_and_recipe_errors_name_the_file(tmp_path, capsys):
    """"model is already quantized: ..." and "recipe: not valid JSON" did not say which file."""
    from edgequant.cli import main

    q = tmp_path / "q.tflite"
    eq.save_file(eq.quantize(str(MODEL), "dynamic_int8"), q)
    for mode in ("dynamic_int8", "float16"):
        assert main(["quantize", str(q), "-o", str(tmp_path / "qq.tflite"), "--mode", mode]) == 2
        assert capsys.readouterr().err.startswith(f"error: {q}: model is already quantized: ")
    recipe = tmp_path / "r.json"
    recipe.write_text('{"mode": ')
    assert main(["quantize", str(MODEL), "-o", str(tmp_path / "qq.tflite"), "--recipe", str(recipe)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {recipe}: recipe: not valid JSON")
    assert not (tmp_path / "qq.tflite").exists()


def _two_subgraph_model(path: Path) -> None:
    from edgequant import dtypes
    from edgequant.graph import Buffer, Model, Operator, SubGraph, Tensor

    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()])
    for name in ("main", "other"):
        sg = SubGraph(tensors=[Tensor(name=n, type=dtypes.FLOAT32, shape=[1, 4], buffer=0) for n in ("x", "y")],
                      operators=[], inputs=[0], outputs=[1], name=name)
        m.subgraphs.append(sg)
        sg.operators.append(Operator(opcode_index=m.op_code_index("RELU"), inputs=[0], outputs=[1]))
    eq.save_file(m.bind(), path)


def test_quantize_reports_the_models_problem_before_asking_for_data(tmp_path, capsys):
    """int8 on a two-subgraph model asked for --calib first, then rejected the model once it was given."""
    from edgequant.cli import main

    model = tmp_path / "two.tflite"
    _two_subgraph_model(model)
    assert main(["quantize", str(model), "-o", str(tmp_path / "q.tflite"), "--mode", "int8"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {model}: full-integer quantization handles models with one subgraph; this one "
                          f"has 2"), err


def test_calibration_shape_errors_do_not_call_the_whole_array_a_sample(tmp_path):
    from edgequant.errors import EdgequantError
    from edgequant.quantizer.data import load_calibration

    m = eq.load_file(MODEL)
    with pytest.raises(EdgequantError) as e:
        load_calibration(np.zeros((10, 9, 9, 1), np.float32), m)
    assert "has shape [10, 9, 9, 1]: 10 samples of shape [9, 9, 1]; the model expects samples of shape " \
           "[8, 8, 1]" in str(e.value) and "sample 0" not in str(e.value)
    with pytest.raises(EdgequantError, match=r"item 1 has shape \[9, 9, 1\] \(an item is one sample or a batch"):
        load_calibration([np.zeros((8, 8, 1)), np.zeros((9, 9, 1))], m)
    # a 4-tuple is no Keras (x, y[, w]) item: numpy's "inhomogeneous shape" ValueError escaped
    with pytest.raises(EdgequantError, match=r"sample 0, input '.*': a tuple of differently shaped items"):
        load_calibration([(np.zeros((8, 8, 1), np.float32), 1, 2, 3)], m)


def test_counts_in_messages_are_singular_for_one(tmp_path, capsys):
    """'1 ops', '1 samples': a count of one takes the singular."""
    from edgequant._words import counted
    from edgequant.cli import main

    assert [counted(n, "op") for n in (0, 1, 2, 1234)] == ["0 ops", "1 op", "2 ops", "1,234 ops"]
    assert counted(1, "batch", "batches") == "1 batch" and counted(3, "batch", "batches") == "3 batches"
    model = tmp_path / "two.tflite"
    _two_subgraph_model(model)
    assert main(["inspect", str(model)]) == 0
    assert "== subgraph 0 'main': 1 op, 2 tensors" in capsys.readouterr().out
    assert main(["inspect", str(model), "--subgraph", "2"]) == 2
    assert "(the model has 2 subgraphs: 0..1)" in capsys.readouterr().err
    assert main(["hist", str(model), "--tensor", "7", "-o", str(tmp_path / "h.png")]) == 2
    assert "(subgraph 0 has 2 tensors)" in capsys.readouterr().err
    calib = _calib(tmp_path, 5)
    assert main(["quantize", str(MODEL), "-o", str(tmp_path / "q.tflite"), "--calib", str(calib),
                 "--held-out", "4"]) == 0
    assert "calibration: 1 sample, " in capsys.readouterr().out


def test_inspect_shows_a_tensor_without_a_name_as_such(tmp_path):
    from edgequant.cli.inspect import render

    m = eq.load_file(MODEL)
    for t in m.main.tensors:
        t.name = ""  # as `edgequant mcu --strip` leaves them
    text = render(eq.load(eq.save(m)), "stripped.tflite")
    assert "input  #0 (no name) float32" in text and "'None'" not in text


def test_inspect_json_honours_subgraph(tmp_path):
    import json

    r = _run("inspect", str(MODEL), "--json", "--subgraph", "0")
    assert r.returncode == 0
    doc = json.loads(r.stdout)
    assert [s["index"] for s in doc["subgraphs"]] == [0]


def test_quantize_says_when_tflite_micro_cannot_use_the_result(tmp_path, capsys):
    from edgequant.cli import main

    out = tmp_path / "wo.tflite"
    assert main(["quantize", str(MODEL), "-o", str(out), "--mode", "weight_only_int8"]) == 0
    err = capsys.readouterr().err
    assert err == (f"note: for tflite-micro, {out} is not usable as written: per-channel-dequantize; fix: one scale "
                   f"per weight tensor (edgequant quantize --per-tensor), or quantize the whole model to integers: "
                   f"edgequant quantize --mode int8; details: edgequant mcu {out}\n")
    assert main(["quantize", str(MODEL), "-o", str(out), "--mode", "weight_only_int8", "--per-tensor"]) == 0
    assert capsys.readouterr().err == ""  # one scale per tensor: tflite-micro's DEQUANTIZE is right


def test_min_weight_elements_is_named_unused_in_full_integer_modes(tmp_path, capsys):
    from edgequant.cli import main

    calib = tmp_path / "c.npy"
    np.save(calib, np.random.default_rng(0).random((20,) + tuple(eq.load_file(MODEL).main.tensors[0].shape[1:]),
                                                   np.float32))
    out = tmp_path / "q.tflite"
    assert main(["quantize", str(MODEL), "-o", str(out), "--calib", str(calib), "--min-weight-elements", "1024"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[0] == "note: not used by mode int8: --min-weight-elements"
    assert "stay float" not in captured.out
    assert all(t.type != eq.dtypes.FLOAT32 for t in eq.load_file(out).main.tensors if t.is_constant)


def test_inspect_json_names_the_op_of_codes_stored_in_deprecated_builtin_code(tmp_path, capsys):
    """Old converters wrote the op in deprecated_builtin_code and left builtin_code 0 (ADD); TFLite reads the larger.
    The raw fields stay as stored, and "op" says what the code means."""
    from edgequant.cli import main

    m = eq.load_file(MODEL)
    want = [oc.name for oc in m.operator_codes]
    for oc in m.operator_codes:
        oc.deprecated_builtin_code, oc.builtin_code = oc.code, 0
    old = tmp_path / "old.tflite"
    eq.save_file(m, old)
    assert main(["inspect", str(old), "--json"]) == 0
    codes = json.loads(capsys.readouterr().out)["operator_codes"]
    assert [c["op"] for c in codes] == want and "ADD" not in want
    assert all(c["builtin_code"] == "ADD" for c in codes)


def test_inspect_says_when_a_filter_matches_nothing(capsys):
    from edgequant.cli import main

    assert main(["inspect", str(MODEL), "--ops", "LSTM", "--tensors", "kernel"]) == 0
    out = capsys.readouterr().out
    assert "  no op type matches --ops 'LSTM'\n" in out and "  no tensor name matches --tensors 'kernel'\n" in out
    assert main(["inspect", str(MODEL), "--ops", "conv", "--tensors", "convolution"]) == 0
    assert "no op type matches" not in (out := capsys.readouterr().out) and "no tensor name matches" not in out


def test_hist_and_ranges_name_the_model_that_has_nothing_to_plot(tmp_path, capsys):
    """"the model has no constant weight tensors to plot" did not say which model."""
    from edgequant.cli import main
    from edgequant.graph import Buffer, Model, Operator, SubGraph, Tensor

    m = Model(version=3, operator_codes=[], subgraphs=[], buffers=[Buffer()])
    sg = SubGraph(tensors=[Tensor(name=n, type=eq.dtypes.FLOAT32, shape=[1, 4], buffer=0) for n in ("x", "y")],
                  operators=[], inputs=[0], outputs=[1], name="main")
    m.subgraphs.append(sg)
    sg.operators.append(Operator(opcode_index=m.op_code_index("RELU"), inputs=[0], outputs=[1]))
    path = tmp_path / "relu.tflite"
    eq.save_file(m.bind(), path)
    for cmd in ("hist", "ranges"):
        assert main([cmd, str(path), "-o", str(tmp_path / "p.png")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {path}: ") and err.count("\n") == 1, err
    assert not (tmp_path / "p.png").exists()


def test_compare_says_it_compares_only_the_main_subgraph(tmp_path, capsys):
    """A multi-signature model was compared on subgraph 0 without a word about the others."""
    from edgequant.cli import main

    model = tmp_path / "two.tflite"
    _two_subgraph_model(model)
    assert main(["compare", str(model), str(model), "-n", "4"]) == 0
    assert capsys.readouterr().err == ("note: two.tflite has 2 subgraphs; compared: the main one (subgraph 0) "
                                       "only\n")


def test_quantize_notes_come_after_the_summary_they_are_about(tmp_path):
    """The tflite-micro note (stderr) follows the summary (stdout) in a terminal or a log that merges both."""
    fixture = Path(__file__).parent / "data" / "fixtures" / "digits_cnn.tflite"
    r = subprocess.run([sys.executable, "-m", "edgequant", "quantize", str(fixture), "-o", str(tmp_path / "d.tflite"),
                        "--mode", "dynamic_int8"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=120, check=False)
    assert r.returncode == 0, r.stdout
    lines = r.stdout.splitlines()
    note = next(i for i, line in enumerate(lines) if line.startswith("note: for tflite-micro"))
    assert note > next(i for i, line in enumerate(lines) if line.startswith("size:"))

"""Where commands write: a bad output path is one line naming it, found before any work, and nothing is left
behind; export-c writes its .cc and .h as a pair, never over the model it reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgequant as eq
from edgequant.cli import main
from edgequant.errors import EdgequantError

MODEL = Path(eq.__file__).parent / "data" / "digits_cnn.tflite"


def _err(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("argv", [
    ["quantize", "{model}", "-o", "{out}", "--calib", "{missing}"],
    ["hist", "{model}", "-o", "{out}"],
    ["ranges", "{model}", "-o", "{out}"],
    ["export-c", "{model}", "-o", "{out}"],
])
def test_a_bad_output_path_is_reported_before_the_inputs_are_read(tmp_path, capsys, argv):
    """The model is corrupt and the calibration file missing: the output path is still the first complaint, so a
    typo in -o costs no calibration run."""
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(MODEL.read_bytes()[:100])
    before = _files(tmp_path)
    for out, why in ((tmp_path / "no_such_dir" / "x.out", f"folder {tmp_path / 'no_such_dir'} does not exist"),
                     (tmp_path, "is a directory")):
        args = [a.format(model=corrupt, out=out, missing=tmp_path / "missing.npz") for a in argv]
        assert main(args) == 2
        line = _err(capsys)
        assert line.startswith(f"error: {out}: ") and why in line, line
        assert _files(tmp_path) == before  # no temporary file, no half-written picture, no orphan header


def test_pictures_are_written_whole_and_errors_name_the_picture(tmp_path):
    pytest.importorskip("matplotlib")
    from edgequant.viz.hist import plot_histogram

    values = np.linspace(-1, 1, 1000, dtype=np.float32)
    target = tmp_path / "gone" / "h.png"
    with pytest.raises(EdgequantError, match=f"^{target}: "):
        plot_histogram(values, target)
    assert _files(tmp_path) == []
    path = plot_histogram(values, tmp_path / "h.png", size=(300, 200))
    assert _files(tmp_path) == ["h.png"] and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (path.stat().st_mode & 0o777) == 0o666 & ~_umask()  # like any new file, not a temporary file's 0600


def _umask() -> int:
    import os

    m = os.umask(0)
    os.umask(m)
    return m


def test_export_c_refuses_a_header_name_for_the_source(tmp_path, capsys):
    """-o m.h used to write the .cc into m.h (including itself) and drop the header."""
    for name in ("m.h", "m.hpp"):
        assert main(["export-c", str(MODEL), "-o", str(tmp_path / name)]) == 2
        line = _err(capsys)
        assert f"-o {tmp_path / name}: give the .cc file to write (e.g. {tmp_path / 'm.cc'})" in line, line
    assert _files(tmp_path) == []


def test_export_c_never_writes_over_the_model_it_reads(tmp_path, capsys):
    model = tmp_path / "model.tflite"
    model.write_bytes(MODEL.read_bytes())
    assert main(["export-c", str(model), "-o", str(model)]) == 2  # used to replace the model with C source
    assert "would replace the input model" in _err(capsys)
    header_named = tmp_path / "net.h"  # a model saved as net.h: -o net.cc would put the header over it
    header_named.write_bytes(MODEL.read_bytes())
    assert main(["export-c", str(header_named), "-o", str(tmp_path / "net.cc")]) == 2
    assert f"writing {header_named} would replace the input model" in _err(capsys)
    assert model.read_bytes() == header_named.read_bytes() == MODEL.read_bytes()
    assert _files(tmp_path) == ["model.tflite", "net.h"]


def test_export_c_writes_both_files_or_neither(tmp_path, capsys, monkeypatch):
    adir = tmp_path / "adir"
    adir.mkdir()
    assert main(["export-c", str(MODEL), "-o", str(adir)]) == 2  # used to leave an orphan adir.h
    assert _err(capsys) == f"error: {adir}: is a directory; give a file name"
    (tmp_path / "m.h").mkdir()  # the header's place is taken: the .cc is not written either
    assert main(["export-c", str(MODEL), "-o", str(tmp_path / "m.cc")]) == 2
    assert _err(capsys) == f"error: {tmp_path / 'm.h'}: is a directory; give a file name"
    assert _files(tmp_path) == ["adir", "m.h"]

    out = tmp_path / "model_data.cc"
    assert main(["export-c", str(MODEL), "-o", str(out)]) == 0
    assert f"wrote {out} (46,516 bytes as g_model[]) and {tmp_path / 'model_data.h'}" in capsys.readouterr().out
    cc, h = out.read_text(), (tmp_path / "model_data.h").read_text()
    assert '#include "model_data.h"' in cc and "extern const unsigned char g_model[];" in h

    import edgequant.cli.export_c as cli
    real = cli.write_atomic

    def disk_full_for_the_source(path, data):
        if Path(path).suffix == ".cc":
            raise EdgequantError(f"{path}: cannot write (No space left on device)")
        real(path, data)

    monkeypatch.setattr(cli, "write_atomic", disk_full_for_the_source)
    assert main(["export-c", str(MODEL), "-o", str(out), "--name", "other"]) == 2
    _err(capsys)
    assert (tmp_path / "model_data.h").read_text() == h  # the old pair stays a pair
    assert main(["export-c", str(MODEL), "-o", str(tmp_path / "new.cc")]) == 2
    _err(capsys)
    assert not (tmp_path / "new.h").exists()  # no header without its source


@pytest.mark.parametrize("argv", [
    ["quantize", "{model}", "-o", "{model}", "--mode", "float16"],
    ["hist", "{model}", "-o", "{model}"],
    ["mcu", "{model}", "--strip", "{model}"],
])
def test_no_command_writes_over_the_model_it_reads(tmp_path, capsys, argv):
    model = tmp_path / "m.tflite"
    model.write_bytes(MODEL.read_bytes())
    rc = main([a.format(model=model) for a in argv])
    assert rc == 2
    assert _err(capsys) == f"error: {model}: is the input model; write the result to another file"
    assert model.read_bytes() == MODEL.read_bytes() and _files(tmp_path) == ["m.tflite"]


def test_a_read_only_output_file_is_not_replaced(tmp_path, capsys):
    out = tmp_path / "out.tflite"
    out.write_bytes(b"keep me")
    out.chmod(0o444)
    rc = main(["quantize", str(MODEL), "-o", str(out), "--mode", "float16"])
    assert rc == 2 and _err(capsys) == f"error: {out}: is read-only; remove it or write elsewhere"
    assert out.read_bytes() == b"keep me" and _files(tmp_path) == ["out.tflite"]

"""`edgequant mcu --plot/--strip`: a bad output path is one error line before any work or any file written."""

from __future__ import annotations

from pathlib import Path

import pytest

import edgequant
from edgequant.cli import main

MODEL = Path(edgequant.__file__).parent / "data" / "digits_cnn.tflite"


@pytest.mark.parametrize("flag", ["--plot", "--strip"])
def test_missing_folder_fails_first_and_writes_nothing(tmp_path, capsys, flag):
    bad = tmp_path / "nodir" / "x.out"
    good = tmp_path / "stripped.tflite"
    other = ["--plot", str(bad)] if flag == "--plot" else ["--strip", str(bad)]
    extra = ["--strip", str(good)] if flag == "--plot" else []
    assert main(["mcu", str(MODEL), *extra, *other]) == 2
    out, err = capsys.readouterr()
    assert err == f"error: {bad}: folder {bad.parent} does not exist\n"
    assert out == ""  # no report printed before the error
    assert not good.exists()  # the stripped copy was not written before the plot path failed


def test_a_folder_as_output_is_named(tmp_path, capsys):
    assert main(["mcu", str(MODEL), "--strip", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}: is a directory; give a file name\n"

"""The command line as a whole: every subcommand listed, missing extras named, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
])
def test_missing_extra_names_the_pip_command(tmp_path, module, argv, extra):
    r = subprocess.run([sys.executable, "-c", BLOCK.format(mod=module, argv=argv)], capture_output=True,
                       text=True, timeout=120, cwd=tmp_path, check=False)
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {module} is not installed; run: pip install 'edgequant[{extra}]'"
    assert not (tmp_path / "never.png").exists()


def test_keras_bridge_without_tensorflow_names_the_extra():
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "from edgequant import keras as ek\n"
            "from edgequant.errors import MissingExtraError\n"
            "try:\n    ek.to_tflite(object())\nexcept MissingExtraError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert r.stdout.strip() == "tensorflow is not installed; run: pip install 'edgequant[tf]'"


def test_core_import_does_not_pull_optional_extras():
    code = ("import sys, edgequant, edgequant.cli.inspect\n"
            "print(sorted(m for m in ('matplotlib', 'tensorflow', 'ai_edge_litert', 'tflite_micro') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert r.stdout.strip() == "[]", r.stdout + r.stderr

"""The top-level API is the small one the README shows: every name resolves, and nothing else is offered."""

from __future__ import annotations

import subprocess
import sys

import edgequant as eq


def test_every_public_name_resolves_and_dir_lists_only_them():
    for name in eq.__all__:
        assert getattr(eq, name) is not None, name
    assert dir(eq) == sorted([*eq.__all__, "__version__"])


def test_importing_edgequant_does_not_load_the_interpreter_or_quantizer():
    code = "import sys, edgequant; print(any(m.startswith(('edgequant.interpreter', 'edgequant.quantizer')) for m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "False"

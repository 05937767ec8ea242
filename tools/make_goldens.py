"""The one golden-case tool: build every single-op golden model, run it in LiteRT's reference kernels
(OpResolverType.BUILTIN_REF) and, where asked, in tflite-micro, and store model + inputs + outputs in
``tests/data/goldens/<case>.npz``, which ``tests/test_kernels.py`` runs through every kernel.

    .venv/bin/python tools/make_goldens.py              # every case
    .venv/bin/python tools/make_goldens.py conv GATHER  # cases whose name contains a word or whose op is one
    .venv/bin/python tools/make_goldens.py --out DIR    # write into DIR (e.g. a copy, to compare) instead

Each .npz holds ``model`` (the .tflite bytes as uint8), ``op`` (the op name), ``batch`` (1 when run() may stack
the case along axis 0: the op treats rows of axis 0 independently), ``target`` (the runtime whose outputs
``out0..`` are: ``litert``, or ``tflm`` where LiteRT's reference kernel is known to be wrong), ``in0..``,
``out0..`` and optionally ``tflm_out0..`` (tflite-micro's outputs as a second reference). Inputs are random but
seeded, so regenerating gives the same arrays; a file whose arrays are unchanged is left alone (its model
compared as today's writer lays it out: a writer change alone rewrites nothing). Developer tool: needs
ai-edge-litert and tflite-micro; tests only read the .npz files.

Adding a case: describe it with ``Case`` and ``T`` (tools/golden_format.py explains the vocabulary) in a
function of the ``tools/golden_cases_*.py`` module of its family, listed in that module's ``CASES``:
golden_cases_conv.py (ops with weights), golden_cases_basic.py (the first kernels without weights),
golden_cases_more.py (the second batch, SHAPE ... DENSIFY, and the LiteRT/tflite-micro divergences). Give the
case its own generator (``rng_for(name)`` for constants; fed inputs drawn at make time need none), set
``tflm=True`` for an integer case tflite-micro runs, ``batch`` where the default guess is wrong, and run this
tool with the case's name: it prints the files it writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import golden_cases_basic
import golden_cases_conv
import golden_cases_more
from golden_format import OUT, Case, make, write_case

MODULES = [golden_cases_conv, golden_cases_basic, golden_cases_more]


def all_cases() -> list[Case]:
    """Every case of every case module, in a fixed order. All are enumerated, whatever is asked for:
    golden_cases_more draws its values from one generator as its cases are defined."""
    return [case for module in MODULES for fn in module.CASES for case in fn()]


def main(argv: list[str]) -> int:
    want = argv[1:]
    out = OUT
    if "--out" in want:
        k = want.index("--out")
        out = Path(want[k + 1])
        del want[k:k + 2]
    out.mkdir(parents=True, exist_ok=True)
    cases = all_cases()
    names = [c.name for c in cases]
    dup = sorted({n for n in names if names.count(n) > 1})
    assert not dup, f"cases named twice: {dup}"
    n = written = failed = 0
    for case in cases:
        if want and not any(w in case.name or w == case.op for w in want):
            continue
        try:
            arrays = make(case)
        except Exception as e:  # noqa: BLE001 - report and continue with the other cases
            print(f"  FAILED {case.name}: {type(e).__name__}: {str(e).splitlines()[0][:150] if str(e) else ''}")
            failed += 1
            continue
        n += 1
        if write_case(case.name, arrays, out):
            written += 1
            print(f"  {case.name}: {arrays['model'].size} B model, target={arrays['target']}, "
                  f"tflm={'tflm_out0' in arrays}")
    print(f"{n} cases, {written} written or changed, {failed} failed, in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Every registered kernel is proven by golden cases from a real runtime: no kernel without one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import edgequant as eq
from edgequant.kernels import REGISTRY, load_all

GOLDENS = Path(__file__).resolve().parent / "data" / "goldens"  # written by tools/make_goldens.py


def _ops_in_cases() -> dict[str, int]:
    """op name -> number of golden cases, read from the single-op models themselves."""
    counts: dict[str, int] = {}
    for path in sorted(GOLDENS.glob("*.npz")):
        with np.load(path, allow_pickle=False) as d:
            m = eq.load(d["model"].tobytes())
        for op in m.main.operators:
            name = m.op_name(op)
            counts[name] = counts.get(name, 0) + 1
    return counts


# Kernels proven on whole real models instead (tests/test_models.py), because a single-op model of them
# needs a dozen weight and state tensors that the shared models already have.
WHOLE_MODEL_ONLY = {
    "SVDF": "tflm_keyword_scrambled*.tflite against LiteRT and tflite-micro",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "tflm_mnist_lstm_float.tflite on 200 real digits against LiteRT",
}


def test_every_registered_kernel_has_golden_cases():
    load_all()
    counts = _ops_in_cases()
    missing = sorted(set(REGISTRY) - set(counts) - set(WHOLE_MODEL_ONLY))
    assert not missing, f"kernels with no golden case: {missing}"
    assert sum(counts.values()) >= 250

"""Shared test helpers: where ../shared is, and which of its models each backend can run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGEQUANT_SHARED", ROOT.parent / "shared"))
MODELS = SHARED / "models"

# Models LiteRT 2.3.0 cannot run in-process (see shared/README.md): custom ops it lacks, the
# person-detect bias quantized_dimension it rejects, and the blockwise model that aborts it.
LITERT_CANNOT_RUN = {
    "litert_blockwise_quantized.tflite": "aborts LiteRT 2.3.0 (SIGABRT)",
    "tflm_audio_preprocessor_float.tflite": "TFLM Signal* custom ops",
    "tflm_audio_preprocessor_int8.tflite": "TFLM Signal* custom ops",
    "tflm_person_detect_vela.tflite": "ethos-u custom op",
    "tflm_person_detect_int8.tflite": "LiteRT rejects bias quantized_dimension=3",
    "tflm_keyword_scrambled_8bit.tflite": "corrupts LiteRT 2.3.0's heap on invoke (free(): corrupted chunks)",
}


# Models whose inputs are not free data: random values make them invalid.
RANDOM_INPUTS_INVALID = {
    "tflm_seanet_transpose_conv0_16x8.tflite": "its int32 input is TRANSPOSE_CONV's output shape",
}


def shared_models() -> list[Path]:
    """Every shared .tflite, or [] when ../shared is absent (tests then skip with a reason)."""
    return sorted(MODELS.glob("*.tflite")) if MODELS.is_dir() else []


def model_params(exclude: dict[str, str] | None = None):
    """pytest parameters over the shared models; a single skipped param when shared/ is absent."""
    models = [p for p in shared_models() if not exclude or p.name not in exclude]
    if not models:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"shared models not found at {MODELS}"))]
    return [pytest.param(p, id=p.stem) for p in models]


def need_shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is not available (../shared is absent)")
    return path

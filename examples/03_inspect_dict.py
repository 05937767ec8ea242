"""Lesson 3: a model as a Python dict; find the first weight tensor (of a CONV_2D, else of another weight op) and
its buffer, with the right dtype.

The seed lesson read every buffer as float32, so an int8 model's weights came out as garbage and
needed a `< 50` filter. Here each tensor keeps its real dtype and dequantizes with its own scales.

    python examples/03_inspect_dict.py [MODEL]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import edgequant as eq
from edgequant.flatbuffer.schema import BuiltinOperator

DEFAULT = Path(eq.__file__).parent / "data" / "digits_cnn.tflite"
WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def main(path: Path = DEFAULT) -> dict:
    model = eq.load_file(path)
    d = model.to_dict()  # nested dicts, snake_case keys, buffer data as numpy arrays
    codes = [max(c["builtin_code"], c["deprecated_builtin_code"]) for c in d["operator_codes"]]
    ops = [(BuiltinOperator.name_of(codes[op["opcode_index"]]), op) for op in d["subgraphs"][0]["operators"]]
    weighted = [(name, op) for name, op in ops if name in WEIGHT_OPS and len(op["inputs"]) > 1
                and model.main.tensors[op["inputs"][1]].is_constant]
    if not weighted:
        sys.exit(f"{path}: no op with a constant weight tensor ({', '.join(sorted(WEIGHT_OPS))})")
    name, op = next((x for x in weighted if x[0] == "CONV_2D"), weighted[0])
    w_index = op["inputs"][1]
    w = d["subgraphs"][0]["tensors"][w_index]
    raw = d["buffers"][w["buffer"]]["data"]  # np.uint8 view of the file: the bytes as stored
    tensor = model.main.tensors[w_index]
    values = tensor.numpy()  # the same bytes with the tensor's real dtype and shape
    real = tensor.dequantize()  # float32, per-channel aware
    counts, edges = np.histogram(real, bins=20)
    print(f"{name} weight tensor #{w_index} '{w['name']}': {tensor.type_name} {list(values.shape)}, "
          f"buffer {w['buffer']} ({raw.size} bytes)")
    print(f"stored values: min {values.min()} max {values.max()}; as float: min {real.min():.4f} "
          f"max {real.max():.4f}")
    peak = int(np.argmax(counts))
    print(f"histogram (20 bins): fullest bin [{edges[peak]:.3f}, {edges[peak + 1]:.3f}) holds {counts[peak]} values")
    return {"index": w_index, "dtype": tensor.type_name, "shape": list(values.shape), "buffer_bytes": int(raw.size),
            "min": float(real.min()), "max": float(real.max()), "counts": counts}


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)

"""Lesson 3: a model as a Python dict; find the Conv2D weights and their buffer, with the right dtype.

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


def main(path: Path = DEFAULT) -> dict:
    model = eq.load_file(path)
    d = model.to_dict()  # nested dicts, snake_case keys, buffer data as numpy arrays
    codes = [max(c["builtin_code"], c["deprecated_builtin_code"]) for c in d["operator_codes"]]
    conv = next(op for op in d["subgraphs"][0]["operators"]
                if BuiltinOperator.name_of(codes[op["opcode_index"]]) == "CONV_2D")
    w_index = conv["inputs"][1]
    w = d["subgraphs"][0]["tensors"][w_index]
    raw = d["buffers"][w["buffer"]]["data"]  # np.uint8 view of the file: the bytes as stored
    tensor = model.main.tensors[w_index]
    values = tensor.numpy()  # the same bytes with the tensor's real dtype and shape
    real = tensor.dequantize()  # float32, per-channel aware
    counts, edges = np.histogram(real, bins=20)
    print(f"Conv2D weight tensor #{w_index} '{w['name']}': {tensor.type_name} {list(values.shape)}, "
          f"buffer {w['buffer']} ({raw.size} bytes)")
    print(f"stored values: min {values.min()} max {values.max()}; as float: min {real.min():.4f} "
          f"max {real.max():.4f}")
    peak = int(np.argmax(counts))
    print(f"histogram (20 bins): fullest bin [{edges[peak]:.3f}, {edges[peak + 1]:.3f}) holds {counts[peak]} values")
    return {"index": w_index, "dtype": tensor.type_name, "shape": list(values.shape), "buffer_bytes": int(raw.size),
            "min": float(real.min()), "max": float(real.max()), "counts": counts}


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT)

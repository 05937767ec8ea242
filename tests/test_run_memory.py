"""run() keeps its chunks' memory in glibc's heap from one call to the next (edgequant.interpreter._tuned_heap):
a second call on the same batch must not page-fault its working set in again. Measured in a fresh process:
what other tests left in this one's heap (over 64 MB free) would rightly make run() give memory back."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

KWS = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf_tiny_kws_dscnn_float32.tflite"

SCRIPT = """
import resource, sys
import numpy as np
from edgequant.interpreter import Interpreter
it = Interpreter(sys.argv[1])
xs = np.random.default_rng(0).standard_normal((200, 49, 10, 1)).astype(np.float32)  # 4 chunks of 65
it.run(xs)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
it.run(xs)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc heap tuning")
def test_second_run_does_not_fault_its_working_set_in_again():
    if not KWS.is_file():
        pytest.skip(f"{KWS} not available")
    env = {k: v for k, v in os.environ.items() if k != "EDGEQUANT_MALLOC_TUNING"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(KWS)], capture_output=True, text=True, env=env,
                         check=True, cwd=Path(__file__).resolve().parents[1])
    faults = int(out.stdout.split()[-1])
    # a chunk's arrays are ~11 MB (2,800 pages): trimming the heap after every call faulted all of them
    assert faults < 700, f"{faults} minor page faults in a repeated run()"

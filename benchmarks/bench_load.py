"""Open + list tensors, and read every weight array: edgequant vs the `tflite` package vs the
flatbuffers Object API bundled in ai-edge-litert (ModelT.InitFromPackedBuf).

    python benchmarks/bench_load.py [--size-mb 110] [--model PATH ...]

The peer needs the bench extra: .venv/bin/pip install -e '.[bench]' (the `tflite` package).

Each measurement runs in a fresh subprocess so peak-memory growth (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "models"

CHILD = r"""
import json, sys, time
import numpy as np
method, path, task = sys.argv[1:4]
if method == "edgequant":
    import edgequant as eq
elif method == "tflite":
    import tflite
else:
    from ai_edge_litert import schema_py_generated as s

def rss_mb():
    # (private memory, file pages mapped): an mmap's pages are clean page cache the kernel can drop
    # at will; reading a file into bytes costs private memory. Kernels that map page-cache folios of
    # up to 2 MiB make one touched byte count as a large block of file pages.
    vals = {}
    for line in open("/proc/self/status"):
        if line.startswith(("RssAnon", "RssFile")):
            vals[line.split(":")[0]] = int(line.split()[1]) / 1024
    return vals["RssAnon"], vals["RssFile"]

anon0, file0 = rss_mb()
t0 = time.perf_counter()
n = 0
if method == "edgequant":
    m = eq.load_file(path)
    for _, t in m.tensors():
        n += len(t.name or "") + len(t.shape or [])
        if task == "read" and t.is_constant:
            n += int(t.numpy().reshape(-1)[-1] != 0)
elif method == "tflite":
    buf = open(path, "rb").read()
    m = tflite.Model.GetRootAsModel(buf, 0)
    for s in range(m.SubgraphsLength()):
        sg = m.Subgraphs(s)
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            n += len(t.Name() or b"") + len(t.ShapeAsNumpy() if t.ShapeLength() else [])
            if task == "read":
                b = m.Buffers(t.Buffer())
                if b.DataLength():
                    arr = b.DataAsNumpy()
                    n += int(arr[-1] != 0)
elif method == "object_api":
    buf = open(path, "rb").read()
    m = s.ModelT.InitFromPackedBuf(buf, 0)
    for sg in m.subgraphs:
        for t in sg.tensors:
            n += len(t.name or b"") + len(t.shape if t.shape is not None else [])
            if task == "read":
                d = m.buffers[t.buffer].data
                if d is not None and len(d):
                    n += int(np.asarray(d)[-1] != 0)
dt = time.perf_counter() - t0
anon1, file1 = rss_mb()
print(json.dumps({"seconds": dt, "anon_mb": anon1 - anon0, "file_mb": file1 - file0, "check": n}))
"""


def make_big_model(path: Path, size_mb: int) -> None:
    """A float model of FULLY_CONNECTED layers (1024x1024 float32 = 4 MiB each), written by our writer."""
    import edgequant as eq
    from edgequant import dtypes
    from edgequant.graph import Buffer, Model, Operator, SubGraph, Tensor, new_node

    rng = np.random.default_rng(0)
    layers = max(1, size_mb // 4)
    m = Model(version=3, buffers=[Buffer()], operator_codes=[], description="bench_load generated")
    sg = SubGraph(tensors=[], inputs=[], outputs=[], operators=[], name="main")
    m.subgraphs = [sg]
    m.bind()
    x = sg.add_tensor(Tensor(name="input", type=dtypes.FLOAT32, shape=[1, 1024]))
    sg.inputs = [x]
    fc = m.op_code_index("FULLY_CONNECTED")
    for i in range(layers):
        w = rng.standard_normal((1024, 1024), dtype=np.float32) * 0.03
        tw = sg.add_tensor(Tensor(name=f"dense_{i}/kernel", type=dtypes.FLOAT32, shape=[1024, 1024],
                                  buffer=m.add_buffer(w)))
        tb = sg.add_tensor(Tensor(name=f"dense_{i}/bias", type=dtypes.FLOAT32, shape=[1024],
                                  buffer=m.add_buffer(np.zeros(1024, np.float32))))
        y = sg.add_tensor(Tensor(name=f"dense_{i}/out", type=dtypes.FLOAT32, shape=[1, 1024]))
        sg.operators.append(Operator(opcode_index=fc, inputs=[x, tw, tb], outputs=[y],
                                     builtin_options=new_node("FullyConnectedOptions", fused_activation_function=1)))
        x = y
    sg.outputs = [x]
    eq.save_file(m, path)


def measure(method: str, path: Path, task: str, repeat: int = 3) -> dict:
    best = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", CHILD, method, str(path), task], capture_output=True,
                             text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        if best is None or r["seconds"] < best["seconds"]:
            best = r
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=110)
    ap.add_argument("--model", action="append", default=[])
    args = ap.parse_args()
    try:
        import tflite  # noqa: F401 - the peer: only its presence is checked here, each child imports its own
    except ImportError:
        sys.exit("benchmarks/bench_load.py compares with the `tflite` parser package: "
                 "pip install -e '.[bench]' (or: .venv/bin/pip install tflite)")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.tflite"
        make_big_model(big, args.size_mb)
        models = [big] + [Path(p) for p in args.model]
        if not args.model and SHARED.is_dir():
            models.append(max(SHARED.glob("*.tflite"), key=lambda p: p.stat().st_size))
        print(f"{'model':42s} {'task':5s} {'method':11s} {'ms':>9s} {'anon +MB':>9s} {'mapped +MB':>10s}"
              f" {'time vs edgequant':>17s}")
        for path in models:
            label = f"{path.name} ({path.stat().st_size / 2**20:.1f} MiB)"
            for task in ("list", "read"):
                ours = measure("edgequant", path, task)
                for method in ("edgequant", "tflite", "object_api"):
                    r = ours if method == "edgequant" else measure(method, path, task)
                    ratio = r["seconds"] / ours["seconds"]
                    print(f"{label:42s} {task:5s} {method:11s} {r['seconds'] * 1e3:9.2f} "
                          f"{r['anon_mb']:9.1f} {r['file_mb']:10.1f} {ratio:16.1f}x")


if __name__ == "__main__":
    main()

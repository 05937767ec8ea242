"""Run the float model over calibration batches and observe the range of every float activation.

The float model runs in edgequant's numpy interpreter (``edgequant.Interpreter.run(..., keep_intermediates=True)``).
If our interpreter has no kernel for one of the model's ops, LiteRT (``ai-edge-litert``, if installed) runs it
instead with all tensors preserved; ``Ranges.backend`` says which ran.

>>> ranges = calibrate(model, load_calibration("calib.npz", model), observer="percentile")
>>> ranges.ranges[12]        # (lo, hi) of tensor 12
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import dtypes
from ..errors import EdgequantError, UnsupportedError
from ..graph import Model

Progress = Callable[[int, int], None]


@dataclass
class Ranges:
    """Observed (lo, hi) per float tensor index of the main subgraph, and how they were obtained."""

    ranges: dict[int, tuple[float, float]] = field(default_factory=dict)
    backend: str = "edgequant"
    samples: int = 0
    seconds: float = 0.0


def _observers(name: str) -> Callable[[], Any]:
    from ..calibration import make_observer

    make_observer(name)  # fail early on an unknown name
    return lambda: make_observer(name)


class _FloatRunner:
    """Batched float inference returning every float tensor: edgequant's interpreter, else LiteRT."""

    def __init__(self, model: Model):
        self.model = model
        try:
            from ..interpreter import Interpreter

            self.it = Interpreter(model)
            self.backend = "edgequant"
        except (UnsupportedError, ImportError) as e:
            self.it = None
            self.reason = str(e)
            self.backend = "litert"
            self._litert()

    def _litert(self) -> None:
        from ..errors import require
        from ..graph import save

        litert = require("ai_edge_litert.interpreter", "litert")
        import warnings

        with warnings.catch_warnings():  # "preserve_all_tensors is for debugging": that is what we need
            warnings.simplefilter("ignore")
            # reference kernels: float results like our interpreter's, and no XNNPACK delegate banner on stderr
            self.lt = litert.Interpreter(model_content=save(self.model), experimental_preserve_all_tensors=True,
                                         experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
        self.lt_shape: tuple | None = None

    def run(self, batch: dict[str, np.ndarray]) -> dict[int, np.ndarray]:
        sg = self.model.main
        names = [sg.tensors[i].name for i in sg.inputs]
        if self.it is not None:
            try:
                inter = self._run_ours(batch, names)
            except UnsupportedError as e:  # an op our interpreter has no kernel for (yet)
                self.it, self.reason, self.backend = None, str(e), "litert"
                self._litert()
            else:
                out = {i: batch[sg.tensors[i].name] for i in sg.inputs}
                out.update(inter)
                return out
        return self._run_litert(batch, names)

    def _run_ours(self, batch: dict[str, np.ndarray], names: list[str]) -> dict[int, np.ndarray]:
        """Float intermediates from our interpreter (it batches the samples itself where the plan allows)."""
        assert self.it is not None
        _, inter = self.it.run([batch[n] for n in names], keep_intermediates=True)
        return inter

    def _run_litert(self, batch: dict[str, np.ndarray], names: list[str]) -> dict[int, np.ndarray]:
        sg = self.model.main
        n = next(iter(batch.values())).shape[0]
        free_batch = all(sg.tensors[i].shape_signature is not None and sg.tensors[i].shape_signature[0] == -1
                         for i in sg.inputs)
        pieces = [batch] if free_batch else [{k: v[j:j + 1] for k, v in batch.items()} for j in range(n)]
        outs: dict[int, list[np.ndarray]] = {}
        for piece in pieces:
            shape = tuple(piece[names[0]].shape)
            if free_batch and shape != self.lt_shape:
                for i, name in zip(sg.inputs, names):
                    self.lt.resize_tensor_input(i, list(piece[name].shape))
                self.lt.allocate_tensors()
                self.lt_shape = shape
            elif self.lt_shape is None:
                self.lt.allocate_tensors()
                self.lt_shape = shape
            for i, name in zip(sg.inputs, names):
                self.lt.set_tensor(i, piece[name])
            self.lt.invoke()
            for t in sg.tensors:
                if t.type == dtypes.FLOAT32 and not t.is_constant:
                    try:
                        outs.setdefault(t.index, []).append(np.array(self.lt.get_tensor(t.index)))
                    except ValueError:
                        pass  # a tensor LiteRT never allocated (unused)
        return {i: np.concatenate(v) if len(v) > 1 else v[0] for i, v in outs.items()}


def calibrate(model: Model, batches: list[dict[str, np.ndarray]], observer: str | None = "minmax",
              progress: Progress | None = None, visit: Callable[[dict[int, np.ndarray]], None] | None = None) -> Ranges:
    """Observed ranges of the float activations of ``model`` (main subgraph) over ``batches``.

    ``batches``: anything :func:`edgequant.quantize` takes as calibration data (arrays, dicts, iterables, a
    .npy/.npz path), or batches from :func:`edgequant.quantizer.data.load_calibration`. ``visit``: also called with every
    batch's {tensor index: float values} (GPTQ's statistics come from the same run); with ``observer=None``
    only ``visit`` sees them and no ranges are kept. Raises EdgequantError
    when an activation becomes NaN or Inf (names the tensor) or when the set is empty.
    """
    if not (isinstance(batches, list) and batches and all(isinstance(b, dict) for b in batches)):
        # anything quantize() takes as calibration data
        from .data import load_calibration, rebatch, rows_per_invocation

        batches = rebatch(load_calibration(batches, model), 32, rows_per_invocation(model))
    start = time.perf_counter()
    make = _observers(observer) if observer is not None else None
    runner = _FloatRunner(model)
    sg = model.main
    float_acts = {t.index for t in sg.tensors if t.type == dtypes.FLOAT32 and not t.is_constant}
    obs: dict[int, Any] = {}
    total = sum(next(iter(b.values())).shape[0] for b in batches)
    done = 0
    for batch in batches:
        values = runner.run(batch)
        for i, v in values.items():
            if i not in float_acts:
                continue
            v = np.asarray(v, np.float32)
            if v.size and not (np.isfinite(v.min()) and np.isfinite(v.max())):  # NaN propagates to both
                raise EdgequantError(f"calibration: tensor {i} '{sg.tensors[i].name}' became NaN or Inf")
            if make is None:
                continue
            if i not in obs:
                obs[i] = make()
            obs[i].update(v)
        if visit is not None:
            visit(values)
        done += next(iter(batch.values())).shape[0]
        if progress is not None:
            progress(done, total)
    ranges = {}
    for i, o in obs.items():
        lo, hi = o.range()
        ranges[i] = (float(np.min(lo)), float(np.max(hi)))
    return Ranges(ranges, runner.backend, done, time.perf_counter() - start)


class ProgressBar:
    """A plain stderr bar, redrawn in place on a TTY. Elsewhere (a log file, a CI job) it writes one finished line,
    and only when the work took more than a second: no carriage returns joining lines in a log."""

    def __init__(self, label: str = "calibrating", stream=None, width: int = 30):
        self.label, self.stream, self.width = label, stream or sys.stderr, width
        self.start = time.perf_counter()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self.start
        tty = self.stream.isatty()
        if not (tty or (elapsed > 1.0 and done >= total)):
            return
        self.shown = True
        filled = int(self.width * done / max(total, 1))
        end = "\n" if done >= total else ""
        self.stream.write(f"{chr(13) if tty else ''}{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{done}/{total} {elapsed:.1f}s{end}")
        self.stream.flush()

"""Regenerate the pictures the README shows (docs/*.png) from the built-in model and ../shared.

    .venv/bin/python tools/make_docs_images.py

Nothing here is drawn by hand: each picture is edgequant's own plotting function on real models.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "models"
DOCS = ROOT / "docs"


def main() -> None:
    import edgequant as eq
    from edgequant.viz.hist import plot_model_histogram
    from edgequant.viz.ranges import plot_ranges

    DOCS.mkdir(exist_ok=True)
    demo = eq.load_file(ROOT / "edgequant" / "data" / "digits_cnn.tflite")
    out = [plot_model_histogram(demo, DOCS / "demo_weights_hist.png", log=True, size=(800, 360)),
           plot_ranges(demo, DOCS / "demo_channel_ranges.png", size=(800, 360))]
    if SHARED.is_dir():
        spec = importlib.util.spec_from_file_location("hists", ROOT / "examples" / "04_model_histograms.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        rows = mod.histograms([SHARED / m for m in mod.DEFAULT_MODELS])
        out.append(mod.plot(rows, DOCS / "models_hist.png", size=(1000, 560)))
        kws = eq.load_file(SHARED / "mlperf_tiny_kws_dscnn_int8.tflite")
        out.append(plot_ranges(kws, DOCS / "kws_channel_ranges.png", size=(900, 380)))
        from edgequant.analysis.arena import plan_arena
        from edgequant.viz.timeline import plot_timeline

        plot_timeline(plan_arena(kws), DOCS / "kws_arena_timeline.png", title="KWS DS-CNN int8: tensor arena")
        out.append(DOCS / "kws_arena_timeline.png")
    for p in out:
        print(f"wrote {p.relative_to(ROOT)} ({p.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()

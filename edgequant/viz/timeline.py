"""Memory timeline: bytes alive in the tensor arena at each operator, with the peak marked."""

from __future__ import annotations

import os

from ..analysis.arena import ArenaPlan
from ..errors import require


def plot_timeline(plan: ArenaPlan, path: str | os.PathLike, title: str = "tensor arena") -> None:
    """Write a PNG: live bytes per allocation scope (scope i+1 = op i), the plan size and the peak.

    >>> plot_timeline(plan_arena(model), "arena.png")
    """
    mpl = require("matplotlib", "plot")
    mpl.use("Agg")
    plt = require("matplotlib.pyplot", "plot")
    from ..graph import write_atomic

    xs = list(range(len(plan.timeline)))
    labels = ["start"] + [f"{i} {n}" for i, n in enumerate(plan.op_names)]
    labels += [""] * (len(xs) - len(labels))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.28 * len(xs) + 2), 4.0), dpi=100)
    try:
        ax.bar(xs, [v / 1024 for v in plan.timeline], color="#4C78A8", label="live tensors (KiB)")
        ax.axhline(plan.planned_bytes / 1024, color="#E45756", linestyle="--",
                   label=f"greedy plan {plan.planned_bytes:,} B")
        peak = plan.peak_scope
        ax.annotate(f"peak {plan.timeline[peak]:,} B", (peak, plan.timeline[peak] / 1024),
                    textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
        ax.bar([peak], [plan.timeline[peak] / 1024], color="#F58518")
        ax.set_xticks(xs)
        ax.set_xticklabels(labels[:len(xs)], rotation=90, fontsize=6)
        ax.set_ylabel("KiB")
        ax.set_title(title)
        ax.legend(fontsize=8)
        fig.tight_layout()
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        write_atomic(path, buf.getvalue())
    finally:
        plt.close(fig)

"""packer.Layout._plan (table-driven) against the plain search it replaced, written out here: on every gap the
writer asks it to fill while saving real models, both must pick the same objects in the same order."""

from __future__ import annotations

import heapq
from pathlib import Path

import pytest
from conftest import shared_models

import edgequant as eq
from edgequant.flatbuffer import packer
from edgequant.quantizer import Recipe, quantize

FIX = Path(__file__).resolve().parent / "data" / "fixtures"


def _pad(pos: int, align: int, phase: int) -> int:
    return (phase - pos) % align


def _reference_plan(layout: packer.Layout, target: packer.Obj, waste: int) -> tuple | None:
    """Dijkstra over the 16 residues of the position, one step per kind of free object (each kind at most 3
    times), ties to the fewest objects, then to the smaller (cost, count, residue, path) tuple; a single object
    that closes the gap wins outright, the first such kind in the free table's order."""
    start = layout.pos % 16
    kinds = [(key, min(n, 3)) for key, n in layout.free.items() if n]
    for key, _ in kinds:
        if _pad(start, key[0], key[1]) == 0 and _pad(start + key[2], target.align, target.phase) == 0:
            return (key,)
    best_total, best_n, best_path = waste, 0, None
    heap = [(0, 0, start, ())]
    done: set[int] = set()
    while heap:
        cost, n, r, path = heapq.heappop(heap)
        if cost >= best_total:
            break
        if r in done:
            continue
        done.add(r)
        total = cost + _pad(r, target.align, target.phase)
        if (total, n) < (best_total, best_n):
            best_total, best_n, best_path = total, n, path
        for key, limit in kinds:
            if path.count(key) < limit:
                lead = _pad(r, key[0], key[1])
                nr = (r + lead + key[2]) % 16
                if nr not in done:
                    heapq.heappush(heap, (cost + lead, n + 1, nr, path + (key,)))
    return best_path or None


def _models() -> list[Path]:
    wanted = ("mlperf_tiny_vww_96_float", "mlperf_tiny_ic_resnet_large_float", "tflm_person_detect_int8",
              "litert_static_w8_a16_attn_vec_einsum")
    return sorted(FIX.glob("*.tflite")) + [p for p in shared_models() if p.stem in wanted]


@pytest.mark.parametrize("path", _models(), ids=lambda p: p.stem)
def test_plan_matches_the_plain_search(path, monkeypatch):
    plan = packer.Layout._plan
    asked = []

    def both(self, target, waste):
        got = plan(self, target, waste)
        assert got == _reference_plan(self, target, waste)
        asked.append(got)
        return got

    monkeypatch.setattr(packer.Layout, "_plan", both)
    m = eq.load_file(path)
    eq.save(m)
    if path.stem.endswith("float") or path.parent == FIX:
        eq.save(quantize(m, Recipe.preset("weight_only_int8"), None))
    assert any(p is not None for p in asked)  # some gaps were really filled

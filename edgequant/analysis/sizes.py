"""Where a model's bytes go: weights, metadata, and the graph structure around them."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..graph import Model


@dataclass(frozen=True)
class SizeBreakdown:
    file: int  # bytes of the serialised model (0 if unknown)
    weights: int  # buffer bytes of constant tensors
    metadata: int  # buffer bytes referenced by Model.metadata / metadata_buffer
    unreferenced: int  # buffer bytes no tensor or metadata entry refers to
    graph: int  # everything else: tables, shapes, quantization parameters, names, alignment padding
    names: int  # of which: tensor and subgraph name strings

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def size_breakdown(model: Model, file_size: int | None = None) -> SizeBreakdown:
    """Split the file's bytes by what they hold; ``graph`` is the remainder so the parts add up."""
    buffers = model.buffers or []
    sizes = [b.nbytes for b in buffers]
    tensor_bufs = {t.buffer for _, t in model.tensors() if t.buffer}
    meta_bufs = {m.buffer for m in model.metadata or []} | set(model.metadata_buffer or [])
    weights = sum(sizes[i] for i in tensor_bufs if i < len(sizes))
    metadata = sum(sizes[i] for i in meta_bufs - tensor_bufs if 0 <= i < len(sizes))
    unreferenced = sum(sizes) - weights - metadata
    names = sum(len((t.name or "").encode()) for _, t in model.tensors())
    names += sum(len((sg.name or "").encode()) for sg in model.subgraphs or [])
    if file_size is None:
        src = model._source
        file_size = len(src) if src is not None else 0
    graph = max(0, file_size - weights - metadata - unreferenced) if file_size else 0
    return SizeBreakdown(file_size or 0, weights, metadata, unreferenced, graph, names)

"""DENSIFY: a constant sparse tensor (TFLite SparsityParameters) -> its dense values (float32, float16, int8)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import dtypes
from ..errors import ModelFormatError, UnsupportedError
from . import Kernel, kernel

DENSE, SPARSE_CSR = 0, 1  # schema DimensionType


@dataclass(frozen=True)
class DensifyParams:
    dense: np.ndarray
    batchable: bool = True  # the output is a constant (typically weights): it never carries a batch axis


def _index_vector(v, what: str) -> np.ndarray:
    """SparseIndexVector (Int32Vector / Uint16Vector / Uint8Vector) -> int64 array."""
    if v is None or getattr(v, "values", None) is None:
        raise ModelFormatError(f"{what} is missing")
    return np.asarray(v.values).astype(np.int64)


def densify(values: np.ndarray, shape: list[int], sparsity) -> np.ndarray:
    """Expand the stored values of a sparse tensor into a dense array of ``shape``.

    Same walk as tflite::internal::sparsity::FormatConverter::SparseToDense (Populate): the levels of
    ``dim_metadata`` are visited in traversal order; a DENSE level enumerates ``0..dense_size-1``, a
    SPARSE_CSR level enumerates ``array_indices[segments[p]:segments[p+1]]`` for its parent position ``p``;
    stored values are consumed in that order. The first ``rank`` levels index the original dimensions
    (``traversal_order[i]``); a further level ``i`` is the inner index of block dimension
    ``traversal_order[i] - rank`` of original dimension ``block_map[...]``, whose block size is that level's
    ``dense_size``. Done level by level on index arrays rather than recursively. Malformed metadata raises
    ModelFormatError (the C++ skips or reads out of bounds).

    >>> from edgequant.graph import new_node
    >>> seg = new_node("Int32Vector", values=np.array([0, 1, 1]))
    >>> idx = new_node("Int32Vector", values=np.array([2]))
    >>> sp = new_node("SparsityParameters", traversal_order=[0, 1], block_map=[], dim_metadata=[
    ...     new_node("DimensionMetadata", format=0, dense_size=2),
    ...     new_node("DimensionMetadata", format=1, array_segments=seg, array_indices=idx)])
    >>> densify(np.array([7.0], np.float32), [2, 3], sp)
    array([[0., 0., 7.],
           [0., 0., 0.]], dtype=float32)
    """
    rank = len(shape)
    order = [int(a) for a in (sparsity.traversal_order if sparsity.traversal_order is not None else [])]
    block_map = [int(a) for a in (sparsity.block_map if sparsity.block_map is not None else [])]
    levels = list(sparsity.dim_metadata or [])
    n_levels = rank + len(block_map)
    if len(order) != n_levels or len(levels) != n_levels:
        raise ModelFormatError(f"sparsity: {len(order)} traversal_order entries and {len(levels)} dim_metadata "
                               f"for rank {rank} with {len(block_map)} block dimensions (want {n_levels} each)")
    if sorted(order[:rank]) != list(range(rank)) or sorted(order[rank:]) != list(range(rank, n_levels)):
        raise ModelFormatError(f"sparsity: traversal_order {order} is not the original dimensions then the "
                               f"block dimensions")
    if any(not 0 <= d < rank for d in block_map) or len(set(block_map)) != len(block_map):
        raise ModelFormatError(f"sparsity: block_map {block_map} does not name distinct dimensions of rank {rank}")
    block_size = [int(levels[order[rank + k]].dense_size) for k in range(len(block_map))]
    blocked = list(shape)
    for k, d in enumerate(block_map):
        if block_size[k] <= 0 or shape[d] % block_size[k]:
            raise ModelFormatError(f"sparsity: block size {block_size[k]} does not divide dimension {d} "
                                   f"({shape[d]})")
        blocked[d] = shape[d] // block_size[k]

    def extent(i: int) -> int:  # size of the index space walked at level i
        e = order[i]
        return blocked[e] if e < rank else block_size[e - rank]

    prev = np.zeros(1, np.int64)  # per path: its position in the level above (Populate's prev_idx)
    idx = np.zeros((1, 0), np.int64)  # per path: the index chosen at each level so far
    for i, lv in enumerate(levels):
        if lv.format == DENSE:
            size = int(lv.dense_size)
            if size != extent(i):
                raise ModelFormatError(f"sparsity: dense level {i} has size {size}, dimension wants {extent(i)}")
            prev = (prev[:, None] * size + np.arange(size)).reshape(-1)
            idx = np.concatenate([np.repeat(idx, size, axis=0), np.tile(np.arange(size), len(idx))[:, None]], 1)
        elif lv.format == SPARSE_CSR:
            seg = _index_vector(lv.array_segments, f"sparsity level {i} array_segments")
            ind = _index_vector(lv.array_indices, f"sparsity level {i} array_indices")
            if len(seg) < (int(prev.max()) + 2 if prev.size else 1) or seg[0] != 0 or np.any(np.diff(seg) < 0) \
                    or seg[-1] > len(ind):
                raise ModelFormatError(f"sparsity level {i}: array_segments {seg.tolist()[:8]}... do not fit "
                                       f"{len(ind)} indices")
            if np.any((ind < 0) | (ind >= extent(i))):
                raise ModelFormatError(f"sparsity level {i}: an index is outside [0, {extent(i)})")
            starts, counts = seg[prev], seg[prev + 1] - seg[prev]
            parent = np.repeat(np.arange(len(prev)), counts)
            # position i runs over starts[p] .. starts[p] + counts[p] - 1 for each parent p, in order
            offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
            prev = np.repeat(starts, counts) + offsets
            idx = np.concatenate([idx[parent], ind[prev][:, None]], 1)
        else:
            raise UnsupportedError(f"sparsity level {i}: dimension format {lv.format}")
    if len(prev) != values.size:
        raise ModelFormatError(f"sparsity: metadata addresses {len(prev)} values, the buffer holds {values.size}")
    orig = np.zeros((len(prev), rank), np.int64)
    for i in range(rank):
        orig[:, order[i]] = idx[:, i]
    for i in range(rank, n_levels):
        k = order[i] - rank
        orig[:, block_map[k]] = orig[:, block_map[k]] * block_size[k] + idx[:, i]
    dense = np.zeros(int(np.prod(shape, dtype=np.int64)), values.dtype)
    dense[np.ravel_multi_index(orig.T, shape) if rank else 0] = values
    return dense.reshape(shape)


@kernel("DENSIFY")
class Densify(Kernel):
    """reference: lite/kernels/densify.cc (FormatConverter::SparseToDense). The input must be a constant
    tensor with sparsity parameters; the dense output is computed once in prepare. float32, float16, int8."""

    def prepare(self, ctx, op):
        x, y = ctx.input(0), ctx.output(0)
        if x is None or x.sparsity is None:
            raise ModelFormatError("DENSIFY input has no sparsity parameters")
        values = ctx.const(0)
        if values is None:
            raise UnsupportedError("DENSIFY input must be a constant tensor")
        if x.type != y.type or x.type not in (dtypes.FLOAT32, dtypes.FLOAT16, dtypes.INT8):
            raise UnsupportedError(f"DENSIFY of {dtypes.name(x.type)} into {dtypes.name(y.type)}; supported: "
                                   f"FLOAT32, FLOAT16, INT8")
        dense = densify(np.asarray(values).reshape(-1), [int(d) for d in x.shape or []], x.sparsity)
        dense.setflags(write=False)
        return DensifyParams(dense)

    def eval(self, p: DensifyParams, inputs):
        return [p.dense]

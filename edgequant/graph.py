"""The model IR: mutable Python objects mirroring the schema, with helpers for people.

``load``/``load_file`` parse the graph structure (op codes, subgraphs, tensors, operators) eagerly
— that costs time in proportion to the number of tensors, not bytes — while every buffer stays a
read-only numpy view of the file (an mmap for ``load_file``), so weights are never read or copied
until asked for. Mutating a model means assigning new values (new arrays, new lists); the views
themselves are never written through.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import dtypes
from .errors import EdgequantError, ModelFormatError
from .flatbuffer.nodes import Node, node_class, register
from .flatbuffer.reader import Reader
from .flatbuffer.schema import TABLES, BuiltinOperator
from .flatbuffer.writer import serialize


@register
class QuantizationParameters(Node):
    _table = TABLES["QuantizationParameters"]

    @property
    def is_quantized(self) -> bool:
        return (self.scale is not None and len(self.scale) > 0) or self.details is not None

    @property
    def per_channel(self) -> bool:
        return self.scale is not None and len(self.scale) > 1

    def describe(self) -> str:
        """Short text for tables: 'scale=0.0235 zp=-128', '64 scales on axis 0', 'blockwise'."""
        if self.details is not None:
            return self.details.table_name().replace("Quantization", "").lower()
        if self.scale is None or len(self.scale) == 0:
            return ""
        if len(self.scale) > 1:
            return f"{len(self.scale)} scales on axis {self.quantized_dimension}"
        zp = int(self.zero_point[0]) if self.zero_point is not None and len(self.zero_point) else 0
        return f"scale={float(self.scale[0]):.6g} zp={zp}"


@register
class Buffer(Node):
    _table = TABLES["Buffer"]

    @property
    def nbytes(self) -> int:
        return 0 if self.data is None else int(self.data.size)


@register
class OperatorCode(Node):
    _table = TABLES["OperatorCode"]

    @property
    def code(self) -> int:
        """The builtin operator: the larger of the two code fields (TFLite's GetBuiltinCode rule)."""
        return max(int(self.builtin_code), int(self.deprecated_builtin_code))

    @property
    def name(self) -> str:
        code = self.code
        if code == BuiltinOperator.value("CUSTOM"):
            return f"CUSTOM:{self.custom_code}"
        return BuiltinOperator.name_of(code)


@register
class Operator(Node):
    _table = TABLES["Operator"]

    @property
    def options(self) -> Node | None:
        """The op's builtin options table, whichever of the two unions holds it."""
        return self.builtin_options if self.builtin_options is not None else self.builtin_options_2


@register
class Tensor(Node):
    _table = TABLES["Tensor"]
    _model: Model | None = None
    _sg: SubGraph | None = None  # the subgraph holding it (set by Model.bind / SubGraph.add_tensor)
    _index: int = -1

    @property
    def index(self) -> int:
        return self._index

    @property
    def dtype(self) -> np.dtype:
        return dtypes.to_numpy(self.type)

    @property
    def type_name(self) -> str:
        return dtypes.name(self.type)

    @property
    def size(self) -> int:
        # Python ints: no overflow however corrupt the dims, and ~20x faster than np.prod on a short list
        return math.prod(map(int, self.shape)) if self.shape is not None and len(self.shape) else 1

    @property
    def nbytes(self) -> int:
        """Bytes the values take when materialised (packed types round up)."""
        return dtypes.storage_bytes(self.type, self.size)

    def _buffer(self) -> Buffer | None:
        if self._model is None:
            raise EdgequantError(f"tensor '{self.name}' is not attached to a model")
        buffers = self._model.buffers or []
        if self.buffer >= len(buffers):
            raise ModelFormatError(f"tensor {self._index} '{self.name}': buffer index {self.buffer} is out of range"
                                   f" (model has {len(buffers)} buffers)")
        return buffers[self.buffer] if self.buffer else None

    @property
    def is_constant(self) -> bool:
        buf = self._buffer()
        return buf is not None and buf.nbytes > 0

    @property
    def data_bytes(self) -> int:
        buf = self._buffer()
        return buf.nbytes if buf is not None else 0

    def numpy(self) -> np.ndarray | None:
        """The stored values with the tensor's real dtype and shape (read-only), or None if none are stored.

        Packed int4/uint4/int2 are widened to one value per int8/uint8. A sparse tensor returns its
        stored (compressed) values as a 1-D array. >>> m.subgraphs[0].tensors[1].numpy().dtype
        """
        buf = self._buffer()
        if buf is None or buf.nbytes == 0:
            return None
        raw = buf.data
        if self.type == dtypes.STRING:
            return _decode_strings(raw, self._where())
        if self.type in dtypes.PACKED:
            return dtypes.unpack_subbyte(raw, self.type, self.size).reshape(self.shape or [])
        dt = self.dtype
        if self.sparsity is not None:
            if raw.size % dt.itemsize:
                raise ModelFormatError(f"{self._where()}: {raw.size} bytes is not a whole number of {dt}")
            return raw.view(dt)
        if raw.size != self.nbytes:
            raise ModelFormatError(f"{self._where()}: buffer {self.buffer} holds {raw.size} bytes but shape "
                                   f"{list(self.shape or [])} of {self.type_name} needs {self.nbytes}")
        return raw.view(dt).reshape(self.shape or [])

    def _where(self) -> str:
        """How an error names this tensor (built only when one is raised: numpy() is called often)."""
        return f"tensor {self._index} '{self.name}'"

    def dequantize(self) -> np.ndarray | None:
        """The stored values as float32: ``scale * (q - zero_point)``, per channel where quantized so; an integer
        tensor without quantization (a shape, an index) is its own value, as float32. None for tensors with no
        stored data (activations, graph inputs)."""
        q = self.numpy()
        if q is None:
            return None
        if q.dtype.kind == "f":
            return q.astype(np.float32)
        qp = self.quantization
        if qp is not None and qp.details is not None and qp.details.table_name() == "BlockwiseQuantization":
            return self._dequantize_blockwise(q, qp.details)
        if qp is None or qp.scale is None or len(qp.scale) == 0:
            return q.astype(np.float32)
        scale = np.asarray(qp.scale, np.float32)
        zp = np.asarray(qp.zero_point if qp.zero_point is not None and len(qp.zero_point) else [0], np.int64)
        axis = channel_axis(self)
        if scale.size > 1:
            bshape = [1] * q.ndim
            bshape[axis] = scale.size
            scale = scale.reshape(bshape)
            zp = zp.reshape(bshape) if zp.size > 1 else zp
        with np.errstate(over="ignore"):  # a corrupt, huge scale gives inf values, not a warning
            return ((q.astype(np.int64) - zp).astype(np.float32) * scale).astype(np.float32)


    def quantize(self, values: np.ndarray) -> np.ndarray:
        """Real ``values`` in this activation tensor's type, as TFLite's Quantize makes them (divided by the scale
        in float32, rounded half away from zero, plus the zero point, saturated; its first scale and zero point):
        what a quantized model's input takes. A float tensor takes them as float32."""
        from .qmath import quantize_affine

        if self.dtype.kind == "f":
            return np.asarray(values, np.float32)
        qp = self.quantization
        if qp is None or qp.scale is None or not len(qp.scale):
            raise EdgequantError(f"{self._where()} is {self.type_name} without a scale to quantize values with")
        info = np.iinfo(self.dtype)
        zp = int(qp.zero_point[0]) if qp.zero_point is not None and len(qp.zero_point) else 0
        return quantize_affine(values, np.float32(qp.scale[0]), zp, info.min, info.max).astype(self.dtype)

    def _dequantize_blockwise(self, q: np.ndarray, details: Node) -> np.ndarray:
        """Blockwise: blocks of ``block_size`` along the last axis, one scale (and zero point) per block,
        read from the tensors ``details.scales`` / ``details.zero_points`` (-1: zero points are 0)."""
        where = f"tensor {self._index} '{self.name}' (blockwise)"
        sg = self._sg
        bs = int(details.block_size)
        if bs <= 0 or q.ndim == 0 or q.shape[-1] % bs:
            raise ModelFormatError(f"{where}: block size {bs} does not divide the last axis of {list(q.shape)}")
        scales = sg.tensor(details.scales).dequantize()
        if scales is None or scales.size * bs != q.size:
            raise ModelFormatError(f"{where}: scales tensor {details.scales} does not hold one scale per block")
        blocks = q.reshape(q.shape[:-1] + (q.shape[-1] // bs, bs)).astype(np.int64)
        if details.zero_points >= 0:
            zps = sg.tensor(details.zero_points).numpy()
            if zps is None or zps.size * bs != q.size:
                raise ModelFormatError(f"{where}: zero-point tensor does not hold one value per block")
            blocks = blocks - zps.reshape(blocks.shape[:-1] + (1,)).astype(np.int64)
        out = blocks.astype(np.float32) * scales.astype(np.float32).reshape(blocks.shape[:-1] + (1,))
        return out.reshape(q.shape)


def channel_axis(t: Tensor) -> int:
    """The quantized dimension of a per-channel tensor, checked against its shape.

    Lenient on one known non-standard case: rank-1 tensors whose quantized_dimension is out of
    range (tflite-micro's person-detect biases say 3) use axis 0 when the scale count matches.
    """
    qp = t.quantization
    n = len(qp.scale) if qp is not None and qp.scale is not None else 0
    if n <= 1:
        return 0
    axis = qp.quantized_dimension
    shape = list(t.shape)
    if 0 <= axis < len(shape) and shape[axis] == n:
        return axis
    if len(shape) == 1 and shape[0] == n:
        return 0
    raise ModelFormatError(f"tensor {t.index} '{t.name}': {n} scales do not match axis {axis} of shape {shape}")


def _decode_strings(raw: np.ndarray, where: str) -> np.ndarray:
    """TFLite string tensors: int32 count, count+1 int32 offsets, then the bytes."""
    b = raw.tobytes()
    if len(b) < 4:
        raise ModelFormatError(f"{where}: string buffer of {len(b)} bytes is too short")
    n = int.from_bytes(b[:4], "little", signed=True)
    if n < 0 or 4 * (n + 2) > len(b):
        raise ModelFormatError(f"{where}: string count {n} does not fit in {len(b)} bytes")
    offs = np.frombuffer(b, np.int32, n + 1, 4)
    if np.any(np.diff(offs) < 0) or offs[0] < 0 or offs[-1] > len(b):
        raise ModelFormatError(f"{where}: string offsets are out of order or out of range")
    return np.array([b[offs[i]:offs[i + 1]] for i in range(n)], dtype=object)


@register
class SubGraph(Node):
    _table = TABLES["SubGraph"]
    _model: Model | None = None

    def tensor(self, index: int) -> Tensor:
        if not 0 <= index < len(self.tensors or []):
            raise ModelFormatError(f"subgraph '{self.name or ''}': tensor index {index} is out of range "
                                   f"({len(self.tensors or [])} tensors)")
        return self.tensors[index]

    def producers(self) -> dict[int, int]:
        """tensor index -> index of the operator that writes it."""
        return {t: i for i, op in enumerate(self.operators or []) for t in op.outputs or [] if t >= 0}

    def consumers(self) -> dict[int, list[int]]:
        """tensor index -> indices of the operators that read it, in execution order."""
        out: dict[int, list[int]] = {}
        for i, op in enumerate(self.operators or []):
            for t in op.inputs or []:
                if t >= 0:
                    out.setdefault(t, []).append(i)
        return out

    def add_tensor(self, tensor: Tensor) -> int:
        """Append a tensor and return its index."""
        if self.tensors is None:
            self.tensors = []
        tensor._model, tensor._sg, tensor._index = self._model, self, len(self.tensors)
        self.tensors.append(tensor)
        return tensor._index


@register
class Model(Node):
    _table = TABLES["Model"]
    _source: Any = None  # the mmap or bytes the views point into; kept alive with the model
    _external: bool = False  # buffers were stored after the flatbuffer (offset/size)

    @property
    def main(self) -> SubGraph:
        if not self.subgraphs:
            raise ModelFormatError("model has no subgraphs")
        return self.subgraphs[0]

    def opcode(self, op: Operator) -> OperatorCode:
        codes = self.operator_codes or []
        if op.opcode_index >= len(codes):
            raise ModelFormatError(f"operator opcode_index {op.opcode_index} is out of range ({len(codes)} codes)")
        return codes[op.opcode_index]

    def op_code(self, op: Operator) -> int:
        return self.opcode(op).code

    def op_name(self, op: Operator) -> str:
        return self.opcode(op).name

    def add_buffer(self, data: np.ndarray | bytes | None) -> int:
        """Append a buffer holding ``data`` (stored as bytes) and return its index."""
        if self.buffers is None:
            self.buffers = [Buffer()]
        arr = None if data is None else np.frombuffer(
            bytes(data) if isinstance(data, (bytes, bytearray)) else np.ascontiguousarray(data).tobytes(), np.uint8)
        self.buffers.append(Buffer(data=arr))
        return len(self.buffers) - 1

    def op_code_index(self, code: int | str, version: int = 1, custom_code: str | None = None) -> int:
        """Index of the OperatorCode for ``code``, adding one if the model has none yet."""
        code = BuiltinOperator.value(code) if isinstance(code, str) else code
        if self.operator_codes is None:
            self.operator_codes = []
        for i, oc in enumerate(self.operator_codes):
            if oc.code == code and oc.custom_code == custom_code:
                oc.version = max(oc.version, version)
                return i
        self.operator_codes.append(OperatorCode(deprecated_builtin_code=min(code, 127), builtin_code=code,
                                                version=version, custom_code=custom_code))
        return len(self.operator_codes) - 1

    def bind(self) -> Model:
        """Point every subgraph and tensor back at this model (after building or editing by hand)."""
        for sg in self.subgraphs or []:
            sg._model = self
            for i, t in enumerate(sg.tensors or []):
                t._model, t._sg, t._index = self, sg, i
        return self

    def tensors(self) -> Iterator[tuple[int, Tensor]]:
        """(subgraph index, tensor) for every tensor of every subgraph."""
        for s, sg in enumerate(self.subgraphs or []):
            for t in sg.tensors or []:
                yield s, t

    def clone(self) -> Model:
        """A deep copy of the structure that shares the (read-only) buffer data arrays."""
        copy = _clone(self)
        copy._source, copy._external = self._source, self._external
        return copy.bind()


_ATOMS = frozenset((int, float, str, bool, type(None)))  # immutable: shared, not copied


def _clone(v: Any) -> Any:
    if type(v) in _ATOMS:
        return v
    if isinstance(v, Node):
        new = type(v).__new__(type(v))
        new.__dict__.update({k: x if type(x) in _ATOMS else _clone(x)
                             for k, x in v.__dict__.items() if k[0] != "_"})  # not startswith: a call per key
        return new
    if isinstance(v, list):
        return [x if type(x) in _ATOMS else _clone(x) for x in v]
    if isinstance(v, np.ndarray) and v.flags.writeable:
        return v.copy()
    return v


# -- load and save ----------------------------------------------------------------------------------

def load(data: bytes | bytearray | memoryview) -> Model:
    """Parse a .tflite model from bytes. Buffer data stays a view of ``data``.

    >>> m = load(open("model.tflite", "rb").read()); m.main.tensors[0].name
    """
    if isinstance(data, (str, os.PathLike)):
        raise EdgequantError(f"load() takes the model's bytes; for a file use load_file({str(data)!r})")
    if not isinstance(data, (bytes, bytearray, memoryview, mmap.mmap)):
        raise EdgequantError(f"load() takes the model's bytes (bytes, bytearray, memoryview), got "
                             f"{type(data).__name__}")
    reader = Reader(data)
    try:
        model = reader.root()
    except RecursionError:
        raise ModelFormatError("tables nest too deeply") from None
    if not isinstance(model, Model):  # pragma: no cover - registry invariant
        raise TypeError("Model class not registered")
    model._source = data
    _resolve_external(model, reader)
    _validate(model)
    return model.bind()


def load_file(path: str | os.PathLike) -> Model:
    """Open a .tflite file through a read-only mmap: cost independent of the weights' size.

    >>> m = load_file("model.tflite"); [m.op_name(op) for op in m.main.operators]
    """
    if not isinstance(path, (str, os.PathLike)):
        raise EdgequantError(f"load_file() takes a path, got {type(path).__name__}"
                             + ("; for the model's bytes use load()" if isinstance(path, (bytes, bytearray)) else ""))
    path = Path(path)
    with _named(path):
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise ModelFormatError("file is empty")
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            if hasattr(mm, "madvise") and hasattr(mmap, "MADV_RANDOM"):
                mm.madvise(mmap.MADV_RANDOM)  # no read-ahead: opening touches only the graph tables
        return load(mm)


def read_file(path: str | os.PathLike) -> tuple[bytes, Model]:
    """The bytes of a .tflite file and its model, for callers that need both (C export, flash reports). Errors
    name the file, as :func:`load_file`'s do."""
    path = Path(path)
    with _named(path):
        data = path.read_bytes()
        if not data:
            raise ModelFormatError("file is empty")
        return data, load(data)


@contextlib.contextmanager
def _named(path: Path) -> Iterator[None]:
    """One-line errors that start with the file's name, for opening a file and reading a model from it."""
    try:
        yield
    except IsADirectoryError:
        raise EdgequantError(f"{path}: is a directory, not a .tflite file") from None
    except FileNotFoundError:
        raise EdgequantError(f"{path}: no such file") from None
    except PermissionError:
        raise EdgequantError(f"{path}: permission denied") from None
    except ModelFormatError as e:
        raise ModelFormatError(f"{path}: {e}") from None


def _resolve_external(model: Model, reader: Reader) -> None:
    for i, buf in enumerate(model.buffers or []):
        if buf.offset > 1:
            if buf.data is not None and buf.data.size:
                raise ModelFormatError(f"buffer {i} has both inline data and an external offset")
            end = buf.offset + buf.size
            if end > reader.size:
                raise ModelFormatError(f"buffer {i}: external data at offset {buf.offset} size {buf.size} "
                                       f"is outside the file ({reader.size} bytes)")
            buf.data = reader.array[buf.offset:end]
            model._external = True


def _validate(model: Model) -> None:
    """Structural checks every later step relies on; each names what is wrong and where."""
    n_buffers = len(model.buffers or [])
    n_codes = len(model.operator_codes or [])
    if not model.subgraphs:
        raise ModelFormatError("model has no subgraphs")
    for s, sg in enumerate(model.subgraphs):
        n = len(sg.tensors or [])
        for t_i, t in enumerate(sg.tensors or []):
            if t.buffer >= n_buffers and t.buffer != 0:
                raise ModelFormatError(f"subgraph {s} tensor {t_i} '{t.name}': buffer {t.buffer} out of range "
                                       f"({n_buffers} buffers)")
            if t.shape is not None and any(d < -1 for d in t.shape):
                raise ModelFormatError(f"subgraph {s} tensor {t_i} '{t.name}': invalid shape {t.shape}")
        for name in ("inputs", "outputs"):
            for idx in getattr(sg, name) or []:
                if not 0 <= idx < n:
                    raise ModelFormatError(f"subgraph {s} {name}: tensor index {idx} out of range ({n} tensors)")
        for o, op in enumerate(sg.operators or []):
            if op.opcode_index >= n_codes:
                raise ModelFormatError(f"subgraph {s} operator {o}: opcode_index {op.opcode_index} out of range "
                                       f"({n_codes} operator codes)")
            for name in ("inputs", "outputs", "intermediates"):
                for idx in getattr(op, name) or []:
                    if idx != -1 and not 0 <= idx < n:
                        raise ModelFormatError(f"subgraph {s} operator {o} ({model.op_name(op)}) {name}: "
                                               f"tensor index {idx} out of range ({n} tensors)")


def save(model: Model, *, external_data: bool | None = None) -> bytes:
    """The model as .tflite bytes (deterministic; buffer data 16-byte aligned).

    ``external_data``: store buffers after the flatbuffer (Buffer.offset/size). Default: as the
    model was loaded, and always when the buffers exceed the 2 GB flatbuffer limit.
    """
    if not isinstance(model, Model):
        raise EdgequantError(f"save() takes a Model, got {type(model).__name__} (save_file's order is (model, path))")
    if external_data is None and model._external:
        external_data = True
    return serialize(model, external_data=external_data)


def save_file(model: Model, path: str | os.PathLike, *, external_data: bool | None = None) -> None:
    """Write the model atomically: a temporary file in the same folder, renamed over ``path``."""
    data = save(model, external_data=external_data)
    write_atomic(path, data)


def check_writable(path: str | os.PathLike, inputs: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Fail early, naming ``path``, when a file should not be written there: its folder is missing, it is a
    folder itself, a read-only file, or one of the command's ``inputs`` (a model is never replaced by what was
    made from it). Commands call this before their work, so a typo in ``-o`` costs no calibration run."""
    path = Path(path)
    if path.is_dir():
        raise EdgequantError(f"{path}: is a directory; give a file name")
    if path.exists():
        for source in inputs:
            try:
                same = os.path.samefile(path, source)
            except OSError:
                same = False
            if same:
                raise EdgequantError(f"{path}: is the input model; write the result to another file")
        if not path.stat().st_mode & 0o222:
            raise EdgequantError(f"{path}: is read-only; remove it or write elsewhere")
    parent = path.parent
    if not parent.is_dir():
        raise EdgequantError(f"{path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise EdgequantError(f"{path}: folder {parent} is not writable")
    return path


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part. Errors name
    ``path``, not the temporary file beside it."""
    path = check_writable(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    except OSError as e:
        raise EdgequantError(f"{path}: cannot write ({e.strerror})") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a saved model gets the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError):
            raise EdgequantError(f"{path}: cannot write ({e.strerror or e})") from None
        raise


def new_node(table: str, **values: Any) -> Node:
    """A fresh object for any schema table, e.g. ``new_node("Conv2DOptions", stride_w=1)``."""
    return node_class(table)(**values)

"""The XbarSim model graph (Weights/FORMAT.md) in PyTorch: in-memory ops, shape
inference, an interpreter module, and the HDF5 reader.

``export.py`` builds a list of :class:`Op` from a traced ``nn.Module``, runs it with
:class:`GraphModule` to produce the golden per-op outputs, and writes it;
``load_hdf5_as_torch(path)`` reads a file back into the same :class:`GraphModule`,
so a round trip can be checked against the original module.

Every op is computed with the same ``torch.nn.functional`` call the corresponding
``torch.nn`` module makes, so a re-imported graph reproduces the module bit for bit
on the CPU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FORMAT_NAME = "xbarsim-model"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
INPUT_NAME = "input"

# type -> (required int-array attrs, required int attrs, required float attrs, required datasets, optional datasets)
OP_SPECS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "conv2d": (("stride", "padding", "dilation"), ("groups",), (), ("weight",), ("bias",)),
    "batchnorm": ((), (), ("eps",), ("gamma", "beta", "running_mean", "running_var"), ()),
    "relu": ((), (), (), (), ()),
    "hardsigmoid": ((), (), (), (), ()),
    "hardswish": ((), (), (), (), ()),
    "add": ((), (), (), (), ()),
    "mul": ((), (), (), (), ()),
    "global_avg_pool": ((), (), (), (), ()),
    "flatten": ((), (), (), (), ()),
    "linear": ((), (), (), ("weight", "bias"), ()),
    # format version 2
    "max_pool2d": (("kernel", "stride", "padding", "dilation"), ("ceil_mode",), (), (), ()),
    "avg_pool2d": (("kernel", "stride", "padding"), ("ceil_mode", "count_include_pad"), (), (), ()),
    "concat": ((), ("axis",), (), (), ()),
    "channel_slice": ((), ("start", "stop"), (), (), ()),
    "channel_shuffle": ((), ("groups",), (), (), ()),
    "clamp": ((), (), (), (), ()),                  # optional float attrs min, max
    "sigmoid": ((), (), (), (), ()),
    "tanh": ((), (), (), (), ()),
    "silu": ((), (), (), (), ()),
    "mish": ((), (), (), (), ()),
    "gelu": ((), (), (), (), ()),                   # required string attr approximate
    "leaky_relu": ((), (), ("negative_slope",), (), ()),
    "elu": ((), (), ("alpha",), (), ()),
    "softplus": ((), (), ("beta", "threshold"), (), ()),
}
VERSION2_TYPES = {t for t in OP_SPECS if list(OP_SPECS).index(t) >= list(OP_SPECS).index("max_pool2d")}
NUM_INPUTS = {"add": 2, "mul": 2}  # concat takes 2 or more; every other type exactly one
ELEMENTWISE = ("relu", "hardsigmoid", "hardswish", "clamp", "sigmoid", "tanh", "silu", "mish", "gelu", "leaky_relu",
               "elu", "softplus")
INT_ATTRS = ("groups", "ceil_mode", "count_include_pad", "axis", "start", "stop")
FLOAT_ATTRS = ("eps", "min", "max", "negative_slope", "alpha", "beta", "threshold")
STRING_ATTRS = ("approximate",)
PAIR_ATTRS = ("stride", "padding", "dilation", "kernel")
RESERVED_TYPES = ("max_pool", "channel_split")


def pool_output_size(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """PyTorch's pooling_output_shape."""
    span = n + 2 * p - d * (k - 1) - 1
    if span < 0:
        return 0
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


class GraphError(Exception):
    """A malformed graph or model file; the message names the file / op / field."""


@dataclass
class Op:
    name: str
    type: str
    inputs: list[str]
    attrs: dict = field(default_factory=dict)      # int tuples / ints / floats
    tensors: dict = field(default_factory=dict)    # name -> float32 np.ndarray


def op_label(index: int, op: Op) -> str:
    return f"op {op.name} (/ops/{index:04d}, {op.type})"


def infer_shapes(ops: list[Op], input_shape: tuple[int, ...], where: str = "",
                 version: int = FORMAT_VERSION) -> dict[str, tuple[int, ...]]:
    """Per-image output shape (no batch dim) of every op; raises GraphError on any
    inconsistency (unknown input, wrong tensor shape, channel mismatch)."""
    pre = f"{where}: " if where else ""
    shapes: dict[str, tuple[int, ...]] = {INPUT_NAME: tuple(int(s) for s in input_shape)}
    for i, op in enumerate(ops):
        lab = op_label(i, op)
        if op.type not in OP_SPECS:
            if op.type in RESERVED_TYPES:
                raise GraphError(f"{pre}{lab}: type '{op.type}' is reserved for a later format version and not supported")
            raise GraphError(f"{pre}{lab}: unknown type '{op.type}'")
        if op.name in shapes:
            raise GraphError(f"{pre}{lab}: name '{op.name}' is used twice")
        if op.type == "concat":
            if len(op.inputs) < 2:
                raise GraphError(f"{pre}{lab}: field inputs has {len(op.inputs)} names, expected 2 or more")
        elif len(op.inputs) != NUM_INPUTS.get(op.type, 1):
            raise GraphError(f"{pre}{lab}: field inputs has {len(op.inputs)} names, expected {NUM_INPUTS.get(op.type, 1)}")
        ins = []
        for n in op.inputs:
            if n not in shapes:
                raise GraphError(f"{pre}{lab}: field inputs names '{n}', which is not an earlier op or '{INPUT_NAME}'")
            ins.append(shapes[n])
        ivec, iint, iflt, req, opt = OP_SPECS[op.type]
        if op.type in VERSION2_TYPES and version < 2:
            raise GraphError(f"{pre}{lab}: type '{op.type}' needs format_version 2")
        for a in ivec:
            v = op.attrs.get(a)
            if v is None or len(v) != 2 or any(int(x) < 0 for x in v):
                raise GraphError(f"{pre}{lab}: field {a} must be 2 non-negative ints, got {v!r}")
        for a in iint + iflt:
            if a not in op.attrs:
                raise GraphError(f"{pre}{lab}: missing field {a}")
        for t in req:
            if t not in op.tensors:
                raise GraphError(f"{pre}{lab}: missing dataset {t}")
        for t, arr in op.tensors.items():
            if t not in req and t not in opt:
                raise GraphError(f"{pre}{lab}: unexpected dataset {t}")
            if not np.all(np.isfinite(arr)):
                bad = "NaN" if np.isnan(arr).any() else "Inf"
                raise GraphError(f"{pre}{lab}: dataset {t} contains {bad}")
        x = ins[0]

        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise GraphError(f"{pre}{lab}: {msg}")

        t = op.type
        if t == "conv2d":
            need(len(x) == 3, f"input '{op.inputs[0]}' has shape {x}, expected (C, H, W)")
            w = op.tensors["weight"].shape
            g = int(op.attrs["groups"])
            need(len(w) == 4, f"dataset weight has shape {w}, expected (O, I/groups, KH, KW)")
            need(g >= 1 and x[0] % g == 0 and w[0] % g == 0, f"field groups={g} does not divide input channels {x[0]} and output channels {w[0]}")
            need(w[1] == x[0] // g, f"dataset weight has shape {w}: second dimension must be input channels / groups = {x[0]}/{g}")
            if "bias" in op.tensors:
                need(op.tensors["bias"].shape == (w[0],), f"dataset bias has shape {op.tensors['bias'].shape}, expected ({w[0]},)")
            s, p, d = (tuple(int(v) for v in op.attrs[k]) for k in ("stride", "padding", "dilation"))
            need(min(s) >= 1 and min(d) >= 1, "fields stride and dilation must be >= 1")
            oh = (x[1] + 2 * p[0] - d[0] * (w[2] - 1) - 1) // s[0] + 1
            ow = (x[2] + 2 * p[1] - d[1] * (w[3] - 1) - 1) // s[1] + 1
            need(oh >= 1 and ow >= 1, f"kernel {w[2:]} does not fit the padded input {x[1:]}")
            out = (w[0], oh, ow)
        elif t == "batchnorm":
            need(len(x) == 3, f"input '{op.inputs[0]}' has shape {x}, expected (C, H, W)")
            for k in ("gamma", "beta", "running_mean", "running_var"):
                need(op.tensors[k].shape == (x[0],), f"dataset {k} has shape {op.tensors[k].shape}, expected ({x[0]},)")
            need(float(op.attrs["eps"]) >= 0, "field eps is negative")
            need(bool(np.all(op.tensors["running_var"] + float(op.attrs["eps"]) > 0)), "running_var + eps is not positive")
            out = x
        elif t in ELEMENTWISE:
            if t == "clamp" and "min" in op.attrs and "max" in op.attrs:
                need(float(op.attrs["min"]) <= float(op.attrs["max"]), "field min is above field max")
            if t == "gelu":
                need(op.attrs.get("approximate") in ("none", "tanh"), f"field approximate must be 'none' or 'tanh', got {op.attrs.get('approximate')!r}")
            if t == "softplus":
                need(float(op.attrs["beta"]) != 0, "field beta must not be 0")
            out = x
        elif t in ("max_pool2d", "avg_pool2d"):
            need(len(x) == 3, f"input '{op.inputs[0]}' has shape {x}, expected (C, H, W)")
            k, s_, p = (tuple(int(v) for v in op.attrs[a]) for a in ("kernel", "stride", "padding"))
            d = tuple(int(v) for v in op.attrs["dilation"]) if t == "max_pool2d" else (1, 1)
            need(min(k) >= 1 and min(s_) >= 1 and min(d) >= 1, "fields kernel, stride and dilation must be >= 1")
            need(all(2 * p[i] <= d[i] * (k[i] - 1) + 1 for i in range(2)), "field padding must be at most half the kernel")
            ceil = int(op.attrs["ceil_mode"]) == 1
            oh = pool_output_size(x[1], k[0], s_[0], p[0], d[0], ceil)
            ow = pool_output_size(x[2], k[1], s_[1], p[1], d[1], ceil)
            need(oh >= 1 and ow >= 1, f"window {k} does not fit the input {x[1:]}")
            out = (x[0], oh, ow)
        elif t == "concat":
            need(int(op.attrs["axis"]) == 1, f"field axis is {op.attrs['axis']}, only 1 (channels) is supported")
            for j, sh in enumerate(ins):
                need(len(sh) == len(x) and sh[1:] == x[1:], f"input {j} has shape {sh}, expected {('C',) + tuple(x[1:])}")
            out = (sum(sh[0] for sh in ins), *x[1:])
        elif t == "channel_slice":
            a, b = int(op.attrs["start"]), int(op.attrs["stop"])
            need(0 <= a < b <= x[0], f"fields start={a}, stop={b} must satisfy 0 <= start < stop <= {x[0]}")
            out = (b - a, *x[1:])
        elif t == "channel_shuffle":
            need(len(x) == 3, f"input '{op.inputs[0]}' has shape {x}, expected (C, H, W)")
            g = int(op.attrs["groups"])
            need(g >= 1 and x[0] % g == 0, f"field groups={g} does not divide {x[0]} channels")
            out = x
        elif t == "add":
            need(ins[0] == ins[1], f"inputs have shapes {ins[0]} and {ins[1]}, expected equal shapes")
            out = x
        elif t == "mul":
            a, b = ins
            ok = a == b or (len(a) == 3 and len(b) == 3 and a[0] == b[0] and (a[1:] == (1, 1) or b[1:] == (1, 1)))
            need(ok, f"inputs have shapes {a} and {b}, expected equal shapes or (C, 1, 1) with (C, H, W)")
            out = a if b[1:] == (1, 1) else b
        elif t == "global_avg_pool":
            need(len(x) == 3, f"input '{op.inputs[0]}' has shape {x}, expected (C, H, W)")
            out = (x[0], 1, 1)
        elif t == "flatten":
            need(len(x) == 3, f"input '{op.inputs[0]}' has shape {x}, expected (C, H, W)")
            out = (x[0] * x[1] * x[2],)
        elif t == "linear":
            w = op.tensors["weight"].shape
            need(len(x) == 1, f"input '{op.inputs[0]}' has shape {x}, expected (features,)")
            need(len(w) == 2 and w[1] == x[0], f"dataset weight has shape {w}, expected (O, {x[0]})")
            need(op.tensors["bias"].shape == (w[0],), f"dataset bias has shape {op.tensors['bias'].shape}, expected ({w[0]},)")
            out = (w[0],)
        else:  # pragma: no cover - guarded by OP_SPECS
            raise GraphError(f"{pre}{lab}: unhandled type")
        shapes[op.name] = tuple(int(v) for v in out)
    return shapes


class GraphModule(nn.Module):
    """Runs a list of :class:`Op` with torch.nn.functional (eval semantics)."""

    def __init__(self, ops: list[Op], output: str, input_shape: tuple[int, ...]) -> None:
        super().__init__()
        infer_shapes(ops, input_shape)
        names = {INPUT_NAME} | {op.name for op in ops}
        if output not in names or output == INPUT_NAME:
            raise GraphError(f"output '{output}' is not the name of an op")
        self.ops = ops
        self.output = output
        self.input_shape = tuple(input_shape)
        self._keys: list[dict[str, str]] = []
        for i, op in enumerate(ops):
            keys = {}
            for k, arr in op.tensors.items():
                key = f"op{i:04d}_{k}"
                self.register_buffer(key, torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).clone())
                keys[k] = key
            self._keys.append(keys)
        last = {}
        for i, op in enumerate(ops):
            for n in op.inputs:
                last[n] = i
        self._free_after = [[n for n in set(op.inputs) if last[n] == i and n != output] for i, op in enumerate(ops)]

    def _t(self, i: int, k: str) -> torch.Tensor | None:
        key = self._keys[i].get(k)
        return getattr(self, key) if key is not None else None

    def forward(self, x: torch.Tensor, record=None) -> torch.Tensor:
        """``record(index, op, tensor)`` is called with every op's output if given."""
        env = {INPUT_NAME: x}
        for i, op in enumerate(self.ops):
            a = [env[n] for n in op.inputs]
            t = op.type
            if t == "conv2d":
                y = F.conv2d(a[0], self._t(i, "weight"), self._t(i, "bias"), tuple(op.attrs["stride"]),
                             tuple(op.attrs["padding"]), tuple(op.attrs["dilation"]), int(op.attrs["groups"]))
            elif t == "batchnorm":
                y = F.batch_norm(a[0], self._t(i, "running_mean"), self._t(i, "running_var"), self._t(i, "gamma"),
                                 self._t(i, "beta"), False, 0.0, float(op.attrs["eps"]))
            elif t == "relu":
                y = F.relu(a[0])
            elif t == "hardsigmoid":
                y = F.hardsigmoid(a[0])
            elif t == "hardswish":
                y = F.hardswish(a[0])
            elif t == "add":
                y = a[0] + a[1]
            elif t == "mul":
                y = a[0] * a[1]
            elif t == "global_avg_pool":
                y = F.adaptive_avg_pool2d(a[0], 1)
            elif t == "flatten":
                y = torch.flatten(a[0], 1)
            elif t == "linear":
                y = F.linear(a[0], self._t(i, "weight"), self._t(i, "bias"))
            elif t == "max_pool2d":
                y = F.max_pool2d(a[0], tuple(op.attrs["kernel"]), tuple(op.attrs["stride"]), tuple(op.attrs["padding"]),
                                 tuple(op.attrs["dilation"]), ceil_mode=bool(op.attrs["ceil_mode"]))
            elif t == "avg_pool2d":
                y = F.avg_pool2d(a[0], tuple(op.attrs["kernel"]), tuple(op.attrs["stride"]), tuple(op.attrs["padding"]),
                                 ceil_mode=bool(op.attrs["ceil_mode"]), count_include_pad=bool(op.attrs["count_include_pad"]))
            elif t == "concat":
                y = torch.cat(a, 1)
            elif t == "channel_slice":
                y = a[0][:, int(op.attrs["start"]):int(op.attrs["stop"])]
            elif t == "channel_shuffle":
                n, c = a[0].shape[:2]
                g = int(op.attrs["groups"])
                y = a[0].reshape(n, g, c // g, *a[0].shape[2:]).transpose(1, 2).reshape(a[0].shape)
            elif t == "clamp":
                y = torch.clamp(a[0], op.attrs.get("min"), op.attrs.get("max"))
            elif t == "sigmoid":
                y = torch.sigmoid(a[0])
            elif t == "tanh":
                y = torch.tanh(a[0])
            elif t == "silu":
                y = F.silu(a[0])
            elif t == "mish":
                y = F.mish(a[0])
            elif t == "gelu":
                y = F.gelu(a[0], approximate=op.attrs["approximate"])
            elif t == "leaky_relu":
                y = F.leaky_relu(a[0], float(op.attrs["negative_slope"]))
            elif t == "elu":
                y = F.elu(a[0], float(op.attrs["alpha"]))
            elif t == "softplus":
                y = F.softplus(a[0], float(op.attrs["beta"]), float(op.attrs["threshold"]))
            else:  # pragma: no cover
                raise GraphError(f"{op_label(i, op)}: unhandled type")
            env[op.name] = y
            if record is not None:
                record(i, op, y)
            for n in self._free_after[i]:
                del env[n]
        return env[self.output]


# ----------------------------------------------------------------------------- HDF5 reading

def _attr_str(obj, key: str, where: str) -> str:
    if key not in obj.attrs:
        raise GraphError(f"{where}: missing attribute {key}")
    v = obj.attrs[key]
    if isinstance(v, bytes):
        v = v.decode("utf-8")
    if not isinstance(v, str):
        raise GraphError(f"{where}: attribute {key} is not a string")
    return v


def _attr_strs(obj, key: str, where: str) -> list[str]:
    if key not in obj.attrs:
        raise GraphError(f"{where}: missing attribute {key}")
    v = np.asarray(obj.attrs[key]).reshape(-1)
    return [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in v]


def read_model(path: str, verify: bool = True) -> tuple[list[Op], dict]:
    """Reads and validates an XbarSim model file; returns (ops, root attributes)."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise GraphError(f"{path}: cannot open as HDF5 ({e})") from None
    with f:
        fmt = _attr_str(f, "format", path)
        if fmt != FORMAT_NAME:
            raise GraphError(f"{path}: attribute format is '{fmt}', expected '{FORMAT_NAME}'")
        ver = int(f.attrs.get("format_version", -1))
        if ver not in READABLE_VERSIONS:
            raise GraphError(f"{path}: format_version {ver} is not supported (this reader knows {READABLE_VERSIONS})")
        root = {k: f.attrs[k] for k in f.attrs}
        if "checksum" in f.attrs:
            stored = f.attrs["checksum"]
            stored = stored.decode() if isinstance(stored, bytes) else str(stored)
            computed = canonical_checksum(f)
            if stored != computed and verify:
                raise GraphError(f"{path}: attribute checksum is {stored[:23]}... but the contents hash to {computed[:23]}...: "
                                 "the file was changed or corrupted after export")
        if "ops" not in f:
            raise GraphError(f"{path}: missing group /ops")
        n = int(f.attrs["num_ops"])
        if len(f["ops"]) != n:
            raise GraphError(f"{path}: attribute num_ops is {n} but /ops has {len(f['ops'])} groups")
        ops = []
        for i in range(n):
            gp = f"/ops/{i:04d}"
            if gp not in f:
                raise GraphError(f"{path}: missing group {gp}")
            g = f[gp]
            where = f"{path}: {gp}"
            name = _attr_str(g, "name", where)
            typ = _attr_str(g, "type", where)
            inputs = _attr_strs(g, "inputs", where)
            attrs = {}
            for k in PAIR_ATTRS:
                if k in g.attrs:
                    attrs[k] = tuple(int(v) for v in np.asarray(g.attrs[k]).reshape(-1))
            for k in INT_ATTRS:
                if k in g.attrs:
                    attrs[k] = int(g.attrs[k])
            for k in FLOAT_ATTRS:
                if k in g.attrs:
                    attrs[k] = float(g.attrs[k])
            for k in STRING_ATTRS:
                if k in g.attrs:
                    attrs[k] = _attr_str(g, k, where)
            tensors = {}
            for k in g:
                ds = g[k]
                if ds.dtype != np.float32:
                    raise GraphError(f"{path}: op {name} ({gp}): dataset {k} has dtype {ds.dtype}, expected float32")
                tensors[k] = ds[()]
            ops.append(Op(name, typ, inputs, attrs, tensors))
        root["input_shape"] = tuple(int(v) for v in np.asarray(root["input_shape"]).reshape(-1))
        root["output"] = _attr_str(f, "output", path)
    infer_shapes(ops, root["input_shape"], where=path, version=ver)
    return ops, root


def load_hdf5_as_torch(path: str) -> GraphModule:
    """Rebuilds a PyTorch module (eval mode) from an XbarSim model file."""
    ops, root = read_model(path)
    try:
        m = GraphModule(ops, root["output"], root["input_shape"])
    except GraphError as e:
        raise GraphError(f"{path}: {e}") from None
    return m.eval()


# ----------------------------------------------------------------------------- checksum (FORMAT.md, "Checksum")

_ROOT_ORDER = ["format", "format_version", "architecture", "input_shape", "normalization_mean", "normalization_std",
               "class_names", "output", "num_ops", "training_command", "training_epochs", "training_seed",
               "training_wall_seconds", "training_hardware", "float_test_accuracy", "exporter", "training_noise"]
_ROOT_INTS = {"format_version", "input_shape", "num_ops", "training_epochs", "training_seed"}
_ROOT_REALS = {"normalization_mean", "normalization_std", "training_wall_seconds", "float_test_accuracy"}
_OP_ATTRS = [("alpha", "f"), ("approximate", "s"), ("axis", "i"), ("beta", "f"), ("ceil_mode", "i"),
             ("count_include_pad", "i"), ("dilation", "i"), ("eps", "f"), ("groups", "i"), ("kernel", "i"), ("max", "f"),
             ("min", "f"), ("negative_slope", "f"), ("padding", "i"), ("start", "i"), ("stop", "i"), ("stride", "i"),
             ("threshold", "f")]
_OP_DATASETS = ["beta", "bias", "gamma", "running_mean", "running_var", "weight"]


def canonical_checksum(f) -> str:
    """SHA-256 over every attribute and dataset the readers use, in FORMAT.md's canonical order and encoding
    (the Swift reader computes the same: ModelFile.canonicalChecksum). ``f`` is an open h5py.File."""
    import hashlib
    import struct
    h = hashlib.sha256()

    def u64(v: int) -> None:
        h.update(struct.pack("<Q", int(v)))

    def key(k: str) -> None:
        b = k.encode("utf-8")
        u64(len(b))
        h.update(b)

    def attr(obj, path: str, name: str, kind: str) -> None:
        if name not in obj.attrs:
            return
        key(f"{path}@{name}")
        v = obj.attrs[name]
        if kind == "i":
            a = np.asarray(v).reshape(-1).astype("<i8")
            h.update(b"i")
            u64(a.size)
            h.update(a.tobytes())
        elif kind == "f":
            a = np.asarray(v).reshape(-1).astype("<f8")
            h.update(b"f")
            u64(a.size)
            h.update(a.tobytes())
        else:
            items = [v] if isinstance(v, (str, bytes)) else list(np.asarray(v).reshape(-1))
            h.update(b"s")
            u64(len(items))
            for s in items:
                b = s if isinstance(s, bytes) else str(s).encode("utf-8")
                u64(len(b))
                h.update(b)

    def data(obj, path: str, name: str, kind: str) -> None:
        if name not in obj:
            return
        a = np.asarray(obj[name][()])
        key(f"{path}/{name}")
        h.update(kind.encode())
        u64(a.ndim)
        for d in a.shape:
            u64(d)
        h.update(np.ascontiguousarray(a, dtype="<f4" if kind == "F" else "<i8").tobytes())

    for name in _ROOT_ORDER:
        attr(f, "", name, "i" if name in _ROOT_INTS else "f" if name in _ROOT_REALS else "s")
    n = int(f.attrs.get("num_ops", 0))
    for i in range(n):
        path = f"/ops/{i:04d}"
        if path not in f:
            continue
        g = f[path]
        for name in ("name", "type", "inputs"):
            attr(g, path, name, "s")
        for name, kind in _OP_ATTRS:
            attr(g, path, name, kind)
        for name in _OP_DATASETS:
            data(g, path, name, "F")
    if "golden" in f:
        g = f["golden"]
        data(g, "/golden", "test_indices", "I")
        data(g, "/golden", "labels", "I")
        data(g, "/golden", "logits", "F")
        if "ops" in g:
            o = g["ops"]
            attr(o, "/golden/ops", "image_index", "i")
            for i in range(n):
                data(o, "/golden/ops", f"{i:04d}", "F")
    return "sha256:" + h.hexdigest()

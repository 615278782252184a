#!/usr/bin/env python3
"""Export a trained network to the XbarSim HDF5 model format (Weights/FORMAT.md).

    python Weights/export.py --checkpoint Weights/checkpoints/mobilenetv3_cifar10.pt \\
        --out Weights/mobilenetv3_cifar10.h5 [--data DIR] [--golden 256]
    python Weights/export.py --model torchvision.models:shufflenet_v2_x0_5 --model-kwargs '{"num_classes": 10}' \\
        --state-dict net.pt --data D --out net.h5
    python Weights/export.py --model path/to/file.py:ClassName --state-dict net.pt --out net.h5

The exporter is general: ``export_module`` traces any ``torch.nn.Module`` with
torch.fx and writes one op per supported module / function call, in execution
order. Supported: nn.Conv2d (zero padding), nn.BatchNorm2d (eval statistics, kept
separate), nn.Linear, ReLU / Hardsigmoid / Hardswish, ReLU6 / Hardtanh / clamp,
Sigmoid / Tanh / SiLU / GELU / LeakyReLU / ELU / Softplus / Mish (modules, functions
or methods), residual add, mul (equal shapes or SE broadcast), MaxPool2d / AvgPool2d
(and their functions, ceil_mode, count_include_pad), adaptive pooling with equal
windows (global pooling included, also x.mean((2, 3))), torch.cat on channels,
split / chunk / x[:, a:b] on channels, channel shuffle (nn.ChannelShuffle or the
view -> transpose -> view pattern), flatten (torch.flatten(x, 1) or
x.view(x.size(0), -1)). Dropout (modules and functions), Identity and eval-mode
stochastic depth are removed. Every unsupported node is listed at once, with the
source line that made it.

Before the file is renamed into place it is read back with the format's own reader
(``h5model``) and run on the golden images; a file whose logits differ from the
module's beyond ``--tolerance`` (1e-4 relative) is not written, and the error
names the first op that differs.

The golden per-op outputs are computed by running the exported graph itself
(``h5model.GraphModule``) on the golden batch, and the exporter checks that its
final output equals the module's logits before writing anything.
"""
from __future__ import annotations

import argparse
import operator
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cifar10 import MEAN, STD, TEST_FILES, DataError, class_names as cifar_class_names, default_data_dir, die, read_batches  # noqa: E402

try:
    import h5py
    import torch
    import torch.fx as fx
    import torch.nn.functional as F
    from torch import nn
    from torch.fx.passes.shape_prop import ShapeProp
except ImportError as _e:  # pragma: no cover
    die(f"export needs PyTorch and h5py ({_e}): python3 -m venv ~/torchenv && ~/torchenv/bin/pip install torch h5py numpy")

from h5model import FORMAT_NAME, FORMAT_VERSION, INPUT_NAME, GraphError, GraphModule, Op, infer_shapes, op_label  # noqa: E402

EXPORTER_VERSION = "1.0"
EXPORTER = f"Weights/export.py {EXPORTER_VERSION}, torch {torch.__version__}, h5py {h5py.__version__}"


class ExportError(Exception):
    """The module (or its data) cannot be exported; the message names the node / op / file."""


class _Skip(Exception):
    """A node whose input was already reported unsupported: nothing more to say about it."""


def _with_source(message: str, node) -> str:
    """Appends the user's source line that created ``node`` (fx records it when tracing)."""
    trace = getattr(node, "stack_trace", None) or node.meta.get("stack_trace") if hasattr(node, "meta") else None
    if not trace:
        return message
    lines = [l.strip() for l in str(trace).strip().splitlines() if l.strip().startswith("File ")]
    user = [l for l in lines if "/torch/" not in l.replace(os.sep, "/")] or lines
    if not user:
        return message
    last = user[-1]   # File "path", line N, in forward: the innermost frame outside torch
    try:
        path = last.split('"')[1]
        line = last.split("line ")[1].split(",")[0]
        return f"{message} [{os.path.relpath(path) if not path.startswith('<') else path}:{line}]"
    except IndexError:
        return message


# ----------------------------------------------------------------------------- tracing

REMOVED_MODULES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout, nn.Identity)
REMOVED_FUNCTIONS = (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.feature_alpha_dropout,
                     torch.dropout, torch.nn.functional.dropout)
ACTIVATION_MODULES = {nn.ReLU: "relu", nn.Hardsigmoid: "hardsigmoid", nn.Hardswish: "hardswish", nn.Sigmoid: "sigmoid",
                      nn.Tanh: "tanh", nn.SiLU: "silu", nn.Mish: "mish"}
ACTIVATION_FUNCTIONS = {F.relu: "relu", torch.relu: "relu", F.hardsigmoid: "hardsigmoid", F.hardswish: "hardswish",
                        torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.tanh: "tanh", F.tanh: "tanh",
                        F.silu: "silu", F.mish: "mish"}
ACTIVATION_METHODS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
ADD_FUNCTIONS = (operator.add, torch.add, operator.iadd)
MUL_FUNCTIONS = (operator.mul, torch.mul, operator.imul)
CAT_FUNCTIONS = tuple(f for f in (torch.cat, getattr(torch, "concat", None), getattr(torch, "concatenate", None)) if f)
CLAMP_FUNCTIONS = tuple(f for f in (torch.clamp, getattr(torch, "clip", None)) if f)
SPLIT_FUNCTIONS = (torch.split, torch.chunk, torch.tensor_split)
RESHAPE_METHODS = ("view", "reshape")


def _qualname(target) -> str:
    try:
        from torch.fx.node import _get_qualified_name
        name = _get_qualified_name(target)
    except Exception:
        name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None) or repr(target)
    return name.replace("_operator.", "operator.").replace("torch._C._nn.", "torch.nn.functional.")


def _pair(v, what: str) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    v = tuple(int(x) for x in v)
    if len(v) == 1:
        return (v[0], v[0])
    if len(v) != 2:
        raise ExportError(f"{what}: expected 2 values, got {v}")
    return v


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).contiguous().numpy().copy()


def _conv_padding(mod: nn.Conv2d, where: str) -> tuple[int, int]:
    if mod.padding_mode != "zeros":
        raise ExportError(f"{where}: padding_mode '{mod.padding_mode}' is not supported (only 'zeros')")
    p = mod.padding
    if isinstance(p, str):
        if p == "valid":
            return (0, 0)
        if p == "same":
            out = []
            for k, d in zip(mod.kernel_size, mod.dilation):
                total = d * (k - 1)
                if total % 2:
                    raise ExportError(f"{where}: padding='same' with kernel {tuple(mod.kernel_size)} and dilation "
                                      f"{tuple(mod.dilation)} needs asymmetric padding, which the format cannot store")
                out.append(total // 2)
            return (out[0], out[1])
        raise ExportError(f"{where}: padding '{p}' is not supported")
    return _pair(p, f"{where}: padding")


def _shape(node) -> tuple[int, ...] | None:
    if not isinstance(node, fx.Node):
        return None
    tm = node.meta.get("tensor_meta")
    return tuple(tm.shape) if tm is not None and hasattr(tm, "shape") else None


class _Converter:
    """fx graph -> list of Op. One instance per build_graph call."""

    def __init__(self, gm: fx.GraphModule) -> None:
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.ops: list[Op] = []
        self.alias: dict[fx.Node, str] = {}   # fx node -> op name ("input" for the placeholder)
        self.calls: dict[str, int] = {}        # module path -> times called so far
        self.op_node: dict[str, str] = {}      # op name -> fx node name
        self.output: str | None = None
        self.splits: dict[fx.Node, tuple[str, list[tuple[int, int]]]] = {}   # split/chunk node -> (source, channel ranges)
        self.virtual: dict[fx.Node, tuple[str, str, int]] = {}               # shuffle in progress: (stage, source, groups)
        self.errors: list[str] = []

    # -- helpers
    def src(self, node: fx.Node, arg, what: str) -> str:
        if not isinstance(arg, fx.Node):
            raise ExportError(f"unsupported {what} at node {node.name}: operand {arg!r} is a constant, "
                              "not a tensor computed by the network")
        if arg in self.virtual:
            raise ExportError(f"unsupported {what} at node {node.name}: its input {arg.name} is a reshaped view "
                              "(only the channel-shuffle pattern view -> transpose -> view is supported)")
        if arg not in self.alias:
            raise _Skip()   # the input is itself unsupported (already reported)
        return self.alias[arg]

    def emit(self, node: fx.Node, name: str, typ: str, inputs: list[str], attrs=None, tensors=None) -> None:
        self.ops.append(Op(name, typ, inputs, attrs or {}, tensors or {}))
        self.alias[node] = name
        self.op_node[name] = node.name

    @staticmethod
    def rank(node: fx.Node, arg, rank: int, what: str) -> None:
        s = _shape(arg)
        if s is None or len(s) != rank:
            raise ExportError(f"unsupported {what} at node {node.name}: input has shape {s}, expected a {rank}-D tensor")

    @staticmethod
    def args_with_defaults(node: fx.Node, what: str, names: list[str], defaults: dict) -> list:
        """Positional + keyword arguments as a list in ``names`` order; unknown ones are refused."""
        args = list(node.args)
        if len(args) > len(names):
            raise ExportError(f"unsupported {what} at node {node.name}: too many arguments {tuple(node.args)}")
        for k in node.kwargs:
            if k not in names or names.index(k) < len(args):
                raise ExportError(f"unsupported {what} at node {node.name}: unexpected argument {k}={node.kwargs[k]!r}")
        out = []
        for i, n in enumerate(names):
            if i < len(args):
                out.append(args[i])
            elif n in node.kwargs:
                out.append(node.kwargs[n])
            elif n in defaults:
                out.append(defaults[n])
            else:
                raise ExportError(f"unsupported {what} at node {node.name}: missing argument {n}")
        return out

    # -- op kinds shared by modules, functions and methods
    def activation(self, node: fx.Node, name: str, typ: str, arg, what: str) -> None:
        self.emit(node, name, typ, [self.src(node, arg, what)])

    def binary(self, node: fx.Node, typ: str, what: str) -> None:
        a, b, alpha = self.args_with_defaults(node, what, ["input", "other", "alpha"], {"alpha": 1})
        if alpha != 1:
            raise ExportError(f"unsupported {what} at node {node.name}: alpha={alpha!r}")
        ia, ib = self.src(node, a, what), self.src(node, b, what)
        sa, sb = _shape(a), _shape(b)
        if typ == "add" and sa != sb:
            raise ExportError(f"unsupported {what} at node {node.name}: operands have shapes {sa} and {sb}; "
                              "add needs two tensors of the same shape")
        if typ == "mul" and sa != sb:
            ok = (sa is not None and sb is not None and len(sa) == 4 and len(sb) == 4 and sa[:2] == sb[:2]
                  and (sa[2:] == (1, 1) or sb[2:] == (1, 1)))
            if not ok:
                raise ExportError(f"unsupported {what} at node {node.name}: operands have shapes {sa} and {sb}; "
                                  "mul needs equal shapes or (N, C, 1, 1) with (N, C, H, W)")
        self.emit(node, node.name, typ, [ia, ib])

    def global_pool(self, node: fx.Node, name: str, arg, what: str) -> None:
        self.rank(node, arg, 4, what)
        self.emit(node, name, "global_avg_pool", [self.src(node, arg, what)])

    def flatten(self, node: fx.Node, name: str, arg, start: int, end: int, what: str) -> None:
        self.rank(node, arg, 4, what)
        if start != 1 or end not in (-1, 3):
            raise ExportError(f"unsupported {what} at node {node.name}: flatten(start_dim={start}, end_dim={end}) "
                              "(only start_dim=1, end_dim=-1)")
        self.emit(node, name, "flatten", [self.src(node, arg, what)])

    def mean(self, node: fx.Node, what: str) -> None:
        x, dim, keepdim, dtype = self.args_with_defaults(node, what, ["input", "dim", "keepdim", "dtype"],
                                                         {"dim": None, "keepdim": False, "dtype": None})
        self.rank(node, x, 4, what)
        dims = sorted(d % 4 for d in ([dim] if isinstance(dim, int) else (dim or [])))
        if dims != [2, 3] or dtype is not None:
            raise ExportError(f"unsupported {what} at node {node.name}: mean over dim={dim!r} "
                              "(only the spatial dims (2, 3) = global average pooling)")
        self.global_pool(node, node.name if keepdim else f"{node.name}.pool", x, what)
        if keepdim is not True:   # (N, C): global pooling, then a flatten
            self.emit(node, node.name, "flatten", [f"{node.name}.pool"])

    def clamp(self, node: fx.Node, name: str, arg, lo, hi, what: str) -> None:
        for v in (lo, hi):
            if isinstance(v, fx.Node):
                raise ExportError(f"unsupported {what} at node {node.name}: a bound computed by the network")
        attrs = {}
        if lo is not None:
            attrs["min"] = float(lo)
        if hi is not None:
            attrs["max"] = float(hi)
        self.emit(node, name, "clamp", [self.src(node, arg, what)], attrs)

    def pool(self, node: fx.Node, name: str, typ: str, arg, kernel, stride, padding, dilation, ceil_mode,
             count_include_pad, divisor_override, what: str) -> None:
        self.rank(node, arg, 4, what)
        if divisor_override is not None:
            raise ExportError(f"unsupported {what} at node {node.name}: divisor_override={divisor_override!r}")
        k = _pair(kernel, f"{what}: kernel_size")
        st = _pair(stride if stride not in (None, [], ()) else kernel, f"{what}: stride")
        attrs = {"kernel": k, "stride": st, "padding": _pair(padding, f"{what}: padding"), "ceil_mode": int(bool(ceil_mode))}
        if typ == "max_pool2d":
            attrs["dilation"] = _pair(dilation, f"{what}: dilation")
        else:
            attrs["count_include_pad"] = int(bool(count_include_pad))
        self.emit(node, name, typ, [self.src(node, arg, what)], attrs)

    def adaptive_pool(self, node: fx.Node, name: str, typ: str, arg, size, what: str) -> None:
        """Adaptive pooling whose windows are all equal: global pooling, or an input divisible by the output."""
        self.rank(node, arg, 4, what)
        s_in = _shape(arg)
        out = list(size) if isinstance(size, (tuple, list)) else [size, size]
        out = [s_in[2 + i] if out[i] is None else int(out[i]) for i in range(2)]
        if typ == "avg" and out == [1, 1]:
            self.global_pool(node, name, arg, what)
            return
        if any(s_in[2 + i] % out[i] for i in range(2)):
            raise ExportError(f"unsupported {what} at node {node.name}: output size {tuple(out)} does not divide the "
                              f"input {tuple(s_in[2:])} (unequal windows)")
        k = (s_in[2] // out[0], s_in[3] // out[1])
        self.pool(node, name, "avg_pool2d" if typ == "avg" else "max_pool2d", arg, k, k, 0, 1, False, True, None, what)

    def concat(self, node: fx.Node, what: str) -> None:
        tensors, dim = self.args_with_defaults(node, what, ["tensors", "dim"], {"dim": 0})
        rank = len(_shape(tensors[0]) or ())
        if not isinstance(dim, int) or dim % max(rank, 1) != 1:
            raise ExportError(f"unsupported {what} at node {node.name}: dim={dim!r} (only the channel dim 1)")
        srcs = [self.src(node, t, what) for t in tensors]
        if len(srcs) == 1:
            self.alias[node] = srcs[0]
            return
        self.emit(node, node.name, "concat", srcs, {"axis": 1})

    def split(self, node: fx.Node, fn, what: str) -> None:
        x, size, dim = self.args_with_defaults(node, what, ["input", "split_size_or_sections", "dim"], {"dim": 0}) \
            if fn in (torch.split, "split") else \
            self.args_with_defaults(node, what, ["input", "chunks", "dim"], {"dim": 0})
        sh = _shape(x)
        if sh is None or not isinstance(dim, int) or dim % len(sh) != 1:
            raise ExportError(f"unsupported {what} at node {node.name}: dim={dim!r} (only the channel dim 1)")
        c = sh[1]
        if fn in (torch.split, "split"):
            sizes = [int(size)] * (c // int(size)) + ([c % int(size)] if c % int(size) else []) \
                if isinstance(size, int) else [int(v) for v in size]
        else:
            per = -(-c // int(size))
            sizes = [per] * (c // per) + ([c % per] if c % per else [])
        ranges, a = [], 0
        for n in sizes:
            ranges.append((a, a + n))
            a += n
        self.splits[node] = (self.src(node, x, what), ranges)

    def getitem(self, node: fx.Node) -> None:
        what = "indexing (getitem)"
        base, index = node.args
        if base in self.splits:
            src, ranges = self.splits[base]
            a, b = ranges[index]
            self.emit(node, node.name, "channel_slice", [src], {"start": a, "stop": b})
            return
        sh = _shape(base)
        if sh is not None and isinstance(index, tuple) and len(index) >= 2 and index[0] == slice(None) \
                and isinstance(index[1], slice) and all(i == slice(None) for i in index[2:]) and index[1].step in (None, 1):
            start, stop, _ = index[1].indices(sh[1])
            if stop <= start:
                raise ExportError(f"unsupported {what} at node {node.name}: empty channel slice {index[1]}")
            if (start, stop) == (0, sh[1]):
                self.alias[node] = self.src(node, base, what)
            else:
                self.emit(node, node.name, "channel_slice", [self.src(node, base, what)], {"start": start, "stop": stop})
            return
        raise ExportError(f"unsupported {what} at node {node.name}: index {index!r} (only a channel range x[:, a:b] "
                          "or an element of split/chunk)")

    def reshape(self, node: fx.Node, arg, what: str) -> None:
        """view / reshape / flatten, recognised by the shapes PyTorch computed: (N, C, H, W) -> (N, C*H*W) is a
        flatten; (N, C, H, W) -> (N, g, C/g, H, W) -> transpose(1, 2) -> (N, C, H, W) is a channel shuffle."""
        si, so = (_shape(arg) if arg not in self.virtual else self.virtual_shape(arg)), _shape(node)
        if arg in self.virtual:
            stage, src, g = self.virtual[arg]
            if stage == "shuffled" and so is not None and len(so) == 4:
                self.emit(node, node.name, "channel_shuffle", [src], {"groups": g})
                return
            raise ExportError(f"unsupported {what} at node {node.name}: reshape of a grouped view to {so}")
        if si is not None and so is not None and len(si) == 4 and len(so) == 2 and so[1] == si[1] * si[2] * si[3]:
            self.emit(node, node.name, "flatten", [self.src(node, arg, what)])
            return
        if si is not None and so is not None and si == so:
            self.alias[node] = self.src(node, arg, what)
            return
        if si is not None and so is not None and len(si) == 4 and len(so) == 5 and so[0] == si[0] \
                and so[1] * so[2] == si[1] and tuple(so[3:]) == tuple(si[2:]):
            self.virtual[node] = ("grouped", self.src(node, arg, what), so[1])
            return
        hint = ""
        if si is not None and so is not None and len(so) == 2:
            hint = " (write torch.flatten(x, 1))"
        raise ExportError(f"unsupported {what} at node {node.name}: reshape {si} -> {so}{hint}")

    def virtual_shape(self, node):
        return _shape(node)

    def transpose(self, node: fx.Node, arg, dims, what: str) -> None:
        if arg in self.virtual and self.virtual[arg][0] == "grouped" and sorted(d % 5 for d in dims) == [1, 2]:
            _, src, g = self.virtual[arg]
            self.virtual[node] = ("shuffled", src, g)
            return
        raise ExportError(f"unsupported {what} at node {node.name}: transpose/permute {tuple(dims)} "
                          "(only the channel-shuffle pattern)")

    # -- node kinds
    def call_module(self, node: fx.Node) -> None:
        path = node.target
        mod = self.modules[path]
        k = self.calls.get(path, 0)
        self.calls[path] = k + 1
        name = path if k == 0 else f"{path}@{k}"   # a module called twice gives ops path, path@1, ...
        cls = type(mod).__name__
        what = f"module {path} ({cls})"
        if type(mod) in REMOVED_MODULES:
            if len(node.args) != 1 or node.kwargs:
                raise ExportError(f"unsupported {what}: called with arguments {tuple(node.args)} {dict(node.kwargs)}")
            self.alias[node] = self.src(node, node.args[0], what)
            return
        known = (nn.Conv2d, nn.BatchNorm2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.Flatten, nn.Linear,
                 nn.MaxPool2d, nn.AvgPool2d, nn.ReLU6, nn.Hardtanh, nn.GELU, nn.LeakyReLU, nn.ELU, nn.Softplus,
                 nn.ChannelShuffle, *ACTIVATION_MODULES)
        if type(mod) not in known:
            hint = ""
            if isinstance(mod, (nn.MaxPool1d, nn.AvgPool1d, nn.Conv1d, nn.BatchNorm1d)):
                hint = " (1-D layers: the format holds 2-D image networks)"
            raise ExportError(f"unsupported module {path} ({cls}){hint}")
        if len(node.args) != 1 or node.kwargs:
            raise ExportError(f"unsupported {what}: called with arguments {tuple(node.args)} {dict(node.kwargs)}")
        arg = node.args[0]
        x = self.src(node, arg, what)
        if type(mod) is nn.Conv2d:
            self.rank(node, arg, 4, what)
            attrs = {"stride": _pair(mod.stride, what), "padding": _conv_padding(mod, what),
                     "dilation": _pair(mod.dilation, what), "groups": int(mod.groups)}
            tensors = {"weight": _np(mod.weight)}
            if mod.bias is not None:
                tensors["bias"] = _np(mod.bias)
            self.emit(node, name, "conv2d", [x], attrs, tensors)
        elif type(mod) is nn.BatchNorm2d:
            self.rank(node, arg, 4, what)
            if mod.running_mean is None or mod.running_var is None:
                raise ExportError(f"unsupported {what}: track_running_stats=False (no running statistics to export)")
            c = mod.num_features
            gamma = _np(mod.weight) if mod.weight is not None else np.ones(c, np.float32)
            beta = _np(mod.bias) if mod.bias is not None else np.zeros(c, np.float32)
            self.emit(node, name, "batchnorm", [x], {"eps": float(mod.eps)},
                      {"gamma": gamma, "beta": beta, "running_mean": _np(mod.running_mean),
                       "running_var": _np(mod.running_var)})
        elif type(mod) in ACTIVATION_MODULES:
            self.activation(node, name, ACTIVATION_MODULES[type(mod)], arg, what)
        elif type(mod) is nn.ReLU6:
            self.clamp(node, name, arg, 0.0, 6.0, what)
        elif type(mod) is nn.Hardtanh:
            self.clamp(node, name, arg, mod.min_val, mod.max_val, what)
        elif type(mod) is nn.GELU:
            self.emit(node, name, "gelu", [x], {"approximate": mod.approximate})
        elif type(mod) is nn.LeakyReLU:
            self.emit(node, name, "leaky_relu", [x], {"negative_slope": float(mod.negative_slope)})
        elif type(mod) is nn.ELU:
            self.emit(node, name, "elu", [x], {"alpha": float(mod.alpha)})
        elif type(mod) is nn.Softplus:
            self.emit(node, name, "softplus", [x], {"beta": float(mod.beta), "threshold": float(mod.threshold)})
        elif type(mod) is nn.ChannelShuffle:
            self.rank(node, arg, 4, what)
            self.emit(node, name, "channel_shuffle", [x], {"groups": int(mod.groups)})
        elif type(mod) is nn.MaxPool2d:
            if mod.return_indices:
                raise ExportError(f"unsupported {what}: return_indices=True")
            self.pool(node, name, "max_pool2d", arg, mod.kernel_size, mod.stride, mod.padding, mod.dilation,
                      mod.ceil_mode, True, None, what)
        elif type(mod) is nn.AvgPool2d:
            self.pool(node, name, "avg_pool2d", arg, mod.kernel_size, mod.stride, mod.padding, 1, mod.ceil_mode,
                      mod.count_include_pad, mod.divisor_override, what)
        elif type(mod) is nn.AdaptiveAvgPool2d:
            self.adaptive_pool(node, name, "avg", arg, mod.output_size, what)
        elif type(mod) is nn.AdaptiveMaxPool2d:
            if mod.return_indices:
                raise ExportError(f"unsupported {what}: return_indices=True")
            self.adaptive_pool(node, name, "max", arg, mod.output_size, what)
        elif type(mod) is nn.Flatten:
            self.flatten(node, name, arg, mod.start_dim, mod.end_dim, what)
        elif type(mod) is nn.Linear:
            self.rank(node, arg, 2, what)
            bias = _np(mod.bias) if mod.bias is not None else np.zeros(mod.out_features, np.float32)
            self.emit(node, name, "linear", [x], {}, {"weight": _np(mod.weight), "bias": bias})

    def call_function(self, node: fx.Node) -> None:
        fn = node.target
        what = f"function {_qualname(fn)}"
        if fn in ACTIVATION_FUNCTIONS:
            names, defaults = (["input"], {}) if fn is torch.relu else (["input", "inplace"], {"inplace": False})
            x = self.args_with_defaults(node, what, names, defaults)[0]
            self.activation(node, node.name, ACTIVATION_FUNCTIONS[fn], x, what)
        elif fn in ADD_FUNCTIONS:
            self.binary(node, "add", what)
        elif fn in MUL_FUNCTIONS:
            self.binary(node, "mul", what)
        elif fn is F.adaptive_avg_pool2d or fn is F.adaptive_max_pool2d:
            names = ["input", "output_size"] + (["return_indices"] if fn is F.adaptive_max_pool2d else [])
            vals = self.args_with_defaults(node, what, names, {"return_indices": False})
            if isinstance(vals[1], fx.Node) or (len(vals) > 2 and vals[2]):
                raise ExportError(f"unsupported {what} at node {node.name} with arguments {vals[1:]!r}")
            self.adaptive_pool(node, node.name, "avg" if fn is F.adaptive_avg_pool2d else "max", vals[0], vals[1], what)
        elif _qualname(fn).endswith("stochastic_depth"):
            x, p, mode, training = self.args_with_defaults(node, what, ["input", "p", "mode", "training"], {"training": True})
            if training is not False:
                raise ExportError(f"unsupported {what} at node {node.name}: training={training!r} (identity only in eval)")
            self.alias[node] = self.src(node, x, what)
        elif fn in REMOVED_FUNCTIONS:
            self.alias[node] = self.src(node, node.args[0] if node.args else node.kwargs.get("input"), what)
        elif fn in (F.max_pool2d, torch.max_pool2d):
            x, k, st, p, d, ceil, ri = self.args_with_defaults(
                node, what, ["input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"],
                {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False})
            if ri:
                raise ExportError(f"unsupported {what} at node {node.name}: return_indices=True")
            self.pool(node, node.name, "max_pool2d", x, k, st, p, d, ceil, True, None, what)
        elif fn is F.avg_pool2d:
            x, k, st, p, ceil, cip, div = self.args_with_defaults(
                node, what, ["input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"],
                {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True, "divisor_override": None})
            self.pool(node, node.name, "avg_pool2d", x, k, st, p, 1, ceil, cip, div, what)
        elif fn in CAT_FUNCTIONS:
            self.concat(node, what)
        elif fn in (torch.split, torch.chunk):
            self.split(node, fn, what)
        elif fn is F.relu6:
            x = self.args_with_defaults(node, what, ["input", "inplace"], {"inplace": False})[0]
            self.clamp(node, node.name, x, 0.0, 6.0, what)
        elif fn is F.hardtanh:
            x, lo, hi, _ = self.args_with_defaults(node, what, ["input", "min_val", "max_val", "inplace"],
                                                   {"min_val": -1.0, "max_val": 1.0, "inplace": False})
            self.clamp(node, node.name, x, lo, hi, what)
        elif fn in CLAMP_FUNCTIONS:
            x, lo, hi = self.args_with_defaults(node, what, ["input", "min", "max"], {"min": None, "max": None})
            self.clamp(node, node.name, x, lo, hi, what)
        elif fn is F.gelu:
            x, approx = self.args_with_defaults(node, what, ["input", "approximate"], {"approximate": "none"})
            self.emit(node, node.name, "gelu", [self.src(node, x, what)], {"approximate": approx})
        elif fn is F.leaky_relu:
            x, slope, _ = self.args_with_defaults(node, what, ["input", "negative_slope", "inplace"],
                                                  {"negative_slope": 0.01, "inplace": False})
            self.emit(node, node.name, "leaky_relu", [self.src(node, x, what)], {"negative_slope": float(slope)})
        elif fn is F.elu:
            x, alpha, _ = self.args_with_defaults(node, what, ["input", "alpha", "inplace"], {"alpha": 1.0, "inplace": False})
            self.emit(node, node.name, "elu", [self.src(node, x, what)], {"alpha": float(alpha)})
        elif fn is F.softplus:
            x, beta, thr = self.args_with_defaults(node, what, ["input", "beta", "threshold"], {"beta": 1.0, "threshold": 20.0})
            self.emit(node, node.name, "softplus", [self.src(node, x, what)], {"beta": float(beta), "threshold": float(thr)})
        elif fn in (F.channel_shuffle, getattr(torch, "channel_shuffle", F.channel_shuffle)):
            x, g = self.args_with_defaults(node, what, ["input", "groups"], {})
            self.emit(node, node.name, "channel_shuffle", [self.src(node, x, what)], {"groups": int(g)})
        elif fn is operator.getitem:
            self.getitem(node)
        elif fn in (torch.reshape,):
            self.reshape(node, node.args[0], what)
        elif fn in (torch.transpose, torch.permute):
            dims = list(node.args[1:]) if fn is torch.transpose else list(node.args[1])
            self.transpose(node, node.args[0], dims, what)
        elif fn is torch.flatten:
            x, start, end = self.args_with_defaults(node, what, ["input", "start_dim", "end_dim"],
                                                    {"start_dim": 0, "end_dim": -1})
            self.flatten(node, node.name, x, start, end, what)
        elif fn is torch.mean:
            self.mean(node, what)
        else:
            hint = {"torch.nn.functional.interpolate": " (resizing has no crossbar mapping)"}.get(_qualname(fn), "")
            raise ExportError(f"unsupported function {_qualname(fn)} at node {node.name}{hint}")

    def call_method(self, node: fx.Node) -> None:
        m = node.target
        what = f"method Tensor.{m}"
        if m in ACTIVATION_METHODS:
            x = self.args_with_defaults(node, what, ["input"], {})[0]
            self.activation(node, node.name, ACTIVATION_METHODS[m], x, what)
        elif m in ("clamp", "clip"):
            x, lo, hi = self.args_with_defaults(node, what, ["input", "min", "max"], {"min": None, "max": None})
            self.clamp(node, node.name, x, lo, hi, what)
        elif m in RESHAPE_METHODS:
            self.reshape(node, node.args[0], what)
        elif m in ("transpose", "permute"):
            dims = list(node.args[1:]) if m == "transpose" or not isinstance(node.args[1], (tuple, list)) else list(node.args[1])
            self.transpose(node, node.args[0], dims, what)
        elif m == "contiguous":
            arg = node.args[0]
            if arg in self.virtual:
                self.virtual[node] = self.virtual[arg]
            else:
                self.alias[node] = self.src(node, arg, what)
        elif m in ("split", "chunk"):
            self.split(node, m, what)
        elif m == "add":
            self.binary(node, "add", what)
        elif m == "mul":
            self.binary(node, "mul", what)
        elif m == "flatten":
            x, start, end = self.args_with_defaults(node, what, ["input", "start_dim", "end_dim"],
                                                    {"start_dim": 0, "end_dim": -1})
            if x in self.virtual and start == 1 and end == 2:
                self.reshape(node, x, what)
            else:
                self.flatten(node, node.name, x, start, end, what)
        elif m == "mean":
            self.mean(node, what)
        else:
            raise ExportError(f"unsupported method Tensor.{m} at node {node.name}")

    @staticmethod
    def is_shape_computation(node: fx.Node) -> bool:
        """x.size(), x.shape, x.dim() and integer arithmetic on them: no tensor flows."""
        if node.op not in ("call_method", "call_function"):
            return False
        if "tensor_meta" in node.meta:
            return False
        return node.meta.get("type") not in (torch.Tensor, tuple, list) or node.target in ("size", "dim")

    def run(self) -> None:
        placeholders = 0
        for node in self.gm.graph.nodes:
            try:
                self.convert(node, placeholders)
            except _Skip:
                pass
            except ExportError as e:
                self.errors.append(_with_source(str(e), node))
                # Later nodes are still checked, with this one standing in for its (unsupported) value.
                self.alias.setdefault(node, f"<unsupported {node.name}>")
            if node.op == "placeholder":
                placeholders += 1

    def convert(self, node: fx.Node, placeholders: int) -> None:
        if node.op in ("call_method", "call_function") and self.is_shape_computation(node):
            return
        if node.op == "placeholder":
            if placeholders >= 1:
                raise ExportError(f"unsupported second input '{node.target}': the format has one network input")
            self.alias[node] = INPUT_NAME
        elif node.op == "get_attr":
            raise ExportError(f"unsupported tensor attribute {node.target} (get_attr at node {node.name}): only "
                              "parameters of supported modules can be exported")
        elif node.op == "call_module":
            self.call_module(node)
        elif node.op == "call_function":
            self.call_function(node)
        elif node.op == "call_method":
            self.call_method(node)
        elif node.op == "output":
            out = node.args[0]
            if not isinstance(out, fx.Node):
                raise ExportError(f"unsupported network output {out!r}: the module must return a single tensor")
            if out not in self.alias:
                raise _Skip()
            self.output = self.alias[out]
            if self.output == INPUT_NAME:
                raise ExportError("the network output is its input: nothing to export")
        else:  # pragma: no cover
            raise ExportError(f"unsupported fx node {node.name} ({node.op})")


def _fold_shape_values(gm: fx.GraphModule, example_input_shape) -> None:
    """Replaces every use of a non-tensor value computed by the network (x.size(3), x.shape[1] // 2, ...) by its
    value for the fixed input shape, so pooling sizes and slice bounds written that way become constants."""
    values: dict[fx.Node, object] = {}

    class Rec(fx.Interpreter):
        def run_node(self, n):
            r = super().run_node(n)
            if not isinstance(r, torch.Tensor) and not (isinstance(r, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in r)):
                values[n] = r
            return r

    with torch.no_grad():
        Rec(gm).run(torch.zeros((1, *example_input_shape), dtype=torch.float32))
    folded = {n: v for n, v in values.items() if n.op in ("call_method", "call_function") and isinstance(v, (int, float, bool, torch.Size, tuple))}
    for node in gm.graph.nodes:
        node.args = fx.node.map_arg(node.args, lambda a: folded.get(a, a))
        node.kwargs = fx.node.map_arg(node.kwargs, lambda a: folded.get(a, a))


def build_graph(module: nn.Module, example_input_shape) -> tuple[list[Op], str, dict[str, str]]:
    """Traces ``module`` (switched to eval mode) and converts it to ops.

    Returns (ops, name of the output op, {op name: fx node name}). Raises ExportError
    for anything the format cannot represent, naming the node / module path and type.
    """
    example_input_shape = tuple(int(s) for s in example_input_shape)
    module.eval()
    for name, p in list(module.named_parameters()) + list(module.named_buffers()):
        if p.is_floating_point() and p.dtype != torch.float32:
            raise ExportError(f"tensor {name} has dtype {p.dtype}; the format stores float32 (call module.float())")
    try:
        tracer = fx.Tracer()
        tracer.record_stack_traces = True
        graph = tracer.trace(module)
        gm = fx.GraphModule(tracer.root, graph, type(module).__name__)
    except Exception as e:
        raise ExportError(f"cannot trace {type(module).__name__} with torch.fx: {type(e).__name__}: {e}") from None
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(torch.zeros((1, *example_input_shape), dtype=torch.float32))
    except Exception as e:
        raise ExportError(f"cannot run {type(module).__name__} on an input of shape (1, {example_input_shape}): "
                          f"{type(e).__name__}: {e}") from None
    _fold_shape_values(gm, example_input_shape)
    conv = _Converter(gm)
    conv.run()
    if conv.errors:
        n = len(conv.errors)
        raise ExportError(f"{type(module).__name__}: {n} unsupported op{'s' if n > 1 else ''}: " + "; ".join(conv.errors))
    ops, output = conv.ops, conv.output
    if output is None:
        raise ExportError("the traced graph has no output")
    used = {n for op in ops for n in op.inputs} | {output}
    dead = [op.name for op in ops if op.name not in used]
    if dead:
        raise ExportError(f"op(s) {', '.join(dead)} compute values that never reach the output "
                          "(an unused branch, or an in-place update such as x += y); remove them from the module")
    names = [op.name for op in ops]
    if len(set(names)) != len(names) or INPUT_NAME in names:
        dup = sorted({n for n in names if names.count(n) > 1 or n == INPUT_NAME})
        raise ExportError(f"op names are not unique: {dup}")
    try:
        shapes = infer_shapes(ops, example_input_shape)   # also refuses NaN / Inf in any weight, naming the op
    except GraphError as e:
        raise ExportError(str(e)) from None
    nodes = {n.name: n for n in gm.graph.nodes}
    for i, op in enumerate(ops):   # the format's shape rules must agree with what PyTorch computed
        node = nodes[conv.op_node[op.name]]
        s = _shape(node) if conv.alias.get(node) == op.name else None   # an op made on the way (mean -> pool, flatten)
        if s is not None and tuple(s[1:]) != shapes[op.name]:
            raise ExportError(f"{op_label(i, op)}: PyTorch output shape {tuple(s[1:])} differs from the format's "
                              f"{shapes[op.name]}")
    return ops, output, conv.op_node


# ----------------------------------------------------------------------------- writing

PROVENANCE_DEFAULTS = {
    "training_command": "",
    "training_epochs": -1,
    "training_seed": -1,
    "training_wall_seconds": -1.0,
    "training_hardware": "",
    "float_test_accuracy": -1.0,
    "training_noise": "",
}
_STR = None  # h5py.string_dtype("utf-8"), created lazily


def _check_finite(arr, what: str) -> None:
    a = arr.numpy() if isinstance(arr, torch.Tensor) else np.asarray(arr)
    if not np.all(np.isfinite(a)):
        bad = "NaN" if np.isnan(a).any() else "Inf"
        raise ExportError(f"{what} contains {bad}; refusing to write")


def export_module(module: nn.Module, path: str, *, example_input_shape, class_names, provenance: dict,
                  golden_images: np.ndarray, golden_labels, golden_indices=None,
                  normalization_mean=MEAN, normalization_std=STD, architecture: str | None = None,
                  compression: str | None = "gzip", verify_tolerance: float = 1e-4) -> dict:
    """Writes ``module`` as an XbarSim model file (FORMAT.md) at ``path``.

    golden_images: float32 (M, C, H, W), already normalised; golden_labels: (M,)
    ints; golden_indices: their test-set indices (default 0..M-1). ``provenance``
    holds any of PROVENANCE_DEFAULTS' keys (missing ones are written as unknown).
    The file is written to ``path + '.tmp'`` and renamed, so a failure leaves no
    partial file. Returns a summary dict (ops, output, num_params, bytes,
    max_abs_diff between the module and the exported graph, ...).
    """
    shape = tuple(int(s) for s in example_input_shape)
    if len(shape) != 3:
        raise ExportError(f"example_input_shape {shape} must be (C, H, W)")
    unknown = set(provenance) - set(PROVENANCE_DEFAULTS)
    if unknown:
        raise ExportError(f"unknown provenance keys {sorted(unknown)} (known: {sorted(PROVENANCE_DEFAULTS)})")
    prov = {**PROVENANCE_DEFAULTS, **provenance}
    mean = np.asarray(normalization_mean, np.float64).reshape(-1)
    std = np.asarray(normalization_std, np.float64).reshape(-1)
    if mean.shape != (shape[0],) or std.shape != (shape[0],) or not np.all(std > 0):
        raise ExportError(f"normalization mean/std must have {shape[0]} entries (std > 0)")
    images = np.ascontiguousarray(golden_images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != shape or images.shape[0] < 1:
        raise ExportError(f"golden_images has shape {images.shape}, expected (M >= 1, {shape[0]}, {shape[1]}, {shape[2]})")
    m = images.shape[0]
    labels = np.asarray(golden_labels, np.int64).reshape(-1)
    indices = np.arange(m, dtype=np.int64) if golden_indices is None else np.asarray(golden_indices, np.int64).reshape(-1)
    if labels.shape != (m,) or indices.shape != (m,):
        raise ExportError(f"golden_labels / golden_indices must have {m} entries")
    _check_finite(images, "golden_images")

    ops, output, op_node = build_graph(module, shape)
    graph = GraphModule(ops, output, shape).eval()

    # golden outputs: the module's logits, and the exported graph run on the same batch
    per_op: list[np.ndarray | None] = [None] * len(ops)

    def record(i, op, y):
        per_op[i] = y[0].detach().clone().contiguous().numpy()

    x = torch.from_numpy(images)
    with torch.no_grad():
        ref = module(x)
        got = graph(x, record=record)
    if not isinstance(ref, torch.Tensor) or ref.dim() != 2 or ref.shape[0] != m:
        raise ExportError(f"the module returned {type(ref).__name__} {getattr(ref, 'shape', '')}, expected logits (M, K)")
    ref = ref.detach().to(torch.float32).contiguous()
    k = ref.shape[1]
    names = [str(c) for c in class_names]
    if len(names) != k:
        raise ExportError(f"{len(names)} class names for {k} logits")
    _check_finite(ref, f"golden logits (output of op {output})")
    for i, op in enumerate(ops):
        _check_finite(per_op[i], f"golden output of {op_label(i, op)}")
    diff = float((ref - got).abs().max())
    if not torch.equal(ref, got):
        scale = max(1.0, float(ref.abs().max()))
        if diff > 1e-5 * scale:
            raise ExportError(f"the exported graph does not reproduce the module: max |logit difference| {diff:.3g} "
                              "(an in-place operation or an op with semantics the tracer cannot see?)")

    global _STR
    _STR = _STR or h5py.string_dtype("utf-8")
    tmp = path + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    ds_opts = {"compression": compression} if compression else {}
    try:
        with h5py.File(tmp, "w") as f:
            a = f.attrs
            a["format"] = FORMAT_NAME
            a["format_version"] = np.int64(FORMAT_VERSION)
            a["architecture"] = architecture or type(module).__name__
            a["input_shape"] = np.asarray(shape, np.int64)
            a["normalization_mean"] = mean
            a["normalization_std"] = std
            a.create("class_names", np.asarray(names, dtype=object), dtype=_STR)
            a["output"] = output
            a["num_ops"] = np.int64(len(ops))
            a["training_command"] = str(prov["training_command"])
            a["training_epochs"] = np.int64(prov["training_epochs"])
            a["training_seed"] = np.int64(prov["training_seed"])
            a["training_wall_seconds"] = np.float64(prov["training_wall_seconds"])
            a["training_hardware"] = str(prov["training_hardware"])
            a["float_test_accuracy"] = np.float64(prov["float_test_accuracy"])
            a["exporter"] = EXPORTER
            if prov["training_noise"]:
                a["training_noise"] = str(prov["training_noise"])
            gops = f.create_group("ops")
            for i, op in enumerate(ops):
                g = gops.create_group(f"{i:04d}")
                g.attrs["name"] = op.name
                g.attrs["type"] = op.type
                g.attrs.create("inputs", np.asarray(op.inputs, dtype=object), dtype=_STR)
                for key, v in op.attrs.items():
                    if isinstance(v, tuple):
                        g.attrs[key] = np.asarray(v, np.int64)
                    elif isinstance(v, float):
                        g.attrs[key] = np.float64(v)
                    elif isinstance(v, str):
                        g.attrs[key] = v
                    else:
                        g.attrs[key] = np.int64(v)
                for key, arr in op.tensors.items():
                    g.create_dataset(key, data=np.ascontiguousarray(arr, np.float32), **ds_opts)
            gg = f.create_group("golden")
            gg.create_dataset("test_indices", data=indices)
            gg.create_dataset("labels", data=labels)
            gg.create_dataset("logits", data=ref.numpy(), **ds_opts)
            go = gg.create_group("ops")
            go.attrs["image_index"] = np.int64(0)
            for i, arr in enumerate(per_op):
                go.create_dataset(f"{i:04d}", data=arr, **ds_opts)
        with h5py.File(tmp, "r+") as f:
            from h5model import canonical_checksum
            f.attrs["checksum"] = canonical_checksum(f)
        # The file as written, read back by the format's reader, must reproduce the module.
        verified = verify_written(tmp, module, {"op_node": op_node}, images, verify_tolerance)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return {"ops": ops, "output": output, "op_node": op_node, "max_abs_diff": diff, "exact": diff == 0.0,
            "verified_relative": verified,
            "num_params": int(sum(t.size for op in ops for t in op.tensors.values())),
            "bytes": os.path.getsize(path), "golden_logits": ref.numpy()}


# ----------------------------------------------------------------------------- CLI

def normalise_images(x_uint8: np.ndarray, mean=MEAN, std=STD) -> np.ndarray:
    """FORMAT.md normalisation, every step in float32: (float32(p) / 255 - float32(mean)) / float32(std)."""
    m = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, -1, 1, 1)
    return ((x_uint8.astype(np.float32) / np.float32(255.0)) - m) / s


def training_command(cmd) -> str:
    """The checkpoint's command is " ".join(sys.argv) of train.py; make it a runnable command line."""
    cmd = str(cmd or "").strip()
    if not cmd:
        return ""
    first = cmd.split()[0]
    if first.startswith("-"):                       # just the arguments
        return "python Weights/train.py " + cmd
    if first.endswith("train.py"):                  # "Weights/train.py --epochs ..."
        return "python " + cmd
    return cmd


def _import_object(spec: str):
    """``package.module:Name`` or ``path/to/file.py:Name`` -> the object."""
    import importlib
    import importlib.util
    if ":" not in spec:
        raise ExportError(f"--model {spec!r}: expected MODULE:NAME or FILE.py:NAME")
    where, name = spec.rsplit(":", 1)
    if where.endswith(".py"):
        if not os.path.isfile(where):
            raise ExportError(f"--model {spec!r}: no such file {where}")
        mod_spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(where))[0], where)
        module = importlib.util.module_from_spec(mod_spec)
        sys.path.insert(0, os.path.dirname(os.path.abspath(where)))
        try:
            mod_spec.loader.exec_module(module)
        except Exception as e:
            raise ExportError(f"--model {spec!r}: importing {where} failed: {type(e).__name__}: {e}") from None
    else:
        try:
            module = importlib.import_module(where)
        except Exception as e:
            raise ExportError(f"--model {spec!r}: cannot import {where}: {type(e).__name__}: {e}") from None
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise ExportError(f"--model {spec!r}: {where} has no attribute {name}")
        obj = getattr(obj, part)
    return obj


def build_module(spec: str, kwargs_json: str | None) -> nn.Module:
    """Instantiates ``spec`` (a class or factory function) with the JSON keyword arguments."""
    import json
    factory = _import_object(spec)
    try:
        kwargs = json.loads(kwargs_json) if kwargs_json else {}
    except json.JSONDecodeError as e:
        raise ExportError(f"--model-kwargs: not valid JSON ({e})") from None
    if not isinstance(kwargs, dict):
        raise ExportError("--model-kwargs: expected a JSON object, e.g. '{\"num_classes\": 10}'")
    try:
        module = factory(**kwargs)
    except Exception as e:
        raise ExportError(f"--model {spec!r}: calling it with {kwargs} failed: {type(e).__name__}: {e}") from None
    if not isinstance(module, nn.Module):
        raise ExportError(f"--model {spec!r} made a {type(module).__name__}, not a torch.nn.Module")
    return module


def load_state_dict_strict(module: nn.Module, path: str, what: str = "state dict") -> dict:
    """Loads a state dict (a plain one, or one under 'state_dict' / 'model' in a checkpoint) into ``module``
    strictly: missing or unexpected keys and shape mismatches are an error naming them."""
    if not os.path.isfile(path):
        raise ExportError(f"{path}: no such {what} file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise ExportError(f"{path}: cannot read ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    ckpt = obj if isinstance(obj, dict) else {}
    sd = obj
    if isinstance(obj, dict):
        for key in ("state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                sd = obj[key]
                break
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise ExportError(f"{path}: not a state dict (a dict of tensors, or a checkpoint holding one under 'state_dict'/'model')")
    own = module.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f"{k}: file {tuple(sd[k].shape)} vs module {tuple(own[k].shape)}" for k in own
              if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s) {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s) {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
    if shapes:
        problems.append(f"{len(shapes)} shape mismatch(es) {shapes[:5]}{' ...' if len(shapes) > 5 else ''}")
    if problems:
        raise ExportError(f"{path}: {what} does not fit {type(module).__name__}: " + "; ".join(problems))
    module.load_state_dict(sd, strict=True)
    return ckpt


def load_checkpoint_model(path: str):
    """A train.py checkpoint -> its network (the architecture and width its arguments name)."""
    from model import build_model
    if not os.path.isfile(path):
        raise ExportError(f"{path}: no such checkpoint")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False).get("args", {})
    except Exception:
        saved = {}
    arch, width = saved.get("arch", "mobilenetv3"), saved.get("width", 1.0)
    try:
        model = build_model(arch, width)
    except ValueError as e:
        raise ExportError(f"{path}: {e}") from None
    ckpt = load_state_dict_strict(model, path, "train.py checkpoint")
    if "model" not in ckpt:
        raise ExportError(f"{path}: not a train.py checkpoint (no 'model' key)")
    return model.eval(), ckpt


def evaluate(module: nn.Module, images_u8: np.ndarray, labels: np.ndarray, batch: int = 500, mean=MEAN, std=STD) -> float:
    correct = 0
    with torch.no_grad():
        for i in range(0, images_u8.shape[0], batch):
            x = torch.from_numpy(normalise_images(images_u8[i:i + batch], mean, std))
            correct += int((module(x).argmax(1) == torch.from_numpy(labels[i:i + batch])).sum())
    return correct / images_u8.shape[0]


def node_outputs(module: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every fx node's output, computed by torch.fx's own Interpreter on the traced module."""
    gm = fx.symbolic_trace(module)
    outs: dict[str, torch.Tensor] = {}

    class Rec(fx.Interpreter):
        def run_node(self, n):
            r = super().run_node(n)
            outs[n.name] = r
            return r

    with torch.no_grad():
        Rec(gm).run(x)
    return outs


def verify_written(path: str, module: nn.Module, info: dict, images: np.ndarray, tolerance: float = 1e-4) -> float:
    """Reads ``path`` back with the format's own reader and compares it with ``module`` on ``images``:
    the logits, and where they differ beyond ``tolerance`` (relative to the largest logit), the first op whose
    output differs from the module's. Returns the logits' relative difference."""
    from h5model import load_hdf5_as_torch
    loaded = load_hdf5_as_torch(path)
    x = torch.from_numpy(np.ascontiguousarray(images, np.float32))
    with torch.no_grad():
        ref = module(x)
        got = loaded(x)
    scale = max(float(ref.abs().max()), 1e-30)
    rel = float((ref - got).abs().max()) / scale
    if rel <= tolerance:
        return rel
    # Locate the first op that differs: the module's fx node outputs against the file's op outputs.
    outs = node_outputs(module, x)
    mine: list = []
    with torch.no_grad():
        loaded(x, record=lambda i, op, y: mine.append((i, op, y)))
    for i, op, y in mine:
        ref_y = outs.get(info["op_node"].get(op.name, ""))
        if isinstance(ref_y, torch.Tensor) and ref_y.shape == y.shape:
            d = float((ref_y - y).abs().max()) / max(float(ref_y.abs().max()), 1e-30)
            if d > tolerance:
                raise ExportError(f"{path}: the written file does not reproduce the module: {op_label(i, op)} differs "
                                  f"by {d:.3g} relative (logits {rel:.3g}); file not written")
    raise ExportError(f"{path}: the written file's logits differ from the module's by {rel:.3g} relative; file not written")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="train.py checkpoint (.pt): the network its --arch/--width name")
    src.add_argument("--model", help="any nn.Module: MODULE:NAME (e.g. torchvision.models:shufflenet_v2_x0_5) or FILE.py:NAME")
    ap.add_argument("--model-kwargs", default=None, help="JSON keyword arguments for --model, e.g. '{\"num_classes\": 10}'")
    ap.add_argument("--state-dict", default=None, help="weights for --model (state dict or checkpoint); loaded strictly")
    ap.add_argument("--random-init", action="store_true", help="with --model and no --state-dict: export the random "
                    "initial weights (tests); running statistics of BN made non-trivial")
    ap.add_argument("--out", required=True, help="HDF5 model file to write")
    ap.add_argument("--data", default=None, help="CIFAR-10 binary folder or an XbarSim dataset file (.h5, Datasets/FORMAT.md); "
                    "default: $XBARSIM_DATA, Datasets/, ../shared/cifar10/")
    ap.add_argument("--golden", type=int, default=256, help="number of golden test images (default 256)")
    ap.add_argument("--accuracy-images", type=int, default=None, help="test images for the float accuracy (default: all)")
    ap.add_argument("--architecture", default=None, help="free-text architecture name stored in the file")
    ap.add_argument("--tolerance", type=float, default=1e-4, help="largest relative logit difference between the "
                    "written file and the module (default 1e-4)")
    ap.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads (default 1)")
    args = ap.parse_args()
    torch.set_num_threads(max(1, args.threads))
    t0 = time.time()
    try:
        if not 1 <= args.golden <= 10000:
            raise ExportError(f"--golden {args.golden}: must be between 1 and 10000")
        if args.model is None and (args.model_kwargs or args.state_dict or args.random_init):
            raise ExportError("--model-kwargs, --state-dict and --random-init go with --model")
        ds = load_test_data(args.data)
        if args.checkpoint:
            model, ckpt = load_checkpoint_model(args.checkpoint)
            cargs = ckpt.get("args") or {}
            prov = {"training_command": training_command(ckpt.get("command", "")),
                    "training_epochs": int(ckpt.get("epoch", -1)), "training_seed": int(cargs.get("seed", -1)),
                    "training_wall_seconds": float(ckpt.get("elapsed", -1.0)), "training_hardware": str(ckpt.get("hardware", ""))}
            if cargs.get("hwa_config"):
                import json
                prov["training_noise"] = json.dumps({"model": "hwa.py (XbarSim device model in the forward pass)",
                                                     "init_from": cargs.get("init_from"), **cargs["hwa_config"]}, sort_keys=True)
            arch = args.architecture or ("mobilenetv3_small_cifar10" if cargs.get("arch", "mobilenetv3") == "mobilenetv3"
                                         else f"{cargs['arch']}_x{float(cargs.get('width', 1.0))}_cifar10")
        else:
            model = build_module(args.model, args.model_kwargs)
            if args.state_dict:
                ckpt = load_state_dict_strict(model, args.state_dict)
                prov = {"training_command": str(ckpt.get("command", "")) if isinstance(ckpt, dict) else ""}
            elif args.random_init:
                gen = torch.Generator().manual_seed(0)
                randomise_batchnorm(model, gen)
                prov = {"training_command": "random initial weights (export.py --random-init, seed 0)"}
            else:
                raise ExportError("--model needs --state-dict (trained weights) or --random-init")
            arch = args.architecture or args.model
        model.eval()
        if ds["images"].shape[0] < args.golden:
            raise ExportError(f"{ds['source']}: {ds['images'].shape[0]} test images, fewer than --golden {args.golden}")
        n_acc = ds["images"].shape[0] if args.accuracy_images is None else min(args.accuracy_images, ds["images"].shape[0])
        acc = evaluate(model, ds["images"][:n_acc], ds["labels"][:n_acc], mean=ds["mean"], std=ds["std"])
        prov["float_test_accuracy"] = acc if n_acc == ds["images"].shape[0] else -1.0
        golden = normalise_images(ds["images"][:args.golden], ds["mean"], ds["std"])
        info = export_module(model, args.out, example_input_shape=ds["images"].shape[1:], class_names=ds["class_names"],
                             provenance=prov, golden_images=golden, golden_labels=ds["labels"][:args.golden],
                             normalization_mean=ds["mean"], normalization_std=ds["std"], architecture=arch,
                             verify_tolerance=args.tolerance)
    except (ExportError, DataError, GraphError) as e:
        die(str(e))
    print(f"wrote {args.out}: {len(info['ops'])} ops, {info['num_params']} parameters, {info['bytes'] / 1e6:.2f} MB, "
          f"float accuracy {acc:.4f} on {n_acc} test images, golden {args.golden} images, "
          f"file vs module logits {info['verified_relative']:.3g} relative, {time.time() - t0:.0f} s")


def randomise_batchnorm(module: nn.Module, gen: torch.Generator) -> None:
    """Non-trivial BN statistics and affine parameters, so random-weight exports test BN for real."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                if m.weight is not None:
                    m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                    m.bias.copy_(torch.rand(c, generator=gen) - 0.5)
                m.running_mean.copy_(torch.rand(c, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.25)


def load_test_data(data: str | None) -> dict:
    """Test images (uint8 N,C,H,W), labels, class names and normalisation from a CIFAR-10 folder or a dataset file."""
    if data and os.path.isfile(data):
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Datasets"))
        from labelled_images import read_dataset
        d = read_dataset(data)
        return {"images": d["images"], "labels": d["labels"], "class_names": d["class_names"], "mean": d["mean"],
                "std": d["std"], "source": data}
    data_dir = data or default_data_dir()
    te_x, te_y = read_batches(data_dir, TEST_FILES)
    return {"images": te_x, "labels": te_y, "class_names": cifar_class_names(data_dir), "mean": MEAN, "std": STD,
            "source": os.path.join(data_dir, TEST_FILES[0])}


if __name__ == "__main__":
    main()

"""Tests of Weights/export.py and Weights/h5model.py.

    /root/torchenv/bin/python -m pytest Weights/test_export.py -q
"""
from __future__ import annotations

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from export import ExportError, build_graph, export_module, node_outputs, randomise_batchnorm  # noqa: E402
from h5model import GraphError, load_hdf5_as_torch, read_model  # noqa: E402
from model import MobileNetV3SmallCIFAR  # noqa: E402

CLASSES10 = [f"class{i}" for i in range(10)]
NORM4 = {"normalization_mean": [0.5] * 4, "normalization_std": [0.25] * 4}


def randomise_bn(module: nn.Module, gen: torch.Generator) -> None:
    randomise_batchnorm(module, gen)


def export_and_check(module: nn.Module, path: str, shape: tuple[int, int, int], classes: list[str], m_golden: int = 3,
                     seed: int = 0) -> tuple[dict, nn.Module]:
    """Exports, re-imports and checks the round trip, golden logits and golden per-op outputs."""
    module.eval()
    rng = np.random.default_rng(seed)
    golden = rng.standard_normal((m_golden, *shape)).astype(np.float32)
    labels = rng.integers(0, len(classes), m_golden)
    info = export_module(module, path, example_input_shape=shape, class_names=classes,
                         provenance={"training_seed": 7}, golden_images=golden, golden_labels=labels,
                         normalization_mean=[0.5] * shape[0], normalization_std=[0.25] * shape[0])
    assert info["exact"], info["max_abs_diff"]
    loaded = load_hdf5_as_torch(path)

    # (1) the re-imported graph reproduces the module bit for bit on fresh inputs
    x = torch.randn(5, *shape, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        ref, got = module(x), loaded(x)
    assert got.shape == ref.shape
    assert torch.equal(got, ref), f"max |diff| {float((got - ref).abs().max())}"

    # (2) golden logits and per-op outputs stored in the file are what the module computes
    gx = torch.from_numpy(golden)
    with torch.no_grad():
        ref_golden = module(gx)
    outs = node_outputs(module, gx)
    with h5py.File(path, "r") as f:
        assert torch.equal(torch.from_numpy(f["golden/logits"][()]), ref_golden)
        np.testing.assert_array_equal(f["golden/labels"][()], labels)
        np.testing.assert_array_equal(f["golden/test_indices"][()], np.arange(m_golden))
        assert int(f["golden/ops"].attrs["image_index"]) == 0
        n = int(f.attrs["num_ops"])
        assert len(f["golden/ops"]) == n
        for i, op in enumerate(info["ops"]):
            stored = torch.from_numpy(f[f"golden/ops/{i:04d}"][()])
            expect = outs[info["op_node"][op.name]][0]
            assert stored.shape == expect.shape, op.name
            assert torch.equal(stored, expect), f"golden output of {op.name} differs"
        out_idx = [op.name for op in info["ops"]].index(f.attrs["output"])
        assert torch.equal(torch.from_numpy(f[f"golden/ops/{out_idx:04d}"][()]), ref_golden[0])
    return info, loaded


# ----------------------------------------------------------------------------- (a) MobileNetV3

def test_mobilenet_round_trip(tmp_path):
    torch.manual_seed(1)
    model = MobileNetV3SmallCIFAR()
    randomise_bn(model, torch.Generator().manual_seed(2))
    path = str(tmp_path / "m.h5")
    info, _ = export_and_check(model, path, (3, 32, 32), CLASSES10, m_golden=2)
    types = [op.type for op in info["ops"]]
    assert types.count("conv2d") == 52 and types.count("batchnorm") == 34 and types.count("linear") == 2
    assert types.count("add") == 7 and types.count("mul") == 9 and types.count("global_avg_pool") == 10
    assert "dropout" not in types and info["output"] == "classifier.3"
    names = [op.name for op in info["ops"]]
    assert names[0] == "features.0.0" and "classifier.2" not in names   # the Dropout is removed
    lin2 = info["ops"][names.index("classifier.3")]
    assert lin2.inputs == ["classifier.1"]                                # ... and its consumer rewired


def test_file_follows_format(tmp_path):
    """Attribute dtypes and layout exactly as FORMAT.md says."""
    torch.manual_seed(3)
    model = MobileNetV3SmallCIFAR()
    path = str(tmp_path / "m.h5")
    rng = np.random.default_rng(0)
    export_module(model, path, example_input_shape=(3, 32, 32), class_names=CLASSES10,
                  provenance={"training_command": "python Weights/train.py --epochs 1", "training_epochs": 1,
                              "training_seed": 0, "training_wall_seconds": 12.5, "training_hardware": "x86_64, 2 threads",
                              "float_test_accuracy": 0.5},
                  golden_images=rng.standard_normal((1, 3, 32, 32)).astype(np.float32), golden_labels=[3],
                  architecture="mobilenetv3_small_cifar10")
    vlen_utf8 = h5py.check_string_dtype
    with h5py.File(path, "r") as f:
        a = f.attrs
        for k in ("format", "architecture", "output", "training_command", "training_hardware", "exporter"):
            sd = vlen_utf8(a.get_id(k).dtype)
            assert sd is not None and sd.encoding == "utf-8" and sd.length is None, k
            assert a.get_id(k).shape == (), k
        assert a["format"] == "xbarsim-model" and a["architecture"] == "mobilenetv3_small_cifar10"
        for k in ("format_version", "num_ops", "training_epochs", "training_seed"):
            assert a.get_id(k).dtype == np.int64 and a.get_id(k).shape == (), k
        for k in ("training_wall_seconds", "float_test_accuracy"):
            assert a.get_id(k).dtype == np.float64 and a.get_id(k).shape == (), k
        assert a["format_version"] == 2 and a["training_epochs"] == 1 and a["float_test_accuracy"] == 0.5
        assert a.get_id("input_shape").dtype == np.int64 and list(a["input_shape"]) == [3, 32, 32]
        assert a.get_id("normalization_mean").dtype == np.float64 and a["normalization_mean"].shape == (3,)
        assert a.get_id("normalization_std").dtype == np.float64 and a["normalization_std"].shape == (3,)
        cn = a.get_id("class_names")
        assert vlen_utf8(cn.dtype).encoding == "utf-8" and cn.shape == (10,)
        assert [s.decode() if isinstance(s, bytes) else s for s in a["class_names"]] == CLASSES10
        assert sorted(f["ops"]) == [f"{i:04d}" for i in range(a["num_ops"])]
        for i in range(a["num_ops"]):
            g = f[f"ops/{i:04d}"]
            ins = g.attrs.get_id("inputs")
            assert vlen_utf8(ins.dtype).encoding == "utf-8" and len(ins.shape) == 1
            for ds in g.values():
                assert ds.dtype == np.float32
            if g.attrs["type"] == "conv2d":
                for k in ("stride", "padding", "dilation"):
                    assert g.attrs.get_id(k).dtype == np.int64 and g.attrs[k].shape == (2,)
                assert g.attrs.get_id("groups").dtype == np.int64 and g.attrs.get_id("groups").shape == ()
            if g.attrs["type"] == "batchnorm":
                assert g.attrs.get_id("eps").dtype == np.float64 and g.attrs["eps"] == pytest.approx(1e-3)
        assert f["golden/test_indices"].dtype == np.int64 and f["golden/labels"].dtype == np.int64
        assert f["golden/logits"].dtype == np.float32 and f["golden/logits"].shape == (1, 10)
        assert f["ops/0000"].attrs["name"] == "features.0.0"
        assert list(f["ops/0000"].attrs["inputs"]) == ["input"]
        assert f["golden/ops/0000"].shape == (16, 32, 32)


# ----------------------------------------------------------------------------- (b) a custom CNN

class TinySE(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc = nn.Conv2d(c, c, 1)

    def forward(self, x):
        s = F.hardsigmoid(self.fc(x.mean((2, 3), keepdim=True)))
        return x * s                              # (N,C,H,W) * (N,C,1,1): the other operand order


class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(4, 8, 3, stride=2, padding=0, groups=2, bias=True)
        self.bn1 = nn.BatchNorm2d(8, eps=1e-5)
        self.act = nn.ReLU()                      # called twice: ops "act" and "act@1"
        self.conv2 = nn.Conv2d(8, 8, 3, padding="same", bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.se = TinySE(8)
        self.hs = nn.Hardswish()
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.drop = nn.Dropout(0.5)
        self.ident = nn.Identity()
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        y = self.act(self.bn1(self.conv1(x)))
        r = torch.add(self.bn2(self.conv2(y)), y)  # residual add
        r = self.act(r)
        r = self.se(r)
        r = F.hardswish(self.hs(r))
        z = torch.flatten(self.ident(self.pool(r)), 1)
        return self.fc(self.drop(z))


def test_custom_cnn_round_trip(tmp_path):
    torch.manual_seed(4)
    model = TinyCNN()
    randomise_bn(model, torch.Generator().manual_seed(5))
    info, loaded = export_and_check(model, str(tmp_path / "tiny.h5"), (4, 9, 9), list("abcde"), m_golden=3)
    ops = {op.name: op for op in info["ops"]}
    assert [op.type for op in info["ops"]] == [
        "conv2d", "batchnorm", "relu", "conv2d", "batchnorm", "add", "relu", "global_avg_pool", "conv2d",
        "hardsigmoid", "mul", "hardswish", "hardswish", "global_avg_pool", "flatten", "linear"]
    c1 = ops["conv1"]
    assert c1.attrs == {"stride": (2, 2), "padding": (0, 0), "dilation": (1, 1), "groups": 2}
    assert c1.tensors["weight"].shape == (8, 2, 3, 3) and "bias" in c1.tensors
    assert ops["conv2"].attrs["padding"] == (1, 1) and "bias" not in ops["conv2"].tensors
    assert "act" in ops and "act@1" in ops and ops["act@1"].inputs == ["add"]
    assert ops["fc"].inputs == ["flatten"]         # Dropout and Identity removed, consumers rewired
    assert ops["flatten"].inputs == ["pool"]
    assert ops["mul"].inputs == ["act@1", "hardsigmoid"]     # argument order kept: x * s
    assert ops["se.fc"].inputs == ["mean"] and ops["mean"].type == "global_avg_pool"
    assert ops["bn1"].attrs["eps"] == 1e-5
    # the loaded graph validates its own shapes
    read_model(str(tmp_path / "tiny.h5"))


# ----------------------------------------------------------------------------- (c) unsupported ops

def _err(module: nn.Module, shape=(3, 8, 8)) -> str:
    with pytest.raises(ExportError) as ei:
        build_graph(module, shape)
    return str(ei.value)


class Wrap(nn.Module):
    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.features = nn.Sequential(*layers)

    def forward(self, x):
        return self.features(x).flatten(1)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_unsupported_modules():
    msg = _err(Wrap(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Upsample(scale_factor=2)))
    assert "unsupported module features.3 (Upsample)" in msg
    msg = _err(Wrap(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(4)))
    assert "features.1 (AdaptiveAvgPool2d)" in msg and "does not divide" in msg
    msg = _err(Wrap(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect")))
    assert "features.0 (Conv2d)" in msg and "reflect" in msg
    msg = _err(Wrap(nn.Conv2d(3, 4, 4, padding="same")))
    assert "features.0 (Conv2d)" in msg and "asymmetric" in msg


def test_every_unsupported_op_is_listed_at_once_with_its_source_line():
    class Many(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)
            self.up = nn.Upsample(scale_factor=2)

        def forward(self, x):
            y = self.up(self.conv(x))
            y = F.interpolate(y, scale_factor=0.5)
            return torch.logsumexp(y, 1, keepdim=True).flatten(1)

    msg = _err(Many())
    assert msg.startswith("Many: 3 unsupported ops: ") and "\n" not in msg
    assert "module up (Upsample)" in msg and "interpolate" in msg and "logsumexp" in msg
    assert "test_export.py:" in msg          # the source line fx recorded


def test_unsupported_functions():
    class AddConst(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 1)

        def forward(self, x):
            return (self.conv(x) + 1.0).flatten(1)

    msg = _err(AddConst())
    assert "operator.add" in msg and "node add" in msg and "constant" in msg

    class View(nn.Module):
        def forward(self, x):
            return x.view(x.shape[0], 3, -1)

    assert "reshape" in _err(View())


class AllNewOps(nn.Module):
    """Every op format version 2 added, in the forms users write them."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.mp = nn.MaxPool2d(3, 2, 1, dilation=1, ceil_mode=True)
        self.ap = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
        self.acts = nn.Sequential(nn.ReLU6(), nn.Hardtanh(-2, 2), nn.SiLU(), nn.GELU(), nn.Sigmoid(), nn.Tanh(),
                                  nn.LeakyReLU(0.2), nn.ELU(0.7), nn.Softplus(2, 10), nn.Mish(), nn.Dropout(0.3))
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.bn(self.conv(x))
        a, b = torch.split(x, 4, dim=1)
        x = torch.cat([F.gelu(a, approximate="tanh"), b.clamp(-1, 1)], 1)
        n, c, h, w = x.size()
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)   # channel shuffle
        x = self.acts(self.mp(x))
        x = F.dropout(x, 0.2, training=self.training)
        x = self.ap(x)
        x = torch.cat([x[:, :4], x[:, 4:]], dim=1)
        x = F.adaptive_max_pool2d(x, 1)
        return self.fc(x.view(x.size(0), -1))


def test_new_ops_round_trip(tmp_path):
    torch.manual_seed(3)
    module = AllNewOps().eval()
    gen = torch.Generator().manual_seed(1)
    randomise_bn(module, gen)
    info, _ = export_and_check(module, str(tmp_path / "new.h5"), (3, 16, 16), list("abcde"))
    types = {op.type for op in info["ops"]}
    assert {"max_pool2d", "avg_pool2d", "concat", "channel_slice", "channel_shuffle", "clamp", "silu", "gelu", "sigmoid",
            "tanh", "leaky_relu", "elu", "softplus", "mish", "flatten"} <= types
    assert "dropout" not in types


def test_torchvision_shufflenet_exports(tmp_path):
    tv = pytest.importorskip("torchvision")
    module = tv.models.shufflenet_v2_x0_5(num_classes=10).eval()
    ops, _, _ = build_graph(module, (3, 32, 32))
    assert sum(op.type == "channel_shuffle" for op in ops) == 16
    assert sum(op.type == "channel_slice" for op in ops) == 26


def test_strict_state_dict_and_written_file_verified(tmp_path, monkeypatch):
    import export as ex
    model = TinyCNN()
    sd = model.state_dict()
    sd.pop("conv2.weight")
    sd["extra.weight"] = torch.zeros(1)
    torch.save(sd, tmp_path / "bad.pt")
    with pytest.raises(ExportError) as ei:
        ex.load_state_dict_strict(TinyCNN(), str(tmp_path / "bad.pt"))
    assert "missing key(s) ['conv2.weight']" in str(ei.value) and "unexpected key(s) ['extra.weight']" in str(ei.value)
    sd = model.state_dict()
    sd["conv2.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save({"state_dict": sd}, tmp_path / "shape.pt")
    with pytest.raises(ExportError, match=r"shape mismatch.*conv2.weight"):
        ex.load_state_dict_strict(TinyCNN(), str(tmp_path / "shape.pt"))

    # A reader that disagrees with the module: the file is not written, the first differing op is named.
    import h5model
    real = h5model.load_hdf5_as_torch

    def broken(path):
        g = real(path)
        with torch.no_grad():
            getattr(g, "op0003_weight").mul_(1.5)
        return g

    monkeypatch.setattr(h5model, "load_hdf5_as_torch", broken)
    out = tmp_path / "v.h5"
    with pytest.raises(ExportError, match=r"op conv2 \(/ops/0003, conv2d\) differs"):
        export_module(TinyCNN().eval(), str(out), example_input_shape=(4, 9, 9), class_names=list("abcde"), provenance={},
                      golden_images=np.random.default_rng(0).standard_normal((2, 4, 9, 9)).astype(np.float32),
                      golden_labels=[0, 1], **NORM4)
    assert not out.exists() and not (tmp_path / "v.h5.tmp").exists()


# ----------------------------------------------------------------------------- (d) NaN / Inf refused

def test_nan_weight_refused(tmp_path):
    torch.manual_seed(6)
    model = TinyCNN().eval()
    with torch.no_grad():
        model.conv2.weight[1, 2, 0, 0] = float("nan")
    path = tmp_path / "nan.h5"
    with pytest.raises(ExportError) as ei:
        export_module(model, str(path), example_input_shape=(4, 9, 9), class_names=list("abcde"), provenance={},
                      golden_images=np.zeros((1, 4, 9, 9), np.float32), golden_labels=[0], **NORM4)
    msg = str(ei.value)
    assert "op conv2 (/ops/0003, conv2d)" in msg and "weight" in msg and "NaN" in msg
    assert not path.exists() and not (tmp_path / "nan.h5.tmp").exists()

    model = TinyCNN().eval()
    with torch.no_grad():
        model.bn1.running_var[0] = float("inf")
    with pytest.raises(ExportError, match=r"op bn1 .*running_var contains Inf"):
        export_module(model, str(path), example_input_shape=(4, 9, 9), class_names=list("abcde"), provenance={},
                      golden_images=np.zeros((1, 4, 9, 9), np.float32), golden_labels=[0], **NORM4)


def test_reader_rejects_bad_files(tmp_path):
    torch.manual_seed(7)
    path = str(tmp_path / "t.h5")
    export_module(TinyCNN(), path, example_input_shape=(4, 9, 9), class_names=list("abcde"), provenance={},
                  golden_images=np.zeros((1, 4, 9, 9), np.float32), golden_labels=[0], **NORM4)
    with h5py.File(path, "r+") as f:
        f["ops/0003/weight"][0, 0, 0, 0] = np.nan
    with pytest.raises(GraphError, match=r"attribute checksum is sha256:.* changed or corrupted"):
        load_hdf5_as_torch(path)             # the checksum catches the change first
    with pytest.raises(GraphError, match=r"op conv2 \(/ops/0003, conv2d\): dataset weight contains NaN"):
        read_model(path, verify=False)       # and without it, the NaN check
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = np.int64(3)
    with pytest.raises(GraphError, match="format_version 3"):
        load_hdf5_as_torch(path)


# ----------------------------------------------------------------------------- (e) CLI errors

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(HERE, "export.py"), *args], capture_output=True, text=True,
                          timeout=120)


def _one_line_error(r: subprocess.CompletedProcess, needle: str) -> None:
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_cli_missing_checkpoint(tmp_path):
    missing = str(tmp_path / "nope.pt")
    r = _cli("--checkpoint", missing, "--out", str(tmp_path / "o.h5"))
    _one_line_error(r, missing)
    assert not (tmp_path / "o.h5").exists()


def test_cli_bad_checkpoints(tmp_path):
    nomodel = tmp_path / "nomodel.pt"
    torch.save({"epoch": 1}, nomodel)
    _one_line_error(_cli("--checkpoint", str(nomodel), "--out", str(tmp_path / "o.h5")), str(nomodel))
    wrong = tmp_path / "wrong.pt"
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}}, wrong)
    r = _cli("--checkpoint", str(wrong), "--out", str(tmp_path / "o.h5"))
    _one_line_error(r, str(wrong))
    assert "does not fit MobileNetV3SmallCIFAR" in r.stderr
    good = tmp_path / "good.pt"
    torch.save({"model": MobileNetV3SmallCIFAR().state_dict()}, good)
    nodata = tmp_path / "nodata"
    r = _cli("--checkpoint", str(good), "--out", str(tmp_path / "o.h5"), "--data", str(nodata))
    _one_line_error(r, str(nodata / "test_batch.bin"))

#!/usr/bin/env python3
"""Exports a corpus of CNNs with random weights (BN statistics made non-trivial) and checks each
against the Swift engines: `xbarsim golden` (float engine vs PyTorch, every op) within 1e-5 relative
on the logits, and `xbarsim eval --preset ideal` equal to `--float` on the same images.

    python Weights/corpus.py --out /tmp/corpus [--xbarsim .build/release/xbarsim] [--only NAME ...]
    python Weights/corpus.py --testnets        # rewrites the small networks under Weights/testnets/

The small networks (narrow widths, a few hundred kB each) are committed with their golden outputs so
the Swift tests cover every op without PyTorch.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export import ExportError, export_module, load_test_data, normalise_images, randomise_batchnorm  # noqa: E402


# ----------------------------------------------------------------------------- custom networks

class VGG11Style(nn.Module):
    """VGG-11 layout for 32x32 inputs: conv-BN-ReLU stacks with 2x2 max pooling, then a classifier."""
    cfg = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]

    def __init__(self, num_classes: int = 10, width: float = 1.0, in_channels: int = 3) -> None:
        super().__init__()
        layers, c = [], in_channels
        for v in self.cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                w = max(4, int(v * width))
                layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
                c = w
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(c, num_classes))

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            # option A of the CIFAR ResNet paper, written with pooling and concat: average-pool, then zero channels
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


class CIFARResNet20(nn.Module):
    """ResNet-20 for CIFAR (3 stages of 3 basic blocks) ending in F.avg_pool2d over the 8x8 map."""

    def __init__(self, num_classes: int = 10, width: int = 16, in_channels: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        blocks, c = [], width
        for stage, w in enumerate((width, 2 * width, 4 * width)):
            for b in range(3):
                blocks.append(BasicBlock(c, w, 2 if (b == 0 and stage > 0) else 1))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = self.blocks(x)
        x = F.avg_pool2d(x, x.size(3))
        return self.fc(torch.flatten(x, 1))


class ActivationNet(nn.Module):
    """Every elementwise function of the format, pooling variants, concat, split and shuffle."""

    def __init__(self, num_classes: int = 10, width: int = 8, in_channels: int = 3) -> None:
        super().__init__()
        w = width
        self.stem = nn.Conv2d(in_channels, 2 * w, 3, 1, 1)
        self.bn = nn.BatchNorm2d(2 * w)
        self.a = nn.Conv2d(w, w, 3, 1, 1)
        self.b = nn.Conv2d(w, w, 1)
        self.pool1 = nn.MaxPool2d(3, 2, 1, ceil_mode=True)
        self.c = nn.Conv2d(2 * w, 2 * w, 3, 1, 1, groups=2 * w)
        self.pool2 = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
        self.d = nn.Conv2d(2 * w, 4 * w, 1)
        self.shuffle = nn.ChannelShuffle(2)
        self.fc = nn.Linear(4 * w, num_classes)

    def forward(self, x):
        x = F.silu(self.bn(self.stem(x)))
        x1, x2 = x.chunk(2, dim=1)
        x1 = F.gelu(self.a(x1))
        x2 = torch.tanh(self.b(x2)) + F.gelu(x2, approximate="tanh")
        x = torch.cat([x1, x2], dim=1)
        x = self.pool1(F.relu6(x))
        x = torch.sigmoid(self.c(x)) * F.leaky_relu(x, 0.1)
        x = self.pool2(F.elu(x) + F.softplus(x) + F.mish(x))
        x = self.shuffle(F.hardtanh(self.d(x), -2.0, 2.0))
        x = x[:, : x.shape[1] // 2].clamp(min=-1.5) + x[:, x.shape[1] // 2:].clamp(max=1.5)
        x = torch.cat([x, torch.clamp(x, -0.5, 0.5)], 1)
        x = F.adaptive_max_pool2d(x, 3)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.fc(torch.flatten(x, 1))


class SiLUGELUNet(nn.Module):
    """A plain CNN with SiLU and GELU activations and max pooling."""

    def __init__(self, num_classes: int = 10, width: int = 32, in_channels: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.SiLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.GELU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.BatchNorm2d(4 * width), nn.SiLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, num_classes))

    def forward(self, x):
        return self.body(x)


def torchvision_net(name: str, **kw):
    import torchvision
    return getattr(torchvision.models, name)(num_classes=10, **kw)


CORPUS = {
    "mobilenet_v2": lambda: torchvision_net("mobilenet_v2"),
    "resnet18": lambda: torchvision_net("resnet18"),
    "shufflenet_v2_x0_5": lambda: torchvision_net("shufflenet_v2_x0_5"),
    "shufflenet_v2_x1_0": lambda: torchvision_net("shufflenet_v2_x1_0"),
    "mobilenet_v3_large": lambda: torchvision_net("mobilenet_v3_large"),
    "vgg11_style": lambda: VGG11Style(),
    "cifar_resnet20": lambda: CIFARResNet20(),
    "silu_gelu_net": lambda: SiLUGELUNet(),
    "activation_net": lambda: ActivationNet(),
    # beyond the list: other torchvision families
    "efficientnet_b0": lambda: torchvision_net("efficientnet_b0"),
    "squeezenet1_1": lambda: torchvision_net("squeezenet1_1"),
    "regnet_x_400mf": lambda: torchvision_net("regnet_x_400mf"),
    "googlenet": lambda: torchvision_net("googlenet", aux_logits=False, init_weights=True),
    "densenet121": lambda: torchvision_net("densenet121"),
}

# Small networks committed under Weights/testnets/ (every op type of the format between them).
TESTNETS = {
    "ops_v2": lambda: ActivationNet(width=4),
    "vgg_tiny": lambda: VGG11Style(width=1 / 16),
    "resnet20_tiny": lambda: CIFARResNet20(width=4),
}


def export_random(name: str, module: nn.Module, path: str, ds: dict, golden: int, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    randomise_batchnorm(module, torch.Generator().manual_seed(seed))
    module.eval()
    x = normalise_images(ds["images"][:golden], ds["mean"], ds["std"])
    return export_module(module, path, example_input_shape=ds["images"].shape[1:], class_names=ds["class_names"],
                         provenance={"training_command": f"random initial weights (Weights/corpus.py, {name}, seed {seed})",
                                     "training_seed": seed},
                         golden_images=x, golden_labels=ds["labels"][:golden], normalization_mean=ds["mean"],
                         normalization_std=ds["std"], architecture=name)


def run_json(cmd: list[str]) -> dict:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return json.loads(r.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/xbarsim-corpus")
    ap.add_argument("--xbarsim", default=os.path.join(HERE, "..", ".build", "release", "xbarsim"))
    ap.add_argument("--data", default=None)
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--images", type=int, default=200, help="images for the ideal-vs-float comparison")
    ap.add_argument("--testnets", action="store_true", help="write the small test networks to Weights/testnets/")
    args = ap.parse_args()
    torch.set_num_threads(2)
    ds = load_test_data(args.data)
    if args.testnets:
        for name, make in TESTNETS.items():
            info = export_random(name, make(), os.path.join(HERE, "testnets", f"{name}.h5"), ds, golden=16)
            print(f"{name}: {len(info['ops'])} ops, {sorted({op.type for op in info['ops']})}")
        return
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for name, make in CORPUS.items():
        if args.only and name not in args.only:
            continue
        path = os.path.join(args.out, f"{name}.h5")
        t0 = time.time()
        try:
            info = export_random(name, make(), path, ds, golden=64)
        except ExportError as e:
            rows.append((name, "export failed", str(e)))
            print(f"{name}: export failed: {e}", flush=True)
            continue
        golden = run_json([args.xbarsim, "golden", "--model", path, "--json"])
        rel = golden.get("logitsRelativeError", float("nan"))
        fl = run_json([args.xbarsim, "eval", "--float", "--model", path, "--limit", str(args.images), "--json"])
        an = run_json([args.xbarsim, "eval", "--preset", "ideal", "--model", path, "--limit", str(args.images), "--json"])
        same = fl["correct"] == round(an["accuracy"] * args.images)
        ok = rel <= 1e-5 and same
        types = sorted({op.type for op in info["ops"]})
        rows.append((name, "ok" if ok else "MISMATCH", f"{len(info['ops'])} ops, golden logits {rel:.2e}, float "
                     f"{fl['accuracy']:.4f} ideal {an['accuracy']:.4f}, {time.time() - t0:.0f} s, {types}"))
        print(f"{name}: {rows[-1][1]}: {rows[-1][2]}", flush=True)
    failed = [r for r in rows if r[1] != "ok"]
    print(f"{len(rows) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Float engine against PyTorch CPU on networks beyond MobileNetV3 (issue: any CNN).

1. A CIFAR ResNet-18-style network with max pooling (3x3 stem, 2x2 max pool to 16x16,
   BasicBlocks [2, 2, 2, 2] of widths 64-512, random weights): `xbarsim eval --float` and
   PyTorch (NCHW and channels_last) at 2 threads, each at its best batch of 32/64/128/256,
   the two tools alternated within the run, best of `--repeats`.
2. ShuffleNetV2 x1.0 (torchvision, random weights) and the shipped CIFAR ShuffleNetV2
   (`Weights/shufflenetv2_cifar10.h5`): `xbarsim eval --float --profile`, the share of float
   time spent in the new ops (max_pool2d, concat, channel_slice, channel_shuffle), `--repeats`
   runs and their median.

    ~/torchenv/bin/python Benchmarks/any_cnn_float.py [--images 2000] [--repeats 3] [--xbarsim .build/release/xbarsim]
        [--im2col-baseline] [--skip-shufflenet]

`--im2col-baseline` also times xbarsim with `XBARSIM_CONV=im2col` (3x3 stride-1 convolutions
as im2col + GEMM instead of Winograd F(2x2, 3x3)) in the same run, alternated.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Weights"))
from corpus import BasicBlock, export_random, torchvision_net  # noqa: E402
from export import load_test_data, normalise_images  # noqa: E402


class ResNet18CIFARMaxPool(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(2))
        blocks, c = [], 64
        for i, w in enumerate((64, 128, 256, 512)):
            for b in range(2):
                blocks.append(BasicBlock(c, w, 2 if (b == 0 and i > 0) else 1))
                c = w
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


def time_torch(module, x, labels, batch, channels_last) -> float:
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    m = module.to(memory_format=fmt)
    with torch.inference_mode():
        m(x[:batch].contiguous(memory_format=fmt))
        start = time.perf_counter()
        for i in range(0, x.shape[0], batch):
            m(x[i:i + batch].contiguous(memory_format=fmt)).argmax(1)
        return x.shape[0] / (time.perf_counter() - start)


def time_xbarsim(xbarsim, model, images, batch, im2col=False) -> tuple[float, float]:
    env = dict(os.environ, XBARSIM_CONV="im2col") if im2col else None
    r = subprocess.run([xbarsim, "eval", "--float", "--model", model, "--limit", str(images), "--batch", str(batch),
                        "--threads", "2", "--json"], capture_output=True, text=True, check=True, env=env)
    j = json.loads(r.stdout)
    return j["imagesPerSecond"], j["accuracy"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--xbarsim", default=os.path.join(HERE, "..", ".build", "release", "xbarsim"))
    ap.add_argument("--out", default="/tmp/xbarsim-any-cnn")
    ap.add_argument("--im2col-baseline", action="store_true",
                    help="also time xbarsim with XBARSIM_CONV=im2col (no Winograd), alternated in the same run")
    ap.add_argument("--skip-shufflenet", action="store_true", help="only the ResNet-18 comparison")
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    ds = load_test_data(None)
    net = ResNet18CIFARMaxPool()
    path = os.path.join(args.out, "resnet18_cifar_maxpool.h5")
    export_random("resnet18_cifar_maxpool", net, path, ds, golden=16)
    net.eval()
    x = torch.from_numpy(normalise_images(ds["images"][:args.images]))
    labels = torch.from_numpy(ds["labels"][:args.images])
    batches = (32, 64, 128, 256)
    best_torch, best_xb, best_im2col = {}, {}, {}
    for _ in range(args.repeats):
        for b in batches:
            for cl in (False, True):
                key = f"{'channels_last' if cl else 'nchw'}@{b}"
                best_torch[key] = max(best_torch.get(key, 0), time_torch(net, x, labels, b, cl))
            ips, _ = time_xbarsim(args.xbarsim, path, args.images, b)
            best_xb[b] = max(best_xb.get(b, 0), ips)
            if args.im2col_baseline:
                ips, _ = time_xbarsim(args.xbarsim, path, args.images, b, im2col=True)
                best_im2col[b] = max(best_im2col.get(b, 0), ips)
    tk = max(best_torch, key=best_torch.get)
    xb = max(best_xb, key=best_xb.get)
    result = {"network": "resnet18_cifar_maxpool", "images": args.images, "threads": 2,
              "pytorch_best": {"config": tk, "imagesPerSecond": round(best_torch[tk], 1)},
              "xbarsim_best": {"batch": xb, "imagesPerSecond": round(best_xb[xb], 1)},
              "ratio": round(best_xb[xb] / best_torch[tk], 3),
              "pytorch_all": {k: round(v, 1) for k, v in best_torch.items()},
              "xbarsim_all": {str(k): round(v, 1) for k, v in best_xb.items()}, "torch": torch.__version__}
    if best_im2col:
        ib = max(best_im2col, key=best_im2col.get)
        result["xbarsim_im2col_best"] = {"batch": ib, "imagesPerSecond": round(best_im2col[ib], 1),
                                         "ratio": round(best_im2col[ib] / best_torch[tk], 3)}
        result["xbarsim_im2col_all"] = {str(k): round(v, 1) for k, v in best_im2col.items()}
    if args.skip_shufflenet:
        print(json.dumps(result, indent=1))
        return
    # ShuffleNetV2: share of the new ops in float time, for torchvision's x1.0 (random weights,
    # 3x3/2 stem conv and max pool: 8x8 maps into stage 2) and, when present, the project's
    # trained CIFAR ShuffleNetV2 (3x3/1 stem: 16x16 maps into stage 2, 4x the activations).
    sh = os.path.join(args.out, "shufflenet_v2_x1_0.h5")
    export_random("shufflenet_v2_x1_0", torchvision_net("shufflenet_v2_x1_0"), sh, ds, golden=16)
    networks = [("shufflenet_v2_x1_0", sh)]
    shipped = os.path.join(HERE, "..", "Weights", "shufflenetv2_cifar10.h5")
    if os.path.exists(shipped):
        networks.append(("shufflenetv2_cifar10", shipped))
    # The profile is the plain data-parallel run timed op by op (busy seconds summed over the
    # workers); one run of 1,000 images takes ~0.1 s, so it is repeated and the median reported.
    for name, model in networks:
        runs = []
        for _ in range(args.repeats):
            r = subprocess.run([args.xbarsim, "eval", "--float", "--model", model, "--limit", str(args.images),
                                "--threads", "2", "--profile", "--json"], capture_output=True, text=True, check=True)
            prof = json.loads(r.stdout)["secondsByOpType"]
            new = sum(v for k, v in prof.items() if k in ("max_pool2d", "concat", "channel_slice", "channel_shuffle"))
            runs.append({"newOpsSeconds": round(new, 4), "totalOpSeconds": round(sum(prof.values()), 4),
                         "newOpsShare": round(new / max(sum(prof.values()), 1e-9), 4),
                         "byType": {k: round(v, 4) for k, v in sorted(prof.items(), key=lambda kv: -kv[1])}})
        shares = sorted(r["newOpsShare"] for r in runs)
        result[name] = {"newOpsShareMedian": shares[len(shares) // 2], "newOpsShares": shares, "runs": runs}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

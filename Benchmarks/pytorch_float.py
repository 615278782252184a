#!/usr/bin/env python3
"""PyTorch CPU inference of the same network and weights as `xbarsim eval --float`.

Builds Weights/model.py's MobileNetV3SmallCIFAR (plain nn.Modules, no graph
interpreter overhead), copies every tensor from the XbarSim HDF5 model by op name,
and times the 10,000-image CIFAR-10 test set at the given batch size and thread
count, in eval mode under torch.inference_mode, both NCHW-contiguous and
channels_last (the faster is reported). Prints one JSON object.

    python Benchmarks/pytorch_float.py --threads 2 --batch 256
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Weights"))
from cifar10 import MEAN, STD, TEST_FILES, DataError, default_data_dir, die, read_batches  # noqa: E402

try:
    import h5py
    import torch
except ImportError:
    die("needs torch and h5py: python3 -m venv ~/torchenv && ~/torchenv/bin/pip install torch h5py numpy")

from model import MobileNetV3SmallCIFAR  # noqa: E402


def load_weights(module: torch.nn.Module, path: str) -> None:
    named = dict(module.named_modules())
    with h5py.File(path, "r") as f:
        for key in sorted(f["ops"].keys()):
            g = f["ops"][key]
            name, kind = g.attrs["name"], g.attrs["type"]
            if kind not in ("conv2d", "batchnorm", "linear"):
                continue
            m = named.get(name)
            if m is None:
                die(f"{path}: op {name} has no module of that name in MobileNetV3SmallCIFAR")
            with torch.no_grad():
                if kind == "batchnorm":
                    m.weight.copy_(torch.from_numpy(g["gamma"][()]))
                    m.bias.copy_(torch.from_numpy(g["beta"][()]))
                    m.running_mean.copy_(torch.from_numpy(g["running_mean"][()]))
                    m.running_var.copy_(torch.from_numpy(g["running_var"][()]))
                else:
                    m.weight.copy_(torch.from_numpy(g["weight"][()]))
                    if "bias" in g:
                        m.bias.copy_(torch.from_numpy(g["bias"][()]))


def run(model, images, labels, batch, channels_last) -> tuple[float, float]:
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    with torch.inference_mode():
        model(images[:batch].contiguous(memory_format=fmt))  # warm-up
        start = time.perf_counter()
        correct = 0
        for i in range(0, images.shape[0], batch):
            x = images[i:i + batch].contiguous(memory_format=fmt)
            correct += (model(x).argmax(1) == labels[i:i + batch]).sum().item()
        seconds = time.perf_counter() - start
    return correct / images.shape[0], images.shape[0] / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(HERE, "..", "Weights", "mobilenetv3_cifar10.h5"))
    ap.add_argument("--data", default=None)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    try:
        x, y = read_batches(args.data or default_data_dir(), TEST_FILES)
    except DataError as e:
        die(str(e))
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    mean = np.array(MEAN, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array(STD, dtype=np.float32).reshape(1, 3, 1, 1)
    images = torch.from_numpy(((x.astype(np.float32) / 255.0) - mean) / std)
    labels = torch.from_numpy(y)
    model = MobileNetV3SmallCIFAR().eval()
    load_weights(model, args.model)
    results = {}
    for cl in (False, True):
        acc, ips = run(model, images, labels, args.batch, cl)
        results["channels_last" if cl else "contiguous"] = {"accuracy": acc, "imagesPerSecond": ips}
    best = max(results.values(), key=lambda r: r["imagesPerSecond"])
    print(json.dumps({"engine": "pytorch", "torch": torch.__version__, "threads": args.threads, "batch": args.batch,
                      "images": int(images.shape[0]), "accuracy": best["accuracy"],
                      "imagesPerSecond": best["imagesPerSecond"], "layouts": results}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Train the project's CIFAR-10 networks (see model.py): the MobileNetV3-Small of the first
reference design (--arch mobilenetv3, default) or the ShuffleNetV2 of the second
(--arch shufflenetv2 --width 1.0).

Reproducible (fixed seed), resumable (checkpoint after every epoch), and fast on a
CPU (channels_last, batched per-image augmentation on uint8 tensors).

    python Weights/train.py --epochs 40 --out Weights/checkpoints/run.pt
    python Weights/train.py --resume Weights/checkpoints/run.pt      # continue
    # hardware-aware fine-tuning (hwa.py) of the shipped float model, then export:
    python Weights/train.py --hwa --init-from Weights/mobilenetv3_cifar10.h5 --epochs 4 --lr 0.005 \
        --out Weights/checkpoints/mobilenetv3_cifar10_hwa.pt
    python Weights/train.py --arch shufflenetv2 --width 1.0 --epochs 45 --out Weights/checkpoints/shufflenetv2_cifar10.pt
    python Weights/export.py --checkpoint Weights/checkpoints/run.pt --out Weights/mobilenetv3_cifar10.h5
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cifar10 import MEAN, STD, TEST_FILES, TRAIN_FILES, DataError, default_data_dir, die, read_batches  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    die("PyTorch is needed to train: python3 -m venv ~/torchenv && ~/torchenv/bin/pip install torch h5py numpy")

import hwa  # noqa: E402
from model import ARCHITECTURES, SHUFFLENET_WIDTHS, build_model  # noqa: E402


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Per-image random 32x32 crop from a 4-pixel zero-padded image, and random horizontal flip."""
    b = x.shape[0]
    padded = F.pad(x, (4, 4, 4, 4))
    oy = torch.randint(0, 9, (b,), generator=gen)
    ox = torch.randint(0, 9, (b,), generator=gen)
    ar = torch.arange(32)
    rows = (oy[:, None] + ar)[:, None, :, None]
    cols = (ox[:, None] + ar)[:, None, None, :]
    flip = torch.rand(b, generator=gen) < 0.5
    cols = torch.where(flip[:, None, None, None], cols.flip(-1), cols)
    bi = torch.arange(b)[:, None, None, None]
    ci = torch.arange(3)[None, :, None, None]
    return padded[bi, ci, rows, cols]


def normalise(x_uint8: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return ((x_uint8.float() / 255.0) - mean) / std


@torch.no_grad()
def evaluate(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> float:
    model.eval()
    correct = 0
    for i in range(0, images.shape[0], batch):
        x = normalise(images[i:i + batch]).contiguous(memory_format=torch.channels_last)
        correct += (model(x).argmax(1) == labels[i:i + batch]).sum().item()
    return correct / images.shape[0]


def param_groups(model: torch.nn.Module, wd: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=None, help="CIFAR-10 binary folder (default: $XBARSIM_DATA, Datasets/, ../shared/cifar10/)")
    ap.add_argument("--arch", default="mobilenetv3", choices=sorted(ARCHITECTURES), help="network to train (model.py)")
    ap.add_argument("--width", type=float, default=1.0, help=f"ShuffleNetV2 width multiplier: {sorted(SHUFFLENET_WIDTHS)}")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.15, help="peak learning rate of the one-cycle schedule")
    ap.add_argument("--wd", type=float, default=5e-4, help="weight decay on conv/linear weights (not BN, not biases)")
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default="Weights/checkpoints/run.pt", help="checkpoint written after every epoch")
    ap.add_argument("--resume", default=None, help="continue from this checkpoint (same schedule)")
    ap.add_argument("--init-from", default=None, help="start from the weights of this XbarSim model file (.h5) "
                    "or train.py checkpoint (.pt), e.g. to fine-tune with --hwa")
    ap.add_argument("--hwa", action="store_true", help="hardware-aware training: XbarSim's device model (default: "
                    "the engine's --preset rram) in the forward pass (hwa.py)")
    for f in dataclasses.fields(hwa.HWAConfig):
        ap.add_argument("--hwa-" + f.name.replace("_", "-"), type=float, default=None,
                        help=f"--hwa: {f.name} (default {f.default}{'; 0 or 1' if f.type in (bool, 'bool') else ''})")
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--limit-train", type=int, default=0, help="use only the first N training images (smoke tests)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    data_dir = args.data or default_data_dir()
    try:
        tr_x, tr_y = read_batches(data_dir, TRAIN_FILES)
        te_x, te_y = read_batches(data_dir, TEST_FILES)
    except DataError as e:
        die(str(e))
    if args.limit_train > 0:
        tr_x, tr_y = tr_x[:args.limit_train], tr_y[:args.limit_train]
    tr_x, tr_y = torch.from_numpy(tr_x), torch.from_numpy(tr_y)
    te_x, te_y = torch.from_numpy(te_x), torch.from_numpy(te_y)

    start_epoch, elapsed, history = 0, 0.0, []
    if args.resume:
        if not os.path.isfile(args.resume):
            die(f"{args.resume}: no such checkpoint")
        ckpt = torch.load(args.resume, map_location="cpu", weights_only=False)
        saved = ckpt["args"]
        for k in ("epochs", "batch", "lr", "wd", "label_smoothing", "seed"):
            setattr(args, k, saved[k])
        args.hwa_config, args.init_from = saved.get("hwa_config"), saved.get("init_from")
        if args.hwa_config is not None:  # runs started before the BN stages were modelled keep going without them
            args.hwa_config.setdefault("batchnorm_stages", False)
            args.hwa_config.setdefault("freeze_batchnorm", False)
            args.hwa_config.setdefault("input_max_abs", 1.0)
        args.arch, args.width = saved.get("arch", "mobilenetv3"), saved.get("width", 1.0)
        args.out = args.resume
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    if args.arch == "shufflenetv2" and args.width not in SHUFFLENET_WIDTHS:
        die(f"--width {args.width}: ShuffleNetV2 widths are {sorted(SHUFFLENET_WIDTHS)}")
    model = build_model(args.arch, args.width)
    if not args.resume:
        args.hwa_config = None
        if args.hwa:
            given = {f.name: (int(v) if f.name == "levels" else bool(v) if f.type in (bool, "bool") else v)
                     for f in dataclasses.fields(hwa.HWAConfig) if (v := getattr(args, "hwa_" + f.name)) is not None}
            # The engine's volts per unit: --input-voltage over the largest normalised input (Evaluation.inputMaxAbs).
            given.setdefault("input_max_abs", max(max(m / s, (1 - m) / s) for m, s in zip(MEAN, STD)))
            cfg = hwa.HWAConfig(**given)
            try:
                cfg.validate()
            except ValueError as e:
                die(str(e))
            args.hwa_config = dataclasses.asdict(cfg)
        elif any(getattr(args, "hwa_" + f.name) is not None for f in dataclasses.fields(hwa.HWAConfig)):
            die("--hwa-* options go with --hwa")
    if args.init_from and not args.resume:
        try:
            if args.init_from.endswith(".h5"):
                sd = hwa.state_dict_from_hdf5(args.init_from, model)
            else:
                sd = torch.load(args.init_from, map_location="cpu", weights_only=False)
                sd = sd.get("model", sd) if isinstance(sd, dict) else sd
            model.load_state_dict(sd, strict=True)
        except (OSError, ValueError, RuntimeError, KeyError) as e:
            die(f"--init-from {args.init_from}: {str(e).splitlines()[0]}")
        print(f"initialised from {args.init_from}: test accuracy {evaluate(model, te_x, te_y):.4f}", flush=True)
    hwa_cfg = hwa.HWAConfig(**args.hwa_config) if args.hwa_config else None
    noise_gen = torch.Generator().manual_seed(args.seed + 2)
    if hwa_cfg is not None:
        hwa.attach(model, hwa_cfg, noise_gen)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(param_groups(model, args.wd), lr=args.lr, momentum=0.9, nesterov=True)
    steps_per_epoch = tr_x.shape[0] // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
                                                pct_start=0.25, div_factor=25.0, final_div_factor=1e4)
    gen = torch.Generator().manual_seed(args.seed + 1)
    if args.resume:
        model.load_state_dict(ckpt["model_parametrized"] if hwa_cfg is not None else ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        gen.set_state(ckpt["generator"])
        if "noise_generator" in ckpt:
            noise_gen.set_state(ckpt["noise_generator"])
        start_epoch, elapsed, history = ckpt["epoch"], ckpt["elapsed"], ckpt["history"]
        print(f"resumed {args.resume} at epoch {start_epoch}/{args.epochs}", flush=True)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)

    for epoch in range(start_epoch, args.epochs):
        if hwa_cfg is not None:
            hwa.set_training(model, hwa_cfg, True)
        else:
            model.train()
        t0 = time.time()
        perm = torch.randperm(tr_x.shape[0], generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch:(step + 1) * args.batch]
            x = normalise(augment(tr_x[idx], gen)).contiguous(memory_format=torch.channels_last)
            y = tr_y[idx]
            out = model(x)
            loss = criterion(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * y.shape[0]
            correct += (out.argmax(1) == y).sum().item()
            seen += y.shape[0]
        elapsed += time.time() - t0
        if hwa_cfg is not None:
            hwa.set_training(model, hwa_cfg, False)
        rec = {"epoch": epoch + 1, "loss": loss_sum / seen, "train_acc": correct / seen, "minutes": elapsed / 60}
        if (epoch + 1) % args.eval_every == 0 or epoch + 1 == args.epochs:
            rec["test_acc"] = evaluate(model, te_x, te_y)
            if hwa_cfg is not None:  # one chip drawn from the training noise (PyTorch estimate)
                rec["test_acc_noisy_chip"] = hwa.noisy_accuracy(
                    lambda: build_model(args.arch, args.width), hwa.plain_state_dict(model), hwa_cfg, te_x, te_y, normalise)[0]
        history.append(rec)
        print(json.dumps(rec), flush=True)
        tmp = args.out + ".tmp"
        torch.save({"model": hwa.plain_state_dict(model), "model_parametrized": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                    "generator": gen.get_state(), "noise_generator": noise_gen.get_state(), "epoch": epoch + 1, "elapsed": elapsed, "history": history,
                    "args": vars(args), "command": " ".join(sys.argv),
                    "hardware": f"{platform.processor() or platform.machine()}, {args.threads} threads, torch {torch.__version__}"},
                   tmp)
        os.replace(tmp, args.out)  # atomic: a kill never leaves a half-written checkpoint


if __name__ == "__main__":
    main()

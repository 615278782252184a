#!/usr/bin/env python3
"""Writes an XbarSim labelled-image file (Datasets/FORMAT.md) from numpy arrays, an image-folder tree
(one sub-folder per class) or a torchvision dataset object.

    python Datasets/convert.py --npz test.npz [--train-npz train.npz] --class-names a,b,c --out set.h5
    python Datasets/convert.py --folder test/ [--train-folder train/] [--size 48x48] [--grayscale] --out set.h5
    python Datasets/convert.py --torchvision torchvision.datasets:FashionMNIST --root DIR --out set.h5

An .npz holds `images` (uint8, (N, C, H, W) or (N, H, W) for one channel, or (N, H, W, C) with --channels-last)
and `labels` (ints). Normalisation (--mean/--std, per channel, of pixels scaled to 0..1) is stored in the file
and used by `Weights/export.py --data set.h5` for the model it exports. Python API: from_arrays, from_folder,
from_torchvision (each returns the arrays) and labelled_images.write_dataset.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labelled_images import DatasetFileError, write_dataset  # noqa: E402

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def from_arrays(images, labels, channels_last: bool = False) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[:, None]
    elif x.ndim == 4 and channels_last:
        x = x.transpose(0, 3, 1, 2)
    if x.ndim != 4:
        raise DatasetFileError(f"images have shape {np.asarray(images).shape}; expected (N, C, H, W), (N, H, W) or (N, H, W, C)")
    if x.dtype != np.uint8:
        if x.min() < 0 or x.max() > 255 or not np.all(np.equal(np.mod(x, 1), 0)):
            raise DatasetFileError(f"images have dtype {x.dtype} with values outside 0..255 integers; pass uint8 pixels")
        x = x.astype(np.uint8)
    return np.ascontiguousarray(x), np.asarray(labels, np.int64).reshape(-1)


def from_folder(root: str, size: tuple[int, int] | None = None, grayscale: bool = False,
                class_names: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every image under root/<class>/..., classes in sorted folder order (or ``class_names`` order)."""
    from PIL import Image
    if not os.path.isdir(root):
        raise DatasetFileError(f"{root}: no such folder")
    names = class_names or sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not names:
        raise DatasetFileError(f"{root}: no class sub-folders")
    images, labels, first_size = [], [], None
    for k, name in enumerate(names):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder):
            raise DatasetFileError(f"{folder}: class folder missing")
        for fn in sorted(os.listdir(folder)):
            if not fn.lower().endswith(IMAGE_EXTENSIONS):
                continue
            im = Image.open(os.path.join(folder, fn)).convert("L" if grayscale else "RGB")
            if size is not None:
                im = im.resize((size[1], size[0]), Image.BILINEAR)
            a = np.asarray(im, np.uint8)
            a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
            if first_size is None:
                first_size = a.shape
            elif a.shape != first_size:
                raise DatasetFileError(f"{os.path.join(folder, fn)}: size {a.shape[1:]} differs from {first_size[1:]} "
                                       "(pass --size HxW to resize)")
            images.append(a)
            labels.append(k)
    if not images:
        raise DatasetFileError(f"{root}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    return np.stack(images), np.asarray(labels, np.int64), names


def from_torchvision(dataset) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Any torchvision-style dataset whose items are (PIL image or uint8 array/tensor, label)."""
    images, labels = [], []
    for i in range(len(dataset)):
        im, y = dataset[i]
        a = np.asarray(im)
        if a.dtype != np.uint8:
            a = np.asarray(a * 255 if a.max() <= 1 else a).round().clip(0, 255).astype(np.uint8)
        a = a[None] if a.ndim == 2 else (a.transpose(2, 0, 1) if a.shape[-1] in (1, 3) and a.shape[0] not in (1, 3) else a)
        images.append(a)
        labels.append(int(y))
    names = [str(c) for c in getattr(dataset, "classes", [])] or [str(i) for i in range(max(labels) + 1)]
    return np.stack(images), np.asarray(labels, np.int64), names


def _size(text: str | None):
    if not text:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise DatasetFileError(f"--size {text!r}: expected HxW, e.g. 48x48") from None
    return (h, w)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--npz", help=".npz with images and labels (the test split)")
    src.add_argument("--folder", help="image-folder tree of the test split (one sub-folder per class)")
    src.add_argument("--torchvision", help="MODULE:CLASS of a torchvision-style dataset, e.g. torchvision.datasets:FashionMNIST")
    ap.add_argument("--train-npz", help=".npz of the training split (calibration images)")
    ap.add_argument("--train-folder", help="image-folder tree of the training split")
    ap.add_argument("--root", help="--torchvision: dataset root folder")
    ap.add_argument("--channels-last", action="store_true", help=".npz images are (N, H, W, C)")
    ap.add_argument("--size", help="resize folder images to HxW")
    ap.add_argument("--grayscale", action="store_true", help="folder images as one channel")
    ap.add_argument("--class-names", help="comma-separated class names (default: folder names, or 0..K-1)")
    ap.add_argument("--mean", help="comma-separated per-channel mean of pixels/255 (default 0.5)")
    ap.add_argument("--std", help="comma-separated per-channel std (default 0.25)")
    ap.add_argument("--description", default="")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    try:
        names = a.class_names.split(",") if a.class_names else None
        train = (None, None)
        if a.npz:
            d = np.load(a.npz)
            x, y = from_arrays(d["images"], d["labels"], a.channels_last)
            if a.train_npz:
                t = np.load(a.train_npz)
                train = from_arrays(t["images"], t["labels"], a.channels_last)
            names = names or [str(i) for i in range(int(y.max()) + 1)]
        elif a.folder:
            x, y, names = from_folder(a.folder, _size(a.size), a.grayscale, names)
            if a.train_folder:
                tx, ty, _ = from_folder(a.train_folder, _size(a.size), a.grayscale, names)
                train = (tx, ty)
        else:
            import importlib
            mod, cls = a.torchvision.split(":")
            factory = getattr(importlib.import_module(mod), cls)
            x, y, tv_names = from_torchvision(factory(a.root or ".", train=False, download=False))
            tx, ty, _ = from_torchvision(factory(a.root or ".", train=True, download=False))
            train, names = (tx, ty), names or tv_names
        c = x.shape[1]
        mean = [float(v) for v in a.mean.split(",")] if a.mean else None
        std = [float(v) for v in a.std.split(",")] if a.std else None
        if mean is not None and len(mean) == 1:
            mean = mean * c
        if std is not None and len(std) == 1:
            std = std * c
        write_dataset(a.out, x, y, names, mean=mean, std=std, train_images=train[0], train_labels=train[1],
                      description=a.description)
    except (DatasetFileError, KeyError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {a.out}: {x.shape[0]} images {tuple(x.shape[1:])}, {len(names)} classes"
          + (f", {train[0].shape[0]} training images" if train[0] is not None else ""))


if __name__ == "__main__":
    main()
